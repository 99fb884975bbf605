"""lerp / slerp / gradient / trajectories / plane grids against hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest

from ganatlas.interpolation import gradient, interpolate, lerp, plane_grid, slerp, trajectory

RNG = np.random.default_rng(0)
A = RNG.standard_normal(512).astype(np.float32)
B = RNG.standard_normal(512).astype(np.float32)


@pytest.mark.parametrize("fn", [lerp, slerp])
def test_endpoints_are_exact(fn):
    out = fn(A, B, np.linspace(0, 1, 10))
    assert out.shape == (10, 512) and out.dtype == np.float32
    np.testing.assert_array_equal(out[0], A)
    np.testing.assert_array_equal(out[-1], B)


def test_lerp_midpoint_and_wplus_shape():
    np.testing.assert_allclose(lerp(A, B, [0.5])[0], (A + B) / 2, rtol=1e-6)
    ws = RNG.standard_normal((3, 8))
    assert lerp(ws, -ws, [0, 0.5, 1]).shape == (3, 3, 8)
    np.testing.assert_allclose(lerp(ws, -ws, [0.5])[0], 0, atol=1e-12)


def test_slerp_keeps_norm_between_equal_norm_endpoints():
    b = B / np.linalg.norm(B) * np.linalg.norm(A)
    out = slerp(A, b.astype(np.float32), np.linspace(0, 1, 11))
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), np.linalg.norm(A), rtol=1e-5)
    # and it leaves the lerp chord: the midpoint is longer than lerp's
    assert np.linalg.norm(out[5]) > np.linalg.norm(lerp(A, b, [0.5])[0]) * 1.2


def test_slerp_quarter_circle_by_hand():
    out = slerp(np.array([1.0, 0.0]), np.array([0.0, 1.0]), [0.5, 1 / 3])
    np.testing.assert_allclose(out[0], [np.sqrt(0.5)] * 2)
    np.testing.assert_allclose(out[1], [np.cos(np.pi / 6), np.sin(np.pi / 6)])
    # parallel endpoints: lerp
    np.testing.assert_allclose(slerp(np.array([1.0, 0]), np.array([3.0, 0]), [0.5])[0], [2, 0])


def test_gradient_is_the_source_formula():
    out = gradient(A, B, 10)
    for i in range(10):
        np.testing.assert_array_equal(out[i], A + (B - A) * i / 9)
    with pytest.raises(ValueError, match="at least 2 frames"):
        gradient(A, B, 1)
    with pytest.raises(ValueError, match="lerp, slerp, gradient"):
        interpolate(A, B, 3, "cubic")


def test_trajectory_shares_keyframes():
    keys = [np.array([0.0]), np.array([1.0]), np.array([3.0])]
    frames, seg = trajectory(keys, 3)
    np.testing.assert_array_equal(frames[:, 0], [0, 0.5, 1, 2, 3])
    np.testing.assert_array_equal(seg, [0, 0, 1, 1, 2])
    with pytest.raises(ValueError, match="at least 2 keyframes"):
        trajectory(keys[:1], 3)


def test_plane_grid_cell_for_cell():
    o, bx, by = A[:16], B[:16], RNG.standard_normal(16).astype(np.float32)
    xs = np.round(np.arange(-1, 1, 0.2), 10)
    ys = xs[::-1]
    grid = plane_grid(o, bx, by, xs, ys)
    assert grid.shape == (10, 10, 16)
    for i, y in enumerate(ys):
        for j, x in enumerate(xs):
            np.testing.assert_allclose(grid[i, j], o + x * bx + y * by, rtol=1e-6, atol=1e-6)
    with pytest.raises(ValueError, match="differ in shape"):
        plane_grid(o, bx, by[:3], xs, ys)


def test_slerp_endpoints_exact_in_float64_and_antipodes_fall_back_to_lerp():
    """float64 endpoints are returned bit for bit (the sine formula is off by an ulp there), and
    opposite vectors, whose unit dot product rounds below -1, fall back to lerp (no NaN)."""
    rng = np.random.default_rng(0)
    for _ in range(20):
        a, b = rng.standard_normal(8), rng.standard_normal(8)
        out = slerp(a, b, [0.0, 0.5, 1.0])
        assert out.dtype == np.float64
        np.testing.assert_array_equal(out[0], a)
        np.testing.assert_array_equal(out[2], b)
    rounded_below = 0
    for _ in range(50):
        a = rng.standard_normal(8)
        b = -a * rng.uniform(0.5, 3)
        ua, ub = a / np.linalg.norm(a), b / np.linalg.norm(b)
        rounded_below += bool(ua @ ub < -1)
        out = slerp(a, b, [0.0, 0.25, 1.0])
        np.testing.assert_allclose(out, lerp(a, b, [0.0, 0.25, 1.0]), rtol=0, atol=1e-12)
    assert rounded_below > 0  # the case the clip guards is exercised

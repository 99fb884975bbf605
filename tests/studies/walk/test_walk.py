"""The walk study's random walk: step modes, clamping, determinism, parameter errors."""

import numpy as np
import pytest

from ganatlas.studies.walk.walk import WalkParams, random_walk


def test_gaussian_walk_step_statistics_and_start():
    w_avg = np.zeros(64, dtype=np.float32)
    walk = random_walk(w_avg, w_avg, WalkParams(seed=1, steps=2001, step_size=0.01))
    assert walk["w_out"].shape == (2001, 64) and walk["w_out"].dtype == np.float32
    np.testing.assert_array_equal(walk["w_out"][0], w_avg)
    steps = np.diff(walk["w_out"].astype(np.float64), axis=0)
    assert steps.std() == pytest.approx(0.01, rel=0.02)
    np.testing.assert_allclose(walk["distance"], np.linalg.norm(walk["w_out"], axis=1), rtol=1e-5)
    assert not walk["clamped"].any()


def test_fixed_step_mode_has_constant_length():
    w0 = np.ones(16, dtype=np.float32)
    walk = random_walk(w0, w0, WalkParams(seed=2, steps=50, step_size=0.1, step_mode="fixed"))
    lengths = np.linalg.norm(np.diff(walk["w_out"].astype(np.float64), axis=0), axis=1)
    np.testing.assert_allclose(lengths, 0.1 * np.sqrt(16), rtol=1e-5)


@pytest.mark.parametrize("center", ["w_avg", "origin"])
def test_clamp_keeps_walk_inside_sphere(center):
    w_avg = np.full(8, 2.0, dtype=np.float32)
    params = WalkParams(seed=0, steps=500, step_size=0.5, clamp_center=center, clamp_radius=1.5)
    walk = random_walk(w_avg, w_avg, params)
    c = w_avg if center == "w_avg" else np.zeros(8)
    r = np.linalg.norm(walk["w_out"] - c, axis=1)
    assert r[1:].max() <= 1.5 + 1e-5  # row 0 is the start (w_avg) itself, never moved
    assert walk["clamped"].sum() > 100
    np.testing.assert_allclose(r[walk["clamped"]], 1.5, rtol=1e-5)
    # distance is to w_avg (not to the origin, nor |w + w_avg|)
    want = np.linalg.norm(walk["w_out"].astype(np.float64) - w_avg, axis=1)
    np.testing.assert_allclose(walk["distance"], want, rtol=1e-5, atol=1e-6)


def test_a_walk_inside_the_sphere_is_never_clamped():
    """Small steps from a centre far from the origin stay well inside a radius of 5: nothing is
    clamped, and each step moves the walk by about the step, never onto the sphere."""
    w_avg = np.full(8, 2.0, dtype=np.float32)
    params = WalkParams(seed=0, steps=10, step_size=0.01, clamp_radius=5.0)
    walk = random_walk(w_avg, w_avg, params)
    assert not walk["clamped"].any()
    assert walk["distance"].max() < 0.2


def test_walk_is_deterministic_per_seed():
    w = np.zeros(10, dtype=np.float32)
    a = random_walk(w, w, WalkParams(seed=7, steps=30, step_size=0.2))
    b = random_walk(w, w, WalkParams(seed=7, steps=30, step_size=0.2))
    c = random_walk(w, w, WalkParams(seed=8, steps=30, step_size=0.2))
    np.testing.assert_array_equal(a["w_out"], b["w_out"])
    assert not np.array_equal(a["w_out"], c["w_out"])


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"steps": 0}, "steps must be >= 1"),
        ({"step_size": 0}, "step_size must be > 0"),
        ({"step_mode": "levy"}, "step_mode must be"),
        ({"clamp_center": "mean"}, "clamp.center must be"),
        ({"clamp_radius": -1.0}, "clamp.radius must be > 0"),
    ],
)
def test_walk_params_errors(kwargs, match):
    base = {"seed": 0, "steps": 10, "step_size": 0.1} | kwargs
    with pytest.raises(ValueError, match=match):
        WalkParams(**base)


def test_smallest_valid_settings_are_accepted():
    """A clamp radius below 1 and a single-step walk are valid; radius 0 is not."""
    walk = random_walk(np.zeros(4), np.zeros(4), WalkParams(0, 1, 0.1, clamp_radius=0.5))
    assert walk["w_out"].shape == (1, 4)
    walk = random_walk(np.zeros(4), np.zeros(4), WalkParams(0, 20, 1.0, clamp_radius=0.5))
    assert walk["distance"].max() == pytest.approx(0.5, rel=1e-6) and walk["clamped"][1:].all()
    with pytest.raises(ValueError, match="clamp.radius must be > 0, got 0.0"):
        WalkParams(0, 2, 0.1, clamp_radius=0.0)


def test_walk_is_the_documented_recurrence_for_its_seed():
    """Seeded walks reproduce across versions: row i is row i-1 plus ``step_size`` times the
    i-th standard-normal draw of ``numpy.random.default_rng(seed)`` (rebuilt here from the
    recurrence, not from the code), and the parameters cannot change once a walk is defined."""
    import dataclasses

    start, w_avg = np.full(5, 0.5), np.zeros(5)
    params = WalkParams(seed=11, steps=4, step_size=0.3)
    out = random_walk(start, w_avg, params)
    draws = np.random.default_rng(11).standard_normal((3, 5))
    expected = start + np.concatenate([np.zeros((1, 5)), np.cumsum(0.3 * draws, axis=0)])
    np.testing.assert_allclose(out["w_out"], expected, rtol=1e-6)
    with pytest.raises(dataclasses.FrozenInstanceError):
        params.step_size = 1.0

"""Distance edits (InterFaceGAN's linear_interpolate), starting distances, face labels."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ganatlas.networks.tiny import TinyGenerator
from ganatlas.studies.semantics.edit import (
    edited_ws,
    face_labels,
    face_latents,
    move,
    start_distances,
)
from ganatlas.studies.semantics.sampling import map_ws
from ganatlas.studies.semantics.scoring import planted_direction


@pytest.fixture(scope="module")
def g():
    torch.manual_seed(0)
    return TinyGenerator().eval()


def test_distance_edit_lands_at_the_requested_signed_distance(g):
    z = face_latents(g.z_dim, [0, 1, 2], [])
    nz = planted_direction(g.z_dim, 1)
    alphas = [-3.0, -1.5, 0.0, 2.0]
    _, ze, proj = edited_ws(g, z, nz, alphas, "z", mode="distance")
    got = (ze.astype(np.float64) @ nz).reshape(3, 4)
    np.testing.assert_allclose(got, np.broadcast_to(alphas, (3, 4)), atol=1e-5)
    np.testing.assert_allclose(proj, got.reshape(-1), atol=1e-5)
    # Only the component along n moves: the rest of each face stays.
    rest = ze.reshape(3, 4, -1) - got[..., None] * nz
    np.testing.assert_allclose(rest, np.broadcast_to((z - np.outer(z @ nz, nz))[:, None], rest.shape),
                               atol=1e-5)  # fmt: skip
    # InterFaceGAN's -3..3 is not the additive -3..3: alpha 0 of a distance edit is on the plane.
    _, za, _ = edited_ws(g, z, nz, alphas, "z", mode="additive")
    np.testing.assert_allclose(za.reshape(3, 4, -1)[:, 2], z, atol=1e-6)
    nw = planted_direction(g.w_dim, 2)
    ws, _, proj_w = edited_ws(g, z, nw, alphas, "w", mode="distance")
    np.testing.assert_allclose(ws.astype(np.float64) @ nw, np.repeat(alphas, 1)[None, :, None]
                               .repeat(3, 0).reshape(12, 1).repeat(g.num_ws, 1), atol=1e-4)  # fmt: skip
    np.testing.assert_allclose(proj_w, np.tile(alphas, 3), atol=1e-4)


def test_wp_distance_edit_with_a_per_row_boundary(g):
    """A W+ boundary [num_ws, w_dim] moves each edited row along its own unit row."""
    z = face_latents(g.z_dim, [4], [])
    rows = np.stack([planted_direction(g.w_dim, 10 + i) for i in range(g.num_ws)])
    ws, _, _ = edited_ws(g, z, rows, [1.0, 2.5], "wp", [1, 3], mode="distance")
    base = map_ws(g, z)[0]
    for a, edited in zip([1.0, 2.5], ws, strict=True):
        for r in range(g.num_ws):
            if 1 <= r < 3:
                assert float(edited[r].astype(np.float64) @ rows[r]) == pytest.approx(a, abs=1e-4)
            else:
                np.testing.assert_array_equal(edited[r], base[r])
    with pytest.raises(ValueError, match="cannot edit"):
        edited_ws(g, z, rows[:2], [1.0], "wp", [0, 1])


def test_move_modes_and_errors():
    lat = np.array([[3.0, 4.0]], np.float32)
    n = np.array([1.0, 0.0], np.float32)
    np.testing.assert_allclose(move(lat, n, np.array([-1.0, 2.0]), "distance")[0],
                               [[-1.0, 4.0], [2.0, 4.0]])  # fmt: skip
    np.testing.assert_allclose(move(lat, n, np.array([-1.0, 2.0]), "additive")[0],
                               [[2.0, 4.0], [5.0, 4.0]])  # fmt: skip
    with pytest.raises(ValueError, match="semantics.edit.mode"):
        move(lat, n, np.array([1.0]), "absolute")


def test_start_distances_are_projections_before_the_edit(g):
    z = face_latents(g.z_dim, [0, 1], [])
    dirs = {"a": planted_direction(g.z_dim, 1), "b": planted_direction(g.z_dim, 2)}
    t = start_distances(g, z, dirs, "z")
    np.testing.assert_allclose(t["b"], z.astype(np.float64) @ dirs["b"], rtol=1e-6)
    nw = {"c": planted_direction(g.w_dim, 3)}
    tw = start_distances(g, z, nw, "w")
    np.testing.assert_allclose(tw["c"], map_ws(g, z)[:, 0].astype(np.float64) @ nw["c"], rtol=1e-5)


def test_face_labels(tmp_path):
    np.save(tmp_path / "a.npy", np.ones((2, 8), np.float32))
    np.savez(tmp_path / "b.npz", z=np.zeros(8, np.float32))
    labels = face_labels([3, 9], [tmp_path / "a.npy", tmp_path / "b.npz"])
    assert labels == ["seed 3", "seed 9", "a.npy[0]", "a.npy[1]", "b.npz[0]"]
    assert len(face_latents(8, [3, 9], [tmp_path / "a.npy", tmp_path / "b.npz"])) == len(labels)


def test_distance_edit_matches_interfacegans_linear_interpolate_numbers():
    """Stored output of InterFaceGAN's ``utils/manipulator.linear_interpolate(z, b, -3.0, 3.0,
    4)`` (genforce/interfacegan @ 8da3fc0, run outside this repository on the z and b built
    below)."""
    rng = np.random.default_rng(21)
    z = rng.standard_normal((1, 6)).astype(np.float32)
    b = rng.standard_normal((1, 6)).astype(np.float32)
    b /= np.linalg.norm(b)
    ref = np.array([
        [1.5234559, 3.081294, -1.4619355, 0.477071, -0.8944971, -1.7258074],
        [0.6409194, 1.8911614, -1.7077459, 1.3936002, -0.2525477, -1.024262],
        [-0.2416171, 0.7010288, -1.9535564, 2.3101292, 0.3894016, -0.3227165],
        [-1.1241536, -0.489104, -2.199367, 3.2266583, 1.031351, 0.378829],
    ])  # fmt: skip
    got = move(z, b[0], np.linspace(-3.0, 3.0, 4), "distance")[0]
    np.testing.assert_allclose(got, ref, atol=2e-6)

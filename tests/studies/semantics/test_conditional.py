"""Conditional directions: orthogonal projection and the before/after table."""

from __future__ import annotations

import numpy as np
import pytest

from ganatlas.studies.semantics.boundary import (
    cosine_matrix,
)
from ganatlas.studies.semantics.conditional import conditional_rows, project_orthogonal


@pytest.mark.parametrize("m", [1, 2, 5])
def test_conditional_projection_orthogonal_to_every_condition(m):
    rng = np.random.default_rng(m)
    p = rng.standard_normal(512)
    conds = rng.standard_normal((m, 512)) + 0.8 * p  # strongly correlated with the primary
    d = project_orthogonal(p, conds)
    assert abs(np.linalg.norm(d) - 1) < 1e-12
    cos = conds @ d / np.linalg.norm(conds, axis=1)
    assert np.max(np.abs(cos)) < 1e-6
    assert d @ p > 0  # still points the primary's way


def test_conditional_rows_report_before_and_after():
    rng = np.random.default_rng(0)
    normals = {k: rng.standard_normal(64) for k in ("smile", "age", "gender")}
    normals["age"] = normals["age"] + 2 * normals["smile"]
    d, rows = conditional_rows("w", "smile", ["age", "gender"], normals)
    assert [r["condition"] for r in rows] == ["age", "gender"]
    before = {r["condition"]: r["cos_before"] for r in rows}
    u = normals["smile"] / np.linalg.norm(normals["smile"])
    a = normals["age"] / np.linalg.norm(normals["age"])
    assert before["age"] == pytest.approx(u @ a) and before["age"] > 0.8
    assert all(abs(r["cos_after"]) < 1e-6 for r in rows)
    assert rows[0]["cos_with_primary"] == pytest.approx(d @ u)
    with pytest.raises(ValueError, match="span"):
        project_orthogonal(normals["smile"], np.stack([normals["smile"], normals["age"]]))


def test_cosine_matrix():
    m = cosine_matrix({"a": np.array([1.0, 0, 0]), "b": np.array([[2.0, 2.0, 0]])})
    np.testing.assert_allclose(m.to_numpy(), [[1, 2**-0.5], [2**-0.5, 1]])


def test_conditional_edit_leaves_the_condition_planted_score_unchanged():
    """Planted scores a, b linear in a 16-dim latent with correlated truths (cos 0.6): editing
    along a's boundary moves b a lot; editing along a given b leaves b unchanged within the
    boundary's estimation noise, while a still moves."""
    from ganatlas.studies.semantics.boundary import train_boundary
    from ganatlas.studies.semantics.edit import move

    rng = np.random.default_rng(0)
    d_a = rng.standard_normal(16)
    d_a /= np.linalg.norm(d_a)
    other = rng.standard_normal(16)
    other -= (other @ d_a) * d_a
    d_b = 0.6 * d_a + 0.8 * other / np.linalg.norm(other)
    x = rng.standard_normal((6000, 16))
    noise = 0.05
    n_a = train_boundary(x, x @ d_a + noise * rng.standard_normal(6000), k=1500).normal[0]
    n_b = train_boundary(x, x @ d_b + noise * rng.standard_normal(6000), k=1500).normal[0]
    cond = project_orthogonal(n_a, n_b[None])
    faces = rng.standard_normal((5, 16))
    alphas = np.array([-2.0, 0.0, 2.0])
    for direction, b_moves in ((n_a, True), (cond, False)):
        edited = move(faces, direction.astype(np.float32), alphas, "additive").astype(float)
        delta_b = edited @ d_b - (faces @ d_b)[:, None]
        delta_a = edited @ d_a - (faces @ d_a)[:, None]
        per_unit_b = np.abs(delta_b[:, 2]).max() / 2
        assert per_unit_b > 0.5 if b_moves else per_unit_b < 0.03
        assert np.abs(delta_a[:, 2]).min() / 2 > 0.75

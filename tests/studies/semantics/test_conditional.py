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

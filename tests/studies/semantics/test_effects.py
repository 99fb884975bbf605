"""Disentanglement as normalised slopes and per-face linearity on planted edits."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ganatlas.studies.semantics.edit import move
from ganatlas.studies.semantics.effects import (
    disentanglement_table,
    effect_correlation,
    face_fits,
    linearity_table,
    matrix,
)


def planted_edits(truths: dict[str, np.ndarray], edits: dict[str, np.ndarray], noise: float = 0.0):
    """Edit rows: 4 faces in 8 dims edited along each ``edits`` direction (additive, 7 alphas),
    scored by ``latent @ truth`` per attribute (+ Gaussian noise)."""
    rng = np.random.default_rng(0)
    faces = rng.standard_normal((4, 8))
    alphas = np.linspace(-3, 3, 7)
    rows = []
    for name, n in edits.items():
        lat = move(faces, n.astype(np.float32), alphas, "additive").astype(float)  # [4, 7, 8]
        for f in range(4):
            for i, a in enumerate(alphas):
                sc = {
                    k: float(lat[f, i] @ t + noise * rng.standard_normal())
                    for k, t in truths.items()
                }
                rows.append({"space": "w", "edited": name, "face": f, "alpha": a, **sc})
    return pd.DataFrame(rows)


def summarise(rows, attrs, score_std):
    fits = linearity_table(rows, face_fits(rows, attrs))
    corr = {"w": effect_correlation(rows, attrs, "w")}
    return fits, disentanglement_table(fits, score_std, corr)


def test_normalised_slopes_identity_on_independent_attributes():
    eye = np.eye(8)
    truths = {"a": eye[0], "b": 0.5 * eye[1], "c": 3 * eye[2]}  # different score scales
    rows = planted_edits(truths, {"a": eye[0], "b": eye[1], "c": eye[2]})
    _, t = summarise(rows, list(truths), {"a": 1.0, "b": 0.5, "c": 3.0})
    np.testing.assert_allclose(matrix(t, "w", "by_own", list(truths)), np.eye(3), atol=1e-6)
    # per unit alpha in units of each score's spread over samples: 1 on the diagonal here
    np.testing.assert_allclose(np.diag(matrix(t, "w", "by_spread", list(truths))), 1.0)


def test_normalised_slopes_show_planted_cross_talk_where_correlation_saturates():
    eye = np.eye(8)
    d_b = 0.1 * eye[0] + np.sqrt(1 - 0.01) * eye[1]  # b leaks 0.1 into a's direction
    truths = {"a": eye[0], "b": d_b}
    rows = planted_edits(truths, {"a": eye[0], "b": d_b}, noise=0.0)
    fits, t = summarise(rows, ["a", "b"], {"a": 1.0, "b": 1.0})
    by_own = matrix(t, "w", "by_own", ["a", "b"])
    assert by_own.loc["a", "b"] == pytest.approx(0.1, abs=1e-6)  # a's edit moves b 0.1 per unit
    assert by_own.loc["b", "a"] == pytest.approx(0.1, abs=1e-6)
    # The correlation is +1 for this small, noise-free effect: it does not measure size.
    assert matrix(t, "w", "corr", ["a", "b"]).loc["a", "b"] == pytest.approx(1.0)
    # Per-face fits are exact (R² 1); a pooled fit would mix the faces' intercepts.
    np.testing.assert_allclose(fits[["r2_median", "r2_min"]], 1.0, atol=1e-9)


def test_na_where_there_is_no_own_edit_or_no_score():
    eye = np.eye(8)
    rows = planted_edits({"a": eye[0], "b": eye[1]}, {"a": eye[0], "ext": eye[1]})
    rows.loc[rows.edited == "ext", "a"] = np.nan  # no score of a along ext (say, no face)
    fits, t = summarise(rows, ["a", "b"], {"a": 1.0})
    by_own = matrix(t, "w", "by_own", ["a", "b"])
    assert np.isnan(by_own.loc["a", "b"])  # b was never edited along its own boundary
    assert np.isnan(by_own.loc["ext", "a"]) and by_own.loc["a", "a"] == 1.0
    assert np.isnan(matrix(t, "w", "by_spread", ["a", "b"]).loc["a", "b"])  # no spread of b given
    row = fits.set_index(["edited", "scored"]).loc[("ext", "a")]
    assert row.n_faces == 0 and np.isnan(row.r2_median)


def test_figures_label_grids_and_mark_na(tmp_path, monkeypatch):
    """The grid prints face labels, alphas and each tile's score ("no face" for NaN); the
    disentanglement heatmap marks NaN cells n/a."""
    import matplotlib.pyplot as plt

    from ganatlas.studies.semantics import figures

    texts: list[str] = []
    ticks: list[list[str]] = []
    monkeypatch.setattr(figures, "_save", lambda fig, path: (
        texts.extend(t.get_text() for ax in fig.axes for t in ax.texts),
        ticks.extend([[t.get_text() for t in ax.get_yticklabels()] for ax in fig.axes]),
        plt.close(fig)))  # fmt: skip
    imgs = np.zeros((2, 3, 8, 8, 3), np.uint8)
    scores = np.array([[0.1, 0.25, np.nan], [0.5, 0.75, 1.0]])
    figures.edit_grid(imgs, [-1.0, 0.0, 1.0], tmp_path / "g.png", "W: smile", ["seed 0", "seed 1"],
                      scores, "smile")  # fmt: skip
    assert ["seed 0", "seed 1"] in ticks
    assert texts == ["0.10", "0.25", "no face", "0.50", "0.75", "1.00"]
    texts.clear()
    m = pd.DataFrame([[1.0, np.nan], [0.1, 1.0]], index=["a", "b"], columns=["a", "b"])
    figures.disentanglement_figure({"W": {"slope / own-edit slope": m}}, tmp_path / "d.png")
    assert texts.count("n/a") == 1

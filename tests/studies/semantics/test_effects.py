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
    linear_fit,
    linearity_table,
    matrix,
    mean_ci,
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


def test_linear_fit_matches_linregress_and_is_nan_for_constant_x():
    from scipy.stats import linregress

    x, y = np.array([0.0, 0.5, 1.0]), np.array([1.0, 2.5, 2.9])  # x spans exactly 1
    fit, ref = linear_fit(x, y), linregress(x, y)
    assert fit["slope"] == pytest.approx(ref.slope) and fit["r2"] == pytest.approx(ref.rvalue**2)
    assert fit["stderr"] == pytest.approx(ref.stderr) and fit["n"] == 3
    const = linear_fit(np.ones(4), y[[0, 1, 2, 0]])
    assert np.isnan([const["slope"], const["r2"], const["stderr"]]).all() and const["n"] == 4


@pytest.mark.parametrize("values", [[1.0, 4.0], [0.3, -1.2, 2.0, 5.5, 0.1]])
@pytest.mark.parametrize("level", [0.95, 0.8])
def test_mean_ci_is_scipys_t_interval(values, level):
    from scipy.stats import sem, t

    m, lo, hi = mean_ci(np.array([*values, np.nan]), level)
    ref = t.interval(level, len(values) - 1, loc=np.mean(values), scale=sem(values))
    assert (m, lo, hi) == pytest.approx((np.mean(values), *ref))


def test_mean_ci_one_value_has_a_mean_but_no_interval():
    m, lo, hi = mean_ci(np.array([2.5, np.nan]))
    assert m == 2.5 and np.isnan(lo) and np.isnan(hi)
    assert np.isnan(mean_ci(np.array([np.nan]))).all()


def test_r2_quartiles_are_np_percentile_of_the_per_face_fits():
    from scipy.stats import linregress

    rng = np.random.default_rng(3)
    alphas = np.linspace(-2, 2, 5)
    rows = pd.DataFrame([
        {"space": "w", "edited": "a", "face": f, "alpha": al,
         "a": al + (0.2 + f) * rng.standard_normal()}
        for f in range(5) for al in alphas
    ])  # fmt: skip
    row = linearity_table(rows, face_fits(rows, ["a"])).iloc[0]
    r2 = [linregress(g["alpha"], g["a"]).rvalue ** 2 for _, g in rows.groupby("face")]
    assert len(set(np.round(r2, 6))) == 5  # distinct: every quantile is an interpolation
    got = row[["r2_median", "r2_q25", "r2_q75", "r2_min"]].to_numpy(float)
    np.testing.assert_allclose(got, [*np.percentile(r2, [50, 25, 75]), min(r2)])


def test_correlation_plus_minus_one_for_tiny_or_two_point_effects_nan_for_none():
    rows = pd.DataFrame({
        "space": "w", "edited": "a", "face": 0, "alpha": [0.0, 1.0, 2.0],
        "tiny": [5.0, 5.001, 5.002], "flat": 3.0, "down": [1.0, 0.0, -1.0],
    })  # fmt: skip
    c = effect_correlation(rows, ["tiny", "flat", "down"], "w").loc["a"]
    assert c["tiny"] == pytest.approx(1.0) and np.isnan(c["flat"]) and c["down"] == -1.0
    two = effect_correlation(rows.iloc[:2], ["tiny", "down"], "w").loc["a"]
    assert two["tiny"] == pytest.approx(1.0) and two["down"] == pytest.approx(-1.0)
    assert np.isnan(effect_correlation(rows.iloc[:1], ["tiny"], "w").loc["a", "tiny"])

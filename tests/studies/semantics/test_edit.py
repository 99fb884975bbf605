"""Edits: edited latents per space, linear fits and tables, the faces to edit."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from ganatlas.networks.tiny import TinyGenerator
from ganatlas.studies.semantics.edit import (
    edited_ws,
    face_latents,
)
from ganatlas.studies.semantics.effects import (
    effect_correlation,
    face_fits,
    linear_fit,
    linearity_table,
)
from ganatlas.studies.semantics.scoring import (
    planted_direction,
)


def test_linear_fit_and_tables_on_synthetic_edits():
    alphas = np.linspace(-3, 3, 13)
    rng = np.random.default_rng(0)
    rows = []
    for face in range(5):
        for a in alphas:
            rows.append(
                {"space": "z", "edited": "smile", "face": face, "alpha": a,
                 "smile": 0.5 * a + face, "yaw": 0.1 * rng.standard_normal()}
            )  # fmt: skip
    df = pd.DataFrame(rows)
    fit = linear_fit(df.alpha, df.smile)
    assert fit["slope"] == pytest.approx(0.5) and fit["intercept"] == pytest.approx(2.0)
    y = df.smile.to_numpy()
    r2 = 1 - np.sum((y - (0.5 * df.alpha + 2)) ** 2) / np.sum((y - y.mean()) ** 2)
    assert fit["r2"] == pytest.approx(r2) and fit["n"] == 65
    assert r2 < 0.8  # pooled over faces, the faces' intercepts count as misfit
    exact = linear_fit([0, 1, 2, np.nan], [1, 3, 5, 7])
    assert (exact["slope"], exact["intercept"], exact["r2"], exact["n"]) == pytest.approx(
        (2, 1, 1, 3)
    )
    assert np.isnan(linear_fit([1, 1, 1], [1, 2, 3])["slope"])
    assert np.isnan(linear_fit([1, 2], [1, 2])["slope"])  # too few points for an interval
    const = linear_fit([0, 1, 2], [4, 4, 4])
    assert const["slope"] == 0 and np.isnan(const["r2"])  # R² undefined: n/a
    per_face = face_fits(df, ["smile", "yaw"])
    assert len(per_face) == 10
    smile = per_face[per_face.scored == "smile"]
    np.testing.assert_allclose(smile.r2, 1.0)  # every face is exactly linear
    np.testing.assert_allclose(smile.intercept, np.arange(5), atol=1e-12)
    table = linearity_table(df, per_face).set_index("scored")
    assert table.loc["smile", "slope"] == pytest.approx(0.5)
    assert table.loc["smile", "r2_median"] == pytest.approx(1.0)
    assert table.loc["smile", "n_faces"] == 5
    assert table.loc["smile", "mean_std"] == pytest.approx(np.std(np.arange(5), ddof=1))
    yaw_slopes = per_face[per_face.scored == "yaw"].slope.to_numpy()
    from scipy.stats import t

    half = t.ppf(0.975, 4) * yaw_slopes.std(ddof=1) / np.sqrt(5)
    assert table.loc["yaw", "slope"] == pytest.approx(yaw_slopes.mean())
    assert table.loc["yaw", "slope_ci_high"] == pytest.approx(yaw_slopes.mean() + half)
    assert abs(table.loc["yaw", "slope"]) < 0.05
    eff = effect_correlation(df, ["smile", "yaw"], "z")
    # Changes from each face's alpha-0 score: smile moves exactly 0.5 * alpha on every face.
    assert eff.loc["smile", "smile"] == pytest.approx(1.0)
    yaw0 = df[df.alpha == 0].set_index("face").yaw
    dyaw = df.yaw - yaw0.reindex(df.face).to_numpy()
    assert eff.loc["smile", "yaw"] == pytest.approx(np.corrcoef(df.alpha, dyaw)[0, 1])
    assert abs(eff.loc["smile", "yaw"]) < 0.3


def test_edited_ws_spaces_and_layer_range():
    torch.manual_seed(0)
    g = TinyGenerator().eval()
    z = face_latents(g.z_dim, [0, 1], [])
    n = planted_direction(g.w_dim, 5)
    alphas = [-1.0, 0.0, 2.0]
    base = edited_ws(g, z, n, [0.0], "w")[0]  # [2, num_ws, w_dim]
    ws, _, _ = edited_ws(g, z, n, alphas, "w")
    assert ws.shape == (6, g.num_ws, g.w_dim)
    np.testing.assert_allclose(ws[5] - base[1], 2.0 * np.broadcast_to(n, ws[5].shape), atol=1e-5)
    wp, _, _ = edited_ws(g, z, n, alphas, "wp", [1, 2])
    diff = wp[2] - base[0]  # face 0, alpha 2
    np.testing.assert_allclose(diff[1], 2.0 * n, atol=1e-5)
    assert np.abs(np.delete(diff, 1, axis=0)).max() == 0
    wz, ze, _ = edited_ws(g, z, planted_direction(g.z_dim, 1), alphas, "z")
    np.testing.assert_allclose(ze[3], z[1] - planted_direction(g.z_dim, 1), atol=1e-6)
    np.testing.assert_allclose(wz[1], base[0], atol=1e-5)  # alpha 0 is the original
    with pytest.raises(ValueError, match="num_ws"):
        edited_ws(g, z, n, alphas, "wp", [0, g.num_ws + 1])


def test_face_latents_from_seeds_and_files(tmp_path):
    np.save(tmp_path / "a.npy", np.ones((2, 8), np.float32))
    np.savez(tmp_path / "b.npz", z=np.zeros(8, np.float32))
    z = face_latents(8, [3], [tmp_path / "a.npy", tmp_path / "b.npz"])
    assert z.shape == (4, 8)
    from ganatlas.latent import sample_z

    np.testing.assert_array_equal(z[0], sample_z(1, 8, 3).numpy()[0])
    with pytest.raises(ValueError, match="z_dim is 9"):
        face_latents(9, [], [tmp_path / "a.npy"])

"""The projection study's tables recomputed from the items' raw rows: latents.csv (n, mean and
95% interval per kind, error rows left out), the report's counts, and PSNR in dB of uint8
images."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from ganatlas.studies.projection.settings import projection_config
from ganatlas.studies.projection.stages import quality_row, stage_summary

ROWS = [
    {"item": "r1", "kind": "real", "dist_w_avg": 2.0, "norm": 5.0, "layer_spread": 0.5,
     "proj_score": 0.9, "psnr": 20.0},
    {"item": "r2", "kind": "real", "dist_w_avg": 4.0, "norm": 7.0, "layer_spread": 1.5,
     "proj_score": 0.0, "psnr": 22.0},
    {"item": "r3", "kind": "real", "error": "no face: none in r3.jpg"},
    {"item": "s1", "kind": "synthetic", "dist_w_avg": 1.0, "norm": 3.0, "layer_spread": 0.0,
     "proj_score": 0.8, "psnr": 30.0},
    {"item": "s2", "kind": "synthetic", "dist_w_avg": 1.5, "norm": 3.5, "layer_spread": 0.0,
     "proj_score": 0.85, "psnr": 31.0},
    {"item": "s3", "kind": "synthetic", "dist_w_avg": 3.5, "norm": 2.0, "layer_spread": 0.0,
     "proj_score": 0.7, "psnr": 29.0},
]  # fmt: skip


def test_latents_table_recomputed_from_the_item_rows(tmp_path):
    dirs = []
    for r in ROWS:
        d = tmp_path / "items" / r["item"]
        d.mkdir(parents=True)
        row = {"error": None, "space": "w", **r}
        (d / "metrics.json").write_text(json.dumps(row))
        dirs.append(d)
    prj = projection_config({"projection": {}})
    out = {k: tmp_path / f for k, f in [("m", "metrics.csv"), ("l", "latents.csv"),
                                         ("f", "fig.png"), ("r", "report.md")]}  # fmt: skip
    stage_summary(dirs, prj, out["m"], out["l"], out["f"], out["r"])
    lat = pd.read_csv(out["l"]).set_index(["kind", "quantity"])
    for kind in ("real", "synthetic"):
        ok = [r for r in ROWS if r["kind"] == kind and "error" not in r]
        for q in ("dist_w_avg", "norm", "layer_spread", "proj_score"):
            v = np.array([r[q] for r in ok])
            half = 1.96 * v.std(ddof=1) / np.sqrt(len(v))
            got = lat.loc[(kind, q)]
            assert got["n"] == len(ok), (kind, q)  # the error row is not counted
            assert got["mean"] == pytest.approx(v.mean())
            assert got["ci_low"] == pytest.approx(v.mean() - half)
            assert got["ci_high"] == pytest.approx(v.mean() + half)
    metrics = pd.read_csv(out["m"]).set_index("item")
    assert list(metrics.index) == [r["item"] for r in ROWS]
    assert metrics.loc["r3", "error"].startswith("no face")
    text = out["r"].read_text()
    assert "6 items (3 photos, 3 generated), 1 error rows." in text
    assert "- r3: no face: none in r3.jpg" in text


def test_quality_row_psnr_in_db_of_uint8_images():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (24, 24, 3), dtype=np.uint8)
    b = np.clip(a.astype(int) + rng.integers(-9, 10, a.shape), 0, 255).astype(np.uint8)
    mse = np.mean((a.astype(np.float64) - b) ** 2)
    row = quality_row(a, b)
    assert row["psnr"] == pytest.approx(10 * np.log10(255.0**2 / mse), abs=1e-3)
    assert row["lpips"] is None and 0.5 < row["ssim"] < 1.0
    assert quality_row(a, b[:, :, ::-1])["psnr"] < row["psnr"] - 3  # channel order matters

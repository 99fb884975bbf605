"""Walk-study report: summary numbers against a direct computation, figures and markdown."""

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from ganatlas.render import image_name
from ganatlas.studies.walk.report import summarize, write_report, yield_by_distance


def _detections(tmp_path=None):
    rng = np.random.default_rng(0)
    rows = []
    for seed in (1, 2):
        for step in range(30):
            detected = bool(step % 3)
            rows.append(
                {
                    "filename": image_name(seed, step),
                    "seed": seed,
                    "step": step,
                    "distance": step * 0.5,
                    "detected": detected,
                    "score": float(rng.uniform(0.5, 0.9)) if detected else 0.0,
                    "error": None,
                    "backend": "insightface",
                    "models": "scrfd_500m.onnx",
                    "det_size": 320,
                }
            )
            if tmp_path is not None:
                d = tmp_path / "images" / f"seed{seed}" / "shard0"
                d.mkdir(parents=True, exist_ok=True)
                Image.new("RGB", (8, 8), (step * 8, 0, 0)).save(d / image_name(seed, step))
    return pd.DataFrame(rows)


def test_summary_matches_direct_computation():
    df = _detections()
    s = summarize(df).set_index("seed")
    part = df[df.seed == 1]
    assert s.loc[1, "images"] == 30 and s.loc[1, "detected"] == 20
    assert s.loc[1, "yield_per_1000"] == pytest.approx(1000 * 20 / 30)
    assert s.loc[1, "score_mean"] == pytest.approx(part.score.mean())
    assert s.loc[1, "score_median"] == pytest.approx(part.score.median())
    assert s.loc[1, "score_min"] == 0.0
    assert s.loc["all", "images"] == 60 and s.loc["all", "detected"] == 40


def test_yield_by_distance_counts_every_image_once():
    df = _detections()
    t = yield_by_distance(df, bins=5)
    assert t["images"].sum() == len(df) and t["detected"].sum() == df.detected.sum()
    assert t["distance_lo"].iloc[0] == 0 and t["distance_hi"].iloc[-1] >= df.distance.max()


def test_write_report_creates_every_output(tmp_path):
    df = _detections(tmp_path)
    out = write_report(df, tmp_path / "images", tmp_path, network={"name": "tiny", "sha256": "abc"})
    figs = {p.name for p in (tmp_path / "figures").iterdir()}
    assert figs == {
        "hist_seed1.png",
        "hist_seed2.png",
        "steps_seed1.png",
        "steps_seed2.png",
        "score_vs_distance.png",
        "yield_by_distance.png",
        "monsters.png",
    }
    md = out["report"].read_text()
    assert "figures/monsters.png" in md and "Network: **tiny**" in md and "det_size [320]" in md
    summary = pd.read_csv(out["summary"])
    assert list(summary["images"]) == [30, 30, 60]

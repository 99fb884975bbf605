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


def per_1000(detected) -> float:
    """Detected images per 1,000 images, from raw per-image flags."""
    flags = [bool(v) for v in detected]
    return 1000.0 * sum(flags) / len(flags)


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
    # Every row's rate recomputed from the raw rows.
    for seed in (1, 2):
        rows = df[df.seed == seed]
        assert s.loc[seed, "yield_per_1000"] == pytest.approx(per_1000(rows.detected))
    assert s.loc["all", "yield_per_1000"] == pytest.approx(per_1000(df.detected))


def uneven_detections() -> pd.DataFrame:
    """60 images at distances 0.0 .. 5.9 whose detection rate falls with distance."""
    rng = np.random.default_rng(1)
    d = np.arange(60) / 10.0
    detected = rng.uniform(size=60) < 1.0 - d / 6.0
    return pd.DataFrame(
        {"seed": 1, "step": np.arange(60), "distance": d, "detected": detected,
         "score": np.where(detected, 0.8, 0.0)}
    )  # fmt: skip


def test_yield_by_distance_counts_every_image_once():
    df = _detections()
    t = yield_by_distance(df, bins=5)
    assert t["images"].sum() == len(df) and t["detected"].sum() == df.detected.sum()
    assert t["distance_lo"].iloc[0] == 0 and t["distance_hi"].iloc[-1] >= df.distance.max()


def test_yield_by_distance_rates_are_per_1000_of_the_raw_rows():
    df = uneven_detections()
    t = yield_by_distance(df, bins=6)
    # Six equal-width bins from 0 to the largest distance (5.9).
    np.testing.assert_allclose(t["distance_lo"], np.arange(6) * 5.9 / 6, atol=1e-6)
    np.testing.assert_allclose(t["distance_hi"], np.arange(1, 7) * 5.9 / 6, atol=1e-6)
    rates = []
    for i, r in t.iterrows():
        # pandas.cut bins are (lo, hi]; the first one also holds distance 0.
        inside = (df.distance > r.distance_lo) & (df.distance <= r.distance_hi)
        if i == 0:
            inside |= df.distance == 0
        rows = df[inside]
        assert r.images == len(rows) and r.detected == rows.detected.sum()
        rates.append(per_1000(rows.detected))
    np.testing.assert_allclose(t["yield_per_1000"], rates)
    assert len(set(rates)) > 2 and max(rates) > 500  # rates differ: a wrong unit shows
    # An empty bin has no rate (not 0 detected per 1,000).
    gap = yield_by_distance(df[(df.distance < 2) | (df.distance > 4)], bins=6)
    assert (gap["images"] == 0).any() and gap.loc[gap["images"] == 0, "yield_per_1000"].isna().all()


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
    # The written tables' rates, recomputed from the raw rows.
    expected = [per_1000(df[df.seed == s].detected) for s in (1, 2)] + [per_1000(df.detected)]
    np.testing.assert_allclose(summary["yield_per_1000"], expected, rtol=1e-5)
    ybd = pd.read_csv(tmp_path / "yield_by_distance.csv")
    assert ybd["images"].sum() == len(df)
    for _, r in ybd.iterrows():
        lo = df.distance >= r.distance_lo if r.distance_lo == 0 else df.distance > r.distance_lo
        rows = df[lo & (df.distance <= r.distance_hi * (1 + 1e-6))]
        assert r.images == len(rows)
        if len(rows):
            assert r.yield_per_1000 == pytest.approx(per_1000(rows.detected), rel=1e-5)
        else:
            assert np.isnan(r.yield_per_1000)

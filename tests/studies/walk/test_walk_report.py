"""Walk-study report: summary numbers against a direct computation, figures and markdown."""

import re

import matplotlib
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from ganatlas.render import image_name
from ganatlas.studies.walk import report as report_module
from ganatlas.studies.walk.report import (
    CATEGORY_COLOURS,
    LOW,
    NO_FACE,
    plot_gallery,
    plot_histogram,
    plot_score_vs_distance,
    plot_steps,
    plot_yield_by_distance,
    point_colours,
    rolling_detection_rate,
    select_gallery,
    summarize,
    write_report,
    yield_by_distance,
)


def _detections(tmp_path=None, backend="insightface", models="scrfd_500m.onnx"):
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
                    "backend": backend,
                    "models": models,
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
    # Detected-only statistics, recomputed from the detected rows (the zeros left out).
    for seed in (1, 2, "all"):
        rows = df if seed == "all" else df[df.seed == seed]
        found = sorted(float(v) for v, d in zip(rows.score, rows.detected, strict=True) if d)
        assert s.loc[seed, "detected_score_mean"] == pytest.approx(sum(found) / len(found))
        assert s.loc[seed, "detected_score_median"] == pytest.approx(np.median(found))
        assert s.loc[seed, "detected_score_p10"] == pytest.approx(np.percentile(found, 10))
        assert s.loc[seed, "detected_score_p90"] == pytest.approx(np.percentile(found, 90))
        assert s.loc[seed, "detected_score_median"] > 0.5 > s.loc[seed, "score_min"]
    # The existing all-image columns are kept (undetected at 0.0).
    assert s.loc[1, "score_median"] == pytest.approx(df[df.seed == 1].score.median())


def test_detected_score_stats_are_nan_without_detections():
    df = _detections()
    df["detected"], df["score"] = False, 0.0
    s = summarize(df).set_index("seed")
    assert s.loc["all", "detected"] == 0
    assert s[["detected_score_mean", "detected_score_median"]].isna().all().all()


def uneven_detections() -> pd.DataFrame:
    """60 images at distances 0.0 .. 5.9 whose detection rate falls with distance."""
    rng = np.random.default_rng(1)
    d = np.arange(60) / 10.0
    detected = rng.uniform(size=60) < 1.0 - d / 6.0
    return pd.DataFrame(
        {"seed": 1, "step": np.arange(60), "distance": d, "detected": detected,
         "score": np.where(detected, 0.8, 0.0)}
    )  # fmt: skip


def pooled(t: pd.DataFrame) -> pd.DataFrame:
    return t[t["seed"].astype(str) == "all"].reset_index(drop=True)


def test_yield_by_distance_counts_every_image_once():
    df = _detections()
    t = yield_by_distance(df, bins=5)
    assert list(t["seed"].astype(str).unique()) == ["1", "2", "all"]
    for seed, rows in (*((s, df[df.seed == s]) for s in (1, 2)), ("all", df)):
        part = t[t["seed"].astype(str) == str(seed)]
        assert len(part) == 5 and part["n"].sum() == len(rows)
        assert part["detected"].sum() == rows.detected.sum()
    p = pooled(t)
    assert p["distance_lo"].iloc[0] == 0 and p["distance_hi"].iloc[-1] >= df.distance.max()
    # Per-seed bins share the pooled edges, and their counts add up to the pooled ones.
    per_seed = t[t["seed"].astype(str) != "all"].groupby("bin")[["n", "detected"]].sum()
    np.testing.assert_array_equal(per_seed["n"], p["n"])
    np.testing.assert_array_equal(per_seed["detected"], p["detected"])


def two_seed_uneven() -> pd.DataFrame:
    """Two seeds of 60 images at distances 0.0 .. 5.9 whose detection rate falls with distance."""
    rng = np.random.default_rng(1)
    parts = []
    for seed in (3, 7):
        d = np.arange(60) / 10.0
        detected = rng.uniform(size=60) < 1.0 - d / 6.0
        parts.append(pd.DataFrame(
            {"seed": seed, "step": np.arange(60), "distance": d, "detected": detected,
             "score": np.where(detected, 0.8, 0.0)}
        ))  # fmt: skip
    return pd.concat(parts, ignore_index=True)


def in_bin(df: pd.DataFrame, lo: float, hi: float, first: bool) -> pd.DataFrame:
    """pandas.cut bins are (lo, hi]; the first one also holds distance 0."""
    inside = (df.distance > lo) & (df.distance <= hi * (1 + 1e-6))
    if first:
        inside |= df.distance == 0
    return df[inside]


def test_yield_by_distance_rates_are_per_1000_of_the_raw_rows():
    df = uneven_detections()
    t = pooled(yield_by_distance(df, bins=6))
    # Six equal-width bins from 0 to the largest distance (5.9).
    np.testing.assert_allclose(t["distance_lo"], np.arange(6) * 5.9 / 6, atol=1e-6)
    np.testing.assert_allclose(t["distance_hi"], np.arange(1, 7) * 5.9 / 6, atol=1e-6)
    rates = []
    for i, r in t.iterrows():
        rows = in_bin(df, r.distance_lo, r.distance_hi, i == 0)
        assert r.n == len(rows) and r.detected == rows.detected.sum()
        rates.append(per_1000(rows.detected))
    np.testing.assert_allclose(t["yield_per_1000"], rates)
    assert len(set(rates)) > 2 and max(rates) > 500  # rates differ: a wrong unit shows
    # An empty bin has n = 0 and no rate or interval (not 0 detected per 1,000).
    gap = pooled(yield_by_distance(df[(df.distance < 2) | (df.distance > 4)], bins=6))
    empty = gap[gap["n"] == 0]
    assert len(empty) and empty[["yield_per_1000", "ci_low", "ci_high"]].isna().all().all()


def wilson_per_1000(k: int, n: int) -> tuple[float, float]:
    """scipy's own Wilson 95% interval of k / n, per 1,000."""
    from scipy.stats import binomtest

    ci = binomtest(k, n).proportion_ci(method="wilson")
    return 1000.0 * ci.low, 1000.0 * ci.high


def test_yield_rows_per_seed_and_pooled_with_wilson_intervals():
    df = two_seed_uneven()
    t = yield_by_distance(df, bins=6)
    edges = pooled(t)[["distance_lo", "distance_hi"]].to_numpy()
    assert len(t) == 3 * 6
    for _, r in t.iterrows():
        rows = df if r.seed == "all" else df[df.seed == r.seed]
        rows = in_bin(rows, *edges[r.bin], r.bin == 0)
        k = int(sum(bool(v) for v in rows.detected))
        assert (r.n, r.detected) == (len(rows), k)
        assert r.yield_per_1000 == pytest.approx(per_1000(rows.detected))
        low, high = wilson_per_1000(k, len(rows))
        assert (r.ci_low, r.ci_high) == (pytest.approx(low), pytest.approx(high))
        assert r.ci_low <= r.yield_per_1000 <= r.ci_high
    # The pooled n of each bin is the sum of the seeds' n.
    both = t.pivot(index="bin", columns="seed", values="n")
    np.testing.assert_array_equal(both["all"], both[3] + both[7])


def test_wilson_interval_matches_the_closed_form():
    """One row checked against the Wilson formula itself, not only against scipy."""
    df = two_seed_uneven()
    r = pooled(yield_by_distance(df, bins=6)).iloc[2]
    n, p, z = r.n, r.detected / r.n, 1.959963984540054
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    assert r.ci_low == pytest.approx(1000 * (centre - half))
    assert r.ci_high == pytest.approx(1000 * (centre + half))


def test_yield_figure_marks_empty_bins_and_the_median(tmp_path):
    df = two_seed_uneven()
    gap = df[(df.distance < 2) | (df.distance > 4) | (df.seed == 7)]  # seed 3 has a gap
    t = yield_by_distance(gap, bins=6)
    out = plot_yield_by_distance(t, tmp_path / "y.png", median_distance=2.5)
    assert (tmp_path / "y.png").is_file()
    assert out["panels"] == ["all", 3, 7]
    expected = {(3, int(b)) for b in t[(t.seed == 3) & (t.n == 0)]["bin"]}
    assert expected and set(out["empty"]) == expected
    assert len(out["median_lines"]) == 3
    assert all(line.get_xdata()[0] == 2.5 for line in out["median_lines"])
    assert "median sample distance" in out["median_lines"][0].get_label()


def test_undetected_is_never_drawn_in_the_low_score_colour(tmp_path):
    df = _detections()
    df.loc[df.step == 4, "score"] = 0.3  # a low but detected score
    part = df[df.seed == 1]
    colours = point_colours(part, green=0.7)
    undetected = ~part["detected"]
    assert (colours[undetected] == CATEGORY_COLOURS[NO_FACE]).all()
    assert (colours[~undetected & (part.score <= 0.7)] == CATEGORY_COLOURS[LOW]).all()
    assert CATEGORY_COLOURS[NO_FACE] != CATEGORY_COLOURS[LOW]
    out = plot_steps(part, 1, tmp_path / "s.png", green=0.7, window=5, median_distance=3.0)
    assert (tmp_path / "s.png").is_file()
    # The drawn artists: the "no face" points are grey and as many as the undetected images.
    to_rgba = matplotlib.colors.to_rgba
    no_face = out["artists"][NO_FACE]
    assert len(no_face.get_offsets()) == int(undetected.sum())
    drawn = {tuple(c) for c in no_face.get_facecolors()} | {
        tuple(c) for c in no_face.get_edgecolors()
    }
    assert drawn == {to_rgba(CATEGORY_COLOURS[NO_FACE])}
    low = out["artists"][LOW]
    assert {tuple(c) for c in low.get_facecolors()} == {to_rgba(CATEGORY_COLOURS[LOW])}
    np.testing.assert_allclose(
        sorted(low.get_offsets()[:, 1]), sorted(part[~undetected & (part.score <= 0.7)].score)
    )
    assert out["median_lines"][0].get_ydata()[0] == 3.0


def test_rolling_detection_rate_is_the_centred_window_share():
    df = uneven_detections()
    rate = rolling_detection_rate(df, window=5)
    flags = df.sort_values("step").detected.astype(float).to_numpy()
    for step in (0, 1, 10, 30, 59):
        window = flags[max(0, step - 2) : step + 3]
        assert rate[df.step == step].iloc[0] == pytest.approx(window.mean())


def test_histogram_counts_detected_only_and_reports_undetected(tmp_path, monkeypatch):
    df = _detections()
    part = df[df.seed == 2]
    out = plot_histogram(part, 2, tmp_path / "h.png")
    assert out == {"detected": 20, "total": 30, "undetected": 10}
    assert (tmp_path / "h.png").is_file()
    figures = []  # the figure's own words: counts of detected and undetected images
    monkeypatch.setattr(report_module, "_save", lambda fig, path: figures.append(fig))
    plot_histogram(part, 2, tmp_path / "h2.png")
    (ax,) = figures[0].axes
    assert [t.get_text() for t in ax.texts] == ["20 / 30 detected\n10 undetected (not shown)"]
    assert ax.get_title() == "seed 2: confidence of the 20 detected of 30 images"
    # 40 bins of width 0.025 over [0, 1], counting exactly the detected scores
    bars = sorted((b.get_x(), b.get_width(), b.get_height()) for b in ax.patches)
    counts, edges = np.histogram(part[part.detected].score, bins=np.linspace(0, 1, 41))
    assert len(bars) == 40
    np.testing.assert_allclose([b[0] for b in bars], edges[:-1], atol=1e-12)
    np.testing.assert_allclose([b[1] for b in bars], 0.025, atol=1e-12)
    assert [b[2] for b in bars] == counts.tolist() and counts.sum() == 20
    score = plot_score_vs_distance(df, tmp_path / "sd.png", median_distance=4.0)
    assert (score["detected"], score["undetected"]) == (40, 20)
    assert score["median_lines"][0].get_xdata()[0] == 4.0


def duplicate_rich_walks() -> pd.DataFrame:
    """Two seeds of 200 steps creeping out 0.05 per step, undetected past distance 5, and detected
    with scores falling with distance before: near-duplicates everywhere."""
    rows = []
    for seed in (1, 2):
        for step in range(200):
            d = step * 0.05
            detected = d <= 5
            rows.append({"filename": image_name(seed, step), "seed": seed, "step": step,
                         "distance": d, "detected": detected,
                         "score": 1.0 - d / 10 if detected else 0.0})  # fmt: skip
    return pd.DataFrame(rows)


def test_gallery_has_no_near_duplicates_and_keeps_the_two_kinds_apart(tmp_path):
    df = duplicate_rich_walks()
    band = 1.0
    picks = select_gallery(df, size=10, band=band)
    assert list(picks.role.unique()) == ["start", "undetected", "low"]
    start = picks[picks.role == "start"]
    assert len(start) == 1 and start.step.iloc[0] == 0
    monsters = picks[picks.role != "start"]
    assert (picks.role == "undetected").sum() == 5 and (picks.role == "low").sum() == 5
    assert not monsters[monsters.role == "undetected"].detected.any()
    assert monsters[monsters.role == "low"].detected.all()
    for _, part in monsters.groupby("seed"):
        d = np.sort(part.distance.to_numpy())
        assert (np.diff(d) >= band - 1e-9).all(), d
    # Undetected: the farthest first; lowest-confidence: the lowest scores the band allows.
    assert monsters[monsters.role == "undetected"].distance.max() == df.distance.max()
    assert monsters[monsters.role == "low"].score.min() == df[df.detected].score.min()
    # Without the band the same seeds would give near-duplicates.
    crowded = select_gallery(df, size=10, band=0.0)
    gaps = [
        np.diff(np.sort(p.distance)) for _, p in crowded[crowded.role != "start"].groupby("seed")
    ]
    assert min(g.min() for g in gaps) < band
    for _, r in df.iterrows():  # images for the figure
        d = tmp_path / "images" / f"seed{r.seed}" / "shard0"
        d.mkdir(parents=True, exist_ok=True)
        if r.step % 10 == 0 or r.step > 150:
            Image.new("RGB", (8, 8), (r.step, 0, 0)).save(d / r.filename)
    drawn = plot_gallery(df, tmp_path / "images", tmp_path / "m.png", size=10, band=band)
    pd.testing.assert_frame_equal(drawn, picks)
    assert (tmp_path / "m.png").is_file()


def test_write_report_creates_every_output(tmp_path):
    df = _detections(tmp_path)
    out = write_report(
        df, tmp_path / "images", tmp_path, network={"name": "tiny", "sha256": "abc"},
        median_distance=6.0, w_avg_samples=1000,
    )  # fmt: skip
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
    assert "median distance of the 1,000 w_avg samples to w_avg is 6.00" in md
    assert (
        "closer than 1.50 in distance" in md
    )  # the gallery band: a quarter of the median by default
    summary = pd.read_csv(out["summary"])
    assert list(summary["images"]) == [30, 30, 60]
    # The written tables' rates, recomputed from the raw rows.
    expected = [per_1000(df[df.seed == s].detected) for s in (1, 2)] + [per_1000(df.detected)]
    np.testing.assert_allclose(summary["yield_per_1000"], expected, rtol=1e-5)
    found = df[df.detected]
    all_row = summary[summary.seed == "all"].iloc[0]
    assert all_row.detected_score_median == pytest.approx(np.median(found.score), rel=1e-5)
    ybd = pd.read_csv(tmp_path / "yield_by_distance.csv")
    assert list(ybd.columns) == [
        "seed", "bin", "distance_lo", "distance_hi", "n", "detected", "yield_per_1000", "ci_low",
        "ci_high",
    ]  # fmt: skip
    assert ybd.seed.astype(str).unique().tolist() == ["1", "2", "all"]
    for _, r in ybd.iterrows():
        rows = df if r.seed == "all" else df[df.seed == int(r.seed)]
        lo = rows.distance >= r.distance_lo if r.distance_lo == 0 else rows.distance > r.distance_lo
        rows = rows[lo & (rows.distance <= r.distance_hi * (1 + 1e-6))]
        assert r.n == len(rows)
        if len(rows):
            assert r.yield_per_1000 == pytest.approx(per_1000(rows.detected), rel=1e-5)
            low, high = wilson_per_1000(int(rows.detected.sum()), len(rows))
            assert (r.ci_low, r.ci_high) == (
                pytest.approx(low, rel=1e-5),
                pytest.approx(high, rel=1e-5),
            )
        else:
            assert np.isnan(r.yield_per_1000) and np.isnan(r.ci_low)


def report_head(md: str) -> list[str]:
    """report.md's lines before its first table."""
    return md.split("## Summary", 1)[0].splitlines()


def test_report_names_the_detector_and_does_not_warn_for_scrfd(tmp_path):
    df = _detections(tmp_path)
    md = write_report(df, tmp_path / "images", tmp_path)["report"].read_text()
    head = report_head(md)
    assert head[2] == "Detector: **insightface** (scrfd_500m.onnx), det_size [320]."
    assert "Warning" not in md


def test_report_warns_that_dlib_scores_are_not_scrfd_confidences(tmp_path):
    df = _detections(tmp_path, backend="dlib", models="dlib_hog+shape_predictor_68")
    md = write_report(df, tmp_path / "images", tmp_path)["report"].read_text()
    head = report_head(md)
    assert head[2] == "Detector: **dlib** (dlib_hog+shape_predictor_68), det_size [320]."
    warning = next(line for line in head if "Warning" in line)
    assert "dlib" in warning and "not comparable with SCRFD confidences" in warning
    assert head.index(warning) < 6  # at the top, before the network and the tables


def test_report_says_the_dcgan_mean_latent_is_a_flat_texture(tmp_path):
    df = _detections(tmp_path)
    for kind in ("dcgan-embedded", "dcgan"):
        md = write_report(df, tmp_path / "images", tmp_path, network={"name": "n", "kind": kind})[
            "report"
        ].read_text()
        assert "w_avg, where every walk starts, is no face but a flat texture" in md
        image = re.search(r"!\[start image: w_avg\]\((.+?)\)", md)[1]
        assert image.endswith("seed0001_step00000.png") and (tmp_path / image).is_file()
    md = write_report(
        df, tmp_path / "images", tmp_path, network={"name": "n", "kind": "stylegan2"}
    )["report"].read_text()
    assert "flat texture" not in md and "start image" not in md


def test_stage_report_reads_the_median_sample_distance(tmp_path):
    import json

    from ganatlas.studies.walk.stages import stage_report

    df = _detections(tmp_path)
    df.to_parquet(tmp_path / "detections.parquet")
    (tmp_path / "network.json").write_text(
        json.dumps({"name": "digiface-dcgan", "kind": "dcgan-embedded"})
    )
    dist = np.linspace(1, 9, 101).astype(np.float32)
    np.savez(
        tmp_path / "w_avg.npz", distances=dist, samples=np.int64(101),
        percentile_levels=np.array([1.0, 50.0, 99.0]), percentiles=np.percentile(dist, [1, 50, 99]),
    )  # fmt: skip
    out = tmp_path / "out"
    stage_report(tmp_path / "detections.parquet", tmp_path / "network.json", tmp_path / "images",
                 out, w_avg_path=tmp_path / "w_avg.npz", gallery_band=0.5, rate_window=7)  # fmt: skip
    md = (out / "report.md").read_text()
    assert "median distance of the 101 w_avg samples to w_avg is 5.00" in md
    assert "closer than 0.50 in distance" in md and "flat texture" in md
    picks = select_gallery(df, 16, 0.5)
    for _, part in picks[picks.role != "start"].groupby("seed"):
        assert (np.diff(np.sort(part.distance)) >= 0.5).all()


def test_figure_axes_say_what_they_show(tmp_path):
    """The by-step plot: no-face points are ticks (detected ones dots) and the rate panel names
    its window, down to a 1-step window; the yield plot's rate axes start at 0 per 1,000."""
    from matplotlib.markers import MarkerStyle

    def marker_vertices(marker: str) -> np.ndarray:
        style = MarkerStyle(marker)
        return style.get_path().transformed(style.get_transform()).vertices

    part = _detections().query("seed == 1")
    out = plot_steps(part, 1, tmp_path / "s.png", green=0.7, window=1)
    assert np.allclose(out["artists"][NO_FACE].get_paths()[0].vertices, marker_vertices("|"))
    assert np.allclose(out["artists"][LOW].get_paths()[0].vertices, marker_vertices("o"))
    rate_axis = out["artists"][NO_FACE].figure.axes[1]
    assert rate_axis.get_ylabel() == "detection rate\n(1-step window)"
    table = yield_by_distance(two_seed_uneven(), bins=4)
    lines = plot_yield_by_distance(table, tmp_path / "y.png", median_distance=2.5)["median_lines"]
    for ax in lines[0].figure.axes:
        assert ax.get_ylim() == (0.0, 1150.0) and ax.get_ylabel() == "faces per\n1,000 images"


def test_gallery_tiles_show_the_score_only_for_detected_low_confidence_faces(tmp_path, monkeypatch):
    """Each tile's title names seed, step and distance; only the "lowest-confidence" tiles carry a
    score (an undetected image has none to show), and a missing image says "unreadable"."""
    df = duplicate_rich_walks()
    for _, r in df.iterrows():
        d = tmp_path / "images" / f"seed{r.seed}" / "shard0"
        d.mkdir(parents=True, exist_ok=True)
        if r.step != 199:  # one picked image is missing
            Image.new("RGB", (8, 8), (r.step, 0, 0)).save(d / r.filename)
    figures = []
    monkeypatch.setattr(report_module, "_save", lambda fig, path: figures.append(fig))
    picks = plot_gallery(df, tmp_path / "images", tmp_path / "m.png", size=10, band=1.0)
    (fig,) = figures
    titles = [ax.get_title() for ax in fig.findobj(matplotlib.axes.Axes) if ax.get_title()]
    assert len(titles) == len(picks)
    expected = []
    for _, r in picks.iterrows():
        label = f"score {r.score:.2f}" if r.role == "low" else ""
        if r.step == 199:
            label = "unreadable"
        expected.append(f"s{r.seed} #{r.step} d={r.distance:.1f}\n{label}")
    assert sorted(titles) == sorted(expected)
    assert sum("score" in t for t in titles) == int((picks.role == "low").sum()) > 0
    assert any(t.endswith("unreadable") for t in titles)
    # three groups (1 start, 5 undetected, 5 low tiles), each one row of (10 + 1) // 2 = 5 tiles
    assert len(fig.findobj(matplotlib.axes.Axes)) == 3 * 5


def test_summary_counts_unreadable_images_per_seed():
    """``errors`` counts the rows whose image could not be read (a message in ``error``); a table
    without the column has none."""
    df = _detections()
    assert (summarize(df).set_index("seed")["errors"] == 0).all()
    df["error"] = None
    df.loc[(df.seed == 2) & (df.step < 3), "error"] = "unreadable image (cannot decode)"
    s = summarize(df).set_index("seed")
    assert s.loc[1, "errors"] == 0 and s.loc[2, "errors"] == 3 and s.loc["all", "errors"] == 3


def test_yield_panels_share_the_distance_axis(tmp_path):
    """The pooled and per-seed panels of the yield figure share one distance axis."""
    table = yield_by_distance(two_seed_uneven(), bins=4)
    lines = plot_yield_by_distance(table, tmp_path / "y.png", median_distance=2.5)["median_lines"]
    axes = lines[0].figure.axes
    assert len(axes) == 3
    assert all(axes[0].get_shared_x_axes().joined(axes[0], ax) for ax in axes[1:])
    assert len({ax.get_xlim() for ax in axes}) == 1

"""The walk study end to end through Snakemake on a tiny config (2 seeds x 40 steps, shards of 20).

One module-scoped run is shared by the checks; rerun semantics are checked with dry runs.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import yaml
from conftest import detector_cfg
from conftest import planned_jobs as planned
from conftest import run_snakemake as snakemake

pytestmark = pytest.mark.slow


def write_config(path: Path, **overrides) -> Path:
    path.write_text(yaml.safe_dump(overrides))
    return path


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("walk")
    out = tmp / "out"
    cfg = write_config(tmp / "override.yaml", outdir=str(out), detector=detector_cfg())
    args = ("--configfile", "tests/configs/tiny.yaml", str(cfg))
    snakemake(*args)
    return {"out": out, "args": args, "tmp": tmp}


def test_outputs_and_consistent_counts(run):
    out = run["out"]
    table = pq.read_table(out / "detections.parquet").to_pandas()
    csv = pd.read_csv(out / "detections.csv")
    summary = pd.read_csv(out / "summary.csv")
    assert len(table) == 80 and len(csv) == 80
    assert list(csv.columns) == ["Filename", "score", "embeddings"]
    assert sorted(table.seed.unique()) == [1, 2] and table.step.tolist() == list(range(40)) * 2
    assert csv.Filename.tolist() == table.filename.tolist()
    np.testing.assert_allclose(csv.score, table.score)
    assert (table.loc[~table.detected, "score"] == 0.0).all()
    all_row = summary[summary.seed == "all"].iloc[0]
    assert int(all_row["images"]) == 80 and int(all_row["detected"]) == int(table.detected.sum())
    for seed in (1, 2):
        row = summary[summary.seed == str(seed)].iloc[0]
        assert int(row["detected"]) == int(table[table.seed == seed].detected.sum())
        rate = 1000.0 * table[table.seed == seed].detected.sum() / 40
        assert float(row["yield_per_1000"]) == pytest.approx(rate, rel=1e-5)
    assert float(all_row["yield_per_1000"]) == pytest.approx(
        1000.0 * table.detected.sum() / 80, rel=1e-5
    )
    ybd = pd.read_csv(out / "yield_by_distance.csv")
    assert ybd.seed.astype(str).unique().tolist() == ["1", "2", "all"]
    pooled = ybd[ybd.seed.astype(str) == "all"].reset_index(drop=True)
    assert pooled["n"].sum() == 80 and pooled["detected"].sum() == table.detected.sum()
    # Ten equal-width bins (lo, hi] from 0 to the largest distance (the first also holds 0).
    edges = np.linspace(0.0, table.distance.max(), 11)
    np.testing.assert_allclose(pooled["distance_lo"], edges[:-1], rtol=1e-5)
    np.testing.assert_allclose(pooled["distance_hi"], edges[1:], rtol=1e-5)
    from scipy.stats import binomtest

    for _, r in ybd.iterrows():  # each row's rate and interval from its own raw rows
        b, d = int(r.bin), table.distance
        rows = table[((d > edges[b]) | (d == 0 if b == 0 else False)) & (d <= edges[b + 1])]
        rows = rows if str(r.seed) == "all" else rows[rows.seed == int(r.seed)]
        assert r.n == len(rows) and r.detected == rows.detected.sum()
        if len(rows):
            rate = 1000.0 * rows.detected.sum() / len(rows)
            assert r.yield_per_1000 == pytest.approx(rate, rel=1e-5)
            ci = binomtest(int(rows.detected.sum()), len(rows)).proportion_ci(method="wilson")
            assert r.ci_low == pytest.approx(1000 * ci.low, rel=1e-5, abs=1e-9)
            assert r.ci_high == pytest.approx(1000 * ci.high, rel=1e-5)
    for seed in ("1", "2", "all"):  # detected-only score statistics beside the all-image ones
        rows = table if seed == "all" else table[table.seed == int(seed)]
        row = summary[summary.seed == seed].iloc[0]
        found = rows[rows.detected].score
        if len(found):
            assert float(row["detected_score_median"]) == pytest.approx(found.median(), rel=1e-5)
            assert float(row["detected_score_p10"]) == pytest.approx(
                np.percentile(found, 10), rel=1e-5
            )
    # report.md names the detector that scored, and the median sample distance to w_avg.
    md = (out / "report.md").read_text().splitlines()
    backend = table.backend.iloc[0]
    assert md[2].startswith(f"Detector: **{backend}** ({table.models.iloc[0]}), det_size ")
    warned = any("not comparable with SCRFD" in line for line in md)
    assert warned == (backend != "insightface")
    w_avg = np.load(out / "w_avg.npz")
    median = float(w_avg["percentiles"][list(w_avg["percentile_levels"]).index(50.0)])
    assert f"w_avg samples to w_avg is {median:.2f}" in "\n".join(md)
    assert "no face but a flat texture" in "\n".join(md)  # the default network is the DCGAN
    for name in (
        "report.md",
        "figures/monsters.png",
        "figures/hist_seed1.png",
        "figures/steps_seed2.png",
        "figures/score_vs_distance.png",
        "yield_by_distance.csv",
        "network.json",
        "w_avg.npz",
    ):
        assert (out / name).is_file(), name
    walk = np.load(out / "walks" / "seed1.npz")
    assert walk["w_out"].shape == (40, 100)
    np.testing.assert_allclose(table[table.seed == 1].distance, walk["distance"], rtol=1e-6)
    assert len(list((out / "images" / "seed2" / "shard1").glob("*.png"))) == 20


def test_rendered_pngs_hold_the_generators_rgb(run):
    """A rendered walk image, read with PIL, is the generator's raw output for that latent
    mapped by NVIDIA's rule (x * 127.5 + 128, clipped, truncated) in RGB order."""
    import torch
    from PIL import Image

    from ganatlas.networks import load_network

    g = load_network("digiface-dcgan")
    walk = np.load(run["out"] / "walks" / "seed1.npz")
    for step, shard in ((5, 0), (33, 1)):
        ws = torch.as_tensor(walk["w_out"][step], dtype=torch.float32)[None, None]
        with torch.no_grad():
            raw = g.synthesis(ws.repeat(1, g.num_ws, 1))[0].numpy().transpose(1, 2, 0)
        expected = (raw * np.float32(127.5) + np.float32(128)).clip(0, 255).astype(np.uint8)
        name = f"seed0001_step{step:05d}.png"
        with Image.open(run["out"] / "images" / "seed1" / f"shard{shard}" / name) as im:
            assert im.mode == "RGB"
            png = np.asarray(im).astype(int)
        # At most 1 level apart (the job and this test may run torch on different thread counts).
        assert np.abs(png - expected).max() <= 1
        assert np.abs(png - expected[..., ::-1]).mean() > 5  # the channels do differ


def test_faces_are_found_along_the_dcgan_walk(run):
    """The DCGAN's mean latent is no face; faces appear as the walk moves out (|z| ~ 10)."""
    if detector_cfg()["backend"] != "insightface":
        pytest.skip("needs the SCRFD model from the shared test assets")
    table = pq.read_table(run["out"] / "detections.parquet").to_pandas()
    assert not table[table.step == 0].detected.any()
    far = table[table.distance > 6]
    assert len(far) > 10 and far.detected.mean() > 0.5


def test_same_config_gives_same_latents_and_images(run):
    tmp = run["tmp"]
    out2 = tmp / "again"
    cfg = write_config(tmp / "again.yaml", outdir=str(out2), detector=detector_cfg())
    snakemake(f"{out2}/images/seed2/shard1", "--configfile", "tests/configs/tiny.yaml", str(cfg))
    a, b = np.load(run["out"] / "walks/seed2.npz"), np.load(out2 / "walks/seed2.npz")
    np.testing.assert_array_equal(a["w_out"], b["w_out"])
    for png in sorted((run["out"] / "images/seed2/shard1").glob("*.png")):
        assert png.read_bytes() == (out2 / "images/seed2/shard1" / png.name).read_bytes()


def test_nothing_to_do_after_a_complete_run(run):
    assert planned(*run["args"]) == Counter()


def test_snakemake_report_contains_the_walk_figures(run):
    html = run["tmp"] / "report.html"
    snakemake("--report", str(html), *run["args"])
    text = html.read_text(errors="replace")
    assert "Walk study" in text
    for name in ("hist_seed1.png", "steps_seed2.png", "yield_by_distance.png", "monsters.png"):
        assert name in text, name
    assert "Detectable faces per 1,000 images" in text  # a caption made it in


def test_adding_a_seed_runs_only_that_seeds_jobs(run):
    extra = write_config(run["tmp"] / "seeds.yaml", seeds=[1, 2, 3])
    jobs = planned(*run["args"], str(extra))
    assert jobs == Counter({"walk": 1, "render": 2, "detect": 2, "merge": 1, "report": 1, "all": 1})


def test_changing_step_size_reruns_walks_and_after(run):
    extra = write_config(run["tmp"] / "step.yaml", step_size=0.2)
    jobs = planned(*run["args"], str(extra))
    assert jobs == Counter({"walk": 2, "render": 4, "detect": 4, "merge": 1, "report": 1, "all": 1})


def test_changing_det_size_reruns_detection_not_rendering(run):
    det = detector_cfg() | {"det_size": 160}
    extra = write_config(run["tmp"] / "det.yaml", detector=det)
    jobs = planned(*run["args"], str(extra))
    assert jobs == Counter({"detect": 4, "merge": 1, "report": 1, "all": 1})


def test_lost_shard_is_redone_alone_and_unreadable_image_is_counted(run):
    """A run killed during detection: one shard and everything after it missing."""
    out = run["out"]
    for name in (
        "detections/seed1/shard1.parquet",
        "detections.parquet",
        "detections.csv",
        "report.md",
    ):
        (out / name).unlink()
    kept = out / "detections/seed2/shard0.parquet"
    mtime = kept.stat().st_mtime_ns
    bad = out / "images/seed1/shard1" / "seed0001_step00025.png"
    bad.write_bytes(b"not a png")
    assert planned(*run["args"]) == Counter({"detect": 1, "merge": 1, "report": 1, "all": 1})
    snakemake(*run["args"])
    table = pq.read_table(out / "detections.parquet").to_pandas()
    assert len(table) == 80
    assert kept.stat().st_mtime_ns == mtime  # finished shards are not redone
    row = table[table.filename == bad.name].iloc[0]
    assert row.error and row.score == 0.0 and not row.detected
    summary = pd.read_csv(out / "summary.csv")
    assert int(summary[summary.seed == "1"].iloc[0]["errors"]) == 1


def test_unknown_network_lists_the_catalogue(tmp_path):
    cfg = write_config(
        tmp_path / "bad.yaml", outdir=str(tmp_path / "o"), network="stylegan-nonexistent"
    )
    proc = snakemake("--configfile", "tests/configs/tiny.yaml", str(cfg), check=False)
    log = (tmp_path / "o/logs/network.log").read_text()
    assert proc.returncode != 0
    assert "stylegan-nonexistent" in log and "digiface-dcgan" in log


def test_config_error_names_key_and_allowed_values(tmp_path):
    cfg = write_config(tmp_path / "bad.yaml", outdir=str(tmp_path / "o"), step_mode="levy")
    proc = snakemake("-n", "--configfile", "tests/configs/tiny.yaml", str(cfg), check=False)
    assert proc.returncode != 0
    assert "config key 'step_mode'" in proc.stderr + proc.stdout
    assert "gaussian, fixed" in proc.stderr + proc.stdout


def test_missing_insightface_pack_names_path(tmp_path):
    cfg = write_config(
        tmp_path / "bad.yaml",
        outdir=str(tmp_path / "o"),
        seeds=[1],
        steps=4,
        shard_size=4,
        detector={"backend": "insightface", "pack": "buffalo_l", "root": str(tmp_path / "ifroot")},
    )
    proc = snakemake("--configfile", "tests/configs/tiny.yaml", str(cfg), check=False)
    assert proc.returncode != 0
    log = (tmp_path / "o/logs/detect/seed1_shard0.log").read_text()
    assert str(tmp_path / "ifroot") in log and "buffalo_l" in log

"""The paths study end to end through Snakemake on the embedded DCGAN (tests/configs/paths_tiny.yaml)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import REPO, planned_jobs, run_snakemake

from ganatlas.faces.embedders import read_distance_csv

TINY = REPO / "tests" / "configs" / "paths_tiny.yaml"


@pytest.fixture(scope="module")
def workflow_run(tmp_path_factory):
    pytest.importorskip("dlib")
    tmp = tmp_path_factory.mktemp("paths")
    over = tmp / "over.yaml"
    over.write_text(yaml.safe_dump({"outdir": str(tmp / "out")}))
    run_snakemake("paths", "--configfile", str(TINY), str(over))
    return tmp / "out" / "paths", over


@pytest.mark.slow
def test_paths_workflow_outputs(workflow_run):
    d, _ = workflow_run
    cfg = yaml.safe_load(TINY.read_text())["paths"]
    for name, keys in cfg["interpolate"]["paths"].items():
        sub = d / "interpolate" / name
        n = (len(keys) - 1) * (cfg["interpolate"]["steps"] - 1) + 1
        frames = pd.read_parquet(sub / "frames.parquet")
        assert frames["frame"].tolist() == list(range(n))
        assert len(list((sub / "frames").glob("*.png"))) == n
        D, meta = read_distance_csv(sub / "distances.csv")
        assert meta == {"embedder": "dlib", "distance": "euclidean", "threshold": "0.6"}
        M = D.to_numpy()
        assert M.shape == (n, n)
        np.testing.assert_allclose(M, M.T, atol=1e-6)
        np.testing.assert_array_equal(np.diag(M), 0.0)
        assert json.loads((sub / "distances.json").read_text())["threshold"] == 0.6
        assert frames["detected"].sum() >= n // 2  # DCGAN faces, dlib at det_size 320
        for fig in ("strip.png", "distances.png", "first_row.png"):
            assert (sub / fig).stat().st_size > 5000
    import imageio.v2 as iio

    reader = iio.get_reader(d / "interpolate" / "tour" / "video.mp4", format="FFMPEG")
    assert reader.count_frames() == 7
    reader.close()
    assert len(iio.mimread(d / "interpolate" / "tour" / "video.gif")) == 7
    assert not (d / "interpolate" / "ab" / "video.mp4").exists()  # a pair: no video (auto)
    cells = pd.read_parquet(d / "planes" / "abc" / "cells.parquet")
    assert len(cells) == 9 and sorted(cells["y"].unique()) == [-0.5, 0.0, 0.5]
    axes = pd.read_parquet(d / "axes" / "axes.parquet")
    assert len(axes) == cfg["axes"]["count"] + 2
    report = (d / "report.md").read_text()
    assert "## Interpolation" in report and "## Planes" in report and "## Basis axes" in report
    assert "Style mixing" not in report  # the DCGAN has no W+
    first = ", ".join(f"{v:.2f}" for v in M[0])
    assert f"First row of the distance matrix: {first}" in report


@pytest.mark.slow
def test_changed_path_reruns_only_that_path(workflow_run, tmp_path):
    _, over = workflow_run
    assert planned_jobs("paths", "--configfile", str(TINY), str(over)) == {}
    changed = yaml.safe_load(over.read_text())
    changed["paths"] = {"interpolate": {"paths": {"ab": ["b", "a"], "tour": ["a", "b", "c"]}}}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(changed))
    jobs = planned_jobs("paths", "--configfile", str(TINY), str(tmp_path / "c.yaml"))
    assert jobs == {"paths_interpolate": 1, "paths_report": 1, "paths": 1}

"""The identity study end to end through Snakemake on the tiny config (slow): targets `search`
and `iterate` on the embedded DCGAN with the offline dlib embedder, a generated target and a
real photo, then a rerun that plans nothing."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import REPO, find_testdata, planned_jobs, run_snakemake

TINY = REPO / "tests" / "configs" / "identity_tiny.yaml"


@pytest.fixture(scope="module")
def workflow_run(tmp_path_factory):
    pytest.importorskip("dlib")
    photo = find_testdata() / "photos" / "obama.jpg"
    if not photo.is_file():
        pytest.skip(f"test photo not found at {photo} (set GANATLAS_TESTDATA)")
    tmp = tmp_path_factory.mktemp("identity")
    out = tmp / "out"
    over = {"outdir": str(out), "detector": {"backend": "dlib"},
            "identity": {"targets": {"gen": "seed:1", "photo": str(photo)}}}  # fmt: skip
    (tmp / "over.yaml").write_text(yaml.safe_dump(over))
    args = ("search", "iterate", "--configfile", str(TINY), str(tmp / "over.yaml"))
    run_snakemake(*args)
    return out / "identity", args


@pytest.mark.slow
def test_search_outputs(workflow_run):
    d, _ = workflow_run
    table = pd.read_csv(d / "search.csv")
    assert sorted(zip(table.target, table.method, strict=True)) == sorted(
        (t, m) for t in ("gen", "photo") for m in ("cma", "dual_annealing", "gradient")
    )
    done = table[table.method != "gradient"]
    assert (done.status == "done").all() and (done.evaluations <= 6).all()
    assert (table[table.method == "gradient"].status == "skipped").all()
    for target in ("gen", "photo"):
        for method in ("cma", "dual_annealing"):
            res = json.loads((d / "search" / target / f"{method}.json").read_text())
            lines = (d / "search" / target / f"{method}.record.jsonl").read_text().splitlines()
            assert len(lines) == 1 + res["evaluations"]
            best = min(json.loads(x)["distance"] for x in lines[1:])
            assert res["best_distance"] == best
            assert np.load(d / "search" / target / f"{method}.npz")["w"].shape == (1, 1, 100)
        for fig in ("convergence", "gallery", "slice"):
            assert (d / "figures" / f"{fig}_{target}.png").stat().st_size > 5000
        grid = np.load(d / "search" / target / "slice.npz")
        assert grid["distance"].shape == (3, 3)
    assert "| target" in (d / "search.md").read_text()


@pytest.mark.slow
def test_iterate_outputs(workflow_run):
    from ganatlas.studies.identity.video import count_frames

    d, _ = workflow_run
    it = d / "iterate"
    table = pd.read_csv(it / "keyfaces.csv")
    assert table.keyface.tolist() == [0, 1, 2, 3] and table.distance_to_start[0] == 0
    z = np.load(it / "keyfaces.npz")["z"]
    assert z.shape == (4, 100)
    assert np.linalg.norm(z[1]) == pytest.approx(10.0, rel=1e-5)  # normalise map: sqrt(z_dim)
    rec = json.loads((it / "recurrence.json").read_text())
    assert rec["kind"] in ("none", "cycle", "fixed_point") and rec["map"] == "normalise"
    assert count_frames(it / "iterate.mp4") == 3 * 3 + 1  # 4 keyfaces, 2 frames between


@pytest.mark.slow
def test_rerun_plans_nothing(workflow_run):
    _, args = workflow_run
    assert sum(planned_jobs(*args).values()) == 0

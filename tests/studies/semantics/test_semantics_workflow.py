"""The semantics study end to end through Snakemake on the tiny config (slow)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import REPO, find_testdata, planned_jobs

from ganatlas.studies.semantics.boundary import (
    load_boundary,
)
from ganatlas.studies.semantics.scoring import (
    planted_direction,
)

TINY = REPO / "tests" / "configs" / "semantics_tiny.yaml"


@pytest.fixture(scope="module")
def workflow_run(tmp_path_factory):
    scrfd = find_testdata() / "models" / "scrfd_500m.onnx"
    for model in (scrfd, find_testdata() / "models" / "emotion.onnx"):
        if not model.is_file():
            pytest.skip(f"test model not found at {model} (set GANATLAS_TESTDATA)")
    tmp = tmp_path_factory.mktemp("semantics")
    out = tmp / "out"
    ext = np.random.default_rng(9).standard_normal((1, 100)).astype(np.float32)
    np.save(tmp / "ext_z.npy", ext / np.linalg.norm(ext))  # InterFaceGAN's layout, built here
    sem = yaml.safe_load(TINY.read_text())["semantics"]
    sem["edit"]["boundary_files"] = [{"name": "ext", "path": str(tmp / "ext_z.npy"), "space": "z"}]
    over = {
        "outdir": str(out),
        "detector": {"backend": "insightface", "det_model": str(scrfd), "det_size": 320},
        "semantics": sem,
    }
    (tmp / "over.yaml").write_text(yaml.safe_dump(over))
    cmd = [sys.executable, "-m", "snakemake", "--cores", "2", "boundaries", "edit",
           "--configfile", str(TINY), str(tmp / "over.yaml")]  # fmt: skip
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-6000:]
    return out / "semantics", sem


@pytest.mark.slow
def test_workflow_writes_every_table_and_figure(workflow_run):
    sem_dir, cfg = workflow_run
    attrs, spaces = cfg["attributes"], ["z", "w"]
    acc = pd.read_csv(sem_dir / "accuracy.csv")
    assert sorted(zip(acc.space, acc.attribute, strict=True)) == sorted(
        (s, a) for s in spaces for a in attrs
    )
    assert (acc.k <= cfg["select"]["k"]).all() and (acc.n_samples == cfg["samples"]).all()
    for s in spaces:
        for a in attrs:
            normal = np.load(sem_dir / "boundaries" / s / f"{a}.npy")
            meta = json.loads((sem_dir / "boundaries" / s / f"{a}.json").read_text())
            assert normal.shape == (1, 100) and abs(np.linalg.norm(normal) - 1) < 1e-5
            assert meta["space"] == s and meta["attribute"] == a
            assert 0.5 <= meta["acc_val"] <= 1 and 0.5 <= meta["acc_all"] <= 1
        m = pd.read_csv(sem_dir / f"boundary_correlation_{s}.csv", index_col=0)
        assert list(m.columns) == attrs and np.allclose(np.diag(m), 1)
    shards = sorted((sem_dir / "samples").glob("shard*.parquet"))
    assert [p.name for p in shards] == ["shard0.parquet", "shard1.parquet"]
    samples = pd.concat([pd.read_parquet(p) for p in shards])
    assert samples["index"].tolist() == list(range(cfg["samples"]))
    assert {"z", "w", "detected", "det_score", *attrs} <= set(samples.columns)
    assert samples.detected.mean() > 0.5  # DCGAN faces are found at det_size 320
    det = samples.detected.to_numpy()
    assert samples.loc[det, "smile"].between(0, 1).all() and samples.loc[~det, "smile"].isna().all()
    assert samples.loc[det, "yaw"].notna().all()
    n_valid = acc.set_index(["space", "attribute"])["n_valid"]
    assert n_valid[("z", "yaw")] == n_valid[("w", "smile")] == det.sum()
    cond = pd.read_csv(sem_dir / "conditional.csv")
    assert len(cond) == 4 and (cond.cos_after.abs() < 1e-6).all()  # 2 conditions x 2 spaces
    edits = pd.read_parquet(sem_dir / "edits" / "z.parquet")
    n_alpha = len(cfg["edit"]["alphas"])
    names = [*attrs, "smile_c_yaw_lin_a"]  # the conditional direction is edited too
    assert list(dict.fromkeys(edits.edited)) == names
    assert len(edits) == len(cfg["edit"]["seeds"]) * len(names) * n_alpha
    assert {f"start_{n}" for n in names} <= set(edits.columns)
    edit_spaces = cfg["edit"]["spaces"]
    assert edit_spaces == ["z", "w", "wp"]
    lin = pd.read_csv(sem_dir / "linearity.csv")
    assert len(lin) == (len(edit_spaces) * len(names) + 1) * len(attrs)  # + the external file
    ext = pd.read_parquet(sem_dir / "edits" / "external" / "ext.parquet")
    assert set(ext.edited) == {"ext"} and len(ext) == len(cfg["edit"]["seeds"]) * n_alpha
    dis = pd.read_csv(sem_dir / "disentanglement.csv")
    assert {"by_own", "by_spread", "corr"} <= set(dis.columns) and len(dis) == len(lin)
    # W+ over every row of a one-row network is the W edit: same scores.
    wp, w = (pd.read_parquet(sem_dir / "edits" / f"{s}.parquet") for s in ("wp", "w"))
    np.testing.assert_allclose(wp[attrs].to_numpy(float), w[attrs].to_numpy(float), rtol=1e-5)
    for s in edit_spaces:
        eff = pd.read_csv(sem_dir / f"effect_correlation_{s}.csv", index_col=0)
        extra = ["ext"] if s == "z" else []  # the external file is a Z boundary
        assert list(eff.index) == names + extra and list(eff.columns) == attrs
    figures = {p.name for p in (sem_dir / "figures").glob("*.png")}
    assert figures == {
        "boundary_correlation.png", "score_correlation.png", "disentanglement.png",
        *(f"linearity_{s}.png" for s in edit_spaces),
        *(f"grid_{s}_{a}.png" for s in edit_spaces for a in names), "grid_external_ext.png",
    }  # fmt: skip
    report = (sem_dir / "report.md").read_text()
    for name in figures:
        assert f"figures/{name}" in report
    assert "| space" in report and "acc_val" in report and "acc_remaining" in report
    assert "Protocol **ganatlas**" in report


@pytest.mark.slow
def test_workflow_planted_scores_and_edit_slope(workflow_run):
    """The z-space planted attribute's edit slope equals the cosine of boundary and truth."""
    sem_dir, cfg = workflow_run
    spec = next(s for s in cfg["scorers"] if s["type"] == "planted")
    name = spec["name"]
    normal = load_boundary(sem_dir / "boundaries" / "z" / f"{name}.npy")
    cos = normal @ planted_direction(100, spec["seed"])
    lin = pd.read_csv(sem_dir / "linearity.csv")
    row = lin[(lin.space == "z") & (lin.edited == name) & (lin.scored == name)].iloc[0]
    assert row.slope == pytest.approx(cos, rel=1e-4)
    assert cos > 0.6
    # The real scorers respond to their own boundaries: editing along +n raises the score.
    diag = lin[(lin.space == "z") & (lin.edited == lin.scored)].set_index("scored")
    assert diag.loc["yaw", "slope"] > 0 and diag.loc["smile", "slope"] > 0


def test_rules_file_is_snakefmt_clean():
    snakefmt = Path(sys.executable).with_name("snakefmt")
    if not snakefmt.exists():
        pytest.skip("snakefmt not installed")
    proc = subprocess.run([str(snakefmt), "--check", "rules/semantics.smk"], cwd=REPO,
                          capture_output=True, text=True)  # fmt: skip
    assert proc.returncode == 0, proc.stderr


def _planned(over: dict, tmp) -> dict:
    """Jobs a dry run of ``boundaries edit`` would run with ``over`` added to the test config."""
    sem_dir, sem = tmp
    if "semantics" in over:
        over = {**over, "semantics": {**over["semantics"], "edit": {
            **over["semantics"]["edit"], "boundary_files": sem["edit"]["boundary_files"]}}}  # fmt: skip
    out = sem_dir.parent
    path = out.parent / "extra.yaml"
    path.write_text(yaml.safe_dump(over))
    return planned_jobs(
        "boundaries", "edit", "--configfile", str(TINY), str(out.parent / "over.yaml"), str(path)
    )


@pytest.mark.slow
def test_changed_settings_rerun_exactly_their_jobs(workflow_run):
    assert _planned({}, workflow_run) == {}
    svm = _planned(
        {"semantics": yaml.safe_load(TINY.read_text())["semantics"] | {"svm": {"C": 0.5}}},
        workflow_run,
    )
    assert "semantics_sample" not in svm and svm["semantics_boundaries"] == 1
    assert svm["semantics_edit"] == 3 and "semantics_edit_external" not in svm
    sem = yaml.safe_load(TINY.read_text())["semantics"]
    sem["edit"] = sem["edit"] | {"alphas": [-1, 0, 1]}
    edits = _planned({"semantics": sem}, workflow_run)
    assert "semantics_boundaries" not in edits and "semantics_sample" not in edits
    assert edits["semantics_edit"] == 3 and edits["semantics_report"] == 1
    assert edits["semantics_edit_external"] == 1

"""Resume without surprises: damaged outputs are redone, the network file is pinned by its sha256,
and a run killed with SIGKILL continues after ``--unlock``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from conftest import REPO, planned_jobs, run_snakemake

from ganatlas.networks import FAMILIES
from ganatlas.networks.persistence import save_network_pickle
from ganatlas.networks.resolve import (
    NetworkChangedError,
    describe_network,
    load_from_info,
    local_network_file,
)
from ganatlas.render import image_name
from ganatlas.studies.walk.stages import repair_outputs, stage_merge

SNAKEMAKE = [sys.executable, "-m", "snakemake", "--cores", "2"]


def _shard_table(seed: int, steps: range) -> pa.Table:
    return pa.table({"seed": [seed] * len(steps), "step": list(steps)})


def _outputs(tmp_path: Path) -> Path:
    """seeds [1], steps 6, shards of 3: both image folders and both detection shards."""
    out = tmp_path / "out"
    for shard, steps in enumerate((range(0, 3), range(3, 6))):
        d = out / "images" / "seed1" / f"shard{shard}"
        d.mkdir(parents=True)
        for s in steps:
            (d / image_name(1, s)).write_bytes(b"png")
        t = out / "detections" / "seed1" / f"shard{shard}.parquet"
        t.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(_shard_table(1, steps), t)
    return out


def test_damaged_outputs_are_removed_and_intact_ones_kept(tmp_path):
    out = _outputs(tmp_path)
    assert repair_outputs(out, [1], 6, 3, log=lambda m: None) == []
    (out / "images/seed1/shard1" / image_name(1, 4)).unlink()
    shard0 = out / "detections/seed1/shard0.parquet"
    shard0.write_bytes(shard0.read_bytes()[:40])  # truncated
    pq.write_table(_shard_table(1, range(3, 5)), out / "detections/seed1/shard1.parquet")  # short
    messages: list[str] = []
    removed = repair_outputs(out, [1], 6, 3, log=messages.append)
    assert sorted(p.relative_to(out).as_posix() for p in removed) == [
        "detections/seed1/shard0.parquet",
        "detections/seed1/shard1.parquet",
        "images/seed1/shard1",
    ]
    assert (out / "images/seed1/shard0").is_dir()
    assert any("1 images missing (seed0001_step00004.png" in m for m in messages)
    assert any("2 rows, not 3" in m for m in messages)


def test_merge_checks_every_shard_before_writing(tmp_path):
    out = _outputs(tmp_path)
    merged, csv = out / "detections.parquet", out / "detections.csv"
    merged.write_text("previous")
    csv.write_text("previous")
    shard1 = out / "detections/seed1/shard1.parquet"
    shard1.write_bytes(shard1.read_bytes()[:30])
    shards = sorted((out / "detections/seed1").glob("*.parquet"))
    with pytest.raises(ValueError, match=r"1 of 2 detection shards cannot be read.*shard1.parquet"):
        stage_merge(shards, merged, csv)
    assert merged.read_text() == "previous" and csv.read_text() == "previous"


def _double_weights(module) -> None:
    for p in module.parameters(recurse=False):
        p.data.mul_(2)


def test_a_changed_network_file_is_refused_at_load(tmp_path):
    path = tmp_path / "g.pkl"
    save_network_pickle(path, G=FAMILIES["stylegan2"].small())
    info = describe_network(str(path))
    assert local_network_file(str(path)) == [str(path)]
    assert (
        local_network_file("digiface-dcgan") == [] and local_network_file("https://x/y.pkl") == []
    )
    load_from_info(info)  # unchanged: loads
    save_network_pickle(path, G=FAMILIES["stylegan2"].small().apply(_double_weights))
    with pytest.raises(NetworkChangedError, match=r"g.pkl changed since network.json was written"):
        load_from_info(info)
    path.unlink()
    with pytest.raises(NetworkChangedError, match="is gone"):
        load_from_info(info)


@pytest.mark.slow
def test_touching_the_local_network_file_reruns_the_network_rule(tmp_path):
    net = tmp_path / "g.pkl"
    save_network_pickle(net, G=FAMILIES["stylegan2"].small())
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({"outdir": str(tmp_path / "o"), "network": str(net)}))
    args = ("--configfile", "tests/configs/tiny.yaml", str(cfg))
    run_snakemake(str(tmp_path / "o/network.json"), *args)
    assert planned_jobs(str(tmp_path / "o/network.json"), *args) == Counter()
    # Same content, newer mtime: Snakemake compares small files' checksums, nothing reruns.
    later = time.time() + 5
    os.utime(net, (later, later))
    assert planned_jobs(str(tmp_path / "o/network.json"), *args) == Counter()
    # New weights in place: the network rule (and so everything after it) runs again.
    save_network_pickle(net, G=FAMILIES["stylegan2"].small().apply(_double_weights))
    os.utime(net, (later + 5, later + 5))
    assert planned_jobs(str(tmp_path / "o/network.json"), *args) == Counter({"network": 1})


@pytest.mark.slow
def test_a_run_killed_with_sigkill_resumes_with_the_same_command(tmp_path):
    """After kill -9 of Snakemake itself, the same command finishes the run (no --unlock)."""
    out = tmp_path / "o"
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({"outdir": str(out), "seeds": [1], "steps": 60, "shard_size": 20,
                                   "detector": {"backend": "dlib"}}))  # fmt: skip
    args = ("--configfile", "tests/configs/tiny.yaml", str(cfg))
    proc = subprocess.Popen([*SNAKEMAKE, *args], cwd=REPO, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
    deadline = time.time() + 300
    while not list((out / "images/seed1").glob("shard*")) and time.time() < deadline:
        time.sleep(0.2)
    assert proc.poll() is None, "the run finished before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    again = run_snakemake(*args)  # no LockException: the killed run's locks are removed
    assert "removed 2 stale Snakemake lock(s)" in again.stderr
    table = pd.read_parquet(out / "detections.parquet")
    assert table.step.tolist() == list(range(60))
    assert not [p for p in (out / "images/seed1").iterdir() if ".tmp" in p.name]
    np.testing.assert_array_equal(
        sorted(p.name for p in (out / "images/seed1/shard2").glob("*.png")),
        [image_name(1, s) for s in range(40, 60)],
    )


def test_locks_are_kept_while_another_snakemake_runs_here(tmp_path):
    from ganatlas.smk import remove_stale_locks

    locks = tmp_path / ".snakemake" / "locks"
    locks.mkdir(parents=True)
    (locks / "0.input.lock").write_text("x")
    other = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(30)", "snakemake"], cwd=tmp_path
    )
    try:
        time.sleep(0.2)
        assert remove_stale_locks(tmp_path) == []
        assert (locks / "0.input.lock").is_file()
    finally:
        other.kill()
        other.wait()
    messages: list[str] = []
    assert remove_stale_locks(tmp_path, log=messages.append) == [locks / "0.input.lock"]
    assert not (locks / "0.input.lock").exists() and "removed 1 stale" in messages[0]

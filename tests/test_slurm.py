"""The walk study through `snakemake --profile profiles/slurm` on a real single-node Slurm cluster.

CI starts the cluster with scripts/slurm/start_cluster.sh (root); elsewhere these tests skip.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter

import pandas as pd
import pytest
import yaml
from conftest import REPO, detector_cfg

pytestmark = [pytest.mark.slurm, pytest.mark.slow]
SUBMITTED = re.compile(
    r"Job \d+ has been submitted with SLURM jobid (\d+) \(log: [^)]*rule_(\w+?)/"
)


def cluster_up() -> str | None:
    """None when an idle/mixed Slurm node answers, else the reason to skip."""
    if shutil.which("sinfo") is None:
        return "Slurm is not installed (sinfo missing); start a test cluster: sudo bash scripts/slurm/start_cluster.sh"
    try:
        out = subprocess.run(
            ["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, timeout=20
        )
    except subprocess.TimeoutExpired:
        return "sinfo timed out: no Slurm controller answers"
    if out.returncode != 0 or not re.search(r"idle|mixed|allocated", out.stdout):
        state = out.stdout.strip() or out.stderr.strip()
        return f"no Slurm node is up (sinfo: {state}); run scripts/slurm/start_cluster.sh"
    return None


@pytest.fixture(scope="module")
def cluster():
    reason = cluster_up()
    if reason:
        pytest.skip(reason)


def run_snakemake(*args: str, tmp) -> str:
    cmd = [sys.executable, "-m", "snakemake", *args]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=900)
    out = proc.stdout + proc.stderr
    if proc.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed:\n{out[-6000:]}")
    return out


def submitted(output: str) -> list[tuple[str, str]]:
    """(slurm job id, rule) for every job the plugin submitted."""
    return [(m[1], m[2]) for m in SUBMITTED.finditer(output)]


def gres_of(jobid: str) -> str:
    out = subprocess.run(["scontrol", "show", "job", jobid], capture_output=True, text=True).stdout
    m = re.search(r"TresPerJob=(\S+)", out)
    return m[1] if m else ""


@pytest.fixture(scope="module")
def slurm_run(cluster, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("slurm")
    det = detector_cfg()
    cfg = tmp / "slurm.yaml"
    cfg.write_text(yaml.safe_dump({"outdir": str(tmp / "slurm_out"), "detector": det}))
    profile = ("--profile", "profiles/slurm", "--slurm-logdir", str(tmp / "slurm_logs"),
               "--slurm-init-seconds-before-status-checks", "2")  # fmt: skip
    out = run_snakemake(*profile, "--configfile", "tests/configs/tiny.yaml", str(cfg), tmp=tmp)
    local_cfg = tmp / "local.yaml"
    local_cfg.write_text(yaml.safe_dump({"outdir": str(tmp / "local_out"), "detector": det}))
    run_snakemake(
        "--cores", "2", "--configfile", "tests/configs/tiny.yaml", str(local_cfg), tmp=tmp
    )
    return {"tmp": tmp, "out": out, "cfg": cfg, "profile": profile}


def test_every_job_ran_as_a_slurm_job(slurm_run):
    jobs = submitted(slurm_run["out"])
    by_rule = Counter(rule for _, rule in jobs)
    # network is a localrule (may download); `all` is local too: everything else went to Slurm.
    assert by_rule == Counter(
        {"w_avg": 1, "walk": 2, "render": 4, "detect": 4, "merge": 1, "report": 1}
    )
    assert "localrule network:" in slurm_run["out"]  # downloads stay on the submit host
    logs = list((slurm_run["tmp"] / "slurm_logs").rglob("*.log"))
    assert len(logs) == len(jobs)


def test_gpu_jobs_requested_a_gpu_and_used_the_assigned_one(slurm_run):
    for jobid, rule in submitted(slurm_run["out"]):
        gres = gres_of(jobid)
        if rule in ("render", "detect"):
            assert "gpu:1" in gres, (rule, jobid, gres)
        else:
            assert "gpu" not in gres, (rule, jobid, gres)
    for rule in ("render", "detect"):
        log = (slurm_run["tmp"] / f"slurm_out/logs/{rule}/seed1_shard0.log").read_text()
        assert re.search(r"CUDA_VISIBLE_DEVICES=\d", log), (rule, log)


def test_outputs_equal_a_local_run(slurm_run):
    tmp = slurm_run["tmp"]
    for name in ("detections.csv", "summary.csv"):
        a = pd.read_csv(tmp / "slurm_out" / name)
        b = pd.read_csv(tmp / "local_out" / name)
        pd.testing.assert_frame_equal(a, b)


def test_adding_a_seed_submits_only_its_jobs(slurm_run):
    extra = slurm_run["tmp"] / "seeds.yaml"
    extra.write_text(yaml.safe_dump({"seeds": [1, 2, 3]}))
    out = run_snakemake(
        *slurm_run["profile"], "--configfile", "tests/configs/tiny.yaml", str(slurm_run["cfg"]),
        str(extra), tmp=slurm_run["tmp"],
    )  # fmt: skip
    by_rule = Counter(rule for _, rule in submitted(out))
    assert by_rule == Counter({"walk": 1, "render": 2, "detect": 2, "merge": 1, "report": 1})
    summary = pd.read_csv(slurm_run["tmp"] / "slurm_out/summary.csv")
    assert summary.seed.astype(str).tolist() == ["1", "2", "3", "all"]

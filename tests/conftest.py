"""Shared fixtures: the repository root and the offline test assets (../shared/testdata)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def find_testdata() -> Path:
    """``$GANATLAS_TESTDATA`` or ``<repo>/../shared/testdata``."""
    return Path(os.environ.get("GANATLAS_TESTDATA", REPO.parent / "shared" / "testdata"))


def load_module(name: str, path: Path):
    """Import the file ``path`` as module ``name``, once (tests/ is no package: helper files and
    reference recipes are loaded this way; dataclasses need the module in sys.modules)."""
    import importlib.util
    import sys

    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def run_snakemake(*args: str, check: bool = True, timeout: float = 900):
    """``snakemake --cores 2 ARGS`` in the repository; AssertionError with its output when it fails
    and ``check``. Returns the CompletedProcess."""
    import subprocess
    import sys

    cmd = [sys.executable, "-m", "snakemake", "--cores", "2", *args]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(
            f"{' '.join(cmd)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}"
        )
    return proc


def planned_jobs(*args: str):
    """Jobs a dry run would execute, by rule: a Counter parsed from Snakemake's job-stats table."""
    import re
    from collections import Counter

    out = run_snakemake("-n", *args).stdout
    table = out.split("Job stats:", 1)[1] if "Job stats:" in out else ""
    return Counter(
        {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M) if m[1] != "total"}
    )


def detector_cfg() -> dict:
    """The real SCRFD from the shared test assets when present, else the download-free dlib backend."""
    scrfd = find_testdata() / "models" / "scrfd_500m.onnx"
    if scrfd.is_file():
        return {"backend": "insightface", "det_model": str(scrfd), "det_size": 320}
    return {"backend": "dlib"}


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture(scope="session")
def testdata() -> Path:
    """The shared test assets folder; tests that need it skip when it is absent (a fresh clone)."""
    path = find_testdata()
    if not (path / "models" / "scrfd_500m.onnx").is_file():
        pytest.skip(f"test assets not found at {path} (set GANATLAS_TESTDATA to the folder)")
    return path


@pytest.fixture(scope="module")
def dcgan():
    """The embedded DigiFace-1M DCGAN (skips when gan-face-generate's weights are absent)."""
    from ganatlas.networks import load_network

    try:
        return load_network("digiface-dcgan")
    except ImportError as exc:
        pytest.skip(f"embedded DCGAN weights not installed: {exc}")

"""A regular (non-editable) install carries everything a run needs: the schema ships as package data."""

from __future__ import annotations

import subprocess
import sys
import zipfile

import pytest
from conftest import REPO


def test_wheel_contains_the_schema_and_every_subpackage(tmp_path):
    pytest.importorskip("setuptools", reason="building the wheel needs setuptools in this venv")
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(tmp_path), str(REPO)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    (wheel,) = tmp_path.glob("ganatlas-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "ganatlas/schema/config.schema.yaml" in names
    for pkg in ("networks", "faces", "attributes", "studies", "studies/walk", "studies/semantics"):
        assert f"ganatlas/{pkg}/__init__.py" in names, pkg
    assert not any(n.startswith(("tests/", "workflow/")) for n in names)

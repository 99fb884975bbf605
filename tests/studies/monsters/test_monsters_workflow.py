"""The monsters study end to end through Snakemake on the tiny config (slow)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import REPO

TINY = REPO / "tests" / "configs" / "monsters_tiny.yaml"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    from ganatlas.faces.mtcnn import weights_present

    if not weights_present():
        pytest.skip("MTCNN weights not installed (pip install --no-deps facenet-pytorch==2.6.0)")
    tmp = tmp_path_factory.mktemp("monsters")
    out = tmp / "out"
    (tmp / "over.yaml").write_text(yaml.safe_dump({"outdir": str(out)}))
    cmd = [sys.executable, "-m", "snakemake", "--cores", "2", "monsters",
           "--configfile", str(TINY), str(tmp / "over.yaml")]  # fmt: skip
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-6000:]
    return out / "monsters"


@pytest.mark.slow
def test_radial_tables_and_comparison(run):
    radial = pd.read_parquet(run / "radial" / "net0_w.parquet")
    assert len(radial) == 8 * 4 and set(radial["radius_index"]) == {0, 1, 2, 3}
    assert radial["backend"].eq("mtcnn").all()
    at0 = radial[radial["radius_index"] == 0]
    assert at0["detected"].nunique() == 1  # one image at the centre, shared by every direction
    w = np.stack(radial["w"])
    with np.load(run.parent / "w_avg.npz") as f:
        dist = np.linalg.norm(w - f["w_avg"], axis=1)
        unit = np.percentile(f["distances"], 50)
    assert np.allclose(dist, radial["radius"] * unit, rtol=1e-4, atol=1e-4)
    det = radial[radial["detected"]]
    assert det["embedding"].map(len).eq(128).all()  # dlib descriptors on MTCNN's boxes
    curves = pd.read_csv(run / "radial_curves.csv")
    assert set(zip(curves.net, curves.space, strict=True)) == {
        (n, s) for n in ("net0", "net1") for s in ("w", "z")
    }
    assert (curves["n"] == 8).all()
    assert (curves["ci_low"] <= curves["yield"]).all() and (
        curves["yield"] <= curves["ci_high"]
    ).all()
    radii = pd.read_csv(run / "monster_radii.csv")
    assert set(radii["network"]) == {"digiface-dcgan", "tiny-random"}
    for png in (
        "radial_yield",
        "radial_score",
        "boundary_strip",
        "embedding_map",
        "identity_drift",
    ):
        assert (run / "figures" / f"{png}.png").stat().st_size > 5000


@pytest.mark.slow
def test_boundary_map_and_report(run):
    meta = json.loads((run / "boundary" / "boundary.json").read_text())
    assert meta["n_samples"] == 2 * 20 + 2 * 8 * 4
    assert 0 <= meta["acc_val"] <= 1 and meta["n_val"] == round(0.3 * meta["n_samples"])
    normal = np.load(run / "boundary" / "normal.npy")
    assert normal.shape == (1, 100) and abs(np.linalg.norm(normal) - 1) < 1e-5
    strip = pd.read_csv(run / "boundary_strip.csv")
    assert len(strip) == 5 and strip["decision"].is_monotonic_decreasing
    emb = pd.read_parquet(run / "embeddings.parquet")
    walk = pd.read_parquet(run.parent / "detections.parquet")
    radial = pd.concat([pd.read_parquet(run / "radial" / f"net0_{s}.parquet") for s in "wz"])
    assert (emb["source"] == "walk").sum() == walk["detected"].sum()
    assert (emb["source"] != "walk").sum() == radial["detected"].sum()
    ids = pd.read_csv(run / "identities.csv")
    assert list(ids["seed"]) == [1, 2]
    drift = pd.read_csv(run / "drift.csv")
    first = drift.groupby("seed")["drift"].first()
    assert (first == 0).all()  # the first face is at distance 0 from itself
    report = (run / "report.md").read_text()
    assert "Detector: **mtcnn**" in report and "not SCRFD confidences" in report
    assert "| digiface-dcgan | W | 8 |" in report and "tiny-random" in report
    # tiny-random's mapping normalises z (as StyleGAN's): its Z rows are flagged, the DCGAN's not
    assert "**Z rows of tiny-random are not distances.**" in report
    radii = pd.read_csv(run / "monster_radii.csv").set_index(["network", "space"])["z_scale_free"]
    assert radii.to_dict() == {("digiface-dcgan", "w"): False, ("digiface-dcgan", "z"): False,
                               ("tiny-random", "w"): False, ("tiny-random", "z"): True}  # fmt: skip

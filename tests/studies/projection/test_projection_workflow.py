"""The projection study end to end through Snakemake on the tiny config (slow): two photos, a
photo without a face (an error row), one generated face."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import REPO, find_testdata, planned_jobs, run_snakemake
from PIL import Image

TINY = REPO / "tests" / "configs" / "projection_tiny.yaml"


@pytest.fixture(scope="module")
def workflow_run(tmp_path_factory):
    pytest.importorskip("dlib")
    photos = [find_testdata() / "photos" / f"{n}.jpg" for n in ("obama", "rose_leslie2")]
    if not all(p.is_file() for p in photos):
        pytest.skip(f"test photos not found under {find_testdata()} (set GANATLAS_TESTDATA)")
    tmp = tmp_path_factory.mktemp("projection")
    noise = np.random.default_rng(0).integers(0, 256, (90, 120, 3), dtype=np.uint8)
    Image.fromarray(noise).save(tmp / "noface.png")
    over = {"outdir": str(tmp / "out"),
            "projection": {**yaml.safe_load(TINY.read_text())["projection"],
                           "photos": [*map(str, photos), str(tmp / "noface.png")]}}  # fmt: skip
    (tmp / "over.yaml").write_text(yaml.safe_dump(over))
    args = ("project", "--configfile", str(TINY), str(tmp / "over.yaml"))
    run_snakemake(*args)
    return tmp / "out", args


@pytest.mark.slow
def test_every_item_gets_its_outputs(workflow_run):
    from ganatlas.networks import load_network
    from ganatlas.render import synthesize

    out, _ = workflow_run
    g = load_network("tiny-random")
    for item in ("obama", "rose_leslie2", "synthetic0000"):
        d = out / "projection" / "items" / item
        w = np.load(d / "projected_w.npz")["w"]
        assert w.shape == (1, g.num_ws, g.w_dim) and w.dtype == np.float32
        proj = np.asarray(Image.open(d / "proj.png"))
        np.testing.assert_array_equal(
            proj, synthesize(g, w)[0]
        )  # re-rendering the npz gives proj.png
        assert np.asarray(Image.open(d / "compare.png")).shape == (32, 64, 3)
        assert (d / "losses.png").stat().st_size > 0
        hist = np.load(d / "history.npz")
        assert len(hist["loss"]) == 20 and hist["lr"][0] == 0.0
    al = json.loads((out / "projection/items/obama/alignment.json").read_text())
    assert al["aligned"] and al["backend"] == "dlib" and np.shape(al["matrix"]) == (2, 3)
    log = (out / "logs/projection/obama.log").read_text()
    assert "step 20/20" in log and "ETA" in log


@pytest.mark.slow
def test_no_face_is_an_error_row_and_tables_compare_real_and_synthetic(workflow_run):
    out, args = workflow_run
    prj = out / "projection"
    files = sorted(p.name for p in (prj / "items/noface").iterdir() if not p.name.startswith("."))
    assert files == ["metrics.json"]
    m = pd.read_csv(prj / "metrics.csv").set_index("item")
    assert m.loc["noface", "error"].startswith("no face")
    assert m.loc[["obama", "rose_leslie2", "synthetic0000"], "error"].isna().all()
    assert (m.loc[["obama", "rose_leslie2"], "psnr"] > 5).all()
    assert np.isfinite(m.loc["synthetic0000", "dist_true_w"])
    lat = pd.read_csv(prj / "latents.csv")
    n = lat[lat.quantity == "dist_w_avg"].set_index("kind")["n"]
    assert n.to_dict() == {"real": 2, "synthetic": 1}
    assert (prj / "figures/latents_real_vs_synthetic.png").stat().st_size > 0
    assert "noface: no face" in (prj / "report.md").read_text()
    assert sum(planned_jobs(*args).values()) == 0  # nothing left to do

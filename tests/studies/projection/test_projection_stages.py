"""Stage helpers: latent statistics of a projection, the MP4 of an optimisation, error rows."""

import json

import numpy as np
import pytest

from ganatlas.studies.projection.stages import latent_row, mean_ci, write_video


def test_latent_row_in_w_and_w_plus():
    w_avg = np.zeros(4)
    w = np.tile([3.0, 4.0, 0.0, 0.0], (3, 1))  # W: every row the same, |row - w_avg| = 5
    assert latent_row(w, w_avg) == {"dist_w_avg": 5.0, "norm": 5.0, "layer_spread": 0.0}
    wp = np.array([[1.0, 0, 0, 0], [-1.0, 0, 0, 0]])  # mean row 0, each row 1 from it
    assert latent_row(wp, w_avg) == {"dist_w_avg": 1.0, "norm": 0.0, "layer_spread": 1.0}


def test_mean_ci():
    m, lo, hi = mean_ci(np.array([1.0, 3.0, np.nan]))
    assert m == 2.0 and hi - m == pytest.approx(1.96 * np.std([1, 3], ddof=1) / np.sqrt(2))
    assert np.isnan(mean_ci(np.array([1.0]))[1]) and np.isnan(mean_ci(np.array([]))[0])


def test_video_of_kept_frames(tmp_path):
    pytest.importorskip("imageio_ffmpeg")
    import imageio.v2 as imageio

    from ganatlas.networks.tiny import TinyGenerator

    g = TinyGenerator(img_resolution=16)
    frames = np.random.default_rng(0).normal(size=(3, g.num_ws, g.w_dim)).astype(np.float32)
    write_video(g, frames, tmp_path / "p.mp4", "cpu")
    got = imageio.mimread(tmp_path / "p.mp4")
    assert len(got) == 3 and got[0].shape == (16, 16, 3)


@pytest.mark.slow  # loads dlib's three models (about 10 s on a busy CPU)
def test_photo_without_a_face_is_an_error_row(tmp_path):
    pytest.importorskip("dlib")
    from PIL import Image

    from ganatlas.networks.resolve import describe_network
    from ganatlas.studies.projection.settings import PROJECT_KEYS, projection_config, rule_params
    from ganatlas.studies.projection.stages import stage_project

    info = tmp_path / "network.json"
    info.write_text(json.dumps(describe_network("tiny-random")))
    photo = tmp_path / "grey.png"
    Image.fromarray(np.full((80, 80, 3), 128, np.uint8)).save(photo)
    prj = rule_params(projection_config({"projection": {"steps": 2}}), *PROJECT_KEYS)
    row = stage_project(info, prj, "grey", str(photo), tmp_path / "out")
    assert row["error"].startswith("no face") and row["kind"] == "real"
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["metrics.json"]
    assert json.loads((tmp_path / "out" / "metrics.json").read_text())["error"] == row["error"]


@pytest.mark.slow  # loads dlib's models
def test_identity_row_with_the_offline_dlib_embedder():
    pytest.importorskip("dlib")
    from conftest import find_testdata

    from ganatlas.studies.projection.stages import identity_row, read_rgb

    photos = find_testdata() / "photos"
    if not (photos / "obama.jpg").is_file():
        pytest.skip(f"test photos not found under {photos}")
    obama, obama2, biden = (read_rgb(photos / f"{n}.jpg") for n in ("obama", "obama2", "biden2"))
    same = identity_row({"name": "dlib", "det_size": 640}, obama, obama2)
    other = identity_row({"name": "dlib", "det_size": 640}, obama, biden)
    assert same["identity_embedder"] == "dlib" and same["identity_metric"] == "euclidean"
    assert same["same_person"] and not other["same_person"]
    assert same["identity_distance"] < 0.6 < other["identity_distance"]
    # crop auto: an image without a face is embedded whole (ganatlas.faces.embedders); it is
    # never the same person, and crop detect gives no distance at all
    blank = np.full((64, 64, 3), 128, np.uint8)
    assert identity_row({"name": "dlib"}, obama, blank)["same_person"] is False
    none = identity_row({"name": "dlib", "crop": "detect"}, obama, blank)
    assert none["identity_distance"] is None and none["same_person"] is None

"""The identity stages on the embedded DCGAN with the offline dlib embedder: a real photo as
target, resume of a stage from its record, and the bad-input messages."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import find_testdata

from ganatlas.faces.backends import make_backend
from ganatlas.studies.identity.embed import build_embedder, embed_photo, embed_rgb
from ganatlas.studies.identity.record import read_record
from ganatlas.studies.identity.settings import identity_config
from ganatlas.studies.identity.stages import make_embedder, render_z, stage_search, stage_target

PHOTOS = find_testdata() / "photos"
# dlib model loading and HOG detection take seconds per test on a 2-core machine
pytestmark = pytest.mark.slow


def settings(**over) -> dict:
    ident = {"search": {"budget": 5, "cma": {"dim": 4, "pca_samples": 200}}}
    sec = identity_config({"identity": ident, "detector": {"backend": "dlib"}})
    sec.update(over)
    return sec


@pytest.fixture(scope="module")
def info(tmp_path_factory):
    pytest.importorskip("dlib")
    from ganatlas.networks.resolve import describe_network

    try:
        desc = describe_network("digiface-dcgan")
    except ImportError as exc:
        pytest.skip(f"embedded DCGAN weights not installed: {exc}")
    path = tmp_path_factory.mktemp("net") / "network.json"
    path.write_text(json.dumps(desc))
    return path


@pytest.fixture(scope="module")
def photo_target(info, tmp_path_factory):
    if not (PHOTOS / "obama.jpg").is_file():
        pytest.skip(f"test photos not found at {PHOTOS}")
    tmp = tmp_path_factory.mktemp("target")
    p = settings(target={"kind": "photo", "value": str(PHOTOS / "obama.jpg")})
    stage_target(info, p, tmp / "t.npz", tmp / "t.png")
    return tmp / "t.npz"


def test_real_photo_target_best_so_far_decreases(info, photo_target, tmp_path):
    """dual_annealing towards obama.jpg with dlib: 12 real evaluations; the best-so-far distance falls, and
    the recorded best is the dlib distance of its face measured again from the saved latent."""
    from ganatlas.networks.resolve import load_from_info

    p = settings(require_face=False)  # dlib embeds the whole image where HOG finds no face
    p["search"]["budget"] = 12
    res = stage_search(info, p, "dual_annealing", photo_target, tmp_path / "r.jsonl", tmp_path / "r.json",
                       tmp_path / "r.npz")  # fmt: skip
    _, rows = read_record(tmp_path / "r.jsonl")
    d = np.array([r["distance"] for r in rows])
    best = np.minimum.accumulate(d)
    assert len(rows) == 12 and res["evaluations"] == 12
    assert np.all(np.diff(best) <= 0) and best[-1] < best[0]
    assert 0.3 < res["best_distance"] < 1.2  # a DCGAN face vs a photo: dlib's "different" range
    g = load_from_info(info)
    w = np.load(tmp_path / "r.npz")["w"]
    assert w.shape == (1, g.num_ws, g.w_dim)  # NVIDIA's projected_w layout
    emb = make_embedder(p, None)
    img = render_z(g, w[0, 0].astype(np.float64), "cpu", "const")  # DCGAN: W = Z
    vec, _ = embed_rgb(img, emb)
    target = np.load(photo_target)["embedding"]
    assert emb.distance(vec, target) == pytest.approx(res["best_distance"], abs=1e-5)


def test_stage_resumes_from_its_record(info, photo_target, tmp_path):
    """Budget 4, then the same search with budget 7: 4 replayed, 3 new, 7 in the record."""
    p = settings()
    args = (info, None, "cma", photo_target, tmp_path / "r.jsonl", tmp_path / "r.json",
            tmp_path / "r.npz")  # fmt: skip
    p["search"]["budget"] = 4
    stage_search(*args[:1], p, *args[2:])
    p["search"]["budget"] = 7
    res = stage_search(*args[:1], p, *args[2:])
    _, rows = read_record(tmp_path / "r.jsonl")
    assert res["replayed"] == 4 and res["evaluations"] == 7 == len(rows)
    assert [r["i"] for r in rows] == list(range(7))


def test_gradient_is_skipped_with_a_reason_for_dlib(info, photo_target, tmp_path):
    res = stage_search(info, settings(), "gradient", photo_target, tmp_path / "r.jsonl",
                       tmp_path / "r.json", tmp_path / "r.npz")  # fmt: skip
    assert res["status"] == "skipped" and "not differentiable" in res["reason"]
    assert json.loads((tmp_path / "r.json").read_text())["status"] == "skipped"
    assert np.load(tmp_path / "r.npz")["w"].shape[0] == 0


def test_photo_with_several_faces_takes_the_largest_and_says_so():
    from ganatlas.faces.detect import read_bgr

    if not (PHOTOS / "two_people.jpg").is_file():
        pytest.skip(f"test photos not found at {PHOTOS}")
    logs = []
    emb = make_embedder(settings(), logs.append)
    assert logs == ["embedder.threshold not given: using dlib's default 0.6"]
    det = make_backend({"backend": "dlib", "det_size": 640})
    vec, _, face = embed_photo(PHOTOS / "two_people.jpg", emb, det, logs.append)
    assert len(logs) == 2 and "2 faces found; taking the largest" in logs[1]
    faces = det.analyze(read_bgr(PHOTOS / "two_people.jpg"))
    areas = [(f.bbox[2] - f.bbox[0]) * (f.bbox[3] - f.bbox[1]) for f in faces]
    assert len(faces) == 2
    assert (face.bbox[2] - face.bbox[0]) * (face.bbox[3] - face.bbox[1]) == max(areas)
    assert vec.shape == (128,)


def test_bad_inputs_give_clear_messages(tmp_path):
    pytest.importorskip("dlib")
    from PIL import Image

    blank = tmp_path / "blank.png"
    Image.fromarray(np.full((200, 200, 3), 127, np.uint8)).save(blank)
    emb = make_embedder(settings(), None)
    det = make_backend({"backend": "dlib", "det_size": 640})
    with pytest.raises(ValueError, match=r"blank.png: no face found by the dlib detector"):
        embed_photo(blank, emb, det)
    with pytest.raises(FileNotFoundError, match="identity target photo .*nope.jpg does not exist"):
        embed_photo(tmp_path / "nope.jpg", emb, det)
    with pytest.raises(FileNotFoundError, match=r"embedder.model: .*missing.onnx does not exist"):
        build_embedder({"name": "onnx", "model": str(tmp_path / "missing.onnx")}, 160, 640)
    logs = []
    assert (
        build_embedder({"name": "dlib", "threshold": 0.45}, 160, 640, logs.append).threshold == 0.45
    )
    assert logs == []


def test_require_face_scores_faceless_images_as_no_face(info):
    """A flat grey image: no face with require_face (dlib crop detect), an embedding without."""
    grey = np.full((64, 64, 3), 127, np.uint8)
    strict = make_embedder(settings(), None)
    loose = make_embedder(settings(require_face=False), None)
    assert embed_rgb(grey, strict) == (None, 0)
    vec, n = embed_rgb(grey, loose)
    assert n == 1 and vec.shape == (128,)

"""Identity embedders: registry, distances, dlib on real photos, ArcFace through a test-built ONNX,
FaceNet's architecture (random init), any-ONNX embedder from config."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import REPO, load_module

from ganatlas.faces.embedders import (
    EMBEDDERS,
    EmbedderError,
    distance_matrix,
    embed,
    make_embedder,
    pairwise_distance,
    read_distance_csv,
)

tiny_onnx = load_module("faces_test_faces", REPO / "tests" / "faces" / "test_faces.py").tiny_onnx

cv2 = pytest.importorskip("cv2")


def test_registry_names_distances_thresholds():
    assert list(EMBEDDERS) == ["dlib", "arcface", "facenet", "onnx"]
    assert (EMBEDDERS["dlib"].distance, EMBEDDERS["dlib"].threshold) == ("euclidean", 0.6)
    assert EMBEDDERS["arcface"].distance == "cosine"


def test_unknown_embedder_names_key_and_allowed():
    with pytest.raises(EmbedderError, match=r"embedder\.name.*'vgg'.*dlib, arcface, facenet, onnx"):
        make_embedder({"name": "vgg"})
    with pytest.raises(EmbedderError, match=r"embedder\.crop.*allowed for facenet: auto, full"):
        make_embedder({"name": "facenet", "random_init": True, "crop": "detect"})


def test_pairwise_distance_matches_hand_computation():
    E = np.array([[3.0, 4.0], [0.0, 1.0], [-3.0, -4.0]], np.float32)
    De = pairwise_distance(E, "euclidean")
    assert De[0, 1] == pytest.approx(np.hypot(3, 3))
    assert De[0, 2] == pytest.approx(10.0)
    Dc = pairwise_distance(E, "cosine")
    assert Dc[0, 2] == pytest.approx(2.0)
    assert Dc[0, 1] == pytest.approx(1 - 0.8)
    rng = np.random.default_rng(1)
    for dist in ("euclidean", "cosine"):
        D = pairwise_distance(rng.standard_normal((7, 16)), dist)
        np.testing.assert_array_equal(D, D.T)
        np.testing.assert_array_equal(np.diag(D), 0.0)
        assert (D[~np.eye(7, dtype=bool)] > 0).all()


def test_nan_rows_stay_nan_and_bad_distance():
    E = np.array([[1.0, 0.0], [np.nan, np.nan], [0.0, 1.0]])
    D = pairwise_distance(E, "euclidean")
    assert np.isnan(D[1]).all() and np.isnan(D[:, 1]).all()
    assert D[0, 2] == pytest.approx(np.sqrt(2)) and D[0, 0] == 0
    with pytest.raises(ValueError, match="cosine, euclidean"):
        pairwise_distance(E, "manhattan")


@pytest.fixture(scope="module")
def dlib_embedder():
    pytest.importorskip("dlib")
    return make_embedder({"name": "dlib", "crop": "detect"})


def test_dlib_same_person_below_threshold_others_above(testdata, dlib_embedder, tmp_path):
    names = ["obama", "obama2", "biden", "biden2", "rose_leslie1", "rose_leslie2"]
    paths = [testdata / "photos" / f"{n}.jpg" for n in names]
    E, found = embed(dlib_embedder, paths)
    assert found.all() and E.shape == (6, 128)
    dm = distance_matrix(dlib_embedder, E, found, names)
    D = dm.values
    person = [n.rstrip("0123456789") for n in names]
    for i in range(6):
        for j in range(i + 1, 6):
            if person[i] == person[j]:
                assert D[i, j] < 0.6, (names[i], names[j], D[i, j])
            else:
                assert D[i, j] > 0.6, (names[i], names[j], D[i, j])
    path = tmp_path / "d.csv"
    path.write_text(dm.to_csv_text())
    df, meta = read_distance_csv(path)
    assert meta == {"embedder": "dlib", "distance": "euclidean", "threshold": "0.6"}
    assert list(df.index) == names
    np.testing.assert_allclose(df.to_numpy(), D, atol=1e-6)


def test_dlib_faces_from_backend_and_no_face(testdata, dlib_embedder):
    """Face objects from the dlib detector backend reuse their raw descriptor; a flat grey image
    under crop: detect has no face (NaN row)."""
    from ganatlas.faces.backends import make_backend

    img = cv2.imread(str(testdata / "photos" / "obama.jpg"))
    face = make_backend({"backend": "dlib", "det_size": 640}).analyze(img)[0]
    grey = np.full((64, 64, 3), 128, np.uint8)
    E, found = embed(dlib_embedder, [face, grey, img])
    assert found.tolist() == [True, False, True]
    assert np.isnan(E[1]).all()
    assert np.linalg.norm(E[0] - E[2]) < 0.1  # same photo, own HOG box vs the backend's


def test_dlib_full_image_crop_embeds_a_64px_portrait(dlib_embedder):
    full = make_embedder({"name": "dlib", "crop": "full"})
    rng = np.random.default_rng(0)
    img = rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)
    E, found = embed(full, [img, img])
    assert found.all() and E.shape == (2, 128)
    np.testing.assert_array_equal(E[0], E[1])


def test_arcface_embedder_equals_recogniser_on_aligned_crop(testdata, tmp_path):
    import onnxruntime

    from ganatlas.faces.insightface_backend import aligned_crop

    skimage_data = pytest.importorskip("skimage.data")
    img = np.ascontiguousarray(skimage_data.astronaut()[:, :, ::-1])
    rec = tiny_onnx(tmp_path / "tiny_arcface.onnx", 112, 512)
    det = str(testdata / "models" / "scrfd_500m.onnx")
    emb = make_embedder({"name": "arcface", "det_model": det, "rec_model": rec, "pack": None})
    assert (emb.distance, emb.threshold, emb.dim) == ("cosine", 0.6, 512)
    E, found = embed(emb, [img, np.zeros((64, 64, 3), np.uint8)])
    assert found.tolist() == [True, False]
    kps = emb.backend.analyze(img)[0].kps
    crop = aligned_crop(img, kps)[:, :, ::-1].astype(np.float32)
    blob = ((crop - 127.5) / 127.5).transpose(2, 0, 1)[None]
    sess = onnxruntime.InferenceSession(rec, providers=["CPUExecutionProvider"])
    ref = sess.run(None, {"data": blob})[0][0]
    np.testing.assert_allclose(E[0], ref / np.linalg.norm(ref), atol=1e-4)


def test_arcface_without_recogniser_is_an_error(testdata):
    det = str(testdata / "models" / "scrfd_500m.onnx")
    with pytest.raises(EmbedderError, match=r"embedder\.rec_model"):
        make_embedder({"name": "arcface", "det_model": det, "pack": None})


def test_facenet_architecture_shapes_and_unit_norm():
    from ganatlas.faces.facenet import InceptionResnetV1

    torch.manual_seed(0)
    emb = make_embedder({"name": "facenet", "random_init": True})
    model = emb.model
    assert isinstance(model, InceptionResnetV1) and not model.training
    n_params = sum(p.numel() for p in model.parameters())
    assert n_params == 23_482_624  # Inception-ResNet-v1 with a 512-d head, no classifier
    state = model.state_dict()
    assert state["conv2d_1a.conv.weight"].shape == (32, 3, 3, 3)
    assert state["repeat_2.9.branch1.2.conv.weight"].shape == (128, 128, 7, 1)
    assert state["last_linear.weight"].shape == (512, 1792)
    imgs = [np.random.default_rng(i).integers(0, 255, (64, 64, 3), np.uint8) for i in range(3)]
    E, found = embed(emb, imgs)
    assert E.shape == (3, 512) and found.all()
    np.testing.assert_allclose(np.linalg.norm(E, axis=1), 1.0, atol=1e-5)
    # batch == one by one
    np.testing.assert_allclose(emb.embed_one(imgs[1], None), E[1], atol=1e-5)


def test_facenet_weights_file_round_trip_and_errors(tmp_path, monkeypatch):
    from ganatlas.faces.facenet import InceptionResnetV1

    torch.manual_seed(1)
    ref = InceptionResnetV1()
    state = ref.state_dict()
    state["logits.weight"] = torch.zeros(10, 512)  # a classifier head is ignored
    torch.save(state, tmp_path / "w.pt")
    emb = make_embedder({"name": "facenet", "weights": str(tmp_path / "w.pt")})
    assert torch.equal(emb.model.conv2d_1a.conv.weight, ref.conv2d_1a.conv.weight)
    del state["last_bn.running_var"]
    torch.save(state, tmp_path / "bad.pt")
    with pytest.raises(ValueError, match=r"embedder\.weights.*missing \['last_bn.running_var'\]"):
        make_embedder({"name": "facenet", "weights": str(tmp_path / "bad.pt")})
    with pytest.raises(FileNotFoundError, match=r"embedder\.weights.*not found"):
        make_embedder({"name": "facenet", "weights": str(tmp_path / "none.pt")})
    monkeypatch.setenv("GANATLAS_CACHE", str(tmp_path / "cache"))
    with pytest.raises(FileNotFoundError, match=r"download cache.*Nothing is downloaded"):
        make_embedder({"name": "facenet"})


def test_onnx_embedder_from_config(tmp_path):
    import onnxruntime

    model = tiny_onnx(tmp_path / "e.onnx", 64, 32)
    emb = make_embedder(
        {"name": "onnx", "model": model, "input_size": 64, "mean": 0.0, "std": 255.0,
         "channel_order": "bgr", "distance": "euclidean", "threshold": 1.5}
    )  # fmt: skip
    assert (emb.distance, emb.threshold, emb.dim) == ("euclidean", 1.5, 32)
    img = np.random.default_rng(0).integers(0, 255, (80, 80, 3), np.uint8)
    box = np.array([8, 8, 72, 72], np.float32)
    E, found = embed(emb, [img], boxes=[box])
    sess = onnxruntime.InferenceSession(model, providers=["CPUExecutionProvider"])
    x = (img[8:72, 8:72].astype(np.float32) / 255.0).transpose(2, 0, 1)[None]
    np.testing.assert_allclose(E[0], sess.run(None, {"data": x})[0][0], rtol=1e-5)
    for cfg, key in [
        ({"model": str(tmp_path / "nope.onnx")}, "model"),
        ({"model": model, "distance": "l1"}, "distance"),
        ({"model": model, "mean": [1, 2]}, "mean"),
        ({"model": model, "layout": "chw"}, "layout"),
    ]:
        with pytest.raises(EmbedderError, match=rf"embedder\.{key}"):
            make_embedder({"name": "onnx", **cfg})


def test_dlib_min_box_equals_embedding_the_upscaled_image(testdata):
    """min_box upscales a small face before the landmarks: the descriptor equals the one of the
    image and box upscaled by hand by the same factor; faces already wide enough are untouched."""
    pytest.importorskip("dlib")
    from ganatlas.faces.embedders import DlibEmbedder

    img = cv2.imread(str(testdata / "photos" / "obama.jpg"))
    small = cv2.resize(img, None, fx=0.2, fy=0.2, interpolation=cv2.INTER_AREA)
    plain = DlibEmbedder(crop="detect")
    rect = plain._rect(np.ascontiguousarray(small[:, :, ::-1]), None)
    assert rect is not None, "no face found in the downscaled photo"
    box = np.array([rect.left(), rect.top(), rect.right(), rect.bottom()], np.float64)
    width = box[2] - box[0]
    assert width < 150
    scale = 150 / width
    big = cv2.resize(
        small,
        (round(small.shape[1] * scale), round(small.shape[0] * scale)),
        interpolation=cv2.INTER_LINEAR,
    )
    want = DlibEmbedder(crop="auto").embed_one(big, np.round(box * scale))
    got = DlibEmbedder(crop="auto", min_box=150).embed_one(small, box)
    np.testing.assert_allclose(got, want, atol=1e-6)
    assert np.linalg.norm(got - DlibEmbedder(crop="auto").embed_one(small, box)) > 1e-3
    wide = DlibEmbedder(crop="auto", min_box=int(width) - 5)
    np.testing.assert_array_equal(
        wide.embed_one(small, box), DlibEmbedder(crop="auto").embed_one(small, box)
    )


def test_crop_box_margin_clipping_and_degenerate_boxes():
    """A box enlarged by its margin and clipped to the image; a box under 2 px wide or high after
    clipping (degenerate, or outside the image) gives the whole image."""
    from ganatlas.faces.embedders import crop_box

    img = np.arange(40 * 40 * 3, dtype=np.uint8).reshape(40, 40, 3)
    np.testing.assert_array_equal(crop_box(img, np.array([10, 10, 20, 30.0]), 0.5), img[:, 5:25])
    np.testing.assert_array_equal(
        crop_box(img, np.array([10, 10, 12, 30.0]), 0.0), img[10:30, 10:12]
    )
    for box in (
        [10, 10, 11, 30],
        [10, 10, 30, 11],
        [20, 20, 20, 20],
        [50, 5, 60, 20],
        [5, 45, 9, 60],
    ):
        assert crop_box(img, np.array(box, np.float64), 0.0) is img, box
    assert crop_box(img, None, 0.5) is img


@pytest.fixture(scope="module")
def dlib_auto():
    pytest.importorskip("dlib")
    pytest.importorskip("face_recognition_models", reason="dlib's model files are absent")
    from ganatlas.faces.embedders import DlibEmbedder

    return DlibEmbedder(crop="auto")


def _with_crop(emb, crop: str):
    """``emb`` with another crop mode, sharing its loaded dlib models."""
    import copy

    other = copy.copy(emb)
    other.crop = crop
    return other


def test_dlib_full_crop_is_the_image_bounds_and_ignores_the_box(testdata, dlib_auto):
    """crop: full embeds the rectangle (0, 0, W - 1, H - 1) whatever box is given: the same
    descriptor as that box given to crop: auto, and not the face box's."""
    img = cv2.imread(str(testdata / "photos" / "obama.jpg"))
    img = cv2.resize(img, None, fx=0.25, fy=0.25, interpolation=cv2.INTER_AREA)
    h, w = img.shape[:2]
    full = _with_crop(dlib_auto, "full")
    rect = full._rect(np.ascontiguousarray(img[:, :, ::-1]), None)
    assert (rect.left(), rect.top(), rect.right(), rect.bottom()) == (0, 0, w - 1, h - 1)
    face = dlib_auto._rect(np.ascontiguousarray(img[:, :, ::-1]), None)  # its HOG box
    box = np.array([face.left(), face.top(), face.right(), face.bottom()], np.float64)
    whole = full.embed_one(img, None)
    np.testing.assert_array_equal(full.embed_one(img, box), whole)
    np.testing.assert_array_equal(dlib_auto.embed_one(img, np.array([0, 0, w - 1, h - 1.0])), whole)
    assert np.linalg.norm(dlib_auto.embed_one(img, box) - whole) > 1e-3


def test_dlib_auto_without_box_or_face_embeds_the_whole_image(dlib_auto):
    """crop: auto, no box given and its HOG finds no face: the whole image, as crop: full."""
    grey = np.full((64, 48, 3), 128, np.uint8)
    grey[20:40, 10:30] = 30
    got = dlib_auto.embed_one(grey, None)
    assert got is not None and got.shape == (128,)
    np.testing.assert_array_equal(got, _with_crop(dlib_auto, "full").embed_one(grey, None))
    assert _with_crop(dlib_auto, "detect").embed_one(grey, None) is None

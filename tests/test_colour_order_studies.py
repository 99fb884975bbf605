"""Colour order at every image boundary of the monsters, identity, paths and projection studies
and of the shared identity embedders (dlib, FaceNet, any-ONNX).

The fixture is the four-colour layout of ``tests/test_colour_order.py`` (red top-left, green
top-right, blue bottom-left, orange-brown bottom-right; literal pixel values, none from the code
under test). Generated images are RGB; face backends (SCRFD, dlib, MTCNN wrappers), attribute
scorers and the registry's embedders take BGR (``embed_one(img_bgr, box)``); dlib, FaceNet and
MTCNN networks themselves take RGB, and so does the projector (target tensor vs generator
output). Spies record what each consumer receives; a channel swap anywhere fails a test here.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import numpy as np
import pytest
import torch
from conftest import REPO, load_module
from PIL import Image

from ganatlas.faces.types import Face

co = load_module("colour_order_helpers", REPO / "tests" / "test_colour_order.py")
RES, RGB, BGR, QUADRANTS = co.RES, co.RGB, co.BGR, co.QUADRANTS
assert_layout, PatchGenerator, SpyBackend, SpyScorer = (
    co.assert_layout,
    co.PatchGenerator,
    co.SpyBackend,
    co.SpyScorer,
)


def patch_rgb() -> np.ndarray:
    """The layout as an RGB uint8 image ``[RES, RES, 3]`` (what the generators render)."""
    img = np.zeros((RES, RES, 3), np.uint8)
    for name, (rows, cols) in QUADRANTS.items():
        img[rows, cols] = RGB[name]
    return img


def save_png(path, rgb: np.ndarray):
    """Write ``rgb`` with PIL (no project code): the file holds these RGB pixels."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rgb).save(path)
    return path


@dataclass
class SpyEmbedder:
    """A registry-style embedder (``embed_one(img_bgr, box)``) recording its input."""

    name: str = "spy"
    distance: str = "euclidean"
    threshold: float = 0.6
    dim: int = 3
    model_names: str = "spy"
    seen: list = field(default_factory=list)

    def embed_one(self, img_bgr, box):
        self.seen.append(np.array(img_bgr, copy=True))
        return img_bgr.reshape(-1, 3).mean(0).astype(np.float32)


class SpyNet(torch.nn.Module):
    """A network stub recording its input ``[N, 3, H, W]``; outputs the per-channel means."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[torch.Tensor] = []
        self.scale = torch.nn.Parameter(torch.ones(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.seen.append(x.detach().clone())
        return x.mean(dim=(2, 3)) * self.scale


def assert_blob_rgb(x: np.ndarray, to_pixel, what: str) -> None:
    """``x [3, RES, RES]`` (channel-first) holds the layout in RGB order after ``to_pixel``."""
    for name, (rows, cols) in QUADRANTS.items():
        got = to_pixel(x[:, rows, cols].reshape(3, -1))
        np.testing.assert_allclose(
            got, np.repeat(np.array(RGB[name], np.float64)[:, None], got.shape[1], 1),
            atol=1e-4, err_msg=f"{what}: {name}",
        )  # fmt: skip


# --- shared embedders --------------------------------------------------------------------------


def test_dlib_embedder_hands_rgb_to_landmarks_and_descriptor():
    from ganatlas.faces.embedders import DlibEmbedder

    seen = {}

    class Shape5:
        def __call__(self, img, rect):
            seen["shape5"] = np.array(img)
            return "shape"

    class Rec:
        def compute_face_descriptor(self, img, shape):
            seen["rec"] = np.array(img)
            return [0.0] * 128

    class Hog:
        def __call__(self, img, upsample):
            seen["hog"] = np.array(img)
            return []

    pytest.importorskip("dlib")  # dlib.rectangle is used for the whole-image box
    emb = object.__new__(DlibEmbedder)  # no dlib models: only the hand-over is spied
    emb.crop, emb.margin, emb.det_size, emb.min_box = "auto", 0.0, RES, 0
    emb._models = {"hog": Hog(), "shape5": Shape5(), "rec": Rec(), "lock": threading.Lock()}
    bgr = np.ascontiguousarray(patch_rgb()[:, :, ::-1])
    assert emb.embed_one(bgr, None).shape == (128,)  # no box: its HOG runs first
    for k in ("hog", "shape5", "rec"):
        assert_layout(seen[k], RGB, f"dlib {k} input")


def test_facenet_embedder_feeds_its_network_rgb():
    from ganatlas.faces.embedders import FaceNetEmbedder

    net = SpyNet()
    emb = FaceNetEmbedder(model=net, crop="full")
    bgr = np.ascontiguousarray(patch_rgb()[:, :, ::-1])
    emb.embed_batch([bgr], [None])
    (x,) = net.seen
    assert x.shape == (1, 3, 160, 160)
    # the 32 px layout is enlarged to 160 px: sample the centre of each 80 px quadrant
    for name, (y, xx) in {"top_left": (40, 40), "top_right": (40, 120),
                          "bottom_left": (120, 40), "bottom_right": (120, 120)}.items():  # fmt: skip
        np.testing.assert_allclose(
            x[0, :, y, xx].numpy() * 128 + 127.5, RGB[name], atol=1e-3, err_msg=name
        )


@pytest.mark.parametrize("order", ["rgb", "bgr"])
def test_onnx_embedder_channel_order(order):
    from ganatlas.faces.embedders import OnnxEmbedder

    seen = []

    class Session:
        def run(self, names, feeds):
            (x,) = feeds.values()
            seen.append(np.array(x))
            return [np.ones((1, 4), np.float32)]

    emb = OnnxEmbedder(session=Session(), input_name="data", size=(RES, RES),
                       mean=np.zeros(3, np.float32), std=np.ones(3, np.float32),
                       channel_order=order, crop="full")  # fmt: skip
    emb.embed_one(np.ascontiguousarray(patch_rgb()[:, :, ::-1]), None)
    x = seen[0][0]  # [3, RES, RES]
    want = RGB if order == "rgb" else BGR
    for name, (rows, cols) in QUADRANTS.items():
        assert x[:, rows, cols].reshape(3, -1).mean(1).tolist() == list(want[name]), name


# --- monsters ----------------------------------------------------------------------------------


def test_monsters_scoring_hands_bgr_to_detector_scorers_and_embedder():
    from ganatlas.studies.monsters.scoring import score_images_with_embeddings

    backend, scorer, embedded = SpyBackend(), SpyScorer(), []

    def embed(img, face):
        embedded.append(np.array(img, copy=True))
        return np.zeros(4, np.float32)

    imgs = np.stack([patch_rgb(), patch_rgb()])
    df = score_images_with_embeddings(imgs, backend, [scorer], embed)
    assert df["detected"].all() and len(backend.seen) == len(scorer.seen) == len(embedded) == 2
    for what, seen in (("detector", backend.seen), ("scorer", scorer.seen), ("embed", embedded)):
        for img in seen:
            assert_layout(img, BGR, f"monsters {what} input")
    np.testing.assert_allclose(df["attr_spy"], (255 + 191) / 4)  # mean red of the layout


def test_monsters_walk_embeddings_read_the_png_as_bgr(tmp_path, monkeypatch):
    import pandas as pd

    import ganatlas.studies.monsters.identity as mid
    from ganatlas.studies.monsters.stages import walk_embeddings

    spy = SpyEmbedder()
    monkeypatch.setattr(mid, "dlib_embedder", lambda: spy)
    save_png(tmp_path / "seed3" / "seed0003_step00001.png", patch_rgb())
    walk = pd.DataFrame({"seed": [3], "filename": ["seed0003_step00001.png"],
                         "bbox": [[0.0, 0.0, RES, RES]], "embedding": [None]})  # fmt: skip
    out = walk_embeddings(walk, tmp_path, "dlib")
    assert out.shape == (1, 3) and len(spy.seen) == 1
    assert_layout(spy.seen[0], BGR, "walk image to dlib embedder")


# --- identity ----------------------------------------------------------------------------------


def identity_embedder(spy):
    from ganatlas.studies.identity.embed import IdentityEmbedder

    return IdentityEmbedder("spy", "euclidean", 0.6, spy, {}, _photos=spy)


def test_identity_render_rgb_and_embed_rgb_hand_bgr_to_the_embedder():
    from ganatlas.studies.identity.embed import embed_rgb
    from ganatlas.studies.identity.objective import render_rgb

    g = PatchGenerator()
    img = render_rgb(g, torch.zeros(1, 1, 4))
    assert_layout(img, RGB, "identity render_rgb")
    spy = SpyEmbedder()
    vec, n = embed_rgb(img, identity_embedder(spy))
    assert n == 1 and len(spy.seen) == 1
    assert_layout(spy.seen[0], BGR, "identity generated-face embedder input")


def test_identity_photo_target_bgr_to_detector_and_embedder_rgb_out(tmp_path):
    from ganatlas.studies.identity.embed import embed_photo

    path = save_png(tmp_path / "target.png", patch_rgb())
    spy, backend = SpyEmbedder(), SpyBackend()
    vec, rgb, face = embed_photo(path, identity_embedder(spy), backend)
    assert_layout(backend.seen[0], BGR, "identity photo detector input")
    assert_layout(spy.seen[0], BGR, "identity photo embedder input")
    assert_layout(rgb, RGB, "identity photo returned for target.png")


def assert_facenet_input_rgb(net: SpyNet) -> None:
    """The one input FaceNet saw is the patch image at 160 px in RGB order: generator 1 -> 255,
    -1 -> 0, standardised ``(x - 127.5) / 128``."""
    (x,) = net.seen
    assert x.shape == (1, 3, 160, 160)
    for name, (y, xx) in {"top_left": (40, 40), "top_right": (40, 120),
                          "bottom_left": (120, 40)}.items():  # fmt: skip
        want = (np.array(RGB[name], np.float64) - 127.5) / 128
        np.testing.assert_allclose(x[0, :, y, xx].numpy(), want, atol=1e-3, err_msg=name)


def test_identity_facenet_module_feeds_rgb():
    from ganatlas.studies.identity.embed import facenet_module

    net = SpyNet()
    img = PatchGenerator().synthesis(torch.zeros(1, 1, 4))  # [1, 3, RES, RES] in [-1, 1], RGB
    facenet_module(net)(img)
    assert_facenet_input_rgb(net)


# --- paths -------------------------------------------------------------------------------------


def test_paths_score_and_embed_hand_bgr(monkeypatch):
    import ganatlas.faces.embedders as fe
    from ganatlas.studies.paths.frames import embed_frames, score

    imgs = np.stack([patch_rgb()] * 2)
    backend, scorer = SpyBackend(), SpyScorer()
    df = score(imgs, backend, [scorer])
    assert df["detected"].all()
    for img in [*backend.seen, *scorer.seen]:
        assert_layout(img, BGR, "paths detector/scorer input")
    spy = SpyEmbedder()
    monkeypatch.setattr(fe, "make_embedder", lambda cfg: spy)
    _, E, found = embed_frames(imgs, [None, [0, 0, RES, RES]], {"name": "spy"}, "cpu")
    assert found.all() and len(spy.seen) == 2
    for img in spy.seen:
        assert_layout(img, BGR, "paths embedder input")


def test_paths_frames_pngs_and_gif_are_rgb(tmp_path):
    import imageio.v2 as iio

    from ganatlas.studies.paths.frames import save_pngs_atomic
    from ganatlas.studies.paths.stages import stage_video

    save_pngs_atomic(np.stack([patch_rgb()] * 3), ["f0.png", "f1.png", "f2.png"], tmp_path / "fr")
    with Image.open(tmp_path / "fr" / "f0.png") as im:
        assert_layout(np.asarray(im.convert("RGB")), RGB, "paths frame PNG")
    stage_video(tmp_path / "fr", 4.0, tmp_path / "v.gif", min_side=RES)
    frame = np.asarray(iio.mimread(tmp_path / "v.gif")[0])[..., :3]
    for name, (rows, cols) in QUADRANTS.items():  # GIF palette: pure colours survive closely
        got = frame[rows, cols].reshape(-1, 3).mean(0)
        np.testing.assert_allclose(got, RGB[name], atol=8, err_msg=f"gif {name}")


# --- projection --------------------------------------------------------------------------------


def test_projection_read_rgb_and_tensor_round_trip(tmp_path):
    from ganatlas.studies.projection.stages import read_rgb, to_rgb, to_tensor

    rgb = read_rgb(save_png(tmp_path / "p.png", patch_rgb()))
    assert_layout(rgb, RGB, "projection read_rgb")
    t = to_tensor(rgb, "cpu")
    assert t.shape == (1, 3, RES, RES)
    assert_blob_rgb(t[0].numpy(), lambda v: (v + 1) * 127.5, "projection target tensor")
    # the target tensor and the generator's output are in the same order and scale
    g = PatchGenerator()
    np.testing.assert_allclose(
        t[0, :, :16, :16].numpy(), g.img[:, :16, :16].numpy(), atol=1 / 127.5
    )
    assert_layout(to_rgb(g.img[None]), RGB, "projection to_rgb")


def test_projection_alignment_detector_gets_bgr_and_output_is_rgb(tmp_path, monkeypatch):
    import ganatlas.studies.projection.stages as ps
    from ganatlas.studies.projection.settings import projection_config

    # one colour everywhere, distinct channels: alignment (warp, padding) keeps it exactly
    colour = (200, 60, 10)
    path = save_png(tmp_path / "photo.png", np.full((96, 96, 3), colour, np.uint8))
    kps = np.array([[36, 40], [60, 40], [48, 52], [38, 66], [58, 66]], np.float32)

    @dataclass
    class KpsBackend(SpyBackend):
        def analyze(self, img_bgr):
            self.seen.append(np.array(img_bgr, copy=True))
            return [Face(np.array([20, 20, 76, 80], np.float32), 0.9, kps=kps)]

    backend = KpsBackend()
    monkeypatch.setattr(ps, "landmark_backend", lambda prj, info, side: backend)
    prj = projection_config({"projection": {}})
    out, rec = ps.align_photo(path, prj, {}, 64)
    assert rec["aligned"] and out.shape == (64, 64, 3)
    assert np.unique(backend.seen[0].reshape(-1, 3), axis=0).tolist() == [list(colour[::-1])]
    assert np.unique(out.reshape(-1, 3), axis=0).tolist() == [list(colour)]
    prj["align"] = {**prj["align"], "enabled": False}
    out, rec = ps.align_photo(path, prj, {}, 64)
    assert not rec["aligned"]
    assert np.unique(out.reshape(-1, 3), axis=0).tolist() == [list(colour)]


def test_projection_face_scores_and_identity_row_hand_bgr(monkeypatch):
    import ganatlas.faces.embedders as fe
    from ganatlas.studies.projection.stages import face_scores, identity_row

    backend = SpyBackend()
    assert face_scores(backend, patch_rgb())["detected"]
    assert_layout(backend.seen[0], BGR, "projection detector input")
    spy = SpyEmbedder()
    monkeypatch.setattr(fe, "make_embedder", lambda cfg: spy)
    row = identity_row({"name": "spy"}, patch_rgb(), patch_rgb())
    assert row["identity_distance"] == 0.0 and len(spy.seen) == 2
    for img in spy.seen:
        assert_layout(img, BGR, "projection identity embedder input")


def test_projection_identity_loss_feeds_facenet_rgb(monkeypatch):
    import ganatlas.faces.facenet as fn
    from ganatlas.studies.projection.identity import facenet_embedder

    net = SpyNet()
    monkeypatch.setattr(fn, "InceptionResnetV1", lambda: net)
    embed = facenet_embedder(random_init=True)
    embed(PatchGenerator().synthesis(torch.zeros(1, 1, 4)))
    assert_facenet_input_rgb(net)


# --- figures: RGB images shown as RGB --------------------------------------------------------


def red_green(n: int = 1) -> np.ndarray:
    """``[n, RES, RES, 3]`` RGB: red with a green top-left quarter (a swap makes it blue)."""
    img = np.zeros((RES, RES, 3), np.uint8)
    img[..., 0] = 255
    img[: RES // 2, : RES // 2] = (0, 255, 0)
    return np.stack([img] * n)


def assert_shows_red_not_blue(path, what: str) -> None:
    """The saved figure has pure-red pixels (the images) and no pure-blue ones."""
    with Image.open(path) as im:
        px = np.asarray(im.convert("RGB")).reshape(-1, 3).astype(int)
    near = lambda c: int((np.abs(px - c).max(1) <= 12).sum())  # noqa: E731
    assert near((255, 0, 0)) > 100, f"{what}: no red pixels"
    assert near((0, 0, 255)) == 0, f"{what}: blue pixels (channels swapped)"


def draw_paths_sheet(p):
    from ganatlas.studies.paths.figures import labelled_sheet

    labelled_sheet(red_green(3), ["a", "b", "c"], 3, p, "t", [True, False, True])


def draw_paths_plane(p):
    from ganatlas.studies.paths.figures import plane_montage

    plane_montage(red_green(4), [0, 1], [1, 0], {"origin": "a", "x": "b", "y": "c",
                                                 "space": "z"}, p)  # fmt: skip


def draw_paths_mix(p):
    from ganatlas.studies.paths.figures import mix_grid

    rg = red_green(2)
    labels = {"rows": ["1", "2"], "cols": ["3", "4"], "range": "[0, 2)", "title": "t"}
    mix_grid(rg, rg, np.stack([rg, rg]), labels, p)


def draw_monsters_strip(p):
    import pandas as pd

    from ganatlas.studies.monsters.figures import plot_strip

    rows = pd.DataFrame({"detected": [True, False], "det_score": [0.9, np.nan],
                         "decision": [1.0, -1.0]})  # fmt: skip
    plot_strip(red_green(2), np.array([0.0, 1.0]), rows, "t", p)


def draw_identity_gallery(p):
    from ganatlas.studies.identity.figures import gallery_figure

    gallery_figure(red_green()[0], {"cma": [(1, 0.9, red_green()[0])]}, 0.6, p, "t")


def draw_identity_keyfaces(p):
    from ganatlas.studies.identity.figures import keyface_gallery
    from ganatlas.studies.identity.iterate import Recurrence

    keyface_gallery(list(red_green(2)), [None, 0.5], [0.0, 0.5], Recurrence("none"), p)


def draw_projection_compare(p):
    from ganatlas.studies.projection.stages import side_by_side

    side_by_side(red_green()[0], red_green()[0], p)


@pytest.mark.parametrize(
    "draw",
    [draw_paths_sheet, draw_paths_plane, draw_paths_mix, draw_monsters_strip,
     draw_identity_gallery, draw_identity_keyfaces, draw_projection_compare],
    ids=lambda f: f.__name__[5:],
)  # fmt: skip
def test_figures_show_rgb_images_in_rgb(draw, tmp_path):
    path = tmp_path / "fig.png"
    draw(path)
    assert_shows_red_not_blue(path, draw.__name__)

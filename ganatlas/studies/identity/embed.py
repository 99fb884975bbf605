"""The identity embedder of the study's jobs, and target embeddings from photos or latents.

An :class:`Embedder` analyses a BGR image into faces and gives each face's identity vector, the
distance between two vectors and the same-person threshold. ``dlib`` (128-d ResNet descriptor,
Euclidean distance on the raw descriptors, threshold 0.6) works offline; the other names come
from the faces embedder registry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ganatlas.faces.types import Face

#: Default same-person thresholds of the embedders (used, and logged, when none is configured).
DEFAULT_THRESHOLDS = {"dlib": 0.6}


@dataclass
class Embedder:
    """analyze: ``img_bgr [H, W, 3] uint8 -> list[Face]``; vector: ``Face -> [D]``; distance:
    ``([D], [D]) -> float``; threshold: same person below it; torch_module: a differentiable
    ``img [N, 3, H, W] in [-1, 1] -> [N, D]`` or None (then the gradient search is skipped)."""

    name: str
    threshold: float
    analyze: Callable[[np.ndarray], list[Face]]
    vector: Callable[[Face], np.ndarray]
    distance: Callable[[np.ndarray, np.ndarray], float]
    torch_module: Any = None
    skip_reason: str = ""


def euclidean(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(np.asarray(a, np.float64) - np.asarray(b, np.float64)))


def build_embedder(
    cfg: dict, log: Callable[[str], None] | None = None, photos: bool = False
) -> Embedder:
    """The embedder of the resolved ``identity.embedder`` section ``cfg`` (name, model,
    threshold, det_size, photo_det_size; ``photos``: detect at ``photo_det_size``). A missing
    model file is a FileNotFoundError naming the key."""
    name = cfg["name"]
    model = cfg.get("model")
    if model is not None and not Path(model).is_file():
        raise FileNotFoundError(
            f"identity.embedder.model: the {name} model file {model} does not exist"
        )
    threshold = cfg.get("threshold")
    if name == "dlib":
        from ganatlas.faces.dlib_backend import DlibBackend

        backend = DlibBackend(det_size=int(cfg["photo_det_size" if photos else "det_size"]))
        emb = Embedder(
            "dlib", 0.0, backend.analyze, lambda f: np.asarray(f.extra["descriptor"]), euclidean,
            skip_reason="the dlib embedder is not differentiable (configure a torch embedder "
            "for the gradient search)",
        )  # fmt: skip
    else:
        raise ValueError(
            f"identity.embedder.name {name!r} needs the faces embedder registry "
            "(ganatlas.faces.embedders), not available in this build; use dlib"
        )
    if threshold is None:
        threshold = DEFAULT_THRESHOLDS[name]
        if log is not None:
            log(f"identity.embedder.threshold not given: using {name}'s default {threshold}")
    emb.threshold = float(threshold)
    return emb


def face_area(face: Face) -> float:
    x1, y1, x2, y2 = (float(v) for v in face.bbox)
    return max(x2 - x1, 0.0) * max(y2 - y1, 0.0)


def largest_face(faces: list[Face]) -> Face | None:
    """The face with the largest box, or None."""
    return max(faces, key=face_area) if faces else None


def embed_photo(
    path: str | Path, emb: Embedder, log: Callable[[str], None] | None = None
) -> tuple[np.ndarray, np.ndarray, Face]:
    """``(vector [D], img_rgb [H, W, 3], face)`` of the largest face in the photo at ``path``.

    No face: ValueError naming the file. Several: the largest is taken and the log says so.
    """
    from ganatlas.faces.detect import read_bgr

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"identity target photo {path} does not exist")
    bgr = read_bgr(path)
    faces = emb.analyze(bgr)
    if not faces:
        raise ValueError(
            f"identity target {path}: no face found by the {emb.name} embedder's detector "
            "(try a larger identity.embedder.det_size or a tighter crop)"
        )
    face = largest_face(faces)
    if len(faces) > 1 and log is not None:
        log(f"identity target {path}: {len(faces)} faces found; taking the largest "
            f"(box {[round(float(v)) for v in face.bbox]})")  # fmt: skip
    return emb.vector(face), np.ascontiguousarray(bgr[:, :, ::-1]), face


def embed_rgb(img_rgb: np.ndarray, emb: Embedder) -> tuple[np.ndarray | None, int]:
    """``(vector of the largest face or None, number of faces)`` of an RGB uint8 image."""
    faces = emb.analyze(np.ascontiguousarray(img_rgb[:, :, ::-1]))
    face = largest_face(faces)
    return (None if face is None else emb.vector(face)), len(faces)

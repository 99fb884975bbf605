"""Types shared by every face backend and by the attribute scorers.

Images are numpy ``uint8`` arrays ``[H, W, 3]`` in **BGR** order (OpenCV / InsightFace convention).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np


@dataclass
class Face:
    """One detected face.

    bbox: [4] float32 x1, y1, x2, y2 in pixels; kps: [5, 2] float32 (left eye, right eye, nose,
    left mouth corner, right mouth corner, as seen in the image) or None; score: detector
    confidence in [0, 1]; embedding: [D] float32 identity embedding (512 for ArcFace, 128 for
    dlib) or None when the backend has no recogniser; extra: backend-specific values.
    """

    bbox: np.ndarray
    score: float
    kps: np.ndarray | None = None
    embedding: np.ndarray | None = None
    extra: dict = field(default_factory=dict)


class FaceBackend(Protocol):
    """A face analyser: ``analyze(img_bgr [H, W, 3] uint8) -> list[Face]`` sorted best first."""

    name: str  # backend name recorded in every row ("insightface", "mtcnn", "dlib")
    model_names: str  # the models that scored, e.g. "scrfd_500m.onnx+w600k_r50.onnx"
    det_size: int  # detector input size (pixels, square)

    def analyze(self, img_bgr: np.ndarray) -> list[Face]: ...


def best_face(faces: list[Face]) -> Face | None:
    """The face with the highest detector score, or None for an empty list."""
    return max(faces, key=lambda f: f.score) if faces else None

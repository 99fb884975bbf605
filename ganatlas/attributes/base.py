"""The scorer interface, face crops, ONNX loading and ``score_images`` (detect once, score all).

Images are BGR ``uint8 [H, W, 3]`` (the ``ganatlas.faces`` convention). A scorer receives the
images with the best face of each (or None) and returns one ``[N]`` float array per score name,
NaN where there is no face.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np
import pandas as pd

from ganatlas.faces.types import Face, best_face


class Scorer(Protocol):
    """An attribute scorer.

    name: the scorer's name; outputs: the score names it produces (columns of ``score_images``);
    score(images, faces) -> {output: [N] float64}, NaN where ``faces[i]`` is None.
    """

    name: str
    outputs: list[str]

    def score(
        self, images: Sequence[np.ndarray], faces: Sequence[Face | None]
    ) -> dict[str, np.ndarray]: ...


Detect = Callable[[np.ndarray], list[Face]]


def as_detect(detect: Any) -> Detect:
    """A detect callable from a callable or from a FaceBackend (an object with ``analyze``)."""
    if hasattr(detect, "analyze"):
        return detect.analyze
    if callable(detect):
        return detect
    raise TypeError(
        f"detect must be a callable img_bgr -> list[Face] or a face backend with .analyze, "
        f"got {type(detect).__name__}"
    )


def score_images(
    images: Sequence[np.ndarray], detect: Detect | Any, scorers: Sequence[Scorer]
) -> pd.DataFrame:
    """Detect once per image (best face), run every scorer; one row per image.

    images: BGR uint8 [H, W, 3] each; detect: ``img -> list[Face]`` or a face backend.
    Columns: ``detected`` (bool), ``det_score`` (float, NaN without face), ``bbox`` (list of 4
    floats x1, y1, x2, y2 or None: the box every score of the row used), then each scorer's
    outputs in order (float, NaN without face). Duplicate output names raise ValueError.
    """
    names = [n for s in scorers for n in s.outputs]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ValueError(
            f"scorers produce duplicate score names {dup}; give one a different 'name' or 'prefix'"
        )
    fn = as_detect(detect)
    faces = [best_face(fn(img)) for img in images]
    df = pd.DataFrame(
        {
            "detected": [f is not None for f in faces],
            "det_score": [float(f.score) if f is not None else np.nan for f in faces],
            "bbox": [[float(v) for v in f.bbox] if f is not None else None for f in faces],
        }
    )
    for s in scorers:
        out = s.score(images, faces)
        for name in s.outputs:
            col = np.asarray(out[name], dtype=np.float64)
            if col.shape != (len(images),):
                raise ValueError(f"scorer {s.name!r} returned {name} of shape {col.shape}")
            df[name] = col
    return df


def nan_scores(outputs: Sequence[str], n: int) -> dict[str, np.ndarray]:
    """{name: [n] NaN float64} for every output name."""
    return {k: np.full(n, np.nan) for k in outputs}


def crop_face(
    img: np.ndarray,
    bbox: np.ndarray,
    size: int | tuple[int, int],
    box_scale: float = 1.0,
    square: bool = True,
    interpolation: str = "auto",
) -> np.ndarray:
    """The detector box enlarged ``box_scale`` times about its centre (made square on its longer
    side when ``square``), cut out with black padding outside the image and resized
    (``interpolation`` "auto": area when shrinking, linear when enlarging; "linear": one bilinear
    warp, as InsightFace crops).

    img: [H, W, C] uint8; bbox: [4] x1, y1, x2, y2; size: output side or (width, height).
    Returns [h, w, C] uint8.
    """
    w_out, h_out = (size, size) if isinstance(size, int) else size
    x1, y1, x2, y2 = (float(v) for v in bbox[:4])
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    bw, bh = (x2 - x1) * box_scale, (y2 - y1) * box_scale
    if square:
        bw = bh = max(bw, bh)
    # Map the box onto the output grid with one affine warp (handles borders and scaling).
    sx, sy = w_out / max(bw, 1e-6), h_out / max(bh, 1e-6)
    m = np.array([[sx, 0, -(cx - bw / 2) * sx], [0, sy, -(cy - bh / 2) * sy]], np.float64)
    if interpolation not in ("auto", "linear"):
        raise ValueError(f"interpolation must be 'auto' or 'linear', got {interpolation!r}")
    shrink = min(sx, sy) < 1 and interpolation == "auto"
    interp = cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
    if interp == cv2.INTER_AREA:
        # warpAffine has no area filter: cut the (padded) box first, then resize.
        xa, ya = int(np.floor(cx - bw / 2)), int(np.floor(cy - bh / 2))
        xb, yb = int(np.ceil(cx + bw / 2)), int(np.ceil(cy + bh / 2))
        h, w = img.shape[:2]
        pad = ((max(0, -ya), max(0, yb - h)), (max(0, -xa), max(0, xb - w)))
        pad += ((0, 0),) * (img.ndim - 2)
        sub = img[max(0, ya) : min(h, yb), max(0, xa) : min(w, xb)]
        sub = np.pad(sub, pad)
        return cv2.resize(sub, (w_out, h_out), interpolation=cv2.INTER_AREA)
    return cv2.warpAffine(img, m, (w_out, h_out), flags=interp, borderValue=0)


def require_file(path: str | Path, what: str, key: str) -> Path:
    """``Path(path)`` if it is a file, else FileNotFoundError naming the config key."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise FileNotFoundError(f"{what}: model file not found: {p} (set '{key}' to its path)")
    return p


def onnx_session(path: str | Path, providers: Sequence[Any] | None = None) -> Any:
    """An onnxruntime InferenceSession for ``path`` (CPU unless ``providers`` says otherwise),
    with the job's intra-op threads (see ganatlas.threads)."""
    import onnxruntime as ort

    from ganatlas.threads import onnx_session_options

    opts = onnx_session_options()
    return ort.InferenceSession(
        str(path), sess_options=opts, providers=list(providers or ["CPUExecutionProvider"])
    )


def default_testdata() -> Path:
    """``$GANATLAS_TESTDATA`` or ``<repo>/../shared/testdata`` (where default models are found)."""
    import os

    repo = Path(__file__).resolve().parents[2]
    return Path(os.environ.get("GANATLAS_TESTDATA", repo.parent / "shared" / "testdata"))

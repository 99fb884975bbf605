"""SCRFD pre- and post-processing split into stages, so the detect stage can prepare the next
image (decode, letterbox, normalise) on a reader thread while onnxruntime runs the current one.

Same arithmetic as InsightFace's SCRFD.detect (letterbox to the top-left of a square canvas,
(RGB - 127.5) / 128, anchor-point decoding of distances, greedy NMS at IoU 0.4 with the "+1"
pixel-area convention); the difference is that only anchors above the threshold are decoded.
tests/test_faces.py checks the two agree on real photos.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class SCRFDLayout:
    """How an SCRFD graph lays out its outputs.

    strides: feature strides (8, 16, 32[, 64, 128]); num_anchors: anchors per cell (2 or 1);
    use_kps: whether keypoint outputs follow; outputs are [scores per stride, boxes per stride,
    keypoints per stride], each [A, C] or [1, A, C].
    """

    strides: tuple[int, ...]
    num_anchors: int
    use_kps: bool
    input_mean: float = 127.5
    input_std: float = 128.0

    @classmethod
    def from_output_count(cls, n: int) -> SCRFDLayout:
        """The layout of an SCRFD export with ``n`` outputs (6, 9, 10 or 15)."""
        if n in (6, 9):
            return cls((8, 16, 32), 2, n == 9)
        if n in (10, 15):
            return cls((8, 16, 32, 64, 128), 1, n == 15)
        raise ValueError(f"not an SCRFD graph: {n} outputs (expected 6, 9, 10 or 15)")


def letterbox(img_bgr: np.ndarray, size: int) -> tuple[np.ndarray, float]:
    """Fit ``img_bgr`` [H, W, 3] into the top-left of a black [size, size, 3] canvas.

    Returns (canvas uint8 [size, size, 3], scale) with canvas pixel = scale * image pixel.
    """
    import cv2

    h, w = img_bgr.shape[:2]
    if h > w:
        new_h, new_w = size, int(size / (h / w))
    else:
        new_w, new_h = size, int(size * (h / w))
    scale = new_h / h
    canvas = np.zeros((size, size, 3), dtype=np.uint8)
    canvas[:new_h, :new_w] = cv2.resize(img_bgr, (new_w, new_h))
    return canvas, scale


def to_blob(canvas_bgr: np.ndarray, layout: SCRFDLayout) -> np.ndarray:
    """BGR uint8 [S, S, 3] -> float32 [1, 3, S, S] RGB, (x - mean) / std."""
    import cv2

    size = canvas_bgr.shape[:2][::-1]
    mean = (layout.input_mean,) * 3
    blob = cv2.dnn.blobFromImage(canvas_bgr, 1.0 / layout.input_std, size, mean, swapRB=True)
    return np.ascontiguousarray(blob, dtype=np.float32)


def decode(
    outputs: list[np.ndarray], layout: SCRFDLayout, size: int, scale: float, thresh: float
) -> tuple[np.ndarray, np.ndarray | None]:
    """Raw SCRFD outputs at input ``size`` -> (dets [F, 5] x1, y1, x2, y2, score in image pixels,
    kps [F, 5, 2] or None), sorted by score, after NMS."""
    fmc = len(layout.strides)
    boxes, scores, points = [], [], []
    for k, stride in enumerate(layout.strides):
        s = outputs[k].reshape(-1)
        pos = np.flatnonzero(s >= thresh)
        if pos.size == 0:
            continue
        cell = pos // layout.num_anchors
        width = size // stride
        cx = ((cell % width) * stride).astype(np.float32)
        cy = ((cell // width) * stride).astype(np.float32)
        d = outputs[k + fmc].reshape(-1, 4)[pos] * stride
        boxes.append(np.stack([cx - d[:, 0], cy - d[:, 1], cx + d[:, 2], cy + d[:, 3]], axis=-1))
        scores.append(s[pos])
        if layout.use_kps:
            p = outputs[k + 2 * fmc].reshape(-1, 10)[pos] * stride
            points.append(np.stack([cx[:, None] + p[:, 0::2], cy[:, None] + p[:, 1::2]], axis=-1))
    if not scores:
        return np.empty((0, 5), np.float32), (
            np.empty((0, 5, 2), np.float32) if layout.use_kps else None
        )
    dets = np.hstack([np.vstack(boxes) / scale, np.concatenate(scores)[:, None]]).astype(np.float32)
    order = np.argsort(-dets[:, 4], kind="stable")
    dets = dets[order]
    kps = (np.vstack(points) / scale).astype(np.float32)[order] if layout.use_kps else None
    keep = nms(dets)
    return dets[keep], (None if kps is None else kps[keep])


def nms(dets: np.ndarray, iou: float = 0.4) -> np.ndarray:
    """Greedy non-maximum suppression of dets [F, 5] sorted by score; indices kept, in order."""
    x1, y1, x2, y2 = dets[:, 0], dets[:, 1], dets[:, 2], dets[:, 3]
    areas = (x2 - x1 + 1) * (y2 - y1 + 1)
    remaining = np.arange(len(dets))
    keep = []
    while remaining.size:
        i, rest = remaining[0], remaining[1:]
        keep.append(i)
        w = np.maximum(0.0, np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]) + 1)
        h = np.maximum(0.0, np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]) + 1)
        inter = w * h
        remaining = rest[inter / (areas[i] + areas[rest] - inter) <= iou]
    return np.asarray(keep, dtype=np.int64)

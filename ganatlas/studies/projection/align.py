"""FFHQ-style face alignment from five landmarks (eye centres, mouth corners).

The FFHQ recipe (Karras et al. 2019, facts of the data set's construction, written here anew):
with ``e_l, e_r`` the eye centres (means of the iBUG 68-point eye contours 36-41 and 42-47,
image-left first) and ``m_l, m_r`` the mouth corners (points 48 and 54),

- ``eye_avg = (e_l + e_r) / 2``, ``eye_to_eye = e_r - e_l``, ``eye_to_mouth = (m_l + m_r) / 2 - eye_avg``;
- ``x = eye_to_eye - rot90(eye_to_mouth)`` normalised, then scaled to
  ``max(2 |eye_to_eye|, 1.8 |eye_to_mouth|)``; ``y = rot90(x)`` (pointing down the face);
- the crop is the square ``c -/+ x -/+ y`` around ``c = eye_avg + 0.1 eye_to_mouth``, side ``2 |x|``,
  mapped onto the output square; where it leaves the photo, the photo is reflected and that
  border is blurred (sigma 2 % of the crop) and blended towards the photo's median colour.

The five points of SCRFD (and of ganatlas's dlib backend, computed from the 68 points exactly as
FFHQ does) are all the recipe needs, so any detector backend with keypoints can align.
Coordinates are continuous with the photo's top-left corner at (0, 0), as FFHQ used dlib's
points; the saved transform maps photo coordinates to aligned-image coordinates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


class NoFaceError(ValueError):
    """No face (or no landmarks) in a photo: the projection records an error row."""


@dataclass
class Alignment:
    """quad: [4, 2] corners in the photo (top-left, bottom-left, bottom-right, top-right of the
    output); matrix: [2, 3] photo -> output coordinates (a similarity); size: output side (px);
    kps: [5, 2] landmarks in the photo."""

    quad: np.ndarray
    matrix: np.ndarray
    size: int
    kps: np.ndarray

    def to_output(self, points: np.ndarray) -> np.ndarray:
        """``points: [K, 2]`` photo coordinates -> ``[K, 2]`` aligned-image coordinates."""
        pts = np.asarray(points, np.float64).reshape(-1, 2)
        return pts @ self.matrix[:, :2].T + self.matrix[:, 2]

    def as_dict(self) -> dict:
        return {
            "size": int(self.size),
            "matrix": self.matrix.tolist(),
            "quad": self.quad.tolist(),
            "kps": np.asarray(self.kps, np.float64).tolist(),
        }


def ffhq_quad(kps: np.ndarray) -> np.ndarray:
    """``kps: [5, 2]`` (left eye, right eye, nose, left mouth, right mouth) -> quad ``[4, 2]``."""
    kps = np.asarray(kps, np.float64)
    if kps.shape != (5, 2) or not np.isfinite(kps).all():
        raise ValueError(f"expected five finite landmarks [5, 2], got shape {kps.shape}")
    eye_l, eye_r, _, mouth_l, mouth_r = kps
    eye_avg = (eye_l + eye_r) / 2
    eye_to_eye = eye_r - eye_l
    eye_to_mouth = (mouth_l + mouth_r) / 2 - eye_avg
    x = eye_to_eye - np.array([-eye_to_mouth[1], eye_to_mouth[0]])
    norm = np.hypot(*x)
    if norm < 1e-6:
        raise ValueError(f"degenerate landmarks {kps.tolist()}: eyes and mouth coincide")
    x = x / norm * max(np.hypot(*eye_to_eye) * 2.0, np.hypot(*eye_to_mouth) * 1.8)
    y = np.array([-x[1], x[0]])
    c = eye_avg + eye_to_mouth * 0.1
    return np.stack([c - x - y, c - x + y, c + x + y, c + x - y])


def quad_matrix(quad: np.ndarray, size: int) -> np.ndarray:
    """The similarity ``[2, 3]`` that maps ``quad`` onto the square [0, size]^2 (corner order as
    in :func:`ffhq_quad`)."""
    quad = np.asarray(quad, np.float64)
    x_axis = (quad[3] - quad[0]) / size  # photo displacement per output pixel along u
    y_axis = (quad[1] - quad[0]) / size
    inv = np.linalg.inv(np.stack([x_axis, y_axis], axis=1))  # output = inv @ (p - quad[0])
    return np.concatenate([inv, (-inv @ quad[0])[:, None]], axis=1)


def canonical_eyes(kps: np.ndarray, size: int) -> np.ndarray:
    """Where FFHQ's recipe puts the two eye centres of ``kps`` in a ``size`` px image: ``[2, 2]``."""
    m = quad_matrix(ffhq_quad(kps), size)
    return np.asarray(kps, np.float64)[:2] @ m[:, :2].T + m[:, 2]


def _warp(img: np.ndarray, matrix: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Warp ``img [H, W, 3]`` by the continuous-coordinate ``matrix`` into ``size`` px; also the
    map ``[size, size]`` of how far (photo px) each output pixel's source lies outside the photo."""
    import cv2

    scale = float(np.sqrt(abs(np.linalg.det(matrix[:, :2]))))  # output px per photo px
    m = matrix.copy()
    if scale < 1.0:  # anti-alias: area-resize the photo first, then warp at unit scale
        h, w = img.shape[:2]
        nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
        img = cv2.resize(img, (nw, nh), interpolation=cv2.INTER_AREA)
        sx, sy = nw / w, nh / h
        m = m @ np.array([[1 / sx, 0, 0], [0, 1 / sy, 0], [0, 0, 1]])
    # cv2 indexes pixel centres at integers; the matrix is in corner-origin coordinates
    shift_in = np.array([[1, 0, 0.5], [0, 1, 0.5], [0, 0, 1]])
    full = np.vstack([m, [0, 0, 1]])
    m_idx = (np.array([[1, 0, -0.5], [0, 1, -0.5], [0, 0, 1]]) @ full @ shift_in)[:2]
    out = cv2.warpAffine(img, m_idx, (size, size), flags=cv2.INTER_CUBIC,
                         borderMode=cv2.BORDER_REFLECT)  # fmt: skip
    inv = cv2.invertAffineTransform(m_idx)
    uu, vv = np.meshgrid(np.arange(size, dtype=np.float64), np.arange(size, dtype=np.float64))
    sx_ = inv[0, 0] * uu + inv[0, 1] * vv + inv[0, 2]
    sy_ = inv[1, 0] * uu + inv[1, 1] * vv + inv[1, 2]
    h, w = img.shape[:2]
    outside = np.maximum.reduce(
        [-sx_, sx_ - (w - 1), -sy_, sy_ - (h - 1), np.zeros_like(sx_)]
    ) / min(scale, 1.0)
    return out, outside


def align_image(img: np.ndarray, kps: np.ndarray, size: int) -> tuple[np.ndarray, Alignment]:
    """FFHQ-align ``img: [H, W, 3]`` uint8 (any channel order) with landmarks ``kps: [5, 2]``.

    Returns the aligned image ``[size, size, 3]`` uint8 and its :class:`Alignment`.
    """
    import cv2

    if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
        raise ValueError(f"expected an image [H, W, 3] uint8, got {img.shape} {img.dtype}")
    if size < 4:
        raise ValueError(f"aligned size must be >= 4 px, got {size}")
    quad = ffhq_quad(kps)
    matrix = quad_matrix(quad, size)
    out, outside = _warp(img, matrix, size)
    qsize = float(np.hypot(*(quad[3] - quad[0])))
    border = max(qsize * 0.1, 3.0)  # photo px over which the padding fades out
    mask = np.clip(outside / border, 0.0, 1.0)[:, :, None]
    if mask.max() > 0:
        sigma = max(size * 0.02, 0.5)  # FFHQ: 2 % of the crop
        blurred = cv2.GaussianBlur(out.astype(np.float32), (0, 0), sigma)
        med = np.median(img.reshape(-1, 3), axis=0).astype(np.float32)
        f = out.astype(np.float32)
        f += (blurred - f) * np.clip(mask * 3.0, 0.0, 1.0)
        f += (med - f) * mask
        out = np.clip(np.rint(f), 0, 255).astype(np.uint8)
    return out, Alignment(quad=quad, matrix=matrix, size=size, kps=np.asarray(kps, np.float64))


def largest_face(faces: list) -> object:
    """The face with the largest box (the photo's subject), NoFaceError when none has keypoints."""
    faces = [f for f in faces if getattr(f, "kps", None) is not None]
    if not faces:
        raise NoFaceError("no face with landmarks found")
    return max(faces, key=lambda f: float((f.bbox[2] - f.bbox[0]) * (f.bbox[3] - f.bbox[1])))

"""Head pose (yaw, pitch, roll in degrees) from five facial points: a geometric estimate.

Points: the detector's 5 keypoints (eye, eye, nose tip, mouth corner, mouth corner; the first of
each pair is the one on the image's left), or, when the face's ``extra`` carries InsightFace's
``landmark_3d_68`` ([68, 3], iBUG 68-point order) or ``landmark_2d_68`` ([68, 2]), the same five
points taken from the 68 landmarks (eye centres = mean of points 36-41 and 42-47, nose tip 30,
mouth corners 48 and 54), which are more precise than SCRFD's.

Estimate (a weak-perspective head with the nose tip ``DEPTH`` inter-ocular distances in front of
the eye/mouth plane):

- roll = the angle of the eye line, ``atan2(dy, dx)`` from the image-left eye to the image-right
  eye. The points are then rotated by -roll about the eye midpoint.
- yaw = ``atan2(nose_x - axis_x, DEPTH * iod)``, with ``axis_x`` the mean of the eye and mouth
  midpoints' x (the face's midline) and ``iod`` the inter-ocular distance (both after de-rolling).
- pitch = ``atan2(T0 - t, DEPTH * iod / h)``, with ``t`` the nose tip's height between eye line
  (0) and mouth line (1), ``h`` the eye-to-mouth distance and ``T0 = 0.497`` the frontal value of
  the ArcFace 5-point template.

Sign convention (image coordinates, x right, y down):

- yaw > 0: the nose points to the image's right (the subject turned to their left);
- roll > 0: the eye line descends to the right (the head tilted clockwise in the image);
- pitch > 0: the nose sits higher than frontal (chin up, looking up).

Mirroring an image left-right flips the signs of yaw and roll and keeps pitch. The magnitudes
are estimates (good to perhaps 10 degrees within +-45 degrees, saturating past that), adequate
for ranking and for linear boundaries, not for metrology.

``pack_pose: true`` adds ``<prefix>pose3d_pitch/yaw/roll``: InsightFace's own angles from
``extra["pose"]`` (its 1k3d68 model, order pitch, yaw, roll; InsightFace's signs, unchanged).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ganatlas.faces.types import Face

DEPTH = 0.5  # nose-tip depth in front of the eye/mouth plane, in inter-ocular distances
T0 = 0.497  # frontal nose height between eye line (0) and mouth line (1), ArcFace template


def five_points(face: Face, use_landmarks: bool = True) -> np.ndarray | None:
    """[5, 2] float64 (image-left eye, image-right eye, nose, left and right mouth corner) from
    68 landmarks in ``face.extra`` when present and allowed, else from ``face.kps``; None if
    neither exists."""
    if use_landmarks:
        for key in ("landmark_3d_68", "landmark_2d_68"):
            lm = face.extra.get(key)
            if lm is not None:
                lm = np.asarray(lm, dtype=np.float64)[:, :2]
                if lm.shape == (68, 2):
                    e1, e2 = lm[36:42].mean(0), lm[42:48].mean(0)
                    m1, m2 = lm[48], lm[54]
                    if e1[0] > e2[0]:  # keep image-left first
                        e1, e2, m1, m2 = e2, e1, m2, m1
                    return np.stack([e1, e2, lm[30], m1, m2])
    if face.kps is None:
        return None
    return np.asarray(face.kps, dtype=np.float64).reshape(5, 2)


def pose_from_points(pts: np.ndarray) -> tuple[float, float, float]:
    """(yaw, pitch, roll) in degrees from pts [5, 2] (see the module docstring)."""
    le, re, nose, lm, rm = pts
    d = re - le
    roll = np.arctan2(d[1], d[0])
    c, s = np.cos(-roll), np.sin(-roll)
    rot = np.array([[c, -s], [s, c]])
    eye_mid = (le + re) / 2
    p = (pts - eye_mid) @ rot.T  # de-rolled, eye midpoint at the origin
    iod = max(p[1, 0] - p[0, 0], 1e-6)
    mouth = (p[3] + p[4]) / 2
    axis_x = mouth[0] / 2  # mean of eye midpoint (0) and mouth midpoint x
    yaw = np.arctan2(p[2, 0] - axis_x, DEPTH * iod)
    h = max(mouth[1], 1e-6)
    t = p[2, 1] / h
    pitch = np.arctan2(T0 - t, DEPTH * iod / h)
    return float(np.degrees(yaw)), float(np.degrees(pitch)), float(np.degrees(roll))


@dataclass
class PoseScorer:
    """Outputs ``<prefix>yaw, <prefix>pitch, <prefix>roll`` (degrees), see the module docstring.

    use_landmarks: prefer 68 landmarks in ``Face.extra`` over the 5 keypoints; pack_pose: also
    output InsightFace's own 3D pose angles (NaN where the face has none).
    """

    name: str = "pose"
    prefix: str = ""
    use_landmarks: bool = True
    pack_pose: bool = False
    outputs: list[str] = field(init=False)

    def __post_init__(self) -> None:
        self.outputs = [self.prefix + k for k in ("yaw", "pitch", "roll")]
        if self.pack_pose:
            self.outputs += [self.prefix + "pose3d_" + k for k in ("pitch", "yaw", "roll")]

    def score(
        self, images: Sequence[np.ndarray], faces: Sequence[Face | None]
    ) -> dict[str, np.ndarray]:
        """faces: [N] -> {yaw, pitch, roll (, pose3d_*)}: [N] float64 degrees, NaN without face
        or points."""
        out = np.full((len(faces), len(self.outputs)), np.nan)
        for i, f in enumerate(faces):
            if f is None:
                continue
            pts = five_points(f, self.use_landmarks)
            if pts is not None:
                out[i, :3] = pose_from_points(pts)
            if self.pack_pose and f.extra.get("pose") is not None:
                out[i, 3:6] = np.asarray(f.extra["pose"], dtype=np.float64).ravel()[:3]
        return {k: out[:, j] for j, k in enumerate(self.outputs)}

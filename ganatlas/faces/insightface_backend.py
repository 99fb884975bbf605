"""InsightFace (SCRFD detector, ArcFace recogniser, optional landmark / gender-age models) through
onnxruntime, with explicit providers, explicit model files and an explicit square det_size.

Models come from local files only; nothing is ever downloaded:

- a *pack*: a directory of ``.onnx`` files such as InsightFace's ``buffalo_l``, given as a name
  under ``<root>/models/`` or as a directory path. Each file is routed by InsightFace's model zoo
  (detection, recognition, landmark_2d_106, landmark_3d_68, genderage); files it does not
  recognise (e.g. an unrelated ``emotion.onnx``) are skipped. Packs with an InsightFace 2.x
  manifest are loaded through ``FaceAnalysis(name=<directory>)``, which reads a directory without
  downloading.
- explicit files: ``det_model`` (an SCRFD ``.onnx``) and optionally ``rec_model`` (an ArcFace
  ``.onnx``); either overrides the pack's model of that task. A relative name is looked up in
  the pack directory first.

Embeddings: ArcFace on the 5-point aligned 112x112 crop (InsightFace ``norm_crop``), stored
**L2-normalised** in ``Face.embedding``; the raw vector's norm is kept in
``Face.extra["embedding_norm"]``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ganatlas.faces.scrfd import SCRFDLayout, decode, letterbox, to_blob
from ganatlas.faces.types import Face

OFFLINE_HINT = (
    "models are never downloaded at run time; to supply a pack offline, unzip buffalo_l.zip "
    "(InsightFace's release) into <root>/models/buffalo_l (default root ~/.insightface) so that "
    "the .onnx files lie directly in that folder, or set detector.det_model to an SCRFD .onnx file "
    "(and detector.rec_model to an ArcFace .onnx file)"
)


def offline_hint(expected: Path | None = None) -> str:
    """OFFLINE_HINT, naming the folder the pack was expected in."""
    if expected is None:
        return OFFLINE_HINT
    return OFFLINE_HINT.replace(
        "into <root>/models/buffalo_l (default root ~/.insightface)",
        f"into <root>/models/buffalo_l (here: {expected.parent / 'buffalo_l'})",
    )


#: The InsightFace release the internals below were checked against (the installed one; 2.0's
#: source has them too, 1.0.1 lacks ``package_manifest``: hence ``insightface>=2.0``).
INSIGHTFACE_CHECKED_VERSION = "2.1"

#: Every InsightFace internal this package reads - attributes of its model objects that are not
#: documented API (most are set in ``__init__``; leading underscore = private), and modules
#: outside ``insightface.app`` - by ``"module:Class"`` or ``"module"``, each with what it is used
#: for. tests/test_envs.py checks that each exists in the installed release. Update this table
#: when the code reads another one.
INSIGHTFACE_INTERNALS: dict[str, dict[str, str]] = {
    "insightface.model_zoo.scrfd:SCRFD": {
        "_feat_stride_fpn": "SCRFDLayout.strides (staged detect path)",
        "_num_anchors": "SCRFDLayout.num_anchors",
        "use_kps": "SCRFDLayout.use_kps",
        "input_mean": "SCRFDLayout.input_mean (blob normalisation)",
        "input_std": "SCRFDLayout.input_std",
        "_session_for_input_size": "fixed-shape session per det_size (2.x; else .session)",
        "session": "onnxruntime session of the dynamic-shape graph (fallback)",
        "input_name": "session.run feed name",
        "output_names": "session.run outputs, in SCRFD's score/bbox/kps order",
        "taskname": "routing a file to its task ('detection')",
        "model_file": "the file a FaceAnalysis pack model came from",
        "prepare": "prepare(ctx_id, input_size=, det_thresh=)",
    },
    "insightface.model_zoo.arcface_onnx:ArcFaceONNX": {
        "taskname": "routing ('recognition')",
        "model_file": "model_names / model_files",
        "prepare": "prepare(ctx_id)",
        "get": "get(img, face) -> raw embedding (fills face['embedding'])",
    },
    "insightface.model_zoo.landmark:Landmark": {
        "taskname": "routing ('landmark_2d_106', 'landmark_3d_68')",
        "model_file": "model_names / model_files",
        "prepare": "prepare(ctx_id)",
        "get": "get(img, face) fills face['landmark_*'] (and 'pose' for 3d_68)",
    },
    "insightface.model_zoo.attribute:Attribute": {
        "taskname": "routing ('genderage')",
        "model_file": "model_names / model_files",
        "prepare": "prepare(ctx_id)",
        "get": "get(img, face) fills face['gender'], face['age']",
    },
    "insightface.app.face_analysis:FaceAnalysis": {
        "models": "task -> model dict of a manifest (2.x) pack",
    },
    "insightface.app.common:Face": {
        "get": "the dict the models read (bbox, kps, det_score) and write (_EXTRA_KEYS)",
    },
    "insightface.model_zoo.model_zoo": {
        "get_model": "get_model(path, providers=, sess_options=) routes one .onnx",
    },
    "insightface.model_zoo.package_manifest": {
        "has_model_package_manifest": "whether a pack is a 2.x manifest pack (-> FaceAnalysis)",
    },
    "insightface.utils.face_align": {
        "norm_crop": "ArcFace's 5-point aligned crop (aligned_crop)",
    },
}

#: The tasks the detect stage needs; every other task of a pack is an "extra" task.
CORE_TASKS = ("detection", "recognition")

#: Keys an InsightFace model writes into its face dict that are copied to ``Face.extra``.
_EXTRA_KEYS = ("landmark_2d_106", "landmark_3d_68", "pose", "gender", "age")


def pack_dir(pack: str | Path | None, root: str | Path | None) -> Path | None:
    """The directory of ``pack``: itself when it is a directory, else ``<root>/models/<pack>``.

    Returns None when ``pack`` is None; the returned path may not exist (see expected_pack_dir).
    """
    if pack is None:
        return None
    direct = Path(str(pack)).expanduser()
    if direct.is_dir() or len(direct.parts) > 1 or root is None:
        return direct
    return Path(str(root)).expanduser() / "models" / str(pack)


def pack_present(pack: str | Path | None, root: str | Path | None) -> bool:
    """True when the pack's directory exists and holds at least one ``.onnx`` file."""
    d = pack_dir(pack, root)
    return d is not None and d.is_dir() and any(d.glob("*.onnx"))


def available_providers(requested: Sequence[Any]) -> list[Any]:
    """``requested`` onnxruntime providers that this build has (names or (name, options) pairs).

    Unavailable ones are dropped with a line on stderr; none left is a ValueError.
    """
    import onnxruntime

    have = set(onnxruntime.get_available_providers())
    kept = [p for p in requested if (p[0] if isinstance(p, (tuple, list)) else p) in have]
    dropped = [p for p in requested if p not in kept]
    if dropped:
        print(
            f"onnxruntime: providers {dropped} are not available in this build "
            f"(available: {sorted(have)}); using {kept}",
            file=sys.stderr,
        )
    if not kept:
        raise ValueError(
            f"none of the onnxruntime providers {list(requested)} is available; "
            f"this build has {sorted(have)}"
        )
    return kept


def _load_model(path: Path, providers: list[Any], sess_options: Any = None) -> Any:
    """One InsightFace model object routed by its graph (None when InsightFace does not know it)."""
    from insightface.model_zoo import model_zoo

    kwargs: dict[str, Any] = {"providers": providers}
    if sess_options is not None:
        kwargs["sess_options"] = sess_options
    return model_zoo.get_model(str(path), **kwargs)


def _resolve_file(value: str | Path, pack_directory: Path | None, key: str) -> Path:
    """An explicit model file: relative names are looked up in the pack directory first."""
    path = Path(str(value)).expanduser()
    if not path.is_absolute() and pack_directory is not None and (pack_directory / path).is_file():
        return pack_directory / path
    if not path.is_file():
        raise FileNotFoundError(f"detector.{key}: model file not found: {path}; {OFFLINE_HINT}")
    return path


def load_pack_models(
    directory: Path, providers: list[Any], sess_options: Any = None
) -> tuple[dict[str, Any], dict[str, Path]]:
    """Route every ``.onnx`` in ``directory`` to its InsightFace task.

    Returns (models by task, file by task). Sorted by file name, the first file of a task wins
    (as in FaceAnalysis); unrecognised or unloadable files are skipped with a line on stderr.
    """
    from insightface.model_zoo.package_manifest import has_model_package_manifest

    if has_model_package_manifest(str(directory)):
        from insightface.app import FaceAnalysis

        fa = FaceAnalysis(name=str(directory), providers=providers)
        files = {t: Path(getattr(m, "model_file", directory)) for t, m in fa.models.items()}
        return dict(fa.models), files
    models: dict[str, Any] = {}
    files: dict[str, Path] = {}
    for f in sorted(directory.glob("*.onnx")):
        try:
            model = _load_model(f, providers, sess_options)
        except Exception as exc:  # a foreign .onnx must not break a pack
            print(f"insightface: skipping {f.name}: {type(exc).__name__}: {exc}", file=sys.stderr)
            continue
        task = getattr(model, "taskname", None)
        if task is None:
            print(f"insightface: skipping {f.name}: not an InsightFace model", file=sys.stderr)
        elif task in models:
            print(
                f"insightface: {task}: using {files[task].name}, ignoring {f.name}", file=sys.stderr
            )
        else:
            models[task], files[task] = model, f
    return models, files


class InsightFaceBackend:
    """SCRFD detection (+ ArcFace embedding, + optional pack models) of one BGR image.

    analyze(img_bgr [H, W, 3] uint8) -> list[Face] sorted by score, best first; Face.bbox [4],
    Face.kps [5, 2], Face.embedding [512] L2-normalised (None without a recogniser), Face.extra:
    ``embedding_norm`` and, for the extra tasks that run, ``landmark_2d_106`` [106, 2],
    ``landmark_3d_68`` [68, 3], ``pose`` [3] (pitch, yaw, roll), ``gender`` (0 female, 1 male),
    ``age``. The instance is safe to share between threads (onnxruntime sessions are).
    """

    name = "insightface"

    def __init__(
        self,
        *,
        pack: str | Path | None = None,
        root: str | Path | None = "~/.insightface",
        det_model: str | Path | None = None,
        rec_model: str | Path | None = None,
        det_size: int = 640,
        det_thresh: float = 0.5,
        providers: Sequence[Any] = ("CPUExecutionProvider",),
        extra_tasks: Sequence[str] | str = "all",
        intra_op_threads: int | None = None,
    ) -> None:
        if isinstance(det_size, bool) or not isinstance(det_size, int) or det_size < 32:
            raise ValueError(f"detector.det_size must be an integer >= 32, got {det_size!r}")
        if det_size % 32:
            raise ValueError(
                f"detector.det_size must be a multiple of 32 for SCRFD (strides 8/16/32), "
                f"got {det_size}"
            )
        if not 0.0 <= float(det_thresh) <= 1.0:
            raise ValueError(f"detector.det_thresh must be in [0, 1], got {det_thresh!r}")
        self.det_size = int(det_size)
        self.det_thresh = float(det_thresh)
        self.providers = available_providers(list(providers))
        from ganatlas.threads import job_threads, onnx_session_options

        sess_options = None
        if intra_op_threads or job_threads():
            sess_options = onnx_session_options(intra_op_threads)

        directory = pack_dir(pack, root)
        models: dict[str, Any] = {}
        files: dict[str, Path] = {}
        if directory is not None and directory.is_dir():
            models, files = load_pack_models(directory, self.providers, sess_options)
        elif det_model is None and directory is None:
            raise FileNotFoundError(
                f"no InsightFace models configured: set detector.pack or detector.det_model; "
                f"{OFFLINE_HINT}"
            )
        elif det_model is None:
            raise FileNotFoundError(
                f"InsightFace model pack {pack!r} not found: expected a directory of .onnx files "
                f"at {directory}; {offline_hint(directory)}"
            )
        for key, task, value in (
            ("det_model", "detection", det_model),
            ("rec_model", "recognition", rec_model),
        ):
            if value is None:
                continue
            path = _resolve_file(value, directory, key)
            model = _load_model(path, self.providers, sess_options)
            if getattr(model, "taskname", None) != task:
                got = getattr(model, "taskname", "unrecognised")
                raise ValueError(
                    f"detector.{key}: {path} is not a {task} model (InsightFace: {got})"
                )
            models[task], files[task] = model, path
        if "detection" not in models:
            raise FileNotFoundError(
                f"no face detector (SCRFD .onnx) in {directory}; {OFFLINE_HINT}"
            )
        self.models = models
        self.model_files = files
        self.detector = models["detection"]
        self.recognizer = models.get("recognition")
        extras = [t for t in models if t not in CORE_TASKS]
        if extra_tasks != "all":
            unknown = sorted(set(extra_tasks) - set(extras))
            if unknown:
                raise ValueError(f"extra_tasks {unknown} not in the loaded models {extras}")
            extras = [t for t in extras if t in extra_tasks]
        self.extra_tasks = extras
        self.pack_dir = directory if directory is not None and directory.is_dir() else None
        used = ["detection", "recognition", *self.extra_tasks]
        self.model_names = "+".join(files[t].name for t in used if t in files)
        self.detector.prepare(
            0, input_size=(self.det_size, self.det_size), det_thresh=self.det_thresh
        )
        for task, model in models.items():
            if task != "detection":
                model.prepare(0)

        self._init_fast_path()

    def _init_fast_path(self) -> None:
        """The session and output layout InsightFace's SCRFD uses at det_size, for the staged path.

        InsightFace 2.x builds a fixed-shape copy of the graph per input size (faster than the
        dynamic-shape graph); it is fetched once here instead of on every call.
        """
        det = self.detector
        size = (self.det_size, self.det_size)
        getter = getattr(det, "_session_for_input_size", None)
        self.det_session = getter(size) if callable(getter) else det.session
        self._input_name = det.input_name
        self._output_names = list(det.output_names)
        self.layout = SCRFDLayout(
            strides=tuple(int(s) for s in det._feat_stride_fpn),
            num_anchors=int(det._num_anchors),
            use_kps=bool(det.use_kps),
            input_mean=float(det.input_mean),
            input_std=float(det.input_std),
        )

    def detect(self, img_bgr: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """SCRFD at det_size: (dets [F, 5] x1, y1, x2, y2, score; kps [F, 5, 2] or None)."""
        return self.detect_preprocessed(self.preprocess(img_bgr))

    def preprocess(self, img_bgr: np.ndarray) -> tuple[np.ndarray, float]:
        """Letterboxed, normalised detector input: (blob [1, 3, S, S] float32, scale)."""
        canvas, scale = letterbox(img_bgr, self.det_size)
        return to_blob(canvas, self.layout), scale

    def detect_preprocessed(
        self, pre: tuple[np.ndarray, float]
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """session.run + decoding of a ``preprocess`` result (see detect)."""
        blob, scale = pre
        outputs = self.det_session.run(self._output_names, {self._input_name: blob})
        return decode(outputs, self.layout, self.det_size, scale, self.det_thresh)

    def analyze(self, img_bgr: np.ndarray) -> list[Face]:
        """Detect, embed and (extra tasks) describe every face: list[Face], best first."""
        return self.analyze_preprocessed(img_bgr, self.preprocess(img_bgr))

    def analyze_preprocessed(
        self, img_bgr: np.ndarray, pre: tuple[np.ndarray, float]
    ) -> list[Face]:
        """analyze() with the detector input already prepared by ``preprocess(img_bgr)``."""
        from insightface.app.common import Face as InsightFaceDict

        dets, kpss = self.detect_preprocessed(pre)
        faces = []
        for i in np.argsort(-dets[:, 4], kind="stable"):
            kps = None if kpss is None else kpss[i].astype(np.float32)
            face = Face(bbox=dets[i, :4].astype(np.float32), score=float(dets[i, 4]), kps=kps)
            if kps is not None and (self.recognizer is not None or self.extra_tasks):
                d = InsightFaceDict(bbox=dets[i, :4], kps=kpss[i], det_score=dets[i, 4])
                if self.recognizer is not None:
                    raw = np.asarray(self.recognizer.get(img_bgr, d), dtype=np.float32).ravel()
                    norm = float(np.linalg.norm(raw))
                    face.embedding = raw / norm if norm > 0 else raw
                    face.extra["embedding_norm"] = norm
                for task in self.extra_tasks:
                    self.models[task].get(img_bgr, d)
                for key in _EXTRA_KEYS:
                    if d.get(key) is not None:
                        face.extra[key] = d[key]
            faces.append(face)
        return faces


def aligned_crop(img_bgr: np.ndarray, kps: np.ndarray, size: int = 112) -> np.ndarray:
    """ArcFace's similarity-aligned crop: img_bgr [H, W, 3], kps [5, 2] -> [size, size, 3] BGR."""
    from insightface.utils import face_align

    return face_align.norm_crop(img_bgr, landmark=np.asarray(kps, np.float32), image_size=size)

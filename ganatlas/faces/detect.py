"""The detect stage: score image files with a face backend into one Parquet row per image."""

from __future__ import annotations

import sys
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from ganatlas.atomic import write_parquet_atomic
from ganatlas.faces.schema import DETECTION_SCHEMA, REPORT_CSV_COLUMNS
from ganatlas.faces.types import FaceBackend, best_face

#: Largest image (width x height) the detect stage decodes: 64 Mpx, about 200 MB as BGR uint8.
#: Checked from the file's header before decoding; raise it for larger photos on purpose.
MAX_IMAGE_PIXELS = 1 << 26


def read_bgr(path: str | Path, max_pixels: int | None = None) -> np.ndarray:
    """Read an image file as BGR uint8 [H, W, 3]; ValueError for anything else.

    Only regular files are opened (a FIFO or device would block); the size is read from the
    header first and an image over ``max_pixels`` (default :data:`MAX_IMAGE_PIXELS`) is refused
    before any pixel is decoded; every decoder error becomes a ValueError naming the file.
    """
    import stat

    import cv2
    from PIL import Image

    limit = MAX_IMAGE_PIXELS if max_pixels is None else int(max_pixels)
    try:
        mode = Path(path).stat().st_mode
    except OSError:
        raise ValueError(f"unreadable image {path} (missing file)") from None
    if not stat.S_ISREG(mode):
        raise ValueError(f"unreadable image {path} (not a regular file)")
    try:
        with Image.open(path) as header:
            width, height = header.size
    except Image.DecompressionBombError as exc:  # Pillow's own, larger cap
        raise ValueError(
            f"unreadable image {path} ({exc}; over the limit of {limit:,} pixels)"
        ) from None
    except Exception as exc:  # any decoder failure is a bad image
        raise ValueError(f"unreadable image {path} (cannot decode: {exc})") from None
    if width * height > limit:
        raise ValueError(
            f"unreadable image {path} ({width} x {height} = {width * height:,} pixels, over the "
            f"limit of {limit:,}; raise ganatlas.faces.detect.MAX_IMAGE_PIXELS on purpose)"
        )
    try:
        img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    except cv2.error as exc:
        raise ValueError(f"unreadable image {path} (cannot decode: {exc})") from None
    if img is None or img.ndim != 3 or img.shape[2] != 3 or min(img.shape[:2]) < 1:
        raise ValueError(f"unreadable image {path} (cannot decode)")
    return img


def _as_list(a: np.ndarray | None) -> list[float] | None:
    return None if a is None else np.asarray(a, np.float32).ravel().tolist()


def try_read(path: str | Path) -> np.ndarray | str:
    """read_bgr(path), or the error message when the image cannot be read."""
    try:
        return read_bgr(path)
    except ValueError as exc:
        return str(exc)


def read_and_preprocess(path: str | Path, backend: FaceBackend) -> Any:
    """try_read(path), paired with ``backend.preprocess(img)`` when the backend has stages."""
    img = try_read(path)
    if isinstance(img, str) or not hasattr(backend, "preprocess"):
        return img
    return img, backend.preprocess(img)


def image_row(img: Any, backend: FaceBackend) -> dict[str, Any]:
    """Detection columns (all but filename/seed/step/distance) of an image.

    img: a decoded image [H, W, 3], a read error message, or (image, backend.preprocess(image)).
    """
    row: dict[str, Any] = {
        "detected": False,
        "score": 0.0,
        "num_faces": 0,
        "bbox": None,
        "kps": None,
        "embedding": None,
        "det_size": int(backend.det_size),
        "backend": backend.name,
        "models": backend.model_names,
        "error": None,
    }
    if isinstance(img, str):
        row["error"] = img
        return row
    if isinstance(img, tuple):
        faces = backend.analyze_preprocessed(*img)
    else:
        faces = backend.analyze(img)
    best = best_face(faces)
    if best is not None:
        row.update(
            detected=True,
            score=float(best.score),
            num_faces=len(faces),
            bbox=_as_list(best.bbox),
            kps=_as_list(best.kps),
            embedding=_as_list(best.embedding),
        )
    return row


def detection_row(path: str | Path, backend: FaceBackend) -> dict[str, Any]:
    """Detection columns of one image file (an unreadable file gives a row with ``error``)."""
    return image_row(try_read(path), backend)


def _bounded_map(pool: ThreadPoolExecutor, fn: Callable, items: Iterable, ahead: int) -> Iterator:
    """fn over items in ``pool``, in order, with at most ``ahead`` calls submitted at a time."""
    pending: deque = deque()
    for item in items:
        pending.append(pool.submit(fn, item))
        if len(pending) >= ahead:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


def _meta_columns(paths: Sequence[str | Path], meta: Any) -> dict[str, list]:
    """filename/seed/step/distance per image, from ``meta`` (DataFrame-like) or the paths."""
    n = len(paths)
    if meta is None:
        return {
            "filename": [Path(p).name for p in paths],
            "seed": [None] * n,
            "step": [None] * n,
            "distance": [None] * n,
        }
    if len(meta) != n:
        raise ValueError(f"meta has {len(meta)} rows for {n} image paths")
    out = {}
    for col in ("filename", "seed", "step", "distance"):
        if col not in meta:
            raise ValueError(
                f"meta lacks the column {col!r} (needs filename, seed, step, distance)"
            )
        out[col] = np.asarray(meta[col], dtype=object).tolist()
    out["filename"] = [str(v) for v in out["filename"]]
    return out


def detect_images(
    paths: Sequence[str | Path],
    backend: FaceBackend,
    meta: Any = None,
    workers: int = 1,
    progress: bool | int = True,
) -> pa.Table:
    """Score every image of ``paths`` in order; one row per image with DETECTION_SCHEMA.

    meta: DataFrame-like with columns filename, seed, step, distance aligned with ``paths``
    (None: filename from the path, the others null). workers: analysis threads sharing
    ``backend`` (and so one onnxruntime session), plus as many threads decoding images ahead.
    progress: True prints every 100 images to stderr, an int every that many, False never.
    An unreadable image becomes a row with ``error`` set and score 0.0.
    """
    if int(workers) < 1:
        raise ValueError(f"detector.workers must be >= 1, got {workers!r}")
    columns = _meta_columns(paths, meta)
    every = 100 if progress is True else int(progress or 0)
    n = len(paths)
    start = time.perf_counter()

    def report(done: int) -> None:
        if every and (done % every == 0 or done == n):
            dt = time.perf_counter() - start
            rate = done / dt if dt > 0 else float("nan")
            print(f"detect: {done}/{n} images, {rate:.1f} images/s", file=sys.stderr, flush=True)

    # Reader threads decode (and, for staged backends, letterbox and normalise) images ahead of
    # the analysis, overlapping with inference (cv2 and onnxruntime release the GIL); at most a
    # few images wait in memory.
    rows: list[dict[str, Any]] = []
    with (
        ThreadPoolExecutor(max_workers=int(workers), thread_name_prefix="read") as readers,
        ThreadPoolExecutor(max_workers=int(workers), thread_name_prefix="detect") as pool,
    ):
        images = _bounded_map(
            readers, lambda p: read_and_preprocess(p, backend), paths, ahead=2 * int(workers) + 1
        )
        if workers == 1:
            results = (image_row(img, backend) for img in images)
        else:
            results = _bounded_map(pool, lambda img: image_row(img, backend), images, 2 * workers)
        for row in results:
            rows.append(row)
            report(len(rows))
    for key in DETECTION_SCHEMA.names:
        if key not in columns:
            columns[key] = [r[key] for r in rows]
    return pa.Table.from_pydict(columns, schema=DETECTION_SCHEMA)


def write_table_atomic(table: pa.Table, path: str | Path) -> None:
    """Write ``table`` to ``path`` as Parquet through a temporary file and an os.replace."""
    write_parquet_atomic(table, path)


def format_embedding(values: Sequence[float] | None) -> str:
    """An embedding as the CSV's string list ``[0.0123, -0.0456, ...]``; '' for none."""
    if values is None:
        return ""
    return "[" + ", ".join(f"{float(v):.6g}" for v in values) + "]"


def to_report_csv(table: pa.Table):
    """The user's CSV: a DataFrame with exactly the columns ``Filename, score, embeddings``.

    score is 0.0 for undetected and unreadable images; embeddings is the best face's embedding
    as a string list, empty when there is none.
    """
    import pandas as pd

    return pd.DataFrame(
        {
            REPORT_CSV_COLUMNS[0]: table.column("filename").to_pylist(),
            REPORT_CSV_COLUMNS[1]: table.column("score").to_pylist(),
            REPORT_CSV_COLUMNS[2]: [
                format_embedding(e) for e in table.column("embedding").to_pylist()
            ],
        }
    )

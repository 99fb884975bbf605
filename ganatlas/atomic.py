"""Atomic file writers: write to ``<name>.tmp<pid>`` beside the target, then ``os.replace``.

A job killed half-way never leaves a finished-looking output, so a rerun redoes exactly the
unfinished work.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq


@contextlib.contextmanager
def atomic_path(path: str | Path, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success rename it onto ``path``, else delete it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.tmp{os.getpid()}{suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_parquet_atomic(table: pa.Table, path: str | Path) -> None:
    """Write ``table`` as Parquet to ``path`` atomically."""
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)


def write_text_atomic(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def save_npz_atomic(path: str | Path, **arrays: Any) -> None:
    """``np.savez(path, **arrays)`` atomically (the temporary name ends in .npz as numpy wants)."""
    with atomic_path(path, suffix=".npz") as tmp:
        np.savez(tmp, **arrays)

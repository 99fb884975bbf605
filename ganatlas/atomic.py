"""Atomic file writers: write to ``<name>.tmp<host>-<pid>`` beside the target, then ``os.replace``.

A job killed half-way never leaves a finished-looking output, so a rerun redoes exactly the
unfinished work; the temporaries a killed job left behind are removed by the next write of the
same target (:func:`remove_stale_temporaries`).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

#: Temporaries of other hosts (shared file systems) older than this are stale too.
STALE_AFTER_S = 24 * 3600


def temporary_name(path: Path) -> Path:
    """The temporary sibling of ``path`` this process writes: ``<name>.tmp<host>-<pid>``."""
    host = re.sub(r"[^A-Za-z0-9]", "", socket.gethostname())[:32] or "host"
    return path.with_name(f"{path.name}.tmp{host}-{os.getpid()}")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_temporaries(path: str | Path, log=None) -> list[Path]:
    """Remove the temporaries of ``path`` that killed writers left: this host's whose process is
    gone, and any host's older than :data:`STALE_AFTER_S`. Returns what was removed."""
    path = Path(path)
    mine = temporary_name(path).name.rsplit("-", 1)[0]
    removed = []
    if not path.parent.is_dir():
        return removed
    for tmp in path.parent.glob(f"{glob_escape(path.name)}.tmp*"):
        m = re.fullmatch(re.escape(path.name) + r"\.tmp(\w*)-(\d+)(\..*)?", tmp.name)
        if m is None:
            continue
        same_host = f"{path.name}.tmp{m[1]}" == mine
        try:
            age = time.time() - tmp.lstat().st_mtime
        except FileNotFoundError:
            continue
        if (same_host and not _pid_alive(int(m[2]))) or age > STALE_AFTER_S:
            if tmp.is_dir() and not tmp.is_symlink():
                shutil.rmtree(tmp, ignore_errors=True)
            else:
                tmp.unlink(missing_ok=True)
            removed.append(tmp)
            if log is not None:
                log(f"removed {tmp.name}, left by a killed job")
    return removed


def glob_escape(name: str) -> str:
    """``name`` with glob metacharacters escaped."""
    return re.sub(r"([*?\[])", r"[\1]", name)


@contextlib.contextmanager
def atomic_path(path: str | Path, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success rename it onto ``path``, else delete it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path)
    tmp = temporary_name(path).with_name(temporary_name(path).name + suffix)
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

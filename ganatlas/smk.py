"""The glue between Snakemake and the package, in one place.

The thin scripts under ``workflow/scripts/<study>/`` read the ``snakemake`` object and call one
stage function; these helpers give every job the same log handling (stderr and tracebacks to the
rule's log file), threads (torch and onnxruntime from the rule's ``threads``) and device (a GPU
from the scheduler or the slot pool, see ganatlas.devices).
"""

from __future__ import annotations

import contextlib
import sys
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any


@contextlib.contextmanager
def logged(snakemake: Any) -> Iterator[None]:
    """Send stderr (progress lines) to the rule's log file, record any traceback there too, and
    give torch and onnxruntime the rule's ``threads``."""
    set_threads(getattr(snakemake, "threads", 1) or 1)
    log_path = snakemake.log[0] if len(snakemake.log) else None
    if log_path is None:
        yield
        return
    with open(log_path, "a") as fh:
        old = sys.stderr
        sys.stderr = fh
        try:
            yield
        except BaseException:
            traceback.print_exc(file=fh)
            raise
        finally:
            sys.stderr = old


def set_threads(n: int) -> None:
    """The job's ``threads:`` for torch and onnxruntime (see ganatlas.threads)."""
    from ganatlas.threads import set_job_threads

    set_job_threads(n)


@contextlib.contextmanager
def job_device(snakemake: Any) -> Iterator[str]:
    """The device of a ``resources: gpu=1`` job (see ganatlas.devices), logged to the rule's log."""
    from ganatlas.devices import acquire_device
    from ganatlas.render import stderr_log

    gpu_cfg = snakemake.config.get("gpu", {})
    wants_gpu = int(getattr(snakemake.resources, "gpu", 0) or 0) > 0
    with acquire_device(
        wants_gpu,
        gpu_cfg.get("slots_per_device", 1),
        gpu_cfg.get("lock_dir"),
        log=stderr_log,
        wait_timeout=gpu_cfg.get("wait_timeout"),
        log_every=gpu_cfg.get("log_every", 60),
    ) as device:
        yield device


def _other_snakemakes(workdir: Path) -> list[int]:
    """PIDs of other live processes running Snakemake in ``workdir`` (Linux /proc)."""
    import os

    own = {os.getpid()}
    pid = os.getpid()
    while pid > 1:  # our ancestors (e.g. the `snakemake` wrapper that started this interpreter)
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
            pid = int(stat.rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            break
        own.add(pid)
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) in own:
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            cwd = (entry / "cwd").resolve()
        except OSError:
            continue
        if "snakemake" in cmdline and cwd == workdir:
            found.append(int(entry.name))
    return found


def remove_stale_locks(workdir: str | Path = ".", log=None) -> list[Path]:
    """Remove Snakemake's directory locks when no other Snakemake process runs in ``workdir``.

    A run killed with SIGKILL (or a power loss) leaves ``.snakemake/locks/*.lock`` behind and the
    next run stops with a LockException until ``--unlock``. On Linux the Snakefile calls this in
    the main process: locks are removed only when /proc shows no other live process with
    "snakemake" on its command line and ``workdir`` as its working directory. Elsewhere (no
    /proc) nothing is removed and ``--unlock`` stays the way out.
    """
    workdir = Path(workdir).resolve()
    locks = sorted((workdir / ".snakemake" / "locks").glob("*.lock"))
    if not locks or not Path("/proc/self/cmdline").exists():
        return []
    others = _other_snakemakes(workdir)
    if others:
        return []
    for lock in locks:
        lock.unlink(missing_ok=True)
    if log is not None:
        log(
            f"removed {len(locks)} stale Snakemake lock(s) in {workdir / '.snakemake/locks'}: no "
            "other Snakemake process runs here (left by a killed run)"
        )
    return locks

"""GPU assignment for jobs that declare ``resources: gpu=1``.

Snakemake's ``gpu`` resource is only a counter; it never says *which* device a job gets. The
order of preference here:

1. the scheduler already chose (``CUDA_VISIBLE_DEVICES`` set inside a Slurm job, or set by hand):
   use ``cuda:0`` of what is visible;
2. otherwise a lock-file slot pool: ``slots_per_device`` jobs per visible GPU, each holding an
   exclusive ``fcntl`` lock on ``<lock_dir>/gpu<i>.slot<j>.lock`` for its lifetime, so four
   concurrent jobs on a four-GPU box land on four different GPUs (locks vanish with the process,
   so a crash never leaks a slot);
3. no usable CUDA device: CPU (or Apple MPS), with a warning in the job's log.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import torch

DEFAULT_LOCK_DIR = Path(os.environ.get("GANATLAS_GPU_LOCK_DIR", "/tmp/ganatlas-gpu-locks"))


def scheduler_assigned() -> str | None:
    """The CUDA_VISIBLE_DEVICES a scheduler set for this job, or None."""
    value = os.environ.get("CUDA_VISIBLE_DEVICES")
    return value if value not in (None, "") else None


@contextlib.contextmanager
def hold_slot(
    n_devices: int,
    slots_per_device: int = 1,
    lock_dir: str | Path | None = None,
    poll_s: float = 0.5,
    timeout_s: float | None = None,
) -> Iterator[int]:
    """Hold one free slot of the pool and yield its device index (blocks until one is free)."""
    if n_devices < 1 or slots_per_device < 1:
        raise ValueError("n_devices and slots_per_device must be >= 1")
    lock_dir = Path(lock_dir) if lock_dir else DEFAULT_LOCK_DIR
    lock_dir.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    while True:
        # Fill each device's first slot before any second slot: spread before sharing.
        for slot in range(slots_per_device):
            for dev in range(n_devices):
                fh = open(lock_dir / f"gpu{dev}.slot{slot}.lock", "a+")
                try:
                    fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    fh.close()
                    continue
                try:
                    fh.seek(0)
                    fh.truncate()
                    fh.write(f"{os.getpid()}\n")
                    fh.flush()
                    yield dev
                finally:
                    fcntl.flock(fh, fcntl.LOCK_UN)
                    fh.close()
                return
        if timeout_s is not None and time.monotonic() - start > timeout_s:
            raise TimeoutError(f"no free GPU slot in {lock_dir} after {timeout_s:.0f} s")
        time.sleep(poll_s)


@contextlib.contextmanager
def acquire_device(
    gpu: bool = True,
    slots_per_device: int = 1,
    lock_dir: str | Path | None = None,
    log: Callable[[str], object] = print,
) -> Iterator[str]:
    """Yield the torch device string this job should use ('cuda:K', 'mps' or 'cpu') and log why."""
    if not gpu:
        log("device: cpu (job asked for no GPU)")
        yield "cpu"
        return
    visible = scheduler_assigned()
    if torch.cuda.is_available():
        if visible is not None:
            log(f"device: cuda:0 (CUDA_VISIBLE_DEVICES={visible} set by the scheduler)")
            yield "cuda:0"
            return
        n = torch.cuda.device_count()
        with hold_slot(n, slots_per_device, lock_dir) as dev:
            log(
                f"device: cuda:{dev} (slot pool of {n} GPU(s) x {slots_per_device}, {lock_dir or DEFAULT_LOCK_DIR})"
            )
            yield f"cuda:{dev}"
        return
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        log("device: mps (Apple GPU)")
        yield "mps"
        return
    why = f"CUDA_VISIBLE_DEVICES={visible} but " if visible is not None else ""
    log(f"device: cpu (warning: {why}no CUDA device is usable; running on CPU)")
    yield "cpu"

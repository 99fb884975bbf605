"""Helpers for the thin workflow scripts: logging to the rule's log file, threads, GPU devices."""

from __future__ import annotations

import contextlib
import sys
import traceback
from collections.abc import Iterator
from typing import Any


@contextlib.contextmanager
def logged(snakemake: Any) -> Iterator[None]:
    """Send stderr (progress lines) to the rule's log file; record any traceback there too."""
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
    """Limit torch's intra-op threads to the job's ``threads:`` so parallel jobs do not oversubscribe."""
    import torch

    torch.set_num_threads(max(1, int(n)))


@contextlib.contextmanager
def job_device(snakemake: Any) -> Iterator[str]:
    """The device of a ``resources: gpu=1`` job (see ganatlas.devices), logged to the rule's log."""
    from ganatlas.devices import acquire_device
    from ganatlas.render import stderr_log

    gpu_cfg = snakemake.config.get("gpu", {})
    wants_gpu = int(getattr(snakemake.resources, "gpu", 0) or 0) > 0
    with acquire_device(
        wants_gpu, gpu_cfg.get("slots_per_device", 1), gpu_cfg.get("lock_dir"), log=stderr_log
    ) as device:
        yield device

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

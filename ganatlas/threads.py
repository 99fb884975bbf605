"""The job's CPU threads, for torch and every onnxruntime session it creates.

A workflow job calls :func:`set_job_threads` with its rule's ``threads`` (Snakemake's value, or
Slurm's cpus-per-task through the profile). torch's intra-op pool is set to it, and every
onnxruntime session built afterwards (face detectors, attribute scorers) uses it as
``intra_op_num_threads``. Nothing falls back to the machine's core count inside a job, so jobs
that run side by side do not oversubscribe the cores.
"""

from __future__ import annotations

_JOB_THREADS: int | None = None


def set_job_threads(n: int) -> int:
    """Use ``n`` (>= 1) threads for torch and for onnxruntime sessions created from now on."""
    import torch

    global _JOB_THREADS
    n = max(1, int(n))
    torch.set_num_threads(n)
    _JOB_THREADS = n
    return n


def job_threads() -> int | None:
    """The job's thread count, or None outside a job (libraries' defaults apply)."""
    return _JOB_THREADS


def onnx_session_options(threads: int | None = None):
    """``onnxruntime.SessionOptions`` with intra-op threads = ``threads`` or the job's, quiet logs."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    n = threads if threads is not None else _JOB_THREADS
    if n:
        opts.intra_op_num_threads = int(n)
        opts.inter_op_num_threads = 1
    return opts

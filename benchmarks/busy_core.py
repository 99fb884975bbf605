"""``--busy-core`` for the benchmarks: one competing CPU-bound process while they time.

On a small machine shared with other jobs a core is often taken. :func:`busy_core` starts a
separate Python process that spins (pure Python loop, one core at 100 %) and stops it when the
block ends, so the benchmarks can show how a network's speed holds up under such load.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
from collections.abc import Iterator

SPIN = "while True:\n    pass\n"


@contextlib.contextmanager
def busy_core(enabled: bool = True) -> Iterator[str]:
    """While the block runs, one process spins on a core; yields a line for the header."""
    if not enabled:
        yield "busy-core: off"
        return
    proc = subprocess.Popen([sys.executable, "-c", SPIN])
    try:
        time.sleep(0.3)  # interpreter start-up: spinning before the timing begins
        if proc.poll() is not None:
            raise RuntimeError(f"busy-core process exited with code {proc.returncode}")
        yield f"busy-core: on (1 spinning process, pid {proc.pid})"
    finally:
        proc.terminate()
        proc.wait()


def set_threads(threads: int | None) -> None:
    """``torch.set_num_threads(threads)`` when given (``--threads``)."""
    if threads is not None:
        import torch

        torch.set_num_threads(threads)

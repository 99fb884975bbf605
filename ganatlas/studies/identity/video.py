"""MP4 output through imageio-ffmpeg (its bundled ffmpeg binary), written atomically."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np


def write_mp4(path: str | Path, frames: Iterable[np.ndarray], fps: int, scale: int = 4) -> int:
    """Write RGB uint8 frames ``[H, W, 3]`` (each enlarged ``scale`` times, nearest) as H.264
    to ``path``; returns the number of frames. Sizes are padded to a multiple of 16."""
    import imageio_ffmpeg

    from ganatlas.atomic import atomic_path

    n = 0
    with atomic_path(path, suffix=".mp4") as tmp:
        writer = None
        try:
            for frame in frames:
                f = np.repeat(np.repeat(np.asarray(frame, np.uint8), scale, 0), scale, 1)
                h, w = f.shape[:2]
                ph, pw = -h % 16, -w % 16
                if ph or pw:
                    f = np.pad(f, ((0, ph), (0, pw), (0, 0)))
                if writer is None:
                    writer = imageio_ffmpeg.write_frames(
                        str(tmp), (f.shape[1], f.shape[0]), fps=fps, codec="libx264",
                        pix_fmt_out="yuv420p", macro_block_size=16, quality=7,
                    )  # fmt: skip
                    writer.send(None)
                writer.send(np.ascontiguousarray(f))
                n += 1
        finally:
            if writer is not None:
                writer.close()
        if n == 0:
            raise ValueError(f"no frames to write to {path}")
    return n


def count_frames(path: str | Path) -> int:
    """Frames of a video file (ffmpeg's count)."""
    import imageio_ffmpeg

    return imageio_ffmpeg.count_frames_and_secs(str(path))[0]

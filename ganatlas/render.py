"""Batched synthesis of latent vectors to PNG files."""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ganatlas.networks.base import broadcast_w, to_uint8


def shard_ranges(steps: int, shard_size: int) -> list[tuple[int, int]]:
    """Split ``range(steps)`` into ``[start, stop)`` shards of at most ``shard_size`` rows."""
    if shard_size < 1:
        raise ValueError(f"shard_size must be >= 1, got {shard_size}")
    return [(s, min(s + shard_size, steps)) for s in range(0, steps, shard_size)]


def image_name(seed: int, step: int) -> str:
    """File name of the image of ``step`` of walk ``seed`` (unique across seeds)."""
    return f"seed{seed:04d}_step{step:05d}.png"


@torch.no_grad()
def synthesize(
    g: torch.nn.Module,
    w: np.ndarray | torch.Tensor,
    device: str | torch.device = "cpu",
    batch_size: int = 32,
    noise_mode: str = "const",
) -> np.ndarray:
    """Render ``w: [N, w_dim]`` (broadcast over num_ws) or ``ws: [N, num_ws, w_dim]``.

    Returns uint8 RGB ``[N, H, W, 3]``.
    """
    w = torch.as_tensor(np.asarray(w), dtype=torch.float32)
    out = []
    for start in range(0, len(w), batch_size):
        ws = broadcast_w(w[start : start + batch_size].to(device), g.num_ws)
        out.append(to_uint8(g.synthesis(ws, noise_mode=noise_mode).float()).cpu().numpy())
    if not out:
        res = g.img_resolution
        return np.zeros((0, res, res, g.img_channels), dtype=np.uint8)
    return np.concatenate(out)


def render_to_dir(
    g: torch.nn.Module,
    w: np.ndarray,
    names: Sequence[str],
    out_dir: str | Path,
    device: str | torch.device = "cpu",
    batch_size: int = 32,
    noise_mode: str = "const",
    log=None,
) -> list[Path]:
    """Render ``w: [N, w_dim]`` to ``out_dir/names[i]`` atomically.

    Images go to a sibling temporary directory that is renamed into place at the end, so a killed
    job never leaves a half-filled shard that looks finished.
    """
    if len(names) != len(w):
        raise ValueError(f"{len(names)} names for {len(w)} latents")
    from ganatlas.atomic import remove_stale_temporaries, temporary_name

    out_dir = Path(out_dir)
    remove_stale_temporaries(out_dir, log)
    tmp = temporary_name(out_dir)
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    t0 = time.perf_counter()
    done = 0
    for start in range(0, len(w), batch_size):
        imgs = synthesize(g, w[start : start + batch_size], device, batch_size, noise_mode)
        for img, name in zip(imgs, names[start : start + batch_size], strict=True):
            Image.fromarray(img).save(tmp / name)
        done += len(imgs)
        if log is not None:
            rate = done / max(time.perf_counter() - t0, 1e-9)
            log(f"rendered {done}/{len(w)} images ({rate:.1f} img/s)")
    if out_dir.exists():
        shutil.rmtree(out_dir)
    os.replace(tmp, out_dir)
    return [out_dir / n for n in names]


def stderr_log(msg: str) -> None:
    """Progress printer used by the workflow scripts (stderr ends up in each rule's log)."""
    print(msg, file=sys.stderr, flush=True)

"""Latent-space helpers shared by the studies: seeded z, the average latent, clamp radii.

All random draws take an explicit seed and run on the CPU, so the same config gives the same
latents on any device.
"""

from __future__ import annotations

import numpy as np
import torch


def sample_z(n: int, z_dim: int, seed: int) -> torch.Tensor:
    """``z: [n, z_dim]`` standard normal float32, drawn on the CPU from ``seed``."""
    return torch.randn(n, z_dim, generator=torch.Generator().manual_seed(int(seed)))


@torch.no_grad()
def compute_w_avg(
    g: torch.nn.Module,
    samples: int = 10_000,
    seed: int = 0,
    batch_size: int = 1000,
    device: str | torch.device = "cpu",
    progress=None,
) -> dict[str, np.ndarray]:
    """Map ``samples`` seeded z to W and return their mean with distance statistics.

    Returns ``w_avg: [w_dim]``, ``distances: [samples]`` (|w_i - w_avg|), ``norms: [samples]``
    (|w_i|), ``w_avg_norm`` (scalar) and ``percentiles`` (the 1, 5, 25, 50, 75, 95, 99th of the
    distances, in ``percentile_levels``). W is row 0 of ``mapping``'s ws (all rows are equal
    without truncation mixing).
    """
    if samples < 2:
        raise ValueError(f"w_avg.samples must be >= 2, got {samples}")
    z = sample_z(samples, g.z_dim, seed)
    c = torch.zeros(batch_size, g.c_dim, device=device)
    ws = []
    for start in range(0, samples, batch_size):
        zb = z[start : start + batch_size].to(device)
        ws.append(g.mapping(zb, c[: len(zb)])[:, 0].float().cpu())
        if progress is not None:
            progress(min(start + batch_size, samples), samples)
    w = torch.cat(ws).double().numpy()
    w_avg = w.mean(0)
    dist = np.linalg.norm(w - w_avg, axis=1)
    levels = np.array([1, 5, 25, 50, 75, 95, 99], dtype=np.float64)
    return {
        "w_avg": w_avg.astype(np.float32),
        "w_avg_norm": np.float64(np.linalg.norm(w_avg)),
        "distances": dist.astype(np.float32),
        "norms": np.linalg.norm(w, axis=1).astype(np.float32),
        "percentile_levels": levels,
        "percentiles": np.percentile(dist, levels),
        "samples": np.int64(samples),
        "seed": np.int64(seed),
    }


def resolve_radius(radius, percentiles: dict[float, float]) -> float | None:
    """Turn the config's clamp radius (number, 'pNN' percentile of the w_avg distances, None) into a float."""
    if radius is None or radius == "none":
        return None
    if isinstance(radius, str):
        if not radius.startswith("p"):
            raise ValueError(f"clamp.radius must be a number, 'pNN' or null, got {radius!r}")
        level = float(radius[1:])
        levels = sorted(percentiles)
        if level not in percentiles:
            raise ValueError(
                f"clamp.radius percentile {radius!r} not computed; use one of p{levels}"
            )
        return float(percentiles[level])
    return float(radius)

"""The average latent and seeded random walks around it.

All random draws take an explicit seed and run on the CPU, so the same config gives the same
latents on any device.
"""

from __future__ import annotations

from dataclasses import dataclass

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


@dataclass(frozen=True)
class WalkParams:
    """Parameters of one random walk.

    step_size: per-dimension std of the Gaussian step (``gaussian`` mode) or the Euclidean length
    of every step divided by sqrt(w_dim) (``fixed`` mode: a random direction, constant length);
    clamp_radius: None (no cap) or the radius of the hypersphere around ``clamp_center``
    ("w_avg" or "origin") onto which a vector that leaves it is scaled back.
    """

    seed: int
    steps: int
    step_size: float
    step_mode: str = "gaussian"
    clamp_center: str = "w_avg"
    clamp_radius: float | None = None

    def __post_init__(self) -> None:
        if self.steps < 1:
            raise ValueError(f"steps must be >= 1, got {self.steps}")
        if not self.step_size > 0:
            raise ValueError(f"step_size must be > 0, got {self.step_size}")
        if self.step_mode not in ("gaussian", "fixed"):
            raise ValueError(f"step_mode must be 'gaussian' or 'fixed', got {self.step_mode!r}")
        if self.clamp_center not in ("w_avg", "origin"):
            raise ValueError(f"clamp.center must be 'w_avg' or 'origin', got {self.clamp_center!r}")
        if self.clamp_radius is not None and not self.clamp_radius > 0:
            raise ValueError(f"clamp.radius must be > 0, got {self.clamp_radius}")


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


def random_walk(
    w_start: np.ndarray, w_avg: np.ndarray, params: WalkParams
) -> dict[str, np.ndarray]:
    """Walk ``params.steps`` points from ``w_start: [w_dim]``.

    Row 0 is the start; row i is the position after i steps. Returns ``w_out: [steps, w_dim]``
    float32, ``distance: [steps]`` (to w_avg), ``norm: [steps]`` (to the origin) and
    ``clamped: [steps]`` bool (row was scaled back onto the sphere).
    """
    rng = np.random.default_rng(params.seed)
    w_dim = w_start.shape[0]
    center = w_avg.astype(np.float64) if params.clamp_center == "w_avg" else np.zeros(w_dim)
    w = w_start.astype(np.float64).copy()
    out = np.empty((params.steps, w_dim), dtype=np.float64)
    clamped = np.zeros(params.steps, dtype=bool)
    out[0] = w
    for i in range(1, params.steps):
        step = rng.standard_normal(w_dim)
        if params.step_mode == "fixed":
            step *= params.step_size * np.sqrt(w_dim) / np.linalg.norm(step)
        else:
            step *= params.step_size
        w = w + step
        if params.clamp_radius is not None:
            off = w - center
            r = np.linalg.norm(off)
            if r > params.clamp_radius:
                w = center + off * (params.clamp_radius / r)
                clamped[i] = True
        out[i] = w
    return {
        "w_out": out.astype(np.float32),
        "distance": np.linalg.norm(out - w_avg.astype(np.float64), axis=1).astype(np.float32),
        "norm": np.linalg.norm(out, axis=1).astype(np.float32),
        "clamped": clamped,
    }

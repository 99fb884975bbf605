"""The walk study's random walk: seeded Gaussian or fixed-length steps with a norm cap."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


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

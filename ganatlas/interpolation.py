"""Paths through latent space: lerp, slerp, the source's gradient formula, keyframe trajectories
and plane grids. Pure NumPy; points are arrays of any shape (``[D]`` or ``[num_ws, D]``).

- ``lerp``: ``(1 - t) * a + t * b``: exactly ``a`` at t = 0 and exactly ``b`` at t = 1.
- ``slerp``: along the great circle between the directions of a and b, with the norm
  interpolated linearly (so equal-norm endpoints keep their norm all the way); exact endpoints;
  falls back to lerp when a and b are (anti)parallel within 1e-7 rad or one is zero.
- ``gradient``: the source's ``a + (b - a) * i / (N - 1)``, i = 0 .. N-1, kept as written (its
  last frame equals b up to rounding).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

METHODS = ("lerp", "slerp", "gradient")


def _t(t: Sequence[float] | np.ndarray, ndim: int) -> np.ndarray:
    return np.asarray(t, dtype=np.float64).reshape((-1,) + (1,) * ndim)


def lerp(a: np.ndarray, b: np.ndarray, t: Sequence[float] | np.ndarray) -> np.ndarray:
    """``[T, *a.shape]``: ``(1 - t) * a + t * b`` for each t (float64 maths, a's dtype out)."""
    a64, b64 = np.asarray(a, np.float64), np.asarray(b, np.float64)
    tt = _t(t, a64.ndim)
    return ((1.0 - tt) * a64 + tt * b64).astype(np.asarray(a).dtype)


def slerp(a: np.ndarray, b: np.ndarray, t: Sequence[float] | np.ndarray) -> np.ndarray:
    """``[T, *a.shape]``: spherical interpolation of the flattened vectors (see module doc)."""
    a64, b64 = np.asarray(a, np.float64).ravel(), np.asarray(b, np.float64).ravel()
    ts = np.asarray(t, dtype=np.float64).ravel()
    na, nb = np.linalg.norm(a64), np.linalg.norm(b64)
    if na == 0 or nb == 0:
        return lerp(a, b, ts)
    ua, ub = a64 / na, b64 / nb
    omega = float(np.arccos(np.clip(ua @ ub, -1.0, 1.0)))
    if omega < 1e-7 or np.pi - omega < 1e-7:
        return lerp(a, b, ts)
    so = np.sin(omega)
    wa = np.sin((1.0 - ts) * omega)[:, None] / so
    wb = np.sin(ts * omega)[:, None] / so
    norm = ((1.0 - ts) * na + ts * nb)[:, None]
    out = (wa * ua + wb * ub) * norm
    out[ts == 0.0] = a64
    out[ts == 1.0] = b64
    return out.reshape((len(ts),) + np.shape(a)).astype(np.asarray(a).dtype)


def gradient(a: np.ndarray, b: np.ndarray, n: int) -> np.ndarray:
    """``[n, *a.shape]``: the source's ``a + (b - a) * i / (n - 1)`` for i = 0 .. n-1 (n >= 2)."""
    if n < 2:
        raise ValueError(f"a path needs at least 2 frames, got {n}")
    a, b = np.asarray(a), np.asarray(b)
    return np.stack([a + (b - a) * i / (n - 1) for i in range(n)]).astype(a.dtype)


def interpolate(a: np.ndarray, b: np.ndarray, n: int, method: str = "lerp") -> np.ndarray:
    """``[n, *a.shape]`` frames from a to b inclusive by ``method`` (lerp, slerp, gradient)."""
    if n < 2:
        raise ValueError(f"a path needs at least 2 frames, got {n}")
    if method == "gradient":
        return gradient(a, b, n)
    t = np.linspace(0.0, 1.0, n)
    if method == "lerp":
        return lerp(a, b, t)
    if method == "slerp":
        return slerp(a, b, t)
    raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")


def trajectory(
    keyframes: Sequence[np.ndarray], steps: int, method: str = "lerp"
) -> tuple[np.ndarray, np.ndarray]:
    """Chain K keyframes: ``steps`` frames per segment (both ends included), shared keyframes
    once. Returns (frames ``[(K-1)*(steps-1)+1, *shape]``, keyframe index of each frame
    ``[F]`` int64: the segment's start keyframe, K-1 for the last frame)."""
    if len(keyframes) < 2:
        raise ValueError(f"a trajectory needs at least 2 keyframes, got {len(keyframes)}")
    parts, seg = [], []
    for k in range(len(keyframes) - 1):
        frames = interpolate(keyframes[k], keyframes[k + 1], steps, method)
        keep = frames if k == len(keyframes) - 2 else frames[:-1]
        parts.append(keep)
        seg += [k] * len(keep)
    seg[-1] = len(keyframes) - 1
    return np.concatenate(parts), np.asarray(seg, dtype=np.int64)


def plane_grid(
    origin: np.ndarray,
    x_dir: np.ndarray,
    y_dir: np.ndarray,
    xs: Sequence[float],
    ys: Sequence[float],
) -> np.ndarray:
    """``[len(ys), len(xs), *origin.shape]``: cell (i, j) = ``origin + xs[j] * x_dir + ys[i] * y_dir``."""
    o, bx, by = (np.asarray(v, np.float64) for v in (origin, x_dir, y_dir))
    if not (o.shape == bx.shape == by.shape):
        raise ValueError(f"plane: origin {o.shape}, x {bx.shape} and y {by.shape} differ in shape")
    grid = np.empty((len(ys), len(xs)) + o.shape, np.float64)
    for i, y in enumerate(ys):
        for j, x in enumerate(xs):
            grid[i, j] = o + x * bx + y * by
    return grid.astype(np.asarray(origin).dtype)

"""Radial yield curves: directions, latents along them, Wilson intervals, monster radii.

A radial sample is ``centre + r * unit * u_k`` for direction ``u_k`` (a seeded unit vector),
radius ``r`` from the grid (in units of ``unit``: a percentile of the samples' distances to the
centre, or 1 for absolute radii). The yield at a radius is the share of the K directions whose
image has a detected face; r90 / r50 are where that yield first drops below 90% / 50% (after
having reached it: the centre itself need not be a face).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: Yield levels of the monster radii: r90 is the first radius with yield < 0.9, r50 < 0.5.
LEVELS = {"r90": 0.9, "r50": 0.5}


def space_seed(seed: int, space: str) -> int:
    """A 32-bit seed for the directions of ``space`` ('w' or 'z'), derived from ``seed``."""
    return int(np.random.SeedSequence([int(seed), ord(space)]).generate_state(1)[0])


def unit_directions(k: int, dim: int, seed: int) -> np.ndarray:
    """``[k, dim]`` float64 unit vectors, uniform on the sphere, from ``seed``."""
    d = np.random.default_rng(seed).standard_normal((k, dim))
    return d / np.linalg.norm(d, axis=1, keepdims=True)


def radial_latents(
    centre: np.ndarray, directions: np.ndarray, radii: list[float], unit: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Latents along every direction at every radius.

    centre: [D]; directions: [K, D] unit; radii: [R] in units of ``unit``.
    Returns (latents [K * R, D] float32 ordered direction-major, direction index [K * R],
    radius index [K * R]).
    """
    k, r = len(directions), len(radii)
    rad = np.asarray(radii, np.float64) * float(unit)
    lat = centre[None, None, :] + rad[None, :, None] * directions[:, None, :]
    di, ri = np.meshgrid(np.arange(k), np.arange(r), indexing="ij")
    return lat.reshape(k * r, -1).astype(np.float32), di.reshape(-1), ri.reshape(-1)


def wilson(k: np.ndarray, n: np.ndarray, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score intervals of proportions ``k / n`` (arrays [M]); NaN where n == 0.

    Closed form: (p + z^2/2n -/+ z sqrt(p(1-p)/n + z^2/4n^2)) / (1 + z^2/n), z the normal
    quantile of (1 + level) / 2 (scipy.stats.norm).
    """
    from scipy.stats import norm

    k = np.asarray(k, np.float64)
    n = np.asarray(n, np.float64)
    z = float(norm.ppf(0.5 + level / 2))
    with np.errstate(invalid="ignore", divide="ignore"):
        p = k / n
        den = 1 + z * z / n
        mid = (p + z * z / (2 * n)) / den
        half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    lo, hi = np.clip(mid - half, 0, 1), np.clip(mid + half, 0, 1)
    bad = n <= 0
    lo[bad], hi[bad] = np.nan, np.nan
    return lo, hi


def first_below(radii: np.ndarray, yields: np.ndarray, level: float) -> float:
    """The monster radius of one yield curve (``yields [R]`` at ``radii [R]``, ascending).

    The first radius where the yield drops below ``level`` after having reached it (a centre
    that is not a face, like the DCGAN's w_avg, has yield 0 at radius 0: faces appear further
    out, then turn into monsters). +inf when the yield reaches ``level`` and never drops below
    it on the grid; NaN when it never reaches ``level``.
    """
    y = np.asarray(yields, np.float64)
    reached = np.flatnonzero(y >= level)
    if not len(reached):
        return float("nan")
    below = np.flatnonzero(y[reached[0] :] < level)
    return float(radii[reached[0] + below[0]]) if len(below) else float("inf")


def monster_radii(
    detected: np.ndarray, radii: np.ndarray, n_boot: int = 1000, seed: int = 0
) -> dict[str, float]:
    """r90 and r50 of ``detected: [K, R]`` (bool, direction x radius) with bootstrap intervals.

    The yield curve is the mean over directions (see :func:`first_below`); the bootstrap
    resamples the K directions with replacement ``n_boot`` times. Returns, per level,
    ``{r90, r90_lo, r90_hi, r90_never_reached, r90_never_dropped, r50, ...}``: the 2.5 / 97.5
    percentiles of the resampled radii (over resamples that reach the level; +inf counts as
    beyond the grid), and the shares of resamples that never reach / never drop below it.
    """
    det = np.asarray(detected, np.float64)
    radii = np.asarray(radii, np.float64)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, det.shape[0], size=(n_boot, det.shape[0]))
    boot = det[idx].mean(axis=1)  # [n_boot, R]
    out: dict[str, float] = {}
    for name, level in LEVELS.items():
        out[name] = first_below(radii, det.mean(axis=0), level)
        vals = np.array([first_below(radii, b, level) for b in boot])
        ok = vals[~np.isnan(vals)]
        # order statistics, no interpolation: +inf (never dropped) stays +inf
        lo = np.percentile(ok, 2.5, method="lower") if len(ok) else np.nan
        hi = np.percentile(ok, 97.5, method="higher") if len(ok) else np.nan
        out[f"{name}_lo"], out[f"{name}_hi"] = float(lo), float(hi)
        out[f"{name}_never_reached"] = float(np.mean(np.isnan(vals)))
        out[f"{name}_never_dropped"] = float(np.mean(np.isinf(vals)))
    return out


def yield_curve(rows: pd.DataFrame) -> pd.DataFrame:
    """Per radius of one (network, space): n, detected, yield, Wilson 95% interval, median score
    of detected images, and the median of every attribute column (prefixed ``attr_``).

    rows: one row per radial image with columns radius_index, radius, radius_abs, detected,
    det_score and the attribute columns.
    """
    attrs = [c for c in rows.columns if c.startswith("attr_")]
    out = []
    for ri, part in rows.groupby("radius_index", sort=True):
        det = part["detected"].astype(bool)
        row = {
            "radius_index": int(ri),
            "radius": float(part["radius"].iloc[0]),
            "radius_abs": float(part["radius_abs"].iloc[0]),
            "n": int(len(part)),
            "detected": int(det.sum()),
        }
        row["yield"] = row["detected"] / row["n"]
        lo, hi = wilson(np.array([row["detected"]]), np.array([row["n"]]))
        row["ci_low"], row["ci_high"] = float(lo[0]), float(hi[0])
        sc = part.loc[det, "det_score"]
        row["median_score"] = float(sc.median()) if len(sc) else float("nan")
        for a in attrs:
            row[a] = float(part.loc[det, a].median()) if det.any() else float("nan")
        out.append(row)
    return pd.DataFrame(out)

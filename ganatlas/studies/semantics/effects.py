"""What the edits do: per-face linearity fits, and disentanglement as normalised slopes.

Rows are an edit table (``edits/*.parquet``): space, edited, face, alpha and one column per
score. Every measure is per face first (each face has its own intercept), then summarised:

- **linearity**: per face, ``scipy.stats.linregress`` of score on alpha (slope, R², stderr);
  per (space, edited, scored): the mean slope with a t interval over faces, and the
  distribution of the per-face R² (median, quartiles, minimum). R² is NaN (n/a) where a face
  has < 3 scored points or a constant score.
- **disentanglement**: the slope of scored attribute j per unit of edit along i (mean per-face
  slope), divided by (a) j's own-edit slope (i = j; n/a where j has no edit in that space) and
  (b) j's standard deviation over the samples (score std per unit alpha). A disentangled
  space shows ~identity in (a). The correlation of alpha with the score change is kept as a
  separate panel: it is ±1 for *any* noise-free effect, however small.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

KEYS = ["space", "edited", "scored"]


def linear_fit(x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """Least-squares ``y = slope * x + intercept`` over finite pairs (``scipy.stats.linregress``):
    slope, intercept, r2, stderr (of the slope), n. NaN where < 3 points or constant x; r2 NaN
    where y is constant."""
    from scipy.stats import linregress

    x, y = np.asarray(x, float), np.asarray(y, float)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    nan = float("nan")
    out = {"slope": nan, "intercept": nan, "r2": nan, "stderr": nan, "n": int(len(x))}
    if len(x) < 3 or np.ptp(x) == 0:
        return out
    if np.ptp(y) == 0:
        return {**out, "slope": 0.0, "intercept": float(y[0]), "stderr": 0.0}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        fit = linregress(x, y)
    return {"slope": float(fit.slope), "intercept": float(fit.intercept),
            "r2": float(fit.rvalue**2), "stderr": float(fit.stderr), "n": int(len(x))}  # fmt: skip


def face_fits(rows: pd.DataFrame, attributes: list[str]) -> pd.DataFrame:
    """One linear fit per (space, edited, scored, face): columns of :func:`linear_fit`."""
    out = []
    for (space, edited, face), grp in rows.groupby(["space", "edited", "face"], sort=False):
        for attr in attributes:
            fit = linear_fit(grp["alpha"], grp[attr])
            out.append({"space": space, "edited": edited, "scored": attr, "face": face, **fit})
    return pd.DataFrame(out, columns=[*KEYS, "face", "slope", "intercept", "r2", "stderr", "n"])


def mean_ci(values: np.ndarray, level: float = 0.95) -> tuple[float, float, float]:
    """(mean, low, high): the t interval (``level``) of the mean of the finite ``values``, as
    ``scipy.stats.t.interval`` with n - 1 dof; one value: NaN bounds; none: all NaN."""
    from scipy.stats import t

    v = np.asarray(values, float)
    v = v[np.isfinite(v)]
    if len(v) == 0:
        return (float("nan"),) * 3
    m = float(v.mean())
    if len(v) < 2:
        return m, float("nan"), float("nan")
    half = float(t.ppf(0.5 + level / 2, len(v) - 1) * v.std(ddof=1) / np.sqrt(len(v)))
    return m, m - half, m + half


def linearity_table(rows: pd.DataFrame, fits: pd.DataFrame) -> pd.DataFrame:
    """Per (space, edited, scored): slope (mean per-face slope) with its 95 % t interval over
    faces, the per-face R² distribution (r2_median, r2_q25, r2_q75, r2_min), n_faces with a fit
    and mean_std (the across-face score std, averaged over alphas)."""
    out = []
    for (space, edited, scored), grp in fits.groupby(KEYS, sort=False):
        m, lo, hi = mean_ci(grp["slope"].to_numpy(float))
        r2 = grp["r2"].to_numpy(float)
        r2 = r2[np.isfinite(r2)]
        q = np.percentile(r2, [50, 25, 75]) if len(r2) else [np.nan] * 3
        sub = rows[(rows["space"] == space) & (rows["edited"] == edited)]
        spread = sub.groupby("alpha")[scored].std().mean()
        out.append({
            "space": space, "edited": edited, "scored": scored, "slope": m, "slope_ci_low": lo,
            "slope_ci_high": hi, "r2_median": q[0], "r2_q25": q[1], "r2_q75": q[2],
            "r2_min": float(r2.min()) if len(r2) else np.nan,
            "n_faces": int(np.isfinite(grp["slope"]).sum()), "mean_std": spread,
        })  # fmt: skip
    return pd.DataFrame(out)


def effect_correlation(rows: pd.DataFrame, attributes: list[str], space: str) -> pd.DataFrame:
    """``[edited x scored]`` Pearson correlation between alpha and each score's change from the
    face's original (its alpha-0 score), pooled over faces (one space). ±1 for any noise-free
    effect however small (also from 2 points): shown beside the slopes, labelled as a
    correlation. NaN where < 2 points or the score never changes."""
    sub = rows[rows["space"] == space]
    edited = list(dict.fromkeys(sub["edited"]))
    m = pd.DataFrame(index=edited, columns=attributes, dtype=float)
    for e in edited:
        g = sub[sub["edited"] == e]
        base = g[g["alpha"] == 0].groupby("face")[attributes].first()
        delta = g[attributes].to_numpy(float) - base.reindex(g["face"]).to_numpy(float)
        for j, a in enumerate(attributes):
            ok = np.isfinite(delta[:, j])
            x, y = g["alpha"].to_numpy(float)[ok], delta[ok, j]
            m.loc[e, a] = np.corrcoef(x, y)[0, 1] if len(x) > 1 and np.std(y) > 0 else np.nan
    return m


def disentanglement_table(
    linearity: pd.DataFrame, score_std: dict[str, float], corr: dict[str, pd.DataFrame]
) -> pd.DataFrame:
    """Long table per (space, edited, scored): slope (+ interval), own_slope (scored attribute's
    slope along its own boundary in that space), by_own = slope / own_slope, score_std,
    by_spread = slope / score_std, corr (``corr[space]``, the alpha-change correlation)."""
    t = linearity[[*KEYS, "slope", "slope_ci_low", "slope_ci_high"]].copy()
    own = t[t["edited"] == t["scored"]].set_index(["space", "scored"])["slope"]
    t["own_slope"] = [own.get((s, j), np.nan) for s, j in zip(t["space"], t["scored"], strict=True)]
    with np.errstate(divide="ignore", invalid="ignore"):
        t["by_own"] = np.where(t["own_slope"] != 0, t["slope"] / t["own_slope"], np.nan)
        t["score_std"] = [score_std.get(j, np.nan) for j in t["scored"]]
        sd = t["score_std"].to_numpy(float)
        t["by_spread"] = np.where(sd > 0, t["slope"] / sd, np.nan)
    t["corr"] = [
        corr[s].loc[e, j] if s in corr and e in corr[s].index else np.nan
        for s, e, j in zip(t["space"], t["edited"], t["scored"], strict=True)
    ]
    return t


def matrix(table: pd.DataFrame, space: str, column: str, attributes: list[str]) -> pd.DataFrame:
    """``[edited x scored]`` of one column of :func:`disentanglement_table` for one space."""
    sub = table[table["space"] == space]
    m = sub.pivot(index="edited", columns="scored", values=column)
    return m.reindex(index=list(dict.fromkeys(sub["edited"])), columns=attributes).astype(float)

"""Editing along boundaries (Z, W and W+ layer ranges), rescoring and the linearity fits."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ganatlas.studies.semantics.sampling import map_ws, render_and_score
from ganatlas.studies.semantics.scoring import ScoringSetup


def face_latents(z_dim: int, seeds: list[int], latent_files: list[str | Path]) -> np.ndarray:
    """``z: [F, z_dim]`` float32: one standard-normal z per seed, then every row of each file.

    A file is .npy ``[N, z_dim]`` / ``[z_dim]`` or .npz with key ``z``.
    """
    from ganatlas.latent import sample_z

    rows = [sample_z(1, z_dim, s).numpy()[0] for s in seeds]
    for f in latent_files:
        data = np.load(f)
        arr = data["z"] if isinstance(data, np.lib.npyio.NpzFile) else data
        arr = np.asarray(arr, np.float32).reshape(-1, arr.shape[-1])
        if arr.shape[1] != z_dim:
            raise ValueError(f"latent file {f}: rows have {arr.shape[1]} values, z_dim is {z_dim}")
        rows.extend(arr)
    return np.stack(rows).astype(np.float32)


def edited_ws(
    g: torch.nn.Module,
    z: np.ndarray,
    normal: np.ndarray,
    alphas: list[float],
    space: str,
    wp_layers: list[int] | None = None,
    device: str = "cpu",
) -> tuple[np.ndarray, np.ndarray | None]:
    """``ws: [F * A, num_ws, w_dim]`` for faces ``z: [F, z_dim]`` edited by ``alpha * normal``.

    Order is face-major (face f, alpha a at row ``f * A + a``). space z: ``z + a n`` then mapped;
    w: ``w + a n`` on every ws row; wp: only rows ``wp_layers[0]:wp_layers[1]``. Also returns the
    edited z ``[F * A, z_dim]`` for space z (None otherwise).
    """
    n = np.asarray(normal, np.float32).reshape(-1)
    a = np.asarray(alphas, np.float32)
    f = len(z)
    if space == "z":
        ze = (z[:, None, :] + a[None, :, None] * n).reshape(f * len(a), -1)
        return map_ws(g, ze, device), ze
    ws = map_ws(g, z, device)  # [F, num_ws, w_dim]
    out = np.repeat(ws[:, None], len(a), axis=1)  # [F, A, num_ws, w_dim]
    if space == "w":
        rows = slice(None)
    elif space == "wp":
        lo, hi = wp_layers
        if hi > g.num_ws:
            raise ValueError(f"semantics.edit.wp_layers {wp_layers} exceed num_ws={g.num_ws}")
        rows = slice(lo, hi)
    else:
        raise ValueError(f"edit space must be z, w or wp, got {space!r}")
    out[:, :, rows, :] += a[None, :, None, None] * n
    return out.reshape(f * len(a), g.num_ws, -1), None


def edit_and_score(
    g: torch.nn.Module,
    z: np.ndarray,
    boundaries: dict[str, np.ndarray],
    alphas: list[float],
    space: str,
    setup: ScoringSetup,
    wp_layers: list[int] | None = None,
    device: str = "cpu",
    batch_size: int = 32,
    noise_mode: str = "const",
    keep_images: int = 0,
    log: Callable[[str], object] | None = None,
) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """Edit every face along every boundary, render and rescore with all scorers.

    Returns (rows: space, edited, face, alpha + detected/det_score/scores; images per attribute
    ``[min(F, keep_images), A, H, W, 3]`` uint8 RGB for the grids).
    """
    from ganatlas.render import synthesize

    frames, grids = [], {}
    f, na = len(z), len(alphas)
    for attr, normal in boundaries.items():
        ws, ze = edited_ws(g, z, normal, alphas, space, wp_layers, device)
        df = render_and_score(g, ze, ws, setup, device, batch_size, noise_mode, log)
        df.insert(0, "alpha", np.tile(np.asarray(alphas, float), f))
        df.insert(0, "face", np.repeat(np.arange(f), na))
        df.insert(0, "edited", attr)
        df.insert(0, "space", space)
        frames.append(df)
        if keep_images:
            nf = min(f, keep_images)
            imgs = synthesize(g, ws[: nf * na], device, batch_size, noise_mode)
            grids[attr] = imgs.reshape(nf, na, *imgs.shape[1:])
    return pd.concat(frames, ignore_index=True), grids


def linear_fit(x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """Least-squares ``y = slope * x + intercept`` over finite pairs with R^2 (NaN if < 2 points
    or constant x; R^2 = 1 when y is constant and fitted exactly)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    nan = float("nan")
    if len(x) < 2 or np.ptp(x) == 0:
        return {"slope": nan, "intercept": nan, "r2": nan, "n": int(len(x))}
    slope, intercept = np.polyfit(x, y, 1)
    ss_res = float(np.sum((y - (slope * x + intercept)) ** 2))
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    r2 = 1.0 - ss_res / ss_tot if ss_tot > 0 else (1.0 if ss_res == 0 else 0.0)
    return {"slope": float(slope), "intercept": float(intercept), "r2": r2, "n": int(len(x))}


def linearity_table(rows: pd.DataFrame, attributes: list[str]) -> pd.DataFrame:
    """Per (space, edited, scored attribute): linear fit of score on alpha over all faces, and the
    per-alpha mean/std spread summary (mean_std = mean over alphas of the across-face std)."""
    out = []
    for (space, edited), grp in rows.groupby(["space", "edited"], sort=False):
        for attr in attributes:
            fit = linear_fit(grp["alpha"], grp[attr])
            spread = grp.groupby("alpha")[attr].std().mean()
            out.append(
                {"space": space, "edited": edited, "scored": attr, **fit, "mean_std": spread}
            )
    return pd.DataFrame(out)


def effect_correlation(rows: pd.DataFrame, attributes: list[str], space: str) -> pd.DataFrame:
    """``[edited x scored]`` Pearson correlation between alpha and each score's change from the
    face's original (its alpha-0 score), pooled over faces (one space). Taking the change removes
    the face-to-face spread, so the matrix measures what the edit does."""
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

"""Seaborn/matplotlib figures: heatmaps, edit grids, attribute-vs-alpha curves."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402


def _save(fig, path: str | Path) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)


def heatmaps(mats: dict[str, pd.DataFrame], path: str | Path, title: str) -> None:
    """One annotated heatmap per named matrix, side by side, colour range [-1, 1]."""
    n = len(mats)
    fig, axes = plt.subplots(
        1, n + 1, figsize=(0.4 + 3.6 * n, 3.4), gridspec_kw={"width_ratios": [1] * n + [0.06]}
    )
    for ax, (name, m) in zip(axes[:n], mats.items(), strict=True):
        sns.heatmap(m.astype(float), vmin=-1, vmax=1, cmap="vlag", annot=True, fmt=".2f", ax=ax,
                    cbar=ax is axes[n - 1], cbar_ax=axes[n] if ax is axes[n - 1] else None)  # fmt: skip
        ax.set_title(name)
    fig.suptitle(title, y=1.04)
    _save(fig, path)


def edit_grid(images: np.ndarray, alphas: list[float], path: str | Path, title: str) -> None:
    """``images: [F, A, H, W, 3]`` uint8 RGB as rows of faces and columns of alphas (alpha 0, the
    original, framed)."""
    f, a, h, w, _ = images.shape
    mosaic = images.transpose(0, 2, 1, 3, 4).reshape(f * h, a * w, 3)
    fig, ax = plt.subplots(figsize=(max(4, 0.9 * a), max(1.5, 0.9 * f) + 0.6))
    ax.imshow(mosaic, interpolation="nearest")
    ax.set_xticks([w * (i + 0.5) for i in range(a)], [f"{x:g}" for x in alphas], fontsize=7)
    ax.set_yticks([])
    if 0.0 in alphas:
        i = alphas.index(0.0)
        ax.add_patch(plt.Rectangle((i * w - 0.5, -0.5), w, f * h, fill=False, ec="red", lw=1.5))
    ax.set_xlabel("alpha")
    ax.set_title(title)
    _save(fig, path)


def linearity_curves(
    rows: pd.DataFrame, fits: pd.DataFrame, attributes: list[str], space: str, path: str | Path
) -> None:
    """Grid edited x scored: score mean +- std over faces against alpha, with the linear fit."""
    sub = rows[rows["space"] == space]
    edited = list(dict.fromkeys(sub["edited"]))
    fig, axes = plt.subplots(
        len(edited),
        len(attributes),
        figsize=(2.8 * len(attributes), 2.2 * len(edited)),
        squeeze=False,
    )
    for i, e in enumerate(edited):
        grp = sub[sub["edited"] == e]
        stats = grp.groupby("alpha")[attributes].agg(["mean", "std"])
        for j, a in enumerate(attributes):
            ax = axes[i][j]
            x = stats.index.to_numpy(float)
            mu, sd = stats[(a, "mean")].to_numpy(float), stats[(a, "std")].to_numpy(float)
            ax.plot(x, mu, "o-", ms=3, color="C0")
            ax.fill_between(x, mu - sd, mu + sd, alpha=0.25, color="C0")
            fit = fits[(fits.space == space) & (fits.edited == e) & (fits.scored == a)]
            if len(fit) and np.isfinite(fit.slope.iloc[0]):
                s, b, r2 = fit.slope.iloc[0], fit.intercept.iloc[0], fit.r2.iloc[0]
                ax.plot(x, s * x + b, "--", color="C3", lw=1)
                ax.set_title(f"slope {s:.3g}, R² {r2:.2f}", fontsize=8)
            if i == len(edited) - 1:
                ax.set_xlabel("alpha")
            if j == 0:
                ax.set_ylabel(f"edit {e}")
            if i == 0:
                ax.annotate(a, (0.5, 1.25), xycoords="axes fraction", ha="center", fontsize=10)
    fig.suptitle(f"{space.upper()}: scores vs alpha (rows: edited boundary)", y=1.02)
    fig.tight_layout()
    _save(fig, path)

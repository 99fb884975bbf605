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


def edit_grid(
    images: np.ndarray,
    alphas: list[float],
    path: str | Path,
    title: str,
    faces: list[str] | None = None,
    scores: np.ndarray | None = None,
    score_name: str | None = None,
) -> None:
    """``images: [F, A, H, W, 3]`` uint8 RGB as rows of faces (labelled ``faces``) and columns of
    alphas (alpha 0, the original, framed). ``scores: [F, A]``: each tile's ``score_name`` score
    printed on it (NaN: "no face", in another colour)."""
    f, a, h, w, _ = images.shape
    mosaic = images.transpose(0, 2, 1, 3, 4).reshape(f * h, a * w, 3)
    fig, ax = plt.subplots(figsize=(max(4, 0.9 * a), max(1.5, 0.9 * f) + 0.6))
    ax.imshow(mosaic, interpolation="nearest")
    ax.set_xticks([w * (i + 0.5) for i in range(a)], [f"{x:g}" for x in alphas], fontsize=7)
    if faces is not None:
        ax.set_yticks([h * (i + 0.5) for i in range(f)], list(faces)[:f], fontsize=7)
        ax.set_ylabel("face")
    else:
        ax.set_yticks([])
    if scores is not None:
        for (i, j), v in np.ndenumerate(np.asarray(scores, float)):
            face = np.isfinite(v)
            ax.text(j * w + 1, i * h + 1, f"{v:.2f}" if face else "no face", fontsize=6,
                    va="top", ha="left", color="black" if face else "white",
                    bbox={"fc": "white" if face else "dimgray", "ec": "none", "pad": 0.6,
                          "alpha": 0.8})  # fmt: skip
    if 0.0 in alphas:
        i = alphas.index(0.0)
        ax.add_patch(plt.Rectangle((i * w - 0.5, -0.5), w, f * h, fill=False, ec="red", lw=1.5))
    ax.set_xlabel("alpha")
    if scores is not None and score_name:
        title = f"{title}; tiles: {score_name} score"
    ax.set_title(title, fontsize=9)
    _save(fig, path)


def linearity_curves(
    rows: pd.DataFrame, fits: pd.DataFrame, attributes: list[str], space: str, path: str | Path
) -> None:
    """Grid edited x scored: score mean +- std over faces against alpha, with the mean per-face
    slope and the median per-face R²; panels without any score are marked n/a."""
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
            if not np.isfinite(mu).any():
                ax.set_facecolor("0.92")
                ax.text(0.5, 0.5, "n/a\n(no score)", ha="center", va="center",
                        transform=ax.transAxes, color="dimgray")  # fmt: skip
            elif len(fit) and np.isfinite(fit.slope.iloc[0]):
                s, r2 = fit.slope.iloc[0], fit.r2_median.iloc[0]
                b = np.nanmean(mu) - s * np.mean(x)
                ax.plot(x, s * x + b, "--", color="C3", lw=1)
                r2_text = f"{r2:.2f}" if np.isfinite(r2) else "n/a"
                ax.set_title(f"slope {s:.3g}, median face R² {r2_text}", fontsize=8)
            if i == len(edited) - 1:
                ax.set_xlabel("alpha (edit step)")
            if j == 0:
                ax.set_ylabel(f"edit {e}: score")
            if i == 0:
                ax.annotate(a, (0.5, 1.25), xycoords="axes fraction", ha="center", fontsize=10)
    fig.suptitle(f"{space.upper()}: scores vs alpha (rows: edited boundary)", y=1.02)
    fig.tight_layout()
    _save(fig, path)


def _mark_na(ax, m: pd.DataFrame) -> None:
    """Grey hatched "n/a" over the NaN cells of a heatmap drawn from ``m``."""
    for (i, j), v in np.ndenumerate(m.to_numpy(float)):
        if not np.isfinite(v):
            ax.add_patch(plt.Rectangle((j, i), 1, 1, fc="lightgray", ec="gray", hatch="//", lw=0))
            ax.text(j + 0.5, i + 0.5, "n/a", ha="center", va="center", fontsize=8, color="dimgray")


def disentanglement_figure(panels: dict[str, dict[str, pd.DataFrame]], path: str | Path) -> None:
    """One row per space, one annotated heatmap per named matrix (rows: edited direction,
    columns: scored attribute); colour range [-1, 1] (values outside are clipped in colour, the
    numbers are exact); NaN cells marked n/a."""
    rows = list(panels)
    cols = list(next(iter(panels.values())))
    fig, axes = plt.subplots(len(rows), len(cols), squeeze=False,
                             figsize=(3.8 * len(cols), 0.6 + 0.45 * max(
                                 len(m) for p in panels.values() for m in p.values()) * len(rows)
                                 + 1.2 * len(rows)))  # fmt: skip
    for i, space in enumerate(rows):
        for j, name in enumerate(cols):
            ax, m = axes[i][j], panels[space][name].astype(float)
            sns.heatmap(m, vmin=-1, vmax=1, cmap="vlag", annot=True, fmt=".2f", ax=ax, cbar=False)
            _mark_na(ax, m)
            ax.set_title(f"{space}: {name}", fontsize=9)
            ax.set_xlabel("scored attribute")
            ax.set_ylabel("edited direction" if j == 0 else "")
    fig.suptitle("disentanglement: effect of a unit edit on every attribute", y=1.01)
    fig.tight_layout()
    _save(fig, path)

"""Figures of the paths study (matplotlib / seaborn), each written atomically.

Colours: detector scores on a sequential map; cells or frames without a face are drawn in a
separate flat grey with a "no face" legend entry, never as a low score.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

from ganatlas.atomic import atomic_path  # noqa: E402

NO_FACE = "#9e9e9e"
CMAP = "viridis"


def save(fig, path: str | Path, dpi: int = 120) -> None:
    """Save ``fig`` to ``path`` atomically and close it."""
    with atomic_path(path, suffix=Path(path).suffix) as tmp:
        fig.savefig(tmp, dpi=dpi, bbox_inches="tight")
    plt.close(fig)


def mosaic(images: np.ndarray, columns: int, pad: int = 2, fill: int = 255) -> np.ndarray:
    """``images [N, H, W, 3]`` -> one ``[rows * (H + pad), columns * (W + pad), 3]`` image."""
    n, h, w = images.shape[:3]
    rows = -(-n // columns)
    out = np.full((rows * (h + pad), columns * (w + pad), 3), fill, np.uint8)
    for i, img in enumerate(images):
        r, c = divmod(i, columns)
        out[r * (h + pad) : r * (h + pad) + h, c * (w + pad) : c * (w + pad) + w] = img
    return out


def labelled_sheet(
    images: np.ndarray,
    labels: Sequence[str],
    columns: int,
    path: str | Path,
    title: str,
    detected: Sequence[bool] | None = None,
    cell_inches: float = 0.9,
) -> None:
    """A contact sheet: images in ``columns`` columns, a label under each (red = no face)."""
    n, h, w = images.shape[:3]
    columns = max(1, min(columns, n))
    rows = -(-n // columns)
    pad = max(2, h // 16)
    sheet = mosaic(images, columns, pad)
    fig, ax = plt.subplots(figsize=(columns * cell_inches, rows * cell_inches * 1.15 + 0.6))
    ax.imshow(sheet)
    for i, label in enumerate(labels):
        r, c = divmod(i, columns)
        colour = "black" if detected is None or detected[i] else "#c62828"
        ax.text(c * (w + pad) + w / 2, r * (h + pad) + h + pad * 0.3, label, ha="center",
                va="top", fontsize=5.5, color=colour)  # fmt: skip
    ax.set_axis_off()
    ax.set_title(title, fontsize=9)
    save(fig, path)


def plane_montage(
    images: np.ndarray, xs: Sequence[float], ys: Sequence[float], names: dict, path: str | Path
) -> None:
    """The plane's images ``[len(ys) * len(xs), H, W, 3]`` (row-major, top row = largest y) with
    the coefficients on labelled axes."""
    nx, ny = len(xs), len(ys)
    h, w = images.shape[1:3]
    sheet = mosaic(images, nx, pad=0)
    fig, ax = plt.subplots(figsize=(max(4, nx * 0.8), max(4, ny * 0.8)))
    ax.imshow(sheet, extent=(-0.5, nx - 0.5, ny - 0.5, -0.5))
    ax.set_xticks(range(nx), [f"{x:g}" for x in xs], fontsize=7)
    ax.set_yticks(range(ny), [f"{y:g}" for y in ys], fontsize=7)
    ax.set_xlabel(f"x: coefficient of {names['x']} (unitless)")
    ax.set_ylabel(f"y: coefficient of {names['y']} (unitless)")
    ax.set_title(f"{names['origin']} + x * {names['x']} + y * {names['y']} ({names['space']})")
    save(fig, path)


def plane_heatmaps(cells: pd.DataFrame, columns: Sequence[str], path: str | Path) -> None:
    """One heat map per score column over the plane's grid; no-face cells grey, with n."""
    import seaborn as sns

    xs = sorted(cells["x"].unique())
    ys = sorted(cells["y"].unique(), reverse=True)
    fig, axes = plt.subplots(1, len(columns), figsize=(4.4 * len(columns), 4), squeeze=False)
    for ax, col in zip(axes[0], columns, strict=True):
        grid = cells.pivot(index="y", columns="x", values=col).reindex(index=ys, columns=xs)
        mask = grid.isna().to_numpy()
        ax.set_facecolor(NO_FACE)
        vmin, vmax = (0, 1) if col == "det_score" else (None, None)
        sns.heatmap(grid, mask=mask, cmap=CMAP, vmin=vmin, vmax=vmax, ax=ax, square=True,
                    cbar_kws={"label": col}, xticklabels=[f"{x:g}" for x in xs],
                    yticklabels=[f"{y:g}" for y in ys])  # fmt: skip
        n_face = int((~mask).sum())
        ax.set_title(f"{col} (faces in {n_face} of {mask.size} cells)", fontsize=9)
        ax.set_xlabel("x coefficient")
        ax.set_ylabel("y coefficient")
        ax.legend(handles=[Patch(color=NO_FACE, label="no face")], loc="upper right",
                  bbox_to_anchor=(1.0, -0.12), fontsize=7, frameon=False)  # fmt: skip
    save(fig, path)


def distance_heatmap(D: pd.DataFrame, meta: dict, path: str | Path) -> None:
    """Pairwise identity distances of a path's frames (grey = no face embedded)."""
    import seaborn as sns

    n = len(D)
    fig, ax = plt.subplots(figsize=(max(4, n * 0.35 + 1.5), max(3.5, n * 0.35)))
    ax.set_facecolor(NO_FACE)
    annot = n <= 12
    sns.heatmap(D, mask=D.isna().to_numpy(), cmap="magma_r", vmin=0, square=True, ax=ax,
                annot=annot, fmt=".2f", annot_kws={"fontsize": 6},
                cbar_kws={"label": f"{meta['distance']} distance ({meta['embedder']})"})  # fmt: skip
    ax.set_xlabel("frame")
    ax.set_ylabel("frame")
    ax.set_title(
        f"identity distance, same person below {meta['threshold']:g} (n = {n} frames)", fontsize=9
    )
    save(fig, path)


def first_row_plot(frames: pd.DataFrame, meta: dict, path: str | Path) -> None:
    """Distance of every frame to frame 0 (the source's figure), threshold line, no-face marks."""
    fig, ax = plt.subplots(figsize=(6, 3.4))
    ok = frames["embedded"].to_numpy(bool)
    ax.plot(frames.loc[ok, "frame"], frames.loc[ok, "dist_first"], "o-", color="#1565c0",
            label="distance to frame 0")  # fmt: skip
    if (~ok).any():
        ax.scatter(frames.loc[~ok, "frame"], np.zeros((~ok).sum()), marker="x", color=NO_FACE,
                   label="no face embedded")  # fmt: skip
    ax.axhline(meta["threshold"], ls="--", color="#c62828",
               label=f"same-person threshold {meta['threshold']:g}")  # fmt: skip
    for k in frames.loc[frames["is_keyframe"], "frame"]:
        ax.axvline(k, color="0.85", lw=0.8, zorder=0)
    ax.set_xlabel("frame (grey lines: keyframes)")
    ax.set_ylabel(f"{meta['distance']} distance ({meta['embedder']})")
    ax.set_title(f"identity change along the path (n = {len(frames)} frames)", fontsize=9)
    ax.legend(fontsize=7)
    save(fig, path)


def mix_grid(
    rows: np.ndarray, cols: np.ndarray, mixed: np.ndarray, labels: dict, path: str | Path
) -> None:
    """NVIDIA-style grid: column seeds on top, row seeds on the left, mixes in the cells.

    rows: [R, H, W, 3]; cols: [C, H, W, 3]; mixed: [R, C, H, W, 3].
    """
    r, c, h, w = mixed.shape[:4]
    canvas = np.full(((r + 1) * h, (c + 1) * w, 3), 255, np.uint8)
    for j in range(c):
        canvas[:h, (j + 1) * w : (j + 2) * w] = cols[j]
    for i in range(r):
        canvas[(i + 1) * h : (i + 2) * h, :w] = rows[i]
        for j in range(c):
            canvas[(i + 1) * h : (i + 2) * h, (j + 1) * w : (j + 2) * w] = mixed[i, j]
    fig, ax = plt.subplots(figsize=(1.3 * (c + 1), 1.3 * (r + 1) + 0.5))
    ax.imshow(canvas)
    ax.set_xticks([(j + 1.5) * w for j in range(c)], labels["cols"], fontsize=7)
    ax.set_yticks([(i + 1.5) * h for i in range(r)], labels["rows"], fontsize=7)
    ax.xaxis.tick_top()
    ax.set_xlabel("column seed: styles of layers " + labels["range"], fontsize=8)
    ax.set_ylabel("row seed: all other layers", fontsize=8)
    ax.set_title(labels["title"], fontsize=9)
    save(fig, path)

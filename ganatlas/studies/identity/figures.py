"""Figures of the identity study: convergence curves, best-so-far gallery, hill-climbing slice,
keyface gallery and the iteration's distance series. Evaluations with no face are drawn as grey
crosses in a strip above the curves, never in a method's colour."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

NO_FACE_COLOUR = "tab:gray"
METHOD_COLOURS = {"dual_annealing": "tab:blue", "cma": "tab:orange", "gradient": "tab:green"}


def _save(fig, path: str | Path) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)


def convergence_figure(recs: dict[str, list[dict]], threshold: float, path: str | Path,
                       target: str) -> None:  # fmt: skip
    """Best-so-far distance vs evaluations (left) and vs seconds (right) per method, each
    evaluation as a faint dot, no-face evaluations as grey crosses at the top, threshold dashed."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), sharey=True)
    top = 0.0
    for rows in recs.values():
        if not rows:
            continue
        d = np.array([r["distance"] for r in rows])
        face = np.array([r["extra"].get("faces", 1) > 0 for r in rows])
        top = max(top, d[face].max() if face.any() else 0)
    top = max(top, threshold) * 1.08
    for method, rows in recs.items():
        if not rows:
            continue
        col = METHOD_COLOURS.get(method, "tab:purple")
        n = np.arange(1, len(rows) + 1)
        t = np.array([r["elapsed"] for r in rows])
        d = np.array([r["distance"] for r in rows])
        face = np.array([r["extra"].get("faces", 1) > 0 for r in rows])
        best = np.minimum.accumulate(np.where(face, d, np.inf))
        for ax, x in zip(axes, (n, t), strict=True):
            ax.scatter(x[face], d[face], s=4, color=col, alpha=0.15, linewidths=0)
            ax.scatter(x[~face], np.full((~face).sum(), top), s=10, marker="x",
                       color=NO_FACE_COLOUR, linewidths=0.8)  # fmt: skip
            ax.step(x, best, where="post", color=col, label=f"{method} (n={len(rows)})")
    for ax in axes:
        ax.axhline(threshold, ls="--", color="black", lw=1, label=f"threshold {threshold:g}")
        ax.set_ylim(0, top * 1.04)
    axes[0].scatter([], [], marker="x", color=NO_FACE_COLOUR, label="no face (top strip)")
    axes[0].set_xlabel("evaluations (render + detect + embed)")
    axes[1].set_xlabel("wall time (s)")
    axes[0].set_ylabel("distance to target (embedder units)")
    axes[0].legend(fontsize=7)
    fig.suptitle(f"{target}: best-so-far distance (lines), every evaluation (dots)")
    _save(fig, path)


def gallery_figure(target_rgb: np.ndarray, faces: dict[str, list[tuple[int, float, np.ndarray]]],
                   threshold: float, path: str | Path, target: str) -> None:  # fmt: skip
    """The target photo, then one row per method of best-so-far faces (evaluation, distance)."""
    n = max([len(v) for v in faces.values()] + [1])
    rows = max(len(faces), 1)
    fig, axes = plt.subplots(rows, n + 1, figsize=(1.5 * (n + 1), 1.7 * rows), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    axes[0, 0].imshow(target_rgb)
    axes[0, 0].set_title("target", fontsize=8)
    for i, (method, items) in enumerate(faces.items()):
        axes[i, 1].set_title(method, fontsize=8, loc="left")
        for j, (ev, d, img) in enumerate(items):
            ax = axes[i, j + 1]
            ax.imshow(img)
            mark = " <thr" if d < threshold else ""
            ax.text(0.5, -0.08, f"#{ev} d={d:.3f}{mark}", transform=ax.transAxes, ha="center",
                    va="top", fontsize=6)  # fmt: skip
    fig.suptitle(f"{target}: best-so-far faces (evaluation number, distance)", fontsize=9)
    _save(fig, path)


def slice_figure(grid: dict, threshold: float, path: str | Path, target: str) -> None:
    """Distance over the 2-D slice through the best point; no-face cells grey; threshold
    contour."""
    offs, d, nf = grid["offsets"], np.asarray(grid["distance"]), np.asarray(grid["no_face"])
    labels = [str(x) for x in np.asarray(grid["labels"]).tolist()]
    fig, ax = plt.subplots(figsize=(5, 4.2))
    masked = np.ma.masked_where(nf, d)
    cmap = plt.get_cmap("viridis").with_extremes(bad=NO_FACE_COLOUR)
    ext = [offs[0], offs[-1], offs[0], offs[-1]]
    im = ax.imshow(masked, origin="lower", extent=ext, cmap=cmap, aspect="auto")
    fig.colorbar(im, ax=ax, label="distance to target")
    if (~nf).any() and masked.min() < threshold < masked.max():
        ax.contour(offs, offs, np.where(nf, np.nan, d), levels=[threshold], colors="white")
    ax.plot(0, 0, marker="*", color="red", ms=12, label="best point")
    ax.set_xlabel(f"offset along {labels[0]}")
    ax.set_ylabel(f"offset along {labels[1]}")
    ax.legend(loc="upper right", fontsize=7)
    ax.set_title(f"{target}: distance over a slice (grey: no face; white: threshold)", fontsize=8)
    _save(fig, path)


def keyface_gallery(imgs: list[np.ndarray], d_prev: list, d_start: list, rec, path) -> None:
    """Keyfaces in order with their distances to the previous and to the start face."""
    n = len(imgs)
    cols = min(n, 8)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(1.5 * cols, 1.8 * rows), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for i, img in enumerate(imgs):
        ax = axes[i // cols, i % cols]
        ax.imshow(img)
        fmt = lambda v: "-" if v is None else f"{v:.2f}"  # noqa: E731
        ax.set_title(f"{i}: prev {fmt(d_prev[i])}\nstart {fmt(d_start[i])}", fontsize=6)
    what = {"cycle": f"cycle: keyface {rec.return_step} returns, period {rec.period}",
            "fixed_point": f"fixed point from keyface {rec.return_step}",
            "none": "no cycle or fixed point"}[rec.kind]  # fmt: skip
    fig.suptitle(f"keyfaces ({what})", fontsize=9)
    _save(fig, path)


def distance_series_figure(table: pd.DataFrame, threshold: float, rec, path) -> None:
    """Distance of each keyface to the previous one and to the start; no-face keyfaces grey."""
    fig, ax = plt.subplots(figsize=(6, 3.5))
    k = table["keyface"].to_numpy()
    for col, style in (("distance_to_previous", "o-"), ("distance_to_start", "s--")):
        ax.plot(
            k, pd.to_numeric(table[col], errors="coerce"), style, ms=3, label=col.replace("_", " ")
        )
    nf = ~table["face"].to_numpy(bool)
    if nf.any():
        ax.scatter(k[nf], np.zeros(nf.sum()), marker="x", color=NO_FACE_COLOUR, label="no face")
    ax.axhline(threshold, ls=":", color="black", label=f"threshold {threshold:g}")
    if rec.return_step is not None:
        ax.axvline(rec.return_step, color="tab:red", lw=1, label=f"first return ({rec.kind})")
    ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    ax.set_xlabel("keyface (step of the iteration)")
    ax.set_ylabel("embedding distance (embedder's metric)")
    ax.legend(fontsize=7)
    _save(fig, path)

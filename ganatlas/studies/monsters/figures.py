"""Figures of the monsters study (matplotlib, written atomically).

"No face" is always grey and never shares a colour with a low detector score (a viridis scale);
rates carry their n and Wilson 95% bands.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

NO_FACE = "#9e9e9e"


def save(fig: plt.Figure, path: str | Path) -> None:
    """Write ``fig`` to ``path`` atomically and close it."""
    from ganatlas.atomic import atomic_path

    with atomic_path(path, suffix=Path(path).suffix) as tmp:
        fig.savefig(tmp, dpi=110, bbox_inches="tight")
    plt.close(fig)


def _unit_label(unit: str) -> str:
    if unit == "absolute":
        return "radius (latent units)"
    return f"radius (x {unit} of the samples' distance to the centre)"


def plot_radial(
    curves: pd.DataFrame, radii: pd.DataFrame, unit: str, yield_png: Path, score_png: Path
) -> None:
    """Yield by radius (Wilson 95% band) and the median detected score by radius: one panel per
    space (W from w_avg, Z from the origin), one line per network, r90 / r50 marked."""
    spaces = sorted(curves["space"].unique())
    titles = {"w": "W, from w_avg", "z": "Z, from the origin"}
    for png, kind in ((yield_png, "yield"), (score_png, "score")):
        fig, axes = plt.subplots(1, len(spaces), figsize=(5.5 * len(spaces), 4), squeeze=False)
        for ax, space in zip(axes[0], spaces, strict=True):
            part = curves[curves["space"] == space]
            for i, (net, c) in enumerate(part.groupby("net", sort=True)):
                colour = f"C{i}"
                label = f"{c['network'].iloc[0]} (n = {int(c['n'].max())} directions per radius)"
                if kind == "yield":
                    ax.plot(c["radius"], 100 * c["yield"], "o-", color=colour, ms=3, label=label)
                    ax.fill_between(c["radius"], 100 * c["ci_low"], 100 * c["ci_high"],
                                    color=colour, alpha=0.2, lw=0)  # fmt: skip
                    r = radii[(radii["net"] == net) & (radii["space"] == space)]
                    for key, style in (("r90", ":"), ("r50", "--")):
                        val = float(r[key].iloc[0]) if len(r) else np.nan
                        if np.isfinite(val):
                            ax.axvline(val, color=colour, ls=style, lw=1)
                            ax.text(val, 102, key, color=colour, ha="center", fontsize=7)
                else:
                    ax.plot(c["radius"], c["median_score"], "o-", color=colour, ms=3, label=label)
            ax.set_xlabel(_unit_label(unit))
            if kind == "yield":
                ax.set_ylabel("images with a detected face (%), Wilson 95%")
                ax.set_ylim(0, 108)
                ax.axhline(90, color=NO_FACE, lw=0.5)
                ax.axhline(50, color=NO_FACE, lw=0.5)
            else:
                ax.set_ylabel("median detector score of detected images (0-1)")
                ax.set_ylim(0, 1.02)
            ax.set_title(titles.get(space, space))
            ax.legend(fontsize=7, loc="lower left")
        fig.suptitle("radial walks: yield by radius" if kind == "yield"
                     else "radial walks: detector score by radius (detected images only)")  # fmt: skip
        save(fig, png)


def plot_strip(
    images: np.ndarray, t: np.ndarray, rows: pd.DataFrame, title: str, png: Path
) -> None:
    """The edit strip: ``images [F, H, W, 3]`` uint8 RGB at offsets ``t [F]`` along the normal,
    each titled with its decision value and detector score ("no face" in grey)."""
    f = len(images)
    fig, axes = plt.subplots(1, f, figsize=(1.4 * f, 2.0), squeeze=False)
    for ax, img, (_, r), ti in zip(axes[0], images, rows.iterrows(), t, strict=True):
        ax.imshow(img)
        ax.set_xticks([])
        ax.set_yticks([])
        if r["detected"]:
            txt, col = f"score {r['det_score']:.2f}", "black"
        else:
            txt, col = "no face", NO_FACE
        ax.set_title(f"t = {ti:.1f}\nd = {r['decision']:.2f}\n{txt}", fontsize=7, color=col)
        if not r["detected"]:
            for s in ax.spines.values():
                s.set_edgecolor(NO_FACE)
                s.set_linewidth(3)
    fig.suptitle(title, fontsize=9, y=1.2)  # above the three-line frame titles
    save(fig, png)


def plot_embedding_map(df: pd.DataFrame, method: str, png: Path) -> None:
    """2-D embedding map coloured by seed, step, distance and detector score (four panels)."""
    fig, axes = plt.subplots(2, 2, figsize=(11, 9))
    pts = df[np.isfinite(df["x"])]
    n = len(pts)
    specs = (("step", "walk step (radial samples not shown)", "viridis"),
             ("distance", "distance to the centre (latent units)", "magma"),
             ("score", "detector score (0-1)", "viridis"))  # fmt: skip
    ax = axes[0, 0]
    for i, (src, seed) in enumerate(
        sorted({(s, int(e)) for s, e in zip(pts["source"], pts["seed"], strict=True)})
    ):
        sub = pts[(pts["source"] == src) & (pts["seed"] == seed)]
        label = f"walk seed {seed}" if src == "walk" else src.replace("_", " ")
        ax.scatter(sub["x"], sub["y"], s=4, color=f"C{i % 10}", alpha=0.7, lw=0,
                   label=f"{label} (n = {len(sub)})")  # fmt: skip
    ax.legend(fontsize=7, markerscale=3)
    ax.set_title(f"coloured by walk seed / radial space (n = {n})")
    ax.set_xlabel(f"{method} 1")
    ax.set_ylabel(f"{method} 2")
    for ax, (col, label, cmap) in zip(axes.ravel()[1:], specs, strict=True):
        sub = pts if col != "step" else pts[pts["source"] == "walk"]
        if len(sub):
            sc = ax.scatter(sub["x"], sub["y"], c=sub[col], s=4, cmap=cmap, alpha=0.7, lw=0)
            fig.colorbar(sc, ax=ax, label=label)
        ax.set_xlabel(f"{method} 1")
        ax.set_ylabel(f"{method} 2")
        ax.set_title(f"coloured by {col} (n = {len(sub)})")
    fig.suptitle(f"identity embeddings of the detected faces ({method}, n = {n})")
    save(fig, png)


def plot_drift(drift: pd.DataFrame, threshold: float, embedder: str, png: Path) -> None:
    """Identity drift along each walk: distance to the walk's first detected face by step, with
    the embedder's same-identity threshold drawn."""
    fig, ax = plt.subplots(figsize=(8, 4))
    for i, (seed, part) in enumerate(drift.groupby("seed", sort=True)):
        ax.plot(part["step"], part["drift"], ".", ms=2, color=f"C{i}",
                label=f"seed {seed} (n = {len(part)} faces)")  # fmt: skip
    ax.axhline(
        threshold, color="red", lw=1, label=f"{embedder} same-identity threshold {threshold:.2f}"
    )
    ax.set_xlabel("walk step")
    ax.set_ylabel(f"{embedder} embedding distance to the walk's first face (Euclidean)")
    ax.set_title("identity drift along the walks (detected faces only)")
    ax.legend(fontsize=7, markerscale=4)
    save(fig, png)

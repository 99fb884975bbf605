"""Walk-study report: summary tables, seaborn figures and a markdown page that shows them."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
from PIL import Image  # noqa: E402

SUMMARY_COLUMNS = [
    "seed",
    "images",
    "detected",
    "errors",
    "yield_per_1000",
    "score_mean",
    "score_median",
    "score_min",
    "score_max",
    "distance_max",
]


def summarize(df: pd.DataFrame) -> pd.DataFrame:
    """Per-seed summary plus an ``all`` row.

    ``df`` has one row per image with seed, detected, score (0.0 when undetected), distance and
    error (null unless unreadable). Score statistics are over every image (undetected at 0.0),
    as in the report's histograms.
    """

    def row(seed, part: pd.DataFrame) -> dict:
        n = len(part)
        return {
            "seed": seed,
            "images": n,
            "detected": int(part["detected"].sum()),
            "errors": int(part["error"].notna().sum()) if "error" in part else 0,
            "yield_per_1000": 1000.0 * part["detected"].sum() / n if n else float("nan"),
            "score_mean": part["score"].mean(),
            "score_median": part["score"].median(),
            "score_min": part["score"].min(),
            "score_max": part["score"].max(),
            "distance_max": part["distance"].max(),
        }

    rows = [row(int(s), part) for s, part in df.groupby("seed", sort=True)]
    rows.append(row("all", df))
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)


def yield_by_distance(df: pd.DataFrame, bins: int = 10) -> pd.DataFrame:
    """Detectable faces per 1,000 images in equal-width bins of distance from w_avg."""
    edges = np.linspace(0.0, float(df["distance"].max()) * (1 + 1e-9) or 1.0, bins + 1)
    cut = pd.cut(df["distance"], edges, include_lowest=True)
    grouped = df.groupby(cut, observed=False)
    out = pd.DataFrame(
        {
            "distance_lo": edges[:-1],
            "distance_hi": edges[1:],
            "images": grouped.size().to_numpy(),
            "detected": grouped["detected"].sum().to_numpy(),
            "score_mean": grouped["score"].mean().to_numpy(),
        }
    )
    out["yield_per_1000"] = 1000.0 * out["detected"] / out["images"].where(out["images"] > 0)
    return out


def _save(fig: plt.Figure, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)


def plot_histogram(part: pd.DataFrame, seed: int, path: Path) -> None:
    """Histogram of detection confidence for one seed (undetected images at 0.0)."""
    fig, ax = plt.subplots(figsize=(6, 3.5))
    sns.histplot(part["score"], bins=np.linspace(0, 1, 41), ax=ax, color="steelblue")
    ax.set(
        xlabel="detector confidence (0.0 = no face)",
        ylabel="images",
        title=f"seed {seed}: {int(part['detected'].sum())}/{len(part)} detected",
    )
    _save(fig, path)


def plot_steps(part: pd.DataFrame, seed: int, path: Path, green: float = 0.7) -> None:
    """Confidence by walk step for one seed; scores above ``green`` in green."""
    fig, ax = plt.subplots(figsize=(8, 3.5))
    good = part["score"] > green
    ax.scatter(
        part.loc[~good, "step"], part.loc[~good, "score"], s=6, c="tab:red", label=f"<= {green}"
    )
    ax.scatter(
        part.loc[good, "step"], part.loc[good, "score"], s=6, c="tab:green", label=f"> {green}"
    )
    ax.set(
        xlabel="step",
        ylabel="confidence",
        ylim=(-0.02, 1.02),
        title=f"seed {seed}: confidence by step",
    )
    ax2 = ax.twinx()
    ax2.plot(part["step"], part["distance"], c="grey", lw=1)
    ax2.set_ylabel("distance from w_avg", color="grey")
    ax.legend(loc="lower left", fontsize=8)
    _save(fig, path)


def plot_score_vs_distance(df: pd.DataFrame, path: Path) -> None:
    """Score against distance from w_avg, all seeds."""
    fig, ax = plt.subplots(figsize=(7, 4))
    sns.scatterplot(
        data=df.assign(seed=df["seed"].astype(str)),
        x="distance",
        y="score",
        hue="seed",
        s=8,
        linewidth=0,
        ax=ax,
    )
    ax.set(
        xlabel="distance from w_avg",
        ylabel="confidence (0.0 = no face)",
        title="detector confidence vs distance from the average latent",
    )
    _save(fig, path)


def plot_yield_by_distance(table: pd.DataFrame, path: Path) -> None:
    """Detectable faces per 1,000 images by distance bin."""
    fig, ax = plt.subplots(figsize=(7, 3.5))
    mids = (table["distance_lo"] + table["distance_hi"]) / 2
    ax.bar(
        mids,
        table["yield_per_1000"].fillna(0),
        width=(table["distance_hi"] - table["distance_lo"]) * 0.9,
        color="tab:blue",
    )
    ax.set(
        xlabel="distance from w_avg",
        ylabel="detected per 1,000",
        ylim=(0, 1000),
        title="yield of detectable faces by distance",
    )
    _save(fig, path)


def plot_gallery(df: pd.DataFrame, images_root: Path, path: Path, size: int = 16) -> pd.DataFrame:
    """The start image of each seed beside the undetected and lowest-scoring images ("monsters")."""
    starts = df[df["step"] == 0].sort_values("seed")
    ranked = df[df["step"] > 0].sort_values(["score", "distance"], ascending=[True, False])
    spacing = max(1, int(df["step"].max()) // (4 * size) + 1)
    chosen: list = []
    taken: dict[int, list[int]] = {}
    for idx, r in ranked.iterrows():  # spread the picks: no two within `spacing` steps of a walk
        steps = taken.setdefault(int(r["seed"]), [])
        if all(abs(int(r["step"]) - s) >= spacing for s in steps):
            steps.append(int(r["step"]))
            chosen.append(idx)
            if len(chosen) == size:
                break
    worst = ranked.loc[chosen]
    picks = pd.concat([starts.assign(role="start"), worst.assign(role="monster")])
    cols = 8
    rows = int(np.ceil(len(picks) / cols)) or 1
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 1.6, rows * 1.9), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, (_, r) in zip(axes.ravel(), picks.iterrows(), strict=False):
        img_path = images_root / f"seed{int(r['seed'])}" / r["filename"]
        if not img_path.is_file():
            matches = list(images_root.glob(f"seed{int(r['seed'])}/*/{r['filename']}"))
            img_path = matches[0] if matches else img_path
        label = "start" if r["role"] == "start" else f"{r['score']:.2f}"
        try:
            ax.imshow(Image.open(img_path))
        except (OSError, ValueError):  # missing or unreadable: keep the tile, say so
            label = "unreadable"
        ax.set_title(
            f"s{int(r['seed'])} #{int(r['step'])}\n{label} d={r['distance']:.1f}", fontsize=7
        )
    fig.suptitle("start images and monsters (undetected or lowest confidence)", fontsize=9)
    _save(fig, path)
    return picks


def write_report(
    detections: pd.DataFrame,
    images_root: str | Path,
    outdir: str | Path,
    green: float = 0.7,
    gallery_size: int = 16,
    network: dict | None = None,
) -> dict[str, Path]:
    """Write summary.csv, yield_by_distance.csv, figures/*.png and report.md into ``outdir``."""
    outdir = Path(outdir)
    figs = outdir / "figures"
    figs.mkdir(parents=True, exist_ok=True)
    df = detections.sort_values(["seed", "step"]).reset_index(drop=True)
    summary = summarize(df)
    summary.to_csv(outdir / "summary.csv", index=False, float_format="%.6g")
    ybd = yield_by_distance(df)
    ybd.to_csv(outdir / "yield_by_distance.csv", index=False, float_format="%.6g")
    for seed, part in df.groupby("seed"):
        plot_histogram(part, int(seed), figs / f"hist_seed{int(seed)}.png")
        plot_steps(part, int(seed), figs / f"steps_seed{int(seed)}.png", green)
    plot_score_vs_distance(df, figs / "score_vs_distance.png")
    plot_yield_by_distance(ybd, figs / "yield_by_distance.png")
    plot_gallery(df, Path(images_root), figs / "monsters.png", gallery_size)
    lines = ["# Walk study report", ""]
    if network:
        lines += [
            f"Network: **{network.get('name')}** ({network.get('kind')}, {network.get('img_resolution')} px, "
            f"w_dim {network.get('w_dim')}, sha256 `{network.get('sha256')}`).",
            "",
        ]
    backends = sorted(set(df.get("backend", pd.Series(dtype=str)).dropna().astype(str)))
    models = sorted(set(df.get("models", pd.Series(dtype=str)).dropna().astype(str)))
    det_sizes = sorted(set(df.get("det_size", pd.Series(dtype=int)).dropna().astype(int).tolist()))
    lines += [
        f"Detector: {', '.join(backends) or '?'} ({', '.join(models) or '?'}), det_size {det_sizes}.",
        "Undetected images score 0.0.",
        "",
        "## Summary per seed",
        "",
        summary.to_markdown(index=False, floatfmt=".3f"),
        "",
        "## Yield of detectable faces by distance from w_avg",
        "",
        ybd.to_markdown(index=False, floatfmt=".2f"),
        "",
        "![yield by distance](figures/yield_by_distance.png)",
        "",
        "![score vs distance](figures/score_vs_distance.png)",
        "",
        "![monsters](figures/monsters.png)",
        "",
    ]
    for seed in sorted(df["seed"].unique()):
        lines += [
            f"## Seed {int(seed)}",
            "",
            f"![histogram](figures/hist_seed{int(seed)}.png)",
            f"![by step](figures/steps_seed{int(seed)}.png)",
            "",
        ]
    (outdir / "report.md").write_text("\n".join(lines))
    return {"summary": outdir / "summary.csv", "report": outdir / "report.md", "figures": figs}

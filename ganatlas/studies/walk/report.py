"""Walk-study report: summary tables, figures and a markdown page that shows them.

Conventions of every figure: undetected images ("no face") are drawn in grey, never in the colour
of low scores; distances are the L2 distance |w - w_avg| in W (Z for the DCGAN) and every distance
axis marks the median distance of the w_avg samples to w_avg (the typical sample's distance);
rates come with their n and Wilson 95% intervals.
"""

from __future__ import annotations

import os
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
    "detected_score_mean",
    "detected_score_median",
    "detected_score_p10",
    "detected_score_p90",
]
YIELD_COLUMNS = [
    "seed",
    "bin",
    "distance_lo",
    "distance_hi",
    "n",
    "detected",
    "yield_per_1000",
    "ci_low",
    "ci_high",
]

# Point categories of the by-step and score-vs-distance plots, and their colours. "no face" is
# grey, which no detected score is ever drawn in.
NO_FACE, LOW, HIGH = "no face", "low", "high"
CATEGORY_COLOURS = {NO_FACE: "tab:gray", LOW: "tab:orange", HIGH: "tab:green"}
MEDIAN_COLOUR = "tab:purple"
NO_FACE_Y = -0.1  # where undetected images sit on a confidence axis (a strip below 0)
DISTANCE_LABEL = "distance from w_avg, |w - w_avg| (L2 in W)"
# The detector whose confidences the thresholds and the report's wording assume.
SCRFD_BACKENDS = {"insightface"}


def summarize(df: pd.DataFrame) -> pd.DataFrame:
    """Per-seed summary plus an ``all`` row.

    ``df`` has one row per image with seed, detected, score (0.0 when undetected), distance and
    error (null unless unreadable). ``score_*`` are over every image (undetected at 0.0, as in
    detections.csv); ``detected_score_*`` (mean, median, 10th and 90th percentile) are over the
    detected images only (NaN when none was detected).
    """

    def row(seed, part: pd.DataFrame) -> dict:
        n = len(part)
        found = part.loc[part["detected"].astype(bool), "score"].to_numpy(dtype=np.float64)
        pct = np.percentile(found, [10, 50, 90]) if len(found) else [np.nan] * 3
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
            "detected_score_mean": found.mean() if len(found) else np.nan,
            "detected_score_median": pct[1],
            "detected_score_p10": pct[0],
            "detected_score_p90": pct[2],
        }

    rows = [row(int(s), part) for s, part in df.groupby("seed", sort=True)]
    rows.append(row("all", df))
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)


def wilson_interval(k: int, n: int) -> tuple[float, float]:
    """Wilson score 95% interval of a proportion k / n (scipy's binomtest); NaN when n == 0."""
    if n == 0:
        return float("nan"), float("nan")
    from scipy.stats import binomtest

    ci = binomtest(int(k), int(n)).proportion_ci(confidence_level=0.95, method="wilson")
    return float(ci.low), float(ci.high)


def distance_edges(df: pd.DataFrame, bins: int = 10) -> np.ndarray:
    """``bins`` equal-width distance bins from 0 to the largest distance (shared by every seed)."""
    return np.linspace(0.0, float(df["distance"].max()) * (1 + 1e-9) or 1.0, bins + 1)


def yield_by_distance(df: pd.DataFrame, bins: int = 10) -> pd.DataFrame:
    """Detectable faces per 1,000 images by distance from w_avg, per seed and pooled (``all``).

    Equal-width bins ``(lo, hi]`` from 0 to the largest distance (the first also holds 0), the
    same edges for every seed. Columns: seed, bin, distance_lo, distance_hi, n (images in the
    bin), detected, yield_per_1000, ci_low, ci_high (Wilson 95% interval, per 1,000). An empty
    bin has n = 0 and NaN rate and interval (not 0 per 1,000).
    """
    edges = distance_edges(df, bins)

    def rows(seed, part: pd.DataFrame) -> list[dict]:
        cut = pd.cut(part["distance"], edges, include_lowest=True)
        grouped = part.groupby(cut, observed=False)
        n = grouped.size().to_numpy()
        k = grouped["detected"].sum().to_numpy().astype(int)
        out = []
        for b in range(bins):
            lo, hi = wilson_interval(k[b], n[b])
            out.append(
                {
                    "seed": seed,
                    "bin": b,
                    "distance_lo": edges[b],
                    "distance_hi": edges[b + 1],
                    "n": int(n[b]),
                    "detected": int(k[b]),
                    "yield_per_1000": 1000.0 * k[b] / n[b] if n[b] else np.nan,
                    "ci_low": 1000.0 * lo,
                    "ci_high": 1000.0 * hi,
                }
            )
        return out

    table = [r for s, part in df.groupby("seed", sort=True) for r in rows(int(s), part)]
    table += rows("all", df)
    return pd.DataFrame(table, columns=YIELD_COLUMNS)


def score_category(df: pd.DataFrame, green: float = 0.7) -> pd.Series:
    """Each row's plot category: ``no face`` (undetected), ``high`` (score > green) or ``low``."""
    detected = df["detected"].astype(bool)
    cat = np.where(~detected, NO_FACE, np.where(df["score"] > green, HIGH, LOW))
    return pd.Series(cat, index=df.index, name="category")


def point_colours(df: pd.DataFrame, green: float = 0.7) -> pd.Series:
    """The colour each row is drawn in by :func:`plot_steps` (see CATEGORY_COLOURS)."""
    return score_category(df, green).map(CATEGORY_COLOURS)


def rolling_detection_rate(part: pd.DataFrame, window: int = 50) -> pd.Series:
    """Share of detected images among the ``window`` steps centred on each step (by step order;
    fewer steps at the two ends of the walk)."""
    ordered = part.sort_values("step")
    window = max(1, min(int(window), len(ordered)))
    rate = ordered["detected"].astype(float).rolling(window, center=True, min_periods=1).mean()
    return rate.reindex(part.index)


def _save(fig: plt.Figure, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)


def _mark_median(ax, median: float | None, axis: str = "x", label: bool = True) -> list:
    """The median sample distance to w_avg as a labelled dashed line on a distance axis
    (returned in a list; empty when the median is unknown)."""
    if median is None or not np.isfinite(median):
        return []
    text = f"median sample distance to w_avg = {median:.1f}" if label else None
    line = ax.axvline if axis == "x" else ax.axhline
    drawn = line(median, color=MEDIAN_COLOUR, ls="--", lw=1, label=text)
    get, set_ = (ax.get_xlim, ax.set_xlim) if axis == "x" else (ax.get_ylim, ax.set_ylim)
    lo, hi = get()
    if median >= hi - 0.02 * (hi - lo):  # keep the line inside the axis, clear of its edge
        set_(lo, median + 0.05 * (median - lo))
    return [drawn]


def _confidence_axis(ax) -> None:
    """A 0..1 confidence axis with a strip below it for undetected images, labelled "no face"."""
    ticks = [0, 0.2, 0.4, 0.6, 0.8, 1.0]
    ax.set_ylim(NO_FACE_Y - 0.07, 1.03)
    ax.set_yticks([NO_FACE_Y, *ticks], ["no face", *(f"{t:.1f}" for t in ticks)])
    ax.axhspan(NO_FACE_Y - 0.07, -0.035, color="0.93", zorder=0)


def plot_histogram(part: pd.DataFrame, seed, path: Path, green: float = 0.7) -> dict:
    """Histogram of detection confidence of the detected images of one seed.

    Undetected images are not binned; their count is written on the plot (n detected / n total).
    Returns {"detected", "total", "undetected"}.
    """
    found = part.loc[part["detected"].astype(bool), "score"]
    n, k = len(part), len(found)
    fig, ax = plt.subplots(figsize=(6, 3.5))
    if k:
        sns.histplot(found, bins=np.linspace(0, 1, 41), ax=ax, color="tab:blue")
    else:
        ax.text(0.5, 0.5, "no face detected", ha="center", va="center", transform=ax.transAxes)
    ax.set_ylim(0, ax.get_ylim()[1] * 1.3)  # room for the counts and the legend
    ax.axvline(green, color=CATEGORY_COLOURS[HIGH], ls="--", lw=1, label=f"green threshold {green}")
    ax.text(
        0.02,
        0.95,
        f"{k} / {n} detected\n{n - k} undetected (not shown)",
        transform=ax.transAxes,
        va="top",
        fontsize=8,
        bbox={"facecolor": "white", "edgecolor": CATEGORY_COLOURS[NO_FACE]},
    )
    ax.set(
        xlabel="detector confidence of detected faces",
        ylabel="images (per 0.025 bin)",
        xlim=(0, 1),
        title=f"seed {seed}: confidence of the {k} detected of {n} images",
    )
    ax.legend(loc="upper right", fontsize=8)
    _save(fig, path)
    return {"detected": k, "total": n, "undetected": n - k}


def plot_steps(
    part: pd.DataFrame,
    seed,
    path: Path,
    green: float = 0.7,
    window: int = 50,
    median_distance: float | None = None,
) -> dict:
    """Confidence, rolling detection rate and distance from w_avg by walk step, for one seed.

    Top: detected images coloured by score against ``green`` (green above, orange at or below),
    undetected images in grey in a "no face" strip below 0. Middle: the rolling detection rate
    (:func:`rolling_detection_rate`, ``window`` steps). Bottom: the distance from w_avg with the
    median sample distance. Returns {"colours": per-row colour, "artists": {category: scatter},
    "rate": the rolling rate, "median_lines": the median's line}.
    """
    part = part.sort_values("step")
    cat = score_category(part, green)
    colours = cat.map(CATEGORY_COLOURS)
    fig, (ax, axr, axd) = plt.subplots(
        3, 1, figsize=(8, 6), sharex=True, gridspec_kw={"height_ratios": [3, 1.3, 1.6]}
    )
    labels = {
        HIGH: f"detected, > {green}",
        LOW: f"detected, <= {green}",
        NO_FACE: "no face (undetected)",
    }
    artists = {}
    for c in (HIGH, LOW, NO_FACE):
        rows = part[cat == c]
        y = np.full(len(rows), NO_FACE_Y) if c == NO_FACE else rows["score"]
        artists[c] = ax.scatter(
            rows["step"],
            y,
            s=7 if c != NO_FACE else 9,
            c=colours[cat == c].tolist() or None,
            marker="|" if c == NO_FACE else "o",
            linewidths=0.8 if c == NO_FACE else 0,
            label=f"{labels[c]} ({len(rows)})",
        )
    ax.axhline(green, color=CATEGORY_COLOURS[HIGH], ls=":", lw=1)
    _confidence_axis(ax)
    k, n = int(part["detected"].sum()), len(part)
    ax.set(ylabel="detector confidence", title=f"seed {seed}: {k} / {n} images with a face")
    ax.legend(loc="upper right", fontsize=7, ncol=3, markerscale=2)
    rate = rolling_detection_rate(part, window)
    w = max(1, min(int(window), n))
    axr.plot(part["step"], rate, color="black", lw=1)
    axr.set(ylim=(-0.03, 1.03), ylabel=f"detection rate\n({w}-step window)")
    axd.plot(part["step"], part["distance"], color="tab:blue", lw=1, label="walk")
    medians = _mark_median(axd, median_distance, axis="y")
    axd.set(xlabel="walk step (step 0 = w_avg)", ylabel="|w - w_avg|\n(L2 in W)")
    axd.legend(loc="lower right", fontsize=7)
    fig.align_ylabels([ax, axr, axd])
    _save(fig, path)
    return {"colours": colours, "artists": artists, "rate": rate, "median_lines": medians}


def plot_score_vs_distance(
    df: pd.DataFrame, path: Path, median_distance: float | None = None
) -> dict:
    """Confidence of detected images against distance from w_avg (one colour per seed); the
    undetected images as grey ticks in a "no face" strip. Returns {"detected", "undetected",
    "median_lines"}."""
    found = df[df["detected"].astype(bool)]
    missed = df[~df["detected"].astype(bool)]
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    if len(found):
        sns.scatterplot(
            data=found.assign(seed=found["seed"].astype(str)),
            x="distance",
            y="score",
            hue="seed",
            s=8,
            linewidth=0,
            ax=ax,
        )
    ax.scatter(
        missed["distance"],
        np.full(len(missed), NO_FACE_Y),
        marker="|",
        s=30,
        c=CATEGORY_COLOURS[NO_FACE],
        linewidths=0.6,
        label=f"no face ({len(missed)})",
    )
    medians = _mark_median(ax, median_distance)
    _confidence_axis(ax)
    ax.set(
        xlabel=DISTANCE_LABEL,
        ylabel="detector confidence",
        title=f"confidence vs distance: {len(found)} detected of {len(df)} images",
    )
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=7, title="seed")
    _save(fig, path)
    return {"detected": len(found), "undetected": len(missed), "median_lines": medians}


def plot_yield_by_distance(
    table: pd.DataFrame, path: Path, median_distance: float | None = None
) -> dict:
    """Yield per 1,000 by distance bin with Wilson 95% intervals and n: one panel pooled over the
    seeds, then one per seed. An empty bin is hatched and labelled "n = 0". Returns {"panels": the
    panels' seeds in order, "empty": (seed, bin) of the empty bins, "median_lines"}."""
    seeds = ["all"] + [s for s in table["seed"].unique().tolist() if str(s) != "all"]
    fig, axes = plt.subplots(
        len(seeds), 1, figsize=(8, 1.9 * len(seeds) + 0.6), sharex=True, squeeze=False
    )
    empty, medians = [], []
    for ax, seed in zip(axes[:, 0], seeds, strict=True):
        t = table[table["seed"].astype(str) == str(seed)]
        mids = (t["distance_lo"] + t["distance_hi"]) / 2
        width = t["distance_hi"] - t["distance_lo"]
        has = t["n"] > 0
        colour = "tab:blue" if seed == "all" else "tab:cyan"
        ax.bar(mids[has], t.loc[has, "yield_per_1000"], width=width[has] * 0.9, color=colour)
        err = np.vstack(
            [
                t.loc[has, "yield_per_1000"] - t.loc[has, "ci_low"],
                t.loc[has, "ci_high"] - t.loc[has, "yield_per_1000"],
            ]
        )
        ax.errorbar(mids[has], t.loc[has, "yield_per_1000"], yerr=err, fmt="none", c="black", lw=1)
        for (_, r), m in zip(t.iterrows(), mids, strict=True):
            if r["n"] > 0:
                ax.text(m, 1030, f"n={int(r['n'])}", ha="center", va="bottom", fontsize=6.5)
            else:
                empty.append((seed, int(r["bin"])))
                ax.axvspan(r["distance_lo"], r["distance_hi"], color="0.9", hatch="//", lw=0)
                ax.text(m, 500, "n = 0", ha="center", va="center", fontsize=7, rotation=90)
        medians += _mark_median(ax, median_distance, label=seed == "all")
        name = "all seeds (pooled)" if seed == "all" else f"seed {seed}"
        ax.set(ylim=(0, 1150), ylabel="faces per\n1,000 images")
        ax.set_title(name, fontsize=8, loc="left")
    fig.suptitle(
        "yield of detectable faces by distance from w_avg\n"
        "(bars: faces per 1,000 images; whiskers: Wilson 95% interval; n: images in the bin)",
        fontsize=9,
    )
    if median_distance is not None and np.isfinite(median_distance):
        fig.legend(loc="lower right", fontsize=7, bbox_to_anchor=(0.98, -0.02))
    axes[-1, 0].set_xlabel(DISTANCE_LABEL)
    fig.tight_layout()
    _save(fig, path)
    return {"panels": seeds, "empty": empty, "median_lines": medians}


def select_gallery(df: pd.DataFrame, size: int = 16, band: float = 2.5) -> pd.DataFrame:
    """The gallery's frames: one start image (step 0 = w_avg), then up to ``ceil(size / 2)``
    undetected images (farthest from w_avg first) and ``floor(size / 2)`` detected images with the
    lowest confidence, no two frames of one seed closer than ``band`` in distance from w_avg.

    Returns the chosen rows with a ``role`` column: ``start``, ``undetected`` or ``low``.
    """
    walk = df[df["step"] > 0]
    detected = walk["detected"].astype(bool)
    undetected = walk[~detected].sort_values(["distance", "seed"], ascending=[False, True])
    lowest = walk[detected].sort_values(["score", "distance"], ascending=[True, False])
    taken: dict[int, list[float]] = {}

    def pick(candidates: pd.DataFrame, k: int) -> list:
        chosen = []
        for idx, r in candidates.iterrows():
            if len(chosen) == k:
                break
            near = taken.setdefault(int(r["seed"]), [])
            if all(abs(float(r["distance"]) - d) >= band for d in near):
                near.append(float(r["distance"]))
                chosen.append(idx)
        return chosen

    starts = df[df["step"] == 0].sort_values("seed").head(1)
    parts = [starts.assign(role="start")]
    parts.append(walk.loc[pick(undetected, (size + 1) // 2)].assign(role="undetected"))
    parts.append(walk.loc[pick(lowest, size // 2)].assign(role="low"))
    return pd.concat(parts)


def _image_path(images_root: Path, r) -> Path:
    img_path = images_root / f"seed{int(r['seed'])}" / r["filename"]
    if not img_path.is_file():
        matches = list(images_root.glob(f"seed{int(r['seed'])}/*/{r['filename']}"))
        img_path = matches[0] if matches else img_path
    return img_path


def plot_gallery(
    df: pd.DataFrame, images_root: Path, path: Path, size: int = 16, band: float = 2.5
) -> pd.DataFrame:
    """The start image (w_avg) and, in two labelled rows, undetected images and the detected
    images with the lowest confidence ("monsters"), picked by :func:`select_gallery`; each group
    in rows of ``(size + 1) // 2`` tiles (at least 4, at most 8)."""
    picks = select_gallery(df, size, band)
    cols = max(4, min(8, (size + 1) // 2))
    missed = int((~df["detected"].astype(bool)).sum())
    groups = [
        ("start", "start of every walk: w_avg (step 0)"),
        ("undetected", f"undetected (no face found; {missed} in all), farthest from w_avg first"),
        ("low", "detected with the lowest confidence (score shown)"),
    ]
    nrows = [max(1, -(-int((picks["role"] == g).sum()) // cols)) for g, _ in groups]
    fig = plt.figure(figsize=(cols * 1.5, 1.95 * sum(nrows) + 0.9))
    subfigs = fig.subfigures(len(groups), 1, height_ratios=nrows)
    for sub, (role, title), rows in zip(subfigs, groups, nrows, strict=True):
        sub.suptitle(title, fontsize=8, x=0.01, ha="left")
        axes = sub.subplots(rows, cols, squeeze=False)
        sub.subplots_adjust(left=0.01, right=0.99, top=0.8, bottom=0.02, wspace=0.1)
        for ax in axes.ravel():
            ax.axis("off")
        chosen = picks[picks["role"] == role]
        if chosen.empty:
            axes[0, 0].text(0, 0.5, "none", fontsize=8, transform=axes[0, 0].transAxes)
        for ax, (_, r) in zip(axes.ravel(), chosen.iterrows(), strict=False):
            label = f"score {r['score']:.2f}" if role == "low" else ""
            try:
                with Image.open(_image_path(images_root, r)) as im:
                    ax.imshow(im.convert("RGB"))
            except (OSError, ValueError):  # missing or unreadable: keep the tile, say so
                label = "unreadable"
            ax.set_title(
                f"s{int(r['seed'])} #{int(r['step'])} d={r['distance']:.1f}\n{label}", fontsize=6.5
            )
    fig.suptitle(
        f"monsters: no two frames of one seed closer than {band:.2f} in distance from w_avg",
        fontsize=9,
        y=1.0,
    )
    _save(fig, path)
    return picks


def detector_lines(df: pd.DataFrame) -> list[str]:
    """The report's detector line (backend, models, det_size from the detections) and, when the
    scores are not SCRFD (InsightFace) confidences, a warning that they are not comparable."""
    backends = sorted(set(df.get("backend", pd.Series(dtype=str)).dropna().astype(str)))
    models = sorted(set(df.get("models", pd.Series(dtype=str)).dropna().astype(str)))
    det_sizes = sorted(set(df.get("det_size", pd.Series(dtype=int)).dropna().astype(int).tolist()))
    lines = [
        f"Detector: **{', '.join(backends) or 'unknown'}** ({', '.join(models) or 'models unknown'}), "
        f"det_size {det_sizes}."
    ]
    other = [b for b in backends if b not in SCRFD_BACKENDS] or (
        ["unknown"] if not backends else []
    )
    if other:
        lines += [
            "",
            f"> **Warning:** these scores come from {', '.join(other)}, not from SCRFD "
            "(InsightFace): they are not comparable with SCRFD confidences (dlib's score is its "
            "detector's margin through a logistic, 1 / (1 + e^-margin)), so a threshold or a score "
            "from an SCRFD run does not carry over.",
        ]
    if len(backends) > 1:
        lines += [
            "",
            "> **Warning:** the detections mix backends; their scores are not comparable.",
        ]
    return lines


def is_dcgan(network: dict | None) -> bool:
    """Whether network.json describes a DCGAN (family ``dcgan``, e.g. kind ``dcgan-embedded``)."""
    if not network:
        return False
    if network.get("family") == "dcgan":
        return True
    from ganatlas.networks.registry import family_of_kind

    try:
        return family_of_kind(str(network.get("kind"))).name == "dcgan"
    except KeyError:
        return False


def write_report(
    detections: pd.DataFrame,
    images_root: str | Path,
    outdir: str | Path,
    green: float = 0.7,
    gallery_size: int = 16,
    network: dict | None = None,
    median_distance: float | None = None,
    gallery_band: float | None = None,
    rate_window: int = 50,
    w_avg_samples: int | None = None,
) -> dict[str, Path]:
    """Write summary.csv, yield_by_distance.csv, figures/*.png and report.md into ``outdir``.

    median_distance: the median distance of the w_avg samples to w_avg (marked on every distance
    axis); gallery_band: the monsters gallery's minimum distance between two frames of one seed
    (None: a quarter of ``median_distance``, else a twentieth of the largest distance).
    """
    outdir = Path(outdir)
    images_root = Path(images_root)
    figs = outdir / "figures"
    figs.mkdir(parents=True, exist_ok=True)
    df = detections.sort_values(["seed", "step"]).reset_index(drop=True)
    if gallery_band is None:
        gallery_band = (
            median_distance / 4 if median_distance else float(df["distance"].max()) / 20 or 1.0
        )
    summary = summarize(df)
    summary.to_csv(outdir / "summary.csv", index=False, float_format="%.6g")
    ybd = yield_by_distance(df)
    ybd.to_csv(outdir / "yield_by_distance.csv", index=False, float_format="%.6g")
    for seed, part in df.groupby("seed"):
        plot_histogram(part, int(seed), figs / f"hist_seed{int(seed)}.png", green)
        plot_steps(
            part,
            int(seed),
            figs / f"steps_seed{int(seed)}.png",
            green,
            rate_window,
            median_distance,
        )
    plot_score_vs_distance(df, figs / "score_vs_distance.png", median_distance)
    plot_yield_by_distance(ybd, figs / "yield_by_distance.png", median_distance)
    picks = plot_gallery(df, images_root, figs / "monsters.png", gallery_size, gallery_band)

    lines = ["# Walk study report", "", *detector_lines(df), ""]
    if network:
        lines += [
            f"Network: **{network.get('name')}** ({network.get('kind')}, {network.get('img_resolution')} px, "
            f"w_dim {network.get('w_dim')}, sha256 `{network.get('sha256')}`).",
            "",
        ]
    starts = df[df["step"] == 0]
    if is_dcgan(network):
        start = picks[picks["role"] == "start"]
        lines += [
            "This network is a DCGAN (W = Z): its mean latent w_avg, where every walk starts, is "
            "no face but a flat texture (below); the detector found a face in "
            f"{int(starts['detected'].sum())} of {len(starts)} start images.",
            "",
        ]
        if len(start):
            rel = os.path.relpath(_image_path(images_root, start.iloc[0]), outdir)
            lines += [f"![start image: w_avg]({Path(rel).as_posix()})", ""]
    if median_distance is not None and np.isfinite(median_distance):
        samples = f"{w_avg_samples:,} " if w_avg_samples else ""
        lines += [
            f"Distances are |w - w_avg| (L2 in W). The median distance of the {samples}w_avg "
            f"samples to w_avg is {median_distance:.2f} (a typical sample's distance), marked on "
            "every distance axis; the walks end at "
            + ", ".join(
                f"{d:.1f}" for d in df.sort_values("step").groupby("seed")["distance"].last()
            )
            + ".",
            "",
        ]
    lines += [
        "Undetected images score 0.0 in detections.csv and in the score_* columns below; the "
        "detected_score_* columns, the histograms and the confidence axes use detected images "
        'only (undetected ones are counted, and drawn in grey as "no face"). Rates come with '
        "Wilson 95% intervals (ci_low, ci_high, per 1,000) and their n.",
        "",
        "## Summary per seed",
        "",
        summary.to_markdown(index=False, floatfmt=".3f"),
        "",
        "## Yield of detectable faces by distance from w_avg",
        "",
        "All seeds pooled (per-seed rows in yield_by_distance.csv):",
        "",
        ybd[ybd["seed"] == "all"].to_markdown(index=False, floatfmt=".2f"),
        "",
        "![yield by distance](figures/yield_by_distance.png)",
        "",
        "![score vs distance](figures/score_vs_distance.png)",
        "",
        (
            f"Monsters: no two frames of one seed closer than {gallery_band:.2f} in distance "
            "from w_avg (report.gallery_band)."
        ),
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

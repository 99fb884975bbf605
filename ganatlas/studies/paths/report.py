"""The markdown summary of the paths study (links relative to ``{outdir}/paths``)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd


def _wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson interval of k successes in n trials."""
    if n == 0:
        return float("nan"), float("nan")
    ph = k / n
    den = 1 + z * z / n
    mid = (ph + z * z / (2 * n)) / den
    half = z * np.sqrt(ph * (1 - ph) / n + z * z / (4 * n * n)) / den
    return mid - half, mid + half


def _rate(detected: pd.Series) -> str:
    k, n = int(detected.sum()), len(detected)
    lo, hi = _wilson(k, n)
    return f"{k}/{n} ({k / max(n, 1):.0%}, 95% CI {lo:.0%}-{hi:.0%})"


def _interpolate(p: dict, d: Path) -> list[str]:
    ip = p["interpolate"]
    parts = [
        "## Interpolation",
        "",
        f"Method {ip['method']} ({'a + (b - a) * i / (N - 1)' if ip['method'] == 'gradient' else ip['method']}), "
        f"{ip['steps']} frames per segment; identity distances by the embedder below.",
        "",
    ]
    for name, keys in ip["paths"].items():
        sub = d / "interpolate" / name
        frames = pd.read_parquet(sub / "frames.parquet")
        meta = json.loads((sub / "distances.json").read_text())
        row = ", ".join(f"{v:.2f}" for v in frames["dist_first"])
        over = frames.loc[frames["dist_first"] > meta["threshold"], "frame"]
        first = f"frame {int(over.iloc[0])}" if len(over) else "never"
        parts += [
            f"### {name}: {' -> '.join(keys)}",
            "",
            f"Faces detected in {_rate(frames['detected'])} frames; embedded in "
            f"{int(frames['embedded'].sum())}. Embedder {meta['embedder']}, {meta['distance']} "
            f"distance, same-person threshold {meta['threshold']:g}; the distance to frame 0 "
            f"first exceeds it at {first}.",
            "",
            f"First row of the distance matrix: {row}",
            "",
            f"![strip](interpolate/{name}/strip.png)",
            "",
            f"![first row](interpolate/{name}/first_row.png) "
            f"![distances](interpolate/{name}/distances.png)",
            "",
        ]
        video = sub / "video.mp4"
        if video.is_file():
            parts += [f"Video: [video.mp4](interpolate/{name}/video.mp4)", ""]
    return parts


def _planes(p: dict, d: Path) -> list[str]:
    parts = ["## Planes", ""]
    for name, axes in p["planes"]["planes"].items():
        cells = pd.read_parquet(d / "planes" / name / "cells.parquet")
        parts += [
            f"### {name}: {axes['origin']} + x * {axes['x']} + y * {axes['y']}",
            "",
            f"Faces in {_rate(cells['detected'])} cells.",
            "",
            f"![montage](planes/{name}/montage.png) ![heat maps](planes/{name}/heatmaps.png)",
            "",
        ]
    return parts


def _axes(p: dict, d: Path) -> list[str]:
    df = pd.read_parquet(d / "axes" / "axes.parquet")
    ax = df[df["axis"] >= 0]
    worst = ax.sort_values(["score", "axis"], kind="stable").head(p["axes"]["worst"])
    special = df[df["axis"] < 0].set_index("label")
    sp = ", ".join(
        f"{lab}: {'no face' if not r.detected else f'{r.score:.2f}'}"
        for lab, r in special.iterrows()
    )
    return [
        "## Basis axes",
        "",
        f"{len(ax)} axes {p['axes']['scale']:g} * e_i in {p['axes']['space']}: faces in "
        f"{_rate(ax['detected'])}; {sp}. Lowest-scoring (scariest): "
        + ", ".join(f"{r.label} ({r.score:.2f})" for r in worst.itertuples())
        + ".",
        "",
        "![contact sheet](axes/sheet.png)",
        "",
        "![scariest](axes/scariest.png)",
        "",
    ]


def _mix(p: dict, d: Path) -> list[str]:
    parts = ["## Style mixing", "", f"Rows {p['mix']['rows']}, columns {p['mix']['cols']}.", ""]
    for name in p["mix"]["ranges"]:
        parts += [f"![{name}](mix/{name}.png)", ""]
    return parts


def build_report(p: dict, info: dict, d: Path) -> str:
    """Markdown of the sections in ``p["report"]["sections"]`` from the files under ``d``."""
    det = p["detector"]
    parts = [
        "# Paths through latent space",
        "",
        f"Network {info.get('name')} ({info.get('kind')}, z_dim {info.get('z_dim')}, "
        f"num_ws {info.get('num_ws')}); detector {det.get('backend')} (det_size "
        f"{det.get('det_size')}); 'score' is the detector's confidence, 0.0 where no face "
        "was found (drawn grey in the figures).",
        "",
    ]
    sections = {"interpolate": _interpolate, "planes": _planes, "axes": _axes, "mix": _mix}
    for s in p["report"]["sections"]:
        parts += sections[s](p, d)
    return "\n".join(parts)

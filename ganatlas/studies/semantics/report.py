"""The markdown summary of the semantics study: tables, heatmaps, grids and curves."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd


def _table(path: Path, index: bool = False, floatfmt: str = ".3f") -> str:
    if not path.is_file():
        return f"_missing: {path.name}_"
    df = pd.read_csv(path, index_col=0 if index else None)
    return df.to_markdown(index=index, floatfmt=floatfmt)


def build_report(sem: dict, sem_dir: Path) -> str:
    """Markdown text; image links are relative to ``sem_dir`` (where report.md lives)."""
    ed = sem["edit"]
    summ = sem_dir / "samples_summary.json"
    counts = json.loads(summ.read_text()) if summ.is_file() else {}
    sel = sem["select"]
    k = f"K = {sel['k']}" if sel["k"] is not None else f"K = {sel['fraction']:g} of valid samples"
    parts = [
        "# Semantic directions (InterFaceGAN)",
        "",
        f"{counts.get('samples', '?')} samples (seed {sem['seed']}), "
        f"{counts.get('detected', '?')} with a detected face; per attribute the top and bottom "
        f"{k}, split {1 - sem['val_fraction']:.0%}/{sem['val_fraction']:.0%} (seed "
        f"{sem['split_seed']}), linear SVM C={sem['svm']['C']}. Accuracy 'all' labels every "
        "valid sample by its score against the median.",
        "",
        "## Boundary accuracy",
        "",
        _table(sem_dir / "accuracy.csv"),
        "",
        "## Correlations",
        "",
        "![boundary cosine similarity](figures/boundary_correlation.png)",
        "",
    ]
    for space in sem["spaces"]:
        parts += [f"Boundary cosines, {space.upper()}:", "",
                  _table(sem_dir / f"boundary_correlation_{space}.csv", index=True), ""]  # fmt: skip
    parts += [
        "![attribute score correlation](figures/score_correlation.png)",
        "",
        _table(sem_dir / "score_correlation.csv", index=True),
        "",
    ]
    if sem["conditions"]:
        parts += ["## Conditional directions", "",
                  _table(sem_dir / "conditional.csv", floatfmt=".2e"), ""]  # fmt: skip
    parts += [
        "## Editing",
        "",
        f"Faces: seeds {ed['seeds']}"
        + (f" and files {ed['latent_files']}" if ed["latent_files"] else "")
        + f"; alphas {ed['alphas'][0]:g} .. {ed['alphas'][-1]:g} ({len(ed['alphas'])} values); "
        f"spaces {', '.join(s.upper() for s in ed['spaces'])}"
        + (
            f" (W+ layers {ed['wp_layers'][0]}..{ed['wp_layers'][1] - 1})"
            if "wp" in ed["spaces"]
            else ""
        )
        + ". Original (alpha 0) framed in red.",
        "",
    ]
    for space in ed["spaces"]:
        for attr in ed["attributes"]:
            parts += [f"![{space} {attr}](figures/grid_{space}_{attr}.png)", ""]
    parts += [
        "## Disentanglement (Z vs W)",
        "",
        "Correlation of alpha with the change of every attribute's score from the face's "
        "original; a disentangled space keeps the diagonal near ±1 and the rest near 0.",
        "",
        "![disentanglement](figures/disentanglement.png)",
        "",
        "## Linearity",
        "",
        "Score vs alpha: linear fit over all edited faces (slope, R²) and mean spread across faces.",
        "",
        _table(sem_dir / "linearity.csv"),
        "",
    ]
    for space in ed["spaces"]:
        parts += [f"![linearity {space}](figures/linearity_{space}.png)", ""]
    return "\n".join(parts)

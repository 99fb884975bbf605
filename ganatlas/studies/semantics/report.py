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


def _accuracy_section(sem: dict, sem_dir: Path) -> list[str]:
    """The accuracy table with the rules it uses named, and the skewed-score warnings."""
    path = sem_dir / "accuracy.csv"
    if not path.is_file():
        return [f"_missing: {path.name}_", ""]
    acc = pd.read_csv(path)
    cols = ["space", "attribute", "k", "n_train", "n_val", "acc_val", "acc_val_std",
            "acc_val_min", "acc_val_max", "acc_remaining", "remaining_pos", "remaining_neg",
            "acc_remaining_balanced", "acc_all", "cos_min"]  # fmt: skip
    parts = [
        f"Protocol **{sem['protocol']}** (SVM: {sem['svm']['solver']}). Accuracy rules: "
        "*acc_val*: held-out rows of the selected extremes; *acc_remaining* (InterFaceGAN's "
        "rule): the valid samples between the top and bottom K, labelled positive unless below "
        "the midpoint of the highest and lowest score; *acc_all* (ganatlas's rule): every valid "
        "sample except the training rows, labelled against the median score. Spread (std, min, "
        f"max) over {sem['split_repeats']} split seeds from {sem['split_seed']}; *cos_min*: the "
        "lowest cosine between a repeat's normal and the saved one.",
        "",
        acc[[c for c in cols if c in acc]].to_markdown(index=False, floatfmt=".3f"),
        "",
    ]
    skew = acc[(acc["remaining_pos"] == 0) | (acc["remaining_neg"] == 0)]
    for _, r in skew.iterrows():
        side = "positive" if r["remaining_pos"] == 0 else "negative"
        parts += [
            f"**Warning** ({r['space']}, {r['attribute']}): no middle sample is {side} under "
            f"the midpoint rule (skewed scores: {int(r['remaining_pos'])} positive, "
            f"{int(r['remaining_neg'])} negative), so acc_remaining only counts one label and "
            "its balanced accuracy is n/a; use acc_all.",
            "",
        ]
    return parts


def build_report(sem: dict, sem_dir: Path) -> str:
    """Markdown text; image links are relative to ``sem_dir`` (where report.md lives)."""
    from ganatlas.studies.semantics.settings import edit_names

    ed = sem["edit"]
    summ = sem_dir / "samples_summary.json"
    counts = json.loads(summ.read_text()) if summ.is_file() else {}
    sel = sem["select"]
    k = f"K = {sel['k']}" if sel["k"] is not None else f"K = {sel['fraction']:g} of valid samples"
    split = (
        "each class split on its own, int(K x train share) rows training"
        if sem["protocol"] == "interfacegan"
        else "both classes split together"
    )
    parts = [
        "# Semantic directions (InterFaceGAN)",
        "",
        f"{counts.get('samples', '?')} samples (seed {sem['seed']}), "
        f"{counts.get('detected', '?')} with a detected face; per attribute the top and bottom "
        f"{k}, split {1 - sem['val_fraction']:.0%}/{sem['val_fraction']:.0%} ({split}, seed "
        f"{sem['split_seed']}), linear SVM C={sem['svm']['C']}"
        + (", z rescaled to norm sqrt(d)" if sem["protocol"] == "interfacegan" else "")
        + ".",
        "",
        "## Boundary accuracy",
        "",
        *_accuracy_section(sem, sem_dir),
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
    mode = (
        "latent moved to signed distance alpha from the plane through the origin "
        "(InterFaceGAN's linear_interpolate)"
        if ed["mode"] == "distance"
        else "latent + alpha x unit normal"
    )
    parts += [
        "## Editing",
        "",
        f"Faces: seeds {ed['seeds']}"
        + (f" and files {ed['latent_files']}" if ed["latent_files"] else "")
        + f"; alphas {ed['alphas'][0]:g} .. {ed['alphas'][-1]:g} ({len(ed['alphas'])} values); "
        f"{ed['mode']} edits ({mode}); spaces {', '.join(s.upper() for s in ed['spaces'])}"
        + (
            f" (W+ layers {ed['wp_layers'][0]}..{ed['wp_layers'][1] - 1})"
            if "wp" in ed["spaces"]
            else ""
        )
        + ". Rows: faces; columns: alpha; each tile shows the edited attribute's score "
        "(a conditional direction shows its primary's). Original (alpha 0) framed in red; "
        "each face's starting distance to every direction is in the edit tables "
        "(`start_<name>` columns).",
        "",
    ]
    for space in ed["spaces"]:
        for name in edit_names(sem):
            parts += [f"![{space} {name}](figures/grid_{space}_{name}.png)", ""]
    for b in ed["boundary_files"]:
        parts += [f"External boundary **{b['name']}** ({b['space'].upper()}, `{b['path']}`):", "",
                  f"![external {b['name']}](figures/grid_external_{b['name']}.png)", ""]  # fmt: skip
    parts += [
        "## Disentanglement (Z vs W)",
        "",
        "Slope of every attribute per unit of edit (mean per-face slope), divided by the "
        "attribute's slope along its own boundary (a disentangled space shows the identity), "
        "and by its standard deviation over the samples. The correlation of alpha with the "
        "score change is drawn as a separate panel: it is ±1 for any noise-free effect, however "
        "small, so it does not measure the size of the cross-talk. n/a: no score, or no own "
        "edit to divide by.",
        "",
        "![disentanglement](figures/disentanglement.png)",
        "",
        _table(sem_dir / "disentanglement.csv"),
        "",
        "## Linearity",
        "",
        "Score vs alpha fitted per face (scipy.stats.linregress): mean slope with its 95 % t "
        "interval over faces, and the distribution of the per-face R² (median, quartiles, "
        "minimum; a pooled R² would mix the faces' different intercepts into the residual). "
        "Per-face fits: `linearity_faces.csv`.",
        "",
        _table(sem_dir / "linearity.csv"),
        "",
    ]
    for space in ed["spaces"]:
        parts += [f"![linearity {space}](figures/linearity_{space}.png)", ""]
    return "\n".join(parts)

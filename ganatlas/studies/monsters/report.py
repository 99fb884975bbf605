"""``monsters/report.md``: the monster radii, the detectability boundary and the identity map."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd


def _fmt(v: float) -> str:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return "never reached"
    if np.isinf(v):
        return "beyond the grid"
    return f"{v:.3g}"


def radii_lines(radii: pd.DataFrame) -> list[str]:
    """The monster radii table (markdown) with bootstrap intervals over directions."""
    lines = [
        "| network | space | directions | r90 [95% CI] | r50 [95% CI] | unit | unit length |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in radii.to_dict("records"):
        cells = [
            f"{_fmt(r[k])} [{_fmt(r[k + '_lo'])}, {_fmt(r[k + '_hi'])}]" for k in ("r90", "r50")
        ]
        lines.append(f"| {r['network']} | {r['space'].upper()} | {r['directions']} | {cells[0]} | "
                     f"{cells[1]} | {r['unit']} | {r['unit_length']:.3f} |")  # fmt: skip
    return lines


def scale_free_lines(radii: pd.DataFrame) -> list[str]:
    """A warning (and a blank line) naming the networks whose Z rows are not distances: their
    mapping normalises z, so radii > 0 along a direction all render one image; none otherwise."""
    if "z_scale_free" not in radii:
        return []
    names = sorted(radii.loc[radii["z_scale_free"].astype(bool), "network"].astype(str).unique())
    if not names:
        return []
    return [
        f"**Z rows of {', '.join(names)} are not distances.** The mapping normalises z (as "
        "StyleGAN's does), so every radius > 0 along a direction renders the same image: the Z "
        "yield there is the face rate of random directions, flat in the radius, and its r90 / "
        "r50 say nothing about how far faces reach.",
        "",
    ]


def detector_line(backends: list[str]) -> str:
    """Which detector scored the images, with a warning when it is not SCRFD (InsightFace)."""
    text = f"Detector: **{', '.join(backends) or 'unknown'}**."
    if any(b != "insightface" for b in backends):
        text += (" Its scores are not SCRFD confidences and yields are not comparable with an "
                 "SCRFD study (MTCNN finds fewer faces than SCRFD-500M on the DCGAN; README).")  # fmt: skip
    return text


def stage_report(mon_dir: str | Path, radial_parquets: list[str | Path], out_md: str | Path) -> str:
    """Write the study's report from its tables (radii, curves, boundary, identities)."""
    import pyarrow.parquet as pq

    from ganatlas.atomic import write_text_atomic

    d = Path(mon_dir)
    backends = sorted({b for p in radial_parquets
                       for b in pq.read_table(p, columns=["backend"]).column(0).to_pylist()})  # fmt: skip
    radii = pd.read_csv(d / "monster_radii.csv")
    curves = pd.read_csv(d / "radial_curves.csv")
    bnd = json.loads((d / "boundary" / "boundary.json").read_text())
    emap = json.loads((d / "embedding_map.json").read_text())
    ids = pd.read_csv(d / "identities.csv")
    drift = pd.read_csv(d / "drift.csv")
    lines = ["# Where the monsters live", ""]
    lines += [detector_line(backends), ""]
    lines += [
        "## Radial yield",
        "",
        "K random unit directions from w_avg in W and from the origin in Z; at each radius, the "
        "share of directions whose image has a detected face (Wilson 95% intervals in "
        "`radial_curves.csv`). r90 / r50: the first radius where the yield drops below 90% / "
        "50% after having reached it, in units of the samples' distance percentile; intervals: "
        "bootstrap over directions. For a Z-only network (the embedded DCGAN) W = Z, so the two "
        "rows differ only in their centre (w_avg vs the origin).",
        "",
        *radii_lines(radii),
        "",
        *scale_free_lines(radii),
        "![yield by radius](figures/radial_yield.png)",
        "",
        "![score by radius](figures/radial_score.png)",
        "",
        "Peak yield: "
        + ", ".join(
            f"{n} {s.upper()} {100 * g['yield'].max():.0f}% at radius {g.loc[g['yield'].idxmax(), 'radius']:.3g}"
            for (n, s), g in curves.groupby(["network", "space"])
        )
        + ".",
        "",
        "## Detectability boundary",
        "",
        f"A linear SVM in W on {bnd['n_samples']} walk and radial samples ({bnd['n_detected']} "
        f"detected): held-out accuracy {bnd['acc_val']:.3f} on {bnd['n_val']} samples (balanced "
        f"{bnd['balanced_acc_val']:.3f}; always guessing the majority class scores "
        f"{bnd['acc_majority']:.3f}). Faces fade with the *distance* from the centre in every "
        "direction, which no single hyperplane captures, so the margin over the majority class "
        "measures how much of detectability is one direction.",
        "",
        f"Edit strip (`boundary_strip.csv`): {sum(bnd['strip']['detected'])} of "
        f"{bnd['strip']['frames']} frames detected along the normal.",
        "",
        "![edit strip](figures/boundary_strip.png)",
        "",
        "## Identity map",
        "",
        f"{emap['faces']} detected faces ({emap['walk_faces']} from the walks, "
        f"{emap['radial_faces']} radial) embedded with {emap['embedder']}, mapped with "
        f"{emap['method']}. Same-identity threshold: Euclidean {emap['threshold']:.2f}.",
        "",
        "| seed | faces | identities (HDBSCAN) | noise | largest cluster share "
        "| faces within the threshold of the first |",
        "|---|---|---|---|---|---|",
    ]
    for r in ids.to_dict("records"):
        same = drift[drift["seed"] == r["seed"]]["same_identity"]
        share = f"{100 * same.mean():.0f}%" if len(same) else "-"
        lines.append(f"| {r['seed']} | {r['faces']} | {r['identities']} | {r['noise']} | "
                     f"{r['largest_share']:.2f} | {share} |")  # fmt: skip
    lines += ["", "![embedding map](figures/embedding_map.png)", "",
              "![identity drift](figures/identity_drift.png)", ""]  # fmt: skip
    text = "\n".join(lines)
    write_text_atomic(out_md, text)
    return text

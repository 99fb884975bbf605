"""What the workflow scripts call: one function per rule of rules/semantics.smk.

Layout under ``{outdir}/semantics``: ``samples/shard{k}.parquet``; ``boundaries/{space}/{attr}.npy``
(+ ``.json``); ``conditional/{space}/{primary}.npy``; ``accuracy.csv``,
``boundary_correlation_{space}.csv``, ``score_correlation.csv``, ``conditional.csv``;
``edits/{space}.parquet``, ``edits/external/{name}.parquet``; ``linearity.csv``,
``linearity_faces.csv``, ``disentanglement.csv``, ``effect_correlation_{space}.csv``;
``figures/*.png`` and ``report.md``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ganatlas.studies.semantics.boundary import (
    cosine_matrix,
    load_boundary,
    rescale_to_sqrt_dim,
    save_boundary,
    score_correlation,
    train_boundary,
)
from ganatlas.studies.semantics.conditional import conditional_rows

#: Columns of ``accuracy.csv`` after space and attribute (see BoundaryResult).
ACCURACY_COLUMNS = (
    "protocol", "solver", "n_samples", "n_valid", "k", "n_train", "n_val", "n_remaining",
    "acc_train", "acc_val", "acc_val_std", "acc_val_min", "acc_val_max", "acc_remaining",
    "acc_remaining_std", "remaining_pos", "remaining_neg", "acc_remaining_balanced", "acc_all",
    "acc_all_std", "repeats", "cos_min", "intercept", "midpoint", "threshold",
)  # fmt: skip


def _log(msg: str) -> None:
    from ganatlas.render import stderr_log

    stderr_log(msg)


def make_setup(sem: dict, info: dict, device: str):
    """The ScoringSetup (face backend + scorers) for a job on ``device``.

    ``sem["detector"]`` is the study's merged detector section; ``backend: none`` means no
    detection (planted scorers only).
    """
    from ganatlas.faces.backends import onnx_providers, resolve_detector
    from ganatlas.studies.semantics.scoring import build_setup

    det = (
        None
        if sem["detector"].get("backend") == "none"
        else resolve_detector(sem["detector"], info)
    )
    providers = onnx_providers(det["providers"], device) if det else None
    return build_setup(sem["scorers"], det, providers)


def stage_sample(
    info_json: str | Path, sem: dict, shard: int, out_parquet: str | Path, device: str = "cpu"
) -> None:
    """Sample, render and score shard ``shard`` into ``out_parquet`` (written atomically).

    sem: resolved settings with keys samples, shard_size, seed, batch_size, noise_mode, scorers,
    attributes, detector.
    """
    from ganatlas.atomic import write_parquet_atomic
    from ganatlas.networks.resolve import load_from_info, read_info
    from ganatlas.studies.semantics.sampling import sample_shard

    info = read_info(info_json)
    g = load_from_info(info, device=device)
    setup = make_setup(sem, info, device)
    missing = [a for a in sem["attributes"] if a not in setup.names]
    if missing:
        raise ValueError(
            f"semantics.attributes {missing} are not produced by semantics.scorers "
            f"(their scores: {setup.names})"
        )
    table = sample_shard(
        g, setup, sem["samples"], sem["shard_size"], sem["seed"], shard, device,
        sem["batch_size"], sem["noise_mode"], _log,
    )  # fmt: skip
    write_parquet_atomic(table, out_parquet)


def boundary_paths(sem_dir: str | Path, space: str, attr: str) -> tuple[Path, Path]:
    """(``.npy``, ``.json``) of one boundary."""
    base = Path(sem_dir) / "boundaries" / space / attr
    return base.with_suffix(".npy"), base.with_suffix(".json")


def stage_boundaries(
    shards: list[str | Path], sem: dict, info_json: str | Path, sem_dir: str | Path
) -> dict[str, Any]:
    """Train every boundary, write tables, conditional directions and the two heatmaps.

    sem: resolved settings with keys attributes, spaces, select, val_fraction, split_seed, svm,
    conditions.
    """
    from ganatlas.networks.resolve import read_info
    from ganatlas.studies.semantics.figures import heatmaps
    from ganatlas.studies.semantics.sampling import load_samples

    info = read_info(info_json)
    sem_dir = Path(sem_dir)
    df, z, w = load_samples(shards)
    proto = sem["protocol"]
    # InterFaceGAN trains (and edits) z rescaled to norm sqrt(d); W is used as mapped.
    lat = {"z": rescale_to_sqrt_dim(z) if proto == "interfacegan" else z, "w": w}
    attrs = sem["attributes"]
    acc_rows, cond_rows, normals = [], [], {}
    for space in sem["spaces"]:
        normals[space] = {}
        for attr in attrs:
            _log(f"training {space} boundary of {attr} ({proto} protocol)")
            res = train_boundary(
                lat[space], df[attr].to_numpy(float), sem["select"]["k"],
                sem["select"]["fraction"], sem["val_fraction"], sem["split_seed"],
                sem["svm"]["C"], sem["svm"]["max_iter"], proto, sem["svm"]["solver"],
                sem["split_repeats"],
            )  # fmt: skip
            npy, js = boundary_paths(sem_dir, space, attr)
            meta = save_boundary(
                res, npy, js, space=space, attribute=attr, network=info.get("name"),
                network_sha256=info.get("sha256"), split_seed=sem["split_seed"],
                val_fraction=sem["val_fraction"], svm=sem["svm"],
                z_rescaled=bool(space == "z" and proto == "interfacegan"),
            )  # fmt: skip
            normals[space][attr] = res.normal.reshape(-1)
            acc_rows.append({"space": space, "attribute": attr,
                             **{k: meta[k] for k in ACCURACY_COLUMNS}})  # fmt: skip
        for prim, conds in sem["conditions"].items():
            d, rows = conditional_rows(space, prim, conds, normals[space])
            out = sem_dir / "conditional" / space / f"{prim}.npy"
            out.parent.mkdir(parents=True, exist_ok=True)
            np.save(out, d.astype(np.float32).reshape(1, -1))
            cond_rows.extend(rows)
        cosine_matrix(normals[space]).to_csv(sem_dir / f"boundary_correlation_{space}.csv")
    pd.DataFrame(acc_rows).to_csv(sem_dir / "accuracy.csv", index=False)
    cols = ["space", "primary", "conditions", "condition", "cos_before", "cos_after",
            "cos_with_primary"]  # fmt: skip
    pd.DataFrame(cond_rows, columns=cols).to_csv(sem_dir / "conditional.csv", index=False)
    sc = score_correlation(df[df["detected"]] if "detected" in df else df, attrs)
    sc.to_csv(sem_dir / "score_correlation.csv")
    heatmaps(
        {s.upper(): cosine_matrix(normals[s]) for s in sem["spaces"]},
        sem_dir / "figures" / "boundary_correlation.png", "boundary cosine similarity",
    )  # fmt: skip
    heatmaps({"scores": sc}, sem_dir / "figures" / "score_correlation.png",
             "attribute score correlation (detected samples)")  # fmt: skip
    summary = {
        "samples": int(len(df)),
        "detected": int(df["detected"].sum()),
        "score_std": {a: float(np.nanstd(df[a].to_numpy(float))) for a in attrs},
    }
    (sem_dir / "samples_summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def edit_boundaries(sem_dir: str | Path, space: str, sem: dict) -> dict[str, np.ndarray]:
    """``{name: [D]}`` directions an edit job in ``space`` edits along (wp uses W's): the
    boundaries of ``edit.attributes``, then (``edit.conditional``) the conditional directions,
    named ``primary_c_cond1_cond2`` (see ``settings.edit_names``)."""
    from ganatlas.studies.semantics.settings import conditional_name

    src = "w" if space == "wp" else space
    out = {a: load_boundary(boundary_paths(sem_dir, src, a)[0]) for a in sem["edit"]["attributes"]}
    if sem["edit"]["conditional"]:
        for prim, conds in sem["conditions"].items():
            path = Path(sem_dir) / "conditional" / src / f"{prim}.npy"
            out[conditional_name(prim, conds)] = load_boundary(path)
    return out


def scored_name(name: str, sem: dict) -> str:
    """The score a grid of direction ``name`` shows: the attribute itself, a conditional
    direction's primary, or an external file's name (shown when a scorer makes that column)."""
    from ganatlas.studies.semantics.settings import conditional_name

    for prim, conds in sem["conditions"].items():
        if name == conditional_name(prim, conds):
            return prim
    return name


def _edit_job(
    info_json: str | Path,
    sem: dict,
    space: str,
    directions: dict[str, np.ndarray],
    out_parquet: str | Path,
    grid_pngs: list[str | Path],
    device: str,
) -> None:
    """Edit the configured faces along ``directions`` in ``space``; rows and one grid each."""
    import pyarrow as pa

    from ganatlas.atomic import write_parquet_atomic
    from ganatlas.networks.resolve import load_from_info, read_info
    from ganatlas.studies.semantics.edit import edit_and_score, face_labels, face_latents
    from ganatlas.studies.semantics.figures import edit_grid

    ed = sem["edit"]
    info = read_info(info_json)
    g = load_from_info(info, device=device)
    setup = make_setup(sem, info, device)
    z = face_latents(g.z_dim, ed["seeds"], ed["latent_files"])
    if space == "z" and sem["protocol"] == "interfacegan":
        z = rescale_to_sqrt_dim(z)  # InterFaceGAN edits z at norm sqrt(d)
    _log(f"editing {len(z)} faces along {list(directions)} in {space} ({ed['mode']})")
    rows, grids = edit_and_score(
        g, z, directions, ed["alphas"], space, setup, ed["wp_layers"], device,
        sem["batch_size"], sem["noise_mode"], ed["grid_faces"], _log, ed["mode"],
    )  # fmt: skip
    rows["bbox"] = [None if b is None else [float(v) for v in b] for b in rows["bbox"]]
    write_parquet_atomic(pa.Table.from_pandas(rows, preserve_index=False), out_parquet)
    labels = face_labels(ed["seeds"], ed["latent_files"])
    na = len(ed["alphas"])
    for name, png in zip(directions, grid_pngs, strict=True):
        shown = scored_name(name, sem)
        nf = len(grids[name])
        sub = rows[rows["edited"] == name]
        scores = sub[shown].to_numpy(float)[: nf * na].reshape(nf, na) if shown in sub else None
        title = f"{space.upper()}: {name} ({ed['mode']} edit)"
        edit_grid(grids[name], ed["alphas"], png, title, labels[:nf], scores, shown)


def stage_edit(
    info_json: str | Path,
    sem: dict,
    space: str,
    sem_dir: str | Path,
    out_parquet: str | Path,
    grid_pngs: list[str | Path],
    device: str = "cpu",
) -> None:
    """Edit the configured faces in ``space`` along the trained (and conditional) directions,
    rescore, write rows and one grid per direction (``settings.edit_names`` order).

    sem: resolved settings with keys edit, conditions, protocol, scorers, detector, batch_size,
    noise_mode.
    """
    dirs = edit_boundaries(sem_dir, space, sem)
    _edit_job(info_json, sem, space, dirs, out_parquet, grid_pngs, device)


def stage_edit_external(
    info_json: str | Path,
    sem: dict,
    name: str,
    out_parquet: str | Path,
    grid_png: str | Path,
    device: str = "cpu",
) -> None:
    """Edit along the external boundary file ``name`` of ``edit.boundary_files`` (its space),
    checked against the network first (ganatlas.studies.semantics.external)."""
    from ganatlas.networks.resolve import read_info
    from ganatlas.studies.semantics.external import load_external_boundary

    files = sem["edit"]["boundary_files"]
    i, entry = next((i, b) for i, b in enumerate(files) if b["name"] == name)
    info = read_info(info_json)
    normal = load_external_boundary(
        entry["path"], entry["space"], info["z_dim"], info["w_dim"], info["num_ws"],
        key=f"semantics.edit.boundary_files[{i}] ({name})",
    )  # fmt: skip
    normal = normal.reshape(-1) if normal.shape[0] == 1 else normal
    _edit_job(info_json, sem, entry["space"], {name: normal}, out_parquet, [grid_png], device)


def stage_edit_summary(
    edit_parquets: list[str | Path], sem: dict, sem_dir: str | Path
) -> pd.DataFrame:
    """Per-face linearity, normalised-slope disentanglement, correlations, curves and heatmaps.

    Reads ``samples_summary.json`` (the score spread over samples) from ``sem_dir``.
    sem: resolved settings with keys attributes and edit (its spaces).
    """
    from ganatlas.studies.semantics.effects import (
        disentanglement_table,
        effect_correlation,
        face_fits,
        linearity_table,
        matrix,
    )
    from ganatlas.studies.semantics.figures import disentanglement_figure, linearity_curves

    sem_dir = Path(sem_dir)
    rows = pd.concat([pd.read_parquet(p) for p in edit_parquets], ignore_index=True)
    attrs = sem["attributes"]
    per_face = face_fits(rows, attrs)
    per_face.to_csv(sem_dir / "linearity_faces.csv", index=False)
    fits = linearity_table(rows, per_face)
    fits.to_csv(sem_dir / "linearity.csv", index=False)
    spaces = list(dict.fromkeys([*sem["edit"]["spaces"], *rows["space"]]))
    corr = {}
    for space in spaces:
        corr[space] = effect_correlation(rows, attrs, space)
        if space in sem["edit"]["spaces"]:
            corr[space].to_csv(sem_dir / f"effect_correlation_{space}.csv")
            linearity_curves(
                rows, fits, attrs, space, sem_dir / "figures" / f"linearity_{space}.png"
            )
    summary = json.loads((sem_dir / "samples_summary.json").read_text())
    table = disentanglement_table(fits, summary.get("score_std", {}), corr)
    table.to_csv(sem_dir / "disentanglement.csv", index=False)
    panels = {
        space.upper(): {
            "slope / own-edit slope": matrix(table, space, "by_own", attrs),
            "slope / score std over samples": matrix(table, space, "by_spread", attrs),
            "corr(alpha, score change)": matrix(table, space, "corr", attrs),
        }
        for space in spaces
    }
    disentanglement_figure(panels, sem_dir / "figures" / "disentanglement.png")
    return fits


def stage_report(sem: dict, sem_dir: str | Path, out_md: str | Path) -> str:
    """Write the markdown summary (see ganatlas.studies.semantics.report).

    sem: resolved settings with keys seed, select, val_fraction, split_seed, svm, edit.
    """
    from ganatlas.studies.semantics.report import build_report

    text = build_report(sem, Path(sem_dir))
    Path(out_md).write_text(text)
    return text

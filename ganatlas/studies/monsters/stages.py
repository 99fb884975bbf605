"""What the workflow scripts call: one function per rule of rules/monsters.smk.

Layout under ``{outdir}/monsters``: ``networks/{net}.json`` (extra networks), ``radial/{net}_{space}.parquet``
(one row per radial image), ``radial_curves.csv``, ``monster_radii.csv``,
``figures/radial_yield.png`` / ``radial_score.png``; ``boundary/normal.npy`` + ``boundary.json``,
``boundary_strip.csv``, ``figures/boundary_strip.png``; ``embeddings.parquet``, ``drift.csv``,
``identities.csv``, ``figures/embedding_map.png`` / ``identity_drift.png``; ``report.md``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from ganatlas.studies.monsters.radial import (
    monster_radii,
    radial_latents,
    space_seed,
    unit_directions,
    yield_curve,
)


def _log(msg: str) -> None:
    from ganatlas.render import stderr_log

    stderr_log(msg)


def list_column(rows: list) -> pa.Array:
    """A list<float32> Arrow column from vectors or None (null), built from one flat array
    (no Python float per value: 100,000 x 512 embeddings stay ~200 MB)."""
    valid = np.array([r is not None for r in rows], bool)
    dims = np.array([0 if r is None else np.asarray(r).size for r in rows], np.int64)
    offsets = np.concatenate([[0], np.cumsum(dims)]).astype(np.int32)
    parts = [np.asarray(r, np.float32).ravel() for r in rows if r is not None]
    flat = np.concatenate(parts) if parts else np.zeros(0, np.float32)
    return pa.ListArray.from_arrays(pa.array(offsets), pa.array(flat), mask=pa.array(~valid))


def unit_scale(unit: str, distances: np.ndarray) -> float:
    """The length of radius 1: the pNN percentile of ``distances`` ([N]), or 1 for absolute."""
    if unit == "absolute":
        return 1.0
    return float(np.percentile(np.asarray(distances, np.float64), float(unit[1:])))


def centre_stats(g, space: str, w_avg_npz: str | Path | None, w_avg_cfg: dict) -> tuple:
    """(centre [D], distances of the samples to it [N]) in ``space``.

    w: w_avg and |w - w_avg| from ``w_avg_npz`` (computed here from ``w_avg_cfg`` when None);
    z: the origin and |z| of the same seeded z samples.
    """
    from ganatlas.latent import compute_w_avg, sample_z

    if space == "z":
        z = sample_z(int(w_avg_cfg["samples"]), g.z_dim, int(w_avg_cfg["seed"])).double().numpy()
        return np.zeros(g.z_dim), np.linalg.norm(z, axis=1)
    if w_avg_npz is not None:
        with np.load(w_avg_npz) as f:
            return f["w_avg"].astype(np.float64), f["distances"].astype(np.float64)
    st = compute_w_avg(g, int(w_avg_cfg["samples"]), int(w_avg_cfg["seed"]), 1000)
    return st["w_avg"].astype(np.float64), st["distances"].astype(np.float64)


def stage_radial(
    info_json: str | Path,
    w_avg_npz: str | Path | None,
    p: dict,
    net: str,
    space: str,
    out_parquet: str | Path,
    device: str = "cpu",
) -> pd.DataFrame:
    """Render and score K directions x R radii from the centre of ``space``; one row per image.

    p: resolved settings with keys directions, seed, radii, radius_unit, batch_size, scorers,
    detector, embedder, w_avg. Columns: net, network, space, direction, radius_index, radius (in
    the unit), radius_abs, unit_length, z_scale_free (space z of a network whose mapping
    normalises z: radii > 0 along a direction are one image), detected, det_score, bbox, attr_*,
    embedding, embedder, w [w_dim] (and z [z_dim] for space z). Radius 0 is rendered once (every direction shares it).
    """
    from ganatlas.atomic import write_parquet_atomic
    from ganatlas.networks.resolve import load_from_info, read_info
    from ganatlas.render import synthesize
    from ganatlas.studies.monsters.scoring import (
        build_scoring,
        map_w,
        score_images_with_embeddings,
        z_scale_free,
    )

    info = read_info(info_json)
    g = load_from_info(info, device=device)
    centre, dists = centre_stats(g, space, w_avg_npz, p["w_avg"])
    unit = unit_scale(p["radius_unit"], dists)
    dirs = unit_directions(p["directions"], len(centre), space_seed(p["seed"], space))
    lat, di, ri = radial_latents(centre, dirs, p["radii"], unit)
    w = map_w(g, lat, device) if space == "z" else lat
    scale_free = space == "z" and z_scale_free(g, device)
    if scale_free:
        _log(f"WARNING radial {net} z: the mapping normalises z, so every radius > 0 along a "
             "direction renders the same image; this Z curve measures random directions, not "
             "the distance from the origin")  # fmt: skip
    uniq, first, inv = np.unique(w, axis=0, return_index=True, return_inverse=True)
    order = np.argsort(first)  # render in the grid's order
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    inv = rank[np.asarray(inv).reshape(-1)]
    uniq = uniq[order]
    backend, scorers, emb_name, embed = build_scoring(
        p["detector"], info, p["scorers"], p["embedder"], device
    )
    _log(f"radial {net} {space}: {len(dirs)} directions x {len(p['radii'])} radii, unit "
         f"{p['radius_unit']} = {unit:.4f}, {len(uniq)} distinct images")  # fmt: skip
    frames = []
    bs = int(p["batch_size"])
    for s in range(0, len(uniq), bs):
        imgs = synthesize(g, uniq[s : s + bs], device, bs)
        frames.append(score_images_with_embeddings(imgs, backend, scorers, embed))
        _log(f"rendered and scored {min(s + bs, len(uniq))}/{len(uniq)}")
    scored = pd.concat(frames, ignore_index=True).iloc[inv].reset_index(drop=True)
    radii = np.asarray(p["radii"], np.float64)
    df = pd.DataFrame(
        {
            "net": net,
            "network": info.get("name", ""),
            "space": space,
            "direction": di.astype(np.int64),
            "radius_index": ri.astype(np.int64),
            "radius": radii[ri],
            "radius_abs": radii[ri] * unit,
            "unit_length": unit,
            "z_scale_free": scale_free,
        }
    )
    df = pd.concat([df, scored], axis=1)
    df["embedder"] = emb_name
    df["backend"] = backend.name
    cols = {c: pa.array(df[c].to_numpy()) for c in df.columns if c not in ("bbox", "embedding")}
    cols["bbox"] = list_column(list(df["bbox"]))
    cols["embedding"] = list_column(list(df["embedding"]))
    cols["w"] = list_column(list(w))
    if space == "z":
        cols["z"] = list_column(list(lat))
    write_parquet_atomic(pa.table(cols), out_parquet)
    _log(f"radial {net} {space}: {int(df['detected'].sum())}/{len(df)} detected")
    return df


def read_radial(paths: list[str | Path], latents: bool = False) -> pd.DataFrame:
    """Radial rows of several files (``w``/``z``/``embedding`` columns kept when ``latents``)."""
    import pyarrow.parquet as pq

    frames = []
    for path in paths:
        t = pq.read_table(path)
        if not latents:
            t = t.drop_columns([c for c in ("w", "z", "embedding") if c in t.column_names])
        frames.append(t.to_pandas())
    return pd.concat(frames, ignore_index=True)


def stage_radial_summary(
    radial_parquets: list[str | Path], p: dict, out_dir: str | Path
) -> pd.DataFrame:
    """Yield curves (Wilson 95%), monster radii (bootstrap 95% over directions) and the figures.

    p: resolved settings with keys bootstrap, seed, radius_unit. Writes ``radial_curves.csv``,
    ``monster_radii.csv``, ``figures/radial_yield.png`` and ``figures/radial_score.png``.
    Returns the monster radii table.
    """
    from ganatlas.atomic import atomic_path
    from ganatlas.studies.monsters.figures import plot_radial

    out = Path(out_dir)
    df = read_radial(radial_parquets)
    curves, radii_rows = [], []
    for (net, space), part in df.groupby(["net", "space"], sort=True):
        c = yield_curve(part)
        c.insert(0, "space", space)
        c.insert(0, "network", part["network"].iloc[0])
        c.insert(0, "net", net)
        curves.append(c)
        grid = part.pivot_table(index="direction", columns="radius_index", values="detected",
                                aggfunc="first").sort_index(axis=1)  # fmt: skip
        r = np.sort(part["radius"].unique())
        unit = float(part["unit_length"].iloc[0])
        mr = monster_radii(grid.to_numpy(bool), r, p["bootstrap"], p["seed"])
        row = {"net": net, "network": part["network"].iloc[0], "space": space,
               "directions": int(grid.shape[0]), "unit": p["radius_unit"], "unit_length": unit}  # fmt: skip
        row.update(mr)
        row["z_scale_free"] = bool(part.get("z_scale_free", pd.Series([False])).iloc[0])
        for k in ("r90", "r50"):
            row[f"{k}_abs"] = mr[k] * unit
        radii_rows.append(row)
    curves_df = pd.concat(curves, ignore_index=True)
    radii_df = pd.DataFrame(radii_rows)
    for name, table in (("radial_curves.csv", curves_df), ("monster_radii.csv", radii_df)):
        with atomic_path(out / name) as tmp:
            table.to_csv(tmp, index=False)
    plot_radial(curves_df, radii_df, p["radius_unit"], out / "figures" / "radial_yield.png",
                out / "figures" / "radial_score.png")  # fmt: skip
    for r in radii_rows:
        _log(f"{r['network']} {r['space']}: r90 {r['r90']:.3g} [{r['r90_lo']:.3g}, "
             f"{r['r90_hi']:.3g}], r50 {r['r50']:.3g} [{r['r50_lo']:.3g}, {r['r50_hi']:.3g}] "
             f"x {r['unit']}")  # fmt: skip
    return radii_df


def walk_samples(walk_parquet: str | Path, walk_npzs: list[str | Path]) -> pd.DataFrame:
    """The walk's detection rows with their latent: columns seed, step, distance, detected,
    score, bbox, embedding, filename and ``w`` (a [w_dim] array per row)."""
    df = pd.read_parquet(walk_parquet)
    lat = {}
    for path in walk_npzs:
        with np.load(path) as f:
            lat[int(f["seed"])] = f["w_out"].astype(np.float32)
    missing = sorted(set(df["seed"].astype(int)) - set(lat))
    if missing:
        raise ValueError(f"no walk file for seeds {missing} among {list(map(str, walk_npzs))}")
    df["w"] = [lat[int(s)][int(t)] for s, t in zip(df["seed"], df["step"], strict=True)]
    return df


def boundary_data(
    walk: pd.DataFrame, radial: pd.DataFrame
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(latents [N, w_dim] float64, detected [N] int, source [N] 'walk'/'radial_w'/'radial_z')."""
    x = np.concatenate([np.stack(walk["w"]), np.stack(radial["w"])]).astype(np.float64)
    y = np.concatenate([walk["detected"].to_numpy(bool), radial["detected"].to_numpy(bool)])
    src = np.concatenate([np.full(len(walk), "walk"), ("radial_" + radial["space"]).to_numpy()])
    return x, y.astype(int), src


def stage_monster_boundary(
    walk_parquet: str | Path,
    walk_npzs: list[str | Path],
    radial_parquets: list[str | Path],
    info_json: str | Path,
    p: dict,
    out_dir: str | Path,
    device: str = "cpu",
) -> dict:
    """A linear SVM in W separating detected from undetected samples (walk + radial), its
    held-out accuracy, and an edit strip: a detected face moved along the normal past the
    boundary, rendered and rescored.

    p: resolved settings with keys boundary (val_fraction, C, max_iter, strip_frames), seed,
    detector. Writes ``boundary/normal.npy`` ([1, w_dim], unit, pointing to "detected"),
    ``boundary/boundary.json``, ``boundary_strip.csv``, ``figures/boundary_strip.png``.
    """
    from ganatlas.atomic import atomic_path, write_text_atomic
    from ganatlas.networks.resolve import load_from_info, read_info
    from ganatlas.render import synthesize
    from ganatlas.studies.monsters.figures import plot_strip
    from ganatlas.studies.monsters.scoring import build_scoring, score_images_with_embeddings

    out = Path(out_dir)
    b = p["boundary"]
    info = read_info(info_json)
    x, y, src = boundary_data(
        walk_samples(walk_parquet, walk_npzs), read_radial(radial_parquets, True)
    )
    res = fit_detectability(x, y, b["val_fraction"], p["seed"], b["C"], b["max_iter"])
    res.update(
        network=info.get("name"),
        samples_by_source={s: int((src == s).sum()) for s in sorted(set(src))},
    )
    normal = res.pop("normal")
    with atomic_path(out / "boundary" / "normal.npy", suffix=".npy") as tmp:
        np.save(tmp, normal.astype(np.float32).reshape(1, -1))
    _log(f"detectability boundary: {res['n_train']} train / {res['n_val']} held out, accuracy "
         f"{res['acc_val']:.3f} (majority class {res['acc_majority']:.3f}, "
         f"balanced {res['balanced_acc_val']:.3f})")  # fmt: skip
    # The strip: the detected sample with the median decision value among detected samples,
    # moved along -normal until twice as deep as the median undetected sample (at least 1).
    d = x @ normal + res["intercept"]
    det_idx = np.flatnonzero((y == 1) & (d > 0))
    if len(det_idx) == 0:
        det_idx = np.flatnonzero(y == 1)
    start = det_idx[np.argsort(d[det_idx])[len(det_idx) // 2]]
    d0 = float(d[start])
    depth = max(-2.0 * float(np.median(d[y == 0])), 1.0)
    t = np.linspace(0.0, max(d0, 0.0) + depth, int(b["strip_frames"]))
    lat = x[start][None, :] - t[:, None] * normal[None, :]
    g = load_from_info(info, device=device)
    backend, _, _, _ = build_scoring(p["detector"], info, [], "dlib", device)
    imgs = synthesize(g, lat.astype(np.float32), device)
    rows = score_images_with_embeddings(imgs, backend, [], None).drop(columns=["embedding"])
    rows.insert(0, "t", t)
    rows.insert(1, "decision", lat @ normal + res["intercept"])
    rows.insert(2, "distance_from_start", t)
    rows["bbox"] = [None if v is None else json.dumps(v) for v in rows["bbox"]]
    with atomic_path(out / "boundary_strip.csv") as tmp:
        rows.to_csv(tmp, index=False)
    res["strip"] = {"start_source": str(src[start]), "start_decision": d0,
                    "frames": int(len(t)), "detected": [bool(v) for v in rows["detected"]]}  # fmt: skip
    plot_strip(imgs, t, rows, f"{info.get('name')}: a face walking into monster land along the "
               f"detectability normal (held-out accuracy {res['acc_val']:.2f})",
               out / "figures" / "boundary_strip.png")  # fmt: skip
    write_text_atomic(out / "boundary" / "boundary.json", json.dumps(res, indent=2) + "\n")
    return res


def fit_detectability(
    x: np.ndarray, y: np.ndarray, val_fraction: float, seed: int, c: float = 1.0,
    max_iter: int = 20000,
) -> dict:  # fmt: skip
    """Fit the detected-vs-undetected SVM on a seeded split of ``x: [N, D]``, ``y: [N]`` in
    {0, 1} (the semantics study's split and SVM). Returns the unit ``normal [D]`` (towards
    detected), ``intercept`` (of the unit normal) and train / held-out / balanced / majority-class
    accuracies. Both classes must be present (ValueError otherwise)."""
    from ganatlas.studies.semantics.boundary import fit_linear_svm, split_indices

    n_pos = int(y.sum())
    if n_pos == 0 or n_pos == len(y):
        raise ValueError(
            f"the detectability boundary needs detected and undetected samples; got {n_pos} "
            f"detected of {len(y)} (widen monsters.radii or the walk)"
        )
    tr, va = split_indices(len(x), val_fraction, seed)
    clf = fit_linear_svm(x[tr], y[tr], c, max_iter)
    coef = clf.coef_.reshape(-1)
    norm = float(np.linalg.norm(coef))
    pred = clf.predict(x[va])
    recall = [
        float(np.mean(pred[y[va] == k] == k)) if np.any(y[va] == k) else float("nan")
        for k in (0, 1)
    ]
    return {
        "normal": coef / norm,
        "intercept": float(clf.intercept_[0]) / norm,
        "n_samples": int(len(x)),
        "n_detected": n_pos,
        "n_train": int(len(tr)),
        "n_val": int(len(va)),
        "acc_train": float(np.mean(clf.predict(x[tr]) == y[tr])),
        "acc_val": float(np.mean(pred == y[va])),
        "balanced_acc_val": float(np.nanmean(recall)),
        "acc_majority": float(max(np.mean(y[va]), 1 - np.mean(y[va]))),
        "val_fraction": float(val_fraction),
        "seed": int(seed),
        "C": float(c),
    }


def walk_embeddings(walk: pd.DataFrame, images_root: str | Path, embedder: str) -> np.ndarray:
    """``[N, D]`` float32 identity embeddings of the detected walk rows ``walk``: the stored
    detector embeddings (arcface), or dlib's descriptor on each image's stored box (dlib)."""
    from ganatlas.faces.detect import read_bgr
    from ganatlas.studies.monsters.identity import DLIB_DIM, dlib_embedder

    if embedder == "arcface":
        return np.stack([np.asarray(e, np.float32) for e in walk["embedding"]])
    dl = dlib_embedder()
    root = Path(images_root)
    out = []
    for i, r in enumerate(walk.itertuples(index=False)):
        path = root / f"seed{int(r.seed)}" / r.filename
        if not path.is_file():
            found = list(root.glob(f"seed{int(r.seed)}/*/{r.filename}"))
            if not found:
                raise FileNotFoundError(
                    f"walk image {r.filename} of seed {r.seed} not under {root}"
                )
            path = found[0]
        out.append(dl.embed_one(read_bgr(path), np.asarray(r.bbox, np.float64)))
        if (i + 1) % 500 == 0:
            _log(f"embedded {i + 1}/{len(walk)} walk faces")
    return np.stack(out) if out else np.zeros((0, DLIB_DIM), np.float32)


def stage_embedding_map(
    walk_parquet: str | Path,
    images_root: str | Path,
    radial_parquets: list[str | Path],
    p: dict,
    out_dir: str | Path,
) -> pd.DataFrame:
    """Every detected face's identity embedding (walks + radial samples) in 2-D, identity drift
    along each walk and HDBSCAN identity clusters per walk.

    p: resolved settings with keys map (method, max_points, embedder, min_cluster_size) and seed.
    Writes ``embeddings.parquet`` (source, seed, step, distance, score, x, y, cluster,
    embedding), ``drift.csv``, ``identities.csv``, ``figures/embedding_map.png`` and
    ``figures/identity_drift.png``.
    """
    from ganatlas.atomic import atomic_path, write_parquet_atomic
    from ganatlas.studies.monsters.embedmap import identity_clusters, identity_drift, project_2d
    from ganatlas.studies.monsters.figures import plot_drift, plot_embedding_map
    from ganatlas.studies.monsters.identity import THRESHOLDS, resolve_embedder

    m, out = p["map"], Path(out_dir)
    walk = pd.read_parquet(walk_parquet)
    walk = walk[walk["detected"]].reset_index(drop=True)
    backend = str(walk["backend"].iloc[0]) if len(walk) else "none"
    has_rec = (
        bool(len(walk))
        and walk["embedding"].iloc[0] is not None
        and len(walk["embedding"].iloc[0]) == 512
    )
    emb_name = resolve_embedder(m["embedder"], backend, has_rec)
    _log(f"embedding {len(walk)} detected walk faces with {emb_name}")
    e_walk = walk_embeddings(walk, images_root, emb_name)
    radial = read_radial(radial_parquets, latents=True)
    radial = radial[radial["detected"] & radial["embedding"].notna()].reset_index(drop=True)
    if len(radial) and (radial["embedder"] != emb_name).any():
        _log(f"radial embeddings are {sorted(set(radial['embedder']))}, not {emb_name}: left out")
        radial = radial.iloc[:0]
    e_rad = (np.stack([np.asarray(e, np.float32) for e in radial["embedding"]])
             if len(radial) else np.zeros((0, e_walk.shape[1] if len(e_walk) else 128), np.float32))  # fmt: skip
    emb = np.concatenate([e_walk, e_rad]).astype(np.float32)
    table = pd.DataFrame({
        "source": ["walk"] * len(walk) + [f"radial_{s}" for s in radial["space"]],
        "seed": np.concatenate([walk["seed"].to_numpy(int), np.full(len(radial), -1)]),
        "step": np.concatenate([walk["step"].to_numpy(int), np.full(len(radial), -1)]),
        "distance": np.concatenate([walk["distance"].to_numpy(float), radial["radius_abs"].to_numpy(float)]),
        "score": np.concatenate([walk["score"].to_numpy(float), radial["det_score"].to_numpy(float)]),
    })  # fmt: skip
    xy = project_2d(emb, m["method"], m["max_points"], p["seed"])
    table["x"], table["y"] = xy[:, 0], xy[:, 1]
    labels, identities = identity_clusters(walk, e_walk, m["min_cluster_size"])
    table["cluster"] = np.concatenate([labels, np.full(len(radial), -1)])
    drift = identity_drift(walk, e_walk)
    thr = THRESHOLDS[emb_name]
    drift["same_identity"] = drift["drift"] <= thr
    cols = {c: pa.array(table[c].to_numpy()) for c in table.columns}
    cols["embedding"] = list_column(list(emb))
    write_parquet_atomic(pa.table(cols), out / "embeddings.parquet")
    for name, t in (("drift.csv", drift), ("identities.csv", identities)):
        with atomic_path(out / name) as tmp:
            t.to_csv(tmp, index=False)
    plot_embedding_map(table, m["method"], out / "figures" / "embedding_map.png")
    plot_drift(drift, thr, emb_name, out / "figures" / "identity_drift.png")
    meta = {"embedder": emb_name, "threshold": thr, "faces": int(len(table)),
            "walk_faces": int(len(walk)), "radial_faces": int(len(radial)), "method": m["method"]}  # fmt: skip
    with atomic_path(out / "embedding_map.json") as tmp:
        tmp.write_text(json.dumps(meta, indent=2) + "\n")
    _log(f"embedding map: {len(table)} faces; identities per walk "
         f"{dict(zip(identities['seed'], identities['identities'], strict=True))}")  # fmt: skip
    return table

"""The paths study's stages, one function per rule of rules/paths.smk.

Layout under ``{outdir}/paths``: ``interpolate/{path}/`` (``frames/`` PNGs, ``frames.parquet``,
``strip.png``, ``distances.csv`` + ``distances.png``, ``first_row.png``, ``video.mp4``,
``video.gif``); ``planes/{plane}/`` (``montage.png``, ``heatmaps.png``, ``cells.parquet``);
``axes/`` (``sheet.png``, ``axes.parquet``, ``scariest.png``); ``mix/{range}.png``; ``report.md``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from ganatlas.atomic import atomic_path, write_parquet_atomic, write_text_atomic
from ganatlas.interpolation import plane_grid, trajectory
from ganatlas.studies.paths import figures
from ganatlas.studies.paths.frames import (
    embed_frames,
    load_network_job,
    log,
    make_scoring,
    point_space,
    render,
    resolve_named,
    save_pngs_atomic,
    score,
    to_ws,
)


def _table(df: pd.DataFrame) -> pa.Table:
    return pa.Table.from_pandas(df.reset_index(drop=True), preserve_index=False)


def frame_name(i: int) -> str:
    """PNG name of frame ``i`` of a path."""
    return f"frame{i:05d}.png"


def stage_interpolate(
    info_json: str | Path, p: dict, sem_dir: str | Path, out: dict[str, str], device: str = "cpu"
) -> pd.DataFrame:
    """Render, score and embed one path; write frames, table, strip, distances and figures.

    p: ``points`` (definitions the path needs), ``keys`` (the path's point names), ``steps``,
    ``method``, ``batch_size``, ``noise_mode``, ``detector``, ``embedder``. out: paths of
    ``frames`` (folder), ``table``, ``strip``, ``distances`` (CSV), ``meta`` (its JSON record:
    embedder, distance, threshold, found), ``heatmap``, ``first_row``.
    Returns the frames table (one row per frame).
    """
    from ganatlas.faces.embedders import distance_matrix

    info, g, net = load_network_job(info_json, device)
    pts = resolve_named(p["points"], net, sem_dir)
    space, psi = point_space(p["points"], p["keys"][0])
    lat, seg = trajectory([pts[k] for k in p["keys"]], p["steps"], p["method"])
    log(f"path {' -> '.join(p['keys'])} ({space}, {p['method']}): {len(lat)} frames")
    ws = to_ws(g, lat, space, psi, device)
    images = render(g, ws, device, p["batch_size"], p["noise_mode"])
    names = [frame_name(i) for i in range(len(images))]
    save_pngs_atomic(images, names, out["frames"])
    backend, _ = make_scoring(p["detector"], [], info, device)
    df = score(images, backend, [])
    embedder, E, found = embed_frames(images, df["bbox"].tolist(), p["embedder"], device)
    dm = distance_matrix(embedder, E, found, [str(i) for i in range(len(images))])
    steps_per = p["steps"] - 1
    df.insert(0, "frame", np.arange(len(images)))
    df.insert(1, "keyframe", seg)
    last = len(p["keys"]) - 2
    df.insert(
        2, "t", [round(i / steps_per - min(i // steps_per, last), 10) for i in range(len(seg))]
    )
    df["is_keyframe"] = [i % steps_per == 0 for i in range(len(images))]
    df["key_name"] = [
        p["keys"][k] if f else "" for k, f in zip(seg, df["is_keyframe"], strict=True)
    ]
    df["embedded"] = found
    df["dist_first"] = dm.values[0]
    df["dist_prev"] = [np.nan] + [dm.values[i, i - 1] for i in range(1, len(images))]
    df["latent_norm"] = np.linalg.norm(lat.reshape(len(lat), -1), axis=1)
    df["image"] = names
    meta = dm.meta()
    write_parquet_atomic(_table(df), out["table"])
    write_text_atomic(out["distances"], dm.to_csv_text())
    write_text_atomic(out["meta"], json.dumps(meta, indent=2) + "\n")
    D = pd.DataFrame(dm.values, index=dm.labels, columns=dm.labels)
    figures.distance_heatmap(D, meta, out["heatmap"])
    figures.first_row_plot(df, meta, out["first_row"])
    labels = [
        f"{i}{' ' + n if n else ''}\n{'no face' if not d else f'{s:.2f}'}"
        for i, n, d, s in zip(df["frame"], df["key_name"], df["detected"], df["score"], strict=True)
    ]
    title = f"{' -> '.join(p['keys'])} ({space}, {p['method']}, {p['steps']} per segment)"
    figures.labelled_sheet(images, labels, p["steps"], out["strip"], title, df["detected"])
    row = ", ".join(f"{v:.2f}" for v in dm.values[0])
    log(f"first row of the distance matrix ({meta['distance']}, {meta['embedder']}): {row}")
    return df


def stage_video(frames_dir: str | Path, fps: float, out: str | Path, min_side: int = 256) -> int:
    """Encode a path's frames (sorted PNGs) as MP4 (ffmpeg of the imageio-ffmpeg wheel) or GIF,
    by ``out``'s suffix; frames are enlarged by an integer factor to at least ``min_side`` px.
    Returns the number of frames."""
    import imageio.v2 as iio

    files = sorted(Path(frames_dir).glob("*.png"))
    if not files:
        raise ValueError(f"no frames in {frames_dir}")
    frames = [iio.imread(f)[..., :3] for f in files]
    factor = max(1, -(-min_side // min(frames[0].shape[:2])))
    if factor > 1:
        frames = [f.repeat(factor, axis=0).repeat(factor, axis=1) for f in frames]
    suffix = Path(out).suffix
    with atomic_path(out, suffix=suffix) as tmp:
        if suffix == ".mp4":
            iio.mimwrite(tmp, frames, fps=fps, format="FFMPEG", codec="libx264",
                         macro_block_size=16, ffmpeg_log_level="error")  # fmt: skip
        else:
            iio.mimwrite(tmp, frames, format="GIF", duration=1000.0 / fps, loop=0)
    log(f"wrote {out}: {len(frames)} frames at {fps:g} fps")
    return len(frames)


def stage_planes(
    info_json: str | Path, p: dict, sem_dir: str | Path, out: dict[str, str], device: str = "cpu"
) -> pd.DataFrame:
    """One plane: cell (row i, column j) = origin + xs[j] * X + ys[i] * Y, top row = largest y.

    p: ``points``, ``plane`` ({origin, x, y} names), ``xs``, ``ys``, ``scorers``, ``detector``,
    ``batch_size``, ``noise_mode``. out: ``montage``, ``heatmaps``, ``table``. Returns the cells
    table (one row per cell with x, y, row, col, scores and the flattened ``latent``).
    """
    info, g, net = load_network_job(info_json, device)
    pts = resolve_named(p["points"], net, sem_dir)
    names = p["plane"]
    space, psi = point_space(p["points"], names["origin"])
    xs, ys = list(p["xs"]), sorted(p["ys"], reverse=True)
    grid = plane_grid(pts[names["origin"]], pts[names["x"]], pts[names["y"]], xs, ys)
    lat = grid.reshape((len(ys) * len(xs),) + grid.shape[2:])
    log(f"plane {names}: {len(ys)} x {len(xs)} cells in {space}")
    images = render(g, to_ws(g, lat, space, psi, device), device, p["batch_size"], p["noise_mode"])
    backend, scorers = make_scoring(p["detector"], p["scorers"], info, device)
    df = score(images, backend, scorers)
    rows, cols = np.divmod(np.arange(len(lat)), len(xs))
    df.insert(0, "row", rows)
    df.insert(1, "col", cols)
    df.insert(2, "x", [xs[c] for c in cols])
    df.insert(3, "y", [ys[r] for r in rows])
    df["latent"] = [v.astype(np.float32).ravel().tolist() for v in lat]
    write_parquet_atomic(_table(df), out["table"])
    figures.plane_montage(images, xs, ys, {**names, "space": space}, out["montage"])
    score_cols = ["det_score"] + [n for s in scorers for n in s.outputs]
    figures.plane_heatmaps(df, score_cols, out["heatmaps"])
    return df


def axis_latents(space: str, dim: int, count: int | None, scale: float) -> np.ndarray:
    """``[n, dim]``: ``scale * e_i`` for the first ``count`` (default all ``dim``) axes."""
    n = dim if count is None else min(int(count), dim)
    return (np.eye(dim, dtype=np.float32) * np.float32(scale))[:n]


def stage_axes(
    info_json: str | Path, p: dict, out: dict[str, str], device: str = "cpu"
) -> pd.DataFrame:
    """Every basis axis ``scale * e_i`` of ``space``, the zero vector and w_avg: n + 2 images.

    p: ``space``, ``scale``, ``count``, ``worst``, ``columns``, ``detector``, ``batch_size``,
    ``noise_mode``. out: ``sheet``, ``table``, ``scariest``. Returns the table (label, axis,
    scores; rows in image order).
    """
    info, g, net = load_network_job(info_json, device)
    space = p["space"]
    dim = net.z_dim if space == "z" else net.w_dim
    axes = axis_latents(space, dim, p["count"], p["scale"])
    zero = np.zeros((1, dim), np.float32)
    ws = np.concatenate(
        [to_ws(g, np.concatenate([axes, zero]), space, None, device),
         to_ws(g, net.w_avg[None], "w", None, device)]
    )  # fmt: skip
    log(f"axes: {len(axes)} basis vectors x {p['scale']:g} in {space}, zero, w_avg")
    images = render(g, ws, device, p["batch_size"], p["noise_mode"])
    backend, _ = make_scoring(p["detector"], [], info, device)
    df = score(images, backend, [])
    labels = [f"e{i}" for i in range(len(axes))] + ["zero", "w_avg"]
    df.insert(0, "label", labels)
    df.insert(1, "axis", list(range(len(axes))) + [-1, -1])
    write_parquet_atomic(_table(df), out["table"])
    text = [f"{lab}\n{'no face' if not d else f'{s:.2f}'}"
            for lab, d, s in zip(labels, df["detected"], df["score"], strict=True)]  # fmt: skip
    figures.labelled_sheet(images, text, p["columns"], out["sheet"],
                           f"basis axes {p['scale']:g} * e_i in {space}, zero, w_avg "
                           f"(n = {len(images)})", df["detected"])  # fmt: skip
    k = min(p["worst"], len(axes))
    worst = df.iloc[: len(axes)].sort_values(["score", "axis"], kind="stable").head(k)
    figures.labelled_sheet(
        images[worst.index.to_numpy()], [text[i] for i in worst.index], k, out["scariest"],
        f"the {k} lowest-scoring axes (scariest)", worst["detected"].tolist(), cell_inches=1.8,
    )  # fmt: skip
    return df


def mix_ws(ws_rows: np.ndarray, ws_cols: np.ndarray, start: int, stop: int) -> np.ndarray:
    """``[R, C, num_ws, w_dim]``: row r's ws with layers ``[start, stop)`` from column c's ws."""
    out = np.repeat(ws_rows[:, None], len(ws_cols), axis=1).copy()
    out[:, :, start:stop] = ws_cols[None, :, start:stop]
    return out


def layer_range(name: str, rng: list, num_ws: int, network: str) -> tuple[int, int]:
    """``[start, stop)`` of mix range ``name`` clipped to ``num_ws``; ValueError naming the key
    for a network without W+ or a range that is empty after clipping."""
    if num_ws < 2:
        raise ValueError(
            f"paths.mix: style mixing needs W+ (one style row per layer); {network} is Z-only "
            f"(num_ws = {num_ws}, e.g. a DCGAN); use a StyleGAN network"
        )
    start, stop = int(rng[0]), num_ws if rng[1] is None else min(int(rng[1]), num_ws)
    if start >= stop:
        raise ValueError(
            f"paths.mix.ranges.{name}: {rng} is empty for {network} (num_ws = {num_ws}); "
            f"allowed: 0 <= start < {num_ws}"
        )
    return start, stop


def stage_mix(
    info_json: str | Path, p: dict, name: str, out_png: str | Path, device: str = "cpu"
) -> np.ndarray:
    """One style-mixing grid (rows x cols seeds) for layer range ``name``; returns the mixed
    images ``[R, C, H, W, 3]``. p: ``rows``, ``cols``, ``ranges``, ``psi``, ``batch_size``,
    ``noise_mode``."""
    from ganatlas.points import seed_z

    info, g, net = load_network_job(info_json, device)
    start, stop = layer_range(name, p["ranges"][name], net.num_ws, info.get("name", "network"))
    z = {s: seed_z(s, net.z_dim) for s in {*p["rows"], *p["cols"]}}
    wr = to_ws(g, np.stack([z[s] for s in p["rows"]]), "z", p["psi"], device)
    wc = to_ws(g, np.stack([z[s] for s in p["cols"]]), "z", p["psi"], device)
    mixed = mix_ws(wr, wc, start, stop)
    r, c = mixed.shape[:2]
    log(f"mix {name}: layers [{start}, {stop}) of {net.num_ws}, {r} x {c} grid")
    imgs = render(g, np.concatenate([wr, wc, mixed.reshape((r * c,) + mixed.shape[2:])]),
                  device, p["batch_size"], p["noise_mode"])  # fmt: skip
    cells = imgs[r + c :].reshape((r, c) + imgs.shape[1:])
    labels = {
        "rows": [str(s) for s in p["rows"]], "cols": [str(s) for s in p["cols"]],
        "range": f"[{start}, {stop})", "title": f"style mixing: {name} (psi {p['psi']:g})",
    }  # fmt: skip
    figures.mix_grid(imgs[:r], imgs[r : r + c], cells, labels, out_png)
    return cells


def stage_report(p: dict, info_json: str | Path, paths_dir: str | Path, out_md: str | Path) -> str:
    """report.md from the outputs of the sections ``p["report"]["sections"]``."""
    from ganatlas.studies.paths.report import build_report

    text = build_report(p, json.loads(Path(info_json).read_text()), Path(paths_dir))
    write_text_atomic(out_md, text)
    return text


def read_frames(path: str | Path) -> pd.DataFrame:
    """A path's frames table."""
    return pd.read_parquet(path)

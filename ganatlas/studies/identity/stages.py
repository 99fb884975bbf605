"""What the workflow scripts call: one function per rule of rules/identity.smk.

Layout under ``{outdir}/identity``: ``targets/{target}.npz`` (+ ``.png``);
``search/{target}/{method}.json`` (result), ``{method}.npz`` (best latent, NVIDIA's projected_w
layout ``w: [1, num_ws, w_dim]``), ``{method}.record.jsonl`` (every evaluation; append-only,
not a Snakemake output, so a killed job resumes from it); ``search/{target}/slice.npz``;
``figures/{convergence,gallery,slice}_{target}.png``; ``search.csv`` and ``search.md``;
``iterate/`` (keyfaces.npz, keyfaces.csv, recurrence.json, keyfaces.png, distances.png,
iterate.mp4).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from ganatlas.atomic import save_npz_atomic, write_text_atomic
from ganatlas.networks.base import broadcast_w
from ganatlas.studies.identity.embed import (
    IdentityEmbedder,
    build_embedder,
    embed_photo,
    embed_rgb,
)
from ganatlas.studies.identity.objective import (
    WPCASubspace,
    ZSubspace,
    make_grad_objective,
    make_objective,
    pca_subspace,
    render_rgb,
)


def _log(msg: str) -> None:
    from ganatlas.render import stderr_log

    stderr_log(msg)


def _load(info_json: str | Path, device: str) -> tuple[dict, torch.nn.Module]:
    from ganatlas.networks.resolve import load_from_info, read_info

    info = read_info(info_json)
    return info, load_from_info(info, device=device)


def point_latent(g: torch.nn.Module, name: str, value, prefix: str, device: str = "cpu"):
    """``(latent, ws [1, num_ws, w_dim])`` of a latent point (ganatlas.points syntax): the
    latent is the point's array (z ``[z_dim]``, w ``[w_dim]`` or w+ ``[num_ws, w_dim]``)."""
    from ganatlas.points import network_of, parse_points, resolve_points

    spec = parse_points({name: value}, prefix)[name]
    arr = resolve_points({name: spec}, network_of(g, device=device), prefix=prefix)[name]
    lat = torch.as_tensor(arr, dtype=torch.float32, device=device)[None]
    if spec.space == "z":
        c = torch.zeros(1, g.c_dim, device=device)
        ws = g.mapping(lat, c, truncation_psi=1.0 if spec.psi is None else spec.psi)
    else:
        ws = broadcast_w(lat, g.num_ws)
    return np.asarray(arr, np.float64), ws


def render_z(g: torch.nn.Module, z: np.ndarray, device: str, noise_mode: str) -> np.ndarray:
    return render_rgb(g, ZSubspace([], g.z_dim).ws(g, z, device), noise_mode)


def make_embedder(p: dict, log=_log) -> IdentityEmbedder:
    """The embedder of resolved settings ``p`` (keys embedder, det_size, photo_det_size,
    require_face)."""
    return build_embedder(p["embedder"], p["det_size"], p["photo_det_size"], log, p["require_face"])


def stage_target(
    info_json: str | Path, p: dict, out_npz: str | Path, out_png: str | Path, device: str = "cpu"
) -> dict:
    """Embed one target into ``out_npz`` (``embedding: [D]``, ``threshold``) and its image into
    ``out_png``.

    p: resolved settings with keys embedder, det_size, photo_det_size, require_face, detector,
    noise_mode and
    target ({kind: photo | seed, value}).
    """
    from PIL import Image

    from ganatlas.faces.backends import make_backend, resolve_detector
    from ganatlas.networks.resolve import read_info

    t = p["target"]
    emb = make_embedder(p)
    if t["kind"] == "photo":
        det = resolve_detector({**p["detector"], "det_size": p["photo_det_size"]},
                               read_info(info_json))  # fmt: skip
        vec, rgb, _ = embed_photo(t["value"], emb, make_backend(det), _log)
    else:
        _, g = _load(info_json, device)
        _, ws = point_latent(g, "target", t["value"], "identity.targets", device)
        rgb = render_rgb(g, ws, p["noise_mode"])
        vec, n = embed_rgb(rgb, emb)
        if vec is None:
            raise ValueError(f"identity target {t['value']!r}: the generated face has no face "
                             f"the {emb.name} embedder finds; choose another point")  # fmt: skip
    Path(out_png).parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rgb).save(out_png)
    save_npz_atomic(out_npz, embedding=np.asarray(vec, np.float64), threshold=emb.threshold,
                    embedder=emb.name)  # fmt: skip
    _log(f"target {t['kind']} {t['value']}: {emb.name} embedding of {len(vec)} values")
    return {"dim": len(vec), "threshold": emb.threshold}


def _subspace(g, method: str, s: dict, device: str) -> ZSubspace | WPCASubspace:
    if method == "dual_annealing":
        da = s["dual_annealing"]
        dims = da["dims"] if da["dims"] is not None else list(range(da["k"]))
        if max(dims) >= g.z_dim:
            raise ValueError(
                f"identity.search.dual_annealing.dims {dims} reach past z_dim {g.z_dim}"
            )
        return ZSubspace(list(dims), g.z_dim)
    c = s["cma"]
    sub = pca_subspace(g, c["dim"], c["pca_samples"], c["pca_seed"], device)
    if c.get("start") is not None:
        _, ws = point_latent(g, "start", c["start"], "identity.search.cma", device)
        sub.mean = ws[0, 0].double().cpu().numpy()
    return sub


def record_header(p: dict, method: str, target_vec: np.ndarray, info: dict) -> dict:
    """What fixes a search's sequence of proposals (budget and threshold do not: a resumed search
    may raise the one and lower the other)."""
    s = p["search"]
    part = {"dual_annealing": s["dual_annealing"], "cma": s["cma"]}.get(method, {})
    if method == "gradient":
        part = {"lr": s["gradient"]["lr"], "cma": s["cma"]}
    digest = hashlib.sha256(np.asarray(target_vec, np.float64).tobytes()).hexdigest()[:16]
    return {
        "method": method, "seed": s["seed"], "settings": part, "embedder": p["embedder"],
        "no_face_distance": p["no_face_distance"], "noise_mode": p["noise_mode"],
        "target": digest, "network": info.get("sha256") or info.get("spec"),
    }  # fmt: skip


def stage_search(
    info_json: str | Path,
    p: dict,
    method: str,
    target_npz: str | Path,
    record_path: str | Path,
    out_json: str | Path,
    out_npz: str | Path,
    device: str = "cpu",
) -> dict:
    """Run (or resume) one search; write its result JSON and best latent (projected_w layout).

    p: resolved settings with keys search, embedder, det_size, photo_det_size, require_face,
    no_face_distance, noise_mode.
    """
    from ganatlas.studies.identity.record import Evaluator, Record
    from ganatlas.studies.identity.search import cma_search, dual_annealing_search, gradient_search

    s = p["search"]
    info, g = _load(info_json, device)
    tgt = np.load(target_npz)
    vec = tgt["embedding"]
    emb = make_embedder(p)
    thr = emb.threshold
    result: dict[str, Any] = {"method": method, "threshold": thr, "embedder": emb.name,
                              "budget": s["budget"]}  # fmt: skip
    if method == "gradient" and emb.torch_module is None:
        result.update(status="skipped", reason=emb.skip_reason)
        _log(f"gradient search skipped: {emb.skip_reason}")
        save_npz_atomic(out_npz, w=np.zeros((0, g.num_ws, g.w_dim), np.float32))
        write_text_atomic(out_json, json.dumps(result, indent=2) + "\n")
        return result
    sub = _subspace(g, method, s, device)
    if method == "gradient":
        objective = make_grad_objective(g, sub, emb.torch_module, vec, emb.kind, device,
                                        p["noise_mode"])  # fmt: skip
    else:
        objective = make_objective(
            g, sub, lambda rgb: embed_rgb(rgb, emb), vec, emb.distance,
            p["no_face_distance"], device, p["noise_mode"],
        )  # fmt: skip
    header = record_header(p, method, vec, info)
    with Record(record_path, header) as rec:
        ev = Evaluator(objective, rec, s["budget"], thr, _log)
        if rec.rows:
            _log(f"resuming {method} from {len(rec.rows)} recorded evaluations")
        k = len(sub.dims) if isinstance(sub, ZSubspace) else len(sub.std)
        if method == "dual_annealing":
            res = dual_annealing_search(ev, k, tuple(s["dual_annealing"]["bounds"]), s["seed"])
        elif method == "cma":
            c = s["cma"]
            res = cma_search(ev, k, c["sigma0"], c["restarts"], c["popsize"], s["seed"], c["bound"])
        else:
            res = gradient_search(ev, k, s["gradient"]["lr"])
        rows = rec.rows
    best = min(rows, key=lambda r: r["distance"])
    hit = next((r["i"] + 1 for r in rows if r["distance"] < thr), None)
    ws = sub.ws(g, np.asarray(best["latent"]), device).float().cpu().numpy()
    save_npz_atomic(out_npz, w=ws)
    result.update(
        status="done", reason=res.reason, evaluations=len(rows), replayed=ev.replayed,
        best_distance=best["distance"], best_evaluation=best["i"] + 1,
        success=best["distance"] < thr, evaluations_to_threshold=hit,
        seconds=rows[-1]["elapsed"], space=sub.space, best_x=list(best["x"]),
        no_face=sum(r["extra"].get("faces", 1) == 0 for r in rows),
    )  # fmt: skip
    _log(f"{method}: {result['reason']} after {len(rows)} evaluations, best distance "
         f"{best['distance']:.4f} (threshold {thr})")  # fmt: skip
    write_text_atomic(out_json, json.dumps(result, indent=2) + "\n")
    return result


def _records(paths: list[str | Path]) -> dict[str, list[dict]]:
    from ganatlas.studies.identity.record import read_record

    out = {}
    for path in paths:
        header, rows = read_record(path)
        if header is not None:
            out[header["method"]] = rows
    return out


def stage_target_figures(
    info_json: str | Path,
    p: dict,
    target_npz: str | Path,
    target_png: str | Path,
    result_jsons: list[str | Path],
    record_paths: list[str | Path],
    out_slice: str | Path,
    figures: dict[str, str | Path],
    target: str,
    device: str = "cpu",
) -> None:
    """Convergence curves, best-so-far gallery and the hill-climbing slice of one target.

    p: resolved settings with keys search, embedder, det_size, photo_det_size, require_face,
    no_face_distance, noise_mode.
    """
    from PIL import Image

    from ganatlas.studies.identity.figures import convergence_figure, gallery_figure, slice_figure

    s = p["search"]
    info, g = _load(info_json, device)
    vec = np.load(target_npz)["embedding"]
    results = [json.loads(Path(j).read_text()) for j in result_jsons]
    thr = results[0]["threshold"]
    recs = _records([r for r in record_paths if Path(r).exists()])
    convergence_figure(recs, thr, figures["convergence"], target)
    emb = make_embedder(p, None)
    faces = {}
    for method, rows in recs.items():
        sub = _subspace(g, method, s, device) if rows else None
        faces[method] = [
            (r["i"] + 1, r["distance"], render_rgb(g, sub.ws(g, np.asarray(r["latent"]), device),
                                                   p["noise_mode"]))
            for r in improvements(rows, s["gallery"])
        ]  # fmt: skip
    gallery_figure(np.asarray(Image.open(target_png).convert("RGB")), faces, thr,
                   figures["gallery"], target)  # fmt: skip
    grid = hill_slice(g, p, recs, emb, vec, device)
    save_npz_atomic(out_slice, **grid)
    slice_figure(grid, thr, figures["slice"], target)


def improvements(rows: list[dict], n: int) -> list[dict]:
    """Up to ``n`` rows where the best-so-far distance improved, evenly picked, last included."""
    best, out = float("inf"), []
    for r in rows:
        if r["distance"] < best:
            best = r["distance"]
            out.append(r)
    if len(out) <= n:
        return out
    idx = np.unique(np.round(np.linspace(0, len(out) - 1, n)).astype(int))
    return [out[i] for i in idx]


def hill_slice(g, p: dict, recs: dict, emb: IdentityEmbedder, vec: np.ndarray, device: str) -> dict:
    """Distance over a ``resolution x resolution`` grid through the best point found: along two
    Z dimensions (``slice.axes``; through the best dual_annealing z) or, by default, the top two
    PCA directions of W (through the best w of any method)."""
    s = p["search"]
    sl = s["slice"]
    res, ext = sl["resolution"], sl["extent"]
    offs = np.linspace(-ext, ext, res)
    all_rows = [(m, r) for m, rows in recs.items() for r in rows]
    if not all_rows:
        raise ValueError("no search evaluated anything: no slice to draw")
    if sl["axes"] is not None and "dual_annealing" in recs and recs["dual_annealing"]:
        best = min(recs["dual_annealing"], key=lambda r: r["distance"])
        center = np.asarray(best["latent"])
        a, b = sl["axes"]
        if max(a, b) >= g.z_dim:
            raise ValueError(f"identity.search.slice.axes {sl['axes']} reach past z_dim {g.z_dim}")
        basis = np.zeros((2, g.z_dim))
        basis[0, a] = basis[1, b] = 1.0
        space, labels = "z", (f"z[{a}]", f"z[{b}]")
    else:
        m, best = min(all_rows, key=lambda mr: mr[1]["distance"])
        center = np.asarray(best["latent"])
        if m == "dual_annealing":
            center = ZSubspace([], g.z_dim).ws(g, center, device)[0, 0].double().cpu().numpy()
        pca = pca_subspace(g, 2, s["cma"]["pca_samples"], s["cma"]["pca_seed"], device)
        basis = pca.components * pca.std[:, None]  # the slice is centred on the best point
        space, labels = "w", ("PCA 1 of W (std)", "PCA 2 of W (std)")
    mapper = ZSubspace([], g.z_dim) if space == "z" else WPCASubspace(center, basis, np.ones(2))
    dist = np.zeros((res, res))
    nofaces = np.zeros((res, res), bool)
    for i, u in enumerate(offs):
        for j, v in enumerate(offs):
            lat = center + u * basis[0] + v * basis[1]
            v_, n = embed_rgb(render_rgb(g, mapper.ws(g, lat, device), p["noise_mode"]), emb)
            nofaces[j, i] = v_ is None
            dist[j, i] = p["no_face_distance"] if v_ is None else emb.distance(v_, vec)
    _log(f"slice: {res}x{res} faces through the best point ({space})")
    return {"offsets": offs, "distance": dist, "no_face": nofaces, "center": center,
            "basis": basis, "space": np.array(space), "labels": np.array(labels)}  # fmt: skip


def stage_search_summary(result_jsons: dict[str, list[str]], out_csv: str | Path,
                         out_md: str | Path) -> pd.DataFrame:  # fmt: skip
    """The table across targets and methods (``{target: [result json per method]}``) and the
    markdown summary."""
    rows = []
    for target, paths in result_jsons.items():
        for path in paths:
            r = json.loads(Path(path).read_text())
            rows.append({
                "target": target, "method": r["method"], "status": r["status"],
                "reason": r.get("reason"), "best_distance": r.get("best_distance"),
                "threshold": r["threshold"], "success": r.get("success", False),
                "evaluations": r.get("evaluations", 0),
                "evaluations_to_threshold": r.get("evaluations_to_threshold"),
                "seconds": r.get("seconds"), "no_face": r.get("no_face"),
            })  # fmt: skip
    cols = ["target", "method", "status", "reason", "best_distance", "threshold", "success",
            "evaluations", "evaluations_to_threshold", "seconds", "no_face"]  # fmt: skip
    df = pd.DataFrame(rows, columns=cols)
    write_text_atomic(out_csv, df.to_csv(index=False))
    from ganatlas.studies.identity.report import search_report

    write_text_atomic(out_md, search_report(df))
    return df


def build_map(kind: str, g, p: dict, emb: IdentityEmbedder, dim: int, device: str):
    """The embedding -> z map of ``iterate.map`` (``lstsq`` fits on seeded sampled faces)."""
    from ganatlas.latent import sample_z
    from ganatlas.studies.identity.iterate import (
        fit_lstsq_map,
        normalise_map,
        random_projection_map,
    )

    it = p["iterate"]
    norm = float(np.sqrt(g.z_dim))  # the expected norm of standard normal z
    if kind == "normalise":
        return normalise_map(g.z_dim, norm)
    if kind == "random_projection":
        return random_projection_map(g.z_dim, dim, norm, it["map_seed"])
    zs = sample_z(it["lstsq_samples"], g.z_dim, it["map_seed"]).double().numpy()
    pairs = [(z, embed_rgb(render_z(g, z, device, p["noise_mode"]), emb)[0]) for z in zs]
    pairs = [(z, e) for z, e in pairs if e is not None]
    _log(f"lstsq map: {len(pairs)} of {len(zs)} sampled faces have a face")
    if len(pairs) < 2:
        raise ValueError("identity.iterate.lstsq_samples: fewer than 2 sampled faces had a face")
    _, f = fit_lstsq_map(np.stack([z for z, _ in pairs]), np.stack([e for _, e in pairs]))
    return f


def stage_iterate(info_json: str | Path, p: dict, out: dict[str, str | Path],
                  device: str = "cpu") -> dict:  # fmt: skip
    """Keyfaces from the start face through the embedding -> latent map; recurrence, tables,
    figures and the interpolated video.

    p: resolved settings with keys iterate, embedder, det_size, photo_det_size, require_face,
    noise_mode.
    """
    from ganatlas.interpolation import trajectory
    from ganatlas.studies.identity.figures import distance_series_figure, keyface_gallery
    from ganatlas.studies.identity.iterate import find_recurrence, iterate_keyfaces
    from ganatlas.studies.identity.video import write_mp4

    it = p["iterate"]
    _, g = _load(info_json, device)
    emb = make_embedder(p)
    z0, _ = point_latent(g, "start", it["start"], "identity.iterate", device)
    e0 = embed_rgb(render_z(g, z0, device, p["noise_mode"]), emb)[0]
    if e0 is None:
        raise ValueError(f"identity.iterate.start {it['start']}: the start face has no face the "
                         f"{emb.name} embedder finds; choose another seed")  # fmt: skip
    fmap = build_map(it["map"], g, p, emb, len(e0), device)

    def face_emb(z):
        return embed_rgb(render_z(g, z, device, p["noise_mode"]), emb)[0]

    lat, embs = iterate_keyfaces(z0, it["keyfaces"], face_emb, fmap, _log)
    tol = it["tolerance"] if it["tolerance"] is not None else emb.threshold
    rec = find_recurrence(embs, emb.distance, tol, emb.threshold, it["fixed_steps"])
    d_prev = [None] + [
        None if a is None or b is None else emb.distance(a, b)
        for a, b in zip(embs[:-1], embs[1:], strict=True)
    ]
    d_start = [None if e is None else emb.distance(e, embs[0]) for e in embs]
    table = pd.DataFrame({"keyface": range(len(embs)), "face": [e is not None for e in embs],
                          "distance_to_previous": d_prev, "distance_to_start": d_start})  # fmt: skip
    write_text_atomic(out["csv"], table.to_csv(index=False))
    dim = len(e0)
    save_npz_atomic(
        out["npz"],
        z=lat.astype(np.float32),
        embeddings=np.stack([np.full(dim, np.nan) if e is None else e for e in embs]),
    )
    summary = {"kind": rec.kind, "first_return": rec.return_step, "period": rec.period,
               "tolerance": tol, "threshold": emb.threshold, "map": it["map"],
               "keyfaces": it["keyfaces"], "fixed_steps": it["fixed_steps"],
               "no_face": int(sum(e is None for e in embs))}  # fmt: skip
    write_text_atomic(out["json"], json.dumps(summary, indent=2) + "\n")
    imgs = [render_z(g, z, device, p["noise_mode"]) for z in lat]
    keyface_gallery(imgs, d_prev, d_start, rec, out["gallery"])
    distance_series_figure(table, emb.threshold, rec, out["distances"])
    frames, _ = trajectory(list(lat), it["frames"] + 2, "lerp")
    write_mp4(out["mp4"], (render_z(g, z, device, p["noise_mode"]) for z in frames), it["fps"])
    _log(f"iterate: {rec.kind} (first return {rec.return_step}, period {rec.period}); "
         f"{len(frames)} video frames")  # fmt: skip
    return summary

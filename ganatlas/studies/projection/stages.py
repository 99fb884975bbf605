"""What the workflow scripts call: one function per rule of rules/projection.smk.

Layout under ``{outdir}/projection``: one folder per item (a photo's file stem, or
``synthetic0000``... for generated faces) written atomically as a whole::

    {item}/metrics.json        the item's row (an ``error`` and nothing else when no face)
    {item}/target.png          what was projected (aligned photo, or the generated face)
    {item}/alignment.json      photo -> aligned transform, landmarks, detector (photos)
    {item}/projected_w.npz     w [1, num_ws, w_dim] (NVIDIA's layout), plus space, w_avg, sigma_w
    {item}/proj.png            the projection rendered from projected_w.npz (stored noise)
    {item}/compare.png         target | projection side by side
    {item}/losses.png, history.npz   loss terms, learning rate and w noise per step
    {item}/proj.mp4            the optimisation (projection.video)

then ``metrics.csv``, ``latents.csv`` (real vs synthetic), ``figures/*.png`` and ``report.md``.
"""

from __future__ import annotations

import json
import math
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch


def _log(msg: str) -> None:
    from ganatlas.render import stderr_log

    stderr_log(msg)


def read_rgb(path: str | Path) -> np.ndarray:
    """A photo as RGB uint8 ``[H, W, 3]`` (ganatlas's bounded image reader, BGR flipped)."""
    from ganatlas.faces.detect import read_bgr

    return np.ascontiguousarray(read_bgr(path)[:, :, ::-1])


def landmark_backend(prj: dict, info: dict, photo_side: int):
    """The face backend that finds the alignment landmarks (dlib's 68 points, or the detector's
    five), at the photo's own size up to ``align.max_side``."""
    det_size = int(min(max(photo_side, 64), prj["align"]["max_side"]))
    if prj["align"]["landmarks"] == "dlib":
        from ganatlas.faces.dlib_backend import DlibBackend

        return DlibBackend(det_size=det_size, det_thresh=prj["detector"]["det_thresh"])
    from ganatlas.faces.backends import make_backend, resolve_detector

    cfg = resolve_detector({**prj["detector"], "det_size": det_size // 32 * 32 or 64}, info)
    return make_backend(cfg)


def align_photo(path: str | Path, prj: dict, info: dict, size: int) -> tuple[np.ndarray, dict]:
    """``(aligned RGB [size, size, 3], alignment record)``; NoFaceError when no face is found."""
    from ganatlas.studies.projection.align import align_image, largest_face

    rgb = read_rgb(path)
    if not prj["align"]["enabled"]:
        import cv2

        h, w = rgb.shape[:2]
        s = min(h, w)
        crop = rgb[(h - s) // 2 : (h - s) // 2 + s, (w - s) // 2 : (w - s) // 2 + s]
        interp = cv2.INTER_AREA if s > size else cv2.INTER_CUBIC
        return cv2.resize(crop, (size, size), interpolation=interp), {"aligned": False}
    backend = landmark_backend(prj, info, max(rgb.shape[:2]))
    faces = backend.analyze(np.ascontiguousarray(rgb[:, :, ::-1]))
    face = largest_face(faces)
    out, al = align_image(rgb, face.kps, size)
    rec = {"aligned": True, "backend": backend.name, "models": backend.model_names,
           "faces": len(faces), "face_score": float(face.score), "bbox": face.bbox.tolist(),
           "photo_size": list(rgb.shape[:2]), **al.as_dict()}  # fmt: skip
    return out, rec


def to_tensor(rgb: np.ndarray, device: str | torch.device) -> torch.Tensor:
    """uint8 ``[H, W, 3]`` -> ``[1, 3, H, W]`` float in [-1, 1]."""
    t = torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1)[None].float()
    return (t / 127.5 - 1).to(device)


def to_rgb(img: torch.Tensor) -> np.ndarray:
    """``[1, 3, H, W]`` in [-1, 1] -> uint8 ``[H, W, 3]`` (NVIDIA's rounding)."""
    from ganatlas.networks.base import to_uint8

    return to_uint8(img.detach().float().cpu())[0].numpy()


def face_scores(backend, rgb: np.ndarray) -> dict[str, Any]:
    """Detector score (0.0 without a face) and face count of an RGB image."""
    from ganatlas.faces.types import best_face

    faces = backend.analyze(np.ascontiguousarray(rgb[:, :, ::-1]))
    f = best_face(faces)
    return {"detected": f is not None, "score": float(f.score) if f else 0.0, "faces": len(faces)}


def identity_row(embedder_cfg: dict, target: np.ndarray, proj: np.ndarray) -> dict[str, Any]:
    """Identity distance of two RGB images with the ``embedder:`` section's embedder (dlib
    offline; ArcFace, FaceNet or ONNX when configured): distance (None when either has no face),
    the embedder, its distance kind and threshold, and whether they pass as the same person."""
    from ganatlas.faces.embedders import embed, make_embedder, pairwise_distance

    emb = make_embedder(embedder_cfg)
    imgs = [np.ascontiguousarray(a[:, :, ::-1]) for a in (target, proj)]
    E, found = embed(emb, imgs)
    d = float(pairwise_distance(E, emb.distance)[0, 1]) if found.all() else None
    return {"identity_distance": d, "identity_embedder": emb.name,
            "identity_metric": emb.distance, "identity_threshold": float(emb.threshold),
            "same_person": None if d is None else bool(d < emb.threshold)}  # fmt: skip


def quality_row(target: np.ndarray, proj: np.ndarray, lpips_fn=None) -> dict[str, float | None]:
    """PSNR (dB), SSIM and LPIPS (None without the VGG16 file) of two RGB uint8 images."""
    from ganatlas.studies.projection.ssim import WIN_SIZE, psnr, ssim

    a, b = to_tensor(target, "cpu"), to_tensor(proj, "cpu")
    row: dict[str, float | None] = {"psnr": float(psnr(a, b)[0])}
    row["ssim"] = float(ssim(a, b)[0]) if min(target.shape[:2]) >= WIN_SIZE else None
    if lpips_fn is not None:
        from ganatlas.studies.projection.projector import to_compare

        with torch.no_grad():
            fa, fb = lpips_fn(to_compare(a, 256)), lpips_fn(to_compare(b, 256))
        row["lpips"] = float((fa - fb).square().sum())
    else:
        row["lpips"] = None
    return row


def latent_row(ws: np.ndarray, w_avg: np.ndarray) -> dict[str, float]:
    """Where a projected ``ws: [num_ws, w_dim]`` lies: mean distance of its rows to w_avg, norm of
    the mean row, and the per-layer spread (root mean squared distance of the rows to their mean;
    0 in W and Z)."""
    ws = np.asarray(ws, np.float64)
    mean = ws.mean(0)
    return {
        "dist_w_avg": float(np.linalg.norm(ws - w_avg, axis=1).mean()),
        "norm": float(np.linalg.norm(mean)),
        "layer_spread": float(np.sqrt(np.square(ws - mean).sum(1).mean())),
    }


def side_by_side(target: np.ndarray, proj: np.ndarray, path: Path) -> None:
    """target | projection as one PNG (labels in the caption of the report)."""
    from PIL import Image

    Image.fromarray(np.concatenate([target, proj], axis=1)).save(path)


def loss_figure(history: dict[str, np.ndarray], path: Path, title: str) -> None:
    """Loss terms (log scale) and the schedule (learning rate, noise on w) against the step."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax, ax2) = plt.subplots(2, 1, figsize=(7, 6), sharex=True,
                                  gridspec_kw={"height_ratios": [2, 1]})  # fmt: skip
    steps = np.arange(1, len(history["loss"]) + 1)
    for k, v in history.items():
        if k in ("lr", "w_noise") or not np.any(v > 0):
            continue
        ax.plot(steps, v, label=k)
    ax.set_yscale("log")
    ax.set_ylabel("loss term (unweighted; loss = weighted sum)")
    ax.legend(fontsize=8)
    ax.set_title(title)
    ax2.plot(steps, history["lr"], color="k", label="learning rate")
    ax2.set_ylabel("learning rate")
    ax3 = ax2.twinx()
    ax3.plot(steps, history["w_noise"], color="tab:red", label="noise on w (std)")
    ax3.set_ylabel("noise on w (std, W units)", color="tab:red")
    ax2.set_xlabel("step")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write_video(g, frames: np.ndarray, path: Path, device) -> None:
    """Render kept latents ``frames: [K, num_ws, w_dim]`` into an MP4 (imageio-ffmpeg)."""
    try:
        import imageio.v2 as imageio
        import imageio_ffmpeg  # noqa: F401
    except ImportError as exc:
        raise RuntimeError(
            "projection.video: true needs imageio and imageio-ffmpeg "
            "(pip install imageio imageio-ffmpeg), or set projection.video: false"
        ) from exc

    from ganatlas.render import synthesize

    imgs = synthesize(g, frames, device, batch_size=8)
    with imageio.get_writer(path, fps=10, codec="libx264", macro_block_size=1) as wr:
        for im in imgs:
            wr.append_data(im)


def _lpips(prj: dict, device):
    from ganatlas.studies.projection.losses import load_vgg16, vgg16_path

    path = vgg16_path(prj["vgg16"])
    if path is None:
        if prj["vgg16"]:
            _log(f"LPIPS skipped: {prj['vgg16']} is not a local file nor in the download cache "
                 "(see docs/projection.md to fetch NVIDIA's vgg16.pt)")  # fmt: skip
        return None
    _log(f"LPIPS: NVIDIA's VGG16 from {path}")
    return load_vgg16(path, device)


def synthetic_target(g, prj: dict, index: int, device) -> tuple[np.ndarray, np.ndarray]:
    """Generated face ``index``: z from seed ``synthetic_seed + index`` -> (RGB, ws [num_ws, w_dim])."""
    from ganatlas.render import synthesize

    z = torch.randn(
        1, g.z_dim, generator=torch.Generator().manual_seed(prj["synthetic_seed"] + index)
    )
    with torch.no_grad():
        ws = g.mapping(z.to(device), torch.zeros(1, g.c_dim, device=device)).float().cpu().numpy()
    return synthesize(g, ws, device)[0], ws[0]


def stage_project(
    info_json: str | Path,
    prj: dict,
    item: str,
    photo: str | None,
    out_dir: str | Path,
    device: str = "cpu",
    threads: int | None = None,
) -> dict:
    """Align (photos) and project one item into ``out_dir`` (a folder, written atomically).

    prj: resolved settings (:data:`~ganatlas.studies.projection.settings.PROJECT_KEYS`); photo:
    the photo's path, None for a generated face (``item`` = synthetic{k}). Returns the metrics row.
    """
    from ganatlas.atomic import remove_stale_temporaries, temporary_name
    from ganatlas.faces.backends import make_backend, onnx_providers, resolve_detector
    from ganatlas.networks.resolve import load_from_info, read_info
    from ganatlas.studies.projection.align import NoFaceError
    from ganatlas.studies.projection.projector import is_z_only, project
    from ganatlas.studies.projection.settings import SYNTH_PREFIX, projector_settings

    info = read_info(info_json)
    out_dir = Path(out_dir)
    remove_stale_temporaries(out_dir)
    tmp = temporary_name(out_dir)
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    g = load_from_info(info, device=device)
    res = int(g.img_resolution)
    row: dict[str, Any] = {"item": item, "kind": "real" if photo else "synthetic",
                           "photo": photo, "network": info.get("name"), "error": None}  # fmt: skip
    true_ws = None
    try:
        if photo is not None:
            target, rec = align_photo(photo, prj, info, res)
            (tmp / "alignment.json").write_text(json.dumps(rec, indent=1) + "\n")
        else:
            target, true_ws = synthetic_target(g, prj, int(item[len(SYNTH_PREFIX) :]), device)
    except NoFaceError as exc:
        row["error"] = f"no face: {exc} in {photo}"
    except (OSError, ValueError) as exc:
        row["error"] = f"{type(exc).__name__}: {exc}"
    if row["error"] is None:
        from PIL import Image

        Image.fromarray(target).save(tmp / "target.png")
        keep = prj["video_every"] if prj["video"] else 0
        cfg = projector_settings(prj, keep_every=keep)
        lpips_fn = _lpips(prj, device) if prj["losses"]["lpips"] > 0 else None
        space = "z" if is_z_only(g) else prj["space"]
        _log(
            f"projecting {item} ({row['kind']}) in {space}: {cfg.steps} steps, losses {cfg.weights}"
        )
        if lpips_fn is None and not any(v > 0 for k, v in cfg.weights.items() if k != "lpips"):
            raise ValueError("projection.losses: only lpips has a weight but its VGG16 file is "
                             "absent; give l2, l1 or ms_ssim a weight")  # fmt: skip
        from ganatlas.studies.projection.identity import build_identity

        identity_fn = build_identity(prj["identity"], device)
        p = project(g, to_tensor(target, device), cfg, lpips=lpips_fn, identity=identity_fn,
                    log=_log)  # fmt: skip
        ws = p.ws.cpu().numpy()
        proj = to_rgb(p.image)
        np.savez(tmp / "projected_w.npz", w=ws.astype(np.float32), space=p.space,
                 w_avg=p.w_avg, sigma_w=p.sigma_w)  # fmt: skip
        np.savez(tmp / "history.npz", **p.history)
        Image.fromarray(proj).save(tmp / "proj.png")
        side_by_side(target, proj, tmp / "compare.png")
        loss_figure(p.history, tmp / "losses.png", f"{item}: projection in {p.space}")
        if prj["video"]:
            write_video(g, p.frames, tmp / "proj.mp4", device)
        row.update(quality_row(target, proj, lpips_fn))
        row.update(latent_row(ws[0], p.w_avg))
        row.update({"space": p.space, "steps": cfg.steps, "final_loss": float(p.history["loss"][-1]),
                    "seconds": p.seconds, "sigma_w": p.sigma_w})  # fmt: skip
        if true_ws is not None:
            row["dist_true_w"] = float(np.linalg.norm(ws[0] - true_ws, axis=1).mean())
        det = resolve_detector(prj["detector"], info)
        backend = make_backend(det, onnx_providers(det["providers"], device), threads)
        ft, fp = face_scores(backend, target), face_scores(backend, proj)
        row.update({"detector": backend.name, "target_score": ft["score"], "proj_score": fp["score"],
                    "proj_detected": fp["detected"]})  # fmt: skip
        row.update(identity_row(prj["embedder"], target, proj))
    (tmp / "metrics.json").write_text(json.dumps(row, indent=1, default=_jsonable) + "\n")
    if row["error"]:
        _log(f"{item}: {row['error']} (error row written)")
    if out_dir.exists():
        shutil.rmtree(out_dir)
    os.replace(tmp, out_dir)
    return row


def _jsonable(v: Any) -> Any:
    if isinstance(v, (np.floating, np.integer, np.bool_)):
        return v.item()
    raise TypeError(f"not JSON serialisable: {type(v)}")


def mean_ci(values: np.ndarray) -> tuple[float, float, float]:
    """Mean and normal-approximation 95 % interval (nan interval for fewer than 2 values)."""
    v = np.asarray(values, np.float64)
    v = v[np.isfinite(v)]
    if len(v) == 0:
        return math.nan, math.nan, math.nan
    m = float(v.mean())
    if len(v) < 2:
        return m, math.nan, math.nan
    h = 1.96 * float(v.std(ddof=1)) / math.sqrt(len(v))
    return m, m - h, m + h


METRIC_COLUMNS = ("psnr", "ssim", "lpips", "identity_distance", "proj_score", "target_score")
LATENT_COLUMNS = ("dist_w_avg", "norm", "layer_spread", "proj_score")


def stage_summary(
    item_dirs: list[str | Path],
    prj: dict,
    metrics_csv: str | Path,
    latents_csv: str | Path,
    figure: str | Path,
    report_md: str | Path,
) -> Any:
    """Merge the items' rows, compare real and synthetic latents, write the figure and report.

    latents.csv: per kind (real, synthetic) and quantity (distance to w_avg, norm, per-layer
    spread, detector score of the projection): n, mean and its 95 % interval.
    """
    import pandas as pd

    from ganatlas.atomic import write_text_atomic

    rows = [json.loads((Path(d) / "metrics.json").read_text()) for d in item_dirs]
    df = pd.DataFrame(rows)
    for col in ("error", *METRIC_COLUMNS, *LATENT_COLUMNS, "space"):
        if col not in df:
            df[col] = None
    ok = df[df["error"].isna()]
    lat = []
    for kind in ("real", "synthetic"):
        sub = ok[ok["kind"] == kind]
        for q in LATENT_COLUMNS:
            m, lo, hi = mean_ci(pd.to_numeric(sub[q], errors="coerce").to_numpy(float))
            lat.append({"kind": kind, "quantity": q, "n": int(len(sub)), "mean": m,
                        "ci_low": lo, "ci_high": hi})  # fmt: skip
    lat_df = pd.DataFrame(lat)
    Path(metrics_csv).parent.mkdir(parents=True, exist_ok=True)
    with_tmp_csv(df, metrics_csv)
    with_tmp_csv(lat_df, latents_csv)
    latents_figure(ok, figure)
    write_text_atomic(report_md, report_text(df, lat_df, prj))
    return df


def with_tmp_csv(df: Any, path: str | Path) -> None:
    """``df.to_csv(path)`` atomically."""
    from ganatlas.atomic import atomic_path

    with atomic_path(path) as tmp:
        df.to_csv(tmp, index=False)


def latents_figure(ok: Any, path: str | Path) -> None:
    """Real vs synthetic projections: one panel per latent quantity, every item as a dot, the
    mean with its 95 % interval, n per group in the tick labels."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    labels = {"dist_w_avg": "mean distance of ws rows to w_avg (W units)",
              "norm": "norm of the mean w (W units)",
              "layer_spread": "per-layer spread in W+ (RMS, W units)",
              "proj_score": "detector score of the projection (0 = no face)"}  # fmt: skip
    fig, axes = plt.subplots(1, len(labels), figsize=(4 * len(labels), 4))
    colours = {"real": "tab:blue", "synthetic": "tab:orange"}
    for ax, (q, lab) in zip(axes, labels.items(), strict=True):
        ticks = []
        for i, kind in enumerate(("real", "synthetic")):
            v = (
                pd.to_numeric(ok.loc[ok["kind"] == kind, q], errors="coerce")
                .dropna()
                .to_numpy(float)
            )
            ticks.append(f"{kind}\n(n = {len(v)})")
            if len(v):
                jitter = np.linspace(-0.12, 0.12, len(v)) if len(v) > 1 else np.zeros(1)
                ax.scatter(i + jitter, v, color=colours[kind], alpha=0.6, s=18)
                m, lo, hi = mean_ci(v)
                if np.isfinite(lo):
                    ax.errorbar(
                        i + 0.3, m, yerr=[[m - lo], [hi - m]], fmt="o", color="k", capsize=4
                    )
                else:
                    ax.plot(i + 0.3, m, "o", color="k")
        ax.set_xticks([0, 1], ticks)
        ax.set_xlim(-0.5, 1.6)
        ax.set_ylabel(lab)
    fig.suptitle(
        "projected latents of real photos vs generated faces (dots: items; black: mean, 95 % CI)"
    )
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def report_text(df: Any, lat: Any, prj: dict) -> str:
    """The study's report.md: settings, per-item metrics, the real-vs-synthetic table."""
    errs = df[df["error"].notna()]
    ok = df[df["error"].isna()]
    cols = [c for c in ("item", "kind", "space", "psnr", "ssim", "lpips", "identity_distance",
                        "target_score", "proj_score", "dist_w_avg", "layer_spread", "dist_true_w")
            if c in ok]  # fmt: skip
    lines = [
        "# Projection of real photos and generated faces",
        "",
        f"{len(df)} items ({int((df['kind'] == 'real').sum())} photos, "
        f"{int((df['kind'] == 'synthetic').sum())} generated), {len(errs)} error rows. "
        f"Space {prj['space']} (a Z-only network is projected in Z), {prj['steps']} Adam steps, "
        f"lr {prj['lr']} (ramp-up {prj['lr_rampup']}, cosine ramp-down {prj['lr_rampdown']}), "
        f"noise on w {prj['noise_factor']} x sigma_w decaying over {prj['noise_ramp']}, noise "
        f"regularisation {prj['noise_reg']}, compared at {prj['compare_size']} px, loss weights "
        f"{prj['losses']}.",
        "",
        "## Per item",
        "",
        ok[cols].to_markdown(index=False, floatfmt=".4g") if len(ok) else "(none)",
        "",
        "## Real vs synthetic latents (mean and 95 % interval)",
        "",
        lat.to_markdown(index=False, floatfmt=".4g"),
        "",
        "![latents](figures/latents_real_vs_synthetic.png)",
        "",
    ]
    if len(errs):
        lines += (
            ["## Error rows", ""] + [f"- {r.item}: {r.error}" for r in errs.itertuples()] + [""]
        )
    return "\n".join(lines)

"""What every paths job does with latents: resolve named points, turn latents of a space into
ws, render, score faces (detector + optional attribute scorers), embed identities.

Scores: ``det_score`` is the detector's confidence of the best face (NaN when none), ``detected``
whether there was one, and ``score`` the source's convention, ``det_score`` with 0.0 for no
face (kept for tables; figures show "no face" in its own colour, never as a low score).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from ganatlas.points import Network, network_of, parse_points, resolve_points
from ganatlas.render import stderr_log, synthesize


def log(msg: str) -> None:
    """A progress line in the job's log."""
    stderr_log(msg)


def load_network_job(info_json: str | Path, device: str) -> tuple[dict, Any, Network]:
    """(network.json dict, generator on ``device``, its :class:`~ganatlas.points.Network`)."""
    from ganatlas.networks.resolve import load_from_info, read_info

    info = read_info(info_json)
    g = load_from_info(info, device=device)
    return info, g, network_of(g, info.get("name") or "network", device)


def resolve_named(
    points: dict, net: Network, sem_dir: str | Path, prefix: str = "paths.points"
) -> dict[str, np.ndarray]:
    """Resolve the point definitions ``points`` (boundaries read from ``sem_dir``)."""
    specs = parse_points(points, prefix)
    sem_dir = Path(sem_dir)
    return resolve_points(specs, net, lambda s, a: sem_dir / "boundaries" / s / f"{a}.npy", ".")


def point_space(points: dict, name: str) -> tuple[str, float | None]:
    """(space, psi) of the point ``name`` in the definitions ``points``."""
    spec = parse_points(points, "paths.points")[name]
    return spec.space, spec.psi


@torch.no_grad()
def to_ws(g: Any, lat: np.ndarray, space: str, psi: float | None, device: str) -> np.ndarray:
    """Latents of ``space`` -> ``ws [N, num_ws, w_dim]`` float32.

    lat: z ``[N, z_dim]`` (mapped, truncation ``psi``), w ``[N, w_dim]`` (repeated over the
    layers) or w+ ``[N, num_ws, w_dim]``.
    """
    lat = np.asarray(lat, np.float32)
    if space == "z":
        z = torch.as_tensor(lat, device=device)
        c = torch.zeros(len(z), g.c_dim, device=device) if g.c_dim else None
        ws = g.mapping(z, c, truncation_psi=1.0 if psi is None else float(psi))
        return ws.float().cpu().numpy()
    if space == "w":
        return np.repeat(lat[:, None], g.num_ws, axis=1)
    return lat


def render(g: Any, ws: np.ndarray, device: str, batch_size: int, noise_mode: str) -> np.ndarray:
    """``ws [N, num_ws, w_dim]`` -> uint8 RGB ``[N, H, W, 3]``, with a progress line."""
    out = synthesize(g, ws, device, batch_size, noise_mode)
    log(f"rendered {len(out)} images")
    return out


def save_pngs_atomic(images: np.ndarray, names: Sequence[str], out_dir: str | Path) -> None:
    """Write ``images [N, H, W, 3]`` RGB as ``out_dir/names[i]``; the folder appears whole."""
    from PIL import Image

    from ganatlas.atomic import remove_stale_temporaries, temporary_name

    out_dir = Path(out_dir)
    remove_stale_temporaries(out_dir)
    tmp = temporary_name(out_dir)
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for img, name in zip(images, names, strict=True):
        Image.fromarray(img).save(tmp / name)
    if out_dir.exists():
        shutil.rmtree(out_dir)
    os.replace(tmp, out_dir)


def make_scoring(det_cfg: dict, scorer_cfgs: list, info: dict, device: str) -> tuple[Any, list]:
    """(face backend or None for ``backend: none``, attribute scorers) of a job."""
    from ganatlas.faces.backends import make_backend, onnx_providers, resolve_detector

    if det_cfg.get("backend") == "none":
        if scorer_cfgs:
            raise ValueError("paths.planes.scorers need a face detector: paths.detector.backend")
        return None, []
    det = resolve_detector(det_cfg, info)
    providers = onnx_providers(det["providers"], device)
    backend = make_backend(det, providers=providers)
    scorers: list = []
    if scorer_cfgs:
        from ganatlas.attributes.registry import build_scorers

        scorers = list(build_scorers(scorer_cfgs, providers=providers))
    return backend, scorers


def score(images_rgb: np.ndarray, backend: Any, scorers: list) -> pd.DataFrame:
    """One row per image: detected, det_score (NaN no face), score (0.0 no face), bbox, scorers."""
    n = len(images_rgb)
    if backend is None:
        df = pd.DataFrame({"detected": np.zeros(n, bool), "det_score": np.full(n, np.nan)})
        df["bbox"] = [None] * n
    else:
        from ganatlas.attributes.base import score_images

        bgr = [np.ascontiguousarray(img[:, :, ::-1]) for img in images_rgb]
        df = score_images(bgr, backend, scorers).reset_index(drop=True)
    df.insert(2, "score", df["det_score"].fillna(0.0))
    log(f"scored {n} images: {int(df['detected'].sum())} with a face")
    return df


def embed_frames(images_rgb: np.ndarray, boxes: Sequence[Any], emb_cfg: dict, device: str):
    """(embedder, E [N, D], found [N]) of the frames with the configured identity embedder."""
    from ganatlas.faces.backends import onnx_providers
    from ganatlas.faces.embedders import embed, make_embedder

    cfg = {k: v for k, v in emb_cfg.items() if v is not None}
    cfg["providers"] = onnx_providers("auto", device)
    embedder = make_embedder(cfg)
    bgr = [np.ascontiguousarray(img[:, :, ::-1]) for img in images_rgb]
    boxes = [None if b is None else np.asarray(b, np.float32) for b in boxes]
    E, found = embed(embedder, bgr, boxes)
    log(f"embedded {int(found.sum())}/{len(found)} faces with {embedder.name}")
    return embedder, E, found

"""Editing along boundaries (Z, W and W+ layer ranges; additive or distance edits) and rescoring."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ganatlas.studies.semantics.sampling import map_ws, render_and_score
from ganatlas.studies.semantics.scoring import ScoringSetup


def _latent_file(f: str | Path) -> np.ndarray:
    """The latents stored in ``f``: a .npy array, or the ``z`` array of a .npz; arrays of Python
    objects are refused (reading them would run pickled code)."""
    try:
        data = np.load(f, allow_pickle=False)
    except ValueError as exc:
        raise ValueError(f"latent file {f}: not a numeric array ({exc})") from None
    return data["z"] if isinstance(data, np.lib.npyio.NpzFile) else data


def face_latents(z_dim: int, seeds: list[int], latent_files: list[str | Path]) -> np.ndarray:
    """``z: [F, z_dim]`` float32: one standard-normal z per seed, then every row of each file.

    A file is .npy ``[N, z_dim]`` / ``[z_dim]`` or .npz with key ``z``.
    """
    from ganatlas.latent import sample_z

    rows = [sample_z(1, z_dim, s).numpy()[0] for s in seeds]
    for f in latent_files:
        arr = _latent_file(f)
        arr = np.asarray(arr, np.float32).reshape(-1, arr.shape[-1])
        if arr.shape[1] != z_dim:
            raise ValueError(f"latent file {f}: rows have {arr.shape[1]} values, z_dim is {z_dim}")
        rows.extend(arr)
    return np.stack(rows).astype(np.float32)


def face_labels(seeds: list[int], latent_files: list[str | Path]) -> list[str]:
    """Row labels of :func:`face_latents`' faces: ``seed 3``, then ``file.npy[0]``, ..."""
    labels = [f"seed {s}" for s in seeds]
    for f in latent_files:
        arr = _latent_file(f)
        n = int(np.prod(arr.shape[:-1])) if arr.ndim > 1 else 1
        labels += [f"{Path(f).name}[{i}]" for i in range(n)]
    return labels


def _rows_normals(normal: np.ndarray, rows: int) -> np.ndarray:
    """``normal: [D]``, ``[1, D]`` or ``[rows, D]`` as ``[rows, D]`` float32."""
    n = np.asarray(normal, np.float32)
    n = n.reshape(1, -1) if n.ndim == 1 or n.shape[0] == 1 else n
    if n.shape[0] not in (1, rows):
        raise ValueError(f"a boundary of {n.shape[0]} rows cannot edit {rows} ws rows")
    return np.broadcast_to(n, (rows, n.shape[1]))


def move(latent: np.ndarray, normal: np.ndarray, alphas: np.ndarray, mode: str) -> np.ndarray:
    """Edited copies ``[F, A, ..., D]`` of ``latent: [F, ..., D]`` along ``normal`` (``[D]`` or one
    unit row per ``...`` row, broadcast), one per alpha ``[A]``.

    additive: ``latent + alpha * n``. distance: ``latent + (alpha - latent . n) * n``, so the edit
    lies at signed distance alpha from the plane through the origin with unit normal n
    (InterFaceGAN's ``linear_interpolate``; the SVM's intercept is not used, as there).
    """
    if mode not in ("additive", "distance"):
        raise ValueError(f"semantics.edit.mode must be additive or distance, got {mode!r}")
    lat = np.asarray(latent, np.float32)[:, None]  # [F, 1, ..., D]
    a = np.asarray(alphas, np.float32).reshape((1, -1) + (1,) * (lat.ndim - 3))  # [1, A, ...]
    step = a[..., None] if mode == "additive" else a[..., None] - np.sum(
        lat * normal, axis=-1, keepdims=True
    )  # fmt: skip
    return lat + step * normal


def edited_ws(
    g: torch.nn.Module,
    z: np.ndarray,
    normal: np.ndarray,
    alphas: list[float],
    space: str,
    wp_layers: list[int] | None = None,
    device: str = "cpu",
    mode: str = "additive",
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """``ws: [F * A, num_ws, w_dim]`` for faces ``z: [F, z_dim]`` edited along ``normal``.

    Order is face-major (face f, alpha a at row ``f * A + a``); see :func:`move` for ``mode``.
    space z: z edited, then mapped; w: the mapped w edited, every ws row alike; wp: only rows
    ``wp_layers[0]:wp_layers[1]``, each along its own row of ``normal`` when it has ``num_ws``
    rows (a W+ boundary). Also returns the edited z ``[F * A, z_dim]`` (space z, else None) and
    the projection of each edited latent on the normal ``[F * A]`` (mean over edited rows).
    """
    a = np.asarray(alphas, np.float32)
    f = len(z)
    if space == "z":
        n = np.asarray(normal, np.float32).reshape(-1)
        ze = move(z, n, a, mode).reshape(f * len(a), -1)
        return map_ws(g, ze, device), ze, ze @ n
    ws = map_ws(g, z, device)  # [F, num_ws, w_dim]
    if space == "w":
        lo, hi = 0, g.num_ws
        rows_n = _rows_normals(np.asarray(normal).reshape(1, -1), g.num_ws)
    elif space == "wp":
        lo, hi = wp_layers
        if hi > g.num_ws:
            raise ValueError(f"semantics.edit.wp_layers {wp_layers} exceed num_ws={g.num_ws}")
        rows_n = _rows_normals(normal, g.num_ws)
    else:
        raise ValueError(f"edit space must be z, w or wp, got {space!r}")
    out = np.repeat(ws[:, None], len(a), axis=1)  # [F, A, num_ws, w_dim]
    out[:, :, lo:hi] = move(ws[:, lo:hi], rows_n[lo:hi], a, mode)
    proj = np.sum(out[:, :, lo:hi] * rows_n[lo:hi], axis=-1).mean(axis=-1)  # [F, A]
    return out.reshape(f * len(a), g.num_ws, -1), None, proj.reshape(-1)


def start_distances(
    g: torch.nn.Module,
    z: np.ndarray,
    directions: dict[str, np.ndarray],
    space: str,
    wp_layers: list[int] | None = None,
    device: str = "cpu",
) -> pd.DataFrame:
    """``[F x directions]``: each face's projection on each unit normal (its signed distance from
    the plane through the origin, the quantity a distance edit sets), before any edit."""
    if space == "z":
        lat = np.asarray(z, np.float64)
        return pd.DataFrame({k: lat @ np.reshape(n, -1) for k, n in directions.items()})
    ws = map_ws(g, z, device).astype(np.float64)
    lo, hi = (0, g.num_ws) if space == "w" else wp_layers
    out = {}
    for k, n in directions.items():
        rows_n = _rows_normals(np.reshape(n, (-1, ws.shape[-1])), g.num_ws)[lo:hi]
        out[k] = np.sum(ws[:, lo:hi] * rows_n, axis=-1).mean(axis=-1)
    return pd.DataFrame(out)


def edit_and_score(
    g: torch.nn.Module,
    z: np.ndarray,
    boundaries: dict[str, np.ndarray],
    alphas: list[float],
    space: str,
    setup: ScoringSetup,
    wp_layers: list[int] | None = None,
    device: str = "cpu",
    batch_size: int = 32,
    noise_mode: str = "const",
    keep_images: int = 0,
    log: Callable[[str], object] | None = None,
    mode: str = "additive",
) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """Edit every face along every direction, render and rescore with all scorers.

    Returns (rows: space, edited, mode, face, alpha, distance (the edited latent's projection on
    the direction), ``start_<name>`` (the face's projection on every direction before the edit)
    + detected/det_score/scores; images per direction ``[min(F, keep_images), A, H, W, 3]``
    uint8 RGB for the grids).
    """
    from ganatlas.render import synthesize

    frames, grids = [], {}
    f, na = len(z), len(alphas)
    start = start_distances(g, z, boundaries, space, wp_layers, device)
    for attr, normal in boundaries.items():
        ws, ze, proj = edited_ws(g, z, normal, alphas, space, wp_layers, device, mode)
        df = render_and_score(g, ze, ws, setup, device, batch_size, noise_mode, log)
        for name in reversed(list(boundaries)):
            df.insert(0, f"start_{name}", np.repeat(start[name].to_numpy(float), na))
        df.insert(0, "distance", proj.astype(float))
        df.insert(0, "alpha", np.tile(np.asarray(alphas, float), f))
        df.insert(0, "face", np.repeat(np.arange(f), na))
        df.insert(0, "mode", mode)
        df.insert(0, "edited", attr)
        df.insert(0, "space", space)
        frames.append(df)
        if keep_images:
            nf = min(f, keep_images)
            imgs = synthesize(g, ws[: nf * na], device, batch_size, noise_mode)
            grids[attr] = imgs.reshape(nf, na, *imgs.shape[1:])
    return pd.concat(frames, ignore_index=True), grids

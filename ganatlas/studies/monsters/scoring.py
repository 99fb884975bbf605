"""Render latents and score them: detection, attribute scores and identity embeddings per image."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import torch

from ganatlas.faces.types import best_face


@torch.no_grad()
def map_w(g: torch.nn.Module, z: np.ndarray, device: str = "cpu", batch: int = 256) -> np.ndarray:
    """``w: [N, w_dim]`` float32 (row 0 of ws; no truncation) from ``z: [N, z_dim]``."""
    out = []
    for s in range(0, len(z), batch):
        zt = torch.as_tensor(z[s : s + batch], device=device)
        c = torch.zeros(len(zt), g.c_dim, device=device)
        out.append(g.mapping(zt, c)[:, 0].float().cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, g.w_dim), np.float32)


@torch.no_grad()
def z_scale_free(g: torch.nn.Module, device: str = "cpu", n: int = 4, seed: int = 0) -> bool:
    """True when ``g.mapping`` gives the same w for ``z`` and ``3 z`` (StyleGAN's mapping
    normalises z by its second moment): every radius > 0 along a Z direction is then one image,
    and a Z yield curve measures random directions, not the distance from the origin."""
    gen = torch.Generator().manual_seed(seed)
    z = torch.randn(n, g.z_dim, generator=gen).to(device)
    c = torch.zeros(n, g.c_dim, device=device)
    a, b = g.mapping(z, c)[:, 0].double(), g.mapping(3 * z, c)[:, 0].double()
    return bool(torch.allclose(a, b, rtol=1e-4, atol=1e-5 * float(a.abs().max()) + 1e-12))


def build_scoring(detector: dict, info: dict, scorers: list[dict], embedder: str, device: str):
    """(backend, attribute scorers, embedder name, embed fn or None) for a job on ``device``.

    embed fn: ``(img_bgr, face) -> [D]`` (dlib's descriptor on the face's box) when identities
    come from dlib; None when they are the detector's own (ArcFace).
    """
    from ganatlas.attributes.registry import build_scorers
    from ganatlas.faces.backends import make_backend, onnx_providers, resolve_detector
    from ganatlas.studies.monsters.identity import dlib_embedder, resolve_embedder
    from ganatlas.threads import job_threads

    det = resolve_detector(detector, info)
    providers = onnx_providers(det["providers"], device)
    backend = make_backend(det, providers=providers, threads=job_threads())
    attr = list(build_scorers(scorers, providers=providers)) if scorers else []
    has_rec = getattr(backend, "recognizer", None) is not None
    name = resolve_embedder(embedder, backend.name, has_rec)
    if name == "dlib":
        dl = dlib_embedder()
        return backend, attr, name, lambda img, face: dl.embed_one(img, np.asarray(face.bbox))
    return backend, attr, name, None


def score_images_with_embeddings(
    images_rgb: np.ndarray, backend, scorers: list, embed: Callable | None
) -> pd.DataFrame:
    """One row per image of ``images_rgb: [N, H, W, 3]`` uint8 RGB: detected, det_score, bbox,
    ``attr_<name>`` per scorer output (NaN without a face) and ``embedding`` ([D] float32 of the
    best face, None without one)."""
    from ganatlas.attributes.base import score_images

    bgr = [np.ascontiguousarray(img[:, :, ::-1]) for img in images_rgb]
    seen: list = []

    def detect(img):
        faces = backend.analyze(img)
        seen.append((img, best_face(faces)))
        return faces

    df = score_images(bgr, detect, scorers).reset_index(drop=True)
    df = df.rename(
        columns={c: f"attr_{c}" for c in df.columns if c not in ("detected", "det_score", "bbox")}
    )
    emb = []
    for img, face in seen:
        if face is None:
            emb.append(None)
        elif embed is not None:
            emb.append(np.asarray(embed(img, face), np.float32))
        else:
            emb.append(None if face.embedding is None else np.asarray(face.embedding, np.float32))
    df["embedding"] = emb
    return df

"""Face -> embedding -> latent -> face iteration: the embedding -> latent maps and the detection
of cycles and fixed points in the resulting sequence.

Maps (each ``emb: [E] -> latent: [L]``):

- ``normalise``: the embedding scaled to unit norm, padded with zeros or truncated to ``L``, then
  scaled to the latent's expected norm (``sqrt(L)`` for standard normal z); the source's
  512 -> 512.
- ``random_projection``: a fixed Gaussian matrix ``[L, E]`` drawn from a seed, the result scaled
  to the expected norm.
- ``lstsq``: an affine map fitted by least squares on sampled (latent, embedding) pairs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

MAPS = ("normalise", "random_projection", "lstsq")


def normalise_map(latent_dim: int, norm: float) -> Callable[[np.ndarray], np.ndarray]:
    """``emb: [E] -> [latent_dim]``: unit norm, zero-padded or truncated, scaled to ``norm``."""

    def f(emb: np.ndarray) -> np.ndarray:
        e = np.asarray(emb, dtype=np.float64).reshape(-1)
        out = np.zeros(latent_dim)
        n = min(latent_dim, len(e))
        out[:n] = e[:n]
        nrm = np.linalg.norm(out)
        return out * (norm / nrm) if nrm > 0 else out

    return f


def random_projection_map(
    latent_dim: int, emb_dim: int, norm: float, seed: int
) -> Callable[[np.ndarray], np.ndarray]:
    """``emb: [E] -> [latent_dim]``: a seeded Gaussian ``[latent_dim, E]`` matrix, then scaled to
    ``norm``."""
    mat = np.random.default_rng(seed).standard_normal((latent_dim, emb_dim))

    def f(emb: np.ndarray) -> np.ndarray:
        e = np.asarray(emb, dtype=np.float64).reshape(-1)
        if len(e) != emb_dim:
            raise ValueError(f"random projection built for {emb_dim}-d embeddings, got {len(e)}")
        out = mat @ e
        nrm = np.linalg.norm(out)
        return out * (norm / nrm) if nrm > 0 else out

    return f


def fit_lstsq_map(
    latents: np.ndarray, embeddings: np.ndarray, ridge: float = 1e-6
) -> tuple[np.ndarray, Callable[[np.ndarray], np.ndarray]]:
    """Fit ``latent ~ [emb, 1] @ A`` on ``latents: [N, L]`` and ``embeddings: [N, E]`` (ridge
    regularised least squares). Returns ``A: [E + 1, L]`` and the map ``emb: [E] -> [L]``."""
    lat = np.asarray(latents, dtype=np.float64)
    emb = np.asarray(embeddings, dtype=np.float64)
    if len(lat) != len(emb) or len(lat) < 2:
        raise ValueError(f"lstsq map needs >= 2 matching pairs, got {len(lat)} and {len(emb)}")
    x = np.hstack([emb, np.ones((len(emb), 1))])
    a = np.linalg.solve(x.T @ x + ridge * np.eye(x.shape[1]), x.T @ lat)

    def f(e: np.ndarray) -> np.ndarray:
        return np.append(np.asarray(e, dtype=np.float64).reshape(-1), 1.0) @ a

    return a, f


@dataclass
class Recurrence:
    """What the sequence of keyfaces did.

    kind: 'cycle' (keyface ``return_step`` came within ``tolerance`` of the earlier keyface
    ``return_step - period``), 'fixed_point' (``fixed_steps`` consecutive steps each moved less
    than the threshold, the first of them ending at ``return_step``), or 'none'.
    """

    kind: str
    return_step: int | None = None
    period: int | None = None


def step_distances(embs: np.ndarray, distance: Callable) -> np.ndarray:
    """``[N]`` distance of each keyface to the one before (``nan`` for the first)."""
    out = np.full(len(embs), np.nan)
    for i in range(1, len(embs)):
        out[i] = distance(embs[i - 1], embs[i])
    return out


def find_recurrence(
    embs: np.ndarray,
    distance: Callable,
    tolerance: float,
    threshold: float,
    fixed_steps: int,
) -> Recurrence:
    """First cycle or fixed point in ``embs: [N, E]`` (None-rows, keyfaces with no face, are
    skipped). A fixed point is ``fixed_steps`` consecutive step distances below ``threshold``;
    a cycle of period p >= 2 is keyface j within ``tolerance`` of keyface j - p (the smallest
    such j, then the smallest p). Whichever is found at the earlier step wins."""
    ok = [e is not None for e in embs]
    run = 0
    fixed_at = None
    for j in range(1, len(embs)):
        if ok[j] and ok[j - 1] and distance(embs[j - 1], embs[j]) < threshold:
            run += 1
            if run >= fixed_steps:
                fixed_at = j - fixed_steps + 1
                break
        else:
            run = 0
    for j in range(2, len(embs)):
        if fixed_at is not None and j >= fixed_at + fixed_steps - 1:
            break
        for p in range(2, j + 1):
            i = j - p
            if ok[i] and ok[j] and distance(embs[i], embs[j]) < tolerance:
                if _is_fixed(embs, ok, distance, i, j, tolerance):
                    continue  # consecutive near-identical faces: that is a fixed point
                return Recurrence("cycle", j, p)
    if fixed_at is not None:
        return Recurrence("fixed_point", fixed_at, 1)
    return Recurrence("none")


def _is_fixed(embs, ok, distance, i: int, j: int, tolerance: float) -> bool:
    return all(
        ok[t] and ok[t + 1] and distance(embs[t], embs[t + 1]) < tolerance for t in range(i, j)
    )


def iterate_keyfaces(
    start: np.ndarray,
    n: int,
    face_embedding: Callable[[np.ndarray], np.ndarray | None],
    emb_to_latent: Callable[[np.ndarray], np.ndarray],
    log: Callable[[str], None] | None = None,
) -> tuple[np.ndarray, list[np.ndarray | None]]:
    """``n`` keyfaces from ``start: [L]``: latent i+1 = map(embedding of face i). A face with no
    embedding (no face found) ends the chain: its latent is repeated. Returns
    ``latents: [n, L]`` and the embeddings (None where no face)."""
    lat = [np.asarray(start, dtype=np.float64)]
    embs: list[np.ndarray | None] = []
    for i in range(n):
        e = face_embedding(lat[-1])
        embs.append(e)
        if log is not None:
            log(f"keyface {i + 1}/{n}: {'face' if e is not None else 'no face'}")
        if i + 1 < n:
            lat.append(lat[-1] if e is None else np.asarray(emb_to_latent(e), dtype=np.float64))
    return np.stack(lat), embs

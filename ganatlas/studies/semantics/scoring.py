"""Attribute scoring of rendered images: the project's scorers plus a planted-truth scorer.

A *planted* scorer (``{type: planted, name, space, seed, scale}``) is a plain function of the
latent: ``score = scale * latent @ d`` with ``d`` a seeded unit vector. It needs no face analysis
and gives tests (and a first dry run of a new network) a known answer. Every other entry is built
by :func:`ganatlas.attributes.registry.build_scorers`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class PlantedScorer:
    """``score = scale * latent[space] @ planted_direction(dim, seed)`` for each image."""

    name: str
    space: str = "z"
    seed: int = 0
    scale: float = 1.0

    def score_latents(self, latents: dict[str, np.ndarray]) -> np.ndarray:
        """latents: {'z': [N, z_dim], 'w': [N, w_dim]} (a missing space gives NaN) -> [N]."""
        lat = latents.get(self.space)
        if lat is None:
            n = len(next(iter(latents.values())))
            return np.full(n, np.nan)
        d = planted_direction(lat.shape[1], self.seed)
        return self.scale * (np.asarray(lat, dtype=np.float64) @ d)


def planted_direction(dim: int, seed: int) -> np.ndarray:
    """The unit vector ``[dim]`` float64 a planted scorer with ``seed`` projects on."""
    d = np.random.default_rng(seed).standard_normal(dim)
    return d / np.linalg.norm(d)


def split_scorer_configs(cfgs: list[dict]) -> tuple[list[PlantedScorer], list[dict]]:
    """(planted scorers, the remaining configs for ganatlas.attributes)."""
    planted, other = [], []
    for i, c in enumerate(cfgs):
        if c.get("type") == "planted":
            bad = sorted(set(c) - {"type", "name", "space", "seed", "scale"})
            if bad or "name" not in c or c.get("space", "z") not in ("z", "w"):
                raise ValueError(
                    f"semantics.scorers[{i}] (planted): keys name (required), space (z|w), seed, "
                    f"scale; got {c!r}"
                )
            planted.append(
                PlantedScorer(
                    c["name"],
                    c.get("space", "z"),
                    int(c.get("seed", 0)),
                    float(c.get("scale", 1.0)),
                )
            )
        else:
            other.append(c)
    return planted, other


@dataclass
class ScoringSetup:
    """What scores a batch: the face backend (None = no detection), image scorers, planted ones."""

    backend: Any
    scorers: list
    planted: list[PlantedScorer]

    @property
    def names(self) -> list[str]:
        out = [n for s in self.scorers for n in s.outputs]
        return out + [p.name for p in self.planted]


def build_setup(scorer_cfgs: list[dict], detector_cfg: dict | None, providers=None) -> ScoringSetup:
    """Build the backend (when any image scorer or a detector config is given) and scorers."""
    planted, other = split_scorer_configs(scorer_cfgs)
    scorers: list = []
    if other:
        from ganatlas.attributes.registry import build_scorers

        scorers = list(build_scorers(other, providers=providers))
    backend = None
    if detector_cfg is not None:
        from ganatlas.faces.backends import make_backend

        backend = make_backend(detector_cfg, providers=providers)
    return ScoringSetup(backend, scorers, planted)


def score_batch(
    images_rgb: np.ndarray, latents: dict[str, np.ndarray], setup: ScoringSetup
) -> pd.DataFrame:
    """Score ``images_rgb: [N, H, W, 3]`` uint8 RGB; one row per image.

    Columns: detected (bool), det_score (float, NaN without detector), bbox (list or None) and one
    float column per score name (NaN where no face).
    """
    n = len(images_rgb)
    bgr = [np.ascontiguousarray(img[:, :, ::-1]) for img in images_rgb]
    if setup.backend is not None:
        from ganatlas.attributes.base import score_images

        df = score_images(bgr, setup.backend, setup.scorers).reset_index(drop=True)
    else:
        if setup.scorers:
            raise ValueError(
                "image scorers need a face detector: semantics.detector.backend is 'none'"
            )
        df = pd.DataFrame({"detected": np.ones(n, bool), "det_score": np.full(n, np.nan)})
        df["bbox"] = [None] * n
    for p in setup.planted:
        df[p.name] = p.score_latents(latents)
    return df

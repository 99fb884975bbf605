"""Differentiable identity embedders for the projector's identity loss.

``facenet``: ganatlas's Inception-ResNet-v1 (:mod:`ganatlas.faces.facenet`, VGGFace2 weights from
``embedder.weights`` or the download cache) on the whole aligned image, resized to 160x160 by
area averaging (bilinear when smaller), standardised as FaceNet expects; output L2-normalised
``[N, 512]``. Gradients flow from the embedding back to the image.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch
from torch.nn import functional as F

EMBEDDERS = ("facenet",)


def facenet_embedder(
    weights: str | Path | None = None,
    cache_dir: str | Path | None = None,
    device: str | torch.device = "cpu",
    random_init: bool = False,
) -> Callable[[torch.Tensor], torch.Tensor]:
    """``embed(img [N, 3, H, W] in [-1, 1]) -> [N, 512]`` unit vectors (differentiable).

    random_init: the architecture with random weights (tests; nothing is read or fetched).
    """
    from ganatlas.faces.facenet import INPUT_SIZE, InceptionResnetV1, find_weights, load_weights

    model = InceptionResnetV1()
    if not random_init:
        load_weights(model, find_weights(weights, cache_dir))
    model = model.eval().requires_grad_(False).to(device)

    def embed(img: torch.Tensor) -> torch.Tensor:
        x = (img.float() + 1) * 127.5  # [0, 255] RGB
        mode = "area" if x.shape[-1] > INPUT_SIZE else "bilinear"
        kw = {} if mode == "area" else {"align_corners": False}
        x = F.interpolate(x, size=(INPUT_SIZE, INPUT_SIZE), mode=mode, **kw)
        return F.normalize(model((x - 127.5) / 128.0), dim=-1)

    return embed


def build_identity(spec: dict | None, device: str | torch.device = "cpu"):
    """The embedder of resolved ``projection.identity`` (``{name, weights, cache_dir}``) or None."""
    if not spec:
        return None
    if spec["name"] != "facenet":
        raise ValueError(
            f"projection.identity_embedder: unknown {spec['name']!r}; known: {EMBEDDERS}"
        )
    return facenet_embedder(spec.get("weights"), spec.get("cache_dir"), device,
                            bool(spec.get("random_init")))  # fmt: skip

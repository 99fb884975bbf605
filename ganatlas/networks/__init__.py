"""Generators: load any supported network by catalogue name, local path or URL.

``load_network(spec)`` returns a module with NVIDIA's attribute names and call signatures
(see :mod:`ganatlas.networks.base`).
"""

from __future__ import annotations

from pathlib import Path

import torch

from ganatlas.networks.base import Generator, broadcast_w, network_summary, to_uint8
from ganatlas.networks.catalogue import CATALOGUE, CatalogueEntry, lookup
from ganatlas.networks.registry import FAMILIES, Family, register_family
from ganatlas.networks.resolve import is_url

__all__ = [
    "CATALOGUE",
    "CatalogueEntry",
    "FAMILIES",
    "Family",
    "Generator",
    "broadcast_w",
    "is_url",
    "load_network",
    "lookup",
    "network_summary",
    "register_family",
    "to_uint8",
]


def load_network(
    spec: str | Path,
    device: str | torch.device = "cpu",
    which: str = "G_ema",
    cache_dir: str | Path | None = None,
) -> torch.nn.Module:
    """Load a generator from a catalogue name, a local file or a URL.

    - catalogue names: ``digiface-dcgan`` (embedded), ``tiny-random``, official StyleGAN names
    - ``*.pkl``: an official StyleGAN2-ADA / StyleGAN3 snapshot (``which`` picks G_ema or G)
    - ``*.pt``/``*.pth``/``*.tar``: a DCGAN state dict
    - URLs: downloaded once into ``cache_dir`` (sha256 recorded), then loaded from there

    The value becomes a file in one place (:func:`ganatlas.networks.resolve.resolve_network`);
    the family registry (:mod:`ganatlas.networks.registry`) picks the loader.
    """
    from ganatlas.networks.resolve import resolve_network

    resolved = resolve_network(str(spec), cache_dir=cache_dir)
    return resolved.family.load(resolved.path, device, which)

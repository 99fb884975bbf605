"""Generators: load any supported network by catalogue name, local path or URL.

``load_network(spec)`` returns a module with NVIDIA's attribute names and call signatures
(see :mod:`ganatlas.networks.base`).
"""

from __future__ import annotations

from pathlib import Path

import torch

from ganatlas.networks.base import Generator, broadcast_w, to_uint8
from ganatlas.networks.catalogue import CATALOGUE, CatalogueEntry, lookup

__all__ = [
    "CATALOGUE",
    "CatalogueEntry",
    "Generator",
    "broadcast_w",
    "is_url",
    "load_network",
    "lookup",
    "to_uint8",
]


def is_url(spec: str) -> bool:
    """True for http(s) and file URLs."""
    return str(spec).startswith(("http://", "https://", "file://"))


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
    """
    spec_s = str(spec)
    if spec_s in CATALOGUE:
        entry = CATALOGUE[spec_s]
        if entry.kind == "dcgan-embedded":
            from ganatlas.networks.dcgan import load_dcgan

            return load_dcgan(device=device)
        if entry.kind == "tiny":
            from ganatlas.networks.tiny import TinyGenerator

            return TinyGenerator().to(device)
        if entry.url is None:
            raise ValueError(f"catalogue entry {entry.name!r} has no URL to load from")
        spec_s, expected_sha256 = entry.url, entry.sha256
    else:
        expected_sha256 = None
    if is_url(spec_s):
        from ganatlas.networks.download import fetch

        spec_s = str(fetch(spec_s, cache_dir=cache_dir, sha256=expected_sha256).path)
    path = Path(spec_s)
    if not path.exists():
        if "/" not in spec_s and "." not in spec_s:
            lookup(spec_s)  # raises KeyError listing the catalogue
        raise FileNotFoundError(f"network file not found: {path}")
    if path.suffix in {".pt", ".pth", ".tar"}:
        from ganatlas.networks.dcgan import load_dcgan

        return load_dcgan(path, device=device)
    from ganatlas.networks.persistence import load_network_pickle

    return load_network_pickle(path, which=which, device=device)

"""Named networks the workflow's ``network:`` key accepts.

Each entry carries what the walk study needs to score that network's faces well: the detector
input size that suits its face size (``det_size``) and walk defaults (``walk``: step_size per
dimension and clamp radius) that cross from the average latent through faces to "monsters".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class CatalogueEntry:
    """One named network: ``kind`` selects the loader (dcgan-embedded, tiny, stylegan2, stylegan3)."""

    name: str
    kind: str
    resolution: int
    det_size: int
    description: str
    url: str | None = None
    sha256: str | None = None
    walk: dict[str, Any] = field(default_factory=dict)


# StyleGAN faces (FFHQ-aligned) are scored at det_size 640 as in the user's report.
STYLEGAN_WALK = {"step_size": 0.01, "clamp_radius": "p99"}

CATALOGUE: dict[str, CatalogueEntry] = {}


def register(entry: CatalogueEntry) -> CatalogueEntry:
    """Add ``entry`` to the catalogue (a later entry of the same name replaces the earlier one)."""
    CATALOGUE[entry.name] = entry
    return entry


register(
    CatalogueEntry(
        name="digiface-dcgan",
        kind="dcgan-embedded",
        resolution=64,
        # Its faces fill the 64x64 frame: SCRFD finds them at 160-320, not at 640.
        det_size=320,
        description="DCGAN trained on DigiFace-1M (weights in the PyPI package gan-face-generate 1.1.1)",
        # Its mean latent (|z| = 0) is no face; faces at |z| ~ 5-20, distorted past ~40.
        # 0.15 per dimension in 100-d: |z| ~ 1.5 sqrt(step) -> ~15 at step 100, ~47 at step 1000.
        walk={"step_size": 0.15, "clamp_radius": 60.0},
    )
)
register(
    CatalogueEntry(
        name="tiny-random",
        kind="tiny",
        resolution=32,
        det_size=160,
        description="tiny random StyleGAN-shaped generator (seed 0) for tests; draws no faces",
        walk={"step_size": 0.05, "clamp_radius": "p99"},
    )
)


def lookup(name: str) -> CatalogueEntry:
    """Return the entry called ``name``; an unknown name raises KeyError listing the catalogue."""
    try:
        return CATALOGUE[name]
    except KeyError:
        names = ", ".join(sorted(CATALOGUE))
        raise KeyError(f"unknown network {name!r}; the catalogue has: {names}") from None

"""Named networks the workflow's ``network:`` key accepts.

Each entry carries what the walk study needs to score that network's faces well: the detector
input size that suits its face size (``det_size``) and walk defaults (``walk``: step_size per
dimension and clamp radius) that cross from the average latent through faces to "monsters".
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any


@dataclass(frozen=True)
class CatalogueEntry:
    """One named network: ``kind`` selects the loader (dcgan-embedded, tiny, stylegan2, stylegan3,
    stylegan1, progan)."""

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


# Official pretrained pickles (NVIDIA). det_size: aligned faces that fill a 512-1024 frame are
# scored at 640 (the report's setting); 256 px frames at 320; 32 px CIFAR-10 at the minimum, 160.
ADA_URL = "https://nvlabs-fi-cdn.nvidia.com/stylegan2-ada-pytorch/pretrained/{}.pkl"
SG2_URL = "https://api.ngc.nvidia.com/v2/models/nvidia/research/stylegan2/versions/1/files/{}.pkl"
SG3_URL = "https://api.ngc.nvidia.com/v2/models/nvidia/research/stylegan3/versions/1/files/{}.pkl"


def default_det_size(resolution: int) -> int:
    """The detector input size for a network's ``resolution`` (the one rule, for catalogue entries
    and local files alike): 640 from 512 px up, else 1.25x the resolution rounded down to a
    multiple of 32 (SCRFD's strides), at least 160."""
    return 640 if resolution >= 512 else max(160, min(640, resolution * 5 // 4 // 32 * 32))


def _official(name: str, kind: str, url: str, resolution: int, description: str) -> None:
    register(
        CatalogueEntry(
            name=name,
            kind=kind,
            resolution=resolution,
            det_size=default_det_size(resolution),
            description=description,
            url=url,
            walk=dict(STYLEGAN_WALK),
        )
    )


for _stem, _res, _what in [
    ("ffhq", 1024, "FFHQ faces"),
    ("metfaces", 1024, "MetFaces (faces in art), transfer from FFHQ"),
    ("afhqcat", 512, "AFHQ cats"),
    ("afhqdog", 512, "AFHQ dogs"),
    ("afhqwild", 512, "AFHQ wild animals"),
    ("brecahad", 512, "BreCaHAD histology"),
    ("cifar10", 32, "CIFAR-10, class-conditional (c_dim 10)"),
]:
    _official(
        f"stylegan2-ada-{_stem}", "stylegan2", ADA_URL.format(_stem), _res,
        f"StyleGAN2-ADA (stylegan2-ada-pytorch) {_what}, {_res}x{_res}",
    )  # fmt: skip

for _stem, _res, _what in [
    ("ffhq", 1024, "FFHQ faces"),
    ("ffhq", 512, "FFHQ faces"),
    ("ffhq", 256, "FFHQ faces"),
    ("ffhqu", 1024, "FFHQ-U (unaligned) faces"),
    ("ffhqu", 256, "FFHQ-U (unaligned) faces"),
    ("metfaces", 1024, "MetFaces"),
    ("metfacesu", 1024, "MetFaces-U (unaligned)"),
    ("afhqv2", 512, "AFHQv2 animals"),
    ("afhqcat", 512, "AFHQ cats"),
    ("afhqdog", 512, "AFHQ dogs"),
    ("afhqwild", 512, "AFHQ wild animals"),
    ("brecahad", 512, "BreCaHAD histology"),
    ("cifar10", 32, "CIFAR-10, class-conditional"),
    ("celebahq", 256, "CelebA-HQ faces"),
    ("lsundog", 256, "LSUN dogs"),
]:
    _official(
        f"stylegan2-{_stem}-{_res}", "stylegan2", SG2_URL.format(f"stylegan2-{_stem}-{_res}x{_res}"),
        _res, f"StyleGAN2 (stylegan3 repository release) {_what}, {_res}x{_res}",
    )  # fmt: skip

for _cfg in ("t", "r"):
    for _stem, _res, _what in [
        ("ffhq", 1024, "FFHQ faces"),
        ("ffhqu", 1024, "FFHQ-U (unaligned) faces"),
        ("ffhqu", 256, "FFHQ-U (unaligned) faces"),
        ("metfaces", 1024, "MetFaces"),
        ("metfacesu", 1024, "MetFaces-U (unaligned)"),
        ("afhqv2", 512, "AFHQv2 animals"),
    ]:
        _official(
            f"stylegan3-{_cfg}-{_stem}-{_res}", "stylegan3",
            SG3_URL.format(f"stylegan3-{_cfg}-{_stem}-{_res}x{_res}"), _res,
            f"StyleGAN3-{_cfg.upper()} {_what}, {_res}x{_res}",
        )  # fmt: skip

# TensorFlow-era pickles (read and converted on load by ganatlas.networks.tf_pickle). URLs as
# NVIDIA documents them: the StyleGAN2 repository's README/pretrained_networks.py (their CDN), the
# StyleGAN README (Google Drive ids; Drive asks a browser to confirm large downloads, so these
# may have to be downloaded by hand into the cache path the error names) and the Progressive
# GAN README (Google Drive). Kinds stylegan1 and progan are served by their families' modules.
SG2_TF_URL = "https://nvlabs-fi-cdn.nvidia.com/stylegan2/networks/stylegan2-{}-config-f.pkl"
DRIVE_URL = "https://drive.google.com/uc?id={}"

for _stem, _res, _what in [
    ("ffhq", 1024, "FFHQ faces"),
    ("car", 512, "LSUN Car (512x384 in a 512 frame)"),
    ("cat", 256, "LSUN Cat"),
    ("church", 256, "LSUN Church"),
    ("horse", 256, "LSUN Horse"),
]:
    _official(
        f"stylegan2-{_stem}-config-f", "stylegan2", SG2_TF_URL.format(_stem), _res,
        f"StyleGAN2 config F (TensorFlow release, converted on load) {_what}, {_res}x{_res}",
    )  # fmt: skip

for _stem, _drive_id, _res, _what in [
    ("ffhq", "1MEGjdvVpUsu1jB4zrXZN7Y4kBBOzizDQ", 1024, "FFHQ faces"),
    ("celebahq", "1MGqJl28pN4t7SAtSrPdSRJSQJqahkzUf", 1024, "CelebA-HQ faces"),
    ("bedrooms", "1MOSKeGF0FJcivpBI7s63V9YHloUTORiF", 256, "LSUN Bedroom"),
    ("cars", "1MJ6iCfNtMIRicihwRorsM3b7mmtmK9c3", 512, "LSUN Car (512x384 in a 512 frame)"),
    ("cats", "1MQywl0FNt6lHu8E_EUqnRbviagS7fbiJ", 256, "LSUN Cat"),
]:
    _official(
        f"stylegan-{_stem}-{_res}", "stylegan1", DRIVE_URL.format(_drive_id), _res,
        f"StyleGAN (2019, TensorFlow; karras2019stylegan-{_stem}) {_what}, {_res}x{_res}",
    )  # fmt: skip

_official(
    "progan-celebahq-1024",
    "progan",
    DRIVE_URL.format("188K19ucknC6wg1R6jbuPEhTq9zoufOx4"),
    1024,
    "Progressive GAN (TensorFlow; karras2018iclr-celebahq-1024x1024) CelebA-HQ faces, 1024x1024",
)

# ProGAN's W is Z (512-d standard normal, like the DCGAN's 100-d Z): the same per-dimension step
# as the DCGAN, and a cap at the same multiple (~6x) of the samples' typical norm sqrt(512) ~ 23.
register(
    replace(CATALOGUE["progan-celebahq-1024"], walk={"step_size": 0.15, "clamp_radius": 135.0})
)

# The user's report network under its short name.
register(replace(CATALOGUE["stylegan2-ada-ffhq"], name="ffhq"))


def lookup(name: str) -> CatalogueEntry:
    """Return the entry called ``name``; an unknown name raises KeyError listing the catalogue."""
    try:
        return CATALOGUE[name]
    except KeyError:
        names = ", ".join(sorted(CATALOGUE))
        raise KeyError(f"unknown network {name!r}; the catalogue has: {names}") from None

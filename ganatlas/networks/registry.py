"""Network families: one registration each (loader, file suffixes, a small instance for tests).

A family is what a catalogue entry's ``kind`` or a local file's suffix selects. Adding one is a
module with the network plus one :func:`register_family` call here; ``load_network``,
``describe_network``, the CLI and the tests find it through :data:`FAMILIES`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

#: ``load(path, device, which)``: path None means the family's built-in weights (if it has any).
Loader = Callable[[Path | None, "str | torch.device", str], nn.Module]


@dataclass(frozen=True)
class Family:
    """A network family.

    name: the family's name (what ``network.json`` records as ``family``); kinds: catalogue
    ``kind`` values it serves; suffixes: local file suffixes it reads; load: the loader;
    small: a small random instance with the family's API, for tests and benchmarks;
    builtin: the file of the family's built-in weights (None: no file, e.g. the tiny network);
    generator: the Generator class the official pickle reader rebuilds (pickled families).
    """

    name: str
    load: Loader
    small: Callable[[], nn.Module]
    kinds: tuple[str, ...] = ()
    suffixes: tuple[str, ...] = ()
    description: str = ""
    builtin: Callable[[], Path] | None = None
    generator: Callable[[], type] | None = None


FAMILIES: dict[str, Family] = {}


def register_family(family: Family) -> Family:
    """Add ``family`` (a later registration of the same name replaces the earlier one)."""
    FAMILIES[family.name] = family
    return family


def family_of_kind(kind: str) -> Family:
    """The family serving catalogue ``kind`` (KeyError naming the known kinds)."""
    for fam in FAMILIES.values():
        if kind in fam.kinds or kind == fam.name:
            return fam
    known = sorted({k for f in FAMILIES.values() for k in (f.name, *f.kinds)})
    raise KeyError(f"no network family for kind {kind!r}; known: {', '.join(known)}")


def family_of_file(path: str | Path) -> Family:
    """The first registered family that reads files with ``path``'s suffix (ValueError otherwise)."""
    suffix = Path(path).suffix.lower()
    for fam in FAMILIES.values():
        if suffix in fam.suffixes:
            return fam
    known = sorted({s for f in FAMILIES.values() for s in f.suffixes})
    raise ValueError(
        f"network file {path}: unknown suffix {suffix!r}; readable suffixes: {', '.join(known)}"
    )


def _load_dcgan(path: Path | None, device, which: str) -> nn.Module:
    from ganatlas.networks.dcgan import load_dcgan

    return load_dcgan(path, device=device)


def _dcgan_builtin() -> Path:
    from ganatlas.networks.dcgan import embedded_weights_path

    return embedded_weights_path()


def _small_dcgan() -> nn.Module:
    from ganatlas.networks.dcgan import DCGANGenerator

    torch.manual_seed(0)
    return DCGANGenerator(z_dim=8, ngf=4).eval()


def _load_tiny(path: Path | None, device, which: str) -> nn.Module:
    from ganatlas.networks.tiny import TinyGenerator

    return TinyGenerator().to(device)


def _small_tiny() -> nn.Module:
    from ganatlas.networks.tiny import TinyGenerator

    return TinyGenerator(img_resolution=16)


def _load_pickle(path: Path | None, device, which: str) -> nn.Module:
    """Official pickles: PyTorch snapshots, or TF-era ``(G, D, Gs)`` pickles (sniffed from the
    first class the file names; :mod:`ganatlas.networks.tf_pickle` converts those)."""
    from ganatlas.networks.persistence import load_network_pickle
    from ganatlas.networks.tf_pickle import is_tf_pickle, load_tf_pickle

    if path is None:
        raise ValueError("an official StyleGAN network needs a pickle file or URL")
    if is_tf_pickle(path):
        return load_tf_pickle(path, which=which, device=device)
    return load_network_pickle(path, which=which, device=device)


def _stylegan2_class() -> type:
    from ganatlas.networks.stylegan2 import Generator

    return Generator


def _stylegan3_class() -> type:
    from ganatlas.networks.stylegan3 import Generator

    return Generator


def _stylegan1_class() -> type:
    from ganatlas.networks.stylegan1 import Generator  # importing registers the G_style builder

    return Generator


def _progan_class() -> type:
    from ganatlas.networks.progan import Generator  # importing registers the G_paper builder

    return Generator


def _small_stylegan1() -> nn.Module:
    from ganatlas.networks.stylegan1 import Generator

    torch.manual_seed(0)
    return Generator(
        z_dim=16, c_dim=0, w_dim=16, img_resolution=16, img_channels=3,
        mapping_kwargs={"num_layers": 2, "layer_features": 16},
        synthesis_kwargs={"fmap_base": 64, "fmap_max": 16},
    ).eval()  # fmt: skip


def _small_progan() -> nn.Module:
    from ganatlas.networks.progan import Generator

    torch.manual_seed(0)
    return Generator(z_dim=16, c_dim=0, img_resolution=16, img_channels=3, fmap_base=64,
                     fmap_max=16).eval()  # fmt: skip


def _small_stylegan2() -> nn.Module:
    from ganatlas.networks.stylegan2 import Generator

    torch.manual_seed(0)
    return Generator(
        z_dim=16, c_dim=0, w_dim=16, img_resolution=16, img_channels=3,
        mapping_kwargs={"num_layers": 2}, synthesis_kwargs={"channel_base": 256, "channel_max": 16},
    ).eval()  # fmt: skip


def _small_stylegan3() -> nn.Module:
    from ganatlas.networks.stylegan3 import Generator

    torch.manual_seed(0)
    return Generator(
        z_dim=16, c_dim=0, w_dim=16, img_resolution=16, img_channels=3,
        mapping_kwargs={"num_layers": 2}, channel_base=256, channel_max=16,
    ).eval()  # fmt: skip


register_family(
    Family(
        "dcgan",
        _load_dcgan,
        _small_dcgan,
        kinds=("dcgan-embedded",),
        suffixes=(".pt", ".pth", ".tar"),
        builtin=_dcgan_builtin,
        description="DCGAN state dict (W = Z); built-in: the DigiFace-1M weights of gan-face-generate",
    )
)
register_family(
    Family("tiny", _load_tiny, _small_tiny, description="tiny random StyleGAN-shaped test network")
)
register_family(
    Family(
        "stylegan2",
        _load_pickle,
        _small_stylegan2,
        kinds=("stylegan2-ada",),
        suffixes=(".pkl",),
        generator=_stylegan2_class,
        description="StyleGAN2 / StyleGAN2-ADA official PyTorch pickles (G_ema or G) and "
        "StyleGAN2-TF pickles (Gs or G), converted on load",
    )
)
register_family(
    Family(
        "stylegan3",
        _load_pickle,
        _small_stylegan3,
        suffixes=(".pkl",),
        generator=_stylegan3_class,
        description="StyleGAN3 (T and R) official PyTorch pickles; .pkl files go through the "
        "same reader, which tells StyleGAN2 and StyleGAN3 apart by the stored classes",
    )
)
register_family(
    Family(
        "stylegan1",
        _load_pickle,
        _small_stylegan1,
        suffixes=(".pkl",),
        generator=_stylegan1_class,
        description="StyleGAN (2019) TensorFlow pickles ((G, D, Gs) of dnnlib.tflib networks, "
        "Gs built by G_style), converted on load",
    )
)
register_family(
    Family(
        "progan",
        _load_pickle,
        _small_progan,
        suffixes=(".pkl",),
        generator=_progan_class,
        description="Progressive GAN TensorFlow pickles ((G, D, Gs) of tfutil networks built by "
        "G_paper), converted on load; W = Z",
    )
)

"""The generator interface every network in ganatlas implements.

It mirrors NVIDIA's StyleGAN ``G`` so notebooks port by changing one import:

- attributes ``z_dim, c_dim, w_dim, num_ws, img_resolution, img_channels``
- ``mapping(z, c, truncation_psi=1, truncation_cutoff=None) -> ws``: ``z: [N, z_dim]``,
  ``c: [N, c_dim]`` (or None when ``c_dim == 0``), ``ws: [N, num_ws, w_dim]``
- ``synthesis(ws, noise_mode=...) -> img``: ``img: [N, img_channels, H, W]`` in about [-1, 1];
  without ``noise_mode`` StyleGAN2 draws fresh noise (``"random"``, NVIDIA's default), so code
  that needs the same image for the same ``ws`` (every ganatlas stage) passes ``"const"``
- ``__call__(z, c, ...)`` = synthesis(mapping(z, c))
- ``init_args`` / ``init_kwargs`` (StyleGAN2/3): the constructor arguments, as NVIDIA's pickles
  record them
- ``w_avg``: ``[w_dim]`` tensor, the generator's own running mean of W (for networks that have
  none, such as a Z-only DCGAN, the mean of the latent prior: zeros)
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

import torch


@runtime_checkable
class Generator(Protocol):
    """Structural type of a ganatlas generator (see module docstring for shapes)."""

    z_dim: int
    c_dim: int
    w_dim: int
    num_ws: int
    img_resolution: int
    img_channels: int

    def mapping(
        self,
        z: torch.Tensor,
        c: torch.Tensor | None = None,
        truncation_psi: float = 1.0,
        truncation_cutoff: int | None = None,
    ) -> torch.Tensor: ...

    def synthesis(self, ws: torch.Tensor, noise_mode: str = "const") -> torch.Tensor: ...


def broadcast_w(w: torch.Tensor, num_ws: int) -> torch.Tensor:
    """Turn ``w: [N, w_dim]`` into ``ws: [N, num_ws, w_dim]``; ``ws`` passes through unchanged."""
    if w.ndim == 3:
        if w.shape[1] != num_ws:
            raise ValueError(f"ws has {w.shape[1]} rows but the network takes num_ws={num_ws}")
        return w
    if w.ndim != 2:
        raise ValueError(
            f"expected w [N, w_dim] or ws [N, num_ws, w_dim], got shape {tuple(w.shape)}"
        )
    return w.unsqueeze(1).repeat(1, num_ws, 1)


def empty_c(g: Generator, n: int, device: torch.device | str) -> torch.Tensor:
    """A zero-width conditioning tensor ``[n, 0]`` (or zeros ``[n, c_dim]``) for unconditional use."""
    return torch.zeros(n, g.c_dim, device=device)


def to_uint8(img: torch.Tensor) -> torch.Tensor:
    """Map ``img: [N, C, H, W]`` in [-1, 1] to uint8 ``[N, H, W, C]`` as NVIDIA's scripts do."""
    return (img.permute(0, 2, 3, 1) * 127.5 + 128).clamp(0, 255).to(torch.uint8)


def records_init(init: Callable) -> Callable:
    """Decorator: keep the constructor's args/kwargs as ``_init_args``/``_init_kwargs``.

    NVIDIA's persistence stores them in pickles; the ganatlas pickle writer does the same.
    """

    @functools.wraps(init)
    def wrapper(self: torch.nn.Module, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        self._init_args = copy.deepcopy(args)
        self._init_kwargs = copy.deepcopy(kwargs)

    return wrapper


class InitArgs:
    """``init_args`` / ``init_kwargs`` as NVIDIA's ``persistence.persistent_class`` adds them: copies
    of the constructor arguments (kwargs as attribute-readable dicts), for code that rebuilds a
    network from them (``type(G)(**G.init_kwargs)``). Needs :func:`records_init` on ``__init__``."""

    @property
    def init_args(self) -> tuple:
        return copy.deepcopy(tuple(getattr(self, "_init_args", ())))

    @property
    def init_kwargs(self) -> dict:
        from ganatlas.networks.persistence import _easy

        return _easy(copy.deepcopy(dict(getattr(self, "_init_kwargs", {}))))


class MappedGenerator(InitArgs, torch.nn.Module):
    """The shared top of the StyleGAN-family generators: ``self.mapping`` (z, c -> ws with a tracked
    ``w_avg``) then ``self.synthesis`` (ws -> img), called as NVIDIA's ``G(z, c, ...)``.

    Subclasses build ``mapping`` and ``synthesis`` in ``__init__``; one whose synthesis keeps its
    own running statistics (StyleGAN3's input magnitudes) sets ``synthesis_updates_emas``, and
    ``update_emas`` then reaches the synthesis too.
    """

    synthesis_updates_emas: bool = False

    @property
    def w_avg(self) -> torch.Tensor:
        """``[w_dim]``: the mapping network's tracked mean of W (the truncation centre)."""
        return self.mapping.w_avg

    def forward(
        self,
        z: torch.Tensor,
        c: torch.Tensor | None = None,
        truncation_psi: float = 1,
        truncation_cutoff: int | None = None,
        update_emas: bool = False,
        **synthesis_kwargs: Any,
    ) -> torch.Tensor:
        """``z: [N, z_dim]``, ``c: [N, c_dim]`` -> ``img: [N, img_channels, H, W]``.

        ``synthesis_kwargs`` (noise_mode, force_fp32, ...) go to ``synthesis`` as in NVIDIA's code.
        """
        ws = self.mapping(
            z, c, truncation_psi=truncation_psi, truncation_cutoff=truncation_cutoff,
            update_emas=update_emas,
        )  # fmt: skip
        if self.synthesis_updates_emas:
            synthesis_kwargs["update_emas"] = update_emas
        return self.synthesis(ws, **synthesis_kwargs)


def network_summary(g: torch.nn.Module) -> dict:
    """kind (family), class, z_dim, c_dim, w_dim, num_ws, img_resolution, img_channels, num_params."""
    kind = getattr(g, "family", None) or type(g).__module__.rsplit(".", 1)[-1]
    return {
        "kind": kind,
        "class": type(g).__name__,
        "z_dim": int(g.z_dim),
        "c_dim": int(g.c_dim),
        "w_dim": int(g.w_dim),
        "num_ws": int(g.num_ws),
        "img_resolution": int(g.img_resolution),
        "img_channels": int(g.img_channels),
        "num_params": int(sum(p.numel() for p in g.parameters())),
    }

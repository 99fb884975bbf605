"""StyleGAN2 discriminator in plain PyTorch, with NVIDIA's class, parameter and buffer names.

The layout of stylegan2-ada-pytorch's ``training.networks.Discriminator`` (the StyleGAN2
discriminator of the stylegan3 repository, ``training.networks_stylegan2``, stores the same
tensors): blocks ``b{R}`` from the image resolution down to 8 (:class:`DiscriminatorBlock`:
``fromrgb``, ``conv0``, ``conv1`` with 2x down-sampling, and the resnet ``skip``), then the
4x4 epilogue ``b4`` (:class:`DiscriminatorEpilogue`: minibatch standard deviation ``mbstd``,
``conv``, ``fc``, ``out``) and, for conditional networks (``c_dim > 0``), a ``mapping`` network
(z_dim 0) that turns the label into a projection ``cmap``.

It exists so that ``ganatlas convert`` can store a StyleGAN2-TF discriminator as the ``D``
NVIDIA's loader requires, and so that a stored ``D`` can be loaded and run
(:func:`load_discriminator`). Shapes: ``img: [N, img_channels, R, R]``, ``c: [N, c_dim]``
-> logits ``[N, 1]``. fp16 blocks run in float16 only on CUDA; elsewhere in float32.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ganatlas.networks.base import InitArgs, records_init
from ganatlas.networks.ops import downsample2d, setup_filter
from ganatlas.networks.persistence import NetworkPickleError
from ganatlas.networks.stylegan2 import (
    ARCHITECTURES,
    Conv2dLayer,
    FullyConnectedLayer,
    MappingNetwork,
)


class DiscriminatorBlock(nn.Module):
    """One resolution R -> R/2: ``fromrgb`` (first block, or every block of ``skip``), ``conv0``
    3x3, ``conv1`` 3x3 with 2x down-sampling and, for ``resnet``, a 1x1 down-sampling ``skip``
    added with gain sqrt(1/2)."""

    @records_init
    def __init__(
        self,
        in_channels: int,
        tmp_channels: int,
        out_channels: int,
        resolution: int,
        img_channels: int,
        first_layer_idx: int,
        architecture: str = "resnet",
        activation: str = "lrelu",
        resample_filter: Sequence[float] = (1, 3, 3, 1),
        conv_clamp: float | None = None,
        use_fp16: bool = False,
        fp16_channels_last: bool = False,
        freeze_layers: int = 0,
    ) -> None:
        if architecture not in ARCHITECTURES:
            raise ValueError(f"architecture must be one of {ARCHITECTURES}, got {architecture!r}")
        if in_channels not in (0, tmp_channels):
            raise ValueError(f"in_channels must be 0 or tmp_channels={tmp_channels}")
        super().__init__()
        self.in_channels = in_channels
        self.resolution = resolution
        self.img_channels = img_channels
        self.first_layer_idx = first_layer_idx
        self.architecture = architecture
        self.use_fp16 = use_fp16
        self.channels_last = use_fp16 and fp16_channels_last
        self.register_buffer("resample_filter", setup_filter(list(resample_filter)))
        self.num_layers = 0

        def trainable() -> bool:  # Freeze-D: the first ``freeze_layers`` layers of D are fixed
            idx = self.first_layer_idx + self.num_layers
            self.num_layers += 1
            return idx >= freeze_layers

        common = dict(
            activation=activation, conv_clamp=conv_clamp, channels_last=self.channels_last
        )
        if in_channels == 0 or architecture == "skip":
            self.fromrgb = Conv2dLayer(
                img_channels, tmp_channels, kernel_size=1, trainable=trainable(), **common
            )
        self.conv0 = Conv2dLayer(
            tmp_channels, tmp_channels, kernel_size=3, trainable=trainable(), **common
        )
        self.conv1 = Conv2dLayer(
            tmp_channels, out_channels, kernel_size=3, down=2, resample_filter=resample_filter,
            trainable=trainable(), **common,
        )  # fmt: skip
        if architecture == "resnet":
            self.skip = Conv2dLayer(
                tmp_channels, out_channels, kernel_size=1, bias=False, down=2,
                resample_filter=resample_filter, trainable=trainable(),
                channels_last=self.channels_last,
            )  # fmt: skip

    def forward(
        self, x: torch.Tensor | None, img: torch.Tensor | None, force_fp32: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``x: [N, in_channels, R, R]`` (None for the first block), ``img: [N, C, R, R]`` ->
        ``x: [N, out_channels, R/2, R/2]`` and the image at R/2 (``skip``; else None)."""
        device = (x if x is not None else img).device
        if device.type != "cuda":
            force_fp32 = True
        dtype = torch.float16 if self.use_fp16 and not force_fp32 else torch.float32
        fmt = torch.channels_last if self.channels_last and not force_fp32 else None
        if x is not None:
            _check_input(x, self.in_channels, self.resolution, "x")
            x = x.to(dtype=dtype, memory_format=fmt or torch.contiguous_format)
        if self.in_channels == 0 or self.architecture == "skip":
            _check_input(img, self.img_channels, self.resolution, "img")
            img = img.to(dtype=dtype, memory_format=fmt or torch.contiguous_format)
            y = self.fromrgb(img)
            x = x + y if x is not None else y
            img = downsample2d(img, self.resample_filter) if self.architecture == "skip" else None
        if self.architecture == "resnet":
            y = self.skip(x, gain=np.sqrt(0.5))
            x = self.conv1(self.conv0(x), gain=np.sqrt(0.5))
            x = y.add_(x)
        else:
            x = self.conv1(self.conv0(x))
        return x, img


class MinibatchStdLayer(nn.Module):
    """Append the standard deviation across groups of samples as ``num_channels`` new channels.

    The batch ``N`` is split into ``N / G`` groups of ``G = min(group_size, N)`` samples (all
    of them when ``group_size`` is None); sample ``i`` is in group ``i mod (N / G)``. Channels are
    split into ``num_channels`` parts; each part's std over the group (eps 1e-8 on the variance)
    is averaged over its channels and pixels and broadcast to every pixel.
    """

    @records_init
    def __init__(self, group_size: int | None, num_channels: int = 1) -> None:
        super().__init__()
        self.group_size = group_size
        self.num_channels = num_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x: [N, C, H, W]`` -> ``[N, C + num_channels, H, W]``."""
        n, c, h, w = x.shape
        g = n if self.group_size is None else min(int(self.group_size), n)
        f = self.num_channels
        if n % g or c % f:
            raise ValueError(
                f"minibatch std: batch {n} is not divisible by the group size {g} or channels "
                f"{c} by num_channels {f}"
            )
        y = x.reshape(g, n // g, f, c // f, h, w)
        y = (y - y.mean(dim=0)).square().mean(dim=0)
        y = (y + 1e-8).sqrt().mean(dim=(2, 3, 4))  # [N/G, F]
        y = y.reshape(-1, f, 1, 1).repeat(g, 1, h, w)
        return torch.cat([x, y], dim=1)


class DiscriminatorEpilogue(nn.Module):
    """The 4x4 end: (``fromrgb`` for ``skip``), ``mbstd``, ``conv`` 3x3, ``fc`` and ``out``; with a
    label projection ``cmap`` the logit is ``sum(out * cmap) / sqrt(cmap_dim)``."""

    @records_init
    def __init__(
        self,
        in_channels: int,
        cmap_dim: int,
        resolution: int,
        img_channels: int,
        architecture: str = "resnet",
        mbstd_group_size: int | None = 4,
        mbstd_num_channels: int = 1,
        activation: str = "lrelu",
        conv_clamp: float | None = None,
    ) -> None:
        if architecture not in ARCHITECTURES:
            raise ValueError(f"architecture must be one of {ARCHITECTURES}, got {architecture!r}")
        super().__init__()
        self.in_channels = in_channels
        self.cmap_dim = cmap_dim
        self.resolution = resolution
        self.img_channels = img_channels
        self.architecture = architecture
        if architecture == "skip":
            self.fromrgb = Conv2dLayer(
                img_channels, in_channels, kernel_size=1, activation=activation
            )
        self.mbstd = (
            MinibatchStdLayer(group_size=mbstd_group_size, num_channels=mbstd_num_channels)
            if mbstd_num_channels > 0
            else None
        )
        self.conv = Conv2dLayer(
            in_channels + mbstd_num_channels, in_channels, kernel_size=3, activation=activation,
            conv_clamp=conv_clamp,
        )  # fmt: skip
        self.fc = FullyConnectedLayer(
            in_channels * resolution**2, in_channels, activation=activation
        )
        self.out = FullyConnectedLayer(in_channels, 1 if cmap_dim == 0 else cmap_dim)

    def forward(
        self,
        x: torch.Tensor,
        img: torch.Tensor | None,
        cmap: torch.Tensor | None,
        force_fp32: bool = False,
    ) -> torch.Tensor:
        """``x: [N, in_channels, 4, 4]``, ``cmap: [N, cmap_dim]`` -> ``[N, 1]`` (float32)."""
        _check_input(x, self.in_channels, self.resolution, "x")
        x = x.to(dtype=torch.float32, memory_format=torch.contiguous_format)
        if self.architecture == "skip":
            _check_input(img, self.img_channels, self.resolution, "img")
            x = x + self.fromrgb(img.to(dtype=torch.float32, memory_format=torch.contiguous_format))
        if self.mbstd is not None:
            x = self.mbstd(x)
        x = self.out(self.fc(self.conv(x).flatten(1)))
        if self.cmap_dim > 0:
            if cmap is None or tuple(cmap.shape[1:]) != (self.cmap_dim,):
                got = None if cmap is None else tuple(cmap.shape)
                raise ValueError(f"cmap must be [N, {self.cmap_dim}], got {got}")
            x = (x * cmap).sum(dim=1, keepdim=True) * (1 / np.sqrt(self.cmap_dim))
        return x


class Discriminator(InitArgs, nn.Module):
    """StyleGAN2 discriminator (stylegan2-ada-pytorch layout): ``D(img, c) -> [N, 1]`` logits.

    Channels at resolution R: ``min(channel_base // R, channel_max)``; ``cmap_dim`` defaults to
    the 4x4 channels; ``block_kwargs``/``mapping_kwargs``/``epilogue_kwargs`` go to the blocks,
    the label mapping (stylegan2-ada defaults: no hidden layers given, lr multiplier from the
    kwargs) and the epilogue, as in NVIDIA's constructor.
    """

    @records_init
    def __init__(
        self,
        c_dim: int,
        img_resolution: int,
        img_channels: int,
        architecture: str = "resnet",
        channel_base: int = 32768,
        channel_max: int = 512,
        num_fp16_res: int = 0,
        conv_clamp: float | None = None,
        cmap_dim: int | None = None,
        block_kwargs: dict | None = None,
        mapping_kwargs: dict | None = None,
        epilogue_kwargs: dict | None = None,
    ) -> None:
        if img_resolution < 8 or img_resolution & (img_resolution - 1):
            raise ValueError(f"img_resolution must be a power of two >= 8, got {img_resolution}")
        super().__init__()
        self.c_dim = c_dim
        self.img_resolution = img_resolution
        self.img_resolution_log2 = int(np.log2(img_resolution))
        self.img_channels = img_channels
        self.block_resolutions = [2**i for i in range(self.img_resolution_log2, 2, -1)]
        channels = {r: min(channel_base // r, channel_max) for r in [*self.block_resolutions, 4]}
        fp16_resolution = max(2 ** (self.img_resolution_log2 + 1 - num_fp16_res), 8)
        if cmap_dim is None:
            cmap_dim = channels[4]
        if c_dim == 0:
            cmap_dim = 0
        common = dict(img_channels=img_channels, architecture=architecture, conv_clamp=conv_clamp)
        layer_idx = 0
        for res in self.block_resolutions:
            block = DiscriminatorBlock(
                channels[res] if res < img_resolution else 0, channels[res], channels[res // 2],
                resolution=res, first_layer_idx=layer_idx, use_fp16=res >= fp16_resolution,
                **dict(block_kwargs or {}), **common,
            )  # fmt: skip
            setattr(self, f"b{res}", block)
            layer_idx += block.num_layers
        if c_dim > 0:
            self.mapping = MappingNetwork(
                z_dim=0, c_dim=c_dim, w_dim=cmap_dim, num_ws=None, w_avg_beta=None,
                **dict(mapping_kwargs or {}),
            )  # fmt: skip
        self.b4 = DiscriminatorEpilogue(
            channels[4], cmap_dim=cmap_dim, resolution=4, **dict(epilogue_kwargs or {}), **common
        )

    def forward(
        self, img: torch.Tensor, c: torch.Tensor | None = None, **block_kwargs: Any
    ) -> torch.Tensor:
        """``img: [N, img_channels, R, R]``, ``c: [N, c_dim]`` -> logits ``[N, 1]`` (float32).

        ``block_kwargs``: ``force_fp32`` (NVIDIA's switch; non-CUDA devices always run float32);
        ``update_emas`` (the stylegan3 repository's signature) is accepted and has no effect.
        """
        block_kwargs.pop("update_emas", None)
        _check_input(img, self.img_channels, self.img_resolution, "img")
        x = None
        for res in self.block_resolutions:
            x, img = getattr(self, f"b{res}")(x, img, **block_kwargs)
        cmap = None
        if self.c_dim > 0:
            if c is None or c.ndim != 2 or c.shape[1] != self.c_dim:
                got = None if c is None else tuple(c.shape)
                raise ValueError(f"c must be [N, {self.c_dim}], got {got}")
            cmap = self.mapping(None, c)
        return self.b4(x, img, cmap)


def _check_input(t: torch.Tensor | None, channels: int, res: int, name: str) -> None:
    if t is None or t.ndim != 4 or tuple(t.shape[1:]) != (channels, res, res):
        got = None if t is None else tuple(t.shape)
        raise ValueError(f"{name} must be [N, {channels}, {res}, {res}], got {got}")


# --------------------------------------------------------------------------- loading


def build_discriminator(record: Any) -> Discriminator:
    """Rebuild a stored ``Discriminator`` record (official snapshot or ``ganatlas convert``
    output) with this module's classes and load its tensors strictly by name."""
    from ganatlas.networks.persistence import PersistentRecord, rebuild_module

    if not isinstance(record, PersistentRecord):
        raise NetworkPickleError(f"D is a {type(record).__name__}, not a stored network")
    if record.class_name != "Discriminator":
        raise NetworkPickleError(f"D is a {record.class_name!r}, not a Discriminator")
    return rebuild_module(Discriminator, record, "Discriminator", "Discriminator")


def load_discriminator(path: str | Path, device: str | torch.device = "cpu") -> Discriminator:
    """The discriminator ``D`` of a network pickle, eval mode without gradients, on ``device``.

    Reads official PyTorch snapshots (stylegan2-ada-pytorch, stylegan3's StyleGAN2 D, and what
    ``ganatlas convert`` writes) and TensorFlow-era StyleGAN2 pickles (``D_stylegan2`` /
    ``D_main``, converted as NVIDIA's converter does); NetworkPickleError when there is none.
    """
    from ganatlas.networks.persistence import read_snapshot
    from ganatlas.networks.tf_pickle import is_tf_pickle, read_tf_pickle

    path = Path(path)
    try:
        if is_tf_pickle(path):
            from ganatlas.networks.stylegan2_tf_discriminator import convert_tf_discriminator

            tfp = read_tf_pickle(path)
            if tfp.D is None:
                raise NetworkPickleError("the TF-era pickle holds no discriminator")
            d = convert_tf_discriminator(tfp.D)
        else:
            data = read_snapshot(path)
            if not isinstance(data, dict) or data.get("D") is None:
                raise NetworkPickleError("the snapshot holds no discriminator under 'D'")
            d = build_discriminator(data["D"])
    except NetworkPickleError as exc:
        if str(exc).startswith(str(path)):
            raise
        raise type(exc)(f"{path}: {exc}") from None
    except OSError as exc:
        raise NetworkPickleError(f"cannot read network pickle {path}: {exc}") from None
    return d.eval().requires_grad_(False).to(device)

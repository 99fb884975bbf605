"""StyleGAN3 generator (configs T and R) in plain PyTorch, with NVIDIA's parameter/buffer names.

Built from the constructor kwargs of stylegan3's ``training.networks_stylegan3.Generator`` as
stored in official pickles; an official state dict loads strictly and round-trips.

Shapes: ``z: [N, z_dim]``, ``c: [N, c_dim]``, ``ws: [N, num_ws, w_dim]`` with
``num_ws = num_layers + 2``, ``img: [N, img_channels, img_resolution, img_resolution]``.

Each :class:`SynthesisLayer` is a modulated convolution followed by the filtered leaky ReLU
of :mod:`ganatlas.networks.filtered_lrelu` (the op: its plain reference and its fast path).
Speed: activations stay channels-last (``[N, H, W, C]``) between layers, the modulated
convolution is one shared-weight convolution with the styles applied to the activations, and the
op resamples with banded matrix products instead of NVIDIA's zero insertion and depthwise
convolution of the 2x-4x larger image.
fp16 layers run in float16 only on CUDA; elsewhere everything is float32.
"""

from __future__ import annotations

import contextlib
import threading
import weakref
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ganatlas.networks import filtered_lrelu as fl
from ganatlas.networks import stylegan2 as sg2
from ganatlas.networks.base import MappedGenerator, records_init
from ganatlas.networks.filtered_lrelu import Workspace
from ganatlas.networks.resample import (
    BandPlan,
    resample_matrix,
)

__all__ = [
    "FullyConnectedLayer",
    "Generator",
    "MappingNetwork",
    "SynthesisInput",
    "SynthesisLayer",
    "SynthesisNetwork",
    "Workspace",
    "design_lowpass_filter",
    "resample_matrix",
]


# --------------------------------------------------------------------------- filters


def design_lowpass_filter(
    numtaps: int, cutoff: float, width: float, fs: float, radial: bool = False
) -> torch.Tensor | None:
    """Kaiser-windowed low-pass FIR: ``[numtaps]`` (separable), ``[numtaps, numtaps]`` (radial).

    ``None`` for a single tap (identity). Same design as NVIDIA's
    ``SynthesisLayer.design_lowpass_filter`` (scipy ``firwin`` / jinc with a Kaiser window).
    """
    import scipy.signal
    import scipy.special

    if numtaps < 1:
        raise ValueError(f"numtaps must be >= 1, got {numtaps}")
    if numtaps == 1:
        return None
    if not radial:
        f = scipy.signal.firwin(numtaps=numtaps, cutoff=cutoff, width=width, fs=fs)
        return torch.as_tensor(f, dtype=torch.float32)
    x = (np.arange(numtaps) - (numtaps - 1) / 2) / fs
    r = np.hypot(*np.meshgrid(x, x))
    with np.errstate(invalid="ignore", divide="ignore"):
        f = scipy.special.j1(2 * cutoff * (np.pi * r)) / (np.pi * r)
    beta = scipy.signal.kaiser_beta(scipy.signal.kaiser_atten(numtaps, width / (fs / 2)))
    w = np.kaiser(numtaps, beta)
    f *= np.outer(w, w)
    f /= np.sum(f)
    return torch.as_tensor(f, dtype=torch.float32)


# CPU tuning (measured on a 2-core AVX2 CPU).
CONV_GROUP_BYTES = 256 << 20  # conv output of at most this many bytes per product
RADIAL_CHANNEL_BLOCK = fl.RADIAL_CHANNEL_BLOCK  # channels per block of the radial down filter
WORKSPACE_KEEP_BYTES = 512 << 20  # CPU scratch kept between calls up to this size

_KEPT_WORKSPACES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_KEPT_LOCK = threading.Lock()


@contextlib.contextmanager
def _workspace_of(owner: nn.Module):
    """``owner``'s kept :class:`Workspace` for one call (a private one while another thread
    holds it); afterwards it is emptied if it holds over ``WORKSPACE_KEEP_BYTES``."""
    with _KEPT_LOCK:
        ws = _KEPT_WORKSPACES.get(owner)
        if ws is None:
            ws = _KEPT_WORKSPACES[owner] = Workspace()
    if not ws.lock.acquire(blocking=False):
        yield Workspace()
        return
    try:
        yield ws
    finally:
        if ws.nbytes > WORKSPACE_KEEP_BYTES:
            ws.clear()
        ws.lock.release()


# --------------------------------------------------------------------------- layers


class FullyConnectedLayer(sg2.FullyConnectedLayer):
    """stylegan3's constructor (argument order, ``weight_init``, per-feature ``bias_init``) on
    StyleGAN2's layer: ``act(x @ (weight * lr / sqrt(in)).T + bias * lr)``, ``weight: [out, in]``."""

    @records_init
    def __init__(
        self,
        in_features: int,
        out_features: int,
        activation: str = "linear",
        bias: bool = True,
        lr_multiplier: float = 1.0,
        weight_init: float = 1.0,
        bias_init: float | list[float] = 0.0,
        trainable: bool = True,
    ) -> None:
        nn.Module.__init__(self)  # not StyleGAN2's __init__: different signature and init
        if activation not in ("linear", "lrelu"):
            raise ValueError(f"activation must be 'linear' or 'lrelu', got {activation!r}")
        self.in_features = in_features
        self.out_features = out_features
        self.activation = activation
        self.weight_gain = float(lr_multiplier / np.sqrt(in_features))
        self.bias_gain = lr_multiplier
        weight = torch.randn([out_features, in_features]) * (weight_init / lr_multiplier)
        b_init = np.broadcast_to(np.asarray(bias_init, dtype=np.float32), [out_features])
        b = torch.from_numpy(b_init / lr_multiplier) if bias else None
        if trainable:
            self.weight = nn.Parameter(weight)
            self.bias = nn.Parameter(b) if b is not None else None
        else:
            self.register_buffer("weight", weight)
            self.register_buffer("bias", b)


class MappingNetwork(nn.Module):
    """z (and c) -> ws: normalise, ``num_layers`` lrelu layers, broadcast, truncation."""

    @records_init
    def __init__(
        self,
        z_dim: int,
        c_dim: int,
        w_dim: int,
        num_ws: int,
        num_layers: int = 2,
        lr_multiplier: float = 0.01,
        w_avg_beta: float = 0.998,
        freeze_layers: int = 0,
        freeze_embed: bool = False,
    ) -> None:
        super().__init__()
        self.z_dim, self.c_dim, self.w_dim = z_dim, c_dim, w_dim
        self.num_ws = num_ws
        self.num_layers = num_layers
        self.w_avg_beta = w_avg_beta
        self.embed = (
            FullyConnectedLayer(c_dim, w_dim, trainable=not freeze_embed) if c_dim > 0 else None
        )
        features = [z_dim + (w_dim if c_dim > 0 else 0)] + [w_dim] * num_layers
        for idx in range(num_layers):
            layer = FullyConnectedLayer(
                features[idx], features[idx + 1], activation="lrelu",
                lr_multiplier=lr_multiplier, trainable=idx >= freeze_layers,
            )  # fmt: skip
            setattr(self, f"fc{idx}", layer)
        self.register_buffer("w_avg", torch.zeros([w_dim]))

    def forward(
        self,
        z: torch.Tensor,
        c: torch.Tensor | None = None,
        truncation_psi: float = 1,
        truncation_cutoff: int | None = None,
        update_emas: bool = False,
    ) -> torch.Tensor:
        """``z: [N, z_dim]``, ``c: [N, c_dim]`` -> ``ws: [N, num_ws, w_dim]``.

        Truncation: the first ``truncation_cutoff`` (default all) rows become
        ``w_avg + psi * (w - w_avg)``.
        """
        if z.ndim != 2 or z.shape[1] != self.z_dim:
            raise ValueError(f"z must be [N, {self.z_dim}], got {tuple(z.shape)}")
        if truncation_cutoff is None:
            truncation_cutoff = self.num_ws
        x = sg2.normalize_2nd_moment(z.to(torch.float32))
        if self.c_dim > 0:
            if c is None or c.ndim != 2 or c.shape != (z.shape[0], self.c_dim):
                got = None if c is None else tuple(c.shape)
                raise ValueError(f"c must be [{z.shape[0]}, {self.c_dim}], got {got}")
            y = sg2.normalize_2nd_moment(self.embed(c.to(torch.float32)))
            x = torch.cat([x, y], dim=1)
        for idx in range(self.num_layers):
            x = getattr(self, f"fc{idx}")(x)
        if update_emas:
            self.w_avg.copy_(x.detach().mean(dim=0).lerp(self.w_avg, self.w_avg_beta))
        x = x.unsqueeze(1).repeat([1, self.num_ws, 1])
        if truncation_psi != 1:
            x[:, :truncation_cutoff] = self.w_avg.lerp(x[:, :truncation_cutoff], truncation_psi)
        return x


class SynthesisInput(nn.Module):
    """Fourier features: ``w: [N, w_dim]`` -> ``[N, channels, size, size]``.

    The affine layer predicts a rotation and translation applied (with the user ``transform``
    buffer, ``[3, 3]``, the inverse transform of the image) to ``freqs: [C, 2]``/``phases: [C]``.
    """

    @records_init
    def __init__(
        self, w_dim: int, channels: int, size: int, sampling_rate: float, bandwidth: float
    ) -> None:
        super().__init__()
        self.w_dim = w_dim
        self.channels = channels
        self.size = np.broadcast_to(np.asarray(size), [2])
        self.sampling_rate = sampling_rate
        self.bandwidth = bandwidth
        freqs = torch.randn([channels, 2])
        radii = freqs.square().sum(dim=1, keepdim=True).sqrt()
        freqs /= radii * radii.square().exp().pow(0.25)
        freqs *= bandwidth
        phases = torch.rand([channels]) - 0.5
        self.weight = nn.Parameter(torch.randn([channels, channels]))
        self.affine = FullyConnectedLayer(w_dim, 4, weight_init=0, bias_init=[1, 0, 0, 0])
        self.register_buffer("transform", torch.eye(3, 3))
        self.register_buffer("freqs", freqs)
        self.register_buffer("phases", phases)

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        """``w: [N, w_dim]`` -> ``[N, channels, size, size]``."""
        return self.forward_nhwc(w).permute(0, 3, 1, 2)

    def forward_nhwc(self, w: torch.Tensor) -> torch.Tensor:
        """``w: [N, w_dim]`` -> channels-last features ``[N, size, size, channels]``."""
        n = w.shape[0]
        t = self.affine(w)  # (r_c, r_s, t_x, t_y)
        t = t / t[:, :2].norm(dim=1, keepdim=True)
        m_r = torch.eye(3, device=w.device).unsqueeze(0).repeat([n, 1, 1])
        m_r[:, 0, 0] = t[:, 0]
        m_r[:, 0, 1] = -t[:, 1]
        m_r[:, 1, 0] = t[:, 1]
        m_r[:, 1, 1] = t[:, 0]
        m_t = torch.eye(3, device=w.device).unsqueeze(0).repeat([n, 1, 1])
        m_t[:, 0, 2] = -t[:, 2]
        m_t[:, 1, 2] = -t[:, 3]
        transforms = m_r @ m_t @ self.transform.unsqueeze(0)
        freqs = self.freqs.unsqueeze(0)
        phases = self.phases.unsqueeze(0) + (freqs @ transforms[:, :2, 2:]).squeeze(2)
        freqs = freqs @ transforms[:, :2, :2]  # [N, C, 2]
        amplitudes = (
            1 - (freqs.norm(dim=2) - self.bandwidth) / (self.sampling_rate / 2 - self.bandwidth)
        ).clamp(0, 1)
        theta = torch.eye(2, 3, device=w.device)
        theta[0, 0] = 0.5 * self.size[0] / self.sampling_rate
        theta[1, 1] = 0.5 * self.size[1] / self.sampling_rate
        grids = F.affine_grid(
            theta.unsqueeze(0), [1, 1, int(self.size[1]), int(self.size[0])], align_corners=False
        )  # [1, H, W, 2]
        x = (grids.unsqueeze(3) @ freqs.permute(0, 2, 1).unsqueeze(1).unsqueeze(2)).squeeze(3)
        x = x + phases.unsqueeze(1).unsqueeze(2)
        x = torch.sin(x * (np.pi * 2))
        x = x * amplitudes.unsqueeze(1).unsqueeze(2)  # [N, H, W, C]
        x = x @ (self.weight / np.sqrt(self.channels)).t()
        return x  # [N, H, W, C]

    def extra_repr(self) -> str:
        return (
            f"w_dim={self.w_dim}, channels={self.channels}, size={list(self.size)}, "
            f"sampling_rate={self.sampling_rate:g}, bandwidth={self.bandwidth:g}"
        )


class SynthesisLayer(nn.Module):
    """Modulated conv + filtered leaky ReLU: ``[N, in_ch, in_size, in_size]`` -> ``[N, out_ch,
    out_size, out_size]`` (the ToRGB layer: 1x1 conv, no activation, no resampling)."""

    @records_init
    def __init__(
        self,
        w_dim: int,
        is_torgb: bool,
        is_critically_sampled: bool,
        use_fp16: bool,
        in_channels: int,
        out_channels: int,
        in_size: int,
        out_size: int,
        in_sampling_rate: float,
        out_sampling_rate: float,
        in_cutoff: float,
        out_cutoff: float,
        in_half_width: float,
        out_half_width: float,
        conv_kernel: int = 3,
        filter_size: int = 6,
        lrelu_upsampling: int = 2,
        use_radial_filters: bool = False,
        conv_clamp: float | None = 256,
        magnitude_ema_beta: float = 0.999,
    ) -> None:
        super().__init__()
        self.w_dim = w_dim
        self.is_torgb = is_torgb
        self.is_critically_sampled = is_critically_sampled
        self.use_fp16 = use_fp16
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.in_size = np.broadcast_to(np.asarray(in_size), [2])
        self.out_size = np.broadcast_to(np.asarray(out_size), [2])
        self.in_sampling_rate = in_sampling_rate
        self.out_sampling_rate = out_sampling_rate
        self.tmp_sampling_rate = max(in_sampling_rate, out_sampling_rate) * (
            1 if is_torgb else lrelu_upsampling
        )
        self.in_cutoff, self.out_cutoff = in_cutoff, out_cutoff
        self.in_half_width, self.out_half_width = in_half_width, out_half_width
        self.conv_kernel = 1 if is_torgb else conv_kernel
        self.conv_clamp = conv_clamp
        self.magnitude_ema_beta = magnitude_ema_beta

        self.affine = FullyConnectedLayer(w_dim, in_channels, bias_init=1)
        k = self.conv_kernel
        self.weight = nn.Parameter(torch.randn([out_channels, in_channels, k, k]))
        self.bias = nn.Parameter(torch.zeros([out_channels]))
        self.register_buffer("magnitude_ema", torch.ones([]))

        self.up_factor = int(np.rint(self.tmp_sampling_rate / in_sampling_rate))
        if in_sampling_rate * self.up_factor != self.tmp_sampling_rate:
            raise ValueError(
                f"tmp sampling rate {self.tmp_sampling_rate} is not a multiple of the input "
                f"rate {in_sampling_rate}"
            )
        self.up_taps = filter_size * self.up_factor if self.up_factor > 1 and not is_torgb else 1
        self.register_buffer(
            "up_filter",
            design_lowpass_filter(
                self.up_taps, in_cutoff, in_half_width * 2, self.tmp_sampling_rate
            ),
        )
        self.down_factor = int(np.rint(self.tmp_sampling_rate / out_sampling_rate))
        if out_sampling_rate * self.down_factor != self.tmp_sampling_rate:
            raise ValueError(
                f"tmp sampling rate {self.tmp_sampling_rate} is not a multiple of the output "
                f"rate {out_sampling_rate}"
            )
        self.down_taps = (
            filter_size * self.down_factor if self.down_factor > 1 and not is_torgb else 1
        )
        self.down_radial = use_radial_filters and not is_critically_sampled
        self.register_buffer(
            "down_filter",
            design_lowpass_filter(
                self.down_taps, out_cutoff, out_half_width * 2, self.tmp_sampling_rate,
                radial=self.down_radial,
            ),
        )  # fmt: skip
        # Padding on the upsampled image (NVIDIA's arithmetic, symmetric interpretation).
        pad_total = (self.out_size - 1) * self.down_factor + 1
        pad_total -= (self.in_size + self.conv_kernel - 1) * self.up_factor
        pad_total += self.up_taps + self.down_taps - 2
        pad_lo = (pad_total + self.up_factor) // 2
        pad_hi = pad_total - pad_lo
        self.padding = [int(pad_lo[0]), int(pad_hi[0]), int(pad_lo[1]), int(pad_hi[1])]
        self._matrix_cache: dict[tuple, fl.Plans] = {}  # the op's resampling plans

    def forward(
        self,
        x: torch.Tensor,
        w: torch.Tensor,
        noise_mode: str = "const",
        force_fp32: bool = False,
        update_emas: bool = False,
    ) -> torch.Tensor:
        """``x: [N, in_channels, in_h, in_w]``, ``w: [N, w_dim]`` -> ``[N, out_channels, out_h,
        out_w]``. ``noise_mode`` is accepted for NVIDIA compatibility and ignored (no noise)."""
        in_w, in_h = int(self.in_size[0]), int(self.in_size[1])
        if x.ndim != 4 or tuple(x.shape[1:]) != (self.in_channels, in_h, in_w):
            raise ValueError(
                f"x must be [N, {self.in_channels}, {in_h}, {in_w}], got {tuple(x.shape)}"
            )
        y = self.forward_nhwc(
            x.permute(0, 2, 3, 1), w, force_fp32=force_fp32, update_emas=update_emas
        )
        return y.permute(0, 3, 1, 2)

    def forward_nhwc(
        self,
        x: torch.Tensor,
        w: torch.Tensor,
        force_fp32: bool = False,
        update_emas: bool = False,
        workspace: Workspace | None = None,
    ) -> torch.Tensor:
        """:meth:`forward` on channels-last activations: ``x: [N, in_h, in_w, in_channels]``
        -> ``[N, out_h, out_w, out_channels]``. ``workspace``: scratch memory shared by the
        layers of one CPU call (the output may then be a view into it, valid until the layer
        after next runs with the same workspace)."""
        if update_emas:
            magnitude_cur = x.detach().to(torch.float32).square().mean()
            self.magnitude_ema.copy_(
                magnitude_cur.lerp(self.magnitude_ema, self.magnitude_ema_beta)
            )
        input_gain = self.magnitude_ema.rsqrt()
        styles = self.affine(w)  # [N, I]
        weight = self.weight
        if self.is_torgb:
            styles = styles * float(1 / np.sqrt(self.in_channels * self.conv_kernel**2))
            dcoefs = None
        else:
            weight = weight * weight.square().mean([1, 2, 3], keepdim=True).rsqrt()
            styles = styles * styles.square().mean().rsqrt()
            # sum_{i,k} (w[o,i,k] s[n,i])^2 = s^2 @ (sum_k w^2).T
            dcoefs = (styles.square() @ weight.square().sum([2, 3]).t() + 1e-8).rsqrt()  # [N, O]
        use_half = self.use_fp16 and not force_fp32 and x.device.type == "cuda"
        dtype = torch.float16 if use_half else torch.float32
        scale_in = (styles * input_gain).to(dtype)
        if dcoefs is not None:
            dcoefs = dcoefs.to(dtype)
        # Modulated conv (styles on the input, demodulation dcoefs on the output), then the
        # filtered leaky ReLU with the bias: NVIDIA's modulated_conv2d + filtered_lrelu.
        act = dict(
            fu=self.up_filter, fd=self.down_filter, b=self.bias, up=self.up_factor,
            down=self.down_factor, padding=self.padding, gain=1 if self.is_torgb else fl.SQRT2,
            slope=1 if self.is_torgb else 0.2, clamp=self.conv_clamp, cache=self._matrix_cache,
            clamp_check=self._clamp_if_reachable, radial_block=RADIAL_CHANNEL_BLOCK,
        )  # fmt: skip
        n = x.shape[0]
        if x.device.type == "cpu" and n > 1:
            # 3x3 convolutions over groups of samples (larger, faster products; at most
            # CONV_GROUP_BYTES of conv output at a time); the op then takes the group's samples
            # one at a time into the batch output.
            k = self.conv_kernel - 1
            per_sample = (x.shape[1] + k) * (x.shape[2] + k) * self.out_channels
            per_sample *= scale_in.element_size()
            # A 1x1 conv is already one large product per sample (measured faster alone).
            group = 1 if k == 0 else max(1, min(n, CONV_GROUP_BYTES // per_sample))
            out = fl.BatchOutput(n, workspace)
            for i in range(0, n, group):
                j = min(n, i + group)
                y = self._conv(x[i:j], weight, scale_in[i:j])
                d = None if dcoefs is None else dcoefs[i:j]
                fl.filtered_lrelu_nhwc(y, scale=d, out=out, **act)
            return out.result()
        return fl.filtered_lrelu_nhwc(self._conv(x, weight, scale_in), scale=dcoefs, **act)

    def _conv(self, x: torch.Tensor, weight: torch.Tensor, scale_in: torch.Tensor) -> torch.Tensor:
        """``x: [N, H, W, I]`` * ``scale_in: [N, I]`` -> conv (``weight: [O, I, k, k]``, zero
        padding ``k - 1``) -> ``[N, H + k - 1, W + k - 1, O]`` (channels-last)."""
        dtype = scale_in.dtype
        x = x.to(dtype) * scale_in.reshape(x.shape[0], 1, 1, -1)
        if self.conv_kernel == 1:
            return torch.matmul(x, weight.to(dtype)[:, :, 0, 0].t())  # [N, H, W, O]
        pad = self.conv_kernel - 1
        x = F.conv2d(x.permute(0, 3, 1, 2), weight.to(dtype), padding=pad)
        return x.permute(0, 2, 3, 1)  # channels_last conv output: a free view

    def _clamp_if_reachable(self, xp: torch.Tensor, up_h: BandPlan, up_w: BandPlan) -> float | None:
        """``conv_clamp``, or None where the op's bound shows no value reaches it (the op's
        exact clamp skip, :func:`~ganatlas.networks.filtered_lrelu.clamp_if_reachable`)."""
        return fl.clamp_if_reachable(xp, self.conv_clamp, up_h, up_w)

    def extra_repr(self) -> str:
        return (
            f"w_dim={self.w_dim}, is_torgb={self.is_torgb}, "
            f"is_critically_sampled={self.is_critically_sampled}, use_fp16={self.use_fp16}, "
            f"in_size={list(self.in_size)}, out_size={list(self.out_size)}, "
            f"in_channels={self.in_channels}, out_channels={self.out_channels}"
        )


class SynthesisNetwork(nn.Module):
    """ws -> image through the Fourier input, ``num_layers`` layers and ToRGB."""

    @records_init
    def __init__(
        self,
        w_dim: int,
        img_resolution: int,
        img_channels: int,
        channel_base: int = 32768,
        channel_max: int = 512,
        num_layers: int = 14,
        num_critical: int = 2,
        first_cutoff: float = 2,
        first_stopband: float = 2**2.1,
        last_stopband_rel: float = 2**0.3,
        margin_size: int = 10,
        output_scale: float = 0.25,
        num_fp16_res: int = 4,
        **layer_kwargs: Any,
    ) -> None:
        super().__init__()
        unknown = set(layer_kwargs) - LAYER_KWARGS
        if unknown:
            raise TypeError(
                f"unknown StyleGAN3 synthesis kwargs {sorted(unknown)}; allowed: "
                f"{sorted(SYNTHESIS_KWARGS | LAYER_KWARGS)}"
            )
        if num_layers <= num_critical:
            raise ValueError(f"num_layers ({num_layers}) must exceed num_critical ({num_critical})")
        self.w_dim = w_dim
        self.num_ws = num_layers + 2
        self.img_resolution = img_resolution
        self.img_channels = img_channels
        self.num_layers = num_layers
        self.num_critical = num_critical
        self.margin_size = margin_size
        self.output_scale = output_scale
        self.num_fp16_res = num_fp16_res

        # Geometric progression of cutoffs and stopbands (NVIDIA's design, float64).
        last_cutoff = img_resolution / 2
        last_stopband = last_cutoff * last_stopband_rel
        exponents = np.minimum(np.arange(num_layers + 1) / (num_layers - num_critical), 1)
        cutoffs = first_cutoff * (last_cutoff / first_cutoff) ** exponents
        stopbands = first_stopband * (last_stopband / first_stopband) ** exponents
        sampling_rates = np.exp2(np.ceil(np.log2(np.minimum(stopbands * 2, img_resolution))))
        half_widths = np.maximum(stopbands, sampling_rates / 2) - cutoffs
        sizes = sampling_rates + margin_size * 2
        sizes[-2:] = img_resolution
        channels = np.rint(np.minimum((channel_base / 2) / cutoffs, channel_max))
        channels[-1] = img_channels

        self.input = SynthesisInput(
            w_dim=w_dim, channels=int(channels[0]), size=int(sizes[0]),
            sampling_rate=sampling_rates[0], bandwidth=cutoffs[0],
        )  # fmt: skip
        self.layer_names: list[str] = []
        for idx in range(num_layers + 1):
            prev = max(idx - 1, 0)
            layer = SynthesisLayer(
                w_dim=w_dim,
                is_torgb=idx == num_layers,
                is_critically_sampled=idx >= num_layers - num_critical,
                use_fp16=bool(sampling_rates[idx] * (2**num_fp16_res) > img_resolution),
                in_channels=int(channels[prev]), out_channels=int(channels[idx]),
                in_size=int(sizes[prev]), out_size=int(sizes[idx]),
                in_sampling_rate=int(sampling_rates[prev]),
                out_sampling_rate=int(sampling_rates[idx]),
                in_cutoff=cutoffs[prev], out_cutoff=cutoffs[idx],
                in_half_width=half_widths[prev], out_half_width=half_widths[idx],
                **layer_kwargs,
            )  # fmt: skip
            name = f"L{idx}_{layer.out_size[0]}_{layer.out_channels}"
            setattr(self, name, layer)
            self.layer_names.append(name)

    def forward(
        self,
        ws: torch.Tensor,
        noise_mode: str = "random",
        force_fp32: bool = False,
        update_emas: bool = False,
        **layer_kwargs: Any,
    ) -> torch.Tensor:
        """``ws: [N, num_ws, w_dim]`` -> ``img: [N, img_channels, img_res, img_res]`` float32.

        ``noise_mode`` (random/const/none) is accepted and ignored: StyleGAN3 has no noise.
        Keywords are NVIDIA's layer kwargs (noise_mode, force_fp32, update_emas); others are a
        TypeError, as in NVIDIA's layers.
        """
        if layer_kwargs:
            raise TypeError(f"unexpected StyleGAN3 layer kwargs {sorted(layer_kwargs)}")
        if noise_mode not in ("random", "const", "none"):
            raise ValueError(f"noise_mode must be 'random', 'const' or 'none', got {noise_mode!r}")
        if ws.ndim != 3 or tuple(ws.shape[1:]) != (self.num_ws, self.w_dim):
            raise ValueError(f"ws must be [N, {self.num_ws}, {self.w_dim}], got {tuple(ws.shape)}")
        ws_list = ws.to(torch.float32).unbind(dim=1)
        x = self.input.forward_nhwc(ws_list[0])
        # CPU: one scratch memory for all layers, kept for the next call (see Workspace).
        cpu = x.device.type == "cpu"
        with _workspace_of(self) if cpu else contextlib.nullcontext() as workspace:
            for name, w in zip(self.layer_names, ws_list[1:], strict=True):
                layer = getattr(self, name)
                x = layer.forward_nhwc(
                    x, w, force_fp32=force_fp32, update_emas=update_emas, workspace=workspace
                )
        if self.output_scale != 1:
            x = x * self.output_scale
        # Always a copy: the image never shares memory with a kept workspace.
        return x.permute(0, 3, 1, 2).to(torch.float32).clone(memory_format=torch.contiguous_format)


SYNTHESIS_KWARGS = frozenset(
    "channel_base channel_max num_layers num_critical first_cutoff first_stopband "
    "last_stopband_rel margin_size output_scale num_fp16_res".split()
)
LAYER_KWARGS = frozenset(
    "conv_kernel filter_size lrelu_upsampling use_radial_filters conv_clamp "
    "magnitude_ema_beta".split()
)
MAPPING_KWARGS = frozenset("num_layers lr_multiplier w_avg_beta freeze_layers freeze_embed".split())


class Generator(MappedGenerator):
    """StyleGAN3 generator: ``mapping`` (z, c -> ws) and ``synthesis`` (ws -> img).

    Same constructor as NVIDIA's ``training.networks_stylegan3.Generator``: mapping kwargs
    nested in ``mapping_kwargs``, synthesis/layer kwargs flattened. Config T: the defaults;
    config R: ``conv_kernel=1, use_radial_filters=True`` (and doubled channel_base/max).
    """

    synthesis_updates_emas = True  # the layers' input magnitude EMAs

    @records_init
    def __init__(
        self,
        z_dim: int,
        c_dim: int,
        w_dim: int,
        img_resolution: int,
        img_channels: int,
        mapping_kwargs: dict | None = None,
        **synthesis_kwargs: Any,
    ) -> None:
        super().__init__()
        mapping_kwargs = dict(mapping_kwargs or {})
        unknown = set(mapping_kwargs) - MAPPING_KWARGS
        if unknown:
            raise TypeError(
                f"unknown StyleGAN3 mapping_kwargs {sorted(unknown)}; allowed: "
                f"{sorted(MAPPING_KWARGS)}"
            )
        self.z_dim = z_dim
        self.c_dim = c_dim
        self.w_dim = w_dim
        self.img_resolution = img_resolution
        self.img_channels = img_channels
        self.synthesis = SynthesisNetwork(
            w_dim=w_dim, img_resolution=img_resolution, img_channels=img_channels,
            **synthesis_kwargs,
        )  # fmt: skip
        self.num_ws = self.synthesis.num_ws
        self.mapping = MappingNetwork(
            z_dim=z_dim, c_dim=c_dim, w_dim=w_dim, num_ws=self.num_ws, **mapping_kwargs
        )

"""Plain-PyTorch versions of the ops StyleGAN2/StyleGAN3 networks use (no compiled extensions).

Names and arguments follow NVIDIA's ``torch_utils.ops`` so the network code reads the same:

- ``setup_filter(f) -> f``: FIR filter as a float32 tensor, ``[taps]`` (separable) or ``[fh, fw]``
- ``upfirdn2d(x, f, up, down, padding, flip_filter, gain)``: upsample (zero insertion), pad/crop,
  FIR filter, downsample; ``x: [N, C, H, W]``
- ``upsample2d``/``downsample2d``: the padding that keeps the image centred for a factor of 2
- ``bias_act(x, b, dim, act, alpha, gain, clamp)``: bias, activation, gain, clamp
- ``conv2d_resample(x, w, f, up, down, padding, groups, flip_weight)``: convolution fused with FIR
  up/down-sampling, ``w: [O, I/groups, kh, kw]``
- ``modulated_conv2d(x, weight, styles, ...)``: StyleGAN2's modulated/demodulated convolution

Upsampling uses a depthwise transposed convolution instead of explicit zero insertion (same sums,
4x fewer multiplications); everything else uses ``torch.nn.functional`` convolutions.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch.nn import functional as F

Padding = int | Sequence[int]


# --------------------------------------------------------------------------- filters


def setup_filter(
    f: Sequence | np.ndarray | torch.Tensor | float | None,
    device: torch.device | str = "cpu",
    normalize: bool = True,
    flip_filter: bool = False,
    gain: float = 1,
    separable: bool | None = None,
) -> torch.Tensor:
    """FIR filter for :func:`upfirdn2d`: ``[taps]`` when separable, else ``[fh, fw]``.

    A 1-D list of fewer than 8 taps becomes its outer product (2-D); ``normalize`` makes the
    taps sum to 1; ``gain`` scales the overall response (``gain ** (ndim / 2)`` per tap).
    """
    if f is None:
        f = 1
    f = torch.as_tensor(f, dtype=torch.float32, device="cpu")  # filters are built on the CPU
    if f.ndim not in (0, 1, 2) or f.numel() == 0:
        raise ValueError(f"filter must be a scalar, 1-D or 2-D and non-empty, got {tuple(f.shape)}")
    if f.ndim == 0:
        f = f[None]
    if separable is None:
        separable = f.ndim == 1 and f.numel() >= 8
    if f.ndim == 1 and not separable:
        f = torch.outer(f, f)
    if f.ndim != (1 if separable else 2):
        raise ValueError(f"filter of shape {tuple(f.shape)} cannot be separable={separable}")
    if normalize:
        f = f / f.sum()
    if flip_filter:
        f = f.flip(list(range(f.ndim)))
    f = f * (gain ** (f.ndim / 2))
    return f.to(device=device)


def _filter_size(f: torch.Tensor | None) -> tuple[int, int]:
    """(fw, fh) of a filter (1, 1) for None."""
    if f is None:
        return 1, 1
    if f.ndim == 1:
        return f.shape[0], f.shape[0]
    return f.shape[-1], f.shape[-2]


def _pair(v: int | Sequence[int]) -> tuple[int, int]:
    if isinstance(v, int):
        return v, v
    vx, vy = v
    return int(vx), int(vy)


def _padding4(padding: Padding) -> tuple[int, int, int, int]:
    """``padding`` as (x0, x1, y0, y1) from an int, [x, y] or [x0, x1, y0, y1]."""
    if isinstance(padding, int):
        return padding, padding, padding, padding
    p = [int(v) for v in padding]
    if len(p) == 2:
        return p[0], p[0], p[1], p[1]
    if len(p) == 4:
        return p[0], p[1], p[2], p[3]
    raise ValueError(f"padding must be an int or have 2 or 4 entries, got {padding!r}")


# --------------------------------------------------------------------------- upfirdn2d


def _pad_crop(x: torch.Tensor, px0: int, px1: int, py0: int, py1: int) -> torch.Tensor:
    """Zero-pad (positive) or crop (negative) the last two dims of ``x: [N, C, H, W]``."""
    if max(px0, px1, py0, py1) > 0:
        x = F.pad(x, [max(px0, 0), max(px1, 0), max(py0, 0), max(py1, 0)])
    if min(px0, px1, py0, py1) < 0:
        h, w = x.shape[2], x.shape[3]
        x = x[:, :, max(-py0, 0) : h - max(-py1, 0), max(-px0, 0) : w - max(-px1, 0)]
    return x


def _depthwise(
    x: torch.Tensor,
    k: torch.Tensor,
    padding: tuple[int, int] = (0, 0),
    bias: torch.Tensor | None = None,
) -> torch.Tensor:
    """Correlate every channel of ``x: [N, C, H, W]`` with ``k: [kh, kw]`` (zero ``padding``)."""
    c = x.shape[1]
    return F.conv2d(x, k[None, None].expand(c, 1, *k.shape), bias=bias, padding=padding, groups=c)


def upfirdn2d(
    x: torch.Tensor,
    f: torch.Tensor | None,
    up: int | Sequence[int] = 1,
    down: int | Sequence[int] = 1,
    padding: Padding = 0,
    flip_filter: bool = False,
    gain: float = 1,
    bias: torch.Tensor | None = None,
) -> torch.Tensor:
    """Upsample, pad, FIR-filter and downsample ``x: [N, C, H, W]`` -> ``[N, C, H', W']``.

    Same definition as NVIDIA's: zero insertion by ``up``, padding (x0, x1, y0, y1) on the
    upsampled image (negative crops), convolution with ``f`` (true convolution unless
    ``flip_filter``) scaled by ``gain ** (f.ndim / 2)``, then keeping every ``down``-th pixel.
    ``bias: [C]`` (ganatlas extension) is added to the result.
    """
    if x.ndim != 4:
        raise ValueError(f"upfirdn2d expects x [N, C, H, W], got {tuple(x.shape)}")
    if f is None:
        f = torch.ones([1, 1], dtype=torch.float32, device=x.device)
    upx, upy = _pair(up)
    downx, downy = _pair(down)
    px0, px1, py0, py1 = _padding4(padding)
    f = (f * (gain ** (f.ndim / 2))).to(x.dtype)
    if not flip_filter:
        f = f.flip(list(range(f.ndim)))  # now a correlation kernel
    fx = f if f.ndim == 1 else None
    kh, kw = (f.shape[0], f.shape[0]) if f.ndim == 1 else (f.shape[0], f.shape[1])
    if upx > 1 or upy > 1:
        x = _upsample_filter(x, f, upx, upy, px0, px1, py0, py1, kh, kw)
    elif fx is None and px0 == px1 and py0 == py1 and px0 >= 0 and py0 >= 0:
        x = _depthwise(x, f, padding=(py0, px0), bias=bias)  # the conv pads: no padded copy
        bias = None
    else:
        x = _pad_crop(x, px0, px1, py0, py1)
        if fx is not None:
            x = _depthwise(x, fx[None, :])
            x = _depthwise(x, fx[:, None])
        else:
            x = _depthwise(x, f)
    if downx > 1 or downy > 1:
        x = x[:, :, ::downy, ::downx]
    if bias is not None:
        x = x + bias.to(x.dtype).reshape(1, -1, 1, 1)
    return x


def _upsample_filter(
    x: torch.Tensor,
    g: torch.Tensor,
    upx: int,
    upy: int,
    px0: int,
    px1: int,
    py0: int,
    py1: int,
    kh: int,
    kw: int,
) -> torch.Tensor:
    """Zero insertion + padding + correlation with ``g`` as one depthwise transposed conv.

    Correlating the zero-stuffed, ``p0``-padded signal with ``g`` equals a transposed convolution
    with the unflipped filter and padding ``k - 1 - p0``; the far side is cropped/padded after.
    """
    n, c, h, w = x.shape
    k2 = g.flip(list(range(g.ndim)))  # back to the convolution kernel
    if k2.ndim == 1:
        k2 = torch.outer(k2, k2)
    # Make the transposed-conv padding non-negative by pre-padding the input if needed.
    tx, ty = kw - 1 - px0, kh - 1 - py0
    if tx < 0 or ty < 0:
        # Rare: more left padding than the filter covers; fall back to explicit zero insertion.
        y = x.reshape(n, c, h, 1, w, 1)
        y = F.pad(y, [0, upx - 1, 0, 0, 0, upy - 1]).reshape(n, c, h * upy, w * upx)
        y = _pad_crop(y, px0, px1, py0, py1)
        return _depthwise(y, g if g.ndim == 2 else torch.outer(g, g))
    weight = k2[None, None].expand(c, 1, kh, kw)
    y = F.conv_transpose2d(x, weight, stride=(upy, upx), groups=c)
    # Full transposed output has (h-1)*up + k rows; the reference row i maps to y[i + k-1-p0].
    out_h = h * upy + py0 + py1 - kh + 1
    out_w = w * upx + px0 + px1 - kw + 1
    y = y[:, :, ty:, tx:]
    y = y[:, :, :out_h, :out_w]
    dh, dw = out_h - y.shape[2], out_w - y.shape[3]
    if dh > 0 or dw > 0:
        y = F.pad(y, [0, max(dw, 0), 0, max(dh, 0)])
    return y


def upsample2d(
    x: torch.Tensor,
    f: torch.Tensor | None,
    up: int = 2,
    padding: Padding = 0,
    flip_filter: bool = False,
    gain: float = 1,
) -> torch.Tensor:
    """Upsample ``x: [N, C, H, W]`` by ``up`` with FIR filter ``f`` -> ``[N, C, H*up, W*up]``."""
    upx, upy = _pair(up)
    px0, px1, py0, py1 = _padding4(padding)
    fw, fh = _filter_size(f)
    p = [
        px0 + (fw + upx - 1) // 2,
        px1 + (fw - upx) // 2,
        py0 + (fh + upy - 1) // 2,
        py1 + (fh - upy) // 2,
    ]
    return upfirdn2d(x, f, up=up, padding=p, flip_filter=flip_filter, gain=gain * upx * upy)


def downsample2d(
    x: torch.Tensor,
    f: torch.Tensor | None,
    down: int = 2,
    padding: Padding = 0,
    flip_filter: bool = False,
    gain: float = 1,
) -> torch.Tensor:
    """Downsample ``x: [N, C, H, W]`` by ``down`` with FIR filter ``f`` -> ``[N, C, H/d, W/d]``."""
    downx, downy = _pair(down)
    px0, px1, py0, py1 = _padding4(padding)
    fw, fh = _filter_size(f)
    p = [
        px0 + (fw - downx + 1) // 2,
        px1 + (fw - downx) // 2,
        py0 + (fh - downy + 1) // 2,
        py1 + (fh - downy) // 2,
    ]
    return upfirdn2d(x, f, down=down, padding=p, flip_filter=flip_filter, gain=gain)


def filter2d(
    x: torch.Tensor, f: torch.Tensor, padding: Padding = 0, flip_filter: bool = False, gain=1
) -> torch.Tensor:
    """FIR-filter ``x`` keeping its size (padding chosen from the filter size, plus ``padding``)."""
    px0, px1, py0, py1 = _padding4(padding)
    fw, fh = _filter_size(f)
    p = [px0 + fw // 2, px1 + (fw - 1) // 2, py0 + fh // 2, py1 + (fh - 1) // 2]
    return upfirdn2d(x, f, padding=p, flip_filter=flip_filter, gain=gain)


# --------------------------------------------------------------------------- bias_act


@dataclass(frozen=True)
class Activation:
    """An activation with its default slope ``def_alpha`` and output gain ``def_gain``."""

    func: Callable[[torch.Tensor, float], torch.Tensor]
    def_alpha: float = 0.0
    def_gain: float = 1.0


activation_funcs: dict[str, Activation] = {
    "linear": Activation(lambda x, a: x),
    "relu": Activation(lambda x, a: F.relu(x), def_gain=float(np.sqrt(2))),
    "lrelu": Activation(lambda x, a: F.leaky_relu(x, a), 0.2, float(np.sqrt(2))),
    "tanh": Activation(lambda x, a: torch.tanh(x)),
    "sigmoid": Activation(lambda x, a: torch.sigmoid(x)),
    "elu": Activation(lambda x, a: F.elu(x)),
    "selu": Activation(lambda x, a: F.selu(x)),
    "softplus": Activation(lambda x, a: F.softplus(x)),
    "swish": Activation(lambda x, a: torch.sigmoid(x) * x, def_gain=float(np.sqrt(2))),
}


def bias_act(
    x: torch.Tensor,
    b: torch.Tensor | None = None,
    dim: int = 1,
    act: str = "linear",
    alpha: float | None = None,
    gain: float | None = None,
    clamp: float | None = None,
) -> torch.Tensor:
    """``clamp(act(x + b) * gain, -clamp, clamp)``; ``b: [x.shape[dim]]`` broadcast along ``dim``."""
    try:
        spec = activation_funcs[act]
    except KeyError:
        raise ValueError(
            f"unknown activation {act!r}; allowed: {sorted(activation_funcs)}"
        ) from None
    alpha = float(alpha if alpha is not None else spec.def_alpha)
    gain = float(gain if gain is not None else spec.def_gain)
    if b is not None:
        shape = [-1 if i == dim else 1 for i in range(x.ndim)]
        x = x + b.reshape(shape)
    if act == "lrelu" and b is not None:
        x = F.leaky_relu_(x, alpha)  # x is a fresh tensor here
    else:
        x = spec.func(x, alpha)
    if gain != 1:
        x = x * gain
    if clamp is not None and clamp >= 0:
        x = x.clamp(-clamp, clamp)
    return x


# --------------------------------------------------------------------------- conv2d_resample


def _conv2d(
    x: torch.Tensor,
    w: torch.Tensor,
    stride: int = 1,
    padding: int | Sequence[int] = 0,
    groups: int = 1,
    transpose: bool = False,
    flip_weight: bool = True,
) -> torch.Tensor:
    """conv2d (correlation when ``flip_weight``, true convolution otherwise) or its transpose."""
    if not flip_weight and (w.shape[-1] > 1 or w.shape[-2] > 1):
        w = w.flip([2, 3])
    if transpose:
        return F.conv_transpose2d(x, w, stride=stride, padding=padding, groups=groups)
    return F.conv2d(x, w, stride=stride, padding=padding, groups=groups)


def conv2d_resample(
    x: torch.Tensor,
    w: torch.Tensor,
    f: torch.Tensor | None = None,
    up: int = 1,
    down: int = 1,
    padding: Padding = 0,
    groups: int = 1,
    flip_weight: bool = True,
    flip_filter: bool = False,
    bias: torch.Tensor | None = None,
) -> torch.Tensor:
    """2-D convolution with optional FIR up/down-sampling, ``x: [N, I, H, W]``, ``w: [O, I/g, k, k]``.

    ``padding`` is relative to the upsampled image. Up-sampling uses a stride-``up`` transposed
    convolution followed by the FIR filter (gain ``up**2``); down-sampling filters first and then
    uses a strided convolution; 1x1 kernels resample before/after the convolution.
    ``bias: [O]`` (ganatlas extension) is added to the output by the last operation.
    """
    if up < 1 or down < 1:
        raise ValueError(f"up and down must be >= 1, got up={up} down={down}")
    out_channels, in_per_group, kh, kw = w.shape
    fw, fh = _filter_size(f)
    px0, px1, py0, py1 = _padding4(padding)
    if up > 1:
        px0 += (fw + up - 1) // 2
        px1 += (fw - up) // 2
        py0 += (fh + up - 1) // 2
        py1 += (fh - up) // 2
    if down > 1:
        px0 += (fw - down + 1) // 2
        px1 += (fw - down) // 2
        py0 += (fh - down + 1) // 2
        py1 += (fh - down) // 2
    pad = [px0, px1, py0, py1]

    if kw == 1 and kh == 1 and down > 1 and up == 1:
        x = upfirdn2d(x, f, down=down, padding=pad, flip_filter=flip_filter)
        return _add_bias(_conv2d(x, w, groups=groups, flip_weight=flip_weight), bias)
    if kw == 1 and kh == 1 and up > 1 and down == 1:
        x = _conv2d(x, w, groups=groups, flip_weight=flip_weight)
        return upfirdn2d(x, f, up=up, padding=pad, gain=up**2, flip_filter=flip_filter, bias=bias)
    if down > 1 and up == 1:
        x = upfirdn2d(x, f, padding=pad, flip_filter=flip_filter)
        x = _conv2d(x, w, stride=down, groups=groups, flip_weight=flip_weight)
        return _add_bias(x, bias)
    if up > 1:
        if groups == 1:
            w = w.transpose(0, 1)
        else:
            w = w.reshape(groups, out_channels // groups, in_per_group, kh, kw)
            w = w.transpose(1, 2).reshape(groups * in_per_group, out_channels // groups, kh, kw)
        px0 -= kw - 1
        px1 -= kw - up
        py0 -= kh - 1
        py1 -= kh - up
        pxt = max(min(-px0, -px1), 0)
        pyt = max(min(-py0, -py1), 0)
        x = _conv2d(
            x, w, stride=up, padding=[pyt, pxt], groups=groups, transpose=True,
            flip_weight=not flip_weight,
        )  # fmt: skip
        pad = [px0 + pxt, px1 + pxt, py0 + pyt, py1 + pyt]
        if down > 1:
            x = upfirdn2d(x, f, padding=pad, gain=up**2, flip_filter=flip_filter)
            return upfirdn2d(x, f, down=down, flip_filter=flip_filter, bias=bias)
        return upfirdn2d(x, f, padding=pad, gain=up**2, flip_filter=flip_filter, bias=bias)
    if px0 == px1 and py0 == py1 and px0 >= 0 and py0 >= 0:
        x = _conv2d(x, w, padding=[py0, px0], groups=groups, flip_weight=flip_weight)
        return _add_bias(x, bias)
    x = upfirdn2d(x, None, padding=pad)
    return _add_bias(_conv2d(x, w, groups=groups, flip_weight=flip_weight), bias)


def _add_bias(x: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    return x if bias is None else x + bias.to(x.dtype).reshape(1, -1, 1, 1)


# --------------------------------------------------------------------------- modulated conv


def modulated_conv2d(
    x: torch.Tensor,
    weight: torch.Tensor,
    styles: torch.Tensor,
    noise: torch.Tensor | None = None,
    up: int = 1,
    down: int = 1,
    padding: int = 0,
    resample_filter: torch.Tensor | None = None,
    demodulate: bool = True,
    flip_weight: bool = True,
    fused_modconv: bool = True,
) -> torch.Tensor:
    """StyleGAN2 modulated convolution.

    ``x: [N, I, H, W]``, ``weight: [O, I, kh, kw]``, ``styles: [N, I]`` -> ``[N, O, H', W']``.
    The weight is scaled per sample by ``styles`` and, with ``demodulate``, normalised to unit
    norm per output channel; ``noise`` (broadcastable to the output) is added at the end.
    ``fused_modconv`` runs one grouped convolution; otherwise the activations are scaled before
    and after a shared convolution (the same numbers up to rounding).
    """
    n = x.shape[0]
    out_channels, in_channels, kh, kw = weight.shape
    if x.ndim != 4 or x.shape[1] != in_channels:
        raise ValueError(f"x must be [N, {in_channels}, H, W], got {tuple(x.shape)}")
    if tuple(styles.shape) != (n, in_channels):
        raise ValueError(f"styles must be [{n}, {in_channels}], got {tuple(styles.shape)}")
    if x.dtype == torch.float16 and demodulate:
        weight = weight * (
            1 / math.sqrt(in_channels * kh * kw)
            / weight.norm(float("inf"), dim=[1, 2, 3], keepdim=True)
        )  # fmt: skip
        styles = styles / styles.norm(float("inf"), dim=1, keepdim=True)

    dcoefs = demodulation(weight, styles) if demodulate else None  # [N, O]
    if not fused_modconv:
        x = x * styles.to(x.dtype).reshape(n, -1, 1, 1)
        x = conv2d_resample(
            x, weight.to(x.dtype), f=resample_filter, up=up, down=down, padding=padding,
            flip_weight=flip_weight,
        )  # fmt: skip
        if demodulate and noise is not None:
            return torch.addcmul(noise.to(x.dtype), x, dcoefs.to(x.dtype).reshape(n, -1, 1, 1))
        if demodulate:
            return x * dcoefs.to(x.dtype).reshape(n, -1, 1, 1)
        if noise is not None:
            return x.add_(noise.to(x.dtype))
        return x
    w = modulated_weight(weight, styles, dcoefs)  # [N * O, I, kh, kw]
    x = x.reshape(1, -1, *x.shape[2:])
    x = conv2d_resample(
        x, w.to(x.dtype), f=resample_filter, up=up, down=down, padding=padding, groups=n,
        flip_weight=flip_weight,
    )  # fmt: skip
    x = x.reshape(n, -1, *x.shape[2:])
    if noise is not None:
        x = x.add_(noise)
    return x


def demodulation(weight: torch.Tensor, styles: torch.Tensor) -> torch.Tensor:
    """``[N, O]`` = 1 / |weight[o] * styles[n]| (the demodulation coefficients).

    ``sum_{i,k} (w[o,i,k] s[n,i])^2 = sum_i s[n,i]^2 sum_k w[o,i,k]^2``: one small matmul
    instead of the ``[N, O, I, kh, kw]`` modulated weight.
    """
    wsq = weight.to(styles.dtype).square().sum(dim=[2, 3])  # [O, I]
    return (styles.square() @ wsq.t() + 1e-8).rsqrt()


def modulated_weight(
    weight: torch.Tensor, styles: torch.Tensor, scale: torch.Tensor | None = None
) -> torch.Tensor:
    """Per-sample weights ``[N * O, I, kh, kw]`` = ``weight * styles[n, i] * scale[n, o]``."""
    n = styles.shape[0]
    out_channels, in_channels, kh, kw = weight.shape
    w = weight.unsqueeze(0) * styles.reshape(n, 1, -1, 1, 1)
    if scale is not None:
        w = w * scale.reshape(n, -1, 1, 1, 1)
    return w.reshape(n * out_channels, in_channels, kh, kw)


def modulated_conv_act(
    x: torch.Tensor,
    weight: torch.Tensor,
    styles: torch.Tensor,
    bias: torch.Tensor,
    noise: torch.Tensor | None = None,
    up: int = 1,
    padding: int = 0,
    resample_filter: torch.Tensor | None = None,
    demodulate: bool = True,
    alpha: float = 0.2,
    gain: float = 1.0,
    clamp: float | None = None,
    lrelu: bool = True,
    per_sample: bool | None = None,
) -> torch.Tensor:
    """Fused StyleGAN2 synthesis step: modulated conv + noise + bias + (leaky ReLU) + gain + clamp.

    ``x: [N, I, H, W]``, ``weight: [O, I, k, k]``, ``styles: [N, I]``, ``bias: [O]``, ``noise``
    broadcastable to ``[N, O, H*up, W*up]``. Equals ``bias_act(modulated_conv2d(...) , bias,
    'lrelu' or 'linear', gain, clamp)`` up to float rounding; because ``gain > 0`` it is folded
    into the weights and bias, the bias is added by the convolution and the activation and clamp
    run in place, so the big activation tensor is written only by the convolution.

    ``per_sample``: one grouped convolution with per-sample weights (True) or a shared-weight
    convolution of style-scaled activations (False); None picks the cheaper one (shared weights
    for channels-last input, where grouped convolutions are slow).
    """
    n = x.shape[0]
    out_channels, _, kh, kw = weight.shape
    if not gain > 0:
        raise ValueError(f"gain must be positive, got {gain}")
    if x.dtype == torch.float16 and demodulate:
        # As NVIDIA does: keep float16 sums in range; demodulation cancels these scales.
        in_channels = weight.shape[1]
        weight = weight * (
            1 / math.sqrt(in_channels * kh * kw)
            / weight.norm(float("inf"), dim=[1, 2, 3], keepdim=True)
        )  # fmt: skip
        styles = styles / styles.norm(float("inf"), dim=1, keepdim=True)
    scale = demodulation(weight, styles) * gain if demodulate else None
    if scale is None and gain != 1:
        scale = torch.full([n, out_channels], gain, dtype=styles.dtype, device=styles.device)
    b = (bias * gain).to(x.dtype)
    if per_sample is None:
        # Per-sample weights cost N*O*I*k*k; scaling the activations instead costs N*I*H*W.
        channels_last = x.ndim == 4 and x.is_contiguous(memory_format=torch.channels_last)
        per_sample = not channels_last and out_channels * kh * kw < x.shape[2] * x.shape[3]
    if kh == kw == 1 and up == 1 and padding == 0:
        # 1x1 (toRGB): a batched matmul over pixels, [N, HW, I] @ [N, I, O], no extra pass.
        w = modulated_weight(weight, styles, scale).reshape(n, out_channels, -1)
        pix = x.permute(0, 2, 3, 1).reshape(n, -1, x.shape[1])  # a view for channels-last x
        y = torch.baddbmm(b.reshape(1, 1, -1), pix, w.transpose(1, 2).to(x.dtype))
        y = y.reshape(n, x.shape[2], x.shape[3], out_channels).permute(0, 3, 1, 2)
        if noise is not None:
            y.add_(noise.to(y.dtype) * gain)
    elif per_sample:
        w = modulated_weight(weight, styles, scale).to(x.dtype)
        xg = x.reshape(1, -1, *x.shape[2:])
        y = conv2d_resample(
            xg, w, f=resample_filter, up=up, padding=padding, groups=n, flip_weight=(up == 1),
            bias=b.repeat(n),
        )  # fmt: skip
        y = y.reshape(n, out_channels, *y.shape[2:])
        if noise is not None:
            y.add_(noise.to(y.dtype) * gain)
    else:
        xs = x * styles.to(x.dtype).reshape(n, -1, 1, 1)
        y = conv2d_resample(
            xs, weight.to(x.dtype), f=resample_filter, up=up, padding=padding,
            flip_weight=(up == 1),
        )  # fmt: skip
        if scale is not None:
            y.mul_(scale.to(y.dtype).reshape(n, -1, 1, 1))
        y.add_(b.reshape(1, -1, 1, 1))
        if noise is not None:
            y.add_(noise.to(y.dtype) * gain)
    if lrelu:
        F.leaky_relu_(y, alpha)
    if clamp is not None and clamp >= 0:
        y.clamp_(-clamp, clamp)
    return y

"""StyleGAN3's filtered leaky ReLU: upsample, bias, leaky ReLU, clamp, downsample.

What it computes (:func:`filtered_lrelu_ref`, NCHW, NVIDIA's definition of ``filtered_lrelu``)::

    x = x + b                                        # per-channel bias
    x = upfirdn2d(x, fu, up=up, padding=padding, gain=up**2)
    x = clamp(leaky_relu(x, slope) * gain, -clamp, clamp)
    x = upfirdn2d(x, fd, down=down)

``upfirdn2d`` inserts ``up - 1`` zeros after each sample, pads (negative: crops), convolves with
the filter (a true convolution; ``flip_filter=True``: a correlation) and keeps every ``down``-th
sample. A 1-D filter ``[T]`` is separable (applied along W, then H, each pass with
``gain ** 0.5``); a 2-D filter ``[T, T]`` is radial (non-separable, ``gain`` once); ``None`` is
the identity. ``padding``: an int, ``[px, py]`` or ``[px0, px1, py0, py1]``.

The fast path (:func:`filtered_lrelu_nhwc`, channels-last ``[N, H, W, C]``) computes the same
thing as banded matrix products (:mod:`ganatlas.networks.resample`): each separable pass along
one axis is a shared block matrix on overlapping windows of the zero-padded input (zero
insertion, padding, filter, gain and decimation in one product); the lrelu gain rides in the
first up pass; the spatial axes swap between the H and W passes so that every pass runs along
the outer axis. A radial down filter runs as a strided depthwise convolution. On the CPU, without
autograd, a batch goes one sample at a time (its upsampled intermediate then stays in cache)
through scratch buffers kept in a :class:`Workspace`, the clamp is skipped where no value can
reach it (exact), and each sample's last pass writes into the batch output
(:class:`BatchOutput`).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence
from typing import NamedTuple

import torch
from torch.nn import functional as F

from ganatlas.networks.resample import (
    BandPlan,
    apply_band,
    band_plan,
    output_length,
    padded_buffer,
    padded_rows,
)

__all__ = [
    "BatchOutput",
    "Plans",
    "Workspace",
    "clamp_if_reachable",
    "filtered_lrelu",
    "filtered_lrelu_nhwc",
    "filtered_lrelu_ref",
    "parse_padding",
    "plans",
    "upfirdn2d_ref",
]

SQRT2 = math.sqrt(2)

# Output rows per block of a banded resampling product (measured on a 2-core AVX2 CPU, one
# thread per sample); GPUs: few large batched products (each product is a kernel launch).
BLOCK_ROWS_CPU = 8
BLOCK_ROWS_GPU = 128
RADIAL_CHANNEL_BLOCK = 16  # CPU: channels per block for the radial (2-D) down filter


# --------------------------------------------------------------------------- reference


def parse_padding(padding: int | Sequence[int]) -> tuple[int, int, int, int]:
    """``padding`` as ``(px0, px1, py0, py1)`` (x: the W axis, y: the H axis)."""
    if isinstance(padding, int):
        return (padding,) * 4
    p = [int(v) for v in padding]
    if len(p) == 2:
        return (p[0], p[0], p[1], p[1])
    if len(p) == 4:
        return (p[0], p[1], p[2], p[3])
    raise ValueError(f"padding must be an int or 2 or 4 ints, got {padding!r}")


def upfirdn2d_ref(
    x: torch.Tensor,
    f: torch.Tensor | None,
    up: int = 1,
    down: int = 1,
    padding: int | Sequence[int] = 0,
    gain: float = 1.0,
    flip_filter: bool = False,
) -> torch.Tensor:
    """``x: [N, C, H, W]``: zero insertion, padding, FIR filter, decimation (see the module)."""
    n, c, h, w = x.shape
    px0, px1, py0, py1 = parse_padding(padding)
    if up > 1:
        z = x.new_zeros(n, c, h * up, w * up)
        z[:, :, ::up, ::up] = x
        x = z
    x = F.pad(x, [max(px0, 0), max(px1, 0), max(py0, 0), max(py1, 0)])
    x = x[:, :, max(-py0, 0) : x.shape[2] - max(-py1, 0), max(-px0, 0) : x.shape[3] - max(-px1, 0)]
    if f is None:
        x = x * gain if gain != 1 else x
    else:
        f = f.to(x.dtype) * gain ** (f.ndim / 2)
        if not flip_filter:
            f = f.flip(list(range(f.ndim)))  # conv2d correlates: a flipped filter convolves
        if f.ndim == 1:
            x = F.conv2d(x, f.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)  # along W
            x = F.conv2d(x, f.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)  # along H
        else:
            x = F.conv2d(x, f.view(1, 1, *f.shape).expand(c, 1, *f.shape), groups=c)
    return x[:, :, ::down, ::down]


def filtered_lrelu_ref(
    x: torch.Tensor,
    fu: torch.Tensor | None = None,
    fd: torch.Tensor | None = None,
    b: torch.Tensor | None = None,
    up: int = 1,
    down: int = 1,
    padding: int | Sequence[int] = 0,
    gain: float = SQRT2,
    slope: float = 0.2,
    clamp: float | None = None,
    flip_filter: bool = False,
) -> torch.Tensor:
    """The filtered leaky ReLU of ``x: [N, C, H, W]``, plainly (see the module); differentiable."""
    if b is not None:
        x = x + b.to(x.dtype).reshape(1, -1, 1, 1)
    x = upfirdn2d_ref(x, fu, up=up, padding=padding, gain=up**2, flip_filter=flip_filter)
    x = F.leaky_relu(x, slope) * gain
    if clamp is not None:
        x = x.clamp(-clamp, clamp)
    return upfirdn2d_ref(x, fd, down=down, flip_filter=flip_filter)


# --------------------------------------------------------------------------- fast path


def filtered_lrelu(
    x: torch.Tensor,
    fu: torch.Tensor | None = None,
    fd: torch.Tensor | None = None,
    b: torch.Tensor | None = None,
    up: int = 1,
    down: int = 1,
    padding: int | Sequence[int] = 0,
    gain: float = SQRT2,
    slope: float = 0.2,
    clamp: float | None = None,
    flip_filter: bool = False,
    impl: str = "fast",
) -> torch.Tensor:
    """NVIDIA's ``filtered_lrelu`` API on ``x: [N, C, H, W]``: ``impl="fast"``
    (:func:`filtered_lrelu_nhwc` on the channels-last view) or ``"ref"``
    (:func:`filtered_lrelu_ref`)."""
    args = (fu, fd, b, up, down, padding, gain, slope, clamp, flip_filter)
    if impl == "ref":
        return filtered_lrelu_ref(x, *args)
    if impl != "fast":
        raise ValueError(f"impl must be 'fast' or 'ref', got {impl!r}")
    return filtered_lrelu_nhwc(x.permute(0, 2, 3, 1), *args).permute(0, 3, 1, 2)


def _needs_grad(*xs: torch.Tensor | None) -> bool:
    """Whether autograd records ops on ``xs`` (then no in-place writes into buffers)."""
    return torch.is_grad_enabled() and any(x is not None and x.requires_grad for x in xs)


class Plans(NamedTuple):
    """The fast path's passes for ``[N, H, W, C]`` activations (see :func:`plans`)."""

    up_h: BandPlan
    up_w: BandPlan
    down_h: BandPlan | None  # None with a radial down filter
    down_w: BandPlan | None
    down_2d: torch.Tensor | None  # the radial down filter as a conv kernel [1, 1, t, t]


def _filter_key(f: torch.Tensor | None) -> tuple | None:
    return None if f is None else (f.data_ptr(), f._version, tuple(f.shape), f.dtype)


def plans(
    fu: torch.Tensor | None,
    fd: torch.Tensor | None,
    h: int,
    w: int,
    up: int = 1,
    down: int = 1,
    padding: int | Sequence[int] = 0,
    gain: float = SQRT2,
    flip_filter: bool = False,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str = "cpu",
    cache: dict | None = None,
) -> Plans:
    """The passes of the fast path for an ``[N, h, w, C]`` input.

    Each :class:`BandPlan` resamples the H or W axis; ``gain`` (the lrelu gain, > 0) and
    ``up**2`` are in ``up_h``/``up_w``; ``up_w`` computes every row ``down_w`` reads (the extra
    ones from zeros), so no copy is needed between them. ``cache``: a dict the caller keeps
    for its filters (keyed by their storage and version, so in-place changes are seen).
    """
    px0, px1, py0, py1 = parse_padding(padding)
    device = torch.device(device)
    key = (
        h, w, up, down, (px0, px1, py0, py1), gain, flip_filter, dtype, device,
        _filter_key(fu), _filter_key(fd),
    )  # fmt: skip
    hit = None if cache is None else cache.get(key)
    if hit is not None:
        return hit
    if fu is not None and fu.ndim != 1:
        raise ValueError(f"the fast path needs a 1-D (separable) up filter, got {tuple(fu.shape)}")
    if flip_filter:  # band_plan convolves: a flipped filter correlates
        fu = None if fu is None else fu.flip(0)
        fd = fd.flip(0) if fd is not None and fd.ndim == 1 else fd
    rows = BLOCK_ROWS_CPU if device.type == "cpu" else BLOCK_ROWS_GPU
    opts = dict(rows=rows, dtype=dtype, device=device)
    # Each 1-D pass of a separable filter carries gain**0.5 (upfirdn2d's convention).
    up_h = band_plan(fu, h, up=up, pad0=py0, pad1=py1, gain=up * gain, **opts)
    tmp_h = up_h.n_out
    tmp_w = output_length(fu, w, up=up, pad0=px0, pad1=px1)
    down_2d = down_h = down_w = None
    if fd is not None and fd.ndim == 2:
        k = fd.detach() if flip_filter else fd.detach().flip([0, 1])
        down_2d = k[None, None].to(device=device, dtype=dtype)
    else:
        down_h = band_plan(fd, tmp_h, down=down, **opts)
        down_w = band_plan(fd, tmp_w, down=down, **opts)
    up_w = band_plan(
        fu, w, up=up, pad0=px0, pad1=px1, gain=up,
        min_rows_out=0 if down_w is None else down_w.rows_in, **opts,
    )  # fmt: skip
    out = Plans(up_h, up_w, down_h, down_w, down_2d)
    if cache is not None:
        if len(cache) >= 4:
            cache.clear()
        cache[key] = out
    return out


def _is_identity(fu, fd, up: int, down: int, padding) -> bool:
    return up == 1 and down == 1 and fu is None and fd is None and not any(parse_padding(padding))


def _act(
    y: torch.Tensor, inplace: bool, clamp: float | None, slope: float, gain: float = 1.0
) -> torch.Tensor:
    """Leaky ReLU (none for ``slope`` 1) times ``gain``, then clamp to ``+-clamp`` (None: no
    clamp). The resampling passes use gain 1: there the lrelu gain is inside ``up_h``."""
    if slope != 1:
        y = F.leaky_relu_(y, slope) if inplace else F.leaky_relu(y, slope)
    if gain != 1:
        y = y.mul_(gain) if inplace else y * gain
    if clamp is not None:
        y = y.clamp_(-clamp, clamp) if inplace else y.clamp(-clamp, clamp)
    return y


def _bias(
    x: torch.Tensor, b: torch.Tensor | None, scale: torch.Tensor | None, out=None
) -> torch.Tensor:
    """``x * scale + b`` (either may be None), into ``out`` when given."""
    if scale is None and b is None:
        return x if out is None else out.copy_(x)
    if scale is None:
        return torch.add(x, b) if out is None else torch.add(x, b, out=out)
    if b is None:
        return torch.mul(x, scale) if out is None else torch.mul(x, scale, out=out)
    return torch.addcmul(b, x, scale) if out is None else torch.addcmul(b, x, scale, out=out)


def filtered_lrelu_nhwc(
    x: torch.Tensor,
    fu: torch.Tensor | None = None,
    fd: torch.Tensor | None = None,
    b: torch.Tensor | None = None,
    up: int = 1,
    down: int = 1,
    padding: int | Sequence[int] = 0,
    gain: float = SQRT2,
    slope: float = 0.2,
    clamp: float | None = None,
    flip_filter: bool = False,
    *,
    scale: torch.Tensor | None = None,
    out: BatchOutput | None = None,
    cache: dict | None = None,
    clamp_check: Callable[[torch.Tensor, BandPlan, BandPlan], float | None] | None = None,
    radial_block: int | None = None,
) -> torch.Tensor | None:
    """The filtered leaky ReLU of channels-last ``x: [N, H, W, C]`` -> ``[N, H', W', C]``.

    Same arguments as :func:`filtered_lrelu_ref` (``fu`` must be 1-D or None; a 2-D ``fu``
    falls back to the reference), plus:

    - ``scale: [N, C]``: per-sample channel scales applied before the bias (``x * scale + b``;
      StyleGAN3's demodulation), fused into the first pass's input.
    - ``out``: the samples of ``x`` are the next ones of a CPU batch: each goes through the
      fast path alone and lands in ``out`` (see :class:`BatchOutput`); returns None. Without
      ``out``, a CPU batch of several samples takes the same path with private buffers.
    - ``cache``: a dict the caller keeps, for :func:`plans`.
    - ``clamp_check(xp, up_h, up_w)``: the clamp the one-sample CPU path applies, given the
      padded input and the up passes (default: :func:`clamp_if_reachable` of ``clamp``).
    - ``radial_block``: channels per block of a radial down filter on that path (default
      ``RADIAL_CHANNEL_BLOCK``).

    Autograd: when it records (``x``, ``b`` or ``scale`` require grad) every op runs out of
    place; otherwise intermediates are written in place.
    """
    n, h, w, c = x.shape
    if b is not None:
        b = b.to(x.dtype)
    scale = None if scale is None else scale.reshape(n, 1, 1, c)
    if fu is not None and fu.ndim != 1:
        y = _bias(x, b, scale).permute(0, 3, 1, 2)
        args = (fu, fd, None, up, down, padding, gain, slope, clamp, flip_filter)
        y = filtered_lrelu_ref(y, *args).permute(0, 2, 3, 1)
        return y if out is None else out.parts.append(y)
    grad = _needs_grad(x, b, scale)
    identity = _is_identity(fu, fd, up, down, padding)
    kw = dict(
        fu=fu, fd=fd, up=up, down=down, padding=padding, gain=gain, slope=slope, clamp=clamp,
        flip_filter=flip_filter, cache=cache,
    )  # fmt: skip
    if out is None and x.device.type == "cpu" and n > 1 and not identity:
        out = BatchOutput(n)  # one sample at a time, private buffers
        filtered_lrelu_nhwc(
            x, b=b, scale=scale, out=out, clamp_check=clamp_check, radial_block=radial_block,
            **kw,
        )  # fmt: skip
        return out.result()
    if out is not None:
        for i in range(n):
            s = None if scale is None else scale[i : i + 1]
            if identity or grad:
                out.parts.append(filtered_lrelu_nhwc(x[i : i + 1], b=b, scale=s, **kw))
            else:
                _one_sample(x[i : i + 1], b, s, out, clamp_check, radial_block, **kw)
        return None
    if identity or grad:
        y = _bias(x, b, scale)
        if identity:
            return _act(y, False, clamp, slope, gain)
        y = y.contiguous()
        p = plans(fu, fd, h, w, dtype=y.dtype, device=y.device, **_plan_kw(kw))
        xp = padded_rows(p.up_h, y.reshape(n, h, w * c), grad=True)
        return _resample_act(xp, h, w, c, p, clamp, slope, down, grad=True)
    p = plans(fu, fd, h, w, dtype=x.dtype, device=x.device, **_plan_kw(kw))
    xp, dst = padded_buffer(p.up_h, x, (w, c))
    _bias(x, b, scale, out=dst)
    return _resample_act(xp.view(n, p.up_h.rows_in, w * c), h, w, c, p, clamp, slope, down)


def _plan_kw(kw: dict) -> dict:
    return {k: kw[k] for k in ("up", "down", "padding", "gain", "flip_filter", "cache")}


def _one_sample(
    x: torch.Tensor,
    b: torch.Tensor | None,
    scale: torch.Tensor | None,
    out: BatchOutput,
    clamp_check: Callable | None,
    radial_block: int | None,
    *,
    fu: torch.Tensor | None,
    fd: torch.Tensor | None,
    up: int,
    down: int,
    padding,
    gain: float,
    slope: float,
    clamp: float | None,
    flip_filter: bool,
    cache: dict | None,
) -> None:
    """One sample ``x: [1, H, W, C]`` of a CPU batch, no autograd, into ``out``'s next slot.

    Bias and scale are written straight into the first pass's zero-padded input; the
    intermediates live in ``out``'s workspace; the last pass writes into the batch output.
    """
    _, h, w, c = x.shape
    p = plans(
        fu, fd, h, w, up=up, down=down, padding=padding, gain=gain, flip_filter=flip_filter,
        dtype=x.dtype, device=x.device, cache=cache,
    )  # fmt: skip
    xp, dst = out.ws.padded("input", p.up_h, x, (w, c))
    _bias(x, b, scale, out=dst)
    if clamp_check is None:
        clamp = clamp_if_reachable(xp, clamp, p.up_h, p.up_w)
    else:
        clamp = clamp_check(xp, p.up_h, p.up_w)
    xp = xp.view(1, p.up_h.rows_in, w * c)
    _resample_act(xp, h, w, c, p, clamp, slope, down, sink=out, radial_block=radial_block)
    out.index += 1


def clamp_if_reachable(
    xp: torch.Tensor, clamp: float | None, up_h: BandPlan, up_w: BandPlan
) -> float | None:
    """``clamp``, or None when no upsampled value of ``xp`` can reach it.

    Each up pass is a weighted sum, so ``|up_w(up_h(x))| <= |x|_max * A_h * A_w`` with
    ``A`` the largest absolute row sum of a pass's block (gains included), and the leaky
    ReLU never grows a magnitude. Below the clamp (with a margin far above float
    rounding) clamping changes no value, so it is skipped: one pass over the input
    instead of one over the four times larger upsampled tensor.
    """
    if clamp is None:
        return None
    lo, hi = torch.aminmax(xp)
    peak = max(-float(lo), float(hi))
    bound = peak * up_h.max_row_sum * up_w.max_row_sum
    return clamp if not bound * 1.001 < clamp else None


def _swap_axes(
    y: torch.Tensor,
    n_outer: int,
    n_inner: int,
    c: int,
    plan: BandPlan,
    grad: bool,
    sink: BatchOutput | None = None,
    role: str = "swap",
) -> torch.Tensor:
    """``y: [B, >= n_outer, n_inner * C]`` -> ``[B, plan.rows_in, n_outer * C]``: the two
    spatial axes swapped, written straight into the next pass's zero-padded input (the
    ``sink``'s reused buffer ``role`` when given)."""
    b = y.shape[0]
    t = y[:, :n_outer].reshape(b, n_outer, n_inner, c).transpose(1, 2)
    if grad:
        return padded_rows(plan, t.reshape(b, n_inner, n_outer * c), grad=True)
    if sink is None:
        out, inside = padded_buffer(plan, y, (n_outer, c))
    else:
        out, inside = sink.ws.padded(role, plan, y, (n_outer, c))
    inside.copy_(t)
    return out.reshape(b, plan.rows_in, n_outer * c)


def _resample_act(
    xp: torch.Tensor,
    h: int,
    w: int,
    c: int,
    p: Plans,
    clamp: float | None,
    slope: float,
    down: int,
    grad: bool = False,
    sink: BatchOutput | None = None,
    radial_block: int | None = None,
) -> torch.Tensor | None:
    """The passes on ``xp: [N, up_h.rows_in, W*C]``, the ``[N, H, W, C]`` input already
    inside the first pass's zero padding. With a ``sink`` (one sample of a batch, no
    autograd) the intermediates go to the sink's reused buffers and the last pass writes
    straight into the batch's output."""
    n = xp.shape[0]
    up_h, up_w, down_h, down_w, down_2d = p

    def band(plan: BandPlan, x: torch.Tensor, role: str) -> torch.Tensor:
        if sink is None:
            return apply_band(plan, x)
        dst = sink.ws.tensor(role, (n, plan.rows_out, x.shape[2]), x)
        return apply_band(plan, x, out=dst)

    # Every resampling pass runs along the outer spatial axis (contiguous slabs); between
    # the H and W passes the two spatial axes swap places.
    y = band(up_h, xp, "up_h")
    if down_2d is not None and sink is not None:
        block = RADIAL_CHANNEL_BLOCK if radial_block is None else radial_block
        _radial_blocked(y, w, c, up_h, up_w, down_2d, down, clamp, slope, sink, block)
        return None
    y = _swap_axes(y, up_h.n_out, w, c, up_w, grad, sink, "swap_up")  # [N, rows_in(W), Ht*C]
    y = band(up_w, y, "up_w")  # [N, >= Wt, Ht*C]
    y = _act(y, not grad, clamp, slope)
    tmp_h, tmp_w = up_h.n_out, up_w.n_out
    if down_2d is not None:
        # Depthwise conv on the channels_last view [N, C, Wt, Ht] with the transposed filter.
        y = y[:, :tmp_w].reshape(n, tmp_w, tmp_h, c).permute(0, 3, 1, 2)
        k = down_2d.transpose(2, 3).expand(c, 1, *down_2d.shape[2:])
        y = F.conv2d(y, k, stride=down, groups=c)  # [N, C, Wo, Ho]
        return y.permute(0, 3, 2, 1).contiguous()  # [N, Ho, Wo, C] (no sink: see above)
    y = band(down_w, y, "down_w")  # [N, >= Wo, Ht*C] (up_w made the rows_in it reads)
    y = _swap_axes(y, down_w.n_out, tmp_h, c, down_h, grad, sink, "swap_down")
    ho, wo = down_h.n_out, down_w.n_out  # y: [N, rows_in(H), Wo*C]
    if sink is not None:
        feat = y.shape[2]
        dst = sink.slot((down_h.rows_out, feat), y)
        apply_band(down_h, y, out=dst)
        sink.done(lambda b: b[:, :ho].view(b.shape[0], ho, wo, c))
        return None
    y = apply_band(down_h, y)[:, :ho]  # [N, Ho, Wo*C]
    return y.reshape(n, ho, wo, c)


def _radial_blocked(
    y: torch.Tensor,
    w: int,
    c: int,
    up_h: BandPlan,
    up_w: BandPlan,
    down_2d: torch.Tensor,
    down: int,
    clamp: float | None,
    slope: float,
    sink: BatchOutput,
    block: int,
) -> None:
    """The rest of :func:`_resample_act` for a radial (2-D) down filter, one sample, in
    channel blocks: ``y: [1, >= Ht, W*C]`` (after ``up_h``) -> this sample's
    ``[1, Ho, Wo, C]`` in the sink.

    The depthwise 2-D filter is about twice as fast on ``block`` (16) channels per pixel as on
    all C (measured on a 2-core AVX2 CPU), so the W pass writes ``[G, Wt, Ht, cb]``: G blocks
    of cb channels (the last one zero-filled to cb), each block ``R`` rows apart with ``R`` a
    multiple of the pass's window step, so that one product with uniformly strided windows
    covers every block (the windows between blocks compute finite rows that are never used).
    Same arithmetic as the channels-last path, value for value.
    """
    cb = min(block, c)
    g = -(-c // cb)
    full = c // cb  # blocks with cb real channels
    ht = up_h.n_out
    step, k = up_w.step, up_w.block.shape[1]
    rows_g = -(-up_w.rows_in // step) * step  # rows per block in the W pass's input
    nwin = rows_g // step  # windows per block (up_w.blocks of them are used)
    feat = ht * cb
    # The W pass's input, zero outside the data (zeroed only when the layout changes).
    total = max(g * rows_g, up_w.start + (g * nwin - 1) * step + k)
    buf = sink.ws.zeros("radial_in", (total, ht, cb), y, (c, w, up_w.lead, rows_g))
    blocks = buf[: g * rows_g].view(g, rows_g, ht, cb)[:, up_w.lead : up_w.lead + w]
    src = y[0, :ht].view(ht, w, c)  # [Ht, W, C]
    if full:
        part = src[:, :, : full * cb].reshape(ht, w, full, cb)
        blocks[:full].copy_(part.permute(2, 1, 0, 3))
    if full < g:
        blocks[full, :, :, : c - full * cb].copy_(src[:, :, full * cb :].transpose(0, 1))
    windows = buf.view(total, feat).as_strided(
        (g * nwin, k, feat), (step * feat, feat, 1), up_w.start * feat
    )
    up = sink.ws.tensor("radial_up", (g * nwin, up_w.rows, feat), y)
    torch.matmul(up_w.block, windows, out=up)
    up = _act(up.view(g, nwin * up_w.rows, ht, cb), True, clamp, slope)
    # Depthwise conv on the channels_last view [G, cb, Wt', Ht] (transposed filter).
    kernel = down_2d.transpose(2, 3).expand(cb, 1, *down_2d.shape[2:])
    out = F.conv2d(up.permute(0, 3, 1, 2), kernel, stride=down, groups=cb)
    t = down_2d.shape[-1]
    ho, wo = (ht - t) // down + 1, (up_w.n_out - t) // down + 1
    out = out.permute(3, 2, 0, 1)[:ho, :wo]  # [Ho, Wo, G, cb]
    slot = sink.slot((ho, wo, c), y)[0]
    if full:
        slot[:, :, : full * cb].view(ho, wo, full, cb).copy_(out[:, :, :full])
    if full < g:
        slot[:, :, full * cb :].copy_(out[:, :, full, : c - full * cb])
    sink.done(lambda b: b)


# --------------------------------------------------------------------------- CPU memory


class Workspace:
    """Scratch memory of the CPU batch path, reused across samples, layers and calls.

    A fresh large tensor costs a page fault per 4 KiB on first touch, and the allocator gives
    tensors over 32 MiB back to the system when they are freed, so allocating the upsampled
    intermediates anew for every sample and layer spends a tenth of the time in the kernel.
    Here each role (``"up_w"``, ...) keeps one flat buffer that only grows; the layer outputs
    alternate between two buffers (a layer reads the previous one while writing the other).
    Not thread-safe: ``lock`` is for owners that hand one workspace to one call at a time.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self._flat: dict[str, torch.Tensor] = {}
        self._zeroed: dict[str, tuple] = {}
        self._turn = 0

    @property
    def nbytes(self) -> int:
        """Bytes held."""
        return sum(t.numel() * t.element_size() for t in self._flat.values())

    def clear(self) -> None:
        """Release every buffer."""
        self._flat.clear()
        self._zeroed.clear()

    def tensor(self, role: str, shape: tuple[int, ...], like: torch.Tensor) -> torch.Tensor:
        """An uninitialised ``shape`` view (dtype, device of ``like``) of ``role``'s buffer."""
        numel = math.prod(shape)
        buf = self._flat.get(role)
        if (
            buf is None or buf.numel() < numel
            or buf.dtype != like.dtype or buf.device != like.device
        ):  # fmt: skip
            buf = like.new_empty(numel)
            self._flat[role] = buf
            self._zeroed.pop(role, None)
        return buf[:numel].view(shape)

    def zeros(
        self, role: str, shape: tuple[int, ...], like: torch.Tensor, layout: tuple
    ) -> torch.Tensor:
        """``role``'s buffer as ``shape``, all zeros whenever ``layout`` (what decides which
        elements the caller writes) differs from the last call's: callers that write the same
        elements for every sample then find the rest still zero."""
        buf = self.tensor(role, shape, like)
        key = (tuple(shape), layout)  # a reallocated buffer has no record (see tensor)
        if self._zeroed.get(role) != key:
            buf.zero_()
            self._zeroed[role] = key
        return buf

    def padded(
        self, role: str, plan: BandPlan, like: torch.Tensor, inner: tuple[int, ...]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """:func:`padded_buffer` in ``role``'s buffer (its users write the data rows only)."""
        shape = (like.shape[0], plan.rows_in, *inner)
        buf = self.zeros(role, shape, like, (plan.lead, plan.n_in))
        return buf, buf[:, plan.lead : plan.lead + plan.n_in]

    def output(self, shape: tuple[int, ...], like: torch.Tensor) -> torch.Tensor:
        """A layer's output buffer: each call takes the other of two (see the class)."""
        self._turn ^= 1
        return self.tensor(f"output{self._turn}", shape, like)


class BatchOutput:
    """The output of a CPU batch that :func:`filtered_lrelu_nhwc` fills a sample at a time.

    Without autograd each sample's last pass writes into its slot of one batch buffer (taken
    from the ``workspace`` by the first sample: no concatenation) and the samples'
    intermediates live in that :class:`Workspace` (a private one when None). With autograd,
    or without resampling, the samples' outputs are concatenated at the end.
    """

    def __init__(self, n: int, workspace: Workspace | None = None) -> None:
        self.n = n
        self.index = 0
        self.ws = Workspace() if workspace is None else workspace
        self.buf: torch.Tensor | None = None
        self.view: Callable | None = None
        self.parts: list[torch.Tensor] = []

    def slot(self, shape: tuple[int, ...], like: torch.Tensor) -> torch.Tensor:
        """``[1, *shape]``: the current sample's slot."""
        if self.buf is None:
            self.buf = self.ws.output((self.n, *shape), like)
        return self.buf[self.index : self.index + 1]

    def done(self, view: Callable) -> None:
        """Record how the batch buffer becomes the output."""
        self.view = view

    def result(self) -> torch.Tensor:
        """``[N, H', W', C]``: the whole batch (a view of the workspace's buffer, valid until
        the workspace hands out this output buffer again, or the concatenated parts)."""
        if self.parts:
            return torch.cat(self.parts)
        if self.view is None:
            raise RuntimeError("no sample was written")
        return self.view(self.buf)

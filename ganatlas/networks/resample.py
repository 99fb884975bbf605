"""1-D ``upfirdn`` (zero insertion, padding, FIR filter, decimation) as banded matrix products.

StyleGAN3's filtered leaky ReLU resamples each spatial axis with a separable FIR filter. Along
the outer axis of a row-major activation ``x: [B, n_in, F]`` (``F`` = everything inside one row),
one output row is a weighted sum of a few input rows, and because upfirdn is shift-invariant up
to its polyphase period, every block of ``rows`` consecutive output rows uses the *same* small
matrix ``[rows, K]`` on a window of ``K`` input rows that starts ``step`` rows after the previous
block's window. So the whole pass is one batched product of that matrix with overlapping
windows of the (zero-padded) input: a strided view, no copies, no Python loop over blocks.

:func:`resample_matrix` is the dense reference ``[n_in, n_out]``; :func:`band_plan` builds the
shared block and the padding it needs; :func:`apply_band` runs it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

__all__ = [
    "BandPlan",
    "apply_band",
    "band_plan",
    "output_length",
    "padded_buffer",
    "padded_rows",
    "resample_matrix",
]


def resample_matrix(
    f: torch.Tensor | None,
    n_in: int,
    up: int = 1,
    down: int = 1,
    pad0: int = 0,
    pad1: int = 0,
    gain: float = 1.0,
) -> torch.Tensor:
    """The 1-D ``upfirdn`` as a matrix ``[n_in, n_out]`` (float64): ``y = x @ M``.

    Insert ``up - 1`` zeros after each sample, pad ``pad0``/``pad1`` zeros (negative crops),
    convolve with ``f * gain`` (true convolution, valid part), keep every ``down``-th sample:
    ``M[j, m] = gain * f[T - 1 - (j * up + pad0 - m * down)]`` where that index is in range.
    """
    taps = _taps(f)
    t = taps.shape[0]
    n_out = _n_out(n_in, t, up, down, pad0, pad1)
    j = torch.arange(n_in).reshape(-1, 1)
    m = torch.arange(n_out).reshape(1, -1)
    k = j * up + pad0 - m * down
    valid = (k >= 0) & (k < t)
    return torch.where(valid, taps.flip(0)[k.clamp(0, t - 1)], 0.0) * gain


def _taps(f: torch.Tensor | None) -> torch.Tensor:
    taps = torch.ones(1, dtype=torch.float64) if f is None else f.detach().double().cpu()
    if taps.ndim != 1:
        raise ValueError(f"resampling needs a 1-D filter, got shape {tuple(taps.shape)}")
    return taps


def output_length(
    f: torch.Tensor | None, n_in: int, up: int = 1, down: int = 1, pad0: int = 0, pad1: int = 0
) -> int:
    """Samples that ``upfirdn`` of ``n_in`` samples leaves (ValueError when none)."""
    return _n_out(n_in, _taps(f).shape[0], up, down, pad0, pad1)


def _n_out(n_in: int, t: int, up: int, down: int, pad0: int, pad1: int) -> int:
    n_out = (n_in * up + pad0 + pad1 - t) // down + 1
    if n_out < 1:
        raise ValueError(
            f"resampling {n_in} samples (up={up}, pad=({pad0}, {pad1}), {t} taps) leaves none"
        )
    return n_out


@dataclass(frozen=True)
class BandPlan:
    """One resampling pass along the outer axis as a shared block matrix.

    Output rows ``[b * rows, (b + 1) * rows)`` are ``block @ xp[start + b * step : ... + K]``
    for ``b < blocks``, where ``xp`` is the input with ``lead`` zero rows in front and zero
    rows behind up to ``rows_in`` in all. Rows past ``n_out`` in the last block are computed
    from the padding and must be ignored (they are finite).
    """

    block: torch.Tensor  # [rows, K]
    max_row_sum: float  # largest absolute row sum of block: the most the pass scales a peak
    rows: int
    step: int
    blocks: int
    lead: int
    start: int
    rows_in: int
    n_in: int
    n_out: int

    @property
    def rows_out(self) -> int:
        """Rows :func:`apply_band` returns (``blocks * rows >= n_out``)."""
        return self.blocks * self.rows


def band_plan(
    f: torch.Tensor | None,
    n_in: int,
    up: int = 1,
    down: int = 1,
    pad0: int = 0,
    pad1: int = 0,
    gain: float = 1.0,
    rows: int = 8,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str = "cpu",
    min_rows_out: int = 0,
) -> BandPlan:
    """The :class:`BandPlan` of ``upfirdn(f * gain, up, down, pad0, pad1)`` on ``n_in`` rows.

    ``rows`` output rows per block; it is rounded up to a multiple of ``up / gcd(up, down)`` so
    that consecutive blocks start a whole number of input rows apart. ``min_rows_out``: compute
    at least that many output rows (those past ``n_out`` continue the signal into the zeros), so
    that the next pass can read them without a copy.
    """
    taps = _taps(f)
    t = taps.shape[0]
    n_out = _n_out(n_in, t, up, down, pad0, pad1)
    unit = up // math.gcd(up, down)
    rows = max(unit, -(-rows // unit) * unit)
    step = rows * down // up
    first = -(pad0 // up)  # ceil(-pad0 / up): first input row of block 0's window
    # Block entry (r, k): input row first + b * step + k, output row b * rows + r; its tap index
    # (k + first) * up + pad0 - r * down does not depend on b.
    r = torch.arange(rows).reshape(-1, 1)
    k_hi = max(((t - 1 + r_ * down - pad0) // up) - first for r_ in range(rows)) + 1
    k = torch.arange(k_hi).reshape(1, -1)
    idx = (k + first) * up + pad0 - r * down
    valid = (idx >= 0) & (idx < t)
    block = torch.where(valid, taps.flip(0)[idx.clamp(0, t - 1)], 0.0) * gain
    k_lo = int(valid.any(0).nonzero()[0])  # leading all-zero columns: skip them
    block = block[:, k_lo:]
    first += k_lo
    blocks = -(-max(n_out, min_rows_out) // rows)
    lead = max(0, -first)
    start = first + lead
    rows_in = max(start + (blocks - 1) * step + block.shape[1], lead + n_in)
    return BandPlan(
        block=block.to(device=device, dtype=dtype).contiguous(),
        max_row_sum=float(block.abs().sum(1).max()),
        rows=rows, step=step, blocks=blocks, lead=lead, start=start, rows_in=rows_in,
        n_in=n_in, n_out=n_out,
    )  # fmt: skip


def padded_rows(plan: BandPlan, x: torch.Tensor, grad: bool = False) -> torch.Tensor:
    """``x: [B, n_in, F]`` -> ``[B, rows_in, F]`` with the plan's zero rows around it.

    ``grad=True`` builds it with differentiable ops (``F.pad``) instead of writing in place.
    """
    b, n, feat = x.shape
    if n != plan.n_in:
        raise ValueError(f"plan is for {plan.n_in} rows, got {n}")
    if grad:
        return torch.nn.functional.pad(x, (0, 0, plan.lead, plan.rows_in - plan.lead - n))
    xp, inside = padded_buffer(plan, x, (feat,))
    inside.copy_(x)
    return xp


def padded_buffer(
    plan: BandPlan, like: torch.Tensor, inner: tuple[int, ...]
) -> tuple[torch.Tensor, torch.Tensor]:
    """A new ``[B, rows_in, *inner]`` input for ``plan`` (B, dtype, device of ``like``) with its
    padding rows zeroed, and the view ``[B, n_in, *inner]`` of the rows the data goes into."""
    buf = like.new_empty(like.shape[0], plan.rows_in, *inner)
    buf[:, : plan.lead].zero_()
    buf[:, plan.lead + plan.n_in :].zero_()
    return buf, buf[:, plan.lead : plan.lead + plan.n_in]


def apply_band(plan: BandPlan, xp: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
    """``xp: [B, rows_in, F]`` (padded as :func:`padded_rows` does) -> ``[B, rows_out, F]``.

    Only the first ``plan.n_out`` output rows are the resampled signal. ``out``: a
    ``[B, rows_out, F]`` tensor with contiguous samples to write into (no autograd).
    """
    b, n, feat = xp.shape
    if n < plan.rows_in or xp.stride(2) != 1 or xp.stride(1) != feat:
        raise ValueError(
            f"need [B, >= {plan.rows_in}, F] with contiguous rows, got {tuple(xp.shape)}"
        )
    k = plan.block.shape[1]
    shape = (plan.blocks, k, feat)
    strides = (plan.step * feat, feat, 1)
    outs = []
    for i in range(b):  # one strided (overlapping) window view per sample: no copies
        offset = xp.storage_offset() + i * xp.stride(0) + plan.start * feat
        windows = xp.as_strided(shape, strides, offset)
        if out is None:
            outs.append(torch.matmul(plan.block, windows))
        else:
            torch.matmul(plan.block, windows, out=out[i].view(plan.blocks, plan.rows, feat))
    if out is not None:
        return out
    res = outs[0].unsqueeze(0) if b == 1 else torch.stack(outs)
    return res.reshape(b, plan.rows_out, feat)

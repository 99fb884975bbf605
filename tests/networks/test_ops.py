"""The shared StyleGAN ops (ganatlas.networks.ops): upfirdn2d against its definition, filters,
bias_act, modulated convolution paths and float16 ranges."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from ganatlas.networks import ops


def naive_upfirdn2d(x, f, up, down, pad, flip_filter=False, gain=1.0):
    """upfirdn2d straight from its definition: zero insertion, pad/crop, convolve, decimate."""
    return naive_upfirdn2d_xy(x, f, (up, up), (down, down), pad, flip_filter, gain)


def naive_upfirdn2d_xy(x, f, up, down, pad, flip_filter=False, gain=1.0):
    """:func:`naive_upfirdn2d` with separate x and y factors: ``up``/``down`` are (x, y)."""
    (upx, upy), (downx, downy) = up, down
    n, c, h, w = x.shape
    y = torch.zeros(n, c, h * upy, w * upx)
    y[:, :, ::upy, ::upx] = x
    px0, px1, py0, py1 = pad
    y = F.pad(y, [max(px0, 0), max(px1, 0), max(py0, 0), max(py1, 0)])
    y = y[:, :, max(-py0, 0) : y.shape[2] - max(-py1, 0), max(-px0, 0) : y.shape[3] - max(-px1, 0)]
    k = (f if f.ndim == 2 else torch.outer(f, f)) * gain
    if not flip_filter:
        k = k.flip([0, 1])  # convolution = correlation with the flipped kernel
    out = torch.zeros(n, c, y.shape[2] - k.shape[0] + 1, y.shape[3] - k.shape[1] + 1)
    for i in range(k.shape[0]):
        for j in range(k.shape[1]):
            out += k[i, j] * y[:, :, i : i + out.shape[2], j : j + out.shape[3]]
    return out[:, :, ::downy, ::downx]


@pytest.mark.parametrize("up,down", [(1, 1), (2, 1), (1, 2), (2, 2), (3, 1)])
@pytest.mark.parametrize("pad", [(0, 0, 0, 0), (2, 1, 2, 1), (3, 0, -1, 2)])
def test_upfirdn2d_matches_definition(up: int, down: int, pad: tuple) -> None:
    gen = torch.Generator().manual_seed(up * 10 + down)
    x = torch.randn(2, 3, 7, 6, generator=gen)
    for f in (ops.setup_filter([1, 3, 3, 1]), ops.setup_filter(torch.rand(3, 4, generator=gen))):
        for flip in (False, True):
            ours = ops.upfirdn2d(
                x, f, up=up, down=down, padding=list(pad), flip_filter=flip, gain=2
            )
            ref = naive_upfirdn2d(x, f, up, down, pad, flip, gain=2.0)
            assert ours.shape == ref.shape
            assert (ours - ref).abs().max() < 1e-5
    # separable filters (>= 8 taps) apply as two 1-D passes
    f8 = ops.setup_filter(list(range(1, 9)))
    assert f8.ndim == 1 and abs(float(f8.sum()) - 1) < 1e-6
    x8 = torch.randn(2, 3, 12, 11, generator=gen)
    pad8 = [p + 3 for p in pad]
    ref = naive_upfirdn2d(x8, f8, up, down, pad8)
    assert (ops.upfirdn2d(x8, f8, up=up, down=down, padding=pad8) - ref).abs().max() < 1e-5


def test_setup_filter_and_resampling_keep_dc() -> None:
    f = ops.setup_filter([1, 3, 3, 1])
    assert f.shape == (4, 4) and torch.allclose(
        f, torch.outer(*[torch.tensor([1, 3, 3, 1.0])] * 2) / 64
    )
    x = torch.full((1, 2, 8, 8), 3.0)
    up = ops.upsample2d(x, f)
    down = ops.downsample2d(x, f)
    assert up.shape == (1, 2, 16, 16) and down.shape == (1, 2, 4, 4)
    assert torch.allclose(up[:, :, 2:-2, 2:-2], torch.tensor(3.0))  # interior keeps the level
    assert torch.allclose(down[:, :, 1:-1, 1:-1], torch.tensor(3.0))


def test_bias_act() -> None:
    x = torch.tensor([[-2.0, 0.5], [1.0, -0.5]])
    b = torch.tensor([1.0, -1.0])
    y = ops.bias_act(x, b, act="lrelu", gain=2.0, clamp=1.5)
    expected = torch.tensor([[-0.4, -0.2], [1.5, -0.6]])
    assert torch.allclose(y, expected)
    assert ops.activation_funcs["lrelu"].def_gain == pytest.approx(np.sqrt(2))
    with pytest.raises(ValueError, match="unknown activation 'gelu'"):
        ops.bias_act(x, act="gelu")


@pytest.mark.parametrize("up", [1, 2])
@pytest.mark.parametrize("res", [4, 16])
def test_modulated_conv_paths_agree(up: int, res: int) -> None:
    """Grouped, shared-weight and fused-activation versions give the same numbers."""
    gen = torch.Generator().manual_seed(res + up)
    x = torch.randn(3, 8, res, res, generator=gen)
    weight = torch.randn(6, 8, 3, 3, generator=gen)
    styles = torch.randn(3, 8, generator=gen)
    bias = torch.randn(6, generator=gen)
    noise = torch.randn(res * up, res * up, generator=gen)
    f = ops.setup_filter([1, 3, 3, 1])
    common = dict(up=up, padding=1, resample_filter=f, flip_weight=up == 1)
    fused = ops.modulated_conv2d(x, weight, styles, noise=noise, fused_modconv=True, **common)
    split = ops.modulated_conv2d(x, weight, styles, noise=noise, fused_modconv=False, **common)
    assert fused.shape == (3, 6, res * up, res * up)
    assert (fused - split).abs().max() < 1e-4
    ref = ops.bias_act(fused, bias, act="lrelu", gain=1.3, clamp=1.0)
    act = ops.modulated_conv_act(
        x, weight, styles, bias, noise=noise, up=up, padding=1, resample_filter=f, gain=1.3,
        clamp=1.0,
    )  # fmt: skip
    assert (act - ref).abs().max() < 1e-4
    assert (ref.abs() == 1.0).any()  # the clamp was exercised


def test_float16_modulated_conv_stays_in_range() -> None:
    """Large activations/styles in float16 (the CUDA fp16 blocks) neither overflow nor drift."""
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(2, 64, 8, 8, generator=gen) * 200
    weight = torch.randn(32, 64, 3, 3, generator=gen) * 30
    styles = torch.randn(2, 64, generator=gen) * 50
    bias = torch.randn(32, generator=gen)
    ref = ops.modulated_conv_act(x, weight, styles, bias, padding=1, gain=1.4)
    for per_sample in (True, False):
        half = ops.modulated_conv_act(
            x.half(), weight, styles, bias, padding=1, gain=1.4, per_sample=per_sample
        )
        assert half.dtype == torch.float16 and torch.isfinite(half).all()
        assert ((half.float() - ref).abs().max() / ref.abs().max()) < 5e-3


@pytest.mark.parametrize("padding", [0, 2])
def test_filter2d_keeps_the_size_and_centres_the_filter(padding: int) -> None:
    """filter2d pads ``fw // 2`` before and ``(fw - 1) // 2`` after (an even filter's extra tap
    on the left/top), so the image keeps its size (plus ``2 * padding``)."""
    gen = torch.Generator().manual_seed(padding)
    x = torch.randn(1, 2, 7, 6, generator=gen)
    for f in (ops.setup_filter([1, 3, 3, 1]), ops.setup_filter(torch.rand(3, 4, generator=gen))):
        fh, fw = f.shape
        pad = [
            padding + fw // 2,
            padding + (fw - 1) // 2,
            padding + fh // 2,
            padding + (fh - 1) // 2,
        ]
        ours = ops.filter2d(x, f, padding=padding)
        assert ours.shape == (1, 2, 7 + 2 * padding, 6 + 2 * padding)
        assert (ours - naive_upfirdn2d(x, f, 1, 1, pad)).abs().max() < 1e-5
    # a centred delta filter of odd size is the identity
    delta = torch.zeros(3, 3)
    delta[1, 1] = 1
    assert torch.allclose(ops.filter2d(x, delta), x)


def test_bias_act_never_writes_into_its_input() -> None:
    """The in-place leaky ReLU only ever runs on the fresh ``x + b``, never on the caller's x."""
    x = torch.tensor([[-2.0, 0.5], [1.0, -0.5]])
    before = x.clone()
    y = ops.bias_act(x, act="lrelu")  # no bias: x itself must stay untouched
    assert torch.equal(x, before)
    expected = torch.tensor([[-0.4, 0.5], [1.0, -0.1]]) * np.sqrt(2)
    assert torch.allclose(y, expected)
    ops.bias_act(x, torch.tensor([1.0, -1.0]), act="lrelu")
    assert torch.equal(x, before)


@pytest.mark.parametrize("k", [1, 3])
def test_conv2d_resample_down_matches_definition(k: int) -> None:
    """StyleGAN2's discriminator convolution with ``down=2`` and a [1, 3, 3, 1] filter: pad
    ``k // 2 + 1`` on every side, FIR-filter, then a stride-2 convolution (k = 1: the skip path,
    the same with no kernel padding); 8 x 8 -> 4 x 4."""
    gen = torch.Generator().manual_seed(k)
    x = torch.randn(2, 3, 8, 8, generator=gen)
    w = torch.randn(5, 3, k, k, generator=gen)
    f = ops.setup_filter([1, 3, 3, 1])
    ours = ops.conv2d_resample(x, w, f, down=2, padding=k // 2)
    p = k // 2 + 1
    ref = F.conv2d(naive_upfirdn2d(x, f, 1, 1, (p, p, p, p)), w, stride=2)
    assert ours.shape == ref.shape == (2, 5, 4, 4)
    assert (ours - ref).abs().max() < 1e-4


def test_modulated_conv2d_demodulates_by_default() -> None:
    """Without arguments, each sample's weight ``w[o, i] * s[i]`` is scaled to unit norm per
    output channel (StyleGAN2's demodulation), by a plain per-sample convolution."""
    gen = torch.Generator().manual_seed(5)
    x = torch.randn(2, 4, 6, 6, generator=gen)
    weight = torch.randn(3, 4, 3, 3, generator=gen)
    styles = torch.randn(2, 4, generator=gen)
    ours = ops.modulated_conv2d(x, weight, styles, padding=1)
    for n in range(2):
        wn = weight * styles[n].reshape(1, -1, 1, 1)
        wn = wn / wn.square().sum(dim=[1, 2, 3], keepdim=True).add(1e-8).sqrt()
        ref = F.conv2d(x[n : n + 1], wn, padding=1)
        assert (ours[n : n + 1] - ref).abs().max() < 1e-4


@pytest.mark.parametrize(
    "up,down,pad",
    [
        ((1, 2), (1, 1), (0, 0, 1, 2)),  # up in y only
        ((2, 1), (1, 1), (1, 2, 0, 0)),  # up in x only
        ((2, 3), (1, 1), (2, 1, 3, 1)),
        ((1, 1), (1, 2), (1, 1, 0, 0)),  # down in y only
        ((2, 2), (1, 1), (5, 0, 6, 1)),  # left/top padding beyond the filter: the fallback path
        ((3, 2), (1, 1), (7, -1, 4, 0)),
    ],
)
def test_upfirdn2d_separate_xy_factors_and_wide_padding_match_definition(up, down, pad):
    gen = torch.Generator().manual_seed(sum(up) * 7 + sum(pad))
    x = torch.randn(2, 3, 5, 6, generator=gen)
    for f in (ops.setup_filter([1, 3, 3, 1]), ops.setup_filter(torch.rand(3, 4, generator=gen))):
        ours = ops.upfirdn2d(x, f, up=list(up), down=list(down), padding=list(pad), gain=3)
        ref = naive_upfirdn2d_xy(x, f, up, down, pad, gain=3.0)
        assert ours.shape == ref.shape
        assert (ours - ref).abs().max() < 1e-5


def test_resampling_without_a_filter_is_plain_zero_insertion_and_decimation():
    """``f=None`` is a 1x1 filter of 1: filter2d is the identity, downsample2d keeps every
    second pixel, upsample2d puts ``up**2 * x`` on every second pixel (offset 1, as NVIDIA's
    padding for a 1-tap filter) and zeros between."""
    x = torch.randn(2, 3, 6, 8, generator=torch.Generator().manual_seed(3))
    assert torch.equal(ops.filter2d(x, None), x)
    assert torch.equal(ops.downsample2d(x, None, down=2), x[:, :, ::2, ::2])
    up = ops.upsample2d(x, None, up=2)
    assert up.shape == (2, 3, 12, 16)
    expected = torch.zeros_like(up)
    expected[:, :, 1::2, 1::2] = 4 * x
    assert torch.allclose(up, expected)


@pytest.mark.parametrize("kshape", [(2, 1), (1, 3), (2, 3), (1, 1)])
def test_conv2d_without_flip_weight_is_a_true_convolution(kshape):
    """``flip_weight=False`` is convolution (the kernel flipped), for any kernel shape; checked
    against scipy's convolve2d per channel pair."""
    from scipy.signal import convolve2d

    gen = torch.Generator().manual_seed(kshape[0] * 10 + kshape[1])
    x = torch.randn(1, 2, 6, 5, generator=gen, dtype=torch.float64)
    w = torch.randn(3, 2, *kshape, generator=gen, dtype=torch.float64)
    ours = ops._conv2d(x, w, flip_weight=False)
    ref = np.stack([
        sum(convolve2d(x[0, i].numpy(), w[o, i].numpy(), mode="valid") for i in range(2))
        for o in range(3)
    ])  # fmt: skip
    np.testing.assert_allclose(ours[0].numpy(), ref, atol=1e-10)

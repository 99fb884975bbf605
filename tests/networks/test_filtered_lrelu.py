"""The filtered leaky ReLU op: fast path vs plain reference, reference vs NVIDIA's numbers.

Tolerances (max |fast - ref| over max |ref|): float64 1e-10, float32 1e-5, float16 (CUDA) 1e-2.
Filters are random and asymmetric (StyleGAN3's designed filters are symmetric, which would hide
a missing or doubled flip); paddings are asymmetric and H != W (odd), which catches swapped axes.
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import load_module

from ganatlas.networks import filtered_lrelu as fl
from ganatlas.networks.resample import resample_matrix

DATA = Path(__file__).parent / "data"
RTOL = {torch.float64: 1e-10, torch.float32: 1e-5, torch.float16: 1e-2}

# name -> (up, down, up taps, down taps (negative: radial t x t), padding, (H, W))
CASES = {
    "up2-down2": (2, 2, 12, 12, [11, 9, 10, 12], (9, 11)),
    "up4-down2": (4, 2, 24, 12, [21, 20, 23, 22], (7, 6)),
    "up2-down4": (2, 4, 12, 24, [20, 17, 19, 21], (13, 11)),
    "up2-down1": (2, 1, 12, 6, [4, 7, 6, 5], (5, 7)),
    "up1-down2": (1, 2, 6, 12, [8, 6, 7, 9], (11, 9)),
    "up1-down1-crop": (1, 1, 0, 0, [-1, -2, -2, 0], (7, 9)),
    "up4-down4": (4, 4, 16, 16, [12, 14, 15, 13], (5, 7)),
    "radial-up2-down2": (2, 2, 12, -12, [11, 9, 10, 12], (9, 11)),
    "radial-up4-down2": (4, 2, 24, -12, [21, 20, 23, 22], (7, 6)),
    "radial-up2-down1": (2, 1, 12, -6, [4, 7, 6, 5], (5, 7)),
    "identity": (1, 1, 0, 0, 0, (5, 7)),
}


def make(name: str, dtype=torch.float64, n: int = 3, c: int = 5, seed: int = 0) -> dict:
    """Random inputs for case ``name``: x [N, H, W, C] (channels-last), b, scale, filters."""
    up, down, tu, td, padding, (h, w) = CASES[name]
    gen = torch.Generator().manual_seed(seed)

    def filt(taps: int) -> torch.Tensor | None:
        if taps == 0:
            return None
        shape = (-taps, -taps) if taps < 0 else (taps,)
        f = torch.rand(shape, generator=gen, dtype=torch.float64) + 0.2
        return (f / f.sum()).to(torch.float32)  # stored as float32, like the layers' buffers

    return dict(
        x=torch.randn(n, h, w, c, generator=gen, dtype=torch.float64).to(dtype),
        b=(0.5 * torch.randn(c, generator=gen, dtype=torch.float64)).to(dtype),
        scale=(0.5 + torch.rand(n, c, generator=gen, dtype=torch.float64)).to(dtype),
        op=dict(fu=filt(tu), fd=filt(td), up=up, down=down, padding=padding),
    )


def reference(x, b, scale, op, **kw) -> torch.Tensor:
    """The reference on channels-last ``x * scale`` (float64 arithmetic): ``[N, H', W', C]``."""
    if scale is not None:
        x = x * scale.reshape(x.shape[0], 1, 1, -1)
    y = fl.filtered_lrelu_ref(x.permute(0, 3, 1, 2), b=b, **op, **kw)
    return y.permute(0, 2, 3, 1)


def assert_close(got: torch.Tensor, want: torch.Tensor, rtol: float, what: str = "") -> None:
    assert got.shape == want.shape, f"{what}: shape {tuple(got.shape)} != {tuple(want.shape)}"
    err = (got.double() - want.double()).abs().max().item()
    scale = want.double().abs().max().item()
    assert err <= rtol * scale, f"{what}: max |diff| {err:.3g} > {rtol:g} x scale {scale:.3g}"


def fast_paths(x, b, scale, op, **kw) -> dict[str, torch.Tensor]:
    """The fast path's CPU variants on the same batch."""
    one = [
        fl.filtered_lrelu_nhwc(x[i : i + 1], b=b, scale=scale[i : i + 1], **op, **kw)
        for i in range(x.shape[0])
    ]
    out = fl.BatchOutput(x.shape[0], fl.Workspace())
    for i, j in ((0, 1), (1, x.shape[0])):  # two groups into one batch output
        fl.filtered_lrelu_nhwc(x[i:j], b=b, scale=scale[i:j], out=out, **op, **kw)
    return {
        "sample by sample": torch.cat(one),
        "batch": fl.filtered_lrelu_nhwc(x, b=b, scale=scale, **op, **kw),
        "batch in groups": out.result(),
    }


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("clamp", [None, 0.7])
@pytest.mark.parametrize("name", list(CASES))
def test_fast_equals_reference(name: str, clamp: float | None, dtype: torch.dtype) -> None:
    d = make(name, dtype)
    want = reference(d["x"].double(), d["b"].double(), d["scale"].double(), d["op"], clamp=clamp)
    if clamp is not None:  # the clamp binds somewhere
        unclamped = reference(d["x"].double(), d["b"].double(), d["scale"].double(), d["op"])
        assert (want - unclamped).abs().max() > 1e-3
    with torch.no_grad():
        for path, got in fast_paths(d["x"], d["b"], d["scale"], d["op"], clamp=clamp).items():
            assert got.dtype == dtype
            assert_close(got, want, RTOL[dtype], f"{name}, {path}")


@pytest.mark.parametrize("name", ["up2-down2", "radial-up4-down2", "up1-down2"])
def test_flip_filter(name: str) -> None:
    """``flip_filter=True`` correlates: the same as convolving with the flipped filters."""
    d = make(name, n=2)
    op = d["op"]
    flipped = dict(op, fu=op["fu"].flip(0), fd=op["fd"].flip(list(range(op["fd"].ndim))))
    want = reference(d["x"], d["b"], d["scale"], flipped, clamp=0.7)
    assert_close(
        reference(d["x"], d["b"], d["scale"], op, clamp=0.7, flip_filter=True), want, 1e-12
    )
    assert not torch.allclose(reference(d["x"], d["b"], d["scale"], op, clamp=0.7), want)
    with torch.no_grad():
        got = fast_paths(d["x"], d["b"], d["scale"], op, clamp=0.7, flip_filter=True)
    for path, y in got.items():
        assert_close(y, want, RTOL[torch.float64], f"{name}, {path}")


@pytest.mark.parametrize("clamp", [0.7, 1e3])
def test_clamp_skip_is_exact(clamp: float) -> None:
    """The one-sample CPU path skips the clamp when no value can reach it (1e3), and clamps
    when one does (0.7): both equal the reference, and the skip decision is the bound's."""
    d = make("up2-down2", torch.float32)
    want = reference(d["x"].double(), d["b"].double(), d["scale"].double(), d["op"], clamp=clamp)
    decisions = []

    def check(xp, up_h, up_w):
        decisions.append(fl.clamp_if_reachable(xp, clamp, up_h, up_w))
        return decisions[-1]

    with torch.no_grad():
        got = fl.filtered_lrelu_nhwc(
            d["x"], b=d["b"], scale=d["scale"], clamp=clamp, clamp_check=check, **d["op"]
        )
    assert_close(got, want, RTOL[torch.float32])
    assert decisions == [None if clamp > 100 else clamp] * 3


@pytest.mark.parametrize("block", [5, 16, 64])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_radial_channel_blocks(block: int, dtype: torch.dtype) -> None:
    """The radial down filter on blocks of channels (32 = 6 x 5 + 2: a partial last block)."""
    d = make("radial-up2-down2", dtype, c=32)
    want = reference(d["x"].double(), d["b"].double(), d["scale"].double(), d["op"], clamp=0.7)
    with torch.no_grad():
        got = fl.filtered_lrelu_nhwc(
            d["x"], b=d["b"], scale=d["scale"], clamp=0.7, radial_block=block, **d["op"]
        )
    assert_close(got, want, RTOL[dtype], f"block {block}")


@pytest.mark.parametrize("name", ["up2-down2", "up4-down2", "radial-up2-down2", "identity"])
def test_gradients_equal_reference(name: str) -> None:
    """d sum(y * probe) / d(x, b, scale) of the fast path (autograd: out of place) equal the
    reference's, float64, for one sample and for a batch through a BatchOutput."""
    d = make(name, n=2)
    x, b, scale = (d[k].clone().requires_grad_(True) for k in ("x", "b", "scale"))
    want_y = reference(x, b, scale, d["op"], clamp=0.7)
    probe = torch.randn(want_y.shape, generator=torch.Generator().manual_seed(1), dtype=x.dtype)
    want = torch.autograd.grad((want_y * probe).sum(), (x, b, scale))
    single = fl.filtered_lrelu_nhwc(x[:1], b=b, scale=scale[:1], clamp=0.7, **d["op"])
    out = fl.BatchOutput(2)
    fl.filtered_lrelu_nhwc(x, b=b, scale=scale, clamp=0.7, out=out, **d["op"])
    for what, y in (("batch", out.result()), ("whole", fl.filtered_lrelu_nhwc(
        x, b=b, scale=scale, clamp=0.7, **d["op"]))):  # fmt: skip
        assert y.requires_grad, what
        assert_close(y.detach(), want_y.detach(), RTOL[torch.float64], what)
        got = torch.autograd.grad((y * probe).sum(), (x, b, scale))
        for g, w, n in zip(got, want, ("x", "b", "scale"), strict=True):
            assert_close(g, w, RTOL[torch.float64], f"{what}: d/d{n}")
    # One sample: its part of the batch's gradient (samples are independent).
    g1 = torch.autograd.grad((single * probe[:1]).sum(), x)[0]
    assert_close(g1[:1], want[0][:1], RTOL[torch.float64], "one sample: d/dx")
    assert not g1[1:].any()


def test_nchw_api_and_input_checks() -> None:
    d = make("radial-up4-down2", n=2)
    x = d["x"].permute(0, 3, 1, 2)  # NCHW
    ref = fl.filtered_lrelu(x, b=d["b"], clamp=0.7, impl="ref", **d["op"])
    fast = fl.filtered_lrelu(x, b=d["b"], clamp=0.7, **d["op"])
    assert_close(fast, ref, RTOL[torch.float64])
    with pytest.raises(ValueError, match="impl"):
        fl.filtered_lrelu(x, impl="cuda")
    with pytest.raises(ValueError, match="padding"):
        fl.parse_padding([1, 2, 3])
    assert fl.parse_padding(3) == (3, 3, 3, 3) and fl.parse_padding([1, 2]) == (1, 1, 2, 2)


def test_radial_up_filter_falls_back_to_the_reference() -> None:
    d = make("radial-up2-down2", n=2)
    op = dict(d["op"], fu=torch.outer(d["op"]["fu"], d["op"]["fu"].flip(0)))
    want = reference(d["x"], d["b"], d["scale"], op, clamp=0.7)
    with torch.no_grad():
        for path, got in fast_paths(d["x"], d["b"], d["scale"], op, clamp=0.7).items():
            assert_close(got, want, 1e-12, path)


# ------------------------------------------------------------------ the reference itself


@pytest.mark.parametrize(
    "up, down, pad",
    [(2, 1, (4, 3, 2, 5)), (1, 2, (0, 1, 2, 0)), (4, 2, (-3, 5, 6, -2)), (1, 1, (0, 0, 0, 0))],
)
def test_upfirdn2d_ref_equals_the_dense_matrices(up: int, down: int, pad: tuple) -> None:
    """Separable: W pass then H pass, each the documented 1-D upfirdn matrix with gain**0.5;
    a 2-D filter that is an outer product gives the same (so the 2-D branch flips both axes)."""
    gen = torch.Generator().manual_seed(up * 10 + down)
    f = torch.rand(7, generator=gen, dtype=torch.float64) + 0.1  # asymmetric
    x = torch.randn(2, 3, 9, 8, generator=gen, dtype=torch.float64)
    px0, px1, py0, py1 = pad
    gain = 3.0
    mw = resample_matrix(f, 8, up, down, px0, px1, gain=gain**0.5)
    mh = resample_matrix(f, 9, up, down, py0, py1, gain=gain**0.5)
    want = torch.einsum("nchw,hH,wW->ncHW", x, mh, mw)
    got = fl.upfirdn2d_ref(x, f, up=up, down=down, padding=pad, gain=gain)
    torch.testing.assert_close(got, want, rtol=0, atol=1e-12)
    radial = fl.upfirdn2d_ref(x, torch.outer(f, f), up=up, down=down, padding=pad, gain=gain)
    torch.testing.assert_close(radial, want, rtol=0, atol=1e-12)


def test_reference_op_in_the_network_gives_nvidias_images(monkeypatch) -> None:
    """StyleGAN3 networks (T and R) with the plain reference as their op reproduce the images
    NVIDIA's code produced (tests/networks/data/sg3_reference.npz): the reference is their definition."""
    recipe = load_module("sg3_recipe", DATA / "sg3_make_reference.py")
    refs = np.load(DATA / "sg3_reference.npz")
    from ganatlas.networks.stylegan3 import Generator

    calls = []

    def reference_op(x, *, scale=None, out=None, cache=None, clamp_check=None, **op):
        """The model's call of filtered_lrelu_nhwc, answered by the reference."""
        op.pop("radial_block", None)
        calls.append(op["fd"] is not None and op["fd"].ndim == 2)
        y = reference(x, op.pop("b"), scale, op)
        return y if out is None else out.parts.append(y)

    names = list(recipe.CONFIGS)
    for name in ("t_c0", "r_c2"):
        cfg = recipe.CONFIGS[name][0]
        torch.manual_seed(0)
        g = Generator(**copy.deepcopy(cfg)).eval()
        recipe.setup(g, name, seed=names.index(name))
        with torch.no_grad():
            ws = torch.from_numpy(refs[f"{name}/ws"].copy())
            fast = g.synthesis(ws)
            monkeypatch.setattr(fl, "filtered_lrelu_nhwc", reference_op)
            img = g.synthesis(ws)
            monkeypatch.undo()
        want = refs[f"{name}/img"]
        err = np.abs(img.numpy() - want).max()
        assert err <= 1e-5 * np.abs(want).max() + 1e-7, f"{name}: {err:.3g}"
        assert (img - fast).abs().max() <= 1e-5 * fast.abs().max()
    assert any(calls) and not all(calls), "need separable and radial down filters"


# ------------------------------------------------------------------ CUDA


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (none here)")
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
@pytest.mark.parametrize("name", ["up2-down2", "up4-down2", "radial-up2-down2", "identity"])
def test_cuda_fast_equals_reference(name: str, dtype: torch.dtype, monkeypatch) -> None:
    """On CUDA the whole batch goes through at once (no workspace); TF32 is off so that
    float32 holds 1e-5."""
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", False)
    monkeypatch.setattr(torch.backends.cuda.matmul, "allow_tf32", False)
    d = make(name, dtype)
    want = reference(d["x"].double(), d["b"].double(), d["scale"].double(), d["op"], clamp=0.7)
    op = {k: v.cuda() if isinstance(v, torch.Tensor) else v for k, v in d["op"].items()}
    with torch.no_grad():
        got = fl.filtered_lrelu_nhwc(
            d["x"].cuda(), b=d["b"].cuda(), scale=d["scale"].cuda(), clamp=0.7, **op
        )
    assert got.device.type == "cuda" and got.dtype == dtype
    assert_close(got.cpu(), want, RTOL[dtype], f"{name} {dtype}")


def test_clamp_skip_margin_is_a_thousandth_of_the_bound() -> None:
    """The skip decision on its own: the bound is ``|x|_max * A_h * A_w``; the clamp is kept
    while the bound is within 0.1 % of it (or above) and skipped only beyond that margin."""
    from types import SimpleNamespace

    plan_h, plan_w = SimpleNamespace(max_row_sum=2.0), SimpleNamespace(max_row_sum=0.5)
    xp = torch.tensor([[0.25, -1.0, 0.5]])  # peak 1 (a negative value), bound 1 * 2 * 0.5 = 1
    for clamp in (0.5, 0.9995, 1.0, 1.0009):  # reachable, or within the margin
        assert fl.clamp_if_reachable(xp, clamp, plan_h, plan_w) == clamp
    for clamp in (1.0011, 1.01, 3.0):  # beyond the margin: no value can reach it
        assert fl.clamp_if_reachable(xp, clamp, plan_h, plan_w) is None
    assert fl.clamp_if_reachable(xp, None, plan_h, plan_w) is None

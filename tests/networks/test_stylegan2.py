"""StyleGAN2 in plain PyTorch: numbers vs NVIDIA's implementation, names, ops, options."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from ganatlas.networks import ops
from ganatlas.networks.stylegan2 import Generator

DATA = Path(__file__).parent / "data"
_spec = importlib.util.spec_from_file_location("sg2_recipe", DATA / "sg2_make_reference.py")
recipe = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(recipe)
REF = np.load(DATA / "sg2_reference.npz")
TOL = 1e-4


def ada_kwargs(cfg: dict) -> dict:
    """The same network in stylegan2-ada-pytorch's nested layout."""
    cfg = dict(cfg)
    top = {k: cfg.pop(k) for k in ("z_dim", "c_dim", "w_dim", "img_resolution", "img_channels")}
    mapping = cfg.pop("mapping_kwargs", {})
    cfg.setdefault("conv_clamp", 256)  # the stylegan3 repo's default; ada's is None
    cfg.setdefault("num_fp16_res", 4)
    return dict(top, mapping_kwargs=mapping, synthesis_kwargs=cfg)


def build(name: str, layout: str) -> Generator:
    cfg, _ = recipe.CONFIGS[name]
    g = Generator(**(cfg if layout == "sg3" else ada_kwargs(cfg))).eval()
    seed = list(recipe.CONFIGS).index(name)
    recipe.fill_weights(g, seed=seed)
    return g


@pytest.mark.parametrize("layout", ["sg3", "ada"])
@pytest.mark.parametrize("name", list(recipe.CONFIGS))
def test_matches_nvidia_reference(name: str, layout: str) -> None:
    g = build(name, layout)
    cfg, trunc = recipe.CONFIGS[name]
    out = recipe.outputs(g, cfg, trunc, seed=list(recipe.CONFIGS).index(name))
    for key in ("ws", "ws_trunc", "img_const", "img_none", "img_random", "img_trunc_random"):
        ref = REF[f"{name}/{key}"]
        assert out[key].shape == ref.shape, key
        err = np.abs(out[key] - ref).max()
        assert err < TOL, f"{name} {layout} {key}: max abs diff {err}"
    # The references are not trivial: images vary, noise matters, truncation moves ws.
    noise_effect = np.abs(REF[f"{name}/img_const"] - REF[f"{name}/img_none"]).max()
    assert noise_effect > 1e-2 if cfg.get("use_noise", True) else noise_effect == 0
    assert np.abs(REF[f"{name}/ws"] - REF[f"{name}/ws_trunc"]).max() > 1e-2


@pytest.mark.parametrize("name", list(recipe.CONFIGS))
def test_state_dict_names_and_shapes_equal_nvidia(name: str) -> None:
    for layout in ("sg3", "ada"):
        sd = build(name, layout).state_dict()
        assert list(sd) == list(REF[f"{name}/state_keys"])
        shapes = [json.loads(s) for s in REF[f"{name}/state_shapes"]]
        assert [list(t.shape) for t in sd.values()] == shapes


def test_layouts_record_their_kwargs_and_defaults() -> None:
    cfg, _ = recipe.CONFIGS["skip_fp16"]
    flat, nested = build("skip_fp16", "sg3"), build("skip_fp16", "ada")
    assert flat.layout == "sg3" and nested.layout == "ada"
    assert "synthesis_kwargs" in nested._init_kwargs and "channel_base" in flat._init_kwargs
    ada_default = Generator(8, 0, 8, 8, 3, synthesis_kwargs=dict(channel_base=64, channel_max=8))
    sg3_default = Generator(8, 0, 8, 8, 3, channel_base=64, channel_max=8)
    assert ada_default.synthesis.b8.conv1.conv_clamp is None  # stylegan2-ada default
    assert sg3_default.synthesis.b8.conv1.conv_clamp == 256  # stylegan3 repo default
    with pytest.raises(ValueError, match="not both"):
        Generator(8, 0, 8, 8, 3, synthesis_kwargs={}, channel_base=64)


def test_fp16_blocks_run_float32_on_cpu() -> None:
    g = build("skip_fp16", "sg3")
    assert [getattr(g.synthesis, f"b{r}").use_fp16 for r in (4, 8, 16, 32)] == [
        False,
        False,
        True,
        True,
    ]
    z = torch.randn(2, g.z_dim)
    with torch.no_grad():
        img = g(z, None)
        img_fp32 = g(z, None, force_fp32=True)
    assert img.dtype == torch.float32
    assert torch.equal(img, img_fp32)


def test_noise_modes_truncation_and_w_avg() -> None:
    g = build("orig_c3", "sg3")
    z, c = torch.randn(2, g.z_dim), torch.randn(2, g.c_dim)
    with torch.no_grad():
        ws = g.mapping(z, c)
        assert ws.shape == (2, g.num_ws, g.w_dim)
        const = [g.synthesis(ws, noise_mode="const") for _ in range(2)]
        assert torch.equal(const[0], const[1])
        assert torch.equal(g.synthesis(ws), const[0])  # ganatlas's default is const
        rand = [g.synthesis(ws, noise_mode="random") for _ in range(2)]
        assert not torch.equal(rand[0], rand[1])
        ws0 = g.mapping(z, c, truncation_psi=0)
        assert torch.allclose(ws0, g.w_avg.expand_as(ws0))
        ws_cut = g.mapping(z, c, truncation_psi=0.5, truncation_cutoff=2)
        assert torch.equal(ws_cut[:, 2:], ws[:, 2:])
        assert torch.allclose(ws_cut[:, :2], g.w_avg + 0.5 * (ws[:, :2] - g.w_avg), atol=1e-6)
    assert g.w_avg is g.mapping.w_avg
    with pytest.raises(ValueError, match="noise_mode"):
        g.synthesis(ws, noise_mode="loud")
    with pytest.raises(ValueError, match=r"ws must be \[N, 6, 16\]"):
        g.synthesis(ws[:, :3])
    with pytest.raises(ValueError, match=r"c must be \[N, 3\]"):
        g.mapping(z, None)
    with pytest.raises(ValueError, match="architecture"):
        Generator(8, 0, 8, 8, 3, channel_base=64, channel_max=8, architecture="unet")


def naive_upfirdn2d(x, f, up, down, pad, flip_filter=False, gain=1.0):
    """upfirdn2d straight from its definition: zero insertion, pad/crop, convolve, decimate."""
    n, c, h, w = x.shape
    y = torch.zeros(n, c, h * up, w * up)
    y[:, :, ::up, ::up] = x
    px0, px1, py0, py1 = pad
    y = F.pad(y, [max(px0, 0), max(px1, 0), max(py0, 0), max(py1, 0)])
    y = y[:, :, max(-py0, 0) : y.shape[2] - max(-py1, 0), max(-px0, 0) : y.shape[3] - max(-px1, 0)]
    k = f if f.ndim == 2 else torch.outer(f, f)
    k = k * gain
    if not flip_filter:
        k = k.flip([0, 1])  # convolution = correlation with the flipped kernel
    out = torch.zeros(n, c, y.shape[2] - k.shape[0] + 1, y.shape[3] - k.shape[1] + 1)
    for i in range(k.shape[0]):
        for j in range(k.shape[1]):
            out += k[i, j] * y[:, :, i : i + out.shape[2], j : j + out.shape[3]]
    return out[:, :, ::down, ::down]


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

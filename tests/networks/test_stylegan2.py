"""StyleGAN2 in plain PyTorch: numbers vs NVIDIA's implementation, names, options (ops: test_ops.py)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import load_module

from ganatlas.networks.stylegan2 import Generator

DATA = Path(__file__).parent / "data"
recipe = load_module("sg2_recipe", DATA / "sg2_make_reference.py")
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
    # The effects of noise (const vs none) and truncation (ws vs ws_trunc) in OUR network equal
    # those in NVIDIA's: checked first, so a noise or truncation bug is named as such.
    effects = {
        "noise effect (img_const - img_none)": ("img_const", "img_none"),
        "truncation effect (ws - ws_trunc)": ("ws", "ws_trunc"),
    }
    for what, (a, b) in effects.items():
        ours, theirs = out[a] - out[b], REF[f"{name}/{a}"] - REF[f"{name}/{b}"]
        err = np.abs(ours - theirs).max()
        assert err < TOL, f"{name} {layout} {what}: ours differs from NVIDIA's by {err}"
        if a == "img_const" and not cfg.get("use_noise", True):
            assert not ours.any(), f"{name} {layout}: noise changed the image with use_noise=False"
        else:  # the stored effect is large, so matching it is a real check
            assert np.abs(theirs).max() > 1e-2, f"reference {name}/{what} is trivial"
    for key in ("ws", "ws_trunc", "img_const", "img_none", "img_random", "img_trunc_random"):
        ref = REF[f"{name}/{key}"]
        assert out[key].shape == ref.shape, key
        err = np.abs(out[key] - ref).max()
        assert err < TOL, f"{name} {layout} {key}: max abs diff {err}"


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
        img = g(z, None, noise_mode="const")
        img_fp32 = g(z, None, noise_mode="const", force_fp32=True)
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
        torch.manual_seed(7)
        default = g.synthesis(ws)  # NVIDIA's default: random noise, seeded by torch
        torch.manual_seed(7)
        assert torch.equal(default, g.synthesis(ws, noise_mode="random"))
        assert not torch.equal(default, const[0])
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


def test_fresh_networks_start_as_nvidias_and_update_w_avg_with_its_decay() -> None:
    """A freshly built network as NVIDIA's initialises it (style affines with bias 1, so every
    style starts at 1), and ``update_emas`` moves w_avg toward the batch mean with the stylegan3
    repo's default decay 0.998: ``w_avg <- mean + 0.998 * (w_avg - mean)``."""
    from ganatlas.networks.stylegan2 import MappingNetwork

    g = Generator(8, 0, 8, 8, 3, channel_base=64, channel_max=8)
    affines = [m.affine for m in g.synthesis.modules() if hasattr(m, "affine")]
    assert len(affines) >= 4 and all(torch.equal(a.bias, torch.ones_like(a.bias)) for a in affines)
    m = MappingNetwork(z_dim=4, c_dim=0, w_dim=4, num_ws=2, num_layers=1)
    assert m.w_avg_beta == 0.998
    m.w_avg.copy_(torch.tensor([1.0, -1.0, 0.5, 0.0]))
    z = torch.randn(6, 4, generator=torch.Generator().manual_seed(1))
    before = m.w_avg.clone()
    ws = m(z, None, update_emas=True)
    mean = ws[:, 0].mean(dim=0)
    torch.testing.assert_close(m.w_avg, mean + 0.998 * (before - mean))
    m(z, None)  # no update by default
    torch.testing.assert_close(m.w_avg, mean + 0.998 * (before - mean))

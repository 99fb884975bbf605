"""StyleGAN3 (configs T and R): names, shapes, round trips and numbers vs NVIDIA's implementation.

Reference numbers: tests/networks/data/sg3_reference.npz, produced by tests/networks/data/sg3_make_reference.py
with NVIDIA's own code (CPU reference ops) on the weights ``fill_weights`` rebuilds here.
"""

from __future__ import annotations

import copy
import json
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import load_module

from ganatlas.networks.stylegan3 import (
    Generator,
    SynthesisLayer,
)

DATA = Path(__file__).parent / "data"
recipe = load_module("sg3_recipe", DATA / "sg3_make_reference.py")
REF = np.load(DATA / "sg3_reference.npz")
NAMES = list(recipe.CONFIGS)
TOL = 1e-4


def build(name: str) -> Generator:
    """The ganatlas network of reference config ``name`` with the recipe's weights."""
    cfg = recipe.CONFIGS[name][0]
    torch.manual_seed(0)
    g = Generator(**copy.deepcopy(cfg)).eval()
    recipe.setup(g, name, seed=NAMES.index(name))
    return g


@pytest.fixture(scope="module")
def nets() -> dict[str, Generator]:
    return {name: build(name) for name in NAMES}


def assert_close(got: torch.Tensor, want: np.ndarray, what: str) -> None:
    got = got.detach().numpy()
    assert got.shape == want.shape, f"{what}: shape {got.shape} != {want.shape}"
    err = float(np.abs(got - want).max())
    assert err <= TOL, f"{what}: max |diff| {err:.3g} > {TOL}"
    # Relative check too: the images are small (|img| < 0.3), so 1e-4 alone would be lenient.
    scale = float(np.abs(want).max())
    assert err <= 1e-5 * scale + 1e-7, f"{what}: max |diff| {err:.3g} vs scale {scale:.3g}"


@pytest.mark.parametrize("name", NAMES)
def test_state_dict_names_and_shapes_equal_nvidias(nets: dict, name: str) -> None:
    sd = nets[name].state_dict()
    assert list(sd) == list(REF[f"{name}/state_keys"])
    shapes = [json.dumps(list(t.shape)) for t in sd.values()]
    assert shapes == list(REF[f"{name}/state_shapes"])
    syn = nets[name].synthesis
    assert syn.layer_names == list(REF[f"{name}/layer_names"])
    pads = [getattr(syn, n).padding for n in syn.layer_names]
    assert pads == REF[f"{name}/padding"].tolist()


@pytest.mark.parametrize("name", NAMES)
def test_designed_filters_equal_nvidias(nets: dict, name: str) -> None:
    sd = nets[name].state_dict()
    prefix = f"{name}/filter/"
    keys = [k[len(prefix) :] for k in REF.files if k.startswith(prefix)]
    assert keys and sorted(keys) == sorted(k for k in sd if k.endswith("_filter"))
    for key in keys:
        np.testing.assert_allclose(sd[key].numpy(), REF[prefix + key], atol=1e-7, err_msg=key)
    if recipe.CONFIGS[name][0].get("use_radial_filters"):
        assert any(sd[k].ndim == 2 for k in keys), "config R must have radial (2-D) filters"


@pytest.mark.parametrize("name", NAMES)
def test_mapping_and_images_match_nvidia(nets: dict, name: str) -> None:
    g = nets[name]
    cfg, (psi, cutoff), _ = recipe.CONFIGS[name]
    z, c = recipe.inputs(cfg, NAMES.index(name))
    with torch.no_grad():
        ws = g.mapping(z, c)
        assert_close(ws, REF[f"{name}/ws"], "ws")
        ws_t = g.mapping(z, c, truncation_psi=psi, truncation_cutoff=cutoff)
        assert_close(ws_t, REF[f"{name}/ws_trunc"], "ws_trunc")
        assert_close(g.synthesis(ws, noise_mode="const"), REF[f"{name}/img"], "img")
        img_t = g(z, c, truncation_psi=psi, truncation_cutoff=cutoff)
        assert_close(img_t, REF[f"{name}/img_trunc"], "img_trunc")


def test_update_emas_matches_nvidia() -> None:
    name = "t_c3"
    g = build(name)
    cfg = recipe.CONFIGS[name][0]
    z, c = recipe.inputs(cfg, NAMES.index(name))
    with torch.no_grad():
        img = g(z, c, update_emas=True)
    assert_close(img, REF[f"{name}/img_update_emas"], "img_update_emas")
    assert_close(g.mapping.w_avg, REF[f"{name}/w_avg_after"], "w_avg")
    mags = torch.stack([getattr(g.synthesis, n).magnitude_ema for n in g.synthesis.layer_names])
    assert_close(mags, REF[f"{name}/magnitude_ema_after"], "magnitude_ema")


def test_shapes_attributes_and_noise_mode_ignored(nets: dict) -> None:
    g = nets["t_c3"]
    assert (g.z_dim, g.c_dim, g.w_dim, g.img_resolution, g.img_channels) == (12, 3, 16, 32, 3)
    assert g.num_ws == 5 + 2 == g.mapping.num_ws == g.synthesis.num_ws
    assert g.w_avg is g.mapping.w_avg and g.w_avg.shape == (16,)
    z, c = torch.randn(3, 12), torch.randn(3, 3)
    with torch.no_grad():
        ws = g.mapping(z, c)
        assert ws.shape == (3, g.num_ws, 16)
        imgs = [g.synthesis(ws, noise_mode=m) for m in ("const", "random", "none")]
    assert imgs[0].shape == (3, 3, 32, 32) and imgs[0].dtype == torch.float32
    assert torch.equal(imgs[0], imgs[1]) and torch.equal(imgs[0], imgs[2])


@pytest.mark.parametrize("name", NAMES)
def test_gradients_through_synthesis_match_nvidia(nets: dict, name: str) -> None:
    """Projection into W needs d(img)/d(ws): the autograd path (no in-place buffers) gives the
    inference images and NVIDIA's gradient of sum(img * probe)."""
    g = nets[name]
    ws = torch.from_numpy(REF[f"{name}/ws"].copy()).requires_grad_(True)
    img = g.synthesis(ws, noise_mode="const")
    assert_close(img.detach(), REF[f"{name}/img"], "img (autograd path)")
    (img * recipe.probe(tuple(img.shape), NAMES.index(name))).sum().backward()
    want = REF[f"{name}/ws_grad"]
    err = float(np.abs(ws.grad.numpy() - want).max())
    scale = float(np.abs(want).max())
    assert err <= 1e-4 * scale, f"ws_grad: max |diff| {err:.3g} vs scale {scale:.3g}"


def test_deterministic_and_batch_independent(nets: dict) -> None:
    g = nets["r_c2"]
    z, c = torch.randn(4, 8), torch.randn(4, 2)
    with torch.no_grad():
        a, b = g(z, c), g(z, c)
        # Per-sample results do not depend on the rest of the batch (up to float rounding).
        single = g(z[1:2], c[1:2])
    assert torch.equal(a, b)
    assert (a[1:2] - single).abs().max().item() < 1e-5


def test_truncation_psi_zero_gives_w_avg_and_cutoff(nets: dict) -> None:
    g = nets["t_c0"]
    z = torch.randn(2, 16)
    with torch.no_grad():
        ws = g.mapping(z, None)
        ws0 = g.mapping(z, None, truncation_psi=0)
        ws_cut = g.mapping(z, None, truncation_psi=0.5, truncation_cutoff=2)
    assert torch.allclose(ws0, g.w_avg.expand_as(ws0))
    assert torch.allclose(ws_cut[:, :2], g.w_avg + 0.5 * (ws[:, :2] - g.w_avg))
    assert torch.equal(ws_cut[:, 2:], ws[:, 2:])


@pytest.mark.parametrize("name", ["t_c3", "r_c2"])
def test_state_dict_round_trip(nets: dict, name: str) -> None:
    g = nets[name]
    fresh = Generator(**copy.deepcopy(recipe.CONFIGS[name][0])).eval()
    fresh.load_state_dict(g.state_dict(), strict=True)
    for (k1, t1), (k2, t2) in zip(g.state_dict().items(), fresh.state_dict().items(), strict=True):
        assert k1 == k2 and torch.equal(t1, t2), k1
    z, c = torch.randn(2, g.z_dim), torch.randn(2, g.c_dim)
    with torch.no_grad():
        assert torch.equal(g(z, c), fresh(z, c))
    # New filter values loaded into the buffers are used (the resampling matrices follow).
    layer = fresh.synthesis.L1_24_32 if name == "r_c2" else fresh.synthesis.L1_28_24
    with torch.no_grad():
        before = fresh(z, c)
        layer.up_filter.mul_(1.5)
        assert not torch.allclose(before, fresh(z, c))


def test_missing_or_extra_tensor_fails_strict_load(nets: dict) -> None:
    g = nets["t_c0"]
    sd = dict(g.state_dict())
    del sd["synthesis.L0_36_32.magnitude_ema"]
    fresh = Generator(**copy.deepcopy(recipe.CONFIGS["t_c0"][0]))
    with pytest.raises(RuntimeError, match=r"Missing key.*synthesis\.L0_36_32\.magnitude_ema"):
        fresh.load_state_dict(sd, strict=True)
    # An extra tensor (a layer the rebuilt network does not have) fails too, named.
    sd = dict(g.state_dict())
    sd["synthesis.L0_36_32.stray_filter"] = torch.zeros(3)
    with pytest.raises(RuntimeError, match=r"Unexpected key.*synthesis\.L0_36_32\.stray_filter"):
        fresh.load_state_dict(sd, strict=True)
    assert "synthesis.L0_36_32.stray_filter" not in fresh.state_dict()


def test_official_t_and_r_layer_names() -> None:
    """The 1024x1024 T and R configs have NVIDIA's well-known layer names and num_ws."""
    with torch.device("meta"):
        t = Generator(512, 0, 512, 1024, 3, channel_base=32768, channel_max=512)
        r = Generator(
            512, 0, 512, 1024, 3, channel_base=65536, channel_max=1024, conv_kernel=1,
            use_radial_filters=True,
        )  # fmt: skip
    assert t.num_ws == r.num_ws == 16
    assert t.synthesis.layer_names[:2] == ["L0_36_512", "L1_36_512"]
    assert t.synthesis.layer_names[-3:] == ["L12_1044_32", "L13_1024_32", "L14_1024_3"]
    assert r.synthesis.layer_names[-3:] == ["L12_1044_64", "L13_1024_64", "L14_1024_3"]
    assert tuple(r.synthesis.L0_36_1024.down_filter.shape) == (12, 12)
    assert r.synthesis.L13_1024_64.down_filter.ndim == 1  # critically sampled: separable


def test_bad_kwargs_and_inputs_name_the_problem(nets: dict) -> None:
    with pytest.raises(TypeError, match="unknown StyleGAN3 synthesis kwargs.*channel_bse"):
        Generator(8, 0, 8, 16, 3, channel_bse=256)
    with pytest.raises(TypeError, match="unknown StyleGAN3 mapping_kwargs.*embed_features"):
        Generator(8, 0, 8, 16, 3, mapping_kwargs=dict(embed_features=4))
    g = nets["t_c3"]
    with pytest.raises(ValueError, match=r"c must be \[2, 3\]"):
        g.mapping(torch.randn(2, 12), None)
    with pytest.raises(ValueError, match=r"z must be \[N, 12\]"):
        g.mapping(torch.randn(2, 11), torch.randn(2, 3))
    with pytest.raises(ValueError, match=r"ws must be \[N, 7, 16\]"):
        g.synthesis(torch.randn(2, 6, 16))
    with pytest.raises(ValueError, match="noise_mode"):
        g.synthesis(torch.randn(2, 7, 16), noise_mode="fixed")


def test_fp16_layers_stay_float32_on_cpu(nets: dict) -> None:
    """On CPU, layers configured for fp16 compute in float32: the same numbers as the same
    network built without fp16 layers (single sample and batch paths, forced fp32 too)."""
    g = nets["t_c3"]
    layers = [getattr(g.synthesis, n) for n in g.synthesis.layer_names]
    assert any(isinstance(layer, SynthesisLayer) and layer.use_fp16 for layer in layers)
    cfg = copy.deepcopy(recipe.CONFIGS["t_c3"][0]) | {"num_fp16_res": 0}
    plain = Generator(**cfg).eval()
    assert not any(getattr(plain.synthesis, n).use_fp16 for n in plain.synthesis.layer_names)
    plain.load_state_dict(g.state_dict(), strict=True)
    gen = torch.Generator().manual_seed(3)
    for n in (1, 3):
        ws = torch.randn(n, g.num_ws, g.w_dim, generator=gen)
        with torch.no_grad():
            want = plain.synthesis(ws)
            for got in (g.synthesis(ws), g.synthesis(ws, force_fp32=True)):
                assert got.dtype == torch.float32
                torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)
    assert float(want.abs().max()) > 1e-2  # the images are not trivially small


def test_cpu_workspace_reuse_keeps_results_exact_and_separate(nets: dict, monkeypatch) -> None:
    """The CPU batch path keeps its scratch memory between calls: later calls (other inputs,
    other batch sizes, other threads) must neither see stale data nor overwrite results."""
    from ganatlas.networks import stylegan3 as sg3

    g = nets["t_c0"]
    gen = torch.Generator().manual_seed(5)
    ws = [torch.randn(n, g.num_ws, g.w_dim, generator=gen) for n in (3, 3, 5, 2)]
    with torch.no_grad():
        fresh = [copy.deepcopy(g).synthesis(w) for w in ws]  # each with a new workspace
        first = g.synthesis(ws[0])
        kept = first.clone()
        later = [g.synthesis(w) for w in ws[1:]] + [g.synthesis(ws[0])]
    assert torch.equal(first, kept), "a later call overwrote an earlier result"
    for got, want in zip(later, fresh[1:] + fresh[:1], strict=True):
        assert torch.equal(got, want)
    assert sg3._KEPT_WORKSPACES[g.synthesis].nbytes > 0

    # Concurrent calls on one network: the busy workspace is not shared.
    outs: dict[int, list[torch.Tensor]] = {i: [] for i in range(len(ws))}

    def work(i: int) -> None:
        with torch.no_grad():
            for _ in range(3):
                outs[i].append(g.synthesis(ws[i]))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(ws))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i, want in enumerate(fresh):
        assert all(torch.equal(o, want) for o in outs[i]), f"thread {i} got a wrong image"

    # Above WORKSPACE_KEEP_BYTES nothing is kept after the call.
    monkeypatch.setattr(sg3, "WORKSPACE_KEEP_BYTES", 0)
    with torch.no_grad():
        assert torch.equal(g.synthesis(ws[2]), fresh[2])
    assert sg3._KEPT_WORKSPACES[g.synthesis].nbytes == 0


def test_clamp_is_skipped_only_where_no_value_reaches_it(nets: dict, monkeypatch) -> None:
    """Skipping conv_clamp when the bound |x|max * A_h * A_w stays below it changes nothing:
    the images equal those with the clamp always applied, and both cases occur."""
    decisions: list[bool] = []
    real = SynthesisLayer._clamp_if_reachable

    def spy(self, *args):
        out = real(self, *args)
        decisions.append(out is None)
        return out

    def always(self, *args):
        return self.conv_clamp

    def with_clamp(name: str, clamp: float | None) -> Generator:
        g = copy.deepcopy(nets[name])
        for n in g.synthesis.layer_names:
            getattr(g.synthesis, n).conv_clamp = clamp
        return g

    tight = with_clamp("t_c0", 0.05)  # the activations here reach about 1
    with torch.no_grad():
        for name, g in (("t_c0", nets["t_c0"]), ("t_c0 clamp 0.05", tight), ("r_16", nets["r_16"])):
            ws = g.mapping(*recipe.inputs(recipe.CONFIGS[name.split()[0]][0], 0))
            monkeypatch.setattr(SynthesisLayer, "_clamp_if_reachable", spy)
            skipped = g.synthesis(ws)
            monkeypatch.setattr(SynthesisLayer, "_clamp_if_reachable", always)
            clamped = g.synthesis(ws)
            assert torch.equal(skipped, clamped), name
        assert any(decisions) and not all(decisions), "need layers with and without the clamp"
        # Where the clamp is kept it changes the image.
        ws = tight.mapping(*recipe.inputs(recipe.CONFIGS["t_c0"][0], 0))
        monkeypatch.setattr(SynthesisLayer, "_clamp_if_reachable", real)
        unclamped = with_clamp("t_c0", None).synthesis(ws)
        assert (tight.synthesis(ws) - unclamped).abs().max() > 1e-3


@pytest.mark.parametrize("block", [5, 16, 64])
def test_radial_channel_blocks_equal_the_channels_last_path(nets: dict, monkeypatch, block) -> None:
    """The CPU batch path runs the radial down filter on blocks of channels (the last block
    zero-filled when C is not a multiple, here 32 = 6 * 5 + 2); one sample at a time takes the
    channels-last path. Both give the same images (to float rounding: the depthwise kernel
    for 5 channels sums in another order)."""
    from ganatlas.networks import stylegan3 as sg3

    monkeypatch.setattr(sg3, "RADIAL_CHANNEL_BLOCK", block)
    g = nets["r_c2"]
    ws = torch.randn(3, g.num_ws, g.w_dim, generator=torch.Generator().manual_seed(block))
    with torch.no_grad():
        batch = g.synthesis(ws)
        single = torch.cat([g.synthesis(ws[i : i + 1]) for i in range(3)])
        again = g.synthesis(ws)  # the kept workspace, now with this layout
    err = (batch - single).abs().max().item()
    assert err <= 1e-5 * single.abs().max().item(), err  # float rounding only
    assert torch.equal(batch, again)


def test_filter_taps_follow_nvidias_rule_also_without_lrelu_upsampling() -> None:
    """Up/down filters have ``filter_size * factor`` taps when the layer resamples by a factor > 1
    and is not ToRGB, else one tap (no filter), as NVIDIA's SynthesisLayer: with
    ``lrelu_upsampling=1`` no layer resamples and none filters; the default (2) filters every
    layer but ToRGB on the way down."""
    from ganatlas.networks.stylegan3 import Generator as SG3

    for lrelu_up in (1, 2):
        g = SG3(8, 0, 8, 16, 3, channel_base=128, channel_max=16, num_layers=4,
                lrelu_upsampling=lrelu_up)  # fmt: skip
        layers = [m for m in g.synthesis.children() if hasattr(m, "down_factor")]
        assert len(layers) == 5
        for m in layers:
            resamples = m.down_factor > 1 and not m.is_torgb
            assert m.down_taps == (6 * m.down_factor if resamples else 1)  # filter_size 6
            assert (m.down_filter is None) == (not resamples)
            assert m.down_factor == (1 if m.is_torgb or lrelu_up == 1 else 2)

"""StyleGAN (2019) in plain PyTorch: numbers vs NVIDIA's TensorFlow ``G_style``, TF variable
names, TF-era pickles through the one loader, options."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import load_module

from ganatlas.networks import load_network, stylegan1
from ganatlas.networks.tf_pickle import TF_BUILDERS, TFNetwork

DATA = Path(__file__).parent / "data"


recipe = load_module("sg1_recipe", DATA / "sg1_make_reference.py")
pickles = load_module("tf_family_pickles", Path(__file__).parent / "tf_family_pickles.py")
REF = np.load(DATA / "sg1_reference.npz")
TOL = 1e-4
NAMES = list(recipe.CONFIGS)
PARTS = ("G_style", "G_mapping", "G_synthesis")


def seed_of(name: str) -> int:
    return NAMES.index(name)


def static(name: str) -> dict[str, dict]:
    """The static kwargs NVIDIA's tflib.Network recorded for each network of the config."""
    return {p: json.loads(str(REF[f"{name}/static_kwargs/{p}"])) for p in PARTS}


def tf_network(name: str, variables: dict | None = None) -> TFNetwork:
    """The config's ``Gs`` as the TF pickle reader returns it."""
    variables = variables or recipe.random_variables(recipe.CONFIGS[name], seed_of(name))
    kw = static(name)

    def net(part: str, comps: dict | None = None) -> TFNetwork:
        state = json.loads(str(REF[f"{name}/state/{part}"]))
        return TFNetwork(
            name=state["name"], version=state["version"], static_kwargs=kw[part],
            build_func_name=state["build_func_name"], build_module_src="", variables=variables[part],
            components=comps or {},
        )  # fmt: skip

    return net("G_style", {"mapping": net("G_mapping"), "synthesis": net("G_synthesis")})


def outputs(g: stylegan1.Generator, name: str) -> dict[str, np.ndarray]:
    """ganatlas's counterparts of the reference arrays."""
    cfg = recipe.CONFIGS[name]
    z, c = (torch.from_numpy(REF[f"{name}/{k}"]) for k in ("z", "c"))
    psi, cutoff = cfg["truncation"]
    out = {}
    with torch.no_grad():
        ws = g.mapping(z, c)
        out["ws"] = ws
        out["ws_trunc"] = g.mapping(z, c, truncation_psi=psi, truncation_cutoff=cutoff)
        out["img_const"] = g.synthesis(ws, noise_mode="const")
        out["img_none"] = g.synthesis(ws, noise_mode="none")
        out["img_mix"] = g.synthesis(torch.from_numpy(REF[f"{name}/ws_mix"]), noise_mode="const")
        trunc = dict(truncation_psi=psi, truncation_cutoff=cutoff, noise_mode="const")
        out["img_trunc"] = g(z, c, **trunc)
        for i, lod in enumerate(cfg["lods"]):
            out[f"img_lod{i}"] = g.synthesis(ws, noise_mode="const", lod=lod)
            out[f"img_full_lod{i}"] = g(z, c, lod=lod, **trunc)
    return {k: v.numpy() for k, v in out.items()}


def assert_matches(out: dict[str, np.ndarray], name: str, keys=None) -> None:
    for key in keys or out:
        ref = REF[f"{name}/{key}"]
        assert out[key].shape == ref.shape, key
        err = float(np.abs(out[key] - ref).max())
        assert err < TOL, f"{name} {key}: max abs diff {err}"


@pytest.mark.parametrize("name", NAMES)
def test_variable_names_and_shapes_are_nvidias(name: str) -> None:
    shapes = recipe.variable_shapes(recipe.CONFIGS[name])
    for part in PARTS:
        assert [n for n, _ in shapes[part]] == list(REF[f"{name}/names/{part}"])
    g = stylegan1.from_tf_network(tf_network(name))
    maps = stylegan1.tf_variable_map(g)
    for part in PARTS:
        expected = [n for n, _ in shapes[part] if not (part == "G_synthesis" and n == "lod")]
        assert list(maps[part]) == expected


@pytest.mark.parametrize("name", NAMES)
def test_matches_nvidias_tensorflow_reference(name: str) -> None:
    g = stylegan1.from_tf_network(tf_network(name))
    assert g.family == "stylegan1" and not g.training
    assert_matches(outputs(g, name), name)
    # The references are not trivial: noise, truncation, mixing and lod all change the output.
    ref = {k: REF[f"{name}/{k}"] for k in ("ws", "ws_trunc", "img_const", "img_none", "img_mix")}
    use_noise = recipe.CONFIGS[name]["kwargs"].get("use_noise", True)
    noise_effect = np.abs(ref["img_const"] - ref["img_none"]).max()
    assert noise_effect > 1e-2 if use_noise else noise_effect == 0
    assert np.abs(ref["ws"] - ref["ws_trunc"]).max() > 1e-2
    assert np.abs(ref["img_const"] - ref["img_mix"]).max() > 1e-2
    for i, _ in enumerate(recipe.CONFIGS[name]["lods"]):
        assert np.abs(REF[f"{name}/img_lod{i}"] - ref["img_const"]).max() > 1e-2


def test_kwargs_from_nvidias_static_kwargs() -> None:
    g = stylegan1.from_tf_network(tf_network("variants_32"))
    assert (g.z_dim, g.c_dim, g.w_dim, g.num_ws, g.img_resolution, g.img_channels) == (
        8, 2, 12, 8, 32, 1,
    )  # fmt: skip
    assert g.mapping.fc0.weight_gain == pytest.approx(np.sqrt(2) / np.sqrt(16) * 0.05)
    assert not hasattr(g.synthesis.b4, "const") and hasattr(g.synthesis.b4, "dense")
    assert g.synthesis.b8.conv0.conv.up == "fused"  # fused_scale=True at every resolution
    assert g.nvidia_truncation == (0.7, 8)  # NVIDIA's Gs defaults
    big = stylegan1.from_tf_network(tf_network("fused_c3_128"))
    ups = {r: getattr(big.synthesis, f"b{r}").conv0.conv.up for r in (8, 64, 128)}
    assert ups == {8: "nearest", 64: "nearest", 128: "fused"}  # fused_scale='auto'


@pytest.mark.parametrize("name", ["const_16", "variants_32"])
def test_tf_pickle_through_the_one_loader(name: str, tmp_path) -> None:
    cfg = recipe.CONFIGS[name]
    variables = recipe.random_variables(cfg, seed_of(name))
    gs = pickles.stylegan1_network("Gs", variables, static(name))
    g_net = pickles.stylegan1_network("G", variables, static(name))
    path = pickles.writer.write_tf_pickle(tmp_path / "net.pkl", (g_net, None, gs))
    assert TF_BUILDERS["G_style"] is stylegan1.from_tf_network
    for which in ("G_ema", "G"):
        g = load_network(path, which=which)
        assert isinstance(g, stylegan1.Generator) and g.family == "stylegan1"
        assert_matches(outputs(g, name), name)


def test_stored_lod_is_the_default_level_of_detail() -> None:
    name = "const_16"
    variables = recipe.random_variables(recipe.CONFIGS[name], seed_of(name))
    i = recipe.CONFIGS[name]["lods"].index(1.0)
    variables["G_style"]["lod"] = np.float32(1.0)  # a snapshot taken while growing
    g = stylegan1.from_tf_network(tf_network(name, variables))
    ws = torch.from_numpy(REF[f"{name}/ws"])
    with torch.no_grad():
        img = g.synthesis(ws, noise_mode="const").numpy()
        final = g.synthesis(ws, noise_mode="const", lod=0).numpy()
    assert np.abs(img - REF[f"{name}/img_lod{i}"]).max() < TOL
    assert np.abs(final - REF[f"{name}/img_const"]).max() < TOL
    with pytest.raises(ValueError, match=r"lod must be in \[0, 2\]"):
        g.synthesis(ws, lod=2.5)


@pytest.mark.parametrize("name", NAMES)
def test_tf_variables_round_trip(name: str) -> None:
    variables = recipe.random_variables(recipe.CONFIGS[name], seed_of(name))
    g = stylegan1.from_tf_network(tf_network(name, variables))
    back = stylegan1.tf_variables(g)
    for part in PARTS:
        assert list(back[part]) == list(variables[part])
        for key, value in variables[part].items():
            np.testing.assert_array_equal(np.asarray(back[part][key]), value, err_msg=key)
    assert stylegan1.stylegan1_kwargs(tf_network(name)) == stylegan1.stylegan1_kwargs(
        _with_static(tf_network(name), stylegan1.tf_static_kwargs(g))
    )


def _with_static(net: TFNetwork, kw: dict[str, dict]) -> TFNetwork:
    net.static_kwargs = kw["G_style"]
    net.components["mapping"].static_kwargs = kw["G_mapping"]
    net.components["synthesis"].static_kwargs = kw["G_synthesis"]
    return net


def test_variables_that_do_not_fit_are_refused_by_name() -> None:
    name = "const_16"
    variables = recipe.random_variables(recipe.CONFIGS[name], seed_of(name))
    del variables["G_synthesis"]["8x8/Conv1/bias"]
    with pytest.raises(ValueError, match=r"missing \['G_synthesis:8x8/Conv1/bias'\]"):
        stylegan1.from_tf_network(tf_network(name, variables))
    variables = recipe.random_variables(recipe.CONFIGS[name], seed_of(name))
    variables["G_mapping"]["Dense9/weight"] = np.zeros([2, 2], np.float32)
    with pytest.raises(ValueError, match=r"unexpected \['G_mapping:Dense9/weight'\]"):
        stylegan1.from_tf_network(tf_network(name, variables))
    variables = recipe.random_variables(recipe.CONFIGS[name], seed_of(name))
    variables["G_mapping"]["Dense0/weight"] = np.zeros([12, 21], np.float32)
    with pytest.raises(ValueError, match="Dense0/weight has shape"):
        stylegan1.from_tf_network(tf_network(name, variables))
    net = tf_network(name)
    net.components["synthesis"].static_kwargs["use_styles"] = False
    with pytest.raises(ValueError, match="use_styles=False"):
        stylegan1.from_tf_network(net)


def test_noise_modes_mapping_api_and_moving_average() -> None:
    g = stylegan1.from_tf_network(tf_network("const_16"))
    z = torch.randn(4, g.z_dim, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        ws = g.mapping(z, None)
        a, b = g.synthesis(ws, noise_mode="random"), g.synthesis(ws, noise_mode="random")
        assert a.shape == (4, 3, 16, 16) and torch.isfinite(a).all()
        assert not torch.equal(a, b)  # fresh noise at every call
        torch.manual_seed(5)
        c1 = g.synthesis(ws, noise_mode="random")
        torch.manual_seed(5)
        assert torch.equal(c1, g.synthesis(ws, noise_mode="random"))
        with pytest.raises(ValueError, match="noise_mode"):
            g.synthesis(ws, noise_mode="bogus")
        torch.manual_seed(5)  # without noise_mode: random, as NVIDIA's randomize_noise=True
        assert torch.equal(c1, g.synthesis(ws))
        with pytest.raises(ValueError, match=r"ws must be \[N, 6, 16\]"):
            g.synthesis(ws[:, :5])
        with pytest.raises(ValueError, match=r"z must be \[N, 12\]"):
            g.mapping(z[:, :3], None)
        # Truncation towards w_avg; cutoff None: every row.
        t = g.mapping(z, None, truncation_psi=0.0)
        assert torch.allclose(t, g.w_avg.expand_as(t))
        t = g.mapping(z, None, truncation_psi=0.0, truncation_cutoff=2)
        assert torch.allclose(t[:, :2], g.w_avg.expand_as(t[:, :2]))
        assert torch.equal(t[:, 2:], ws[:, 2:])
        before = g.w_avg.clone()
        g.mapping(z, None, update_emas=True)
        expected = ws[:, 0].mean(0).lerp(before, 0.995)
        assert torch.allclose(g.w_avg, expected)


def test_gradients_flow_and_match_the_inference_path() -> None:
    """Projection optimises W through the synthesis network: the autograd path (no in-place
    updates of saved tensors) gives the inference path's image and finite gradients."""
    g = stylegan1.from_tf_network(tf_network("const_16"))
    ws = torch.from_numpy(REF["const_16/ws"]).clone().requires_grad_(True)
    img = g.synthesis(ws, noise_mode="const")
    with torch.no_grad():
        fast = g.synthesis(ws, noise_mode="const")
    torch.testing.assert_close(img.detach(), fast, rtol=0, atol=1e-5)
    img.square().mean().backward()
    assert ws.grad is not None and torch.isfinite(ws.grad).all() and ws.grad.abs().sum() > 0
    # The mapping too (z is not a parameter, but projection into Z needs it).
    z = torch.from_numpy(REF["const_16/z"]).clone().requires_grad_(True)
    g(z, None, truncation_psi=0.7).mean().backward()
    assert z.grad is not None and torch.isfinite(z.grad).all()


def test_cpu_channels_last_is_only_an_internal_layout() -> None:
    g = stylegan1.from_tf_network(tf_network("const_16"))
    ws = torch.from_numpy(REF["const_16/ws"])
    with torch.no_grad():
        img = g.synthesis(ws, noise_mode="const")
        for block in g.synthesis.modules():
            if isinstance(block, stylegan1.SynthesisBlock):
                block.channels_last_on_cpu = False
        plain = g.synthesis(ws, noise_mode="const")
    assert img.is_contiguous()
    torch.testing.assert_close(img, plain, rtol=0, atol=1e-5)


def test_tf_kwarg_defaults_are_nvidias() -> None:
    """The defaults ``G_style`` / ``G_mapping`` / ``G_synthesis`` take in NVIDIA's StyleGAN
    (training/networks_stylegan.py), as literals: a pickle that leaves a kwarg out is rebuilt
    with NVIDIA's value (only the kwargs that shape the networks are kept)."""
    assert stylegan1.G_STYLE_DEFAULTS == {"truncation_psi": 0.7, "truncation_cutoff": 8}
    assert stylegan1.G_MAPPING_DEFAULTS == {
        "latent_size": 512, "label_size": 0, "dlatent_size": 512, "mapping_layers": 8,
        "mapping_fmaps": 512, "mapping_lrmul": 0.01, "mapping_nonlinearity": "lrelu",
        "use_wscale": True, "normalize_latents": True,
    }  # fmt: skip
    assert stylegan1.G_SYNTHESIS_DEFAULTS == {
        "dlatent_size": 512, "num_channels": 3, "resolution": 1024, "fmap_base": 8192,
        "fmap_decay": 1.0, "fmap_max": 512, "use_styles": True, "const_input_layer": True,
        "use_noise": True, "nonlinearity": "lrelu", "use_wscale": True, "use_pixel_norm": False,
        "use_instance_norm": True, "fused_scale": "auto", "blur_filter": [1, 2, 1],
    }  # fmt: skip

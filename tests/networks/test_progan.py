"""Progressive GAN in plain PyTorch: images vs NVIDIA's TensorFlow ``G_paper`` at several levels
of detail, TF variable names, TF-era pickles through the one loader, the W = Z API."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import load_module

from ganatlas.networks import load_network, progan
from ganatlas.networks.tf_pickle import TF_BUILDERS, TFNetwork

DATA = Path(__file__).parent / "data"


recipe = load_module("progan_recipe", DATA / "progan_make_reference.py")
pickles = load_module("tf_family_pickles", Path(__file__).parent / "tf_family_pickles.py")
REF = np.load(DATA / "progan_reference.npz")
TOL = 1e-4
NAMES = list(recipe.CONFIGS)


def variables(name: str) -> dict[str, np.ndarray]:
    return recipe.random_variables(recipe.CONFIGS[name], NAMES.index(name))


def static(name: str) -> dict:
    return json.loads(str(REF[f"{name}/static_kwargs"]))


def tf_network(name: str, var: dict | None = None) -> TFNetwork:
    state = json.loads(str(REF[f"{name}/state"]))
    return TFNetwork(
        name=state["name"], version=state["version"], static_kwargs=static(name),
        build_func_name=state["build_func_name"], build_module_src="",
        variables=var if var is not None else variables(name), origin="tfutil",
    )  # fmt: skip


def inputs(name: str) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.from_numpy(REF[f"{name}/z"]), torch.from_numpy(REF[f"{name}/c"])


@pytest.mark.parametrize("name", NAMES)
def test_variable_names_and_shapes_are_nvidias(name: str) -> None:
    shapes = recipe.variable_shapes(recipe.CONFIGS[name])
    assert [n for n, _ in shapes] == list(REF[f"{name}/names"])
    g = progan.from_tf_network(tf_network(name))
    assert list(progan.tf_variable_map(g)) == [n for n, _ in shapes]


@pytest.mark.parametrize("name", NAMES)
def test_matches_nvidias_tensorflow_reference_at_every_lod(name: str) -> None:
    g = progan.from_tf_network(tf_network(name))
    assert g.family == "progan" and g.num_ws == 1 and g.w_dim == g.z_dim + g.c_dim
    z, c = inputs(name)
    lods = recipe.CONFIGS[name]["lods"]
    with torch.no_grad():
        ws = g.mapping(z, c)
        for i, lod in enumerate(lods):
            ref = REF[f"{name}/img_lod{i}"]
            for img in (g(z, c, lod=lod), g.synthesis(ws, lod=lod)):
                err = float(np.abs(img.numpy() - ref).max())
                assert img.shape == ref.shape and err < TOL, f"{name} lod {lod}: {err}"
    # Every level of detail gives another image.
    for i in range(1, len(lods)):
        assert np.abs(REF[f"{name}/img_lod{i}"] - REF[f"{name}/img_lod0"]).max() > 1e-2


def test_kwargs_from_nvidias_static_kwargs() -> None:
    g = progan.from_tf_network(tf_network("nearest_relu_32"))
    assert (g.z_dim, g.c_dim, g.img_resolution, g.img_channels) == (32, 0, 32, 1)  # nf(0)
    assert g.synthesis.b8.conv0.up == "nearest"
    assert progan.from_tf_network(tf_network("fused_c2_16")).synthesis.b8.conv0.up == "fused"
    assert progan.progan_kwargs(static("no_wscale_8"))["pixelnorm_epsilon"] == 1e-4


@pytest.mark.parametrize("name", ["fused_c2_16", "nearest_relu_32"])
def test_tf_pickle_through_the_one_loader(name: str, tmp_path) -> None:
    var = variables(name)
    var["lod"] = np.float32(recipe.CONFIGS[name]["lods"][1])  # a snapshot taken while growing
    nets = [pickles.progan_network(n, var, static(name)) for n in ("G", "Gs")]
    path = pickles.writer.write_tf_pickle(tmp_path / "net.pkl", (nets[0], None, nets[1]))
    assert TF_BUILDERS["G_paper"] is progan.from_tf_network
    z, c = inputs(name)
    for which in ("G_ema", "G"):
        g = load_network(path, which=which)
        assert isinstance(g, progan.Generator) and g.family == "progan"
        with torch.no_grad():
            stored, final = g(z, c), g(z, c, lod=0)
        assert np.abs(stored.numpy() - REF[f"{name}/img_lod1"]).max() < TOL  # the stored lod
        assert np.abs(final.numpy() - REF[f"{name}/img_lod0"]).max() < TOL


@pytest.mark.parametrize("name", NAMES)
def test_tf_variables_round_trip(name: str) -> None:
    var = variables(name)
    g = progan.from_tf_network(tf_network(name, var))
    back = progan.tf_variables(g)
    assert list(back) == list(var)
    for key, value in var.items():
        np.testing.assert_array_equal(np.asarray(back[key]), value, err_msg=key)
    assert progan.progan_kwargs(progan.tf_static_kwargs(g)) == progan.progan_kwargs(static(name))


def test_variables_that_do_not_fit_are_refused_by_name() -> None:
    var = variables("fused_c2_16")
    del var["ToRGB_lod1/bias"]
    with pytest.raises(ValueError, match=r"missing \['ToRGB_lod1/bias'\]"):
        progan.from_tf_network(tf_network("fused_c2_16", var))
    var = variables("fused_c2_16")
    var["8x8/Conv0/weight"] = var.pop("8x8/Conv0_up/weight")  # fused_scale says Conv0_up
    with pytest.raises(ValueError, match=r"unexpected \['8x8/Conv0/weight'\]"):
        progan.from_tf_network(tf_network("fused_c2_16", var))


def test_w_is_z_and_c() -> None:
    g = progan.from_tf_network(tf_network("fused_c2_16"))
    z, c = inputs("fused_c2_16")
    ws = g.mapping(z, c)
    assert ws.shape == (3, 1, 10) and torch.equal(ws[:, 0], torch.cat([z, c], 1))
    half = g.mapping(z, c, truncation_psi=0.5)  # towards 0 in z; the label stays
    assert torch.allclose(half[:, 0, :8], 0.5 * z) and torch.equal(half[:, 0, 8:], c)
    assert torch.equal(g.w_avg, torch.zeros(10))
    with pytest.raises(ValueError, match=r"c must be \[3, 2\]"):
        g.mapping(z, None)
    with pytest.raises(ValueError, match=r"lod must be in \[0, 2\]"):
        g.synthesis(ws, lod=-0.5)
    with torch.no_grad():  # noise modes are accepted and change nothing (ProGAN has no noise)
        assert torch.equal(g.synthesis(ws, noise_mode="random"), g.synthesis(ws))


def test_cached_up_kernels_follow_the_weights() -> None:
    """The 4x4 up-convolution kernels are kept between calls without autograd; changing a weight
    in place (an optimiser step, load_state_dict) must not reuse a stale one."""
    g = progan.from_tf_network(tf_network("fused_c2_16"))
    z, c = inputs("fused_c2_16")
    with torch.no_grad():
        before = g(z, c)
        g.synthesis.b8.conv0.weight.mul_(-1)
        flipped = g(z, c)
        fresh = progan.from_tf_network(tf_network("fused_c2_16"))
        fresh.synthesis.b8.conv0.weight.mul_(-1)
        assert torch.equal(flipped, fresh(z, c)) and not torch.equal(flipped, before)
        g.load_state_dict(progan.from_tf_network(tf_network("fused_c2_16")).state_dict())
        assert torch.equal(g(z, c), before)


def test_up_kernel_cache_contract() -> None:
    """Without autograd the 4x4 kernel is computed once and handed out again while the weight is
    unchanged (each layer its own); with autograd on a trainable weight it is never cached (the
    graph must reach the weight); inference tensors have no version counter: never cached."""
    torch.manual_seed(0)
    for up in ("fused", "nearest"):
        layer, other = progan.EqualizedConv2d(3, 5, up=up), progan.EqualizedConv2d(3, 5, up=up)
        w = layer.weight * layer.weight_gain
        want = progan.fused_up_kernel(w if up == "fused" else w.flip(2, 3)).detach()
        with torch.no_grad():
            first = layer._up_kernel()
            hit = layer._up_kernel()  # the same storage: not computed again
            assert torch.equal(first, want) and hit.data_ptr() == first.data_ptr()
            assert not torch.equal(other._up_kernel(), first)  # no kernel shared between layers
        graph = layer._up_kernel()
        assert (
            graph.data_ptr() != first.data_ptr()
            and graph.grad_fn is not None
            and torch.equal(graph, want)
        )
        graph.sum().backward()
        assert layer.weight.grad is not None
        with torch.no_grad():
            assert layer._up_kernel() is hit  # the autograd call left the cache as it was
            layer.weight.add_(1.0)
            assert not torch.equal(layer._up_kernel(), first)
    with torch.inference_mode():
        layer = progan.EqualizedConv2d(3, 5, up="fused")
        assert layer.weight.is_inference()
        first = layer._up_kernel()
        again = layer._up_kernel()
        assert again.data_ptr() != first.data_ptr() and not hasattr(layer, "_up_kernel_cache")


def test_lod_out_of_range_message_names_the_range_and_sizes() -> None:
    for lod in (-0.5, 2.5):
        with pytest.raises(ValueError) as err:
            progan.check_lod(lod, 4)
        assert str(err.value) == f"lod must be in [0, 2] (0 = 16 px, 2 = 4 px), got {lod}"
    assert progan.check_lod(2, 4) == 2.0 and progan.check_lod(0, 4) == 0.0


def test_mismatched_tf_variables_list_at_most_eight_names_each() -> None:
    """The error names the first 8 missing and unexpected TF variables, '...' when there are
    more."""

    def message(n_missing: int, n_unexpected: int) -> str:
        mapping = {f"m{i}": ("weight", np.asarray) for i in range(n_missing)}
        variables = {f"u{i}": np.zeros(1) for i in range(n_unexpected)}
        with pytest.raises(ValueError) as err:
            progan.load_tf_variables(torch.nn.Linear(1, 1), variables, mapping, "G")
        return str(err.value)

    head = "G: the TF variables do not match the network its kwargs describe"
    m8, u8 = [f"m{i}" for i in range(8)], [f"u{i}" for i in range(8)]
    assert message(8, 8) == f"{head} (missing {m8}, unexpected {u8})"
    assert message(9, 8) == f"{head} (missing {m8}..., unexpected {u8})"
    assert message(8, 9) == f"{head} (missing {m8}, unexpected {u8}...)"
    assert message(0, 1) == f"{head} (missing [], unexpected ['u0'])"

"""The StyleGAN2 discriminator: TF-era D vs NVIDIA's converter, and ``ganatlas convert`` output
in the structure NVIDIA's ``legacy.load_network_pkl`` needs (G, D, G_ema as their classes)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import load_module

from ganatlas.networks import load_network
from ganatlas.networks.persistence import (
    NetworkPickleError,
    PersistentRecord,
    load_network_pickle,
    read_snapshot,
    save_network_pickle,
)
from ganatlas.networks.registry import FAMILIES
from ganatlas.networks.stylegan2_discriminator import (
    Discriminator,
    MinibatchStdLayer,
    build_discriminator,
    load_discriminator,
)
from ganatlas.networks.stylegan2_tf_discriminator import (
    _rename_lod_fromrgb,
    convert_tf_discriminator,
)
from ganatlas.networks.tf_pickle import TFPickleError, convert_tf_pickle, read_tf_pickle

DATA = Path(__file__).parent / "data"
writer = load_module("tf_pickle_writer", Path(__file__).parent / "tf_pickle_writer.py")
recipe = load_module("sg2tf_recipe", DATA / "sg2tf_make_reference.py")
d_recipe = load_module("sg2tf_d_recipe", DATA / "sg2tf_d_make_reference.py")
persistence_tests = load_module(
    "test_persistence_helpers", Path(__file__).parent / "test_persistence.py"
)
REF = np.load(DATA / "sg2tf_d_reference.npz")
TOL = 1e-4

# Facts about stylegan2-ada-pytorch's training.networks (read from their source, not copied):
# each class's constructor parameters, and the plain attributes its forward() reads from the
# restored __dict__ (NVIDIA's loader restores the stored state as is and never calls __init__).
NVIDIA_PARAMS: dict[str, set[str]] = {
    "Discriminator": {"c_dim", "img_resolution", "img_channels", "architecture", "channel_base",
                      "channel_max", "num_fp16_res", "conv_clamp", "cmap_dim", "block_kwargs",
                      "mapping_kwargs", "epilogue_kwargs"},
    "DiscriminatorBlock": {"in_channels", "tmp_channels", "out_channels", "resolution",
                           "img_channels", "first_layer_idx", "architecture", "activation",
                           "resample_filter", "conv_clamp", "use_fp16", "fp16_channels_last",
                           "freeze_layers"},
    "DiscriminatorEpilogue": {"in_channels", "cmap_dim", "resolution", "img_channels",
                              "architecture", "mbstd_group_size", "mbstd_num_channels",
                              "activation", "conv_clamp"},
    "MappingNetwork": {"z_dim", "c_dim", "w_dim", "num_ws", "num_layers", "embed_features",
                       "layer_features", "activation", "lr_multiplier", "w_avg_beta"},
    "Generator": {"z_dim", "c_dim", "w_dim", "img_resolution", "img_channels", "mapping_kwargs",
                  "synthesis_kwargs"},
}  # fmt: skip
NVIDIA_FORWARD_ATTRS: dict[str, set[str]] = {
    "Discriminator": {"block_resolutions", "c_dim"},
    "DiscriminatorBlock": {"architecture", "channels_last", "img_channels", "in_channels",
                           "resolution", "use_fp16"},
    "MinibatchStdLayer": {"group_size", "num_channels"},
    "DiscriminatorEpilogue": {"architecture", "cmap_dim", "img_channels", "in_channels",
                              "resolution"},
    "Conv2dLayer": {"act_gain", "activation", "conv_clamp", "down", "padding", "up",
                    "weight_gain"},
    "FullyConnectedLayer": {"activation", "bias_gain", "weight_gain"},
    "MappingNetwork": {"c_dim", "num_layers", "num_ws", "w_avg_beta", "z_dim"},
    "SynthesisLayer": {"act_gain", "activation", "conv_clamp", "padding", "resolution", "up",
                       "use_noise"},
    "ToRGBLayer": {"conv_clamp", "weight_gain"},
    "SynthesisBlock": {"architecture", "channels_last", "img_channels", "in_channels", "is_last",
                       "num_conv", "num_torgb", "resolution", "use_fp16", "w_dim"},
    "SynthesisNetwork": {"block_resolutions", "num_ws", "w_dim"},
    "Generator": set(),
}  # fmt: skip
SNAPSHOT_GLOBALS = {
    "torch_utils.persistence._reconstruct_persistent_obj", "dnnlib.util.EasyDict",
    "collections.OrderedDict", "torch._utils._rebuild_parameter",
    "torch._utils._rebuild_tensor_v2", "torch.storage._load_from_bytes",
}  # fmt: skip


@pytest.fixture(scope="module")
def pickles(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("tfd")
    return {name: recipe.write_config(name, folder / f"{name}.pkl") for name in recipe.CONFIGS}


def _plain_json(obj: object) -> object:
    return json.loads(json.dumps(obj))


@pytest.mark.parametrize("name", list(recipe.D_CONFIGS))
def test_discriminator_matches_nvidias_converter(name: str, pickles) -> None:
    d = load_discriminator(pickles[name])
    assert isinstance(d, Discriminator) and not d.training
    assert not any(p.requires_grad for p in d.parameters())
    out = d_recipe.d_outputs(d, name)
    for key in ("d4", "d2"):
        assert out[key].shape == REF[f"{name}/{key}"].shape == (len(out[key]), 1)
        err = np.abs(out[key] - REF[f"{name}/{key}"]).max()
        assert err < TOL, f"{name} {key}: max abs diff {err}"
    # The same kwargs as NVIDIA's converter, key for key (so their force_fp16 rebuild works).
    assert _plain_json(d.init_kwargs) == json.loads(str(REF[f"{name}/d_kwargs"]))
    # NVIDIA's legacy.load_network_pkl, run on the 'ganatlas convert' output when the
    # references were made, gave the same logits and images (recorded by the recipe).
    assert np.abs(REF[f"{name}/nv_loaded_d4"] - REF[f"{name}/d4"]).max() < TOL
    assert float(REF[f"{name}/nv_loaded_G_maxdiff"]) < TOL
    assert float(REF[f"{name}/nv_loaded_G_ema_maxdiff"]) < TOL
    # Not trivial: logits differ between images, and with a minibatch-std layer the batch of 2
    # gives other logits for the same two images than the batch of 4 (other groups).
    d4, d2 = REF[f"{name}/d4"], REF[f"{name}/d2"]
    assert d4.std() > 5e-3
    mbstd = recipe.D_CONFIGS[name][1].get("mbstd_num_features", 1)
    assert (np.abs(d4[:2] - d2).max() > 4 * TOL) == (mbstd > 0)


def test_conditional_logits_depend_on_the_label(pickles) -> None:
    d = load_discriminator(pickles["ada_tf_cond"])
    img, c = d_recipe.d_inputs("ada_tf_cond")
    with torch.no_grad():
        other = d(img, c.roll(1, dims=1)).numpy()
    assert np.abs(other - REF["ada_tf_cond/d4"]).max() > 1e-2
    assert d.mapping.num_layers == 2 and d.b4.cmap_dim == 8
    with pytest.raises(ValueError, match=r"c must be \[N, 3\], got None"):
        d(img)


def _records(rec: PersistentRecord, prefix: str = "") -> dict[str, PersistentRecord]:
    out = {prefix or "<root>": rec}
    for name, child in rec.children().items():
        out.update(_records(child, f"{prefix}{name}."))
    return out


@pytest.mark.parametrize("name", ["config_f_fused", "config_e_resnet", "ada_tf_cond"])
def test_converted_pickle_has_what_nvidias_loader_needs(name: str, pickles, tmp_path) -> None:
    out = convert_tf_pickle(pickles[name], tmp_path / "conv.pkl")
    snap = read_snapshot(out)
    # legacy.load_network_pkl: G, D and G_ema must be modules; augment_pipe a module or None;
    # training_set_kwargs a dict or None.
    assert list(snap) == ["G", "D", "G_ema", "augment_pipe", "training_set_kwargs"]
    assert snap["augment_pipe"] is None and snap["training_set_kwargs"] is None
    assert persistence_tests.pickle_globals(out) == SNAPSHOT_GLOBALS
    for key, root in (("G", "Generator"), ("D", "Discriminator"), ("G_ema", "Generator")):
        rec = snap[key]
        assert isinstance(rec, PersistentRecord) and rec.class_name == root, key
        for where, r in _records(rec).items():
            # _reconstruct_persistent_obj: version 6, type 'class', the class found by name in
            # the module its source imports (their training.networks).
            assert (r.version, r.type) == (6, "class"), (key, where)
            assert "from training.networks import *" in r.module_src, (key, where)
            assert "def " not in r.module_src and "class " not in r.module_src
            assert r.class_name in NVIDIA_FORWARD_ATTRS, (key, where, r.class_name)
            missing = NVIDIA_FORWARD_ATTRS[r.class_name] - set(r.state)
            assert not missing, f"{key} {where} ({r.class_name}) lacks {missing}"
            kwargs = set(r.state["_init_kwargs"])
            assert kwargs <= NVIDIA_PARAMS.get(r.class_name, kwargs), (key, where)
        if root == "Discriminator":
            kw = rec.state["_init_kwargs"]
            assert set(kw["block_kwargs"]) <= NVIDIA_PARAMS["DiscriminatorBlock"]
            assert set(kw["epilogue_kwargs"]) <= NVIDIA_PARAMS["DiscriminatorEpilogue"]
            assert set(kw["mapping_kwargs"]) <= NVIDIA_PARAMS["MappingNetwork"]
    # And ganatlas reads all three back: identical tensors, logits and images.
    d_tf, d_pt = load_discriminator(pickles[name]), load_discriminator(out)
    a, b = d_tf.state_dict(), d_pt.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert d_pt.init_kwargs == d_tf.init_kwargs
    img, c = d_recipe.d_inputs(name)
    with torch.no_grad():
        assert torch.equal(d_pt(img, c), d_tf(img, c))
    for which in ("G_ema", "G"):
        g_tf, g_pt = load_network(pickles[name], which=which), load_network(out, which=which)
        truncate = which == "G_ema"
        assert np.array_equal(
            d_recipe.g_images(g_tf, name, truncate), d_recipe.g_images(g_pt, name, truncate)
        )


def test_convert_without_a_discriminator(pickles, tmp_path, capsys) -> None:
    from ganatlas.cli import main

    tfp_src = recipe.write_config("config_e_orig", tmp_path / "full.pkl")
    kw = recipe.CONFIGS["config_e_orig"][0]
    no_d = writer.write_tf_pickle(
        tmp_path / "no_d.pkl",
        (recipe.g_main_network(kw, 100, name="G"), None, recipe.g_main_network(kw, 5)),
    )
    out = tmp_path / "out.pkl"
    assert main(["convert", str(no_d), str(out)]) == 2
    assert "holds no discriminator (D), and NVIDIA's loader needs one" in capsys.readouterr().err
    assert not out.exists()
    assert main(["convert", "--allow-missing-d", str(no_d), str(out)]) == 0
    assert read_snapshot(out)["D"] is None
    assert load_network(out).img_resolution == 16
    with pytest.raises(NetworkPickleError, match="holds no discriminator under 'D'"):
        load_discriminator(out)
    with pytest.raises(NetworkPickleError, match="TF-era pickle holds no discriminator"):
        load_discriminator(no_d)
    # D through the generator loaders: refused with a pointer to load_discriminator.
    full = convert_tf_pickle(tfp_src, tmp_path / "full_out.pkl")
    with pytest.raises(NetworkPickleError, match="Discriminator, not a generator.*load_discrimin"):
        load_network_pickle(full, which="D")
    with pytest.raises(TFPickleError, match="not a generator.*load_discriminator"):
        load_network(tfp_src, which="D")


def _d_net(name: str, **changes) -> object:
    net = recipe.d_network(name, 7)
    net.state["static_kwargs"].update(changes)
    return net


def _convert(net: object, tmp_path: Path) -> Discriminator:
    path = writer.write_tf_pickle(tmp_path / "d.pkl", (None, net, None))
    return convert_tf_discriminator(read_tf_pickle(path).D)


def test_tf_discriminator_errors_name_the_problem(tmp_path) -> None:
    with pytest.raises(TFPickleError, match=r"discriminator kwargs \['mystery'\]"):
        _convert(_d_net("config_e_orig", mystery=1), tmp_path)
    net = _d_net("config_e_orig")
    net.state["variables"] = [v for v in net.state["variables"] if v[0] != "16x16/Conv0/bias"]
    with pytest.raises(TFPickleError, match="lacks variable 16x16/Conv0/bias .for b16.conv0.bias"):
        _convert(net, tmp_path)
    net = _d_net("config_e_orig")
    net.state["variables"].append(("Extra/weight", np.zeros((2, 2), np.float32)))
    with pytest.raises(TFPickleError, match=r"variables not understood: \['Extra/weight'\]"):
        _convert(net, tmp_path)
    net = _d_net("config_e_orig")
    net.state["version"] = 3
    with pytest.raises(TFPickleError, match="state version 3"):
        _convert(net, tmp_path)
    # TF's Dense0 has min(fmap_base, fmap_max) outputs, PyTorch's fc min(fmap_base / 2, ...):
    # a network where they differ cannot be converted (NVIDIA's converter fails there too).
    kw = dict(recipe.D_CONFIGS["config_e_orig"][1], fmap_base=16, fmap_max=16)
    net = writer.FakeTFNetwork.dnnlib("D", "D_stylegan2", kw, recipe.d_variables(kw, 0))
    with pytest.raises(TFPickleError, match="4x4/Dense0/weight has shape .128, 16."):
        _convert(net, tmp_path)
    net = _d_net("config_e_orig")
    net.state["variables"].append(("lod", np.float32(0)))  # progressive-growing state: ignored
    assert _convert(net, tmp_path).b4.mbstd.group_size == 2


def test_fromrgb_lod_names_mean_the_orig_architecture(tmp_path) -> None:
    ref = _convert(_d_net("config_e_resnet"), tmp_path)
    net = _d_net("config_e_resnet")
    net.state["variables"] = [
        (n.replace("16x16/FromRGB", "FromRGB_lod0"), v) for n, v in net.state["variables"]
    ]
    net.state["variables"] = [v for v in net.state["variables"] if "Skip" not in v[0]]
    d = _convert(net, tmp_path)
    assert d.init_kwargs["architecture"] == "orig" and not hasattr(d.b16, "skip")
    assert torch.equal(d.b16.fromrgb.weight, ref.b16.fromrgb.weight)
    # lod n is the resolution divided by 2**n.
    renamed, any_lod = _rename_lod_fromrgb({"FromRGB_lod2/bias": 1, "4x4/Conv/bias": 2}, 32)
    assert renamed == {"8x8/FromRGB/bias": 1, "4x4/Conv/bias": 2} and any_lod


def test_minibatch_std_groups_as_nvidia() -> None:
    x = torch.arange(4 * 2 * 1 * 1, dtype=torch.float32).reshape(4, 2, 1, 1) ** 2
    y = MinibatchStdLayer(group_size=2)(x)
    assert y.shape == (4, 3, 1, 1) and torch.equal(y[:, :2], x)
    # Groups are samples {0, 2} and {1, 3} (sample i in group i mod N/G).
    for i, j in ((0, 2), (1, 3)):
        std = (x[[i, j]].std(dim=0, unbiased=False) ** 2 + 1e-8).sqrt().mean()
        assert torch.allclose(y[i, 2], std) and torch.allclose(y[j, 2], std)
    whole = MinibatchStdLayer(group_size=None)(x)[:, 2].flatten()
    assert torch.allclose(whole, (x.var(dim=0, unbiased=False) + 1e-8).sqrt().mean().expand(4))
    with pytest.raises(ValueError, match="batch 3 is not divisible by the group size 2"):
        MinibatchStdLayer(group_size=2)(x[:3])
    # identical samples: the std channel is sqrt(eps) = sqrt(1e-8) exactly (NVIDIA's epsilon)
    same = MinibatchStdLayer(group_size=2)(torch.full((4, 2, 3, 3), 0.7, dtype=torch.float64))
    torch.testing.assert_close(same[:, 2], torch.full((4, 3, 3), 1e-4, dtype=torch.float64))


def test_ganatlas_discriminators_round_trip_and_bad_records(tmp_path) -> None:
    torch.manual_seed(0)
    d = Discriminator(
        c_dim=2, img_resolution=16, img_channels=3, architecture="skip", channel_base=128,
        channel_max=16, num_fp16_res=2, conv_clamp=256,
        epilogue_kwargs={"mbstd_group_size": 2}, mapping_kwargs={"num_layers": 1},
    ).eval()  # fmt: skip
    path = save_network_pickle(tmp_path / "d.pkl", G=FAMILIES["stylegan2"].small(), D=d)
    back = load_discriminator(path)
    img, c = torch.randn(4, 3, 16, 16), torch.eye(2)[[0, 1, 1, 0]]
    with torch.no_grad():
        assert torch.equal(back(img, c, force_fp32=True), d(img, c))
    with pytest.raises(ValueError, match=r"img must be \[N, 3, 16, 16\], got \(4, 3, 8, 8\)"):
        d(img[:, :, :8, :8], c)
    # fp16 blocks (the top num_fp16_res resolutions) keep NVIDIA's channels_last flag.
    assert (d.b16.use_fp16, d.b8.use_fp16) == (True, True)
    flags = Discriminator(
        0, 32, 3, channel_base=128, channel_max=16, num_fp16_res=1,
        block_kwargs={"fp16_channels_last": True},
    )  # fmt: skip
    assert (flags.b32.channels_last, flags.b16.channels_last) == (True, False)
    with pytest.raises(ValueError, match=r"cmap must be \[N, 16\], got None"):
        d.b4(torch.zeros(4, 16, 4, 4), torch.zeros(4, 3, 4, 4), None)
    rec = read_snapshot(path)["D"]
    with pytest.raises(NetworkPickleError, match="D is a 'Generator', not a Discriminator"):
        build_discriminator(read_snapshot(path)["G"])
    rec.state["_init_kwargs"]["channel_max"] = 1 << 30
    with pytest.raises(NetworkPickleError, match="channel_max=1073741824 is outside"):
        build_discriminator(rec)
    rec.state["_init_kwargs"]["channel_max"] = 32
    with pytest.raises(NetworkPickleError, match="tensors do not match the rebuilt Discriminator"):
        build_discriminator(rec)
    # Kwargs that declare far more values than the file holds: refused before allocating.
    rec.state["_init_kwargs"].update(channel_base=1 << 18, channel_max=2048)
    with pytest.raises(NetworkPickleError, match="declare a network of .* the file holds"):
        build_discriminator(rec)


def test_defaults_are_nvidias() -> None:
    """Constructor defaults of stylegan2-ada-pytorch's ``Discriminator`` (training/networks.py)
    and the TF converter's defaults for kwargs a TF pickle leaves out (legacy.py), as literals:
    a network built or converted without them gets NVIDIA's architecture."""
    from ganatlas.networks.stylegan2_tf_discriminator import convert_kwargs

    d = Discriminator(c_dim=0, img_resolution=8, img_channels=3)
    assert d.init_kwargs == {"c_dim": 0, "img_resolution": 8, "img_channels": 3}
    # channel_base 32768 and channel_max 512: 512 channels at 8 and 4 px, a resnet skip
    assert tuple(d.b8.conv0.weight.shape) == (512, 512, 3, 3)
    assert tuple(d.b8.skip.weight.shape) == (512, 512, 1, 1)
    assert tuple(d.b4.fc.weight.shape) == (512, 512 * 4 * 4)
    assert d.b4.mbstd.group_size == 4 and d.b4.mbstd.num_channels == 1 and d.b4.cmap_dim == 0
    for bad in (4, 12):  # a power of two >= 8
        with pytest.raises(ValueError, match=f"power of two >= 8, got {bad}"):
            Discriminator(c_dim=0, img_resolution=bad, img_channels=3)
    assert convert_kwargs({}) == {
        "c_dim": 0, "img_resolution": 1024, "img_channels": 3, "architecture": "resnet",
        "channel_base": 32768, "channel_max": 512, "num_fp16_res": 0, "conv_clamp": None,
        "cmap_dim": None,
        "block_kwargs": {"activation": "lrelu", "resample_filter": [1, 3, 3, 1], "freeze_layers": 0},
        "mapping_kwargs": {"num_layers": 0, "embed_features": None, "layer_features": None,
                           "activation": "lrelu", "lr_multiplier": 0.1},
        "epilogue_kwargs": {"mbstd_group_size": None, "mbstd_num_channels": 1, "activation": "lrelu"},
    }  # fmt: skip


def test_freeze_d_counts_layers_from_the_first_block() -> None:
    """Freeze-D as NVIDIA's: layers are numbered across blocks from the highest resolution
    (fromrgb 0, conv0 1, conv1 2, skip 3, then the next block), and the first
    ``freeze_layers`` are stored as buffers, not parameters; the state dict is the same."""
    kw = dict(c_dim=0, img_resolution=16, img_channels=3, channel_base=64, channel_max=8)
    free = Discriminator(**kw)
    frozen = Discriminator(**kw, block_kwargs={"freeze_layers": 5})
    assert free.state_dict().keys() == frozen.state_dict().keys()
    params = {n.rsplit(".", 1)[0] for n, _ in frozen.named_parameters()}
    assert {"b16.fromrgb", "b16.conv0", "b16.conv1", "b16.skip", "b8.conv0"}.isdisjoint(params)
    assert {"b8.conv1", "b8.skip", "b4.conv", "b4.fc", "b4.out"} <= params
    assert {n.rsplit(".", 1)[0] for n, _ in free.named_parameters()} >= {"b16.fromrgb", "b8.conv0"}

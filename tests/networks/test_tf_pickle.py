"""TF-era pickles: the restricted reader, StyleGAN2-TF vs NVIDIA's converter, malicious files."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import load_module

from ganatlas.networks import load_network
from ganatlas.networks.persistence import NetworkPickleError, UnsafePickleError, load_network_pickle
from ganatlas.networks.tf_pickle import (
    TF_BUILDERS,
    TFNetwork,
    TFPickleError,
    convert_tf_pickle,
    first_global,
    is_tf_pickle,
    read_tf_pickle,
    register_tf_builder,
    tf_builder,
)

DATA = Path(__file__).parent / "data"


writer = load_module("tf_pickle_writer", Path(__file__).parent / "tf_pickle_writer.py")
recipe = load_module("sg2tf_recipe", DATA / "sg2tf_make_reference.py")
REF = np.load(DATA / "sg2tf_reference.npz")
TOL = 1e-4


@pytest.fixture(scope="module")
def pickles(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("tf")
    return {name: recipe.write_config(name, folder / f"{name}.pkl") for name in recipe.CONFIGS}


@pytest.mark.parametrize("name", list(recipe.CONFIGS))
def test_stylegan2_tf_matches_nvidias_converter(name: str, pickles) -> None:
    kw, trunc = recipe.CONFIGS[name]
    seed = list(recipe.CONFIGS).index(name)
    g = load_network(pickles[name])  # sniffed as TF, Gs by default
    out = recipe.outputs(g, kw, trunc, seed=seed)
    for key in ("ws", "ws_trunc", "img_const", "img_none", "img_random", "img_trunc_const"):
        ref = REF[f"{name}/{key}"]
        assert out[key].shape == ref.shape, key
        err = np.abs(out[key] - ref).max()
        assert err < TOL, f"{name} {key}: max abs diff {err}"
    # The references are not trivial: noise matters, truncation moves ws, images vary.
    assert np.abs(REF[f"{name}/img_const"] - REF[f"{name}/img_none"]).max() > 1e-2
    assert np.abs(REF[f"{name}/ws"] - REF[f"{name}/ws_trunc"]).max() > 1e-2
    assert REF[f"{name}/img_const"].std() > 0.1
    # which='G' is the trained (not averaged) generator.
    g_train = load_network(pickles[name], which="G")
    z, c = recipe.inputs(kw, seed)
    with torch.no_grad():
        img = g_train(z, c, noise_mode="const").numpy()
    assert np.abs(img - REF[f"{name}/G_img_const"]).max() < TOL
    assert np.abs(img - REF[f"{name}/img_const"]).max() > 1e-2


def test_kwargs_are_renamed_as_nvidia_does(pickles) -> None:
    g = load_network(pickles["config_f_fused"])
    kw, _ = recipe.CONFIGS["config_f_fused"]
    assert (g.z_dim, g.c_dim, g.w_dim, g.img_resolution) == (12, 0, 16, 16)
    assert g.layout == "ada" and g.family == "stylegan2"
    ik = g.init_kwargs
    assert ik["synthesis_kwargs"]["channel_base"] == 2 * kw["fmap_base"]
    assert ik["synthesis_kwargs"]["channel_max"] == kw["fmap_max"]
    assert ik["mapping_kwargs"]["num_layers"] == 8
    assert "fused_modconv" not in str(ik) and "truncation_psi" not in str(ik)
    g = load_network(pickles["ada_tf_cond"])
    assert g.c_dim == 3 and g.init_kwargs["mapping_kwargs"]["embed_features"] == 8
    assert g.init_kwargs["synthesis_kwargs"]["conv_clamp"] == 1.5


def test_reader_keeps_the_stored_structure_as_data(pickles) -> None:
    tfp = read_tf_pickle(pickles["config_e_resnet"])
    assert tfp.origin == "dnnlib.tflib"
    assert [n.name for n in (tfp.G, tfp.D, tfp.Gs)] == ["G", "D", "Gs"]
    gs = tfp.network()  # G_ema means Gs
    assert gs is tfp.Gs and tfp.network("Gs") is gs and tfp.network("G") is tfp.G
    assert gs.build_func_name == "G_main" and gs.version == 4
    assert set(gs.components) == {"mapping", "synthesis"}
    assert gs.components["synthesis"].build_func_name == "G_synthesis_stylegan2"
    assert "never run" in gs.build_module_src
    assert list(gs.variables) == ["lod", "dlatent_avg"]
    syn = gs.components["synthesis"].variables
    assert list(syn)[:3] == ["noise0", "noise1", "noise2"]  # stored order
    assert syn["16x16/Skip/weight"].shape == (1, 1, 16, 8)  # HWIO
    assert syn["4x4/Conv/noise_strength"].shape == ()
    allv = gs.all_variables()
    assert "mapping/Dense1/bias" in allv and "synthesis/16x16/ToRGB/mod_bias" in allv
    assert gs.static_kwargs["architecture"] == "resnet"


@pytest.mark.parametrize("protocol", [2, 3, 4])
def test_every_pickle_protocol_reads(protocol: int, tmp_path: Path) -> None:
    path = recipe.write_config("config_e_orig", tmp_path / "p.pkl", protocol=protocol)
    assert is_tf_pickle(path)
    g = load_network(path)
    ref = REF["config_e_orig/img_const"]
    z, c = recipe.inputs(
        recipe.CONFIGS["config_e_orig"][0], list(recipe.CONFIGS).index("config_e_orig")
    )
    with torch.no_grad():
        assert np.abs(g.synthesis(g.mapping(z, c), noise_mode="const").numpy() - ref).max() < TOL


def test_sniffing_tells_tf_from_pytorch_pickles(pickles, tmp_path: Path) -> None:
    from ganatlas.networks.persistence import save_network_pickle

    tf_path = pickles["config_e_orig"]
    assert first_global(tf_path.read_bytes()) == ("dnnlib.tflib.network", "Network")
    torch_path = save_network_pickle(tmp_path / "pt.pkl", G=load_network(tf_path))
    assert not is_tf_pickle(torch_path)
    assert first_global(b"not a pickle") is None
    # A single pickled network (not a tuple) is taken as Gs; Progressive GAN's class sniffs too.
    single = writer.write_tf_pickle(tmp_path / "one.pkl", recipe.g_main_network(
        recipe.CONFIGS["config_e_orig"][0], 5))  # fmt: skip
    assert read_tf_pickle(single).network().name == "Gs"
    pg = writer.FakeTFNetwork.tfutil("Gs", "G_paper", {"resolution": 8}, [("lod", np.float32(0))])
    pg_path = writer.write_tf_pickle(tmp_path / "pg.pkl", (pg, pg, pg))
    assert is_tf_pickle(pg_path)
    tfp = read_tf_pickle(pg_path)
    assert tfp.origin == "tfutil" and tfp.Gs.version == 2 and tfp.Gs.components == {}
    # The PyTorch reader names TF pickles and points to the way to load them.
    with pytest.raises(NetworkPickleError, match="TensorFlow-era.*ganatlas convert"):
        load_network_pickle(tf_path)


def test_which_d_and_unknown_names_are_refused(pickles) -> None:
    with pytest.raises(TFPickleError, match="'D' is the discriminator, not a generator"):
        load_network(pickles["config_e_orig"], which="D")
    with pytest.raises(TFPickleError, match="unknown network 'G_emma'"):
        load_network(pickles["config_e_orig"], which="G_emma")


def test_builder_dispatch_and_unsupported_networks(tmp_path: Path) -> None:
    assert tf_builder("G_main").__name__ == "build_g_main"
    kw = dict(recipe.CONFIGS["config_e_orig"][0])

    def save(net, name: str) -> Path:
        return writer.write_tf_pickle(tmp_path / name, (net, net, net))

    unknown = writer.FakeTFNetwork.dnnlib("Gs", "G_unheard_of", kw, [])
    with pytest.raises(TFPickleError, match="no converter for TF networks built by 'G_unheard_of'"):
        load_network(save(unknown, "u.pkl"))
    # A builder registered under a name is used for that name.
    calls: list[TFNetwork] = []
    register_tf_builder("G_test_only", lambda net: calls.append(net) or torch.nn.Identity())
    try:
        load_network(save(writer.FakeTFNetwork.dnnlib("Gs", "G_test_only", kw, []), "t.pkl"))
        assert calls and calls[0].build_func_name == "G_test_only"
    finally:
        TF_BUILDERS.pop("G_test_only")
    # Configs a-d, unknown kwargs, conditional StyleGAN2-TF (LabelConcat), missing variables.
    with pytest.raises(TFPickleError, match="synthesis_func='G_synthesis_stylegan_revised'"):
        load_network(save(recipe.g_main_network(
            dict(kw, synthesis_func="G_synthesis_stylegan_revised"), 0), "a.pkl"))  # fmt: skip
    with pytest.raises(TFPickleError, match=r"unknown StyleGAN2-TF kwargs \['mystery'\]"):
        load_network(save(recipe.g_main_network(dict(kw, mystery=1), 0), "k.pkl"))
    with pytest.raises(TFPickleError, match="fmap_decay=0.5 is not supported"):
        load_network(save(recipe.g_main_network(dict(kw, fmap_decay=0.5), 0), "d.pkl"))
    net = recipe.g_main_network(kw, 0)
    mapping = net.state["components"]["mapping"].state
    mapping["variables"].append(("LabelConcat/weight", np.zeros((2, 8), np.float32)))
    with pytest.raises(TFPickleError, match="not understood.*LabelConcat"):
        load_network(save(net, "lc.pkl"))
    net = recipe.g_main_network(kw, 0)
    net.state["components"]["synthesis"].state["variables"].pop(3)
    with pytest.raises(TFPickleError, match="lacks variable synthesis/noise3"):
        load_network(save(net, "m.pkl"))


MARKER_SRC = "import pathlib\npathlib.Path({path!r}).write_text('pwned')\ndef G_main(): pass\n"


def test_build_module_src_is_never_executed(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    kw = recipe.CONFIGS["config_e_orig"][0]
    net = recipe.g_main_network(kw, 0, build_module_src=MARKER_SRC.format(path=str(marker)))
    path = writer.write_tf_pickle(tmp_path / "src.pkl", (net, net, net))
    g = load_network(path)  # loads fine: the source is only text
    assert g.img_resolution == 16
    assert read_tf_pickle(path).Gs.build_module_src.startswith("import pathlib")
    assert not marker.exists()


@pytest.mark.parametrize(
    ("module", "name"),
    [("os", "system"), ("builtins", "eval"), ("builtins", "exec"), ("subprocess", "Popen"),
     ("posix", "system"), ("dnnlib.tflib.tfutil", "run"), ("numpy", "load"),
     ("torch_utils.persistence", "_reconstruct_persistent_obj")],
)  # fmt: skip
def test_unknown_globals_are_refused_by_name(module: str, name: str, tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    payload = writer.Call(writer.RawGlobal(module, name), (f"touch {marker}",))
    kw = recipe.CONFIGS["config_e_orig"][0]
    net = recipe.g_main_network(kw, 0)
    net.state["static_kwargs"]["payload"] = payload
    path = writer.write_tf_pickle(tmp_path / "evil.pkl", (net, net, net))
    with pytest.raises(UnsafePickleError, match=f"refusing global {module}.{name}.*nothing"):
        load_network(path)
    # The same payload at the top level, before any network.
    path = writer.write_tf_pickle(tmp_path / "evil2.pkl", payload)
    # Sniffed by its first global: dnnlib.tflib.* goes to the TF reader, anything else to the
    # PyTorch reader; both refuse it.
    assert is_tf_pickle(path) == module.startswith("dnnlib.tflib")
    with pytest.raises(
        NetworkPickleError
    ):  # refused by name, or (a PyTorch-format global) a bad call
        load_network(path)
    with pytest.raises(UnsafePickleError, match=f"refusing global {module}.{name}"):
        read_tf_pickle(path)
    assert not marker.exists()


def test_numpy_globals_are_checked(tmp_path: Path) -> None:
    kw = recipe.CONFIGS["config_e_orig"][0]
    cases = {
        # _reconstruct with a subtype other than ndarray
        "sub": writer.Call(writer.RawGlobal("numpy.core.multiarray", "_reconstruct"),
                           (writer.RawGlobal("numpy", "matrix"), (0,), b"b")),
        # an object-dtype numpy scalar
        "obj": writer.Call(writer.RawGlobal("numpy.core.multiarray", "scalar"),
                           (np.dtype("f4"), "text")),
    }  # fmt: skip
    for case, payload in cases.items():
        net = recipe.g_main_network(kw, 0)
        net.state["static_kwargs"]["x"] = payload
        path = writer.write_tf_pickle(tmp_path / f"{case}.pkl", (net, net, net))
        with pytest.raises(NetworkPickleError):
            load_network(path)
    net = recipe.g_main_network(kw, 0)
    net.state["variables"].append(("strings", np.array(["a", "b"])))
    with pytest.raises(TFPickleError, match="dtype <U1; expected numbers"):
        load_network(writer.write_tf_pickle(tmp_path / "u.pkl", (net, net, net)))


def test_truncated_corrupted_and_odd_files(pickles, tmp_path: Path) -> None:
    good = pickles["config_e_orig"].read_bytes()
    for cut in (len(good) // 3, len(good) - 1, 40):
        bad = tmp_path / f"cut{cut}.pkl"
        bad.write_bytes(good[:cut])
        with pytest.raises(NetworkPickleError, match="truncated or corrupted"):
            read_tf_pickle(bad)
        with pytest.raises(NetworkPickleError):
            load_network(bad)
    odd = {
        "empty.pkl": (b"", "is empty"),
        "text.pkl": (b"hello", "not a binary pickle"),
        "list.pkl": (pickle.dumps([1, 2]), "holds a list"),
    }
    for name, (data, message) in odd.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(TFPickleError, match=message):
            read_tf_pickle(tmp_path / name)
    # A network whose state is no dict, or lacks keys, or has an unknown version.
    net = recipe.g_main_network(recipe.CONFIGS["config_e_orig"][0], 0)
    del net.state["variables"]
    with pytest.raises(TFPickleError, match=r"lacks \['variables'\]"):
        read_tf_pickle(writer.write_tf_pickle(tmp_path / "nv.pkl", (net, net, net)))
    net = recipe.g_main_network(recipe.CONFIGS["config_e_orig"][0], 0)
    net.state["version"] = 9
    with pytest.raises(TFPickleError, match="version 9 unsupported"):
        read_tf_pickle(writer.write_tf_pickle(tmp_path / "v9.pkl", (net, net, net)))
    with pytest.raises(TFPickleError, match="cannot read"):
        read_tf_pickle(tmp_path / "missing.pkl")


@pytest.mark.parametrize("name", ["config_f_unfused", "config_e_resnet", "ada_tf_cond"])
def test_convert_writes_a_pytorch_pickle_with_the_same_images(
    name: str, pickles, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    from ganatlas.cli import main
    from ganatlas.networks.persistence import read_snapshot

    out = tmp_path / "out" / "converted.pkl"
    assert main(["convert", str(pickles[name]), str(out)]) == 0
    assert capsys.readouterr().out.strip() == str(out)
    assert not is_tf_pickle(out)
    snap = read_snapshot(out)  # the official layout: G, D, G_ema, augment_pipe, ...
    assert sorted(snap) == ["D", "G", "G_ema", "augment_pipe", "training_set_kwargs"]
    assert snap["D"].class_name == "Discriminator" and snap["G_ema"].class_name == "Generator"
    assert "from training.networks import *" in snap["G_ema"].module_src
    kw, trunc = recipe.CONFIGS[name]
    seed = list(recipe.CONFIGS).index(name)
    for which, key in (("G_ema", "img_trunc_const"), ("G", "G_img_const")):
        g = load_network(out, which=which)
        assert g.layout == "ada" and g.init_kwargs == load_network(pickles[name]).init_kwargs
        z, c = recipe.inputs(kw, seed)
        with torch.no_grad():
            if which == "G":
                img = g(z, c, noise_mode="const").numpy()
            else:
                img = g(z, c, truncation_psi=trunc[0], truncation_cutoff=trunc[1],
                        noise_mode="const").numpy()  # fmt: skip
        assert np.abs(img - REF[f"{name}/{key}"]).max() < TOL
    # The converted G_ema equals the TF-loaded one tensor for tensor.
    a, b = load_network(out).state_dict(), load_network(pickles[name]).state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_convert_refuses_overwrites_and_non_tf_files(
    pickles, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    from ganatlas.cli import main

    out = tmp_path / "c.pkl"
    assert main(["convert", str(pickles["config_e_orig"]), str(out)]) == 0
    before = out.read_bytes()
    assert main(["convert", str(pickles["config_e_orig"]), str(out)]) == 2
    assert "exists; pass --force" in capsys.readouterr().err
    assert out.read_bytes() == before
    assert main(["convert", "--force", str(pickles["config_e_resnet"]), str(out)]) == 0
    assert out.read_bytes() != before
    assert main(["convert", str(out), str(tmp_path / "again.pkl")]) == 2
    assert "is not a TensorFlow-era network pickle" in capsys.readouterr().err
    assert not (tmp_path / "again.pkl").exists()
    # A generator no PyTorch snapshot format holds: a clear error, nothing written.
    kw = recipe.CONFIGS["config_e_orig"][0]
    register_tf_builder("G_test_only", lambda net: torch.nn.Identity())
    try:
        odd = writer.FakeTFNetwork.dnnlib("Gs", "G_test_only", kw, [])
        src = writer.write_tf_pickle(tmp_path / "odd.pkl", (None, None, odd))
        assert main(["convert", "--allow-missing-d", str(src), str(tmp_path / "odd_out.pkl")]) == 2
        assert "cannot write it as a PyTorch pickle" in capsys.readouterr().err
        assert not (tmp_path / "odd_out.pkl").exists()
    finally:
        TF_BUILDERS.pop("G_test_only")


def test_catalogue_names_nvidias_tf_pickles(pickles, tmp_path: Path) -> None:
    from ganatlas.networks import CATALOGUE
    from ganatlas.networks.catalogue import default_det_size
    from ganatlas.networks.download import cache_path
    from ganatlas.networks.resolve import describe_network

    expected = {
        "stylegan2-ffhq-config-f": ("stylegan2", 1024), "stylegan2-car-config-f": ("stylegan2", 512),
        "stylegan2-cat-config-f": ("stylegan2", 256), "stylegan2-church-config-f": ("stylegan2", 256),
        "stylegan2-horse-config-f": ("stylegan2", 256), "stylegan-ffhq-1024": ("stylegan1", 1024),
        "stylegan-celebahq-1024": ("stylegan1", 1024), "stylegan-bedrooms-256": ("stylegan1", 256),
        "stylegan-cars-512": ("stylegan1", 512), "stylegan-cats-256": ("stylegan1", 256),
        "progan-celebahq-1024": ("progan", 1024),
    }  # fmt: skip
    urls = set()
    for name, (kind, res) in expected.items():
        e = CATALOGUE[name]
        assert (e.kind, e.resolution) == (kind, res), name
        assert e.det_size == default_det_size(res), name
        assert e.url.startswith(("https://nvlabs-fi-cdn.nvidia.com/stylegan2/networks/",
                                 "https://drive.google.com/uc?id=")), name  # fmt: skip
        urls.add(str(cache_path(e.url, tmp_path)))
    assert len(urls) == len(expected)  # every Drive id has its own cache file
    # A catalogue TF network already in the cache loads without any download (here: a small
    # stand-in put where the ffhq config-f file would be cached).
    entry = CATALOGUE["stylegan2-ffhq-config-f"]
    dest = cache_path(entry.url, tmp_path)
    dest.parent.mkdir(parents=True)
    dest.write_bytes(pickles["config_f_fused"].read_bytes())
    g = load_network(entry.name, cache_dir=tmp_path)
    assert g.img_resolution == 16 and g.source_format == "tensorflow"
    info = describe_network(entry.name, cache_dir=tmp_path)
    assert info["kind"] == "stylegan2" and info["det_size"] == 640 and info["path"] == str(dest)


def test_odd_tuples_and_non_networks_are_named(tmp_path: Path) -> None:
    """Only a (G, D, Gs) tuple of three networks (or one network) is a TF-era pickle: a list of
    three, a pair, a non-network entry or a network without a stored state are refused, naming
    what was found; a tuple with no generator cannot be converted."""
    net = recipe.g_main_network(recipe.CONFIGS["config_e_orig"][0], 0)
    cases = {
        "list3.pkl": ([net, net, net], "holds a list; a TF-era pickle holds a .G, D, Gs. tuple"),
        "pair.pkl": ((net, net), "holds a tuple; a TF-era pickle holds a .G, D, Gs. tuple"),
        "str.pkl": ((net, "D", net), r"D is a str, not a TF network"),
        "nostate.pkl": ((net, net, writer.FakeTFNetwork(net.cls, None)), "network state is a NoneType"),
    }  # fmt: skip
    for name, (obj, message) in cases.items():
        with pytest.raises(TFPickleError, match=message):
            read_tf_pickle(writer.write_tf_pickle(tmp_path / name, obj))
    no_g = writer.write_tf_pickle(tmp_path / "no_g.pkl", (None, net, None))
    assert read_tf_pickle(no_g).D is not None
    with pytest.raises(TFPickleError, match=r"no_g\.pkl holds no generator \(G or Gs\)"):
        convert_tf_pickle(no_g, tmp_path / "out.pkl")


def test_loaded_tf_generator_is_frozen_in_eval_mode_and_errors_name_the_file(
    pickles, tmp_path: Path
) -> None:
    from ganatlas.networks.tf_pickle import load_tf_pickle

    g = load_tf_pickle(pickles["config_e_orig"])
    assert not g.training and not any(p.requires_grad for p in g.parameters())
    net = recipe.g_main_network(recipe.CONFIGS["config_e_orig"][0], 0)
    only_gs = writer.write_tf_pickle(tmp_path / "only_gs.pkl", (None, None, net))
    with pytest.raises(TFPickleError, match=r"only_gs\.pkl: holds no network 'G'"):
        read_tf_pickle(only_gs).network("G")


def test_generator_kwargs_defaults_are_nvidias_converters() -> None:
    """What legacy.py's ``convert_tf_generator`` assumes for kwargs a TF pickle leaves out, as
    literals (``fmap_base`` doubled; ``w_avg_beta=None`` means 1: w_avg is not tracked)."""
    from ganatlas.networks.stylegan2_tf import convert_kwargs

    assert convert_kwargs({}) == {
        "z_dim": 512, "c_dim": 0, "w_dim": 512, "img_resolution": 1024, "img_channels": 3,
        "mapping_kwargs": {"num_layers": 8, "embed_features": None, "layer_features": None,
                           "activation": "lrelu", "lr_multiplier": 0.01, "w_avg_beta": 0.995},
        "synthesis_kwargs": {"channel_base": 32768, "channel_max": 512, "num_fp16_res": 0,
                             "conv_clamp": None, "architecture": "skip",
                             "resample_filter": [1, 3, 3, 1], "use_noise": True,
                             "activation": "lrelu"},
    }  # fmt: skip
    assert convert_kwargs({"w_avg_beta": None})["mapping_kwargs"]["w_avg_beta"] == 1

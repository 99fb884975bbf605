"""API parity with NVIDIA's ``G`` (what code written against their networks calls)."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch
from conftest import load_module

from ganatlas.networks import load_network
from ganatlas.networks.persistence import EasyDict, save_network_pickle
from ganatlas.networks.registry import FAMILIES
from ganatlas.networks.stylegan2 import Generator as SG2

DATA = Path(__file__).parent / "data"


def _recipe():
    return load_module("sg2tf_recipe", DATA / "sg2tf_make_reference.py")


ADA_KWARGS = dict(
    z_dim=8, c_dim=2, w_dim=8, img_resolution=16, img_channels=3,
    mapping_kwargs={"num_layers": 2}, synthesis_kwargs={"channel_base": 128, "channel_max": 16},
)  # fmt: skip


def _sg2_ada() -> SG2:
    torch.manual_seed(0)
    g = SG2(**copy.deepcopy(ADA_KWARGS)).eval()
    with torch.no_grad():
        for name, p in g.named_parameters():
            if name.endswith("noise_strength"):
                p.fill_(0.5)  # zero at construction: make the noise matter
    return g


def test_init_args_and_init_kwargs_like_nvidias_persistence(tmp_path: Path) -> None:
    sg2_small, sg3_small = FAMILIES["stylegan2"].small(), FAMILIES["stylegan3"].small()
    tf_path = _recipe().write_config("config_e_orig", tmp_path / "tf.pkl")
    built = {
        "sg2 direct": _sg2_ada(),
        "sg2 flat": sg2_small,
        "sg3 direct": sg3_small,
        "sg2 from pickle": load_network(save_network_pickle(tmp_path / "a.pkl", G=_sg2_ada())),
        "sg3 from pickle": load_network(save_network_pickle(tmp_path / "b.pkl", G=sg3_small)),
        "sg2 from TF pickle": load_network(tf_path),
    }
    for what, g in built.items():
        args, kwargs = g.init_args, g.init_kwargs
        assert args == () and isinstance(kwargs, EasyDict), what
        assert kwargs.z_dim == g.z_dim and kwargs["img_resolution"] == g.img_resolution, what
        # NVIDIA's idiom: rebuild the same architecture from them.
        twin = type(g)(*args, **kwargs)
        assert twin.state_dict().keys() == g.state_dict().keys(), what
        # Copies: changing them changes nothing in the network.
        kwargs["z_dim"] = -1
        assert g.init_kwargs.z_dim == g.z_dim, what
    ada = built["sg2 direct"].init_kwargs
    assert ada.mapping_kwargs.num_layers == 2 and ada.synthesis_kwargs.channel_base == 128
    assert built["sg2 from pickle"].init_kwargs == ada


def test_skip_w_avg_update_is_stylegan2_adas_name_for_update_emas() -> None:
    g = _sg2_ada()
    z, c = torch.randn(4, 8), torch.randn(4, 2)
    before = g.mapping.w_avg.clone()
    with torch.no_grad():
        g.mapping(z, c, skip_w_avg_update=True)
        g.mapping(z, c, skip_w_avg_update=False)  # eval mode: ada updates only in training
        assert torch.equal(g.mapping.w_avg, before)
        g.train()
        g.mapping(z, c, skip_w_avg_update=True)
        assert torch.equal(g.mapping.w_avg, before)
        g.mapping(z, c, skip_w_avg_update=False)
        moved = g.mapping.w_avg.clone()
        assert not torch.equal(moved, before)
        # Same step as update_emas=True.
        g.mapping.w_avg.copy_(before)
        g.mapping(z, c, update_emas=True)
        assert torch.equal(g.mapping.w_avg, moved)
    with pytest.raises(TypeError):
        g.mapping(z, c, skip_update=True)


def test_synthesis_without_noise_mode_is_random_as_nvidias() -> None:
    g = _sg2_ada()
    z, c = torch.randn(2, 8), torch.randn(2, 2)
    with torch.no_grad():
        ws = g.mapping(z, c)
        torch.manual_seed(11)
        a = g.synthesis(ws)
        b = g.synthesis(ws)
        torch.manual_seed(11)
        again = g.synthesis(ws)
        const = g.synthesis(ws, noise_mode="const")
        torch.manual_seed(11)
        whole = g(z, c)  # forward too
    assert not torch.equal(a, b)  # fresh noise per call
    assert torch.equal(a, again) and torch.equal(a, whole)  # seedable with torch.manual_seed
    assert not torch.equal(a, const)
    # The workflow's renderer passes const: the same latent gives the same image every time.
    from ganatlas.render import synthesize

    w = ws[:, 0].numpy()
    assert (synthesize(g, w) == synthesize(g, w)).all()


def test_stylegan3_forwards_pass_nvidias_kwargs_through() -> None:
    g = FAMILIES["stylegan3"].small()
    z = torch.randn(2, g.z_dim)
    with torch.no_grad():
        ref = g(z, None)
        assert torch.equal(g(z, None, 1, None, False), ref)  # NVIDIA's positional order
        assert torch.equal(g(z, None, noise_mode="const", force_fp32=True), ref)
        ws = g.mapping(z, None)
        assert torch.equal(g.synthesis(ws, noise_mode="random", update_emas=False), ref)
        with pytest.raises(TypeError, match="fused_modconv"):
            g.synthesis(ws, fused_modconv=True)
        with pytest.raises(TypeError, match="bogus"):
            g(z, None, bogus=1)

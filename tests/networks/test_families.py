"""Every registered network family, one parametrised test each (in the spirit of timm's
test over every registered model): the G API, determinism, the summary, and a round trip through
the family's own file format and the one loader (``load_network``)."""

from __future__ import annotations

import pytest
import torch

from ganatlas.networks import FAMILIES, load_network, network_summary
from ganatlas.networks.registry import family_of_file, family_of_kind
from ganatlas.networks.resolve import resolve_network

NAMES = sorted(FAMILIES)


def _tf_family_pickles():
    from pathlib import Path

    from conftest import load_module

    return load_module("tf_family_pickles", Path(__file__).with_name("tf_family_pickles.py"))


def _images(g: torch.nn.Module, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    z = torch.randn(2, g.z_dim, generator=torch.Generator().manual_seed(seed))
    c = torch.zeros(2, g.c_dim)
    with torch.no_grad():
        ws = g.mapping(z, c)
        return ws, g.synthesis(ws, noise_mode="const")


def test_the_expected_families_are_registered():
    assert {"dcgan", "tiny", "stylegan1", "stylegan2", "stylegan3", "progan"} <= set(FAMILIES)


@pytest.mark.parametrize("name", NAMES)
def test_family_has_nvidias_generator_api(name: str) -> None:
    g = FAMILIES[name].small()
    ws, img = _images(g)
    assert ws.shape == (2, g.num_ws, g.w_dim) and ws.dtype == torch.float32
    res = g.img_resolution
    assert img.shape == (2, g.img_channels, res, res) and torch.isfinite(img).all()
    ws2, img2 = _images(g)
    assert torch.equal(ws, ws2) and torch.equal(img, img2)  # const noise: deterministic
    _, other = _images(g, seed=1)
    assert not torch.equal(img, other)
    summary = network_summary(g)
    assert summary["num_params"] == sum(p.numel() for p in g.parameters()) > 0
    assert (summary["z_dim"], summary["w_dim"], summary["num_ws"], summary["img_resolution"]) == (
        g.z_dim,
        g.w_dim,
        g.num_ws,
        res,
    )


def _save(name: str, g: torch.nn.Module, tmp_path) -> str:
    """Write ``g`` in the family's file format; returns the path."""
    suffix = FAMILIES[name].suffixes[0]
    path = tmp_path / f"net{suffix}"
    tf_pickles = _tf_family_pickles()
    if name in tf_pickles.TF_FAMILIES:  # TensorFlow-era pickles
        tf_pickles.write_family_pickle(name, g, path)
    elif suffix == ".pkl":
        from ganatlas.networks.persistence import save_network_pickle

        save_network_pickle(path, G=g)
    else:
        torch.save(g.state_dict(), path)
    return str(path)


@pytest.mark.parametrize("name", NAMES)
def test_family_round_trips_through_its_file_and_the_one_loader(name: str, tmp_path) -> None:
    fam = FAMILIES[name]
    g = fam.small()
    if not fam.suffixes:  # built-in only: the loader's instance is the family's
        loaded = fam.load(None, "cpu", "G_ema")
        assert type(loaded) is type(g)
        return
    path = _save(name, g, tmp_path)
    assert family_of_file(path).load is fam.load
    resolved = resolve_network(path)
    assert resolved.path is not None and resolved.path.name == f"net{fam.suffixes[0]}"
    loaded = load_network(path)
    _, a = _images(g)
    _, b = _images(loaded)
    torch.testing.assert_close(b, a, rtol=0, atol=1e-6)
    if name.startswith("stylegan"):
        assert loaded.family.startswith(name)  # the pickle reader recognised the family


def test_catalogue_kinds_and_suffixes_name_their_family() -> None:
    assert family_of_kind("dcgan-embedded").name == "dcgan"
    assert family_of_kind("stylegan3").name == "stylegan3"
    assert family_of_kind("stylegan1").name == "stylegan1"  # StyleGAN (2019), TF pickles
    assert family_of_kind("progan").name == "progan"
    with pytest.raises(KeyError, match="no network family for kind 'biggan'"):
        family_of_kind("biggan")
    with pytest.raises(ValueError, match=r"unknown suffix '\.onnx'; readable suffixes: .*\.pkl"):
        family_of_file("model.onnx")

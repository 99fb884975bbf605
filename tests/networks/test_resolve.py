"""A network value becomes a file in one place; its defaults (det_size, walk) are resolved once."""

from __future__ import annotations

import pytest
import torch

from ganatlas.networks import CATALOGUE, FAMILIES
from ganatlas.networks.catalogue import default_det_size
from ganatlas.networks.persistence import save_network_pickle
from ganatlas.networks.resolve import DEFAULT_WALK, describe_network, resolve_network


@pytest.mark.parametrize(
    ("resolution", "det_size"),
    [(16, 160), (32, 160), (64, 160), (256, 320), (512, 640), (1024, 640)],
)
def test_default_det_size_rule(resolution: int, det_size: int) -> None:
    assert default_det_size(resolution) == det_size
    assert default_det_size(resolution) % 32 == 0


def test_catalogue_entries_follow_the_rule_unless_they_say_why() -> None:
    for entry in CATALOGUE.values():
        if entry.kind.startswith("stylegan"):
            assert entry.det_size == default_det_size(entry.resolution), entry.name
    # The DCGAN's faces fill its 64 px frame: its entry overrides the rule (SCRFD needs 320).
    assert CATALOGUE["digiface-dcgan"].det_size == 320 != default_det_size(64)


def test_local_pickle_and_catalogue_share_the_rule(tmp_path) -> None:
    g = FAMILIES["stylegan2"].small()
    path = save_network_pickle(tmp_path / "g.pkl", G=g)
    info = describe_network(str(path))
    assert info["det_size"] == default_det_size(g.img_resolution)
    assert info["walk"] == DEFAULT_WALK and info["name"] == "g" and len(info["sha256"]) == 64
    tiny = describe_network("tiny-random")
    assert tiny["det_size"] == CATALOGUE["tiny-random"].det_size and tiny["path"] is None
    assert tiny["walk"]["step_size"] == CATALOGUE["tiny-random"].walk["step_size"]


def test_unknown_values_name_what_is_accepted(tmp_path) -> None:
    with pytest.raises(KeyError, match="unknown network 'nosuchnet'; the catalogue has: .*ffhq"):
        resolve_network("nosuchnet")
    with pytest.raises(FileNotFoundError, match="neither a catalogue name"):
        resolve_network(str(tmp_path / "missing.pkl"))
    bad = tmp_path / "weights.onnx"
    torch.save({}, bad)
    with pytest.raises(ValueError, match="unknown suffix '.onnx'"):
        resolve_network(str(bad))

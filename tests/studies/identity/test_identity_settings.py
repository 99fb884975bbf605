"""identity settings: defaults, targets (photos, folders, points) and messages naming the key."""

from __future__ import annotations

import pytest

from ganatlas.config import ConfigError, check_config
from ganatlas.studies.identity.settings import IdentityConfigError, identity_config


def cfg(**identity) -> dict:
    return {"identity": identity}


def test_defaults_are_the_source_recipe():
    sec = identity_config({})
    da = sec["search"]["dual_annealing"]
    assert (da["k"], da["bounds"], da["dims"]) == (6, [-3.0, 3.0], None)
    assert sec["search"]["methods"] == ["dual_annealing", "cma", "gradient"]
    assert sec["embedder"]["name"] == "dlib" and sec["embedder"]["threshold"] is None
    assert sec["targets"] == {} and sec["iterate"]["map"] == "normalise"


def test_targets_expand_folders_photos_and_points(tmp_path):
    (tmp_path / "pics").mkdir()
    for name in ("b.jpg", "a-1.PNG", "notes.txt"):
        (tmp_path / "pics" / name).write_bytes(b"x")
    (tmp_path / "me.jpg").write_bytes(b"x")
    t = identity_config(cfg(targets={
        "fam": str(tmp_path / "pics"), "me": str(tmp_path / "me.jpg"), "gen": "seed:6",
        "mix": {"expr": "w:3", "space": "w"},
    }))["targets"]  # fmt: skip
    assert t == {
        "fam-a_1": {"kind": "photo", "value": str(tmp_path / "pics" / "a-1.PNG")},
        "fam-b": {"kind": "photo", "value": str(tmp_path / "pics" / "b.jpg")},
        "me": {"kind": "photo", "value": str(tmp_path / "me.jpg")},
        "gen": {"kind": "point", "value": "seed:6"},
        "mix": {"kind": "point", "value": {"expr": "w:3", "space": "w"}},
    }


@pytest.mark.parametrize(
    "identity, message",
    [
        ({"search": {"budget": 0}}, "identity.search.budget': got 0"),
        ({"search": {"dual_annealing": {"k": 3, "dims": [0, 1]}}}, "dims must list k = 3"),
        ({"search": {"dual_annealing": {"bounds": [3, -3]}}}, "bounds must be .* low < high"),
        ({"targets": {"me": "/nowhere/me.jpg"}}, "identity.targets.me: photo /nowhere/me.jpg does not exist"),
        ({"targets": {"x": "seed:"}}, "identity.targets.x"),
        ({"iterate": {"start": {"expr": "w:1"}}}, "identity.iterate.start"),
        ({"iterate": {"start": "w_avg"}}, "identity.iterate.start"),
        ({"search": {"methods": ["sgd"]}}, "identity.search.methods.0"),
    ],
)  # fmt: skip
def test_bad_values_name_the_key(identity, message):
    with pytest.raises(ConfigError, match=message):
        identity_config(cfg(**identity))


def test_empty_folder_is_refused(tmp_path):
    with pytest.raises(IdentityConfigError, match="identity.targets.fam: folder .* holds no photo"):
        identity_config(cfg(targets={"fam": str(tmp_path)}))


def test_check_config_runs_the_identity_checks():
    with pytest.raises(ConfigError, match="dims must list k = 2"):
        check_config({"identity": {"search": {"dual_annealing": {"k": 2, "dims": [1]}}}})

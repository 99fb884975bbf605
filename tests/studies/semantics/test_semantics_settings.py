"""The semantics settings: defaults from the schema, resolution, errors that name the key."""

from __future__ import annotations

import pytest

from ganatlas.studies.semantics.settings import (
    DEFAULTS,
    SemanticsConfigError,
    alpha_values,
    n_shards,
    semantics_config,
)


def test_config_defaults_merge_and_alphas():
    cfg = semantics_config({"semantics": {"samples": 1001, "edit": {"seeds": [7]}}})
    assert cfg["samples"] == 1001 and cfg["shard_size"] == DEFAULTS["shard_size"]
    assert n_shards(cfg) == 3
    assert cfg["edit"]["seeds"] == [7] and cfg["edit"]["attributes"] == DEFAULTS["attributes"]
    assert cfg["edit"]["alphas"] == [x / 2 for x in range(-6, 7)]
    assert alpha_values([1, 2]) == [0.0, 1.0, 2.0]  # the original is always included
    assert semantics_config({})["spaces"] == ["z", "w"]


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"sample": 10}, r"'semantics': unknown key\(s\) \['sample'\]"),
        ({"spaces": ["x"]}, r"'semantics.spaces.0': got 'x' .*allowed values: z, w"),
        ({"select": {"k": 1}}, "'semantics.select.k': got 1 .*allowed: integer >= 2 or null"),
        (
            {"select": {"fraction": 0.7}},
            r"'semantics.select.fraction': got 0.7 .*allowed: number > 0, <= 0.5 or null",
        ),
        ({"conditions": {"smile": ["age"]}}, r"semantics.conditions.smile: .*\['yaw', 'smile'\]"),
        ({"edit": {"alphas": {"start": 1, "stop": 0, "step": 1}}}, "stop >= start"),
        ({"edit": {"spaces": ["wp"]}}, r"wp_layers must be \[start, stop\)"),
        ({"edit": {"attributes": ["age"]}}, r"edit.attributes \['age'\] have no boundary"),
        ({"edit": {"seed": [1]}}, r"'semantics.edit': unknown key\(s\) \['seed'\]"),
        ({"edit": {"seeds": [], "latent_files": []}}, "at least one seed or latent file"),
        ({"val_fraction": 1.0}, r"'semantics.val_fraction': got 1.0 .*maximum of 1"),
    ],
)
def test_config_errors_name_the_key(section, message):
    with pytest.raises(SemanticsConfigError, match=message):
        semantics_config({"semantics": section})

"""Detectability boundary on planted data, the embedding map's drift and clusters, settings."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ganatlas.config import ConfigError, check_config
from ganatlas.studies.monsters.embedmap import identity_clusters, identity_drift, project_2d
from ganatlas.studies.monsters.settings import monsters_config, radius_grid
from ganatlas.studies.monsters.stages import fit_detectability


def test_boundary_recovers_a_planted_separable_direction() -> None:
    rng = np.random.default_rng(0)
    d = rng.standard_normal(32)
    d /= np.linalg.norm(d)
    x = rng.standard_normal((600, 32))
    margin = x @ d - 0.3
    keep = np.abs(margin) > 0.1  # a gap: linearly separable
    x, y = x[keep], (margin[keep] > 0).astype(int)
    res = fit_detectability(x, y, 0.3, seed=0, c=1.0)
    assert float(res["normal"] @ d) > 0.97  # the planted direction, pointing to "detected"
    assert res["intercept"] == pytest.approx(-0.3, abs=0.1)
    assert res["acc_val"] > 0.97 and res["balanced_acc_val"] > 0.97
    assert res["n_val"] == round(0.3 * len(x)) and res["acc_majority"] < 0.8


def test_boundary_needs_both_classes() -> None:
    x = np.zeros((10, 3))
    with pytest.raises(ValueError, match="needs detected and undetected samples; got 10 detected"):
        fit_detectability(x, np.ones(10, int), 0.3, 0)


def test_drift_and_clusters_on_planted_identities() -> None:
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal(16), rng.standard_normal(16) + 4
    # walk 0 passes through two identities (a then b), walk 1 stays with a
    emb = np.concatenate([a + 0.05 * rng.standard_normal((20, 16)),
                          b + 0.05 * rng.standard_normal((20, 16)),
                          a + 0.05 * rng.standard_normal((20, 16))])  # fmt: skip
    walk = pd.DataFrame({"seed": [0] * 40 + [1] * 20, "step": list(range(40)) + list(range(20))})
    drift = identity_drift(walk, emb)
    assert drift.groupby("seed")["drift"].first().eq(0).all()
    s0 = drift[drift.seed == 0].set_index("step")["drift"]
    assert s0.loc[:19].max() < 0.5 and s0.loc[20:].min() > 5
    labels, ids = identity_clusters(walk, emb, min_cluster_size=5)
    assert ids.set_index("seed")["identities"].to_dict() == {0: 2, 1: 1}
    assert len(set(labels[:20])) == 1 and labels[0] != labels[25]


def test_project_2d_pca_and_subsampled_tsne() -> None:
    emb = np.random.default_rng(2).standard_normal((40, 8)).astype(np.float32)
    emb[:, 0] *= 10  # the first principal axis
    xy = project_2d(emb, "pca", 10)
    assert xy.shape == (40, 2) and np.isfinite(xy).all()
    assert abs(np.corrcoef(xy[:, 0], emb[:, 0])[0, 1]) > 0.99
    xy = project_2d(emb, "tsne", 20, seed=0)
    assert np.isfinite(xy).all(axis=1).sum() == 20  # only the subsample is mapped


def test_settings_resolve_and_errors() -> None:
    cfg = check_config({"monsters": {"networks": ["tiny-random"], "radii": [2, 0, 1, 1]}})
    mon = monsters_config(cfg)
    assert mon["radii"] == [0.0, 1.0, 2.0]
    assert mon["nets"] == {"net0": "digiface-dcgan", "net1": "tiny-random"}
    assert mon["embedder"] == "auto" and mon["detector"]["backend"] == "auto"
    assert radius_grid({"max": 3.0, "num": 13})[1] == 0.25
    with pytest.raises(ConfigError, match="monsters.radius_unit"):
        check_config({"monsters": {"radius_unit": "p100"}})
    with pytest.raises(ConfigError, match="monsters.directions"):
        check_config({"monsters": {"directions": 1}})
    with pytest.raises(ConfigError, match="monsters.radii needs at least two distinct radii"):
        check_config({"monsters": {"radii": [1, 1]}})
    with pytest.raises(ConfigError, match="monsters.networks has duplicates"):
        check_config({"monsters": {"networks": ["a", "a"]}})
    with pytest.raises(ConfigError, match="monsters.map.method"):
        check_config({"monsters": {"map": {"method": "mds"}}})


def test_embedder_resolution() -> None:
    from ganatlas.studies.monsters.identity import resolve_embedder

    assert resolve_embedder("auto", "mtcnn", False) == "dlib"
    assert resolve_embedder("auto", "insightface", True) == "arcface"
    assert resolve_embedder("dlib", "insightface", True) == "dlib"
    with pytest.raises(ValueError, match="monsters.map.embedder 'detector': the mtcnn backend"):
        resolve_embedder("detector", "mtcnn", False)

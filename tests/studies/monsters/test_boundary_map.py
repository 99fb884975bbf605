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


def test_project_2d_three_points_keep_their_distances_fewer_are_zeros() -> None:
    emb = np.array([[0, 0, 0, 0], [3, 0, 0, 0], [0, 4, 0, 0]], np.float32)
    xy = project_2d(emb, "pca", 10)
    # 3 points span a plane: a 2-D PCA is a rotation of it (sides 3, 4, 5)
    dist = np.linalg.norm(xy[:, None] - xy[None], axis=-1)
    np.testing.assert_allclose(dist, np.linalg.norm(emb[:, None] - emb[None], axis=-1), atol=1e-5)
    for method in ("pca", "tsne"):
        np.testing.assert_array_equal(project_2d(emb[:2], method, 10), np.zeros((2, 2)))
    assert project_2d(emb[:0], "pca", 10).shape == (0, 2)


def test_project_2d_tsne_sees_50_principal_components_of_the_subsample(monkeypatch) -> None:
    """t-SNE (faked: it records its input) gets PCA-50 of a seeded subsample of max_points rows,
    perplexity (n - 1) / 3 clipped to [2, 30]; exactly max_points rows are all kept."""
    import sklearn.manifold
    from sklearn.decomposition import PCA

    seen = []

    class FakeTSNE:
        def __init__(self, n_components, perplexity, init, random_state):
            seen.append({"perplexity": perplexity, "seed": random_state})

        def fit_transform(self, x):
            seen[-1]["x"] = x
            return x[:, :2]

    monkeypatch.setattr(sklearn.manifold, "TSNE", FakeTSNE)
    emb = np.random.default_rng(3).standard_normal((61, 64)).astype(np.float32)
    xy = project_2d(emb, "tsne", 61, seed=1)  # exactly max_points: every row
    assert np.isfinite(xy).all() and seen[-1]["perplexity"] == pytest.approx(20.0)
    ref = PCA(n_components=50, random_state=1).fit_transform(emb)
    assert seen[-1]["x"].shape == (61, 50) and seen[-1]["seed"] == 1
    np.testing.assert_allclose(np.abs(seen[-1]["x"]), np.abs(ref), atol=1e-4)
    xy = project_2d(emb[:10, :8], "tsne", 7, seed=1)  # 7 of 10 rows, 8 dims: no PCA
    kept = np.isfinite(xy).all(axis=1)
    assert kept.sum() == 7 and seen[-1]["perplexity"] == pytest.approx(2.0)
    np.testing.assert_array_equal(seen[-1]["x"], emb[:10, :8][kept])
    np.testing.assert_array_equal(xy[kept], emb[:10, :2][kept])
    project_2d(emb[:40, :8], "tsne", 100)
    assert seen[-1]["perplexity"] == pytest.approx(13.0)


def test_project_2d_method_errors_name_the_key() -> None:
    import importlib.util

    emb = np.zeros((5, 4), np.float32)
    with pytest.raises(ValueError, match="must be pca, tsne or umap, got 'bogus'"):
        project_2d(emb, "bogus", 10)
    if importlib.util.find_spec("umap") is None:
        with pytest.raises(ValueError, match="'umap' needs umap-learn"):
            project_2d(emb, "umap", 10)


def test_walk_tables_sorted_by_seed_whatever_the_walk_index() -> None:
    """Rows align with ``emb`` by position: the walk's own index (here the seed, as a table
    indexed by seed) is ignored; drift and cluster tables are sorted by seed."""
    rng = np.random.default_rng(5)
    emb = np.concatenate([rng.standard_normal(4) + 0.01 * rng.standard_normal((6, 4)),
                          10 + rng.standard_normal(4) + 0.01 * rng.standard_normal((6, 4))])  # fmt: skip
    walk = pd.DataFrame({"seed": [9] * 6 + [4] * 6, "step": list(range(6)) * 2})
    walk = walk.set_index("seed", drop=False)
    drift = identity_drift(walk, emb)
    assert drift["seed"].tolist() == [4] * 6 + [9] * 6
    np.testing.assert_allclose(
        drift["drift"],
        np.linalg.norm(emb[[6] * 6 + [0] * 6] - emb[list(range(6, 12)) + list(range(6))], axis=1),
    )
    labels, ids = identity_clusters(walk, emb, min_cluster_size=3)
    assert ids["seed"].tolist() == [4, 9] and ids["faces"].tolist() == [6, 6]
    plain_labels, plain_ids = identity_clusters(walk.reset_index(drop=True), emb, 3)
    np.testing.assert_array_equal(labels, plain_labels)
    pd.testing.assert_frame_equal(ids, plain_ids)
    assert ids["noise"].tolist() == [np.sum(labels[6:] < 0), np.sum(labels[:6] < 0)]

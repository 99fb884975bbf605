"""Boundaries: planted-truth recovery, InterFaceGAN layout, selection of extremes, the split."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ganatlas.studies.semantics.boundary import (
    load_boundary,
    save_boundary,
    select_extremes,
    split_indices,
    train_boundary,
)


def planted(n: int, d: int, noise: float, seed: int = 0):
    rng = np.random.default_rng(seed)
    truth = rng.standard_normal(d)
    truth /= np.linalg.norm(truth)
    z = rng.standard_normal((n, d)).astype(np.float32)
    scores = z @ truth + noise * rng.standard_normal(n)
    return z, scores, truth


def test_planted_normal_recovered_and_accuracies_match_direct_computation():
    z, scores, truth = planted(6000, 64, noise=0.1)
    scores[::50] = np.nan  # undetected faces are dropped
    res = train_boundary(z, scores, fraction=0.2, val_fraction=0.3, seed=3)
    n = res.normal.reshape(-1).astype(np.float64)
    assert res.normal.shape == (1, 64) and res.normal.dtype == np.float32
    assert abs(np.linalg.norm(n) - 1) < 1e-6
    assert n @ truth >= 0.99
    # Direct computation from the published normal and intercept.
    valid = np.isfinite(scores)
    assert res.n_valid == valid.sum() == 6000 - 120 and res.n_samples == 6000
    k = int(0.2 * valid.sum())
    assert res.k == k
    pos, neg = select_extremes(scores, fraction=0.2)
    x = np.concatenate([z[pos], z[neg]]).astype(np.float64)
    y = np.r_[np.ones(k), np.zeros(k)]
    tr, va = split_indices(2 * k, 0.3, 3)
    assert (res.n_train, res.n_val) == (len(tr), len(va)) and len(va) == round(0.6 * k)

    def predict(a):
        return (a @ n + res.intercept > 0).astype(float)

    assert res.acc_val == pytest.approx(np.mean(predict(x[va]) == y[va]), abs=1e-12)
    assert res.acc_train == pytest.approx(np.mean(predict(x[tr]) == y[tr]), abs=1e-12)
    thr = np.median(scores[valid])
    direct_all = np.mean(predict(z[valid].astype(np.float64)) == (scores[valid] > thr))
    assert res.acc_all == pytest.approx(direct_all, abs=1e-12) and res.threshold == thr
    assert res.acc_val > 0.97 and 0.8 < res.acc_all < 1.0


def test_save_boundary_interfacegan_layout_and_metadata(tmp_path):
    z, scores, truth = planted(2000, 16, noise=0.05)
    res = train_boundary(z, scores, k=300)
    meta = save_boundary(res, tmp_path / "b.npy", tmp_path / "b.json", space="z", attribute="a")
    arr = np.load(tmp_path / "b.npy")
    assert arr.shape == (1, 16) and arr.dtype == np.float32
    on_disk = json.loads((tmp_path / "b.json").read_text())
    assert on_disk == json.loads(json.dumps(meta))
    assert on_disk["space"] == "z" and on_disk["attribute"] == "a" and on_disk["k"] == 300
    assert on_disk["n_samples"] == 2000 and on_disk["dim"] == 16
    assert {"acc_val", "acc_all", "intercept"} <= set(on_disk)
    np.testing.assert_allclose(load_boundary(tmp_path / "b.npy"), arr[0], atol=1e-6)


def test_select_extremes_deterministic_with_ties_and_nan():
    s = np.array([0.5, np.nan, 2.0, 2.0, -1.0, 0.0, -1.0, 3.0, np.nan])
    pos, neg = select_extremes(s, k=3)
    assert pos.tolist() == [7, 3, 2] and neg.tolist() == [4, 6, 5]
    pos2, neg2 = select_extremes(s, k=3)
    assert pos2.tolist() == pos.tolist() and neg2.tolist() == neg.tolist()
    # k is capped at half the finite scores; fraction counts finite scores only.
    assert len(select_extremes(s, k=100)[0]) == 3
    assert len(select_extremes(s, fraction=0.3)[0]) == 2
    with pytest.raises(ValueError, match="finite scores"):
        select_extremes(np.array([np.nan, 1.0]), k=1)


def test_split_fixed_seed_disjoint_and_complete():
    tr, va = split_indices(100, 0.3, seed=7)
    tr2, va2 = split_indices(100, 0.3, seed=7)
    assert tr.tolist() == tr2.tolist() and va.tolist() == va2.tolist()
    assert len(va) == 30 and len(tr) == 70
    assert sorted(np.r_[tr, va].tolist()) == list(range(100))
    assert split_indices(100, 0.3, seed=8)[1].tolist() != va.tolist()


def test_svm_is_deterministic_whatever_the_global_numpy_state():
    """liblinear's dual solver shuffles; the boundary must not depend on NumPy's global RNG."""
    z, scores, _ = planted(300, 128, noise=1.0)  # fewer training samples than dims: dual solver
    results = []
    for state in (1, 2):
        np.random.seed(state)
        results.append(train_boundary(z, scores, k=40, fraction=None, val_fraction=0.3, seed=0))
    np.testing.assert_array_equal(results[0].normal, results[1].normal)

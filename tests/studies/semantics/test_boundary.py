"""Boundaries: planted-truth recovery, InterFaceGAN layout, selection of extremes, the split."""

from __future__ import annotations

import json
import math

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


def expected_split(scores: np.ndarray, fraction: float, val_fraction: float, seed: int):
    """The documented selection and split, written out here without the module's helpers.

    K = int(fraction * number of finite scores); the K highest finite scores (highest first) are
    the positives, the K lowest (lowest first) the negatives, stacked positives then negatives;
    rows ``permutation(2K)[:round(2K * val_fraction)]`` of NumPy's ``default_rng(seed)`` are the
    validation rows, the others the training rows. (Scores here have no ties.)
    """
    finite = [i for i in range(len(scores)) if math.isfinite(scores[i])]
    by_score = sorted(finite, key=lambda i: scores[i])
    k = int(fraction * len(finite))
    chosen = by_score[::-1][:k] + by_score[:k]
    labels = [1] * k + [0] * k
    perm = np.random.default_rng(seed).permutation(2 * k)
    n_val = round(2 * k * val_fraction)
    val_rows = set(perm[:n_val].tolist())
    train = [(chosen[r], labels[r]) for r in range(2 * k) if r not in val_rows]
    val = [(chosen[r], labels[r]) for r in sorted(val_rows)]
    return k, train, val


def test_planted_normal_recovered_and_accuracies_match_direct_computation():
    from sklearn.svm import LinearSVC

    z, scores, truth = planted(6000, 64, noise=0.1)
    scores[::50] = np.nan  # undetected faces are dropped
    res = train_boundary(z, scores, fraction=0.2, val_fraction=0.3, seed=3)
    n = res.normal.reshape(-1).astype(np.float64)
    assert res.normal.shape == (1, 64) and res.normal.dtype == np.float32
    assert abs(np.linalg.norm(n) - 1) < 1e-6
    assert n @ truth >= 0.99
    valid = np.isfinite(scores)
    assert res.n_valid == valid.sum() == 6000 - 120 and res.n_samples == 6000
    k, train, val = expected_split(scores, 0.2, 0.3, 3)
    assert k == int(0.2 * 5880) == 1176 and res.k == k
    assert (res.n_train, res.n_val) == (len(train), len(val)) == (2 * k - 706, 706)
    # Train and validation are disjoint samples, all selected extremes, together all of them.
    tr_idx, va_idx = {i for i, _ in train}, {i for i, _ in val}
    assert not tr_idx & va_idx and len(tr_idx | va_idx) == 2 * k
    assert all(valid[i] for i in tr_idx | va_idx)

    def predict(idx):
        return (z[idx].astype(np.float64) @ n + res.intercept > 0).astype(int)

    def accuracy(rows):
        idx = np.array([i for i, _ in rows])
        return np.mean(predict(idx) == np.array([y for _, y in rows]))

    assert res.acc_val == pytest.approx(accuracy(val), abs=1e-12)
    assert res.acc_train == pytest.approx(accuracy(train), abs=1e-12)
    thr = np.median(scores[valid])
    held = np.array(sorted(set(np.flatnonzero(valid).tolist()) - tr_idx))  # training rows excluded
    assert len(held) == 5880 - len(train)
    direct_all = np.mean(predict(held) == (scores[held] > thr))
    assert res.acc_all == pytest.approx(direct_all, abs=1e-12) and res.threshold == thr
    assert res.acc_val > 0.97 and 0.8 < res.acc_all < 1.0
    # The boundary is the SVM of the training rows alone (scikit-learn called directly; the
    # primal solver, as here with more samples than dimensions, is deterministic).
    clf = LinearSVC(C=1.0, dual=False, max_iter=20000)
    clf.fit(z[[i for i, _ in train]].astype(np.float64), [y for _, y in train])
    direct = clf.coef_.reshape(-1) / np.linalg.norm(clf.coef_)
    np.testing.assert_allclose(n, direct, atol=1e-6)


def test_validation_rows_are_held_out_of_training():
    """Scores that are pure noise in 512 dimensions: an SVM fits any 140 training samples
    perfectly, but can only guess held-out ones (accuracy near 0.5). Training on the validation
    rows too would fit them as well and report acc_val = 1."""
    for seed in range(3):
        rng = np.random.default_rng(seed)
        z = rng.standard_normal((400, 512)).astype(np.float32)
        scores = rng.standard_normal(400)  # independent of z
        res = train_boundary(z, scores, k=100, fraction=None, val_fraction=0.3, seed=seed)
        assert (res.n_train, res.n_val) == (140, 60)
        assert res.acc_train == 1.0
        assert res.acc_val < 0.75, (seed, res.acc_val)


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

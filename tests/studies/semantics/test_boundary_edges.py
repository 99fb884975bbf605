"""Edges of the boundary statistics (ganatlas.studies.semantics.boundary): the smallest K, and the
all-sample accuracy's median threshold (strictly above the median is positive)."""

from __future__ import annotations

import numpy as np
import pytest

from ganatlas.studies.semantics.boundary import select_extremes, train_boundary


def test_one_sample_per_side_is_enough_and_none_is_an_error():
    pos, neg = select_extremes(np.array([0.3, np.nan, 0.9, 0.1]), k=1)
    assert pos.tolist() == [2] and neg.tolist() == [3]
    with pytest.raises(ValueError, match=r"1 finite scores give K=0 \(k=1"):
        select_extremes(np.array([0.5, np.nan]), k=1)


def test_acc_all_labels_only_scores_above_the_median_positive():
    """21 samples, scores 0..20 (median 10): latent -1 below the median, +1 above, and the
    median sample itself at +1. The SVM (trained on 7 of the 10 extremes) predicts it positive,
    but its label is negative (10 is not above 10). acc_all counts the 14 samples the SVM never
    saw (the median sample among them): 13 / 14 exactly."""
    scores = np.arange(21, dtype=np.float64)
    latents = np.where(scores < 10, -1.0, 1.0)[:, None] * np.array([[1.0, 0.0]])
    result = train_boundary(latents, scores, fraction=0.25, val_fraction=0.3, seed=0)
    assert result.threshold == 10.0 and result.k == 5
    assert result.acc_train == 1.0 and result.acc_val == 1.0
    assert result.n_train == 7 and result.n_samples - result.n_train == 14
    assert result.acc_all == pytest.approx(13 / 14)


def test_one_training_sample_per_side_trains_and_zero_is_an_error():
    """K = 2 per side with half held out leaves exactly one training sample per class: enough
    for a boundary (the planted axis is found); K = 2 with 0.6 held out leaves none: an error
    naming the settings to raise."""
    scores = np.array([0.0, 1.0, 2.0, 3.0, 4.0, 5.0])
    latents = np.stack([scores - 2.5, np.zeros(6)], axis=1)
    res = train_boundary(latents, scores, k=2, val_fraction=0.5, protocol="interfacegan")
    assert res.k == 2 and res.n_train == 2
    np.testing.assert_allclose(res.normal.reshape(-1), [1.0, 0.0], atol=1e-6)
    assert res.acc_train == 1.0 and res.acc_val == 1.0
    with pytest.raises(ValueError, match=r"K=2 per side .*leaves no training sample after the 0.6"):
        train_boundary(latents, scores, k=2, val_fraction=0.6, protocol="interfacegan")


def test_save_boundary_creates_its_folders_and_writes_normal_and_metadata(tmp_path):
    import json

    from ganatlas.studies.semantics.boundary import load_boundary, save_boundary

    scores = np.arange(6.0)
    res = train_boundary(np.stack([scores - 2.5, np.zeros(6)], 1), scores, k=2, val_fraction=0.5,
                         protocol="interfacegan")  # fmt: skip
    npy = tmp_path / "a" / "b" / "smile.npy"
    info = save_boundary(res, npy, tmp_path / "a" / "b" / "smile.json", attribute="smile")
    np.testing.assert_array_equal(load_boundary(npy), res.normal.astype(np.float32).reshape(-1))
    stored = json.loads((tmp_path / "a" / "b" / "smile.json").read_text())
    assert stored == info and stored["attribute"] == "smile" and stored["dim"] == 2

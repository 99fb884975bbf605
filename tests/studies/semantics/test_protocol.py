"""The ``interfacegan`` protocol against InterFaceGAN's rules written out here, its accuracy rules
(remaining / all) and the skewed-scores case, the z rescaling and the split-seed spread."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.svm import SVC

from ganatlas.studies.semantics.boundary import (
    DEFAULT_FRACTION,
    rescale_to_sqrt_dim,
    split_per_class,
    train_boundary,
)
from ganatlas.studies.semantics.settings import semantics_config


def planted(n: int, d: int, noise: float, seed: int = 0):
    rng = np.random.default_rng(seed)
    truth = rng.standard_normal(d)
    truth /= np.linalg.norm(truth)
    z = rng.standard_normal((n, d))
    return z, z @ truth + noise * rng.standard_normal(n), truth


def interfacegan_rules(latents, scores, ratio: float, split_ratio: float, seed: int):
    """InterFaceGAN's train_boundary, re-implemented from its published description: sort scores
    high to low, K = int(ratio * n) per side; shuffle each side's K indices with the global NumPy
    generator seeded here (positives first); the first int(0.7 K) of each side train an
    SVC(kernel='linear'); the rest validate; the middle samples are labelled 1 unless below
    (highest + lowest) / 2. Returns (unit normal, val accuracy, remaining accuracy)."""
    idx = np.argsort(scores)[::-1]
    x, s = latents[idx], scores[idx]
    n = len(x)
    k = min(int(n * ratio), n // 2)
    t = int(k * split_ratio)
    np.random.seed(seed)
    p_idx = np.arange(k)
    np.random.shuffle(p_idx)
    n_idx = np.arange(k)
    np.random.shuffle(n_idx)
    pos, neg = x[:k], x[-k:]
    xt = np.concatenate([pos[p_idx[:t]], neg[n_idx[:t]]])
    yt = np.r_[np.ones(t), np.zeros(t)]
    xv = np.concatenate([pos[p_idx[t:]], neg[n_idx[t:]]])
    yv = np.r_[np.ones(k - t), np.zeros(k - t)]
    mid_x, mid_s = x[k : n - k], s[k : n - k]
    mid_y = np.where(mid_s < (s[0] + s[-1]) / 2, 0, 1)
    clf = SVC(kernel="linear").fit(xt, yt)
    a = clf.coef_.reshape(-1)
    return (
        a / np.linalg.norm(a),
        np.mean(clf.predict(xv) == yv),
        np.mean(clf.predict(mid_x) == mid_y),
    )


@pytest.mark.parametrize("seed", [0, 3])
def test_interfacegan_protocol_equals_its_rules(seed):
    z, scores, truth = planted(1500, 24, noise=0.6, seed=seed)
    zr = rescale_to_sqrt_dim(z)
    res = train_boundary(zr, scores, fraction=0.1, val_fraction=0.3, seed=seed,
                         protocol="interfacegan")  # fmt: skip
    normal, acc_val, acc_rem = interfacegan_rules(zr, scores, 0.1, 0.7, seed)
    np.testing.assert_allclose(res.normal[0], normal, atol=1e-6)
    assert res.acc_val == acc_val and res.acc_remaining == acc_rem
    assert (res.k, res.n_train, res.n_val, res.n_remaining) == (150, 210, 90, 1200)
    assert res.solver == "svc" and normal @ truth > 0.9
    # InterFaceGAN's remaining rule is stricter than the all-sample rule on these scores.
    assert 0.5 < res.acc_remaining < res.acc_all


def test_split_per_class_takes_int_0_7_k_of_each_class():
    tr, va = split_per_class(11, 0.3, seed=5)
    assert len(tr) == 2 * int(11 * 0.7) == 14 and len(va) == 8
    assert sorted(np.r_[tr, va].tolist()) == list(range(22))
    assert (tr[:7] < 11).all() and (tr[7:] >= 11).all()  # positive rows first, then negatives
    rs = np.random.RandomState(5)
    p = np.arange(11)
    rs.shuffle(p)
    assert tr[:7].tolist() == p[:7].tolist()


def test_skewed_scores_leave_one_remaining_label_and_are_reported():
    """One outlier drags the midpoint of the extremes far above every middle score: InterFaceGAN's
    remaining rule labels them all negative, so its accuracy only counts negative predictions;
    the balanced accuracy is undefined (NaN) and the counts show why."""
    z, scores, _ = planted(800, 8, noise=0.1)
    scores[np.argmax(scores)] = 100.0
    res = train_boundary(z, scores, k=40, protocol="interfacegan")
    assert res.remaining_pos == 0 and res.remaining_neg == 720 == res.n_remaining
    assert res.midpoint == pytest.approx((100.0 + scores.min()) / 2)
    assert np.isnan(res.acc_remaining_balanced)
    assert 0.3 < res.acc_remaining < 0.7  # about half the middle samples are predicted positive
    balanced = train_boundary(z, planted(800, 8, noise=0.1)[1], k=40, protocol="interfacegan")
    assert np.isfinite(balanced.acc_remaining_balanced) and balanced.remaining_pos > 0


def test_rescale_to_sqrt_dim():
    z = np.random.default_rng(0).standard_normal((5, 9)).astype(np.float32)
    r = rescale_to_sqrt_dim(z)
    np.testing.assert_allclose(np.linalg.norm(r, axis=1), 3.0, rtol=1e-6)
    np.testing.assert_allclose(r / np.linalg.norm(r, axis=1, keepdims=True),
                               z / np.linalg.norm(z, axis=1, keepdims=True), rtol=1e-6)  # fmt: skip
    assert r.dtype == np.float32
    with pytest.raises(ValueError, match="all-zero"):
        rescale_to_sqrt_dim(np.zeros((1, 3)))


def test_repeats_give_the_spread_of_five_split_seeds():
    z, scores, _ = planted(600, 16, noise=1.0)
    res = train_boundary(z, scores, k=100, seed=2, repeats=5)
    single = [train_boundary(z, scores, k=100, seed=s) for s in range(2, 7)]
    vals = [r.acc_val for r in single]
    assert res.acc_val == single[0].acc_val and res.repeats == 5
    assert res.acc_val_std == pytest.approx(np.std(vals)) and res.acc_val_min == min(vals)
    assert res.acc_val_max == max(vals) and res.acc_val_std > 0
    cos = [float(r.normal[0].astype(float) @ res.normal[0]) for r in single]
    assert res.cos_min == pytest.approx(min(cos), abs=1e-6) and res.cos_min < 1


def test_protocol_defaults_resolve_in_the_settings():
    ig = semantics_config({"semantics": {"protocol": "interfacegan"}})
    assert ig["select"]["fraction"] == DEFAULT_FRACTION["interfacegan"] == 0.02
    assert ig["svm"]["solver"] == "svc" and ig["edit"]["mode"] == "distance"
    ga = semantics_config({})
    assert ga["select"]["fraction"] == 0.25 and ga["svm"]["solver"] == "linearsvc"
    assert ga["edit"]["mode"] == "additive" and ga["split_repeats"] == 5
    mixed = semantics_config(
        {"semantics": {"svm": {"solver": "svc"}, "edit": {"mode": "distance"}}}
    )
    assert mixed["svm"]["solver"] == "svc" and mixed["edit"]["mode"] == "distance"
    with pytest.raises(
        ValueError, match=r"K=1 per side .*0.02 of 60 valid scores.*semantics.samples"
    ):
        train_boundary(np.eye(60), np.arange(60.0), protocol="interfacegan")
    with pytest.raises(ValueError, match="semantics.protocol"):
        train_boundary(np.zeros((4, 2)), np.arange(4.0), k=1, protocol="paper")


def test_interfacegan_protocol_matches_numbers_of_interfacegans_own_code():
    """Stored numbers from InterFaceGAN's own ``utils/manipulator.train_boundary``
    (genforce/interfacegan @ 8da3fc0), run outside this repository. Recipe: the latents and
    scores built below; ``np.int = int`` (removed from NumPy); ``np.random.seed(4)``;
    ``train_boundary(z, s[:, None], chosen_num_or_ratio=0.05, split_ratio=0.7)``. Its log:
    Training 70/70, Validation 30/30, Remaining 854 positive / 946 negative, validation
    60 / 60 = 1.000000, remaining 1449 / 1800 = 0.805000; returned normal [:4] below and
    ``normal @ truth`` = 0.9389873485098419."""
    rng = np.random.default_rng(11)
    truth = rng.standard_normal(32)
    truth /= np.linalg.norm(truth)
    z = rescale_to_sqrt_dim(rng.standard_normal((2000, 32)))
    s = z @ truth + 0.5 * rng.standard_normal(2000)
    res = train_boundary(z, s, fraction=0.05, seed=4, protocol="interfacegan")
    assert (res.n_train, res.n_val, res.n_remaining) == (140, 60, 1800)
    assert (res.remaining_pos, res.remaining_neg) == (854, 946)
    assert res.acc_val == 1.0 and res.acc_remaining == 1449 / 1800
    ref = [0.05421139, 0.34318268, 0.24744888, -0.02139464]
    np.testing.assert_allclose(res.normal[0, :4], ref, atol=1e-6)
    assert float(res.normal[0].astype(float) @ truth) == pytest.approx(0.9389873485098419, abs=1e-6)

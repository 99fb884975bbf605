"""Embedding -> latent maps and cycle / fixed-point detection on planted maps."""

from __future__ import annotations

import numpy as np
import pytest

from ganatlas.studies.identity.iterate import (
    find_recurrence,
    fit_lstsq_map,
    iterate_keyfaces,
    normalise_map,
    random_projection_map,
    step_distances,
)


def euclid(a, b):
    return float(np.linalg.norm(np.asarray(a) - np.asarray(b)))


def lookup_map(table):
    """A planted embedding -> latent map: the value of the nearest key."""
    keys = np.array([k for k, _ in table])

    def f(e):
        return np.asarray(table[int(np.argmin(np.linalg.norm(keys - e, axis=1)))][1], float)

    return f


def test_planted_three_cycle_after_a_transient():
    """a -> b -> c1 -> c2 -> c3 -> c1: first return at keyface 5 to keyface 2, period 3."""
    a, b, c1, c2, c3 = (np.array(v, float) for v in ([9, 0], [0, 9], [1, 0], [0, 1], [-1, 0]))
    f = lookup_map([(a, b), (b, c1), (c1, c2), (c2, c3), (c3, c1)])
    lat, embs = iterate_keyfaces(a, 9, lambda x: x.copy(), f)
    np.testing.assert_array_equal(lat[2], c1)
    np.testing.assert_array_equal(lat[5], c1)
    rec = find_recurrence(embs, euclid, tolerance=1e-6, threshold=1e-6, fixed_steps=3)
    assert (rec.kind, rec.return_step, rec.period) == ("cycle", 5, 3)
    # with a little noise on the embedding the cycle is found within a tolerance
    rng = np.random.default_rng(0)
    _, noisy = iterate_keyfaces(a, 9, lambda x: x + rng.normal(0, 0.01, 2), f)
    rec = find_recurrence(noisy, euclid, tolerance=0.1, threshold=0.01, fixed_steps=3)
    assert (rec.kind, rec.return_step, rec.period) == ("cycle", 5, 3)
    assert find_recurrence(noisy, euclid, 1e-9, 1e-9, 3).kind == "none"


def test_planted_fixed_point():
    """e -> c + 0.1 (e - c): step k moves 0.9 * 0.1**(k-1) * |e0 - c|; with threshold 1e-3 and
    M = 2 the first of two steps below it is step 4 (0.9e-3 * 10 = 9e-3, then 9e-4, 9e-5)."""
    c = np.array([0.5, -0.5, 2.0])
    e0 = c + np.array([1.0, 0.0, 0.0])
    lat, embs = iterate_keyfaces(e0, 8, lambda x: x, lambda e: c + 0.1 * (e - c))
    d = step_distances(np.stack(embs), euclid)
    np.testing.assert_allclose(d[1:4], [0.9, 0.09, 0.009])
    rec = find_recurrence(embs, euclid, tolerance=1e-12, threshold=1e-3, fixed_steps=2)
    assert (rec.kind, rec.return_step, rec.period) == ("fixed_point", 4, 1)
    # a tolerance larger than the late steps still calls it a fixed point, not a 2-cycle
    rec = find_recurrence(embs, euclid, tolerance=0.05, threshold=1e-3, fixed_steps=2)
    assert rec.kind == "fixed_point"


def test_no_face_ends_the_chain_and_is_skipped():
    f = lambda e: e + 1  # noqa: E731
    lat, embs = iterate_keyfaces(np.zeros(2), 4, lambda x: None if x[0] >= 1 else x, f)
    assert embs[0] is not None and embs[1:] == [None, None, None]
    np.testing.assert_array_equal(lat[1], lat[3])
    assert find_recurrence(embs, euclid, 1.0, 1.0, 2).kind == "none"


def test_normalise_map_pads_truncates_and_scales():
    m = normalise_map(4, 2.0)
    np.testing.assert_allclose(m(np.array([3.0, 4.0])), [1.2, 1.6, 0, 0])
    np.testing.assert_allclose(m(np.array([1.0, 0, 0, 0, 5.0, 5.0])), [2.0, 0, 0, 0])
    np.testing.assert_allclose(np.linalg.norm(normalise_map(512, 22.6)(np.ones(512))), 22.6)


def test_random_projection_is_seeded_and_scaled():
    e = np.linspace(-1, 1, 8)
    a, b = random_projection_map(5, 8, 3.0, 7)(e), random_projection_map(5, 8, 3.0, 7)(e)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, random_projection_map(5, 8, 3.0, 8)(e))
    assert np.linalg.norm(a) == pytest.approx(3.0)
    with pytest.raises(ValueError, match="built for 8-d embeddings, got 3"):
        random_projection_map(5, 8, 3.0, 7)(np.ones(3))


def test_lstsq_map_recovers_a_planted_affine_map():
    rng = np.random.default_rng(1)
    a_true = rng.normal(size=(6, 3))
    emb = rng.normal(size=(50, 5))
    lat = np.hstack([emb, np.ones((50, 1))]) @ a_true
    a, f = fit_lstsq_map(lat, emb)
    np.testing.assert_allclose(a, a_true, atol=1e-5)
    np.testing.assert_allclose(f(emb[3]), lat[3], atol=1e-5)
    with pytest.raises(ValueError, match=">= 2 matching pairs"):
        fit_lstsq_map(lat[:1], emb[:1])

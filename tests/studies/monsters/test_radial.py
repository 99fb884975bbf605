"""Radial yield: Wilson intervals vs scipy, monster radii on planted curves, directions, grid."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binomtest

from ganatlas.studies.monsters.radial import (
    first_below,
    monster_radii,
    radial_latents,
    space_seed,
    unit_directions,
    wilson,
    yield_curve,
)


def test_wilson_matches_scipy() -> None:
    ks = np.array([0, 1, 5, 17, 50, 63, 64, 3, 0, 1])
    ns = np.array([64, 64, 64, 64, 64, 64, 64, 7, 1, 1])  # n = 1 too
    lo, hi = wilson(ks, ns)
    for k, n, a, b in zip(ks, ns, lo, hi, strict=True):
        ci = binomtest(int(k), int(n)).proportion_ci(confidence_level=0.95, method="wilson")
        assert a == pytest.approx(ci.low, abs=1e-12) and b == pytest.approx(ci.high, abs=1e-12)
    lo, hi = wilson(np.array([0]), np.array([0]))
    assert np.isnan(lo[0]) and np.isnan(hi[0])


def test_first_below_on_planted_curves() -> None:
    r = np.arange(6, dtype=float)
    assert first_below(r, np.array([1, 1, 0.95, 0.8, 0.4, 0.1]), 0.9) == 3.0
    assert first_below(r, np.array([1, 1, 0.95, 0.8, 0.4, 0.1]), 0.5) == 4.0
    # a centre that is not a face: yield 0 at r = 0, faces further out, monsters beyond
    assert first_below(r, np.array([0, 0.95, 1, 0.7, 0.2, 0]), 0.9) == 3.0
    assert first_below(r, np.array([1, 1, 1, 1, 1, 1]), 0.9) == np.inf
    assert np.isnan(first_below(r, np.array([0, 0.2, 0.3, 0.1, 0, 0]), 0.5))


def test_monster_radii_recover_planted_radii_with_intervals() -> None:
    # every direction k is detected up to its own radius limit[k]: yield(r) = P(limit > r)
    rng = np.random.default_rng(0)
    radii = np.linspace(0, 4, 41)
    limit = rng.uniform(1.0, 3.0, size=400)  # yield drops linearly from r = 1 to r = 3
    det = radii[None, :] < limit[:, None]
    out = monster_radii(det, radii, n_boot=300, seed=1)
    # true curve: yield = (3 - r) / 2 on [1, 3] -> below 0.9 first after r = 1.2, below 0.5 after 2
    assert out["r90"] == pytest.approx(1.3, abs=0.11) and out["r50"] == pytest.approx(2.1, abs=0.11)
    for k in ("r90", "r50"):
        assert out[f"{k}_lo"] <= out[k] <= out[f"{k}_hi"]
        assert out[f"{k}_hi"] - out[f"{k}_lo"] <= 0.5
        assert out[f"{k}_never_reached"] == 0 and out[f"{k}_never_dropped"] == 0
    never = monster_radii(np.ones((10, 5), bool), np.arange(5.0), n_boot=20)
    assert never["r90"] == np.inf and never["r90_never_dropped"] == 1


def test_directions_and_latents() -> None:
    d = unit_directions(64, 100, space_seed(0, "w"))
    assert d.shape == (64, 100) and np.allclose(np.linalg.norm(d, axis=1), 1)
    assert np.array_equal(d, unit_directions(64, 100, space_seed(0, "w")))
    assert not np.allclose(d, unit_directions(64, 100, space_seed(0, "z")))
    centre = np.full(100, 0.5)
    lat, di, ri = radial_latents(centre, d[:3], [0.0, 1.0, 2.5], unit=4.0)
    assert lat.shape == (9, 100) and list(di) == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    dist = np.linalg.norm(lat - centre, axis=1)
    assert np.allclose(dist, np.tile([0.0, 4.0, 10.0], 3), atol=1e-5)


def test_list_column_keeps_nulls_and_values() -> None:
    from ganatlas.studies.monsters.stages import list_column

    col = list_column([np.array([1.0, 2.0]), None, np.array([3.5, 4.0])])
    assert col.to_pylist() == [[1.0, 2.0], None, [3.5, 4.0]]
    assert str(col.type) == "list<item: float>"
    assert list_column([None, None]).to_pylist() == [None, None]


def test_yield_curve_with_one_direction_per_radius() -> None:
    """One image per radius (``monsters.directions: 1``): yield 0 or 1 with its Wilson interval,
    the radius in units and in absolute length taken from that image."""
    import pandas as pd

    rows = pd.DataFrame({
        "radius_index": [0, 1, 2], "radius": [0.0, 1.0, 2.0], "radius_abs": [0.0, 3.5, 7.0],
        "detected": [True, True, False], "det_score": [0.9, 0.6, 0.0],
    })  # fmt: skip
    curve = yield_curve(rows)
    assert curve["n"].tolist() == [1, 1, 1] and curve["yield"].tolist() == [1.0, 1.0, 0.0]
    assert curve["radius_abs"].tolist() == [0.0, 3.5, 7.0]
    ci = binomtest(1, 1).proportion_ci(confidence_level=0.95, method="wilson")
    assert curve["ci_low"][0] == pytest.approx(ci.low) and curve["ci_high"][0] == pytest.approx(1.0)
    assert curve["median_score"].tolist()[:2] == [0.9, 0.6] and np.isnan(curve["median_score"][2])

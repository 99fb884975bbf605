"""Shared latent helpers: seeded z, w_avg statistics, clamp radii."""

import numpy as np
import pytest
import torch

from ganatlas.latent import compute_w_avg, resolve_radius, sample_z
from ganatlas.networks.tiny import TinyGenerator


def test_sample_z_is_seeded_and_standard_normal():
    a, b = sample_z(4000, 50, seed=3), sample_z(4000, 50, seed=3)
    assert torch.equal(a, b)
    assert not torch.equal(a, sample_z(4000, 50, seed=4))
    assert abs(a.mean().item()) < 0.01 and abs(a.std().item() - 1) < 0.01


def test_w_avg_equals_mean_of_mapped_samples():
    g = TinyGenerator()
    stats = compute_w_avg(g, samples=300, seed=5, batch_size=64)
    w = g.mapping(sample_z(300, g.z_dim, 5))[:, 0].double().numpy()
    np.testing.assert_allclose(stats["w_avg"], w.mean(0), atol=1e-6)
    dist = np.linalg.norm(w - w.mean(0), axis=1)
    np.testing.assert_allclose(stats["distances"], dist, rtol=1e-5)
    np.testing.assert_allclose(stats["percentiles"][-1], np.percentile(dist, 99), rtol=1e-6)
    assert stats["w_avg_norm"] == pytest.approx(np.linalg.norm(w.mean(0)), rel=1e-6)


def test_w_avg_of_identity_mapping_is_close_to_zero():
    from ganatlas.networks.dcgan import DCGANGenerator

    g = DCGANGenerator(z_dim=100, ngf=4)
    stats = compute_w_avg(g, samples=10_000, seed=0, batch_size=5000)
    # mean of 10,000 standard normal 100-d vectors: |mean| ~ sqrt(100 / 10000) = 0.1
    assert 0.05 < float(stats["w_avg_norm"]) < 0.2
    assert np.median(stats["distances"]) == pytest.approx(np.sqrt(99.5), rel=0.02)


def test_resolve_radius():
    pct = {50.0: 3.0, 99.0: 9.5}
    assert resolve_radius("p99", pct) == 9.5
    assert resolve_radius(4, pct) == 4.0
    assert resolve_radius(None, pct) is None
    with pytest.raises(ValueError, match="p42"):
        resolve_radius("p42", pct)


def test_percentile_levels_are_the_ones_the_schema_accepts():
    """``clamp.radius: pNN`` may name exactly the levels w_avg.npz stores."""
    import re

    from ganatlas.config import section_schema

    g = TinyGenerator()
    stats = compute_w_avg(g, samples=50, seed=0, batch_size=50)
    pattern = next(
        o["pattern"] for o in section_schema("clamp")["properties"]["radius"]["anyOf"]
        if "pattern" in o
    )  # fmt: skip
    levels = sorted(int(v) for v in re.search(r"p\(([\d|]+)\)", pattern)[1].split("|"))
    assert stats["percentile_levels"].tolist() == levels


def test_compute_w_avg_defaults_are_the_schema_defaults():
    """A caller relying on compute_w_avg's defaults gets what the schema's w_avg section says."""
    import inspect

    from ganatlas.config import section_schema

    params = inspect.signature(compute_w_avg).parameters
    schema = section_schema("w_avg")["properties"]
    for key in ("samples", "seed", "batch_size"):
        assert params[key].default == schema[key]["default"], key
    assert (schema["samples"]["default"], schema["seed"]["default"]) == (10_000, 0)


def test_w_avg_progress_reports_mapped_samples():
    """progress(done, total) after each batch: the running count of mapped samples."""
    calls = []
    compute_w_avg(
        TinyGenerator(), samples=300, seed=0, batch_size=128, progress=lambda *a: calls.append(a)
    )
    assert calls == [(128, 300), (256, 300), (300, 300)]

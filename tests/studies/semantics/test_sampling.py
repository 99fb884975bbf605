"""Sampling shards (seeded, resumable, Parquet round trip) and the planted scorer."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from ganatlas.studies.semantics.sampling import (
    load_samples,
    shard_latents,
    shard_table,
)
from ganatlas.studies.semantics.scoring import (
    PlantedScorer,
    planted_direction,
    split_scorer_configs,
)


def test_shards_independent_resumable_and_roundtrip(tmp_path):
    a = shard_latents(16, samples=250, shard_size=100, seed=4, shard=1)
    again = shard_latents(16, samples=250, shard_size=100, seed=4, shard=1)
    last = shard_latents(16, samples=250, shard_size=100, seed=4, shard=2)
    assert a.shape == (100, 16) and last.shape == (50, 16)
    np.testing.assert_array_equal(a, again)
    assert not np.allclose(a[:50], last)
    assert not np.allclose(a, shard_latents(16, 250, 100, seed=5, shard=1))
    with pytest.raises(ValueError, match="outside"):
        shard_latents(16, 250, 100, 4, 3)
    scorer = PlantedScorer("lin", "z", seed=2, scale=2.0)
    paths = []
    for k, (start, z) in enumerate([(100, a), (200, last)]):
        scores = pd.DataFrame({"detected": np.ones(len(z), bool), "det_score": np.nan})
        scores["bbox"] = [None] * len(z)
        scores["lin"] = scorer.score_latents({"z": z})
        table = shard_table(np.arange(start, start + len(z)), z, z * 2, scores)
        assert table.schema.field("z").type.value_type.bit_width == 32
        paths.append(tmp_path / f"s{k}.parquet")
        pq.write_table(table, paths[-1])
    df, zz, ww = load_samples(paths[::-1])  # sorted back by sample index
    assert df["index"].tolist() == list(range(100, 250))
    np.testing.assert_array_equal(zz, np.concatenate([a, last]))
    np.testing.assert_array_equal(ww, 2 * zz)
    np.testing.assert_allclose(df["lin"], 2 * zz.astype(np.float64) @ planted_direction(16, 2))


def test_planted_scorer_config_errors():
    planted_, other = split_scorer_configs([{"type": "planted", "name": "x"}, {"type": "pose"}])
    assert planted_[0] == PlantedScorer("x") and other == [{"type": "pose"}]
    with pytest.raises(ValueError, match=r"scorers\[0\] \(planted\)"):
        split_scorer_configs([{"type": "planted", "name": "x", "space": "q"}])

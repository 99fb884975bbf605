"""The semantics stages called directly (no Snakemake) on a tiny network with planted scorers."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from ganatlas.studies.semantics.boundary import (
    load_boundary,
)
from ganatlas.studies.semantics.sampling import (
    column_matrix,
)
from ganatlas.studies.semantics.scoring import (
    planted_direction,
)
from ganatlas.studies.semantics.settings import (
    edit_names,
    semantics_config,
)


def test_stages_end_to_end_on_tiny_network_with_planted_scorers(tmp_path):
    from ganatlas.networks.resolve import describe_network
    from ganatlas.studies.semantics import stages

    info = describe_network("tiny-random")
    assert info["num_ws"] > 2
    config = {
        "semantics": {
            "samples": 300,
            "shard_size": 120,
            "detector": {"backend": "none"},
            "scorers": [
                {"type": "planted", "name": "a", "space": "z", "seed": 1},
                {"type": "planted", "name": "b", "space": "w", "seed": 2},
            ],
            "attributes": ["a", "b"],
            "select": {"k": 60},
            "conditions": {"a": ["b"]},
            "edit": {"seeds": [0, 1, 2], "alphas": [-1, 0, 1], "spaces": ["z", "w", "wp"],
                     "wp_layers": [1, 2], "grid_faces": 2},
        }
    }  # fmt: skip
    config = semantics_config(config)  # the stages take resolved settings
    sem = tmp_path / "semantics"
    shards = [sem / "samples" / f"shard{k}.parquet" for k in range(3)]
    for k, p in enumerate(shards):
        stages.stage_sample(info, config, k, p)
    first = pq.read_table(shards[1])
    stages.stage_sample(info, config, 1, shards[1])  # a rerun of one shard is bit-identical
    again = pq.read_table(shards[1])
    for col in ("z", "w"):
        np.testing.assert_array_equal(column_matrix(again, col), column_matrix(first, col))
    pd.testing.assert_frame_equal(
        again.drop_columns(["z", "w"]).to_pandas(), first.drop_columns(["z", "w"]).to_pandas()
    )
    assert first.num_rows == 120 and first.column("index").to_pylist()[0] == 120
    stages.stage_boundaries(shards, config, info, sem)
    acc = pd.read_csv(sem / "accuracy.csv").set_index(["space", "attribute"])
    # Counts recomputed from the raw shard rows.
    raw = pd.concat([pd.read_parquet(p) for p in shards])
    counts = json.loads((sem / "samples_summary.json").read_text())
    std = counts.pop("score_std")
    assert counts == {"samples": 300, "detected": int(raw["detected"].sum())} and len(raw) == 300
    assert std == pytest.approx({a: np.nanstd(raw[a].to_numpy(float)) for a in ("a", "b")})
    for (_, attr), row in acc.iterrows():
        assert row.n_valid == raw[attr].notna().sum() and row.k == 60
        assert row.n_train + row.n_val == 120 and row.n_val == round(120 * 0.3)
    # Planted z attribute: the Z boundary recovers it, accuracies are high.
    cos = load_boundary(sem / "boundaries/z/a.npy") @ planted_direction(info["z_dim"], 1)
    assert cos > 0.9 and acc.loc[("z", "a"), "acc_val"] > 0.9
    cond = pd.read_csv(sem / "conditional.csv")
    assert (cond.cos_after.abs() < 1e-6).all() and set(cond.space) == {"z", "w"}
    names = edit_names(config)
    assert names == ["a", "b", "a_c_b"]  # the conditional direction is edited too
    for space in ("z", "w", "wp"):
        grids = [sem / "figures" / f"grid_{space}_{n}.png" for n in names]
        stages.stage_edit(info, config, space, sem, sem / "edits" / f"{space}.parquet", grids)
        assert all(g.is_file() for g in grids)
    fits = stages.stage_edit_summary(
        [sem / "edits" / f"{s}.parquet" for s in ("z", "w", "wp")], config, sem
    ).set_index(["space", "edited", "scored"])
    # A planted z score edited along the Z boundary changes by exactly cos * alpha.
    assert fits.loc[("z", "a", "a"), "slope"] == pytest.approx(cos, rel=1e-4)
    # W+ edits touch one of num_ws rows: the planted w score (mean over rows) moves 1/num_ws as far.
    wb = load_boundary(sem / "boundaries/w/b.npy") @ planted_direction(info["w_dim"], 2)
    assert fits.loc[("w", "b", "b"), "slope"] == pytest.approx(wb, rel=1e-3)
    assert fits.loc[("wp", "b", "b"), "slope"] == pytest.approx(wb / info["num_ws"], rel=1e-3)
    # The conditional direction a|b moves the planted w-score b by its cosine with b's truth.
    cond_w = load_boundary(sem / "conditional/w/a.npy")
    d_b = planted_direction(info["w_dim"], 2)
    assert abs(cond_w @ load_boundary(sem / "boundaries/w/b.npy")) < 1e-6
    assert fits.loc[("w", "a_c_b", "b"), "slope"] == pytest.approx(cond_w @ d_b, rel=1e-3)
    edits_w = pd.read_parquet(sem / "edits" / "w.parquet")
    assert {"start_a", "start_b", "start_a_c_b", "distance"} <= set(edits_w.columns)
    dis = pd.read_csv(sem / "disentanglement.csv").set_index(["space", "edited", "scored"])
    assert dis.loc[("w", "b", "b"), "by_own"] == pytest.approx(1.0)
    assert (sem / "linearity_faces.csv").is_file()
    text = stages.stage_report(config, sem, sem / "report.md")
    assert "W+ layers 1..1" in text and "figures/disentanglement.png" in text
    assert f"300 samples (seed {config['seed']}), {counts['detected']} with a detected face" in text


def test_stage_sample_names_missing_attributes(tmp_path):
    from ganatlas.networks.resolve import describe_network
    from ganatlas.studies.semantics import stages

    config = {
        "semantics": {
            "samples": 10, "detector": {"backend": "none"}, "attributes": ["smile"],
            "scorers": [{"type": "planted", "name": "a"}],
        }
    }  # fmt: skip
    with pytest.raises(ValueError, match=r"attributes \['smile'\] are not produced.*\['a'\]"):
        stages.stage_sample(
            describe_network("tiny-random"), semantics_config(config), 0, tmp_path / "s.parquet"
        )

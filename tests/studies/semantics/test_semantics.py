"""Semantic directions: planted-truth boundaries, selection/split, conditional projection, edits,
linear fits, config errors, shards; and (slow) the `boundaries` and `edit` targets end to end."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import torch
import yaml
from conftest import REPO, find_testdata

from ganatlas.networks.tiny import TinyGenerator
from ganatlas.studies.semantics.boundary import (
    cosine_matrix,
    load_boundary,
    save_boundary,
    select_extremes,
    split_indices,
    train_boundary,
)
from ganatlas.studies.semantics.conditional import conditional_rows, project_orthogonal
from ganatlas.studies.semantics.edit import (
    edited_ws,
    effect_correlation,
    face_latents,
    linear_fit,
    linearity_table,
)
from ganatlas.studies.semantics.sampling import (
    column_matrix,
    load_samples,
    shard_latents,
    shard_table,
)
from ganatlas.studies.semantics.scoring import (
    PlantedScorer,
    planted_direction,
    split_scorer_configs,
)
from ganatlas.studies.semantics.settings import (
    DEFAULTS,
    SemanticsConfigError,
    alpha_values,
    n_shards,
    semantics_config,
)

# ---------------------------------------------------------------- planted truth


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


# ---------------------------------------------------------------- selection and split


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


# ---------------------------------------------------------------- conditional directions


@pytest.mark.parametrize("m", [1, 2, 5])
def test_conditional_projection_orthogonal_to_every_condition(m):
    rng = np.random.default_rng(m)
    p = rng.standard_normal(512)
    conds = rng.standard_normal((m, 512)) + 0.8 * p  # strongly correlated with the primary
    d = project_orthogonal(p, conds)
    assert abs(np.linalg.norm(d) - 1) < 1e-12
    cos = conds @ d / np.linalg.norm(conds, axis=1)
    assert np.max(np.abs(cos)) < 1e-6
    assert d @ p > 0  # still points the primary's way


def test_conditional_rows_report_before_and_after():
    rng = np.random.default_rng(0)
    normals = {k: rng.standard_normal(64) for k in ("smile", "age", "gender")}
    normals["age"] = normals["age"] + 2 * normals["smile"]
    d, rows = conditional_rows("w", "smile", ["age", "gender"], normals)
    assert [r["condition"] for r in rows] == ["age", "gender"]
    before = {r["condition"]: r["cos_before"] for r in rows}
    u = normals["smile"] / np.linalg.norm(normals["smile"])
    a = normals["age"] / np.linalg.norm(normals["age"])
    assert before["age"] == pytest.approx(u @ a) and before["age"] > 0.8
    assert all(abs(r["cos_after"]) < 1e-6 for r in rows)
    assert rows[0]["cos_with_primary"] == pytest.approx(d @ u)
    with pytest.raises(ValueError, match="span"):
        project_orthogonal(normals["smile"], np.stack([normals["smile"], normals["age"]]))


def test_cosine_matrix():
    m = cosine_matrix({"a": np.array([1.0, 0, 0]), "b": np.array([[2.0, 2.0, 0]])})
    np.testing.assert_allclose(m.to_numpy(), [[1, 2**-0.5], [2**-0.5, 1]])


# ---------------------------------------------------------------- edits and linear fits


def test_linear_fit_and_tables_on_synthetic_edits():
    alphas = np.linspace(-3, 3, 13)
    rng = np.random.default_rng(0)
    rows = []
    for face in range(5):
        for a in alphas:
            rows.append(
                {"space": "z", "edited": "smile", "face": face, "alpha": a,
                 "smile": 0.5 * a + face, "yaw": 0.1 * rng.standard_normal()}
            )  # fmt: skip
    df = pd.DataFrame(rows)
    fit = linear_fit(df.alpha, df.smile)
    assert fit["slope"] == pytest.approx(0.5) and fit["intercept"] == pytest.approx(2.0)
    y = df.smile.to_numpy()
    r2 = 1 - np.sum((y - (0.5 * df.alpha + 2)) ** 2) / np.sum((y - y.mean()) ** 2)
    assert fit["r2"] == pytest.approx(r2) and fit["n"] == 65
    exact = linear_fit([0, 1, 2, np.nan], [1, 3, 5, 7])
    assert (exact["slope"], exact["intercept"], exact["r2"], exact["n"]) == pytest.approx(
        (2, 1, 1, 3)
    )
    assert np.isnan(linear_fit([1, 1], [1, 2])["slope"])
    table = linearity_table(df, ["smile", "yaw"]).set_index("scored")
    assert table.loc["smile", "slope"] == pytest.approx(0.5)
    assert table.loc["smile", "mean_std"] == pytest.approx(np.std(np.arange(5), ddof=1))
    assert abs(table.loc["yaw", "slope"]) < 0.05
    eff = effect_correlation(df, ["smile", "yaw"], "z")
    # Changes from each face's alpha-0 score: smile moves exactly 0.5 * alpha on every face.
    assert eff.loc["smile", "smile"] == pytest.approx(1.0)
    yaw0 = df[df.alpha == 0].set_index("face").yaw
    dyaw = df.yaw - yaw0.reindex(df.face).to_numpy()
    assert eff.loc["smile", "yaw"] == pytest.approx(np.corrcoef(df.alpha, dyaw)[0, 1])
    assert abs(eff.loc["smile", "yaw"]) < 0.3


def test_edited_ws_spaces_and_layer_range():
    torch.manual_seed(0)
    g = TinyGenerator().eval()
    z = face_latents(g.z_dim, [0, 1], [])
    n = planted_direction(g.w_dim, 5)
    alphas = [-1.0, 0.0, 2.0]
    base = edited_ws(g, z, n, [0.0], "w")[0]  # [2, num_ws, w_dim]
    ws, _ = edited_ws(g, z, n, alphas, "w")
    assert ws.shape == (6, g.num_ws, g.w_dim)
    np.testing.assert_allclose(ws[5] - base[1], 2.0 * np.broadcast_to(n, ws[5].shape), atol=1e-5)
    wp, _ = edited_ws(g, z, n, alphas, "wp", [1, 2])
    diff = wp[2] - base[0]  # face 0, alpha 2
    np.testing.assert_allclose(diff[1], 2.0 * n, atol=1e-5)
    assert np.abs(np.delete(diff, 1, axis=0)).max() == 0
    wz, ze = edited_ws(g, z, planted_direction(g.z_dim, 1), alphas, "z")
    np.testing.assert_allclose(ze[3], z[1] - planted_direction(g.z_dim, 1), atol=1e-6)
    np.testing.assert_allclose(wz[1], base[0], atol=1e-5)  # alpha 0 is the original
    with pytest.raises(ValueError, match="num_ws"):
        edited_ws(g, z, n, alphas, "wp", [0, g.num_ws + 1])


def test_face_latents_from_seeds_and_files(tmp_path):
    np.save(tmp_path / "a.npy", np.ones((2, 8), np.float32))
    np.savez(tmp_path / "b.npz", z=np.zeros(8, np.float32))
    z = face_latents(8, [3], [tmp_path / "a.npy", tmp_path / "b.npz"])
    assert z.shape == (4, 8)
    from ganatlas.latent import sample_z

    np.testing.assert_array_equal(z[0], sample_z(1, 8, 3).numpy()[0])
    with pytest.raises(ValueError, match="z_dim is 9"):
        face_latents(9, [], [tmp_path / "a.npy"])


# ---------------------------------------------------------------- shards and scoring


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


# ---------------------------------------------------------------- config


def test_config_defaults_merge_and_alphas():
    cfg = semantics_config({"semantics": {"samples": 1001, "edit": {"seeds": [7]}}})
    assert cfg["samples"] == 1001 and cfg["shard_size"] == DEFAULTS["shard_size"]
    assert n_shards(cfg) == 3
    assert cfg["edit"]["seeds"] == [7] and cfg["edit"]["attributes"] == DEFAULTS["attributes"]
    assert cfg["edit"]["alphas"] == [x / 2 for x in range(-6, 7)]
    assert alpha_values([1, 2]) == [0.0, 1.0, 2.0]  # the original is always included
    assert semantics_config({})["spaces"] == ["z", "w"]


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"sample": 10}, r"'semantics': unknown key\(s\) \['sample'\]"),
        ({"spaces": ["x"]}, r"'semantics.spaces.0': got 'x' .*allowed values: z, w"),
        ({"select": {"k": 1}}, "'semantics.select.k': got 1 .*allowed: integer >= 2 or null"),
        (
            {"select": {"fraction": 0.7}},
            r"'semantics.select.fraction': got 0.7 .*maximum of 0.5",
        ),
        ({"conditions": {"smile": ["age"]}}, r"semantics.conditions.smile: .*\['yaw', 'smile'\]"),
        ({"edit": {"alphas": {"start": 1, "stop": 0, "step": 1}}}, "stop >= start"),
        ({"edit": {"spaces": ["wp"]}}, r"wp_layers must be \[start, stop\)"),
        ({"edit": {"attributes": ["age"]}}, r"edit.attributes \['age'\] have no boundary"),
        ({"edit": {"seed": [1]}}, r"'semantics.edit': unknown key\(s\) \['seed'\]"),
        ({"edit": {"seeds": [], "latent_files": []}}, "at least one seed or latent file"),
        ({"val_fraction": 1.0}, r"'semantics.val_fraction': got 1.0 .*maximum of 1"),
    ],
)
def test_config_errors_name_the_key(section, message):
    with pytest.raises(SemanticsConfigError, match=message):
        semantics_config({"semantics": section})


# ---------------------------------------------------------------- workflow (slow)

TINY = REPO / "tests" / "configs" / "semantics_tiny.yaml"


@pytest.fixture(scope="module")
def workflow_run(tmp_path_factory):
    scrfd = find_testdata() / "models" / "scrfd_500m.onnx"
    for model in (scrfd, find_testdata() / "models" / "emotion.onnx"):
        if not model.is_file():
            pytest.skip(f"test model not found at {model} (set GANATLAS_TESTDATA)")
    tmp = tmp_path_factory.mktemp("semantics")
    out = tmp / "out"
    over = {
        "outdir": str(out),
        "detector": {"backend": "insightface", "det_model": str(scrfd), "det_size": 320},
    }
    (tmp / "over.yaml").write_text(yaml.safe_dump(over))
    cmd = [sys.executable, "-m", "snakemake", "--cores", "2", "boundaries", "edit",
           "--configfile", str(TINY), str(tmp / "over.yaml")]  # fmt: skip
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-6000:]
    return out / "semantics", yaml.safe_load(TINY.read_text())["semantics"]


@pytest.mark.slow
def test_workflow_writes_every_table_and_figure(workflow_run):
    sem_dir, cfg = workflow_run
    attrs, spaces = cfg["attributes"], ["z", "w"]
    acc = pd.read_csv(sem_dir / "accuracy.csv")
    assert sorted(zip(acc.space, acc.attribute, strict=True)) == sorted(
        (s, a) for s in spaces for a in attrs
    )
    assert (acc.k <= cfg["select"]["k"]).all() and (acc.n_samples == cfg["samples"]).all()
    for s in spaces:
        for a in attrs:
            normal = np.load(sem_dir / "boundaries" / s / f"{a}.npy")
            meta = json.loads((sem_dir / "boundaries" / s / f"{a}.json").read_text())
            assert normal.shape == (1, 100) and abs(np.linalg.norm(normal) - 1) < 1e-5
            assert meta["space"] == s and meta["attribute"] == a
            assert 0.5 <= meta["acc_val"] <= 1 and 0.5 <= meta["acc_all"] <= 1
        m = pd.read_csv(sem_dir / f"boundary_correlation_{s}.csv", index_col=0)
        assert list(m.columns) == attrs and np.allclose(np.diag(m), 1)
    shards = sorted((sem_dir / "samples").glob("shard*.parquet"))
    assert [p.name for p in shards] == ["shard0.parquet", "shard1.parquet"]
    samples = pd.concat([pd.read_parquet(p) for p in shards])
    assert samples["index"].tolist() == list(range(cfg["samples"]))
    assert {"z", "w", "detected", "det_score", *attrs} <= set(samples.columns)
    assert samples.detected.mean() > 0.5  # DCGAN faces are found at det_size 320
    det = samples.detected.to_numpy()
    assert samples.loc[det, "smile"].between(0, 1).all() and samples.loc[~det, "smile"].isna().all()
    assert samples.loc[det, "yaw"].notna().all()
    n_valid = acc.set_index(["space", "attribute"])["n_valid"]
    assert n_valid[("z", "yaw")] == n_valid[("w", "smile")] == det.sum()
    cond = pd.read_csv(sem_dir / "conditional.csv")
    assert len(cond) == 4 and (cond.cos_after.abs() < 1e-6).all()  # 2 conditions x 2 spaces
    edits = pd.read_parquet(sem_dir / "edits" / "z.parquet")
    n_alpha = len(cfg["edit"]["alphas"])
    assert len(edits) == len(cfg["edit"]["seeds"]) * len(attrs) * n_alpha
    edit_spaces = cfg["edit"]["spaces"]
    assert edit_spaces == ["z", "w", "wp"]
    lin = pd.read_csv(sem_dir / "linearity.csv")
    assert len(lin) == len(edit_spaces) * len(attrs) ** 2
    # W+ over every row of a one-row network is the W edit: same scores.
    wp, w = (pd.read_parquet(sem_dir / "edits" / f"{s}.parquet") for s in ("wp", "w"))
    np.testing.assert_allclose(wp[attrs].to_numpy(float), w[attrs].to_numpy(float), rtol=1e-5)
    for s in edit_spaces:
        eff = pd.read_csv(sem_dir / f"effect_correlation_{s}.csv", index_col=0)
        assert list(eff.index) == attrs and list(eff.columns) == attrs
    figures = {p.name for p in (sem_dir / "figures").glob("*.png")}
    assert figures == {
        "boundary_correlation.png", "score_correlation.png", "disentanglement.png",
        *(f"linearity_{s}.png" for s in edit_spaces),
        *(f"grid_{s}_{a}.png" for s in edit_spaces for a in attrs),
    }  # fmt: skip
    report = (sem_dir / "report.md").read_text()
    for name in figures:
        assert f"figures/{name}" in report
    assert "| space" in report and "acc_val" in report


@pytest.mark.slow
def test_workflow_planted_scores_and_edit_slope(workflow_run):
    """The z-space planted attribute's edit slope equals the cosine of boundary and truth."""
    sem_dir, cfg = workflow_run
    spec = next(s for s in cfg["scorers"] if s["type"] == "planted")
    name = spec["name"]
    normal = load_boundary(sem_dir / "boundaries" / "z" / f"{name}.npy")
    cos = normal @ planted_direction(100, spec["seed"])
    lin = pd.read_csv(sem_dir / "linearity.csv")
    row = lin[(lin.space == "z") & (lin.edited == name) & (lin.scored == name)].iloc[0]
    assert row.slope == pytest.approx(cos, rel=1e-4)
    assert cos > 0.6
    # The real scorers respond to their own boundaries: editing along +n raises the score.
    diag = lin[(lin.space == "z") & (lin.edited == lin.scored)].set_index("scored")
    assert diag.loc["yaw", "slope"] > 0 and diag.loc["smile", "slope"] > 0


def test_rules_file_is_snakefmt_clean():
    snakefmt = Path(sys.executable).with_name("snakefmt")
    if not snakefmt.exists():
        pytest.skip("snakefmt not installed")
    proc = subprocess.run([str(snakefmt), "--check", "rules/semantics.smk"], cwd=REPO,
                          capture_output=True, text=True)  # fmt: skip
    assert proc.returncode == 0, proc.stderr


# ---------------------------------------------------------------- stages without Snakemake (fast)


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
    # Planted z attribute: the Z boundary recovers it, accuracies are high.
    cos = load_boundary(sem / "boundaries/z/a.npy") @ planted_direction(info["z_dim"], 1)
    assert cos > 0.9 and acc.loc[("z", "a"), "acc_val"] > 0.9
    cond = pd.read_csv(sem / "conditional.csv")
    assert (cond.cos_after.abs() < 1e-6).all() and set(cond.space) == {"z", "w"}
    for space in ("z", "w", "wp"):
        grids = [sem / "figures" / f"grid_{space}_{a}.png" for a in ("a", "b")]
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
    text = stages.stage_report(config, sem, sem / "report.md")
    assert "W+ layers 1..1" in text and "figures/disentanglement.png" in text


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

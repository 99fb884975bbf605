"""The monsters study's tables recomputed from raw rows in the test (not through the code under
test): yield curves with Wilson intervals (scipy), monster radii and their absolute lengths,
the report's percentages; and the detectability boundary's held-out accuracy, on a planted data
set where training on the validation rows (or scoring the training rows) inflates it."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binomtest

from ganatlas.studies.monsters.embedmap import identity_drift
from ganatlas.studies.monsters.radial import yield_curve
from ganatlas.studies.monsters.stages import fit_detectability, stage_radial_summary

RADII = [0.0, 0.5, 1.0, 1.5, 2.0]
K = 20  # directions
# detected directions per radius: 0 at the centre, 19 and 20 (faces), then 12, 3 (monsters)
HITS = {"w": [0, 19, 20, 12, 3], "z": [20, 18, 10, 4, 0]}


def radial_rows(space: str, unit: float, net: str = "net0") -> pd.DataFrame:
    """One row per (direction, radius) with HITS[space][r] of the K directions detected (the
    first ones), det_score 0.5 + 0.01 * direction where detected, an attribute column."""
    rows = []
    for ri, r in enumerate(RADII):
        for k in range(K):
            det = k < HITS[space][ri]
            rows.append({"net": net, "network": f"{net}-name", "space": space, "direction": k,
                         "radius_index": ri, "radius": r, "radius_abs": r * unit,
                         "unit_length": unit, "detected": det,
                         "det_score": 0.5 + 0.01 * k if det else np.nan,
                         "attr_smile": 0.1 * k if det else np.nan, "backend": "mtcnn"})  # fmt: skip
    return pd.DataFrame(rows)


def hand_first_below(yields: list[float], level: float) -> float:
    """The first radius with yield < level after the yield reached level (by hand)."""
    reached = False
    for r, y in zip(RADII, yields, strict=True):
        reached = reached or y >= level
        if reached and y < level:
            return r
    return float("inf") if reached else float("nan")


def test_yield_curve_recomputed_from_the_rows():
    rows = radial_rows("w", 2.0).sample(frac=1.0, random_state=0)  # row order must not matter
    c = yield_curve(rows).set_index("radius_index")
    for ri, k in enumerate(HITS["w"]):
        ci = binomtest(k, K).proportion_ci(confidence_level=0.95, method="wilson")
        assert c.loc[ri, "n"] == K and c.loc[ri, "detected"] == k
        assert c.loc[ri, "yield"] == pytest.approx(k / K)  # a share in [0, 1], not a percent
        assert c.loc[ri, "ci_low"] == pytest.approx(ci.low, abs=1e-12)
        assert c.loc[ri, "ci_high"] == pytest.approx(ci.high, abs=1e-12)
        assert c.loc[ri, "radius_abs"] == pytest.approx(RADII[ri] * 2.0)
        if k:  # medians over the detected images only
            assert c.loc[ri, "median_score"] == pytest.approx(np.median(0.5 + 0.01 * np.arange(k)))
            assert c.loc[ri, "attr_smile"] == pytest.approx(np.median(0.1 * np.arange(k)))
        else:
            assert np.isnan(c.loc[ri, "median_score"]) and np.isnan(c.loc[ri, "attr_smile"])


def test_radial_summary_tables_recomputed_from_the_rows(tmp_path):
    units = {"w": 3.0, "z": 7.5}
    paths = []
    for space, unit in units.items():
        path = tmp_path / f"net0_{space}.parquet"
        rows = radial_rows(space, unit)
        rows["z_scale_free"] = space == "z"
        rows.to_parquet(path)
        paths.append(path)
    p = {"bootstrap": 50, "seed": 0, "radius_unit": "p50"}
    radii = stage_radial_summary(paths, p, tmp_path).set_index("space")
    curves = pd.read_csv(tmp_path / "radial_curves.csv")
    on_disk = pd.read_csv(tmp_path / "monster_radii.csv").set_index("space")
    for space, unit in units.items():
        yields = [h / K for h in HITS[space]]
        cur = curves[curves["space"] == space].sort_values("radius")
        np.testing.assert_allclose(cur["yield"], yields)
        np.testing.assert_allclose(cur["radius_abs"], np.array(RADII) * unit)
        for level in ("r90", "r50"):
            want = hand_first_below(yields, {"r90": 0.9, "r50": 0.5}[level])
            assert radii.loc[space, level] == pytest.approx(want)
            assert on_disk.loc[space, level] == pytest.approx(want)
            # absolute length: radius in units x the unit's length (not divided, not squared)
            assert on_disk.loc[space, f"{level}_abs"] == pytest.approx(want * unit)
            assert on_disk.loc[space, f"{level}_lo"] <= want <= on_disk.loc[space, f"{level}_hi"]
        assert on_disk.loc[space, "directions"] == K
        assert on_disk.loc[space, "z_scale_free"] == (space == "z")
        assert on_disk.loc[space, "unit_length"] == unit


def test_report_percentages_recomputed_from_the_tables(tmp_path):
    from ganatlas.studies.monsters.report import stage_report

    path = tmp_path / "net0_w.parquet"
    radial_rows("w", 3.0).to_parquet(path)
    stage_radial_summary([path], {"bootstrap": 20, "seed": 0, "radius_unit": "p50"}, tmp_path)
    (tmp_path / "boundary").mkdir()
    bnd = {"n_samples": 100, "n_detected": 60, "acc_val": 0.8, "n_val": 30,
           "balanced_acc_val": 0.75, "acc_majority": 0.6,
           "strip": {"detected": [True, True, False], "frames": 3}}  # fmt: skip
    (tmp_path / "boundary" / "boundary.json").write_text(json.dumps(bnd))
    (tmp_path / "embedding_map.json").write_text(json.dumps(
        {"faces": 9, "walk_faces": 7, "radial_faces": 2, "embedder": "dlib", "method": "pca",
         "threshold": 0.6}))  # fmt: skip
    pd.DataFrame({"seed": [1, 2], "faces": [4, 3], "identities": [1, 2], "noise": [0, 1],
                  "largest_share": [1.0, 0.5]}).to_csv(tmp_path / "identities.csv", index=False)  # fmt: skip
    drift = pd.DataFrame({"seed": [1] * 4 + [2] * 3, "step": [0, 1, 2, 3, 0, 5, 9],
                          "drift": [0.0, 0.3, 0.7, 0.5, 0.0, 0.9, 1.2]})  # fmt: skip
    drift["same_identity"] = drift["drift"] <= 0.6
    drift.to_csv(tmp_path / "drift.csv", index=False)
    text = stage_report(tmp_path, [path], tmp_path / "report.md")
    # peak yield of HITS["w"]: 20 of 20 at radius 1
    assert "Peak yield: net0-name W 100% at radius 1." in text
    # faces within the threshold of the first: seed 1 3 of 4 = 75%, seed 2 1 of 3 = 33%
    assert "| 1 | 4 | 1 | 0 | 1.00 | 75% |" in text
    assert "| 2 | 3 | 2 | 1 | 0.50 | 33% |" in text
    assert "held-out accuracy 0.800 on 30 samples" in text
    assert "2 of 3 frames detected" in text


def test_identity_drift_is_the_distance_to_the_first_step_whatever_the_row_order():
    rng = np.random.default_rng(4)
    emb = rng.standard_normal((7, 5))
    walk = pd.DataFrame({"seed": [2, 1, 2, 1, 1, 2, 1], "step": [7, 3, 1, 0, 9, 4, 5]})
    d = identity_drift(walk, emb).set_index(["seed", "step"])["drift"]
    first = {1: 3, 2: 2}  # row of step 0 (seed 1) and of step 1 (seed 2)
    for i, (s, t) in enumerate(zip(walk["seed"], walk["step"], strict=True)):
        assert d.loc[(s, t)] == pytest.approx(np.linalg.norm(emb[i] - emb[first[s]]))
    assert list(d.index) == sorted(d.index)


def test_held_out_accuracy_is_measured_on_rows_the_svm_never_saw():
    """Random labels in more dimensions than training rows: the SVM fits its training rows
    perfectly and is at chance on held-out rows. Fitting on train + validation, or scoring the
    training rows, would report ~1.0."""
    from ganatlas.studies.semantics.boundary import split_indices

    rng = np.random.default_rng(0)
    n, dim = 200, 400
    x = rng.standard_normal((n, dim))
    y = (rng.random(n) < 0.5).astype(int)
    res = fit_detectability(x, y, 0.3, seed=5, c=10.0)
    assert res["n_train"] + res["n_val"] == n and res["n_val"] == 60
    assert res["acc_train"] == 1.0
    assert res["acc_val"] < 0.7, res  # chance, not memorised
    # every held-out number recomputed from the saved normal and intercept on the held-out rows
    _, va = split_indices(n, 0.3, 5)
    pred = (x[va] @ res["normal"] + res["intercept"] > 0).astype(int)
    assert res["acc_val"] == pytest.approx(np.mean(pred == y[va]))
    recall = [np.mean(pred[y[va] == k] == k) for k in (0, 1)]
    assert res["balanced_acc_val"] == pytest.approx(np.mean(recall))
    share = y[va].mean()
    assert res["acc_majority"] == pytest.approx(max(share, 1 - share))
    # a planted direction makes the same held-out rows predictable: the test can tell
    x2 = x.copy()
    x2[:, 0] *= 20.0
    y2 = (x2[:, 0] > 0).astype(int)
    assert fit_detectability(x2, y2, 0.3, seed=5, c=10.0)["acc_val"] > res["acc_val"] + 0.25


@pytest.mark.parametrize("space", ["w", "z"])
def test_radial_stage_radii_in_units_and_bgr_scoring(space, tmp_path, monkeypatch):
    """stage_radial on the tiny network with a spy detector: radius_abs = radius x the p50 of the
    sample distances (recomputed here from the npz / the seeded z), every latent at that distance
    from the centre, and the detector given BGR images of the rendered RGB."""
    import torch

    import ganatlas.studies.monsters.scoring as ms
    from ganatlas.latent import sample_z
    from ganatlas.networks import load_network
    from ganatlas.networks.resolve import describe_network
    from ganatlas.render import synthesize
    from ganatlas.studies.monsters.stages import stage_radial

    class Spy:
        name, model_names, det_size = "spy", "spy", 64

        def __init__(self):
            self.seen = []

        def analyze(self, img_bgr):
            from ganatlas.faces.types import Face

            self.seen.append(np.array(img_bgr))
            return [Face(np.array([0, 0, 8, 8], np.float32), 0.7, embedding=np.ones(3))]

    spy = Spy()
    monkeypatch.setattr(ms, "build_scoring", lambda *a: (spy, [], "arcface", None))
    info = tmp_path / "network.json"
    info.write_text(json.dumps(describe_network("tiny-random")))
    g = load_network("tiny-random")
    rng = np.random.default_rng(0)
    w_avg, dists = rng.standard_normal(g.w_dim), rng.uniform(1.0, 9.0, 101)
    np.savez(tmp_path / "w_avg.npz", w_avg=w_avg, distances=dists)
    p = {"directions": 3, "seed": 1, "radii": [0.0, 0.5, 2.0], "radius_unit": "p50",
         "batch_size": 4, "scorers": [], "detector": {}, "embedder": "auto",
         "w_avg": {"samples": 64, "seed": 2, "batch_size": 64}}  # fmt: skip
    out = tmp_path / "r.parquet"
    df = stage_radial(info, tmp_path / "w_avg.npz" if space == "w" else None, p, "net0", space,
                      out)  # fmt: skip
    if space == "w":
        unit, centre, lat = np.median(dists), w_avg, np.stack(pd.read_parquet(out)["w"])
    else:
        z = sample_z(64, g.z_dim, 2).double().numpy()
        unit, centre = np.median(np.linalg.norm(z, axis=1)), np.zeros(g.z_dim)
        lat = np.stack(pd.read_parquet(out)["z"])
    assert len(df) == 9 and df["unit_length"].eq(df["unit_length"].iloc[0]).all()
    # the tiny network's mapping normalises z (as StyleGAN's): its Z rows are flagged
    assert pd.read_parquet(out)["z_scale_free"].eq(space == "z").all()
    assert df["unit_length"].iloc[0] == pytest.approx(unit)
    np.testing.assert_allclose(df["radius_abs"], df["radius"] * unit, rtol=1e-9)
    np.testing.assert_allclose(np.linalg.norm(lat - centre, axis=1), df["radius_abs"], rtol=1e-4,
                               atol=1e-4)  # fmt: skip
    # images handed over as BGR of what the network renders (rows 0, 1: radius 0, then the
    # first direction's 0.5); in W 7 distinct images (radius 0 once). (In Z a StyleGAN mapping
    # normalises z, so radii > 0 along one direction give one w: not counted here.)
    if space == "w":
        assert len(spy.seen) == 7
    ws = np.stack(pd.read_parquet(out)["w"])[[0, 1]]
    with torch.no_grad():
        rgb = synthesize(g, ws.astype(np.float32))
    for got, want in zip(spy.seen[:2], rgb, strict=True):
        np.testing.assert_array_equal(got, want[:, :, ::-1])


def test_embedding_map_tables_recomputed_from_the_rows(tmp_path):
    """stage_embedding_map with the detector's own (ArcFace) embeddings stored in the rows: drift
    is the Euclidean distance to each walk's first face, same_identity compares it with the
    ArcFace threshold (cosine similarity 0.3 on unit vectors), radial rows keep their distance in
    latent units (radius_abs) and undetected rows are left out."""
    from ganatlas.studies.monsters.identity import THRESHOLDS
    from ganatlas.studies.monsters.stages import stage_embedding_map

    rng = np.random.default_rng(3)

    def unit(n):
        v = rng.standard_normal((n, 512))
        return v / np.linalg.norm(v, axis=1, keepdims=True)

    base = unit(1)[0]
    scale = np.array([0.2, 10.0, 0.2, 10.0, 0.2])[:, None]
    emb = [base] + list(unit(5) * scale + base)  # some near the walk's first face, some far
    emb = [e / np.linalg.norm(e) for e in emb]
    walk = pd.DataFrame({
        "seed": [1, 1, 1, 2, 2, 2, 1], "step": [2, 0, 1, 0, 1, 2, 3],
        "distance": [0.2, 0.0, 0.1, 0.0, 0.1, 0.2, 0.3],
        "score": [0.8, 0.9, 0.85, 0.7, 0.6, 0.5, 0.0],
        "detected": [True] * 6 + [False], "backend": "insightface",
        "embedding": [e.astype(np.float32) for e in emb] + [None],
        "filename": [f"f{i}.png" for i in range(7)],
    })  # fmt: skip
    walk.to_parquet(tmp_path / "detections.parquet")
    rad = radial_rows("w", 2.0).iloc[[K, 2 * K + 1, 3 * K + 2, 4 * K + 3]].reset_index(drop=True)
    assert rad["radius"].tolist() == [0.5, 1.0, 1.5, 2.0]  # radius_abs = 2 x radius
    rad["detected"] = [True, True, False, True]
    rad["embedder"] = "arcface"
    rad["embedding"] = [u.astype(np.float32) for u in unit(4)]
    rad.to_parquet(tmp_path / "net0_w.parquet")
    p = {"map": {"method": "pca", "max_points": 100, "embedder": "auto", "min_cluster_size": 2},
         "seed": 0}  # fmt: skip
    table = stage_embedding_map(tmp_path / "detections.parquet", tmp_path, [tmp_path / "net0_w.parquet"],
                                p, tmp_path)  # fmt: skip
    assert table["source"].tolist() == ["walk"] * 6 + ["radial_w"] * 3
    np.testing.assert_allclose(table["distance"][6:], rad["radius_abs"][rad["detected"]])
    drift = pd.read_csv(tmp_path / "drift.csv")
    thr = THRESHOLDS["arcface"]
    # two unit vectors with cosine similarity 0.3 are this far apart
    a, b = np.array([1.0, 0.0]), np.array([0.3, np.sqrt(1 - 0.09)])
    assert thr == pytest.approx(np.linalg.norm(a - b))
    first = {1: emb[1], 2: emb[3]}  # step 0 of each walk
    for r in drift.itertuples():
        i = walk.index[(walk["seed"] == r.seed) & (walk["step"] == r.step)][0]
        want = np.linalg.norm(emb[i].astype(np.float32) - first[r.seed].astype(np.float32))
        assert r.drift == pytest.approx(want, abs=1e-5)
        assert r.same_identity == (want <= thr)
    assert drift["same_identity"].any() and not drift["same_identity"].all()
    meta = json.loads((tmp_path / "embedding_map.json").read_text())
    assert meta["embedder"] == "arcface" and meta["walk_faces"] == 6 and meta["radial_faces"] == 3


def test_z_scale_free_tells_a_normalising_mapping_from_an_identity_one():
    import torch

    from ganatlas.networks import load_network
    from ganatlas.studies.monsters.report import scale_free_lines
    from ganatlas.studies.monsters.scoring import z_scale_free

    class IdentityMapping(torch.nn.Module):  # the DCGAN's: w = z
        z_dim = w_dim = 8
        c_dim = 0

        def mapping(self, z, c=None):
            return z[:, None, :]

    assert z_scale_free(load_network("tiny-random")) is True
    assert z_scale_free(IdentityMapping()) is False
    radii = pd.DataFrame({"network": ["sg", "sg", "dcgan", "dcgan"],
                          "z_scale_free": [False, True, False, False]})  # fmt: skip
    (line, _) = scale_free_lines(radii)
    assert line.startswith("**Z rows of sg are not distances.**")
    assert scale_free_lines(radii.iloc[[0, 2, 3]]) == []
    assert scale_free_lines(radii.drop(columns="z_scale_free")) == []  # tables of older runs

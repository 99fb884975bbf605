"""stage_iterate's keyface table recomputed from its own stored embeddings and latents (no dlib:
a stub embedder whose vector is the image's mean colour per quadrant, BGR as embedders get
it), on the tiny StyleGAN-shaped network."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from ganatlas.studies.identity.embed import IdentityEmbedder


class QuadrantEmbedder:
    """``embed_one(img_bgr) -> [12]``: mean B, G, R of each image quadrant (0..255)."""

    name, distance, threshold, dim, model_names = "stub", "euclidean", 0.6, 12, "stub"

    def embed_one(self, img_bgr, box):
        h, w = img_bgr.shape[0] // 2, img_bgr.shape[1] // 2
        q = [img_bgr[:h, :w], img_bgr[:h, w:], img_bgr[h:, :w], img_bgr[h:, w:]]
        return np.concatenate([p.reshape(-1, 3).mean(0) for p in q]).astype(np.float32)


def test_keyface_table_recomputed_from_the_stored_embeddings(tmp_path, monkeypatch):
    pytest.importorskip("imageio_ffmpeg")
    import ganatlas.studies.identity.stages as st
    from ganatlas.networks.resolve import describe_network
    from ganatlas.studies.identity.settings import identity_config

    info = tmp_path / "network.json"
    info.write_text(json.dumps(describe_network("tiny-random")))
    emb = IdentityEmbedder("stub", "euclidean", 30.0, QuadrantEmbedder(), {})
    monkeypatch.setattr(st, "make_embedder", lambda p, log=None: emb)
    p = identity_config({"identity": {"iterate": {"keyfaces": 5, "frames": 1, "fps": 4}}})
    names = ["csv", "npz", "json", "gallery", "distances", "mp4"]
    files = ["k.csv", "k.npz", "r.json", "k.png", "d.png", "i.mp4"]
    out = {k: str(tmp_path / f) for k, f in zip(names, files, strict=True)}
    summary = st.stage_iterate(info, p, out)
    table = pd.read_csv(out["csv"])
    with np.load(out["npz"]) as f:
        z, E = f["z"], f["embeddings"].astype(np.float64)
    assert table["keyface"].tolist() == list(range(5)) and table["face"].all()
    dist = [np.linalg.norm(E[i] - E[i - 1]) for i in range(1, 5)]
    assert np.isnan(table["distance_to_previous"][0])
    np.testing.assert_allclose(table["distance_to_previous"][1:], dist, rtol=1e-6)
    np.testing.assert_allclose(
        table["distance_to_start"], [np.linalg.norm(e - E[0]) for e in E], rtol=1e-6
    )
    # the normalise map: keyface i + 1 is embedding i scaled to norm sqrt(z_dim), zero-padded
    z_dim = z.shape[1]
    for i in range(4):
        want = np.zeros(z_dim)
        want[: min(12, z_dim)] = E[i][:z_dim]
        want *= np.sqrt(z_dim) / np.linalg.norm(want)
        np.testing.assert_allclose(z[i + 1], want, rtol=1e-5, atol=1e-6)
    assert summary["threshold"] == 30.0 and summary["tolerance"] == 30.0  # tolerance: threshold
    assert json.loads((tmp_path / "r.json").read_text())["no_face"] == 0


def test_search_result_recomputed_from_its_record(tmp_path, monkeypatch):
    """stage_search (cma, stub embedder, tiny network): best distance and evaluation, success and
    evaluations to threshold recomputed from the record; a second search with a threshold that
    an evaluation of the first passes stops at that evaluation and counts it (1-based)."""
    import ganatlas.studies.identity.stages as st
    from ganatlas.networks.resolve import describe_network
    from ganatlas.studies.identity.record import read_record
    from ganatlas.studies.identity.settings import identity_config

    info = tmp_path / "network.json"
    info.write_text(json.dumps(describe_network("tiny-random")))
    target = tmp_path / "t.npz"
    np.savez(target, embedding=np.full(12, 128.0))
    thr = {"value": 1e-9}

    def make(p, log=None):
        return IdentityEmbedder("stub", "euclidean", thr["value"], QuadrantEmbedder(), {})

    monkeypatch.setattr(st, "make_embedder", make)
    search = {"budget": 12, "cma": {"dim": 3, "pca_samples": 64, "restarts": 0}}
    p = identity_config({"identity": {"search": search}})

    def run(name):
        res = st.stage_search(info, p, "cma", target, tmp_path / f"{name}.jsonl",
                              tmp_path / f"{name}.json", tmp_path / f"{name}.npz")  # fmt: skip
        return res, [r["distance"] for r in read_record(tmp_path / f"{name}.jsonl")[1]]

    res, d = run("a")
    assert res["evaluations"] == len(d) == 12 and res["reason"] == "budget"
    assert res["best_distance"] == min(d) and res["best_evaluation"] == int(np.argmin(d)) + 1
    assert res["success"] is False and res["evaluations_to_threshold"] is None
    assert res["no_face"] == 0
    # the saved best latent renders the face at the best distance
    from ganatlas.networks import load_network
    from ganatlas.studies.identity.objective import render_rgb

    g = load_network("tiny-random")
    img = render_rgb(g, torch.from_numpy(np.load(tmp_path / "a.npz")["w"]))
    vec = QuadrantEmbedder().embed_one(np.ascontiguousarray(img[:, :, ::-1]), None)
    assert np.linalg.norm(vec - 128.0) == pytest.approx(min(d), rel=1e-4)
    # a threshold between the best and the second best: hit at the best's evaluation
    k = int(np.argmin(d))
    thr["value"] = (min(d) + min(x for i, x in enumerate(d) if i != k and x > min(d))) / 2
    if any(x < thr["value"] for x in d[:k]):
        pytest.skip("the planted threshold is passed before the best evaluation")
    res2, d2 = run("b")
    assert d2 == d[: k + 1] and res2["reason"] == "threshold"
    assert res2["success"] is True and res2["evaluations_to_threshold"] == k + 1

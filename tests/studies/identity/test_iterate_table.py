"""stage_iterate's keyface table recomputed from its own stored embeddings and latents (no dlib:
a stub embedder whose vector is the image's mean colour per quadrant, BGR as embedders get
it), on the tiny StyleGAN-shaped network."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

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

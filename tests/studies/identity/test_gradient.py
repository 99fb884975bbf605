"""The gradient search's differentiable path: DCGAN -> FaceNet (random weights, built in the
test) -> cosine distance; its gradient against finite differences, and Adam lowering it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ganatlas.studies.identity.embed import build_embedder
from ganatlas.studies.identity.objective import make_grad_objective, pca_subspace
from ganatlas.studies.identity.record import Evaluator, Record
from ganatlas.studies.identity.search import gradient_search
from ganatlas.studies.identity.stages import point_latent


@pytest.fixture(scope="module")
def setup():
    from ganatlas.networks import load_network

    try:
        g = load_network("digiface-dcgan")
    except ImportError as exc:
        pytest.skip(f"embedded DCGAN weights not installed: {exc}")
    torch.manual_seed(0)
    emb = build_embedder({"name": "facenet", "random_init": True}, 160, 640)
    sub = pca_subspace(g, 2, 100, 0)
    sub.mean = point_latent(g, "s", "seed:1", "t")[1][0, 0].double().numpy()
    with torch.no_grad():
        target = emb.torch_module(g.synthesis(point_latent(g, "t", "seed:4", "t")[1]))[0]
    obj = make_grad_objective(g, sub, emb.torch_module, target.numpy(), emb.kind)
    return emb, obj


@pytest.mark.slow
def test_gradient_matches_finite_differences(setup):
    emb, obj = setup
    assert emb.torch_module is not None and emb.kind == "cosine" and emb.skip_reason == ""
    x = np.array([0.3, -0.2])
    d, lat, _, grad = obj(x)
    assert 0 < d < 2 and lat.shape == (100,)
    h = 0.05
    fd = [(obj(x + h * e)[0] - obj(x - h * e)[0]) / (2 * h) for e in np.eye(2)]
    np.testing.assert_allclose(grad, fd, rtol=0.05, atol=1e-4)


@pytest.mark.slow
def test_adam_lowers_the_distance(setup, tmp_path):
    _, obj = setup
    with Record(tmp_path / "r.jsonl", {}) as rec:
        res = gradient_search(Evaluator(obj, rec, 12, None), 2, lr=0.3)
        d = [r["distance"] for r in rec.rows]
    assert res.evaluations == 12 and res.reason == "budget"
    assert res.best_distance < d[0] - 1e-4

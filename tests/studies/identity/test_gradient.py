"""The gradient search's differentiable path: DCGAN -> a differentiable embedder -> distance.

The chain (PCA coordinates -> w -> image -> embedding -> distance) is checked against finite
differences with a planted linear embedder (distances of order 1; a random-weight FaceNet maps
every face to nearly the same unit vector, so its distances are ~1e-3 and float32 noise swamps
finite differences); the FaceNet wiring (``embedder.name: facenet``) is checked for a
differentiable [1, 512] output."""

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
def planted(dcgan):
    """A planted embedder: a fixed random projection of the 16x16 average-pooled image."""
    g = dcgan
    proj = torch.from_numpy(np.random.default_rng(3).standard_normal((16, 3 * 16 * 16)) / 30)

    def module(img):
        return (torch.nn.functional.avg_pool2d(img, 4).reshape(1, -1).double() @ proj.T).float()

    sub = pca_subspace(g, 2, 100, 0)
    sub.mean = point_latent(g, "s", "seed:1", "t")[1][0, 0].double().numpy()
    with torch.no_grad():
        target = module(g.synthesis(point_latent(g, "t", "seed:4", "t")[1]))[0].numpy()
    return make_grad_objective(g, sub, module, target, "euclidean")


def test_gradient_matches_finite_differences(planted):
    x = np.array([0.3, -0.2])
    d, lat, _, grad = planted(x)
    assert 0.1 < d < 10 and lat.shape == (100,)
    h = 1e-2
    fd = [(planted(x + h * e)[0] - planted(x - h * e)[0]) / (2 * h) for e in np.eye(2)]
    np.testing.assert_allclose(grad, fd, rtol=0.02, atol=1e-3 * np.abs(grad).max())


def test_adam_lowers_the_distance(planted, tmp_path):
    with Record(tmp_path / "r.jsonl", {}) as rec:
        res = gradient_search(Evaluator(planted, rec, 12, None), 2, lr=0.3)
        d = [r["distance"] for r in rec.rows]
    assert res.evaluations == 12 and res.reason == "budget"
    assert res.best_distance < 0.9 * d[0]


@pytest.mark.slow
def test_facenet_gives_a_differentiable_embedder(dcgan):
    torch.manual_seed(0)
    emb = build_embedder({"name": "facenet", "random_init": True}, 160, 640)
    assert emb.kind == "cosine" and emb.skip_reason == ""
    with torch.no_grad():
        img = dcgan.synthesis(point_latent(dcgan, "t", "seed:1", "t")[1])
    img.requires_grad_(True)
    out = emb.torch_module(img)
    assert out.shape == (1, 512)
    out.sum().backward()
    assert img.grad is not None and float(img.grad.abs().sum()) > 0

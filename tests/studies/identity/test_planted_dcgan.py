"""Planted-target recovery on the embedded DCGAN: the target is the face of a known latent inside
the searched subspace; dual_annealing and cma must each reach the threshold within a stated
budget in at least 4 of 5 seeds.

The embedder here is planted and fast (a fixed random projection of the 16x16 grey image, unit
norm, Euclidean distance; random DCGAN faces are about 1.0-1.4 apart), so the test measures the
search, not a recogniser. Subspace: 4 dimensions (Z dims 0-3 for dual_annealing, the top 4 PCA
directions of W for cma), target coordinates uniform in [-2, 2], threshold 0.1.

Measured when written (evaluations to the threshold, seeds 0-4; 2-core CPU, ~45 ms each):
dual_annealing 208, 36, 523, 552, 368 (5 of 5 within 600); cma 165, 257, 145, (budget), 145
(4 of 5 within 300).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ganatlas.studies.identity.embed import vector_distance
from ganatlas.studies.identity.objective import (
    ZSubspace,
    make_objective,
    pca_subspace,
    render_rgb,
)
from ganatlas.studies.identity.record import Evaluator, Record
from ganatlas.studies.identity.search import cma_search, dual_annealing_search

K, THRESHOLD = 4, 0.1
BUDGETS = {"dual_annealing": 600, "cma": 300}
PROJ = np.random.default_rng(123).standard_normal((32, 256))


def euclidean(a: np.ndarray, b: np.ndarray) -> float:
    return vector_distance(a, b, "euclidean")


def pixel_embed(rgb: np.ndarray):
    grey = rgb.astype(np.float64).mean(-1).reshape(16, 4, 16, 4).mean((1, 3)).reshape(-1)
    v = PROJ @ (grey - grey.mean())
    return v / np.linalg.norm(v), 1


@pytest.mark.slow
@pytest.mark.parametrize("method", ["dual_annealing", "cma"])
def test_planted_target_is_recovered(dcgan, method, tmp_path):
    torch.set_num_threads(1)
    g = dcgan
    pca = pca_subspace(g, K, 2000, 0)
    hits = []
    for seed in range(5):
        sub = ZSubspace(list(range(K)), g.z_dim) if method == "dual_annealing" else pca
        x_true = np.random.default_rng(100 + seed).uniform(-2, 2, K)
        target, _ = pixel_embed(render_rgb(g, sub.ws(g, sub.latent(x_true))))
        obj = make_objective(g, sub, pixel_embed, target, euclidean, 2.0)
        with Record(tmp_path / f"{seed}.jsonl", {"seed": seed}) as rec:
            ev = Evaluator(obj, rec, BUDGETS[method], THRESHOLD)
            if method == "dual_annealing":
                res = dual_annealing_search(ev, K, (-3, 3), seed)
            else:
                res = cma_search(ev, K, 0.5, 3, None, seed)
        assert res.evaluations <= BUDGETS[method]
        if res.reason == "threshold":
            assert res.best_distance < THRESHOLD
            hits.append((seed, res.evaluations))
    print(f"{method}: reached {THRESHOLD} in {hits}")
    assert len(hits) >= 4, f"{method} reached the threshold in only {hits} of 5 seeds"

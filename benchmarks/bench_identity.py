"""Identity search throughput and convergence on the embedded DCGAN with the dlib embedder.

    .venv/bin/python benchmarks/bench_identity.py [--seeds 3] [--budget 400] [--k 6]
        [--methods dual_annealing cma] [--targets planted|faces] [--device cpu]

For each method and seed: a planted target (the face of a known latent inside the searched
subspace: k Z dimensions uniform in [-2, 2] for dual_annealing, k PCA coordinates of W in
[-4, 4] std (the cma box) around seed 0's face for cma and gradient), or with ``--targets
faces`` another random face (not inside the subspace); a search that stops at dlib distance 0.5
or the budget; from its record the evaluations (render + dlib detect/crop + embed) per second
and the evaluations needed to reach 0.6 and 0.5. ``gradient`` needs the FaceNet embedder
(weights from a file; see docs/identity.md) and is only run with ``--facenet-weights``.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import torch


def run(
    method: str, seed: int, budget: int, k: int, device: str, facenet: str | None, targets: str
) -> dict:
    from ganatlas.networks import load_network
    from ganatlas.studies.identity.embed import build_embedder, embed_rgb
    from ganatlas.studies.identity.objective import (
        ZSubspace,
        make_grad_objective,
        make_objective,
        pca_subspace,
        render_rgb,
    )
    from ganatlas.studies.identity.record import Evaluator, Record
    from ganatlas.studies.identity.search import cma_search, dual_annealing_search, gradient_search
    from ganatlas.studies.identity.stages import point_latent

    g = load_network("digiface-dcgan", device=device)
    cfg = {"name": "facenet", "weights": facenet} if facenet else {"name": "dlib"}
    emb = build_embedder(cfg, 160, 640)
    sub = ZSubspace(list(range(k)), g.z_dim) if method == "dual_annealing" else None
    if sub is None:  # centred on seed 0's face (cma.start: seed:0): the DCGAN's mean is no face
        sub = pca_subspace(g, k, 2000, 0, device)
        sub.mean = point_latent(g, "s", "seed:0", "bench", device)[1][0, 0].double().cpu().numpy()
    rng = np.random.default_rng(1000 + seed)
    target, j = None, 0
    while target is None:  # a target the detector finds a face in
        if targets == "planted":
            x = rng.uniform(-2, 2, k) if method == "dual_annealing" else rng.uniform(-4, 4, k)
            ws = sub.ws(g, sub.latent(x), device)
        else:  # another random face (RandomState seed 100 + 10 * seed + j), outside the subspace
            ws = point_latent(g, "t", f"seed:{100 + 10 * seed + j}", "bench", device)[1]
            j += 1
        target, _ = embed_rgb(render_rgb(g, ws), emb)
    if method == "gradient":
        obj = make_grad_objective(g, sub, emb.torch_module, target, emb.kind, device)
    else:
        obj = make_objective(g, sub, lambda im: embed_rgb(im, emb), target, emb.distance, 2.0,
                             device)  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp, Record(Path(tmp) / "r.jsonl", {}) as rec:
        ev = Evaluator(obj, rec, budget, 0.5)
        if method == "dual_annealing":
            dual_annealing_search(ev, k, (-3, 3), seed)
        elif method == "cma":
            cma_search(ev, k, 0.5, 3, None, seed)
        else:
            gradient_search(ev, k, 0.05)
        rows = rec.rows
    d = np.array([r["distance"] for r in rows])

    def first(thr: float):
        hit = np.flatnonzero(d < thr)
        return int(hit[0]) + 1 if len(hit) else None

    return {"method": method, "seed": seed, "evals": len(rows),
            "evals_per_s": len(rows) / rows[-1]["elapsed"], "to_0.6": first(0.6),
            "to_0.5": first(0.5), "best": float(d.min())}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--budget", type=int, default=400)
    ap.add_argument("--k", type=int, default=6)
    ap.add_argument("--methods", nargs="+", default=["dual_annealing", "cma"])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--facenet-weights", default=None)
    ap.add_argument("--targets", choices=["planted", "faces"], default="planted")
    args = ap.parse_args()
    torch.set_num_threads(1)
    for method in args.methods:
        for seed in range(args.seeds):
            r = run(method, seed, args.budget, args.k, args.device, args.facenet_weights,
                    args.targets)  # fmt: skip
            print(f"{r['method']:15s} seed {r['seed']}: {r['evals']:4d} evals, "
                  f"{r['evals_per_s']:.1f} evals/s, to 0.6: {r['to_0.6']}, to 0.5: {r['to_0.5']}, "
                  f"best {r['best']:.3f}", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()

"""Semantics throughput: sample+render+score (samples/s) on the embedded default, and the SVM
training time of one boundary on 20,000 x 512 latents.

    .venv/bin/python benchmarks/bench_semantics.py [--samples 500] [--svm-n 20000] [--svm-dim 512]
        [--scorers planted|default] [--device cpu|cuda]

The render+score number uses the embedded DCGAN and SCRFD 500m at det_size 320 from
../shared/testdata (else the config's auto detector); ``--scorers default`` adds the semantics
default attribute scorers (ganatlas.attributes: pose, smile) to detection. The SVM numbers:
``train_boundary`` (top/bottom K = N/2 each, i.e. all N selected, 70/30 split: fit on 70%) and a
plain LinearSVC fit on all N rows; then one boundary per protocol (ganatlas: LinearSVC;
interfacegan: per-class split, SVC(kernel='linear')) at the same K (2 % and 10 % of N).
``--svm-only`` skips the rendering benchmark.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
SCRFD = REPO.parent / "shared" / "testdata" / "models" / "scrfd_500m.onnx"


def bench_sampling(samples: int, scorers: str, device: str) -> dict:
    from ganatlas.faces.backends import onnx_providers
    from ganatlas.networks import load_network
    from ganatlas.studies.semantics.sampling import sample_shard
    from ganatlas.studies.semantics.scoring import build_setup
    from ganatlas.studies.semantics.settings import DEFAULTS

    g = load_network("digiface-dcgan", device=device)
    det = (
        {"backend": "insightface", "det_model": str(SCRFD), "det_size": 320}
        if SCRFD.is_file()
        else {"backend": "auto", "det_size": 320}
    )
    cfgs = [{"type": "planted", "name": "lin", "space": "z"}]
    if scorers == "default":
        cfgs = cfgs + list(DEFAULTS["scorers"])
    setup = build_setup(cfgs, det, onnx_providers("auto", device))
    sample_shard(g, setup, 64, 64, 0, 0, device)  # warm-up (sessions, allocator)
    t = time.perf_counter()
    table = sample_shard(g, setup, samples, samples, 1, 0, device, batch_size=32)
    dt = time.perf_counter() - t
    det_rate = float(np.mean(table.column("detected").to_numpy(zero_copy_only=False)))
    return {"samples": samples, "seconds": dt, "samples_per_s": samples / dt, "detected": det_rate}


def bench_svm(n: int, dim: int) -> dict:
    from ganatlas.studies.semantics.boundary import fit_linear_svm, train_boundary

    rng = np.random.default_rng(0)
    truth = rng.standard_normal(dim)
    truth /= np.linalg.norm(truth)
    z = rng.standard_normal((n, dim)).astype(np.float32)
    scores = z @ truth + 0.3 * rng.standard_normal(n)
    t = time.perf_counter()
    res = train_boundary(z, scores, fraction=0.5)
    t_boundary = time.perf_counter() - t
    t = time.perf_counter()
    fit_linear_svm(z.astype(np.float64), (scores > np.median(scores)).astype(int))
    t_plain = time.perf_counter() - t
    cos = float(res.normal.reshape(-1) @ truth)
    return {"n": n, "dim": dim, "train_boundary_s": t_boundary, "linearsvc_all_s": t_plain,
            "cos_truth": cos, "acc_val": res.acc_val}  # fmt: skip


def bench_protocols(n: int, dim: int, fractions: tuple[float, ...] = (0.02, 0.1)) -> list[dict]:
    """Seconds of one ``train_boundary`` per protocol and K, on the same planted latents."""
    from ganatlas.studies.semantics.boundary import train_boundary

    rng = np.random.default_rng(1)
    truth = rng.standard_normal(dim)
    truth /= np.linalg.norm(truth)
    z = rng.standard_normal((n, dim))
    scores = z @ truth + 0.3 * rng.standard_normal(n)
    out = []
    for frac in fractions:
        for proto in ("ganatlas", "interfacegan"):
            t = time.perf_counter()
            res = train_boundary(z, scores, fraction=frac, protocol=proto)
            out.append({"fraction": frac, "k": res.k, "protocol": proto, "solver": res.solver,
                        "seconds": time.perf_counter() - t, "acc_val": res.acc_val,
                        "cos_truth": float(res.normal.reshape(-1) @ truth)})  # fmt: skip
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--samples", type=int, default=500)
    ap.add_argument("--svm-n", type=int, default=20000)
    ap.add_argument("--svm-dim", type=int, default=512)
    ap.add_argument("--scorers", choices=("planted", "default"), default="default")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    ap.add_argument("--svm-only", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if not args.svm_only:
        s = bench_sampling(args.samples, args.scorers, args.device)
        print(
            f"sample+render+score ({args.scorers} scorers, {args.device}, {args.threads} "
            f"threads): {s['samples']} samples in {s['seconds']:.2f} s = "
            f"{s['samples_per_s']:.1f} samples/s (detected {s['detected']:.0%})"
        )
    for r in bench_protocols(args.svm_n, args.svm_dim):
        print(
            f"protocol {r['protocol']} ({r['solver']}), K={r['k']} per side: {r['seconds']:.2f} s "
            f"(val acc {r['acc_val']:.3f}, cos to truth {r['cos_truth']:.4f})"
        )
    v = bench_svm(args.svm_n, args.svm_dim)
    print(
        f"SVM {v['n']} x {v['dim']}: train_boundary (K={v['n'] // 2}, fit on 70%) "
        f"{v['train_boundary_s']:.2f} s (cos to truth {v['cos_truth']:.4f}, val acc "
        f"{v['acc_val']:.3f}); LinearSVC on all {v['n']} rows {v['linearsvc_all_s']:.2f} s"
    )


if __name__ == "__main__":
    main()

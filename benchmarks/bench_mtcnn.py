"""MTCNN (the download-free default detector) next to SCRFD-500M and dlib on DCGAN faces.

    .venv/bin/python benchmarks/bench_mtcnn.py [--faces 300] [--seeds 0] [--steps 1000]

1. Throughput per core (torch and onnxruntime on one thread; images per CPU-second of this
   process, so other load on the machine counts less than in wall time) and yield on ``--faces``
   64 px faces of the embedded DCGAN from random latents: MTCNN at det_size 64, 160 and 320,
   SCRFD-500M at 320 (../shared/testdata/models/scrfd_500m.onnx) and dlib HOG at 320.
2. Default-run images: the walk study's stages with the default config (w_avg, one walk per
   seed of ``--seeds``, ``--steps`` images each, rendered to PNG in a temporary folder). Per seed:
   the yield (images with a face) of MTCNN at the network's det_size (320) and at 64, of SCRFD at
   320 and of dlib, and how MTCNN agrees with SCRFD on the same images (both / only one / neither,
   IoU of the best boxes, landmark distance over the SCRFD box width); also for MTCNN with
   facenet-pytorch's stretched crops at the image border (``border="stretch"``).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
SCRFD = REPO.parent / "shared" / "testdata" / "models" / "scrfd_500m.onnx"


def backends(det_sizes: tuple[int, ...] = (64, 160, 320), stretch: bool = False) -> dict:
    """name -> backend, every one on one thread (stretch: also MTCNN with facenet-pytorch's
    stretched border crops at 320)."""
    from ganatlas.faces.backends import make_backend
    from ganatlas.faces.mtcnn import MTCNNBackend

    out = {f"mtcnn@{s}": make_backend({"backend": "mtcnn", "det_size": s}) for s in det_sizes}
    if stretch:
        out["mtcnn-stretch@320"] = MTCNNBackend(det_size=320, border="stretch")
    if SCRFD.is_file():
        cfg = {"backend": "insightface", "det_model": str(SCRFD), "det_size": 320}
        out["scrfd500m@320"] = make_backend(cfg, providers=["CPUExecutionProvider"], threads=1)
    else:
        print(f"SCRFD skipped: {SCRFD} not found", file=sys.stderr)
    out["dlib-hog@320"] = make_backend({"backend": "dlib", "det_size": 320})
    return out


def run(backend, images: list[np.ndarray]) -> tuple[list, float, float]:
    """(best face or None per image, CPU seconds, wall seconds)."""
    backend.analyze(images[0])  # warm-up
    cpu, wall = time.process_time(), time.perf_counter()
    best = []
    for img in images:
        faces = backend.analyze(img)
        best.append(faces[0] if faces else None)
    return best, time.process_time() - cpu, time.perf_counter() - wall


def iou(a: np.ndarray, b: np.ndarray) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def agreement(ours: list, ref: list) -> str:
    """Both / only ours / only ref / neither, and the box IoU and landmark error where both."""
    both = [(a, b) for a, b in zip(ours, ref, strict=True) if a is not None and b is not None]
    only_ours = sum(a is not None and b is None for a, b in zip(ours, ref, strict=True))
    only_ref = sum(a is None and b is not None for a, b in zip(ours, ref, strict=True))
    neither = len(ours) - len(both) - only_ours - only_ref
    agree = (len(both) + neither) / len(ours)
    text = (
        f"agree {agree:.1%} (both {len(both)}, only mtcnn {only_ours}, only scrfd {only_ref}, "
        f"neither {neither})"
    )
    if both:
        ious = [iou(a.bbox, b.bbox) for a, b in both]
        kps = [
            float(np.linalg.norm(a.kps - b.kps, axis=1).mean() / (b.bbox[2] - b.bbox[0]))
            for a, b in both
        ]
        text += (
            f"; where both: box IoU median {np.median(ious):.3f} (5th pct {np.percentile(ious, 5):.3f}),"
            f" landmarks {np.median(kps):.3f} of the face width (median)"
        )
    return text


def throughput(n: int) -> None:
    from ganatlas.networks import load_network
    from ganatlas.render import synthesize

    g = load_network("digiface-dcgan")
    z = torch.randn(n, g.z_dim, generator=torch.Generator().manual_seed(123))
    with torch.no_grad():
        w = g.mapping(z, None)
    images = [np.ascontiguousarray(img[:, :, ::-1]) for img in synthesize(g, w.numpy())]
    print(f"\n## {n} DCGAN faces (64 px, random latents), one thread each")
    print("| detector | images/s per core | wall images/s | found | median score |")
    print("|---|---|---|---|---|")
    for name, backend in backends().items():
        best, cpu, wall = run(backend, images)
        found = [f.score for f in best if f is not None]
        med = f"{np.median(found):.3f}" if found else "-"
        print(f"| {name} | {n / cpu:.1f} | {n / wall:.1f} | {len(found)}/{n} | {med} |")


def default_run(seeds: list[int], steps: int) -> None:
    from ganatlas.config import check_config
    from ganatlas.faces.detect import read_bgr
    from ganatlas.studies.walk.stages import (
        stage_network,
        stage_render,
        stage_w_avg,
        stage_walk,
    )

    cfg = check_config({"seeds": seeds, "steps": steps})
    chosen = backends((64, 320), stretch=True)
    with tempfile.TemporaryDirectory(prefix="bench_mtcnn_") as tmp:
        out = Path(tmp)
        info = stage_network(cfg["network"], out / "network.json")
        w = cfg["w_avg"]
        stage_w_avg(out / "network.json", out / "w_avg.npz", w["samples"], w["seed"], 1000)
        walk_cfg = {k: cfg[k] for k in ("steps", "step_size", "step_mode", "clamp")}
        print(f"\n## default-run images: {cfg['network']} walk, {steps} steps per seed")
        print(f"(network det_size {info['det_size']}; per-core images/s in brackets)")
        rows = []
        for seed in seeds:
            walk = out / f"seed{seed}.npz"
            stage_walk(out / "network.json", out / "w_avg.npz", walk, seed, walk_cfg)
            shards = -(-steps // cfg["shard_size"])
            images = []
            for shard in range(shards):
                folder = out / f"seed{seed}" / f"shard{shard}"
                stage_render(out / "network.json", walk, shard, cfg["shard_size"], folder)
                images += [read_bgr(p) for p in sorted(folder.glob("*.png"))]
            results = {name: run(b, images) for name, b in chosen.items()}
            yields = ", ".join(
                f"{name} {sum(f is not None for f in best)} [{len(images) / cpu:.0f}/s]"
                for name, (best, cpu, _) in results.items()
            )
            print(f"\nseed {seed}: {len(images)} images; found by {yields}")
            if "scrfd500m@320" in results:
                ref = results["scrfd500m@320"][0]
                for name in ("mtcnn@320", "mtcnn@64", "mtcnn-stretch@320"):
                    print(f"  {name} vs scrfd500m@320: {agreement(results[name][0], ref)}")
            rows.append({k: sum(f is not None for f in v[0]) for k, v in results.items()})
        if len(seeds) > 1:
            total = {k: sum(r[k] for r in rows) for k in rows[0]}
            n = len(seeds) * steps
            print(
                "\nall seeds: " + ", ".join(f"{k} {v}/{n} ({v / n:.1%})" for k, v in total.items())
            )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--faces", type=int, default=300, help="random DCGAN faces for throughput")
    ap.add_argument("--seeds", type=int, nargs="*", default=[0], help="walk seeds (default 0)")
    ap.add_argument("--steps", type=int, default=1000)
    args = ap.parse_args()
    torch.set_num_threads(1)
    from ganatlas.faces.mtcnn import weights_present

    if not weights_present():
        sys.exit("MTCNN weights not installed: pip install --no-deps facenet-pytorch==2.6.0")
    if args.faces:
        throughput(args.faces)
    if args.seeds:
        default_run(args.seeds, args.steps)


if __name__ == "__main__":
    main()

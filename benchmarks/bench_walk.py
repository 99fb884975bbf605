"""Walk-study throughput on the embedded default: render, detect and the whole DAG (images/s).

    .venv/bin/python benchmarks/bench_walk.py [--images 1000] [--detector auto|dlib|scrfd]

``scrfd`` uses ../shared/testdata/models/scrfd_500m.onnx at det_size 320. The whole-walk number
runs Snakemake end to end on one seed in a temporary folder (network, w_avg, walk, render,
detect, merge, report), so it includes every job's start-up.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import yaml

REPO = Path(__file__).resolve().parents[1]
SCRFD = REPO.parent / "shared" / "testdata" / "models" / "scrfd_500m.onnx"


def detector_cfg(name: str) -> dict:
    if name == "scrfd":
        return {"backend": "insightface", "det_model": str(SCRFD), "det_size": 320}
    return {"backend": name, "det_size": 320}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--images", type=int, default=1000)
    ap.add_argument("--detector", default="scrfd" if SCRFD.is_file() else "auto")
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    from ganatlas.faces.backends import make_backend
    from ganatlas.faces.detect import detect_images
    from ganatlas.networks import load_network
    from ganatlas.render import image_name, render_to_dir
    from ganatlas.studies.walk.walk import WalkParams, random_walk

    g = load_network("digiface-dcgan")
    w0 = np.zeros(g.w_dim, dtype=np.float32)
    walk = random_walk(
        w0, w0, WalkParams(seed=0, steps=args.images, step_size=0.15, clamp_radius=60)
    )
    names = [image_name(0, i) for i in range(args.images)]
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        paths = render_to_dir(g, walk["w_out"], names, Path(tmp) / "shard0", batch_size=32)
        t_render = time.perf_counter() - t
        backend = make_backend(detector_cfg(args.detector), providers=["CPUExecutionProvider"])
        import pandas as pd

        meta = pd.DataFrame(
            {"filename": names, "seed": 0, "step": range(args.images), "distance": walk["distance"]}
        )
        t = time.perf_counter()
        table = detect_images(paths, backend, meta, workers=1, progress=False)
        t_detect = time.perf_counter() - t
        detected = int(np.asarray(table.column("detected")).sum())

        out = Path(tmp) / "dag"
        cfg = Path(tmp) / "bench.yaml"
        cfg.write_text(
            yaml.safe_dump(
                {
                    "outdir": str(out),
                    "seeds": [0],
                    "steps": args.images,
                    "shard_size": 250,
                    "detector": detector_cfg(args.detector),
                }
            )
        )
        t = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "snakemake", "--cores", "2", "-q", "--configfile", str(cfg)],
            cwd=REPO,
            check=True,
            capture_output=True,
        )
        t_dag = time.perf_counter() - t

    n = args.images
    print(
        f"embedded DCGAN 64x64, {n} images, detector {args.detector} ({backend.model_names}, "
        f"det_size {backend.det_size}), torch threads {args.threads}"
    )
    print(f"render : {n / t_render:8.1f} img/s  ({t_render:.2f} s, batch 32, PNG writing included)")
    print(f"detect : {n / t_detect:8.1f} img/s  ({t_detect:.2f} s, {detected}/{n} detected)")
    print(
        f"walk DAG (1 seed, w_avg 10,000 samples, snakemake --cores 2): {n / t_dag:8.1f} img/s "
        f"({t_dag:.1f} s)"
    )


if __name__ == "__main__":
    main()

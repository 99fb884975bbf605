"""Throughput of the detect stage against raw onnxruntime on the same SCRFD model and det_size.

Renders N faces with the embedded DCGAN (64x64, seed 0), writes them as PNGs (and as 640x640
upscaled copies), then measures images/s of

- ``detect``: ganatlas.faces.detect.detect_images (read PNG, letterbox, SCRFD, decode, NMS,
  Parquet row) with the InsightFace backend;
- ``raw``: ``session.run`` alone on the prepared [1, 3, S, S] blob, n times, for a plain
  onnxruntime session of the model file and for the fixed-shape session InsightFace builds for
  det_size S, which the backend uses (the faster of the two is the reference).

The issue asks for detect >= 80% of raw. Usage:
    .venv/bin/python benchmarks/bench_detect.py --model ../shared/testdata/models/scrfd_500m.onnx
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ganatlas.faces.backends import make_backend  # noqa: E402
from ganatlas.faces.detect import detect_images  # noqa: E402


def render_faces(n: int, seed: int = 0) -> np.ndarray:
    """n DCGAN faces, BGR uint8 [n, 64, 64, 3]."""
    import torch

    from ganatlas.networks import load_network, to_uint8

    g = load_network("digiface-dcgan")
    z = torch.randn(n, g.z_dim, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        img = to_uint8(g.synthesis(g.mapping(z, None), noise_mode="const"))
    return np.ascontiguousarray(img.numpy()[..., ::-1])


def write_pngs(images: np.ndarray, folder: Path, size: int | None = None) -> list[Path]:
    """Write images (resized to size x size when given) as PNGs; returns their paths."""
    import cv2

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, img in enumerate(images):
        if size is not None:
            img = cv2.resize(img, (size, size), interpolation=cv2.INTER_LINEAR)
        paths.append(folder / f"img{i:05d}.png")
        cv2.imwrite(str(paths[-1]), img)
    return paths


def time_raw(session, blob: np.ndarray, n: int) -> float:
    """images/s of session.run on one [1, 3, S, S] blob, n times after 5 warm-up runs."""
    name = session.get_inputs()[0].name
    for _ in range(5):
        session.run(None, {name: blob})
    t = time.perf_counter()
    for _ in range(n):
        session.run(None, {name: blob})
    return n / (time.perf_counter() - t)


def bench(model: str, paths: list[Path], det_size: int, workers: int, repeats: int) -> dict:
    """detect_images vs raw session.run images/s for one image set and det_size.

    The timings alternate (detect, raw, raw plain) ``repeats`` times so that load from other
    processes hits all of them alike; medians are reported, and the ratio is the median of the
    per-round ratios against the faster raw session.
    """
    import cv2
    import onnxruntime

    backend = make_backend(
        {"backend": "insightface", "det_model": model, "det_size": det_size, "workers": workers},
        providers=["CPUExecutionProvider"],
    )
    detect_images(paths[:8], backend, progress=False)  # warm-up
    blob, _ = backend.preprocess(cv2.imread(str(paths[0])))  # the exact detector input
    opts = onnxruntime.SessionOptions()
    opts.log_severity_level = 3  # the file declares output shapes for 640: silence size warnings
    plain = onnxruntime.InferenceSession(model, opts, providers=["CPUExecutionProvider"])
    rates: dict[str, list[float]] = {"detect": [], "fixed": [], "plain": [], "ratio": []}
    for _ in range(repeats):
        t = time.perf_counter()
        table = detect_images(paths, backend, workers=workers, progress=False)
        rates["detect"].append(len(paths) / (time.perf_counter() - t))
        rates["fixed"].append(time_raw(backend.det_session, blob, len(paths)))
        rates["plain"].append(time_raw(plain, blob, len(paths)))
        rates["ratio"].append(rates["detect"][-1] / max(rates["fixed"][-1], rates["plain"][-1]))
    med = {k: float(np.median(v)) for k, v in rates.items()}
    return {
        "images": len(paths),
        "image_size": int(cv2.imread(str(paths[0])).shape[0]),
        "det_size": det_size,
        "workers": workers,
        "detected": int(np.sum(table.column("detected").to_numpy(zero_copy_only=False))),
        "detect_images_per_s": round(med["detect"], 1),
        "raw_plain_session_per_s": round(med["plain"], 1),
        "raw_insightface_session_per_s": round(med["fixed"], 1),
        "detect_vs_raw": round(med["ratio"], 3),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    repo = Path(__file__).resolve().parents[1]
    ap.add_argument("--model", default=str(repo.parent / "shared/testdata/models/scrfd_500m.onnx"))
    ap.add_argument("-n", type=int, default=256, help="images per set")
    ap.add_argument("--workers", type=int, nargs="+", default=[1])
    ap.add_argument("--repeats", type=int, default=5, help="median of this many timings")
    ap.add_argument("--json", type=Path, help="also write the results here")
    args = ap.parse_args(argv)
    if not Path(args.model).is_file():
        ap.error(f"--model: SCRFD file not found: {args.model}")
    faces = render_faces(args.n)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        small = write_pngs(faces, Path(tmp) / "64")
        large = write_pngs(faces, Path(tmp) / "640", size=640)
        for workers in args.workers:
            results.append(bench(args.model, small, 320, workers, args.repeats))
            results.append(bench(args.model, large, 640, workers, args.repeats))
    info = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs",
        "model": Path(args.model).name,
        "providers": ["CPUExecutionProvider"],
        "results": results,
    }
    print(f"# detect benchmark: {info['model']} on {info['machine']}")
    print("| image | det_size | workers | detect img/s | raw img/s (plain / insightface) | ratio |")
    print("|---|---|---|---|---|---|")
    for r in results:
        print(
            f"| {r['image_size']} px | {r['det_size']} | {r['workers']} | {r['detect_images_per_s']} "
            f"| {r['raw_plain_session_per_s']} / {r['raw_insightface_session_per_s']} "
            f"| {r['detect_vs_raw']:.0%} |"
        )
    if args.json:
        args.json.write_text(json.dumps(info, indent=2) + "\n")
    return 0 if all(r["detect_vs_raw"] >= 0.8 for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())

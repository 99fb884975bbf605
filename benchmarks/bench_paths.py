"""Paths-study timings on the embedded DCGAN, end to end through Snakemake (images/s).

    .venv/bin/python benchmarks/bench_paths.py [--detector scrfd|dlib] [--repeat 1]

Three runs, each in a fresh temporary folder, each including the network job and every job's
start-up: a 10 x 10 plane (`planes`), a 10-step interpolation with its 10 x 10 identity distance
matrix (dlib embedder) and its MP4 + GIF (`interpolate`, video: always), and the 100-axis contact
sheet (`axes`, 102 images). Video encoding is also timed on its own (in process) to show its
share. ``scrfd`` uses ../shared/testdata/models/scrfd_500m.onnx at det_size 320.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
SCRFD = REPO.parent / "shared" / "testdata" / "models" / "scrfd_500m.onnx"

RUNS = {
    "planes": ({"planes": {"planes": {"abc": {"origin": "a", "x": "b", "y": "c"}}}}, 100),
    "interpolate": ({"interpolate": {"paths": {"ab": ["a", "b"]}, "steps": 10,
                                     "video": "always"}}, 10),
    "axes": ({"axes": {"space": "z", "count": None}}, 102),
}  # fmt: skip


def detector_cfg(name: str) -> dict:
    if name == "scrfd":
        return {"backend": "insightface", "det_model": str(SCRFD), "det_size": 320}
    return {"backend": name, "det_size": 320}


def run(target: str, paths: dict, det: dict, tmp: Path) -> float:
    cfg = {"outdir": str(tmp / target), "network": "digiface-dcgan", "detector": det,
           "paths": paths}  # fmt: skip
    (tmp / f"{target}.yaml").write_text(yaml.safe_dump(cfg))
    cmd = [sys.executable, "-m", "snakemake", "--cores", "2", target,
           "--configfile", str(tmp / f"{target}.yaml")]  # fmt: skip
    t = time.perf_counter()
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    took = time.perf_counter() - t
    if proc.returncode:
        raise SystemExit(proc.stderr[-4000:])
    return took


def in_process(tmp: Path, det: dict) -> None:
    """The same three stages called in this process on the runs' network.json: the work without
    Snakemake's and each job's start-up (imports, network load)."""
    from ganatlas.config import check_config
    from ganatlas.studies.paths.settings import (
        axes_params,
        interpolate_params,
        paths_config,
        plane_params,
    )
    from ganatlas.studies.paths.stages import stage_axes, stage_interpolate, stage_planes

    for target, (paths, n) in RUNS.items():
        p = paths_config(check_config({"detector": det, "paths": paths}))
        info, out_dir = tmp / target / "network.json", tmp / "inproc" / target
        t = time.perf_counter()
        if target == "planes":
            out = {k: str(out_dir / f"{k}.x") for k in ("montage", "heatmaps", "table")}
            out = {
                k: v.replace(".x", ".parquet" if k == "table" else ".png") for k, v in out.items()
            }
            stage_planes(info, plane_params(p, "abc"), tmp / "sem", out)
        elif target == "interpolate":
            keys = ("frames", "table", "distances", "meta", "strip", "heatmap", "first_row")
            ext = ("", ".parquet", ".csv", ".json", ".png", ".png", ".png")
            out = {k: str(out_dir / f"{k}{e}") for k, e in zip(keys, ext, strict=True)}
            stage_interpolate(info, interpolate_params(p, "ab"), tmp / "sem", out)
        else:
            out = {"table": str(out_dir / "t.parquet"), "sheet": str(out_dir / "s.png"),
                   "scariest": str(out_dir / "w.png")}  # fmt: skip
            stage_axes(info, axes_params(p), out)
        took = time.perf_counter() - t
        print(f"{target:12s} {n:4d} images  {took:6.1f} s  {n / took:5.1f} img/s (stage in "
              f"process: render, detect{', embed' if target == 'interpolate' else ''}, figures)",
              flush=True)  # fmt: skip


def video_share(tmp: Path) -> tuple[float, float]:
    """Seconds to encode the interpolation's 10 frames as MP4 and as GIF (in process)."""
    from ganatlas.studies.paths.stages import stage_video

    frames = tmp / "interpolate" / "paths" / "interpolate" / "ab" / "frames"
    out = []
    for suffix in ("mp4", "gif"):
        t = time.perf_counter()
        stage_video(frames, 5.0, tmp / f"v.{suffix}")
        out.append(time.perf_counter() - t)
    return out[0], out[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--detector", default="scrfd" if SCRFD.is_file() else "dlib")
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args()
    det = detector_cfg(args.detector)
    print(f"detector {args.detector}; load average before: {os.getloadavg()[0]:.1f} (2 cores)")
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory() as d:
            tmp = Path(d)
            for target, (paths, n) in RUNS.items():
                took = run(target, paths, det, tmp)
                print(f"{target:12s} {n:4d} images  {took:6.1f} s  {n / took:5.1f} img/s "
                      f"(Snakemake end to end, network job included)", flush=True)  # fmt: skip
            in_process(tmp, det)
            mp4, gif = video_share(tmp)
            print(f"video        10 frames  MP4 {mp4:.2f} s, GIF {gif:.2f} s (in process)")


if __name__ == "__main__":
    main()

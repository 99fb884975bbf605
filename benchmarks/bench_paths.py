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
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory() as d:
            tmp = Path(d)
            for target, (paths, n) in RUNS.items():
                took = run(target, paths, det, tmp)
                print(f"{target:12s} {n:4d} images  {took:6.1f} s  {n / took:5.1f} img/s "
                      f"(Snakemake end to end, network job included)", flush=True)  # fmt: skip
            mp4, gif = video_share(tmp)
            print(f"video        10 frames  MP4 {mp4:.2f} s, GIF {gif:.2f} s (in process)")


if __name__ == "__main__":
    main()

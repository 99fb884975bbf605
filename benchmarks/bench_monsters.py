"""The monsters study's cost: the radial study end to end and the embedding map at scale.

    .venv/bin/python benchmarks/bench_monsters.py [--directions 64] [--radii 20] [--faces 100000]

1. Radial: ``stage_radial`` on the embedded DCGAN (W from w_avg), ``--directions`` x ``--radii``
   images rendered, detected (the default detector: MTCNN at det_size 320) and embedded (dlib
   descriptors on MTCNN's boxes), one thread; then ``stage_radial_summary`` (1,000 bootstrap
   resamples). Wall time and images/s.
2. Embedding map: ``--faces`` synthetic 512-d embeddings (identities drifting along 100 walks of
   ``faces / 100`` steps) through PCA, identity drift, HDBSCAN per walk and t-SNE on the default
   20,000-face subsample (``--tsne-points``); time and peak memory (ru_maxrss) after each step.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def radial(directions: int, radii: int) -> None:
    from ganatlas.config import check_config
    from ganatlas.studies.monsters.settings import monsters_config
    from ganatlas.studies.monsters.stages import stage_radial, stage_radial_summary
    from ganatlas.studies.walk.stages import stage_network, stage_w_avg

    cfg = check_config({"monsters": {"directions": directions, "radii": {"max": 3.0, "num": radii},
                                     "spaces": ["w"]}})  # fmt: skip
    mon = monsters_config(cfg)
    with tempfile.TemporaryDirectory(prefix="bench_monsters_") as tmp:
        out = Path(tmp)
        stage_network(cfg["network"], out / "network.json")
        stage_w_avg(out / "network.json", out / "w_avg.npz", 10000, 0, 1000)
        t = time.perf_counter()
        df = stage_radial(out / "network.json", out / "w_avg.npz", mon, "net0", "w",
                          out / "radial.parquet")  # fmt: skip
        t_rad = time.perf_counter() - t
        t = time.perf_counter()
        radii_df = stage_radial_summary([out / "radial.parquet"], mon, out)
        t_sum = time.perf_counter() - t
    n = len(df)
    print(f"\n## radial, DCGAN W, {directions} directions x {radii} radii = {n} images "
          f"({df['backend'].iloc[0]}, embedder {df['embedder'].iloc[0]}, 1 thread)")  # fmt: skip
    print(f"radial stage {t_rad:.1f} s ({n / t_rad:.1f} images/s, {int(df['detected'].sum())} "
          f"detected); summary + figures {t_sum:.1f} s; r90 {radii_df['r90'].iloc[0]:.3g}, "
          f"r50 {radii_df['r50'].iloc[0]:.3g} x p50")  # fmt: skip


def embedding_map(faces: int, tsne_points: int = 20000, dim: int = 512, walks: int = 100) -> None:
    from ganatlas.studies.monsters.embedmap import identity_clusters, identity_drift, project_2d

    rng = np.random.default_rng(0)
    steps = faces // walks
    # each walk drifts through a few identities: a random walk in embedding space, unit-normalised
    emb = np.cumsum(rng.standard_normal((walks, steps, dim)).astype(np.float32) * 0.02, axis=1)
    emb += rng.standard_normal((walks, 1, dim)).astype(np.float32)
    emb = (emb / np.linalg.norm(emb, axis=2, keepdims=True)).reshape(-1, dim)
    walk = pd.DataFrame(
        {"seed": np.repeat(np.arange(walks), steps), "step": np.tile(np.arange(steps), walks)}
    )
    print(f"\n## embedding map, {len(emb):,} faces x {dim} (float32 {emb.nbytes / 2**20:.0f} MiB), "
          f"{walks} walks; peak RSS so far {peak_mb():.0f} MiB")  # fmt: skip
    for name, fn in (
        ("PCA, all faces", lambda: project_2d(emb, "pca", tsne_points)),
        ("identity drift", lambda: identity_drift(walk, emb)),
        ("HDBSCAN per walk", lambda: identity_clusters(walk, emb, 5)),
        (f"t-SNE, {tsne_points:,}-face subsample", lambda: project_2d(emb, "tsne", tsne_points)),
    ):
        t = time.perf_counter()
        fn()
        print(
            f"| {name} | {time.perf_counter() - t:.1f} s | peak RSS {peak_mb():.0f} MiB |",
            flush=True,
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--directions", type=int, default=64)
    ap.add_argument("--radii", type=int, default=20)
    ap.add_argument("--faces", type=int, default=100_000)
    ap.add_argument("--tsne-points", type=int, default=20000, help="map.max_points")
    ap.add_argument("--skip-radial", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(1)
    if not args.skip_radial:
        radial(args.directions, args.radii)
    if args.faces:
        embedding_map(args.faces, args.tsne_points)
    print(f"\npeak RSS {peak_mb():.0f} MiB", file=sys.stderr)


if __name__ == "__main__":
    main()

"""Seeded, sharded latent sampling: render, score and write one Parquet per shard (atomically)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import torch

from ganatlas.render import synthesize
from ganatlas.studies.semantics.scoring import ScoringSetup, score_batch


def shard_seed(seed: int, shard: int) -> int:
    """A 32-bit seed derived from (seed, shard): shards are independent and resumable."""
    return int(np.random.SeedSequence([int(seed), int(shard)]).generate_state(1)[0])


def shard_bounds(samples: int, shard_size: int, shard: int) -> tuple[int, int]:
    """Global ``[start, stop)`` sample indices of ``shard``."""
    start = shard * shard_size
    if shard < 0 or start >= samples:
        raise ValueError(f"shard {shard} is outside {samples} samples in shards of {shard_size}")
    return start, min(start + shard_size, samples)


def shard_latents(z_dim: int, samples: int, shard_size: int, seed: int, shard: int) -> np.ndarray:
    """``z: [n_shard, z_dim]`` float32 standard normal for ``shard`` (CPU, device independent)."""
    start, stop = shard_bounds(samples, shard_size, shard)
    gen = torch.Generator().manual_seed(shard_seed(seed, shard))
    return torch.randn(stop - start, z_dim, generator=gen).numpy()


@torch.no_grad()
def map_ws(g: torch.nn.Module, z: np.ndarray, device: str = "cpu", batch: int = 256) -> np.ndarray:
    """``ws: [N, num_ws, w_dim]`` float32 from ``z: [N, z_dim]`` (no truncation)."""
    out = []
    for s in range(0, len(z), batch):
        zt = torch.as_tensor(z[s : s + batch], device=device)
        c = torch.zeros(len(zt), g.c_dim, device=device)
        out.append(g.mapping(zt, c).float().cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, g.num_ws, g.w_dim), np.float32)


def render_and_score(
    g: torch.nn.Module,
    z: np.ndarray,
    ws: np.ndarray,
    setup: ScoringSetup,
    device: str = "cpu",
    batch_size: int = 32,
    noise_mode: str = "const",
    log: Callable[[str], object] | None = None,
) -> pd.DataFrame:
    """Render ``ws: [N, num_ws, w_dim]`` in batches and score each image (rows in input order).

    ``z: [N, z_dim]`` or None feeds planted scorers; their ``w`` is the mean over ws rows.
    """
    frames = []
    for s in range(0, len(ws), batch_size):
        imgs = synthesize(g, ws[s : s + batch_size], device, batch_size, noise_mode)
        lat = {"w": ws[s : s + batch_size].mean(axis=1)}
        if z is not None:
            lat["z"] = z[s : s + batch_size]
        frames.append(score_batch(imgs, lat, setup))
        if log is not None:
            log(f"rendered and scored {min(s + batch_size, len(ws))}/{len(ws)}")
    return pd.concat(frames, ignore_index=True)


def latent_column(values: np.ndarray) -> pa.Array:
    """``values: [N, D]`` float32 -> a list<float32> Arrow column."""
    values = np.ascontiguousarray(values, dtype=np.float32)
    n, d = values.shape
    offsets = pa.array(np.arange(0, (n + 1) * d, d, dtype=np.int32))
    return pa.ListArray.from_arrays(offsets, pa.array(values.reshape(-1)))


def column_matrix(table: pa.Table, name: str) -> np.ndarray:
    """A list<float32> column as ``[N, D]`` float32."""
    col = table.column(name).combine_chunks()
    n = len(col)
    flat = col.flatten().to_numpy(zero_copy_only=False).astype(np.float32)
    return flat.reshape(n, -1) if n else flat.reshape(0, 0)


def shard_table(index: np.ndarray, z: np.ndarray, w: np.ndarray, scores: pd.DataFrame) -> pa.Table:
    """The shard's Arrow table: index, z, w, detected, det_score, bbox and score columns."""
    cols: dict[str, pa.Array] = {
        "index": pa.array(index.astype(np.int64)),
        "z": latent_column(z),
        "w": latent_column(w),
        "detected": pa.array(scores["detected"].astype(bool).to_numpy()),
        "det_score": pa.array(scores["det_score"].astype(np.float64).to_numpy()),
        "bbox": pa.array(
            [None if b is None else [float(v) for v in b] for b in scores["bbox"]],
            type=pa.list_(pa.float32()),
        ),
    }
    for name in scores.columns:
        if name not in cols:
            cols[name] = pa.array(scores[name].astype(np.float64).to_numpy())
    return pa.table(cols)


def sample_shard(
    g: torch.nn.Module,
    setup: ScoringSetup,
    samples: int,
    shard_size: int,
    seed: int,
    shard: int,
    device: str = "cpu",
    batch_size: int = 32,
    noise_mode: str = "const",
    log: Callable[[str], object] | None = None,
) -> pa.Table:
    """Draw, map, render and score one shard; ``w`` is row 0 of ws (all rows equal here)."""
    start, stop = shard_bounds(samples, shard_size, shard)
    z = shard_latents(g.z_dim, samples, shard_size, seed, shard)
    ws = map_ws(g, z, device)
    scores = render_and_score(g, z, ws, setup, device, batch_size, noise_mode, log)
    return shard_table(np.arange(start, stop), z, ws[:, 0], scores)


def load_samples(paths: list[str | Path]) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Concatenate shard files: (scores frame without latents, z [N, z_dim], w [N, w_dim])."""
    table = pa.concat_tables([pq.read_table(p) for p in paths])
    table = table.sort_by("index")
    z, w = column_matrix(table, "z"), column_matrix(table, "w")
    df = table.drop_columns(["z", "w"]).to_pandas()
    return df, z, w

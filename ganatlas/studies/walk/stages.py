"""The walk study's stages, one function per workflow rule (the rules' scripts only call these)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ganatlas.atomic import atomic_path, save_npz_atomic, write_parquet_atomic, write_text_atomic
from ganatlas.latent import compute_w_avg
from ganatlas.networks.resolve import describe_network, load_from_info, read_info
from ganatlas.render import image_name, render_to_dir, shard_ranges, stderr_log
from ganatlas.studies.walk.settings import walk_params
from ganatlas.studies.walk.walk import random_walk


def stage_network(
    spec: str, out_json: str | Path, cache_dir: str | None = None, which: str = "G_ema"
) -> dict:
    """Resolve (and download once, if a URL) the network; write its JSON description."""
    info = describe_network(spec, cache_dir=cache_dir, which=which)
    write_text_atomic(out_json, json.dumps(info, indent=2) + "\n")
    stderr_log(
        f"network {info['name']}: {info['kind']}, z_dim {info['z_dim']}, w_dim {info['w_dim']}, "
        f"num_ws {info['num_ws']}, {info['img_resolution']} px, sha256 {info['sha256']}"
    )
    return info


def stage_w_avg(
    info_json: str | Path,
    out_npz: str | Path,
    samples: int,
    seed: int,
    batch_size: int,
    device: str = "cpu",
) -> None:
    """Map ``samples`` seeded latents and store w_avg with distance statistics (see compute_w_avg)."""
    g = load_from_info(info_json, device)
    stats = compute_w_avg(
        g,
        samples,
        seed,
        batch_size,
        device,
        progress=lambda d, n: stderr_log(f"mapped {d}/{n} latents"),
    )
    save_npz_atomic(out_npz, **stats)
    stderr_log(
        f"|w_avg| = {float(stats['w_avg_norm']):.4f}; median distance of samples to w_avg = "
        f"{float(np.median(stats['distances'])):.4f}"
    )


def stage_walk(
    info_json: str | Path, w_avg_path: str | Path, out_npz: str | Path, seed: int, cfg: dict
) -> None:
    """One seeded walk from w_avg; saves w_out [steps, w_dim], distance, norm, clamped, parameters."""
    info = read_info(info_json)
    stats = dict(np.load(w_avg_path))
    params = walk_params(cfg, info, seed, stats)
    walk = random_walk(stats["w_avg"], stats["w_avg"], params)
    save_npz_atomic(
        out_npz,
        **walk,
        w_avg=stats["w_avg"],
        seed=np.int64(params.seed),
        steps=np.int64(params.steps),
        step_size=np.float64(params.step_size),
        step_mode=np.str_(params.step_mode),
        clamp_center=np.str_(params.clamp_center),
        clamp_radius=np.float64(np.nan if params.clamp_radius is None else params.clamp_radius),
    )
    stderr_log(
        f"walk seed {seed}: {params.steps} steps, step_size {params.step_size}, clamp radius "
        f"{params.clamp_radius}; final distance {float(walk['distance'][-1]):.3f}, "
        f"clamped {int(walk['clamped'].sum())} times"
    )


def stage_render(
    info_json: str | Path,
    walk_npz: str | Path,
    shard: int,
    shard_size: int,
    out_dir: str | Path,
    batch_size: int = 32,
    noise_mode: str = "const",
    device: str = "cpu",
) -> None:
    """Render shard ``shard`` of a walk to ``out_dir/seedSSSS_stepNNNNN.png``."""
    walk = np.load(walk_npz)
    seed = int(walk["seed"])
    ranges = shard_ranges(int(walk["steps"]), shard_size)
    if not 0 <= shard < len(ranges):
        raise ValueError(
            f"shard {shard} out of range: walk has {len(ranges)} shards of {shard_size}"
        )
    start, stop = ranges[shard]
    g = load_from_info(info_json, device)
    names = [image_name(seed, s) for s in range(start, stop)]
    render_to_dir(
        g, walk["w_out"][start:stop], names, out_dir, device, batch_size, noise_mode, log=stderr_log
    )


def shard_meta(walk_npz: str | Path, shard: int, shard_size: int, images_dir: str | Path):
    """Per-image metadata of one shard: (paths, DataFrame[filename, seed, step, distance])."""
    import pandas as pd

    walk = np.load(walk_npz)
    seed = int(walk["seed"])
    start, stop = shard_ranges(int(walk["steps"]), shard_size)[shard]
    steps = np.arange(start, stop)
    names = [image_name(seed, int(s)) for s in steps]
    meta = pd.DataFrame(
        {
            "filename": names,
            "seed": seed,
            "step": steps,
            "distance": walk["distance"][start:stop].astype(np.float64),
        }
    )
    return [Path(images_dir) / n for n in names], meta


def stage_detect(
    info_json: str | Path,
    walk_npz: str | Path,
    images_dir: str | Path,
    shard: int,
    shard_size: int,
    out_parquet: str | Path,
    detector: dict,
    device: str = "cpu",
    threads: int | None = None,
) -> None:
    """Score every image of one shard with the configured face backend; one Parquet row per image.

    detector: the ``detector:`` section (``det_size: auto`` is resolved from network.json);
    threads: onnxruntime intra-op threads (the job's ``threads``).
    """
    from ganatlas.faces.backends import make_backend, onnx_providers, resolve_detector
    from ganatlas.faces.detect import detect_images

    cfg = resolve_detector(detector, read_info(info_json))
    backend = make_backend(cfg, providers=onnx_providers(cfg["providers"], device), threads=threads)
    paths, meta = shard_meta(walk_npz, shard, shard_size, images_dir)
    table = detect_images(paths, backend, meta, workers=int(cfg["workers"]))
    write_parquet_atomic(table, out_parquet)


def stage_merge(parquets: list[str | Path], out_parquet: str | Path, out_csv: str | Path) -> None:
    """Concatenate shard tables (sorted by seed, step) into one Parquet and the report's CSV."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from ganatlas.faces.detect import to_report_csv

    tables, bad = [], []
    for path in parquets:  # every shard is checked before anything is written
        try:
            tables.append(pq.read_table(path))
        except (OSError, pa.ArrowException) as exc:
            bad.append(f"{path} ({' '.join(str(exc).split())[:200]})")
    if bad:
        raise ValueError(
            f"{len(bad)} of {len(parquets)} detection shards cannot be read; delete them and rerun "
            "(Snakemake then redoes just those shards): " + "; ".join(bad)
        )
    table = pa.concat_tables(tables).sort_by([("seed", "ascending"), ("step", "ascending")])
    write_parquet_atomic(table, out_parquet)
    with atomic_path(out_csv) as tmp:
        to_report_csv(table).to_csv(tmp, index=False)
    stderr_log(f"merged {len(tables)} shards: {table.num_rows} images")


def stage_report(
    table: str | Path,
    info_json: str | Path,
    images_root: str | Path,
    outdir: str | Path,
    green: float = 0.7,
    gallery_size: int = 16,
    w_avg_path: str | Path | None = None,
    gallery_band: float | str = "auto",
    rate_window: int = 50,
) -> None:
    """Figures, summary.csv, yield_by_distance.csv and report.md from the merged detections.

    w_avg_path: w_avg.npz, whose median sample distance to w_avg is marked on every distance axis
    and sets ``gallery_band: auto`` (a quarter of it).
    """
    import pandas as pd

    from ganatlas.studies.walk.report import write_report
    from ganatlas.studies.walk.settings import median_sample_distance, resolve_gallery_band

    median, samples, band = None, None, None
    if w_avg_path is not None:
        stats = dict(np.load(w_avg_path))
        median = median_sample_distance(stats)
        samples = int(stats["samples"]) if "samples" in stats else len(stats["distances"])
        band = resolve_gallery_band(gallery_band, median)
    elif gallery_band != "auto":
        band = float(gallery_band)
    df = pd.read_parquet(table, columns=None)
    write_report(
        df,
        images_root,
        outdir,
        green,
        gallery_size,
        network=read_info(info_json),
        median_distance=median,
        gallery_band=band,
        rate_window=rate_window,
        w_avg_samples=samples,
    )
    stderr_log(f"report written to {Path(outdir) / 'report.md'}")


def repair_outputs(
    outdir: str | Path, seeds: list[int], steps: int, shard_size: int, log=stderr_log
) -> list[Path]:
    """Delete walk outputs that are damaged, so that Snakemake makes them again.

    Called when the workflow is parsed. A shard folder of images with a file missing (Snakemake
    sees only the folder) and a detection shard whose Parquet footer cannot be read or whose row
    count is wrong are removed; everything that depends on them then reruns. Returns what was
    removed.
    """
    import shutil

    import pyarrow.parquet as pq

    outdir = Path(outdir)
    removed: list[Path] = []
    for seed in seeds:
        for shard, (start, stop) in enumerate(shard_ranges(int(steps), int(shard_size))):
            images = outdir / "images" / f"seed{seed}" / f"shard{shard}"
            if images.is_dir():
                missing = [n for n in (image_name(seed, s) for s in range(start, stop))
                           if not (images / n).is_file()]  # fmt: skip
                if missing:
                    log(f"{images}: {len(missing)} images missing ({missing[0]}, ...): rendering "
                        "this shard again")  # fmt: skip
                    shutil.rmtree(images)
                    removed.append(images)
            table = outdir / "detections" / f"seed{seed}" / f"shard{shard}.parquet"
            if table.is_file():
                try:
                    rows = pq.read_metadata(table).num_rows
                    problem = None if rows == stop - start else f"{rows} rows, not {stop - start}"
                except Exception as exc:  # any unreadable footer
                    problem = " ".join(str(exc).split())[:120]
                if problem is not None:
                    log(f"{table}: damaged ({problem}): detecting this shard again")
                    table.unlink()
                    removed.append(table)
    return removed

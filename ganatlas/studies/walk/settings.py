"""Settings of the walk study: the validated top-level walk keys, resolved once per job.

The schema (``ganatlas/schema/config.schema.yaml``) checks the keys and fills the defaults. The
``walk`` rule passes ``steps``, ``step_size``, ``step_mode`` and ``clamp`` as params; here the
``auto`` values become numbers from the network's description (``network.json``, where the
catalogue's walk defaults were recorded once) and ``pNN`` radii from the w_avg statistics.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ganatlas.latent import resolve_radius
from ganatlas.studies.walk.walk import WalkParams


def resolve_step_size(value: Any, info: dict) -> float:
    """``step_size: auto`` -> the network's walk default (network.json ``walk.step_size``)."""
    return float(info["walk"]["step_size"]) if value == "auto" else float(value)


def resolve_radius_spec(value: Any, info: dict) -> Any:
    """``clamp.radius: auto`` -> the network's walk default (a number, 'pNN' or None)."""
    return info["walk"].get("clamp_radius") if value == "auto" else value


def median_sample_distance(w_avg_npz: dict) -> float:
    """The median distance of the w_avg samples to w_avg (the 50th percentile stored with it)."""
    levels = np.asarray(w_avg_npz.get("percentile_levels", []), dtype=np.float64).tolist()
    if 50.0 in levels:
        return float(np.asarray(w_avg_npz["percentiles"])[levels.index(50.0)])
    return float(np.median(w_avg_npz["distances"]))


def resolve_gallery_band(value: Any, median_distance: float) -> float:
    """``report.gallery_band: auto`` -> a quarter of the median sample distance to w_avg."""
    return float(median_distance) / 4 if value == "auto" else float(value)


def walk_params(cfg: dict, info: dict, seed: int, w_avg_npz: dict) -> WalkParams:
    """The WalkParams of one seed.

    cfg: keys steps, step_size, step_mode, clamp {center, radius}; info: network.json;
    w_avg_npz: the w_avg statistics (``percentile_levels``, ``percentiles``) for 'pNN' radii.
    """
    percentiles = dict(
        zip(w_avg_npz["percentile_levels"].tolist(), w_avg_npz["percentiles"].tolist(), strict=True)
    )
    radius = resolve_radius(resolve_radius_spec(cfg["clamp"]["radius"], info), percentiles)
    return WalkParams(
        seed=int(seed),
        steps=int(cfg["steps"]),
        step_size=resolve_step_size(cfg["step_size"], info),
        step_mode=cfg["step_mode"],
        clamp_center=cfg["clamp"]["center"],
        clamp_radius=radius,
    )


def planned_jobs(config: dict) -> int:
    """Render + detect jobs the walk would plan: seeds x ceil(steps / shard_size) x 2."""
    shards = -(-int(config["steps"]) // int(config["shard_size"]))
    return len(config["seeds"]) * shards * 2


def check_walk(config: dict) -> None:
    """Cross-key checks of the walk keys of a schema-validated config (ConfigError)."""
    from ganatlas.config import ConfigError

    jobs = planned_jobs(config)
    if jobs > int(config["max_jobs"]):
        raise ConfigError(
            f"config keys 'seeds', 'steps', 'shard_size': {len(config['seeds'])} seeds x "
            f"ceil({config['steps']} / {config['shard_size']}) shards x 2 = {jobs:,} render and "
            f"detect jobs, over max_jobs = {config['max_jobs']:,}; use a larger shard_size, or "
            "raise max_jobs on purpose"
        )

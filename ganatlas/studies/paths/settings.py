"""Settings of the paths study: the validated ``paths:`` section, resolved once.

The schema (section ``paths``) checks types and ranges and fills defaults; this module parses
every named point (``ganatlas.points``: syntax, names, cycles, spaces, boundaries that the
semantics study trains), checks that every path, plane and mix range names what exists, and
resolves value ranges (``{start, stop, num}`` -> lists), the detector of the study's jobs (the
top-level ``detector:`` updated by ``paths.detector``) and the report's sections. Errors name
the key and what is allowed, before any job runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ganatlas.config import ConfigError, canonical, checked_section, section_schema
from ganatlas.points import PointError, PointSpec, boundaries_used, files_used, parse_points

SECTIONS = ("interpolate", "planes", "axes", "mix")


class PathsConfigError(ConfigError):
    """A ``paths:`` config value is invalid; the message names the key and what is allowed."""


def value_list(spec: Any, key: str) -> list[float]:
    """A list of numbers from a list or ``{start, stop, num}`` (both ends included)."""
    if isinstance(spec, dict):
        vals = np.linspace(float(spec["start"]), float(spec["stop"]), int(spec["num"]))
        return [round(float(v), 10) for v in vals]
    vals = [float(v) for v in spec]
    if len(set(vals)) != len(vals):
        raise PathsConfigError(f"{key}: values must be distinct, got {spec!r}")
    return vals


def network_is_z_only(spec: str) -> bool:
    """True when the ``network:`` value is known, without loading it, to be a Z-only DCGAN."""
    from ganatlas.networks.catalogue import lookup

    try:
        return lookup(str(spec)).kind.startswith("dcgan")
    except Exception:  # not a catalogue name
        return Path(str(spec)).suffix in (".pt", ".pth", ".tar")


def _trained(config: dict) -> dict[str, list[str]]:
    sem = config.get("semantics") or {}
    attrs = (
        sem.get("attributes") or section_schema("semantics")["properties"]["attributes"]["default"]
    )
    spaces = sem.get("spaces") or ["z", "w"]
    return {s: list(attrs) for s in spaces}


def _parse(pts: dict, config: dict) -> dict[str, PointSpec]:
    try:
        return parse_points(pts, "paths.points", boundaries=_trained(config))
    except PointError as exc:
        raise PathsConfigError(str(exc)) from None


def _need(name: str, specs: dict[str, PointSpec], key: str) -> PointSpec:
    if name not in specs:
        raise PathsConfigError(
            f"{key}: unknown point {name!r}; defined in paths.points: {', '.join(specs) or 'none'}"
        )
    return specs[name]


def check_paths(p: dict, config: dict) -> dict[str, PointSpec]:
    """Cross-key checks of a schema-validated ``paths`` section; returns the parsed points."""
    specs = _parse(p["points"], config)
    z_only = network_is_z_only(config.get("network", ""))
    for name, spec in specs.items():
        if spec.space == "w+" and z_only:
            raise PathsConfigError(
                f"paths.points.{name}.space: w+ needs per-layer styles; network "
                f"{config.get('network')!r} is Z-only (a DCGAN, num_ws = 1); allowed: z, w"
            )
    for path, names in p["interpolate"]["paths"].items():
        key = f"paths.interpolate.paths.{path}"
        if len(names) < 2:
            raise PathsConfigError(f"{key}: a path needs at least 2 points, got {names!r}")
        spaces = {_need(n, specs, key).space for n in names}
        if len(spaces) > 1:
            raise PathsConfigError(f"{key}: the points of a path share one space, got {spaces}")
        if p["interpolate"]["method"] == "slerp" and spaces != {"z"}:
            raise PathsConfigError(
                f"paths.interpolate.method: slerp is for Z paths; {path} is in {spaces.pop()} "
                f"(use lerp or gradient)"
            )
    for plane, axes in p["planes"]["planes"].items():
        key = f"paths.planes.planes.{plane}"
        spaces = {_need(axes[k], specs, f"{key}.{k}").space for k in ("origin", "x", "y")}
        if len(spaces) > 1:
            raise PathsConfigError(f"{key}: origin, x and y share one space, got {spaces}")
    for key in ("xs", "ys"):
        value_list(p["planes"][key], f"paths.planes.{key}")
    for name, (start, stop) in p["mix"]["ranges"].items():
        if stop is not None and stop <= start:
            raise PathsConfigError(
                f"paths.mix.ranges.{name}: [start, stop) needs stop > start (or null = the "
                f"last layer), got {[start, stop]}"
            )
    sections = p["report"]["sections"]
    if sections != "auto" and "mix" in sections and z_only:
        raise PathsConfigError(
            f"paths.report.sections: mix needs W+ styles; network {config.get('network')!r} is "
            f"Z-only (a DCGAN has one style row); allowed here: interpolate, planes, axes"
        )
    return specs


def paths_config(config: dict) -> dict:
    """The resolved ``paths`` settings of ``config`` (validated here when not yet done).

    Returns a copy of the section with ``planes.xs``/``ys`` as lists, ``detector`` the merged
    detector section, ``embedder`` the top-level embedder section, ``report.sections`` a list.
    """
    p = checked_section(config, "paths", PathsConfigError)
    check_paths(p, config)
    p["planes"]["xs"] = value_list(p["planes"]["xs"], "paths.planes.xs")
    p["planes"]["ys"] = value_list(p["planes"]["ys"], "paths.planes.ys")
    p["detector"] = {**checked_section(config, "detector"), **p["detector"]}
    p["embedder"] = checked_section(config, "embedder")
    if p["report"]["sections"] == "auto":
        z_only = network_is_z_only(config.get("network", ""))
        p["report"]["sections"] = [s for s in SECTIONS if not (s == "mix" and z_only)]
    return p


def point_closure(p: dict, names: list[str]) -> dict[str, Any]:
    """The point definitions ``names`` need (themselves and every point they refer to)."""
    specs = parse_points(p["points"])
    todo, seen = list(names), set()
    while todo:
        n = todo.pop()
        if n in seen:
            continue
        seen.add(n)
        todo += [t.arg for t in specs[n].terms if t.kind == "ref"]
    return canonical({n: p["points"][n] for n in sorted(seen)})


def point_inputs(p: dict, names: list[str], sem_dir: str) -> list[str]:
    """Files the points ``names`` read (semantics boundaries, explicit latents): rule inputs."""
    specs = parse_points(point_closure(p, names))
    bounds = [f"{sem_dir}/boundaries/{s}/{a}.npy" for s, a in boundaries_used(specs)]
    return bounds + files_used(specs)


def rule_params(p: dict, *keys: str) -> dict:
    """The resolved settings ``keys`` of ``p`` as one rule's params (keys sorted)."""
    return canonical({k: p[k] for k in keys})


def interpolate_params(p: dict, name: str) -> dict:
    """Params of one path's job: exactly what its stage reads (another path's change leaves it)."""
    keys = p["interpolate"]["paths"][name]
    ip = p["interpolate"]
    return canonical(
        {"points": point_closure(p, keys), "keys": list(keys), "steps": ip["steps"],
         "method": ip["method"], **rule_params(p, "batch_size", "noise_mode", "detector",
                                               "embedder")}
    )  # fmt: skip


def plane_params(p: dict, name: str) -> dict:
    """Params of one plane's job."""
    plane = p["planes"]["planes"][name]
    keys = [plane[k] for k in ("origin", "x", "y")]
    pl = p["planes"]
    return canonical(
        {"points": point_closure(p, keys), "plane": plane, "xs": pl["xs"], "ys": pl["ys"],
         "scorers": pl["scorers"], **rule_params(p, "batch_size", "noise_mode", "detector")}
    )  # fmt: skip


def axes_params(p: dict) -> dict:
    """Params of the axes job."""
    return canonical({**p["axes"], **rule_params(p, "batch_size", "noise_mode", "detector")})


def mix_params(p: dict, name: str) -> dict:
    """Params of one mixing range's job (only its own range)."""
    m = p["mix"]
    return canonical(
        {"rows": m["rows"], "cols": m["cols"], "psi": m["psi"], "ranges": {name: m["ranges"][name]},
         **rule_params(p, "batch_size", "noise_mode")}
    )  # fmt: skip


def video_paths(p: dict) -> list[str]:
    """Paths that get an MP4 (and GIF): all (always), none (never), or trajectories (auto)."""
    ip = p["interpolate"]
    if ip["video"] == "never":
        return []
    return [n for n, keys in ip["paths"].items() if ip["video"] == "always" or len(keys) >= 3]


#: The sections of ``paths`` the report rule passes (it prints from each of them).
REPORT_KEYS = ("interpolate", "planes", "axes", "mix", "report", "detector")


def report_params(p: dict) -> dict:
    """Params of the report job."""
    return rule_params(p, *REPORT_KEYS)


def mix_guard(config: dict) -> list[str]:
    """No extra inputs; raises PathsConfigError when the network is known to be Z-only, so that
    ``snakemake mix`` on a DCGAN stops while the DAG is built, before any job runs (networks
    known only after the network job are stopped by the mix stage itself)."""
    if network_is_z_only(config.get("network", "")):
        raise PathsConfigError(
            f"paths.mix: style mixing needs W+ (one style row per layer); network "
            f"{config.get('network')!r} is Z-only (a DCGAN has num_ws = 1); use a StyleGAN network"
        )
    return []

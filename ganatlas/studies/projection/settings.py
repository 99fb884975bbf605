"""Settings of the projection study: the validated ``projection:`` section, resolved once.

The schema checks types and bounds and fills defaults; this module adds the cross-key checks
(the identity loss needs an embedder; photo names must be unique) and resolves ``photos`` (files
and folders) into ``{name: path}`` items and ``synthetic: auto`` into a count.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ganatlas.config import ConfigError, canonical, checked_section

PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png")
SYNTH_PREFIX = "synthetic"
NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


class ProjectionConfigError(ConfigError):
    """A ``projection:`` value is invalid; the message names the key."""


def identity_embedders() -> list[str]:
    """Names of the differentiable identity embedders available to the identity loss."""
    from ganatlas.studies.projection.identity import EMBEDDERS

    return list(EMBEDDERS)


def check_projection(prj: dict) -> None:
    """Cross-key checks of a schema-validated ``projection`` section (ProjectionConfigError)."""
    if prj["losses"]["identity"] > 0:
        emb = prj["identity_embedder"]
        if emb is None:
            raise ProjectionConfigError(
                "projection.losses.identity > 0 needs projection.identity_embedder; the identity "
                "loss is not configured (set projection.losses.identity: 0)"
            )
        if emb not in identity_embedders():
            raise ProjectionConfigError(
                f"projection.identity_embedder {emb!r} is not available; available: "
                f"{identity_embedders() or 'none in this version'}"
            )
    if not any(v > 0 for k, v in prj["losses"].items()):
        raise ProjectionConfigError("projection.losses: every weight is 0; nothing to optimise")


def photo_items(photos: list[str]) -> dict[str, str]:
    """``{name: path}`` for photo files and folders (their .jpg/.jpeg/.png files, sorted)."""
    items: dict[str, str] = {}
    for spec in photos:
        p = Path(spec).expanduser()
        if p.is_dir():
            files = sorted(f for f in p.iterdir() if f.suffix.lower() in PHOTO_SUFFIXES)
            if not files:
                raise ProjectionConfigError(
                    f"projection.photos: folder {spec} has no .jpg/.png files"
                )
        elif p.is_file():
            files = [p]
        else:
            raise ProjectionConfigError(f"projection.photos: {spec} is neither a file nor a folder")
        for f in files:
            name = f.stem
            if not NAME_RE.fullmatch(name) or name.startswith(SYNTH_PREFIX):
                raise ProjectionConfigError(
                    f"projection.photos: {f} cannot name a job (letters, digits, _ . -, not "
                    f"starting with {SYNTH_PREFIX!r}); rename the file"
                )
            if name in items and Path(items[name]) != f:
                raise ProjectionConfigError(
                    f"projection.photos: two photos named {name!r} ({items[name]} and {f})"
                )
            items[name] = str(f)
    return items


def synthetic_names(count: int) -> list[str]:
    """Job names of the generated faces: ``synthetic0000``, ..."""
    return [f"{SYNTH_PREFIX}{k:04d}" for k in range(count)]


def projection_config(config: dict) -> dict:
    """The resolved ``projection`` settings of ``config``: the section with defaults, plus
    ``items`` ({name: photo path}), ``synthetic`` as a count and ``synthetic_items`` (names)."""
    prj = checked_section(config, "projection", ProjectionConfigError)
    check_projection(prj)
    prj["items"] = photo_items(prj["photos"])
    if prj["synthetic"] == "auto":
        prj["synthetic"] = len(prj["items"])
    prj["synthetic_items"] = synthetic_names(prj["synthetic"])
    prj["detector"] = checked_section(config, "detector")
    prj["embedder"] = checked_section(config, "embedder")
    prj["identity"] = (
        {"name": prj["identity_embedder"], "weights": prj["embedder"].get("weights"),
         "cache_dir": config.get("cache_dir")}
        if prj["identity_embedder"] and prj["losses"]["identity"] > 0 else None
    )  # fmt: skip
    return prj


#: the keys the project jobs read (everything but the item lists)
PROJECT_KEYS = (
    "space", "steps", "lr", "lr_rampup", "lr_rampdown", "noise_factor", "noise_ramp",
    "noise_reg", "w_avg_samples", "compare_size", "seed", "losses", "vgg16",
    "identity_embedder", "align", "video", "video_every", "log_every", "detector",
    "synthetic_seed", "identity", "embedder",
)  # fmt: skip


def rule_params(prj: dict, *keys: str) -> dict:
    """The resolved settings ``keys`` of ``prj`` as one rule's params (keys sorted)."""
    return canonical({k: prj[k] for k in keys})


def projector_settings(prj: dict, keep_every: int = 0) -> Any:
    """The :class:`~ganatlas.studies.projection.projector.ProjectorSettings` of ``prj``."""
    from ganatlas.studies.projection.projector import ProjectorSettings

    return ProjectorSettings(
        steps=prj["steps"], lr=prj["lr"], lr_rampup=prj["lr_rampup"],
        lr_rampdown=prj["lr_rampdown"], noise_factor=prj["noise_factor"],
        noise_ramp=prj["noise_ramp"], noise_reg=prj["noise_reg"],
        w_avg_samples=prj["w_avg_samples"], compare_size=prj["compare_size"],
        space=prj["space"], seed=prj["seed"], weights=dict(prj["losses"]),
        log_every=prj["log_every"], keep_every=keep_every,
    )  # fmt: skip

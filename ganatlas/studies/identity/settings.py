"""Settings of the identity study: the validated ``identity:`` section, resolved once.

The schema (section ``identity``) checks types, ranges and allowed values and fills every
default. Here: the cross-key checks (``dual_annealing.dims`` has ``k`` entries, bounds increase,
slice axes and dims inside Z are checked against the network in the job) and the targets: a
folder expands into one target per photo (``<name>-<stem>``), a file stays one target, and
``seed:N`` is a generated face.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

from ganatlas.config import ConfigError, canonical, check_against, checked_section, section_schema

PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")


class IdentityConfigError(ConfigError):
    """An ``identity:`` config value is invalid; the message names the key."""


def check_identity(sec: dict) -> None:
    """Cross-key checks of a schema-validated ``identity`` section (IdentityConfigError)."""
    da = sec["search"]["dual_annealing"]
    if da["dims"] is not None and len(da["dims"]) != da["k"]:
        raise IdentityConfigError(
            f"identity.search.dual_annealing.dims must list k = {da['k']} dimensions, "
            f"got {da['dims']!r}"
        )
    lo, hi = da["bounds"]
    if not lo < hi:
        raise IdentityConfigError(
            f"identity.search.dual_annealing.bounds must be [low, high] with low < high, "
            f"got {da['bounds']!r}"
        )
    if sec["search"]["cma"]["start"] is not None:
        spec = point_spec("start", sec["search"]["cma"]["start"], "identity.search.cma")
        if spec.space == "w+":
            raise IdentityConfigError("identity.search.cma.start must be a z or w point, not w+")
    start = point_spec("start", sec["iterate"]["start"], "identity.iterate")
    if start.space != "z":
        raise IdentityConfigError(
            f"identity.iterate.start must be a z point, got space {start.space}"
        )


def point_spec(name: str, value: Any, prefix: str):
    """The parsed latent point ``value`` (ganatlas.points syntax); IdentityConfigError naming
    ``<prefix>.<name>``."""
    from ganatlas.points import PointError, parse_points

    try:
        return parse_points({name: value}, prefix)[name]
    except PointError as exc:
        raise IdentityConfigError(str(exc)) from None


def expand_targets(targets: dict[str, Any]) -> dict[str, dict]:
    """``{target name: {"kind": "photo" | "point", "value": path or point}}``. A folder gives one
    photo target per image file (sorted), named ``<name>-<file stem>``; a path ending in a photo
    suffix must exist; anything else must be a latent point (ganatlas.points syntax). Errors
    name the key."""
    out: dict[str, dict] = {}
    for name, spec in targets.items():
        path = Path(spec).expanduser() if isinstance(spec, str) else None
        if path is not None and path.is_dir():
            photos = sorted(p for p in path.iterdir() if p.suffix.lower() in PHOTO_SUFFIXES)
            if not photos:
                raise IdentityConfigError(
                    f"identity.targets.{name}: folder {path} holds no photo "
                    f"({', '.join(PHOTO_SUFFIXES)})"
                )
            for p in photos:
                stem = re.sub(r"[^A-Za-z0-9_]", "_", p.stem)
                out[f"{name}-{stem}"] = {"kind": "photo", "value": str(p)}
        elif path is not None and path.suffix.lower() in PHOTO_SUFFIXES:
            if not path.is_file():
                raise IdentityConfigError(f"identity.targets.{name}: photo {path} does not exist")
            out[name] = {"kind": "photo", "value": str(path)}
        else:
            point_spec(name, spec, "identity.targets")
            out[name] = {"kind": "point", "value": spec}
    return out


def identity_config(config: dict) -> dict:
    """The resolved ``identity`` settings of ``config`` (validated here when not yet done), with
    ``targets`` expanded (see :func:`expand_targets`) and the top-level ``embedder`` and
    ``detector`` sections (the photo detector) added."""
    sec = checked_section(config, "identity", IdentityConfigError)
    check_identity(sec)
    sec["targets"] = expand_targets(sec["targets"])
    for key in ("embedder", "detector"):  # the top-level sections the study's jobs use
        top = copy.deepcopy(config.get(key) or {})
        sec[key] = check_against(top, section_schema(key), f"{key}.")
    return sec


#: The resolved keys each rule of rules/identity.smk passes its stage (``search`` is trimmed to
#: what the search stage reads for ``identity_search``).
RULE_KEYS: dict[str, tuple[str, ...]] = {
    "identity_target": ("embedder", "det_size", "photo_det_size", "require_face", "detector",
                        "noise_mode"),
    "identity_search": ("embedder", "det_size", "photo_det_size", "require_face",
                        "no_face_distance", "noise_mode", "search"),
    "identity_target_figures": ("embedder", "det_size", "photo_det_size", "require_face",
                                "no_face_distance", "noise_mode", "search"),
    "identity_iterate": ("embedder", "det_size", "photo_det_size", "require_face", "noise_mode",
                         "iterate"),
}  # fmt: skip
SEARCH_STAGE_KEYS = ("budget", "seed", "dual_annealing", "cma", "gradient")


def stage_params(sec: dict, rule: str, target: str | None = None) -> dict:
    """The params of ``rule`` (see :data:`RULE_KEYS`); ``identity_target`` adds the target."""
    p = {k: sec[k] for k in RULE_KEYS[rule]}
    if rule == "identity_search":
        p["search"] = {k: sec["search"][k] for k in SEARCH_STAGE_KEYS}
    if rule == "identity_target":
        p["target"] = sec["targets"][target]
    return canonical(p)


def rule_params(sec: dict, *keys: str, **extra: Any) -> dict:
    """The resolved settings ``keys`` of ``sec`` (plus ``extra``) as one rule's params, keys
    sorted so that the order a config lists them in never reruns a job."""
    return canonical({**{k: sec[k] for k in keys}, **extra})

"""Settings of the monsters study: the validated ``monsters:`` section, resolved once.

The schema (section ``monsters``) checks types and ranges and fills defaults; this module resolves
the radius grid (``{max, num}`` or a list -> a sorted list starting at 0), names the networks
(``net0`` = the top-level ``network``, ``net1``... = ``monsters.networks``) and merges the
detector of the radial jobs (the top-level ``detector:`` section).
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from ganatlas.config import ConfigError, canonical, check_against, checked_section, section_schema


class MonstersConfigError(ConfigError):
    """A ``monsters:`` config value is invalid; the message names the key and what is allowed."""


def radius_grid(spec: Any) -> list[float]:
    """The radii (in the radius unit) of ``monsters.radii``: ``{max, num}`` -> num values from 0
    to max; a list -> sorted, unique. Raises MonstersConfigError on a grid without two radii."""
    if isinstance(spec, dict):
        vals = np.linspace(0.0, float(spec["max"]), int(spec["num"]))
    else:
        vals = np.asarray(sorted({float(r) for r in spec}))
    if len(vals) < 2 or np.any(vals < 0):
        raise MonstersConfigError(
            f"monsters.radii needs at least two distinct radii >= 0, got {spec!r}"
        )
    return [round(float(v), 10) for v in vals]


def check_monsters(mon: dict) -> None:
    """Cross-key checks of a schema-validated ``monsters`` section (MonstersConfigError)."""
    radius_grid(mon["radii"])
    if len(set(mon["networks"])) != len(mon["networks"]):
        raise MonstersConfigError(f"monsters.networks has duplicates: {mon['networks']!r}")


def monsters_config(config: dict) -> dict:
    """The resolved ``monsters`` settings of a checked ``config``.

    A copy of the section with ``radii`` a sorted list, ``embedder`` = ``map.embedder``,
    ``nets`` ``{label: network value}`` (``net0`` the top-level network), ``detector`` the
    top-level detector section and ``w_avg`` the top-level ``w_avg`` section (samples and seed
    of the centre statistics).
    """
    mon = checked_section(config, "monsters", MonstersConfigError)
    check_monsters(mon)
    mon["radii"] = radius_grid(mon["radii"])
    mon["embedder"] = mon["map"]["embedder"]  # the radial jobs embed their faces too
    nets = [config.get("network", "digiface-dcgan"), *mon["networks"]]
    mon["nets"] = {f"net{i}": n for i, n in enumerate(nets)}
    top = copy.deepcopy(config.get("detector") or {})
    mon["detector"] = check_against(top, section_schema("detector"), "detector.")
    w_avg = copy.deepcopy(config.get("w_avg") or {})
    mon["w_avg"] = check_against(w_avg, section_schema("w_avg"), "w_avg.")
    return mon


def rule_params(mon: dict, *keys: str) -> dict:
    """The resolved settings ``keys`` of ``mon`` as one rule's params (keys sorted)."""
    return canonical({k: mon[k] for k in keys})

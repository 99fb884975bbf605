"""Settings of the semantics study: the validated ``semantics:`` section, resolved once.

The schema (``ganatlas/schema/config.schema.yaml``, section ``semantics``) checks types, ranges
and allowed values and fills every default; this module adds the checks that span several keys
(conditions and edits must name attributes that get a boundary, ``wp`` edits need a W boundary
and a layer range, external boundary names are unique) and resolves ``edit.alphas`` (a sorted
list that contains 0), ``edit.attributes`` (null -> ``attributes``), the protocol's defaults
(``select.fraction``, ``svm.solver``, ``edit.mode``) and the detector of the study's jobs (the top-level
``detector:`` section updated by ``semantics.detector``).
"""

from __future__ import annotations

import copy
from typing import Any

from ganatlas.config import ConfigError, canonical, check_against, checked_section, section_schema
from ganatlas.studies.semantics.boundary import DEFAULT_FRACTION, DEFAULT_SOLVER

SPACES = ("z", "w")


class SemanticsConfigError(ConfigError):
    """A ``semantics:`` config value is invalid; the message names the key and what is allowed."""


def _defaults() -> dict[str, Any]:
    return check_against({}, section_schema("semantics"), "semantics.")


#: Keys of the ``semantics:`` section and their defaults (from the schema).
DEFAULTS: dict[str, Any] = _defaults()


def alpha_values(spec: Any) -> list[float]:
    """Alphas from an explicit list or ``{start, stop, step}`` (stop included), 0 always added."""
    if isinstance(spec, (list, tuple)):
        vals = [float(a) for a in spec]
    elif isinstance(spec, dict) and set(spec) == {"start", "stop", "step"}:
        start, stop, step = (float(spec[k]) for k in ("start", "stop", "step"))
        if step <= 0 or stop < start:
            raise SemanticsConfigError(
                f"semantics.edit.alphas needs step > 0 and stop >= start, got {spec!r}"
            )
        n = int(round((stop - start) / step))
        vals = [round(start + i * step, 10) for i in range(n + 1)]
    else:
        raise SemanticsConfigError(
            "semantics.edit.alphas must be a list of numbers or {start, stop, step}, "
            f"got {spec!r}"
        )
    if not vals:
        raise SemanticsConfigError("semantics.edit.alphas is empty")
    if 0.0 not in vals:
        vals = sorted([*vals, 0.0])  # the original sits in the middle of every grid
    return vals


def check_semantics(sem: dict) -> None:
    """Cross-key checks of a schema-validated ``semantics`` section (SemanticsConfigError)."""
    attrs = sem["attributes"]
    for prim, conds in sem["conditions"].items():
        conds = [conds] if isinstance(conds, str) else conds
        if prim in conds or any(a not in attrs for a in [prim, *conds]):
            raise SemanticsConfigError(
                f"semantics.conditions.{prim}: primary and conditions must be distinct names from "
                f"semantics.attributes {attrs}, got {conds!r}"
            )
    ed = sem["edit"]
    if not ed["seeds"] and not ed["latent_files"]:
        raise SemanticsConfigError("semantics.edit needs at least one seed or latent file")
    alpha_values(ed["alphas"])
    bad = [a for a in (ed["attributes"] or []) if a not in attrs]
    if bad:
        raise SemanticsConfigError(
            f"semantics.edit.attributes {bad} have no boundary; choose from semantics.attributes {attrs}"
        )
    allowed = list(sem["spaces"]) + (["wp"] if "w" in sem["spaces"] else [])
    if any(s not in allowed for s in ed["spaces"]):
        raise SemanticsConfigError(
            f"semantics.edit.spaces must be a non-empty list of {allowed} (wp needs a w boundary), "
            f"got {ed['spaces']!r}"
        )
    layers = ed["wp_layers"]
    ext_spaces = [b["space"] for b in ed["boundary_files"]]
    if ("wp" in ed["spaces"] or "wp" in ext_spaces) and (
        layers is None or not layers[0] < layers[1]
    ):
        raise SemanticsConfigError(
            f"semantics.edit.wp_layers must be [start, stop) with 0 <= start < stop when editing "
            f"in wp, got {layers!r}"
        )
    taken = set(attrs) | {conditional_name(p, c) for p, c in sem["conditions"].items()}
    names = [b["name"] for b in ed["boundary_files"]]
    clash = sorted({n for n in names if n in taken or names.count(n) > 1})
    if clash:
        raise SemanticsConfigError(
            f"semantics.edit.boundary_files: names {clash} repeat or clash with an attribute or a "
            f"conditional direction ({sorted(taken)}); give each file its own name"
        )


def conditional_name(primary: str, conditions: str | list[str]) -> str:
    """The name of a conditional direction, InterFaceGAN's style: ``age_c_gender_eyeglasses``."""
    conds = [conditions] if isinstance(conditions, str) else list(conditions)
    return f"{primary}_c_{'_'.join(conds)}"


def edit_names(sem: dict) -> list[str]:
    """Directions the ``edit`` jobs edit along (resolved ``sem``): ``edit.attributes``, then the
    conditional directions when ``edit.conditional`` is set. External files have their own jobs."""
    ed = sem["edit"]
    conds = (
        [conditional_name(p, c) for p, c in sem["conditions"].items()] if ed["conditional"] else []
    )
    return [*ed["attributes"], *conds]


def semantics_config(config: dict) -> dict:
    """The resolved ``semantics`` settings of ``config`` (validated here when not yet done).

    Returns a copy of the section with ``conditions`` values as lists, ``edit.alphas`` a sorted
    list containing 0, ``edit.attributes`` resolved, and ``detector`` the merged detector section
    of the study's jobs (top-level ``detector`` updated by ``semantics.detector``).
    """
    sem = checked_section(config, "semantics", SemanticsConfigError)
    check_semantics(sem)
    sem["conditions"] = {
        p: [c] if isinstance(c, str) else list(c) for p, c in sem["conditions"].items()
    }
    ed = sem["edit"]
    ed["alphas"] = alpha_values(ed["alphas"])
    if ed["attributes"] is None:
        ed["attributes"] = list(sem["attributes"])
    # Protocol defaults (DEFAULT_FRACTION / DEFAULT_SOLVER give the reasons).
    proto = sem["protocol"]
    if sem["select"]["fraction"] is None:
        sem["select"]["fraction"] = DEFAULT_FRACTION[proto]
    if sem["svm"]["solver"] == "protocol":
        sem["svm"]["solver"] = DEFAULT_SOLVER[proto]
    if ed["mode"] == "protocol":
        ed["mode"] = "distance" if proto == "interfacegan" else "additive"
    top = copy.deepcopy(config.get("detector") or {})
    top = check_against(top, section_schema("detector"), "detector.")  # idempotent
    sem["detector"] = {**top, **sem["detector"]}
    return sem


def n_shards(cfg: dict) -> int:
    """Number of sampling shards for resolved settings ``cfg`` (keys samples, shard_size)."""
    return -(-cfg["samples"] // cfg["shard_size"])


def rule_params(sem: dict, *keys: str) -> dict:
    """The resolved settings ``keys`` of ``sem`` as one rule's params (keys sorted, so the order
    in which a config lists them never reruns a job)."""
    return canonical({k: sem[k] for k in keys})

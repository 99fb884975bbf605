"""``build_scorers(cfg)``: scorers from a list of config mappings, each with a ``type``."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from ganatlas.attributes.base import Scorer
from ganatlas.attributes.classifier import ClassifierScorer
from ganatlas.attributes.genderage import GenderAgeScorer
from ganatlas.attributes.pose import PoseScorer
from ganatlas.attributes.smile import SmileScorer

SCORER_TYPES: dict[str, type] = {
    "pose": PoseScorer,
    "genderage": GenderAgeScorer,
    "smile": SmileScorer,
    "classifier": ClassifierScorer,
}


def scorer_keys(kind: str) -> list[str]:
    """The config keys a scorer type accepts (its init fields; ``providers`` comes from code)."""
    cls = SCORER_TYPES[kind]
    return [f.name for f in dataclasses.fields(cls) if f.init and f.name != "providers"]


def build_scorers(cfg: Sequence[Mapping[str, Any]], providers: Any = None) -> list[Scorer]:
    """One scorer per entry ``{type: pose | genderage | smile | classifier, <options>}``.

    Raises ValueError naming the entry, the bad type or keys, and what is allowed; missing model
    files raise FileNotFoundError naming the key.
    """
    if isinstance(cfg, Mapping) or not isinstance(cfg, Sequence):
        raise ValueError(f"scorers must be a list of mappings with a 'type', got {cfg!r}")
    scorers: list[Scorer] = []
    for i, item in enumerate(cfg):
        if not isinstance(item, Mapping):
            raise ValueError(f"scorers[{i}] must be a mapping with a 'type', got {item!r}")
        kind = item.get("type")
        if kind not in SCORER_TYPES:
            raise ValueError(
                f"scorers[{i}]: unknown or missing type {kind!r}; allowed types: "
                f"{sorted(SCORER_TYPES)}"
            )
        opts = {k: v for k, v in item.items() if k != "type"}
        allowed = scorer_keys(kind)
        bad = sorted(set(opts) - set(allowed))
        if bad:
            raise ValueError(
                f"scorers[{i}] (type {kind}): unknown keys {bad}; allowed keys: {allowed}"
            )
        required = [
            f.name
            for f in dataclasses.fields(SCORER_TYPES[kind])
            if f.init
            and f.default is dataclasses.MISSING
            and f.default_factory is dataclasses.MISSING
        ]
        missing = [k for k in required if k not in opts]
        if missing:
            raise ValueError(f"scorers[{i}] (type {kind}): missing required keys {missing}")
        if "providers" in {f.name for f in dataclasses.fields(SCORER_TYPES[kind])}:
            opts["providers"] = providers
        scorers.append(SCORER_TYPES[kind](**opts))
    return scorers

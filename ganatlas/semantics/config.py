"""The ``semantics:`` config section: defaults, merging and validation with clear errors."""

from __future__ import annotations

import copy
from typing import Any

SPACES = ("z", "w")

#: Keys of the ``semantics:`` section and their defaults (merged under the user's values).
DEFAULTS: dict[str, Any] = {
    "samples": 2000,  # N latents sampled and scored
    "shard_size": 500,  # latents per sampling job (resources: gpu=1)
    "seed": 0,  # shard k draws its latents from a seed derived from (seed, k)
    "batch_size": 32,  # render batch
    "noise_mode": "const",
    "spaces": ["z", "w"],  # latent spaces to train boundaries in
    # Attribute scorers (ganatlas.attributes build_scorers entries, or {type: planted, ...}).
    "scorers": [{"type": "pose"}, {"type": "smile"}],
    "attributes": ["yaw", "smile"],  # score columns that get a boundary
    "detector": {},  # overrides of the top-level detector: section for these jobs
    "select": {"k": None, "fraction": 0.25},  # top/bottom K per attribute, or a fraction of valid
    "val_fraction": 0.3,
    "split_seed": 0,
    "svm": {"C": 1.0, "max_iter": 20000},
    "conditions": {},  # {primary: [condition, ...]} -> conditional directions
    "edit": {
        "seeds": [0, 1, 2, 3],  # faces to edit: z drawn from each seed
        "latent_files": [],  # .npy/.npz files of z [N, z_dim] to edit as well
        "alphas": {"start": -3.0, "stop": 3.0, "step": 0.5},  # or an explicit list
        "attributes": None,  # null = every attribute in `attributes`
        "spaces": ["z", "w"],
        "wp_layers": None,  # [start, stop) rows of ws for W+ layer-range edits (StyleGAN)
        "grid_faces": 4,  # faces shown per grid
    },
}

_TOP_KEYS = set(DEFAULTS)
_EDIT_KEYS = set(DEFAULTS["edit"])


class SemanticsConfigError(ValueError):
    """A ``semantics:`` config value is invalid; the message names the key and what is allowed."""


def _merge(base: dict, over: dict) -> dict:
    out = copy.deepcopy(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict) and k not in ("conditions",):
            out[k] = _merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def _int(cfg: dict, key: str, lo: int, where: str = "semantics") -> int:
    v = cfg[key]
    if isinstance(v, bool) or not isinstance(v, int) or v < lo:
        raise SemanticsConfigError(f"{where}.{key} must be an integer >= {lo}, got {v!r}")
    return v


def alpha_values(spec: Any) -> list[float]:
    """Alphas from an explicit list or ``{start, stop, step}`` (stop included)."""
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


def semantics_config(config: dict) -> dict:
    """``config["semantics"]`` merged over DEFAULTS and validated (SemanticsConfigError).

    Also resolves ``edit.attributes`` (null -> ``attributes``) and ``edit.alphas`` to a sorted
    list that contains 0.
    """
    user = config.get("semantics", {}) or {}
    if not isinstance(user, dict):
        raise SemanticsConfigError(f"semantics: expected a mapping, got {user!r}")
    unknown = sorted(set(user) - _TOP_KEYS)
    if unknown:
        raise SemanticsConfigError(
            f"semantics: unknown key(s) {unknown}; allowed keys: {sorted(_TOP_KEYS)}"
        )
    if isinstance(user.get("edit"), dict):
        bad = sorted(set(user["edit"]) - _EDIT_KEYS)
        if bad:
            raise SemanticsConfigError(
                f"semantics.edit: unknown key(s) {bad}; allowed keys: {sorted(_EDIT_KEYS)}"
            )
    cfg = _merge(DEFAULTS, user)
    for key, lo in (("samples", 2), ("shard_size", 1), ("seed", 0), ("batch_size", 1)):
        _int(cfg, key, lo)
    _int(cfg, "split_seed", 0)
    for key in ("spaces",):
        sp = cfg[key]
        if not isinstance(sp, list) or not sp or any(s not in SPACES for s in sp):
            raise SemanticsConfigError(
                f"semantics.{key} must be a non-empty list of {list(SPACES)}, got {sp!r}"
            )
    if not isinstance(cfg["scorers"], list) or not all(isinstance(s, dict) for s in cfg["scorers"]):
        raise SemanticsConfigError(
            f"semantics.scorers must be a list of mappings with a 'type', got {cfg['scorers']!r}"
        )
    attrs = cfg["attributes"]
    if not isinstance(attrs, list) or not attrs or not all(isinstance(a, str) for a in attrs):
        raise SemanticsConfigError(
            f"semantics.attributes must be a non-empty list of score names, got {attrs!r}"
        )
    if len(set(attrs)) != len(attrs):
        raise SemanticsConfigError(f"semantics.attributes has duplicates: {attrs!r}")
    sel = cfg["select"]
    if not isinstance(sel, dict) or set(sel) - {"k", "fraction"}:
        raise SemanticsConfigError(
            f"semantics.select must be a mapping with keys k and/or fraction, got {sel!r}"
        )
    k, frac = sel.get("k"), sel.get("fraction")
    if k is not None and (isinstance(k, bool) or not isinstance(k, int) or k < 2):
        raise SemanticsConfigError(f"semantics.select.k must be an integer >= 2 or null, got {k!r}")
    if k is None and (
        isinstance(frac, bool) or not isinstance(frac, (int, float)) or not 0 < frac <= 0.5
    ):
        raise SemanticsConfigError(
            f"semantics.select.fraction must be a number in (0, 0.5] when k is null, got {frac!r}"
        )
    vf = cfg["val_fraction"]
    if isinstance(vf, bool) or not isinstance(vf, (int, float)) or not 0 < vf < 1:
        raise SemanticsConfigError(f"semantics.val_fraction must be in (0, 1), got {vf!r}")
    svm = cfg["svm"]
    if not isinstance(svm, dict) or set(svm) - {"C", "max_iter"}:
        raise SemanticsConfigError(f"semantics.svm allows keys C, max_iter, got {svm!r}")
    if not isinstance(svm["C"], (int, float)) or svm["C"] <= 0:
        raise SemanticsConfigError(f"semantics.svm.C must be a number > 0, got {svm['C']!r}")
    cond = cfg["conditions"]
    if not isinstance(cond, dict):
        raise SemanticsConfigError(
            f"semantics.conditions must map a primary attribute to a list of conditions, got {cond!r}"
        )
    for prim, conds in cond.items():
        if isinstance(conds, str):
            conds = cond[prim] = [conds]
        names = [prim, *conds] if isinstance(conds, list) else None
        if names is None or not conds or any(a not in attrs for a in names) or prim in conds:
            raise SemanticsConfigError(
                f"semantics.conditions.{prim}: primary and conditions must be distinct names from "
                f"semantics.attributes {attrs}, got {conds!r}"
            )
    if not isinstance(cfg["detector"], dict):
        raise SemanticsConfigError(
            f"semantics.detector must be a mapping of detector keys, got {cfg['detector']!r}"
        )
    _validate_edit(cfg)
    return cfg


def _validate_edit(cfg: dict) -> None:
    ed = cfg["edit"]
    attrs = cfg["attributes"]
    seeds = ed["seeds"]
    if not isinstance(seeds, list) or not all(
        isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in seeds
    ):
        raise SemanticsConfigError(
            f"semantics.edit.seeds must be a list of integers >= 0, got {seeds!r}"
        )
    files = ed["latent_files"]
    if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
        raise SemanticsConfigError(
            f"semantics.edit.latent_files must be a list of .npy/.npz paths, got {files!r}"
        )
    if not seeds and not files:
        raise SemanticsConfigError("semantics.edit needs at least one seed or latent file")
    ed["alphas"] = alpha_values(ed["alphas"])
    if ed["attributes"] is None:
        ed["attributes"] = list(attrs)
    bad = [a for a in ed["attributes"] if a not in attrs]
    if bad:
        raise SemanticsConfigError(
            f"semantics.edit.attributes {bad} have no boundary; choose from semantics.attributes {attrs}"
        )
    sp = ed["spaces"]
    allowed = [s for s in cfg["spaces"]] + (["wp"] if "w" in cfg["spaces"] else [])
    if not isinstance(sp, list) or not sp or any(s not in allowed for s in sp):
        raise SemanticsConfigError(
            f"semantics.edit.spaces must be a non-empty list of {allowed} (wp needs a w boundary), "
            f"got {sp!r}"
        )
    layers = ed["wp_layers"]
    if "wp" in sp and (
        not isinstance(layers, list)
        or len(layers) != 2
        or not all(isinstance(v, int) for v in layers)
        or not 0 <= layers[0] < layers[1]
    ):
        raise SemanticsConfigError(
            f"semantics.edit.wp_layers must be [start, stop) with 0 <= start < stop when editing "
            f"in wp, got {layers!r}"
        )
    _int(ed, "grid_faces", 1, "semantics.edit")


def n_shards(cfg: dict) -> int:
    """Number of sampling shards for a validated ``cfg``."""
    return -(-cfg["samples"] // cfg["shard_size"])

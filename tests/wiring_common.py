"""Shared pieces of the stage-level settings-wiring tests (tests/test_settings_wiring.py,
tests/studies/paths/test_paths_wiring.py, tests/studies/projection/test_projection_wiring.py):
the schema walk, artifact comparison and the two checks every key gets."""

from __future__ import annotations

import fnmatch
import pickle
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest


@dataclass(frozen=True)
class Asset:
    """A path made at run time by a test's ``assets`` fixture (stand-in models, packs, files)."""

    name: str


def schema_keys(schema: dict, prefix: str = "") -> list[str]:
    """Dotted leaf keys of ``schema``: objects with ``properties`` are walked into."""
    out = []
    for key, sub in schema.get("properties", {}).items():
        if sub.get("type") == "object" and sub.get("properties"):
            out += schema_keys(sub, f"{prefix}{key}.")
        else:
            out.append(prefix + key)
    return out


def set_key(config: dict, key: str, value: Any) -> None:
    """Set dotted ``key`` in ``config``, creating the sections on the way."""
    *parents, last = key.split(".")
    for k in parents:
        config = config.setdefault(k, {})
    config[last] = value


def equal(a: Any, b: Any, rtol: float = 0.0) -> bool:
    """Bit-identical (``rtol`` 0), or numbers equal to ``rtol`` (NaN equal to NaN)."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        a, b = np.asarray(a), np.asarray(b)
        if a.dtype != b.dtype or a.shape != b.shape:
            return False
        if rtol == 0 or a.dtype.kind not in "fc":
            return a.tobytes() == b.tobytes()
    elif rtol == 0 or type(a) is not type(b):
        return pickle.dumps(a) == pickle.dumps(b)
    try:
        fa, fb = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    except (TypeError, ValueError):  # lists holding None: no tolerance
        return pickle.dumps(a) == pickle.dumps(b)
    return fa.shape == fb.shape and bool(np.allclose(fa, fb, rtol=rtol, atol=0, equal_nan=True))


def diff(before: dict, after: dict, rtol: float = 0.0, ignore: Iterable[str] = ()) -> set[str]:
    """Artifacts that differ (or exist on one side only), except those matching ``ignore``."""
    ignore = tuple(ignore)
    return {
        k
        for k in before.keys() | after.keys()
        if not any(fnmatch.fnmatch(k, g) for g in ignore)
        and (k not in before or k not in after or not equal(before[k], after[k], rtol))
    }


def matching(names: Iterable[str], glob: str) -> set[str]:
    """Artifacts that ``glob`` names: ``file:part`` globs match whole names, others the file."""
    if ":" in glob:
        return {n for n in names if fnmatch.fnmatch(n, glob)}
    return {n for n in names if fnmatch.fnmatch(n.split(":", 1)[0], glob)}


def fail_unclassified(key: str, table_file: str) -> None:
    pytest.fail(
        f"config key {key!r} is in neither WIRED nor NO_EFFECT of {table_file}: "
        "classify it (the outputs it changes, or why it changes none)"
    )


def assert_nothing_changed(key: str, reason: str, changed: set[str]) -> None:
    assert not changed, f"{key} should change nothing ({reason}); changed: {changed}"


def assert_wired(
    key: str,
    value: Any,
    change: tuple[str, ...],
    same: tuple[str, ...],
    may: tuple[str, ...],
    names: set[str],
    changed: set[str],
) -> None:
    """Every ``change`` glob changed, every ``same`` glob exists and did not, and nothing outside
    ``change`` + ``may`` changed."""
    for glob in change:
        assert matching(changed, glob), (
            f"{key} = {value!r}: no {glob} changed (ignored setting?); changed: {sorted(changed)}"
        )
    for glob in same:
        assert matching(names, glob), f"{key}: no output matches {glob}"
        assert not matching(changed, glob), (
            f"{key} = {value!r} changed {sorted(matching(changed, glob))}, "
            "which must stay identical"
        )
    allowed = set().union(*(matching(names, g) for g in change + may))
    assert changed <= allowed, (
        f"{key} = {value!r} changed outputs it should not: {sorted(changed - allowed)}"
    )


def check_wired_entry(key: str, entry: Any, before: dict, after: dict, ignore=()) -> None:
    """:func:`assert_wired` for a table entry (``value``, ``change``, ``same``, ``may``) on the
    artifacts of the baseline and of the run with the changed key."""
    changed = diff(before, after, ignore=ignore)
    names = before.keys() | after.keys()
    assert_wired(key, entry.value, entry.change, entry.same, entry.may, names, changed)


def assert_tables_name_only(wired: dict, no_effect: dict, keys: Iterable[str]) -> None:
    """No key in both tables, and no table entry for a key the schema does not have."""
    both = set(wired) & set(no_effect)
    stale = (set(wired) | set(no_effect)) - set(keys)
    assert not both, f"keys in both WIRED and NO_EFFECT: {sorted(both)}"
    assert not stale, f"table entries for keys the schema does not have: {sorted(stale)}"


def fake_onnx(path: Path, size: int, out_dim: int, seed: int) -> Path:
    """A tiny ONNX graph [1, 3, size, size] -> [1, out_dim] that InsightFace routes by shape
    (112: ArcFace recognition; 192 with 3309 outputs: the 3D 68-point landmark model)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    w = numpy_helper.from_array(rng.uniform(-0.01, 0.01, (3, out_dim)).astype(np.float32), "W")
    b = numpy_helper.from_array(rng.uniform(-0.5, 0.5, out_dim).astype(np.float32), "B")
    graph = helper.make_graph(
        [
            helper.make_node("GlobalAveragePool", ["data"], ["pool"], name="pool"),
            helper.make_node("Flatten", ["pool"], ["flat"], name="flat"),
            helper.make_node("Gemm", ["flat", "W", "B"], ["out"], name="fc"),
        ],
        "stand_in",
        [helper.make_tensor_value_info("data", TensorProto.FLOAT, [1, 3, size, size])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, [1, out_dim])],
        [w, b],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path

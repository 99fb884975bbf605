"""Compare two output folders of the same config, file by file (for refactors that must not change
results): NPZ arrays and Parquet values exactly, network.json as data, everything else by bytes.
Logs and markdown reports are skipped.

    python scripts/compare_runs.py results/before results/after
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd


def same_file(f: Path, g: Path) -> bool:
    """True when ``f`` and ``g`` hold the same results (see the module docstring)."""
    if f.suffix == ".parquet":
        try:
            pd.testing.assert_frame_equal(pd.read_parquet(f), pd.read_parquet(g))
        except AssertionError as exc:
            print(f"  {f.name}: {str(exc)[:300]}")
            return False
        return True
    if f.suffix == ".npz":
        x, y = np.load(f), np.load(g)
        return sorted(x.files) == sorted(y.files) and all(
            np.array_equal(x[k], y[k]) for k in x.files
        )
    if f.name == "network.json":
        return json.loads(f.read_text()) == json.loads(g.read_text())
    return f.read_bytes() == g.read_bytes()


def main(argv: list[str]) -> int:
    a, b = Path(argv[0]), Path(argv[1])
    same = differ = 0
    for f in sorted(a.rglob("*")):
        if f.is_dir() or "logs" in f.relative_to(a).parts or f.suffix in (".md", ".html"):
            continue
        g = b / f.relative_to(a)
        ok = g.is_file() and same_file(f, g)
        same += ok
        differ += not ok
        if not ok:
            print(("missing " if not g.is_file() else "differs ") + str(f.relative_to(a)))
    print(f"{same} identical, {differ} different")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

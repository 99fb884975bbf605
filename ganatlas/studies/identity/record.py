"""An append-only record of a search's evaluations, and the evaluator that replays it on resume.

File layout (JSON lines): line 1 ``{"header": {...}}`` (method and the settings that fix the
search's sequence of proposals), then one line per evaluation ``{"i", "x", "latent", "distance",
"seconds", "elapsed", "extra"}``: ``x: [k]`` the search coordinates, ``latent: [latent_dim]`` the
point rendered, ``seconds`` the wall time of that evaluation, ``elapsed`` the search's wall time
summed over every run so far. Each line is flushed and fsynced; a last line cut by a kill is
dropped on reading.

Resume by replay: every method here is deterministic given its seed and the values it is told,
so a resumed search restarts its optimiser and the :class:`Evaluator` answers the first
``len(record)`` proposals from the record (checking that each proposal is the recorded one) and
evaluates only after that. The count adds up and nothing is rendered twice.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np


class RecordMismatchError(RuntimeError):
    """A record was written by a search with other settings, or replay proposed another point."""


class StopSearch(Exception):  # noqa: N818 - a control-flow signal, not an error
    """Raised by the evaluator to end a search: ``reason`` is 'threshold' or 'budget'."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def read_record(path: str | Path) -> tuple[dict | None, list[dict]]:
    """``(header, rows)`` of a record file; ``(None, [])`` when it does not exist. A final line
    that is not valid JSON (cut by a kill) is ignored."""
    path = Path(path)
    if not path.exists():
        return None, []
    header, rows = None, []
    lines = path.read_text().splitlines()
    for n, line in enumerate(lines):
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            if n == len(lines) - 1:
                break  # the line a killed run was writing
            raise RecordMismatchError(f"{path}: line {n + 1} is not JSON") from None
        if n == 0:
            header = obj.get("header")
        else:
            rows.append(obj)
    return header, rows


class Record:
    """Append-only evaluation record at ``path`` for a search described by ``header``.

    An existing file must carry the same header (else RecordMismatchError naming the file); a cut
    last line is truncated away before appending.
    """

    def __init__(self, path: str | Path, header: dict) -> None:
        self.path = Path(path)
        self.header = json.loads(json.dumps(header))
        old, self.rows = read_record(self.path)
        if old is not None and old != self.header:
            raise RecordMismatchError(
                f"{self.path} was written by a search with other settings "
                f"({_diff(old, self.header)}); delete it to start again"
            )
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lines = [json.dumps({"header": self.header})] + [json.dumps(r) for r in self.rows]
        tmp = self.path.with_name(self.path.name + f".tmp{os.getpid()}")
        tmp.write_text("\n".join(lines) + "\n")  # rewritten whole: drops a cut last line
        os.replace(tmp, self.path)
        self._fh = open(self.path, "a")  # noqa: SIM115 - closed in close()

    def append(self, row: dict) -> None:
        self._fh.write(json.dumps(row) + "\n")
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self.rows.append(row)

    def close(self) -> None:
        self._fh.close()

    def __enter__(self) -> Record:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _diff(a: dict, b: dict) -> str:
    keys = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
    return ", ".join(f"{k}: {a.get(k)!r} -> {b.get(k)!r}" for k in keys) or "same keys"


class Evaluator:
    """Counts, records and replays evaluations of ``objective`` for one search.

    objective: ``x: [k] -> (distance, latent [latent_dim], extra dict)`` in search coordinates.
    Calling the evaluator returns the distance; it raises :class:`StopSearch` before an
    evaluation beyond ``budget`` and right after one below ``threshold`` (None: never). With
    ``grad=True`` the objective returns ``(distance, latent, extra, grad [k])`` and so does
    :meth:`value_and_grad` (the gradient is recorded in ``extra["grad"]`` for replay).
    """

    def __init__(
        self,
        objective: Callable,
        record: Record,
        budget: int,
        threshold: float | None,
        log: Callable[[str], None] | None = None,
        log_every: int = 50,
    ) -> None:
        if budget < 1:
            raise ValueError(f"budget must be >= 1 evaluation, got {budget}")
        self.objective = objective
        self.record = record
        self.budget = int(budget)
        self.threshold = threshold
        self.count = 0
        self.log = log
        self.log_every = log_every
        self.best = float("inf")
        self._t0 = time.perf_counter()
        self._elapsed0 = record.rows[-1]["elapsed"] if record.rows else 0.0
        self.replayed = 0

    @property
    def done_reason(self) -> str | None:
        """'threshold' or 'budget' when the record already ends the search, else None."""
        rows = self.record.rows
        if self.threshold is not None and any(r["distance"] < self.threshold for r in rows):
            return "threshold"
        if len(rows) >= self.budget:
            return "budget"
        return None

    def __call__(self, x: np.ndarray) -> float:
        return self._eval(x, grad=False)[0]

    def value_and_grad(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        return self._eval(x, grad=True)

    def _eval(self, x: np.ndarray, grad: bool) -> tuple[float, np.ndarray | None]:
        x = np.asarray(x, dtype=np.float64).reshape(-1)
        i = self.count
        if i < len(self.record.rows):
            row = self.record.rows[i]
            if not np.array_equal(np.asarray(row["x"], dtype=np.float64), x):
                raise RecordMismatchError(
                    f"{self.record.path}: evaluation {i} was at another point than this run "
                    "proposes (the record is from another search); delete it to start again"
                )
            d = float(row["distance"])
            g = np.asarray(row["extra"]["grad"]) if grad else None
            self.replayed += 1
        else:
            if i >= self.budget:
                raise StopSearch("budget")
            t = time.perf_counter()
            out = self.objective(x)
            d, latent, extra = float(out[0]), out[1], dict(out[2])
            g = None
            if grad:
                g = np.asarray(out[3], dtype=np.float64)
                extra["grad"] = g.tolist()
            now = time.perf_counter()
            self.record.append({
                "i": i, "x": x.tolist(), "latent": np.asarray(latent, np.float64).tolist(),
                "distance": d, "seconds": now - t, "elapsed": self._elapsed0 + now - self._t0,
                "extra": extra,
            })  # fmt: skip
        self.count += 1
        self.best = min(self.best, d)
        if self.log is not None and self.count % self.log_every == 0:
            self.log(f"{self.count}/{self.budget} evaluations, best distance {self.best:.4f}")
        if self.threshold is not None and d < self.threshold:
            raise StopSearch("threshold")
        if self.count >= self.budget:
            raise StopSearch("budget")
        return d, g

"""Search methods on planted objectives: stop at the threshold, respect the budget, resume from
the record without redoing an evaluation."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ganatlas.studies.identity.record import (
    Evaluator,
    Record,
    RecordMismatchError,
    read_record,
)
from ganatlas.studies.identity.search import (
    best_so_far,
    cma_search,
    dual_annealing_search,
    gradient_search,
)

TARGET = np.array([1.2, -0.7, 2.1, 0.3])


def planted(x):
    """Distance to a planted point, with a latent twice the coordinates (to check the record)."""
    d = float(np.linalg.norm(x - TARGET))
    return d, 2 * x, {"faces": 1}


def planted_grad(x):
    d, lat, extra = planted(x)
    return d, lat, extra, (x - TARGET) / max(d, 1e-12)


def run(method, path, budget, threshold, calls=None, **kw):
    def counted(x):
        if calls is not None:
            calls.append(x.copy())
        return planted_grad(x) if method == "gradient" else planted(x)

    header = {"method": method, "seed": 0}
    with Record(path, header) as rec:
        ev = Evaluator(counted, rec, budget, threshold)
        if method == "dual_annealing":
            return dual_annealing_search(ev, 4, (-3, 3), seed=0), ev
        if method == "cma":
            return cma_search(ev, 4, sigma0=1.0, restarts=2, seed=3), ev
        return gradient_search(ev, 4, lr=0.1), ev


@pytest.mark.parametrize("method", ["dual_annealing", "cma", "gradient"])
def test_reaches_threshold_and_records_every_evaluation(tmp_path, method):
    res, ev = run(method, tmp_path / "r.jsonl", 3000, 0.05)
    assert res.reason == "threshold"
    assert res.best_distance < 0.05
    header, rows = read_record(tmp_path / "r.jsonl")
    assert header == {"method": method, "seed": 0}
    assert len(rows) == res.evaluations == ev.count
    assert rows[-1]["distance"] == res.best_distance  # stops right after the first hit
    assert all(r["distance"] >= 0.05 for r in rows[:-1])
    np.testing.assert_array_equal(np.asarray(rows[5]["latent"]), 2 * np.asarray(rows[5]["x"]))
    el = [r["elapsed"] for r in rows]
    assert el == sorted(el) and all(r["seconds"] >= 0 for r in rows)


@pytest.mark.parametrize("method", ["dual_annealing", "cma", "gradient"])
def test_budget_stops_the_search(tmp_path, method):
    res, _ = run(method, tmp_path / "r.jsonl", 37, 1e-9)
    assert res.reason == "budget" and res.evaluations == 37


@pytest.mark.parametrize("method", ["dual_annealing", "cma", "gradient"])
def test_resume_continues_from_the_record(tmp_path, method):
    """A search killed after 40 evaluations (a cut last line too) resumes: the evaluation count
    adds up to the uninterrupted run's, the points are the same, nothing is evaluated twice."""
    full_calls, first, second = [], [], []
    full, _ = run(method, tmp_path / "full.jsonl", 3000, 0.05, full_calls)
    path = tmp_path / "r.jsonl"
    run(method, path, 40, 0.05, first)
    with open(path, "a") as fh:
        fh.write('{"i": 40, "x": [0.1')  # the line a kill cut
    res, ev = run(method, path, 3000, 0.05, second)
    assert len(first) == 40 and len(first) + len(second) == len(full_calls) == res.evaluations
    assert ev.replayed == 40
    np.testing.assert_array_equal(np.array(first + second), np.array(full_calls))
    assert res.best_distance == full.best_distance
    _, rows = read_record(path)
    assert [r["i"] for r in rows] == list(range(res.evaluations))
    # a finished search resumed again evaluates nothing
    third = []
    res3, _ = run(method, path, 3000, 0.05, third)
    assert third == [] and res3.evaluations == res.evaluations


def test_record_from_other_settings_is_refused(tmp_path):
    path = tmp_path / "r.jsonl"
    run("cma", path, 10, None)
    with pytest.raises(RecordMismatchError, match=r"other settings \(seed: 0 -> 1\)"):
        Record(path, {"method": "cma", "seed": 1})
    rows = [json.loads(line) for line in path.read_text().splitlines()[1:]]
    rows[3]["x"][0] += 1.0
    path.write_text(json.dumps({"header": {"method": "cma", "seed": 0}}) + "\n"
                    + "\n".join(json.dumps(r) for r in rows) + "\n")  # fmt: skip
    with pytest.raises(RecordMismatchError, match="evaluation 3 was at another point"):
        run("cma", path, 20, None)


def test_budget_zero_is_refused(tmp_path):
    with (
        Record(tmp_path / "r.jsonl", {}) as rec,
        pytest.raises(ValueError, match="budget must be >= 1"),
    ):
        Evaluator(planted, rec, 0, None)


def test_best_so_far_is_the_running_minimum():
    np.testing.assert_array_equal(best_so_far([3, 1, 2, 0.5, 4]), [3, 1, 1, 0.5, 0.5])

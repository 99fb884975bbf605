"""The search table and its markdown summary."""

from __future__ import annotations

import json

import pandas as pd

from ganatlas.studies.identity.stages import stage_search_summary


def test_summary_table_counts_successes_and_skips(tmp_path):
    res = {
        "a.json": {"method": "cma", "status": "done", "reason": "threshold", "threshold": 0.6,
                   "best_distance": 0.5, "success": True, "evaluations": 40,
                   "evaluations_to_threshold": 40, "seconds": 9.5, "no_face": 2},
        "b.json": {"method": "gradient", "status": "skipped", "reason": "not differentiable",
                   "threshold": 0.6},
        "c.json": {"method": "cma", "status": "done", "reason": "budget", "threshold": 0.6,
                   "best_distance": 0.7, "success": False, "evaluations": 100,
                   "evaluations_to_threshold": None, "seconds": 20.0, "no_face": 0},
    }  # fmt: skip
    for name, r in res.items():
        (tmp_path / name).write_text(json.dumps(r))
    per = {"t1": [tmp_path / "a.json", tmp_path / "b.json"], "t2": [tmp_path / "c.json"]}
    stage_search_summary(per, tmp_path / "s.csv", tmp_path / "s.md")
    df = pd.read_csv(tmp_path / "s.csv")
    assert df[["target", "method", "status"]].values.tolist() == [
        ["t1", "cma", "done"], ["t1", "gradient", "skipped"], ["t2", "cma", "done"]
    ]  # fmt: skip
    assert df.evaluations.tolist() == [40, 0, 100] and df.success.tolist() == [True, False, False]
    md = (tmp_path / "s.md").read_text()
    assert "- cma: reached the threshold for 1 of 2 targets" in md
    assert "- gradient: skipped (not differentiable)" in md


def test_no_targets_says_so(tmp_path):
    stage_search_summary({}, tmp_path / "s.csv", tmp_path / "s.md")
    assert "No targets: set identity.targets" in (tmp_path / "s.md").read_text()
    assert pd.read_csv(tmp_path / "s.csv").columns[0] == "target"

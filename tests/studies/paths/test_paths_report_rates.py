"""The paths report's rates recomputed from the raw tables: detected shares as percentages with
Wilson 95% intervals (scipy), and the first frame whose distance to frame 0 exceeds the
embedder's threshold."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
from scipy.stats import binomtest

from ganatlas.studies.paths.report import build_report


def hand_rate(detected: list[bool]) -> str:
    """``k/n (p%, 95% CI lo%-hi%)`` with the interval from scipy's Wilson method."""
    k, n = int(sum(detected)), len(detected)
    ci = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    return f"{k}/{n} ({k / n:.0%}, 95% CI {ci.low:.0%}-{ci.high:.0%})"


def test_report_rates_and_threshold_crossing_from_the_tables(tmp_path):
    det = [True, True, False, True, False, True, True]
    dist = [0.0, 0.2, 0.55, 0.61, 0.4, 0.9, 1.3]  # first above 0.6: frame 3
    sub = tmp_path / "interpolate" / "tour"
    sub.mkdir(parents=True)
    pd.DataFrame({"frame": range(7), "detected": det, "embedded": [True] * 6 + [False],
                  "dist_first": dist}).to_parquet(sub / "frames.parquet")  # fmt: skip
    (sub / "distances.json").write_text(
        json.dumps({"embedder": "dlib", "distance": "euclidean", "threshold": 0.6})
    )
    cells_det = [True] * 2 + [False] * 7  # 2 of 9
    (tmp_path / "planes" / "abc").mkdir(parents=True)
    pd.DataFrame({"detected": cells_det}).to_parquet(tmp_path / "planes" / "abc" / "cells.parquet")
    axes_det = [True] * 37 + [False] * 3 + [True, False]  # 40 axes, then zero and w_avg
    (tmp_path / "axes").mkdir()
    pd.DataFrame({
        "label": [f"e{i}" for i in range(40)] + ["zero", "w_avg"],
        "axis": list(range(40)) + [-1, -1],
        "detected": axes_det,
        "score": [0.9 - 0.01 * i if d else 0.0 for i, d in enumerate(axes_det)],
    }).to_parquet(tmp_path / "axes" / "axes.parquet")  # fmt: skip
    p = {"detector": {"backend": "mtcnn", "det_size": 160},
         "interpolate": {"method": "slerp", "steps": 4, "paths": {"tour": ["a", "b", "c"]}},
         "planes": {"planes": {"abc": {"origin": "a", "x": "b", "y": "c"}}},
         "axes": {"scale": 2.0, "space": "z", "worst": 2},
         "report": {"sections": ["interpolate", "planes", "axes"]}}  # fmt: skip
    text = build_report(p, {"name": "net", "kind": "dcgan", "z_dim": 100, "num_ws": 1}, tmp_path)
    assert f"Faces detected in {hand_rate(det)} frames; embedded in 6." in text
    assert "the distance to frame 0 first exceeds it at frame 3." in text
    assert f"Faces in {hand_rate(cells_det)} cells." in text
    assert (
        f"40 axes 2 * e_i in z: faces in {hand_rate(axes_det[:40])}; zero: 0.50, w_avg: no face."
        in text
    )
    # the three undetected axes (score 0.0), lowest axis index first
    assert "Lowest-scoring (scariest): e37 (0.00), e38 (0.00)." in text
    assert "2/9 (22%, 95% CI 6%-55%)" in text  # one rate written out by hand


def test_first_crossing_never_when_every_distance_is_within_the_threshold(tmp_path):
    sub = tmp_path / "interpolate" / "ab"
    sub.mkdir(parents=True)
    pd.DataFrame({"frame": range(3), "detected": [True] * 3, "embedded": [True] * 3,
                  "dist_first": np.array([0.0, 0.3, 0.6])}).to_parquet(sub / "frames.parquet")  # fmt: skip
    (sub / "distances.json").write_text(
        json.dumps({"embedder": "arcface", "distance": "cosine", "threshold": 0.6})
    )
    p = {"detector": {"backend": "insightface", "det_size": 640},
         "interpolate": {"method": "lerp", "steps": 3, "paths": {"ab": ["a", "b"]}},
         "report": {"sections": ["interpolate"]}}  # fmt: skip
    text = build_report(p, {"name": "net"}, tmp_path)
    assert "first exceeds it at never." in text  # 0.6 is not above a threshold of 0.6
    assert "3/3 (100%, 95% CI 44%-100%)" in text

"""paths settings: bad input is refused when the config is checked (before any job), naming the
key and what is allowed; every paths / embedder key reaches exactly the jobs that read it."""

from __future__ import annotations

import copy

import pytest
import yaml
from conftest import REPO, run_snakemake

from ganatlas.config import ConfigError, check_config, load_schema
from ganatlas.studies.paths.settings import (
    axes_params,
    interpolate_params,
    mix_params,
    paths_config,
    plane_params,
    report_params,
    video_paths,
)

TINY = yaml.safe_load((REPO / "tests" / "configs" / "paths_tiny.yaml").read_text())


def cfg(**paths) -> dict:
    c = copy.deepcopy(TINY)
    for key, value in paths.items():
        section, _, sub = key.partition("__")
        if sub:
            c["paths"].setdefault(section, {})[sub] = value
        else:
            c["paths"][section] = value
    return c


@pytest.mark.parametrize(
    "config, needle",
    [
        (cfg(interpolate__paths={"ab": ["a", "nobody"]}),
         r"paths\.interpolate\.paths\.ab: unknown point 'nobody'; defined in paths\.points: a, b, c, wa, wb"),
        (cfg(interpolate__paths={"one": ["a"]}),
         r"paths\.interpolate\.paths\.one: a path needs at least 2 points, got \['a'\]"),
        (cfg(interpolate__paths={"mixed": ["a", "wa"]}),
         r"paths\.interpolate\.paths\.mixed: the points of a path share one space"),
        (cfg(points={"a": "seed:1", "p": {"expr": "a", "space": "w+"}}),
         r"paths\.points\.p: 'a' is a z point"),
        (cfg(points={"p": {"expr": "zero", "space": "w+"}}),
         r"paths\.points\.p\.space: w\+ needs per-layer styles; network 'digiface-dcgan' is Z-only"),
        (cfg(points={"a": "seed:1 + boundary:glasses"}),
         r"paths\.points\.a: boundary:glasses was not trained in z .*: yaw, smile; add it to semantics\.attributes"),
        (cfg(points={"a": "sed:1"}), r"paths\.points\.a: cannot read 'sed:1' as a point; allowed: seed:N"),
        (cfg(planes__planes={"p": {"origin": "a", "x": "b", "y": "zz"}}),
         r"paths\.planes\.planes\.p\.y: unknown point 'zz'"),
        (cfg(mix__ranges={"bad": [4, 2]}), r"paths\.mix\.ranges\.bad: \[start, stop\) needs stop > start"),
        (cfg(report__sections=["mix"]), r"paths\.report\.sections: mix needs W\+ styles; .*Z-only"),
        (cfg(interpolate__method="slerp", interpolate__paths={"w": ["wa", "wb"]}),
         r"paths\.interpolate\.method: slerp is for Z paths; w is in w"),
        (cfg(interpolate__steps=1), r"config key 'paths\.interpolate\.steps': got 1 .*>= 2"),
        (cfg(interpolate__method="cubic"), r"paths\.interpolate\.method.*allowed values: lerp, slerp, gradient"),
        ({**TINY, "embedder": {"name": "vgg"}}, r"embedder\.name.*allowed values: dlib, arcface, facenet, onnx"),
    ],
)  # fmt: skip
def test_bad_config_is_refused_naming_the_key(config, needle):
    with pytest.raises(ConfigError, match=needle):
        check_config(config)


def test_resolved_defaults_are_the_sources():
    p = paths_config(check_config({}))
    assert p["planes"]["xs"] == [-1.0, -0.8, -0.6, -0.4, -0.2, 0.0, 0.2, 0.4, 0.6, 0.8]
    assert p["interpolate"]["steps"] == 10 and p["interpolate"]["method"] == "gradient"
    assert p["mix"]["ranges"] == {"coarse": [0, 4], "middle": [4, 8], "fine": [8, None]}
    assert p["report"]["sections"] == ["interpolate", "planes", "axes"]  # DCGAN: no mix
    assert video_paths(p) == ["tour"]
    sg = paths_config(check_config({"network": "stylegan2-ffhq-1024"}))
    assert sg["report"]["sections"] == ["interpolate", "planes", "axes", "mix"]


@pytest.mark.parametrize(
    "target, paths, needle",
    [
        ("interpolate", {"ab": ["a", "ghost"]}, "paths.interpolate.paths.ab: unknown point 'ghost'"),
        ("mix", None, "paths.mix: style mixing needs W+ (one style row per layer); network "
                      "'digiface-dcgan' is Z-only"),
    ],
)  # fmt: skip
@pytest.mark.slow  # a Snakemake dry run (parse + DAG): 5-40 s on the shared machine
def test_snakemake_refuses_before_any_job(tmp_path, target, paths, needle):
    bad = cfg(interpolate__paths=paths) if paths else cfg()
    bad["outdir"] = str(tmp_path / "out")
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(bad))
    proc = run_snakemake("-n", target, "--configfile", str(tmp_path / "bad.yaml"), check=False)
    assert proc.returncode != 0
    assert needle in proc.stdout + proc.stderr
    assert not (tmp_path / "out").exists()


# --- every paths / embedder key reaches exactly the jobs that read it ---------------------------


def jobs(config: dict) -> dict[str, object]:
    """Job -> its params (what Snakemake compares to rerun), plus the planned outputs."""
    p = paths_config(check_config(copy.deepcopy(config)))
    out: dict[str, object] = {
        f"interpolate:{n}": interpolate_params(p, n) for n in p["interpolate"]["paths"]
    }
    out |= {f"planes:{n}": plane_params(p, n) for n in p["planes"]["planes"]}
    out |= {f"mix:{n}": mix_params(p, n) for n in p["mix"]["ranges"]}
    out |= {"axes": axes_params(p), "report": report_params(p), "video": p["interpolate"]["fps"]}
    out["targets"] = (video_paths(p), p["interpolate"]["gif"], p["report"]["sections"])
    return out


BASE = cfg(mix__ranges={"coarse": [0, 4], "fine": [8, None]})
RENDER = {"interpolate:ab", "interpolate:tour", "planes:abc", "axes", "mix:coarse", "mix:fine"}
SCORED = {"interpolate:ab", "interpolate:tour", "planes:abc", "axes", "report"}
EMBED = {"interpolate:ab", "interpolate:tour"}
MIX = {"mix:coarse", "mix:fine", "report"}

#: key -> (new value, the jobs whose params change). Detector override keys change SCORED.
EXPECTED: dict[str, tuple[object, set[str]]] = {
    "points": ({**BASE["paths"]["points"], "c": "seed:9"}, {"interpolate:tour", "planes:abc"}),
    "batch_size": (5, RENDER),
    "noise_mode": ("random", RENDER),
    "interpolate.paths": (
        {"ab": ["b", "a"], "tour": ["a", "b", "c"]},
        {"interpolate:ab", "report"},
    ),
    "interpolate.steps": (5, {"interpolate:ab", "interpolate:tour", "report"}),
    "interpolate.method": ("lerp", {"interpolate:ab", "interpolate:tour", "report"}),
    "interpolate.video": ("always", {"report", "targets"}),
    "interpolate.fps": (12, {"video", "report"}),
    "interpolate.gif": (False, {"report", "targets"}),
    "planes.planes": ({"abc": {"origin": "b", "x": "a", "y": "c"}}, {"planes:abc", "report"}),
    "planes.xs": ([0, 1], {"planes:abc", "report"}),
    "planes.ys": ([0, 1], {"planes:abc", "report"}),
    "planes.scorers": ([{"type": "smile"}], {"planes:abc", "report"}),
    "axes.space": ("w", {"axes", "report"}),
    "axes.scale": (3.0, {"axes", "report"}),
    "axes.count": (2, {"axes", "report"}),
    "axes.worst": (1, {"axes", "report"}),
    "axes.columns": (4, {"axes", "report"}),
    "mix.rows": ([5], MIX),
    "mix.cols": ([6], MIX),
    "mix.psi": (0.7, MIX),
    "mix.ranges": ({"coarse": [0, 2], "fine": [8, None]}, {"mix:coarse", "report"}),
    "report.sections": (["axes"], {"report", "targets"}),
}
DETECTOR_VALUES = {
    "backend": "none", "pack": "p2", "root": "/r", "det_model": "x.onnx", "rec_model": "r.onnx",
    "det_size": 160, "det_thresh": 0.7, "workers": 2, "dlib_detector": "cnn",
    "extra_tasks": "all", "providers": ["CPUExecutionProvider"],
}  # fmt: skip
EMBEDDER_VALUES = {
    "name": "facenet", "threshold": 0.5, "crop": "full", "margin": 0.2, "det_size": 320,
    "pack": "p2", "root": "/r", "det_model": "d.onnx", "rec_model": "r.onnx", "weights": "w.pt",
    "model": "m.onnx", "input_size": 64, "mean": 0.0, "std": 1.0, "channel_order": "bgr",
    "layout": "nhwc", "distance": "euclidean",
}  # fmt: skip


def schema_leaf_keys(schema: dict, prefix: str = "") -> list[str]:
    out = []
    for key, sub in schema.get("properties", {}).items():
        if sub.get("type") == "object" and sub.get("properties"):
            out += schema_leaf_keys(sub, f"{prefix}{key}.")
        else:
            out.append(prefix + key)
    return out


SCHEMA = load_schema()
PATHS_KEYS = schema_leaf_keys(SCHEMA["properties"]["paths"])
EMBEDDER_KEYS = schema_leaf_keys(SCHEMA["properties"]["embedder"])


def test_every_key_is_classified():
    det = {f"detector.{k}" for k in DETECTOR_VALUES}
    assert set(PATHS_KEYS) == set(EXPECTED) | det
    assert set(EMBEDDER_KEYS) == set(EMBEDDER_VALUES)


def _set(config: dict, dotted: str, value) -> dict:
    c = copy.deepcopy(config)
    node = c
    *parents, last = dotted.split(".")
    for k in parents:
        node = node.setdefault(k, {})
    node[last] = value
    return c


def _changed(key: str, value) -> set[str]:
    before, after = jobs(BASE), jobs(_set(BASE, key, value))
    return {j for j in before.keys() | after.keys() if before.get(j) != after.get(j)}


@pytest.mark.parametrize("key", sorted(EXPECTED))
def test_paths_key_reruns_exactly_its_jobs(key):
    value, want = EXPECTED[key]
    assert _changed(f"paths.{key}", value) == want


@pytest.mark.parametrize("key", sorted(DETECTOR_VALUES))
def test_detector_override_reaches_the_scoring_jobs(key):
    assert _changed(f"paths.detector.{key}", DETECTOR_VALUES[key]) == SCORED


@pytest.mark.parametrize("key", sorted(EMBEDDER_VALUES))
def test_embedder_key_reaches_the_interpolation_jobs(key):
    assert _changed(f"embedder.{key}", EMBEDDER_VALUES[key]) == EMBED

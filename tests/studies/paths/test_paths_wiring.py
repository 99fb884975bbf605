"""Every ``paths.*`` and ``embedder.*`` setting is wired: at the stage level, a changed key changes
the outputs it should, and no other.

tests/studies/paths/test_paths_settings.py shows that each key reaches the params of the jobs
that should read it; this module shows that the stages *read* them. One test per leaf key of the
schema's ``paths`` and ``embedder`` sections (walked as ``schema_keys`` of
tests/test_settings_wiring.py). Each key is either

- in :data:`WIRED`: a new (valid) value and the artifacts that must change (``change``), may
  change (``may``) and must stay identical (``same``). Each stage owning one of them is rerun on
  its own, on the baseline's files, with the params its rule would pass (``interpolate_params``,
  ``plane_params``, ... of ganatlas.studies.paths.settings, as rules/paths.smk does); every
  other artifact of those stages must stay identical. Or
- in :data:`NO_EFFECT`, with the reason; where a stage receives the key (batch size, workers,
  providers) the entry names the stages that are rerun to show that nothing changes.

A key in neither table fails its test. Artifacts are named ``<file>`` (bytes),
``<file.parquet>:<column>`` or ``<file.json>:<key>``, relative to ``{outdir}/paths``; globs use
:func:`fnmatch.fnmatch` (``*`` matches ``/`` too). The figures are recorded, not drawn: each
figure file holds the arguments its function got, each an artifact ``<file.png>:<argument>``
(drawing is tested in test_paths_stages.py).

Worlds (baselines built once per module, a stage at a time, only as far as the keys need):
``dcgan``: the embedded DCGAN, SCRFD 500m at 160 px (a pack in tmp), a stand-in ONNX embedder
(any shape and layout, built here), one 3-keyframe path of 5 frames (with its video), a 2 x 2
plane and 2 axes; ``sg``: a small StyleGAN2 pickle with noise (``noise_mode`` matters; its W is
not its Z), no detector, and two style-mixing ranges. ``base`` entries add a second path or
switch the embedder (arcface, facenet: stand-in weights made here), the detector (dlib) or the
plane's scorers (pose) for the keys that need them. The generators are loaded once per module.
"""

from __future__ import annotations

import fnmatch
import functools
import inspect
import json
import pickle
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import find_testdata
from wiring_common import (
    Asset,
    assert_nothing_changed,
    assert_tables_name_only,
    check_wired_entry,
    diff,
    fail_unclassified,
    fake_onnx,
    schema_keys,
    set_key,
)

from ganatlas.config import check_config, load_schema

KEYS = [k for k in schema_keys(load_schema()) if k.split(".", 1)[0] in ("paths", "embedder")]
SCRFD_500M, SCRFD_2_5G = "scrfd_500m.onnx", "scrfd_2.5g.onnx"


# --- the tables -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Wired:
    """A key that changes outputs. ``value`` / ``base`` values may be ``Asset("name")``."""

    value: Any
    change: tuple[str, ...]
    same: tuple[str, ...] = ()
    may: tuple[str, ...] = ()
    world: str = "dcgan"
    base: dict = field(default_factory=dict)  # other keys set in baseline and change alike


@dataclass(frozen=True)
class NoEffect:
    """A key that changes no output; ``verify``: stages rerun with ``value`` to show it."""

    reason: str
    value: Any = None
    verify: tuple[str, ...] = ()
    world: str = "dcgan"


FRAMES = "interpolate/*/frames/*"
AB, TOUR = "interpolate/ab/", "interpolate/tour/"
TABLE = "interpolate/*/frames.parquet"
DIST = (
    f"{TABLE}:dist_first",
    f"{TABLE}:dist_prev",
    "interpolate/*/distances.csv",
    "interpolate/*/distances.png",
    "interpolate/*/first_row.png",
)
CELLS, AXES = "planes/abc/cells.parquet", "axes/axes.parquet"
VIDEOS = "interpolate/*/video.*"
INTERP = "interpolate/*/[!v]*"  # every file of the interpolate stage (not the videos)
REPORT = "report.md"
#: what a detector setting changes: the best face's score in each scoring stage (then the
#: identity crop, distances, figures, report may follow); never the rendered images.
DET_CHANGE = (f"{TABLE}:det_score", f"{CELLS}:det_score", f"{AXES}:det_score")
DET_SAME = (FRAMES, f"{CELLS}:latent", f"{CELLS}:x", f"{AXES}:label", "planes/abc/montage.png")
DET_MAY = (INTERP, "planes/*", "axes/*", REPORT)
#: what an embedder setting changes: identity distances; never frames, detection or the strip.
EMB_SAME = (
    FRAMES,
    f"{TABLE}:det_score",
    f"{TABLE}:bbox",
    f"{TABLE}:latent_norm",
    "interpolate/*/strip.png",
)
EMB_MAY = (INTERP, REPORT)


def _det(value: Any, **kw) -> Wired:
    return Wired(value, change=DET_CHANGE, same=DET_SAME, may=DET_MAY, **kw)


def _emb(
    value: Any, base: dict, change: tuple[str, ...] = DIST, same: tuple[str, ...] = ()
) -> Wired:
    return Wired(value, change=change, same=EMB_SAME + same, may=EMB_MAY, base=base)


#: the embedder bases: the keys of one embedder are read only when it is the one named
ARCFACE = {
    "embedder.name": "arcface",
    "embedder.root": Asset("emb_root_a"),
    "embedder.pack": "pack",
    "embedder.det_size": 320,
}
FACENET = {"embedder.name": "facenet", "embedder.weights": Asset("facenet_a")}
#: dlib's CNN detector is slow on the CPU: a 96 px canvas
DLIB_DET = {"paths.detector.backend": "dlib", "paths.detector.det_size": 96}
POSE = {"paths.planes.scorers": [{"type": "pose"}]}


def mix_args(*args: str) -> tuple[str, ...]:
    """The arguments ``args`` of both mixing grids (rows, cols, mixed images; labels)."""
    return tuple(f"mix/{r}.png:{a}" for r in ("coarse", "fine") for a in args)


#: two paths (the world has one trajectory): for the keys that must leave one path alone
TWO = {"paths.interpolate.paths": {"ab": ["a", "b"], "tour": ["a", "b", "c"]}}
POSE_COLS = tuple(f"{CELLS}:{c}" for c in ("yaw", "pitch", "roll"))
ALL_RENDER = ("interpolate", "planes", "axes")

WIRED: dict[str, Wired] = {
    "paths.points": Wired(
        {"a": "seed:6", "b": "seed:7", "c": "seed:9"},
        change=(
            f"{TOUR}frames/*",
            f"{TOUR}frames.parquet:latent_norm",
            f"{CELLS}:latent",
            "planes/abc/montage.png:images",
        ),
        same=(f"{AB}*",),
        may=(f"{TOUR}*", "planes/abc/*"),
        base=TWO,
    ),
    "paths.noise_mode": Wired(
        "random",
        change=(FRAMES, "planes/abc/montage.png:images", "axes/sheet.png:images", "mix/*:mixed"),
        same=(f"{CELLS}:latent", f"{AXES}:label"),
        may=(INTERP, "planes/*", "axes/*", "mix/*"),
        world="sg",
    ),
    "paths.interpolate.paths": Wired(
        {"ab": ["b", "a"], "tour": ["a", "b", "c"]},
        change=(f"{AB}frames/*", f"{AB}frames.parquet:key_name", f"{AB}strip.png"),
        same=(f"{TOUR}*",),
        may=(f"{AB}*",),
        base=TWO,
    ),
    "paths.interpolate.steps": Wired(
        4,
        change=(f"{TOUR}frames/*", f"{TABLE}:t", f"{TABLE}:frame", REPORT),
        same=(VIDEOS,),  # the video stage reads the frames, not the setting
        may=(INTERP,),
    ),
    "paths.interpolate.method": Wired(
        "slerp",
        change=(f"{TOUR}frames/*", f"{TABLE}:latent_norm", REPORT),
        same=(f"{TABLE}:t", f"{TABLE}:key_name", VIDEOS),
        may=(INTERP,),
    ),
    "paths.interpolate.video": Wired(
        "always", change=(f"{AB}video.mp4", f"{AB}video.gif"), same=(f"{TOUR}video.*",), base=TWO
    ),
    "paths.interpolate.fps": Wired(8.0, change=(f"{TOUR}video.mp4", f"{TOUR}video.gif")),
    "paths.interpolate.gif": Wired(False, change=(f"{TOUR}video.gif",), same=(f"{TOUR}video.mp4",)),
    "paths.planes.planes": Wired(
        {"abc": {"origin": "b", "x": "a", "y": "c"}},
        change=(f"{CELLS}:latent", "planes/abc/montage.png:images", REPORT),
        same=(f"{CELLS}:x", f"{CELLS}:y"),
        may=("planes/abc/*",),
    ),
    "paths.planes.xs": Wired(
        [-1.0, 0.0, 1.0],
        change=(f"{CELLS}:x", f"{CELLS}:col", f"{CELLS}:latent", "planes/abc/montage.png:images"),
        may=("planes/abc/*", REPORT),
    ),
    "paths.planes.ys": Wired(
        [-0.5, 1.0],
        change=(f"{CELLS}:y", f"{CELLS}:latent", "planes/abc/montage.png:images"),
        same=(f"{CELLS}:x", f"{CELLS}:col"),
        may=("planes/abc/*", REPORT),
    ),
    "paths.planes.scorers": Wired(
        [{"type": "pose"}],
        change=(*POSE_COLS, "planes/abc/heatmaps.png"),
        same=(f"{CELLS}:det_score", f"{CELLS}:latent", "planes/abc/montage.png", REPORT),
    ),
    "paths.axes.space": Wired(
        "w",  # on the StyleGAN2: the DCGAN's W is its Z (no mapping network)
        change=("axes/sheet.png:images", "axes/sheet.png:title"),
        same=(f"{AXES}:label", f"{AXES}:axis"),
        may=("axes/*", REPORT),
        world="sg",
    ),
    "paths.axes.scale": Wired(
        3.0, change=("axes/sheet.png:images", REPORT), same=(f"{AXES}:label",), may=("axes/*",)
    ),
    "paths.axes.count": Wired(  # the report counts the axes in the table
        1, change=(f"{AXES}:label", "axes/sheet.png"), same=(REPORT,), may=("axes/*",)
    ),
    "paths.axes.worst": Wired(
        1, change=("axes/scariest.png", REPORT), same=("axes/sheet.png", f"{AXES}:det_score")
    ),
    "paths.axes.columns": Wired(
        2,
        change=("axes/sheet.png:columns",),
        same=("axes/sheet.png:images", "axes/sheet.png:labels", "axes/scariest.png", REPORT),
    ),
    "paths.mix.rows": Wired(
        [3],
        change=(*mix_args("rows", "mixed", "labels"), REPORT),
        same=mix_args("cols"),
        world="sg",
    ),
    "paths.mix.cols": Wired(
        [4, 5],
        change=(*mix_args("cols", "mixed", "labels"), REPORT),
        same=mix_args("rows"),
        world="sg",
    ),
    "paths.mix.ranges": Wired(
        {"coarse": [0, 3], "fine": [2, None]},
        change=("mix/coarse.png:mixed", "mix/coarse.png:labels"),
        same=("mix/coarse.png:rows", "mix/coarse.png:cols", "mix/fine.png", REPORT),
        world="sg",
    ),
    "paths.mix.psi": Wired(
        0.5, change=mix_args("rows", "cols", "mixed", "labels"), same=(REPORT,), world="sg"
    ),
    "paths.report.sections": Wired(["axes"], change=(REPORT,)),
    # detector overrides of the paths jobs (SCRFD 500m from root_a/models/pack is the baseline)
    "paths.detector.backend": Wired(
        "none",
        change=(f"{TABLE}:detected", f"{CELLS}:detected", f"{AXES}:detected"),
        same=DET_SAME,
        may=DET_MAY,
    ),
    "paths.detector.pack": _det("pack25"),
    "paths.detector.root": _det(Asset("root_b")),
    "paths.detector.det_model": _det(Asset(SCRFD_2_5G)),
    "paths.detector.det_size": _det(256),
    "paths.detector.det_thresh": Wired(
        0.72,  # between the baseline's face scores (0.64-0.81) in each stage
        change=(f"{TABLE}:detected", f"{CELLS}:detected", f"{AXES}:detected"),
        same=DET_SAME,
        may=DET_MAY,
    ),
    "paths.detector.dlib_detector": Wired(
        # dlib's CNN is slow on the CPU: shown on the axes stage only (5 images); the other
        # stages get the same detector section (the keys above show that they read it)
        "cnn",
        change=(f"{AXES}:det_score",),
        same=(f"{AXES}:label",),
        may=("axes/*",),
        base=DLIB_DET,
    ),
    "paths.detector.extra_tasks": Wired(
        "all",  # the pack's 68-landmark model feeds the pose scorer
        change=POSE_COLS,
        same=(f"{CELLS}:det_score", f"{CELLS}:latent", "planes/abc/montage.png:images"),
        may=("planes/abc/heatmaps.png",),
        base=POSE,
    ),
    # the identity embedder (dlib, crop auto: the detector's box, is the baseline)
    "embedder.name": _emb(
        "arcface",
        {
            "embedder.det_model": Asset(SCRFD_500M),
            "embedder.rec_model": Asset("arcface_b"),
            "embedder.det_size": 320,
        },  # read by arcface only
        (*DIST, "interpolate/*/distances.json:embedder"),
    ),
    "embedder.threshold": _emb(
        0.3,
        {},
        ("interpolate/*/distances.json:threshold", "interpolate/*/first_row.png"),
        same=(f"{TABLE}:dist_first", f"{TABLE}:dist_prev"),
    ),
    "embedder.crop": _emb("full", {}),
    "embedder.margin": _emb(0.3, {}),
    "embedder.det_size": _emb(160, ARCFACE),
    "embedder.pack": _emb("pack2", ARCFACE),
    "embedder.root": _emb(Asset("emb_root_b"), ARCFACE),
    "embedder.det_model": _emb(Asset(SCRFD_2_5G), ARCFACE),
    "embedder.rec_model": _emb(Asset("arcface_b"), ARCFACE),
    "embedder.weights": _emb(Asset("facenet_b"), FACENET),
    "embedder.model": _emb(Asset("onnx_b"), {}),
    "embedder.input_size": _emb([64, 48], {}),
    "embedder.mean": _emb([100.0, 127.5, 150.0], {}),
    "embedder.std": _emb(30.0, {}),
    "embedder.channel_order": _emb("bgr", {}),
    "embedder.layout": _emb("nhwc", {}),
    "embedder.distance": _emb("euclidean", {}, (*DIST, "interpolate/*/distances.json:distance")),
}
NO_EFFECT: dict[str, NoEffect] = {
    "paths.batch_size": NoEffect(
        "images per forward pass; every image is computed alone (const noise)",
        3,
        verify=(*ALL_RENDER, "mix"),
        world="sg",
    ),
    # the three scoring stages build their detector alike (frames.make_scoring; the wired keys
    # above show each of them reads the section): rerun on one of them
    "paths.detector.workers": NoEffect(
        "detection threads; each image's faces do not depend on them", 2, verify=("planes",)
    ),
    "paths.detector.providers": NoEffect(
        "onnxruntime providers: the CPU is the only one here (auto resolves to it)",
        ["CPUExecutionProvider"],
        verify=("planes",),
    ),
    "paths.detector.rec_model": NoEffect(
        "the detector's recogniser: no paths output holds the detector's embeddings (the "
        "identity distances use the embedder section)",
        Asset("arcface_b"),
        verify=("interpolate",),
    ),
}

#: Stage -> the files it writes (relative to ``{outdir}/paths``), in pipeline order.
STAGE_FILES: dict[str, tuple[str, ...]] = {
    "interpolate": (
        "interpolate/*/frames/*",
        "interpolate/*/frames.parquet",
        "interpolate/*/distances.*",
        "interpolate/*/strip.png",
        "interpolate/*/first_row.png",
    ),
    "video": ("interpolate/*/video.*",),
    "planes": ("planes/*",),
    "axes": ("axes/*",),
    "mix": ("mix/*",),
    "report": ("report.md",),
}
STAGES = list(STAGE_FILES)
DEPS = {"video": ["interpolate"], "report": ["interpolate", "video", "planes", "axes", "mix"]}


# --- the stages, called as the rules' scripts call them ---------------------------------------


def run_stage(stage: str, p: dict, d: Path, info: Path) -> None:
    """Run ``stage`` into ``d`` (= ``{outdir}/paths``) with the params its rules would pass:
    p is the resolved ``paths`` section (``PATHS`` of rules/paths.smk)."""
    from ganatlas.studies.paths import settings as S
    from ganatlas.studies.paths import stages as st

    sem = d.parent / "semantics"
    if stage == "interpolate":
        for name in p["interpolate"]["paths"]:
            sub = d / "interpolate" / name
            files = {
                "frames": "frames",
                "table": "frames.parquet",
                "distances": "distances.csv",
                "meta": "distances.json",
                "strip": "strip.png",
                "heatmap": "distances.png",
                "first_row": "first_row.png",
            }
            out = {k: str(sub / f) for k, f in files.items()}
            st.stage_interpolate(info, S.interpolate_params(p, name), sem, out)
    elif stage == "video":
        exts = ["mp4", "gif"] if p["interpolate"]["gif"] else ["mp4"]
        for name in S.video_paths(p):
            sub = d / "interpolate" / name
            for ext in exts:
                st.stage_video(sub / "frames", p["interpolate"]["fps"], sub / f"video.{ext}")
    elif stage == "planes":
        for name in p["planes"]["planes"]:
            sub = d / "planes" / name
            out = {
                k: str(sub / f)
                for k, f in [
                    ("table", "cells.parquet"),
                    ("montage", "montage.png"),
                    ("heatmaps", "heatmaps.png"),
                ]
            }
            st.stage_planes(info, S.plane_params(p, name), sem, out)
    elif stage == "axes":
        out = {
            k: str(d / "axes" / f)
            for k, f in [
                ("table", "axes.parquet"),
                ("sheet", "sheet.png"),
                ("scariest", "scariest.png"),
            ]
        }
        st.stage_axes(info, S.axes_params(p), out)
    elif stage == "mix":
        if "mix" in p["report"]["sections"]:
            for name in p["mix"]["ranges"]:
                st.stage_mix(info, S.mix_params(p, name), name, d / "mix" / f"{name}.png")
    else:
        assert stage == "report"
        st.stage_report(S.report_params(p), info, d, d / "report.md")


def stage_of_file(rel: str) -> str:
    owners = [s for s, pats in STAGE_FILES.items() if any(fnmatch.fnmatch(rel, p) for p in pats)]
    assert len(owners) == 1, f"{rel} is written by stages {owners}"
    return owners[0]


def _overlap(glob: str, pattern: str) -> bool:
    """Whether ``glob`` and a stage's file ``pattern`` can name one file (each matched against
    the other and against the pattern with ``*`` filled by a sample name)."""
    samples = [pattern.replace("*", x) for x in ("ab", "tour", "abc", "frame00000.png")]
    return (
        fnmatch.fnmatch(glob, pattern)
        or fnmatch.fnmatch(pattern, glob)
        or any(fnmatch.fnmatch(x, glob) for x in samples)
    )


def stages_of(globs: tuple[str, ...]) -> set[str]:
    """The stages whose files the artifact ``globs`` name."""
    out = set()
    for g in globs:
        f = g.split(":", 1)[0]
        owners = {s for s, pats in STAGE_FILES.items() if any(_overlap(f, p) for p in pats)}
        assert owners, f"artifact glob {g!r} names no stage's files"
        out |= owners
    return out


def files_of(d: Path, stages: set[str]) -> list[str]:
    rels = [p.relative_to(d).as_posix() for p in sorted(d.rglob("*")) if p.is_file()]
    return [r for r in rels if stage_of_file(r) in stages]


def artifacts(d: Path, stages: set[str]) -> dict[str, Any]:
    """Every artifact of the files ``stages`` wrote in ``d`` (see the module docstring)."""
    import pyarrow.parquet as pq

    out: dict[str, Any] = {}
    for rel in files_of(d, stages):
        p = d / rel
        if rel.endswith(".parquet"):
            t = pq.read_table(p)
            out.update({f"{rel}:{c}": t.column(c).to_pylist() for c in t.column_names})
        elif rel.endswith(".json"):
            out.update({f"{rel}:{k}": v for k, v in json.loads(p.read_text()).items()})
        else:
            data = p.read_bytes()
            if data.startswith(FIGURE):  # a recorded figure: one artifact per argument
                out.update({f"{rel}:{k}": v for k, v in pickle.loads(data[len(FIGURE) :]).items()})
            else:
                out[rel] = data
    return out


def resolve_assets(value: Any, assets: dict) -> Any:
    if isinstance(value, Asset):
        return assets[value.name]
    if isinstance(value, list):
        return [resolve_assets(v, assets) for v in value]
    if isinstance(value, dict):
        return {k: resolve_assets(v, assets) for k, v in value.items()}
    return value


# --- the baselines ----------------------------------------------------------------------------


def facenet_weights(path: Path, seed: int) -> str:
    """A random InceptionResnetV1 state dict (fixed seed) saved as ``path`` (float16: 55 MB)."""
    import torch

    from ganatlas.faces.facenet import InceptionResnetV1

    torch.manual_seed(seed)
    torch.save({k: v.half() for k, v in InceptionResnetV1().state_dict().items()}, path)
    return str(path)


def slice_onnx(path: Path, start: int, seed: int) -> str:
    """An ONNX embedder for any input shape and layout: tanh of 256 weighted flattened inputs
    from ``start`` on (so the size, the mean, the std, the channel order and the layout all
    move the embedding)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    w = np.random.default_rng(seed).uniform(0.5, 1.5, 256).astype(np.float32)
    consts = [
        numpy_helper.from_array(np.array(v, np.int64), n)
        for n, v in (("starts", [start]), ("ends", [start + 256]), ("axes", [1]))
    ]
    graph = helper.make_graph(
        [
            helper.make_node("Flatten", ["data"], ["flat"]),
            helper.make_node("Slice", ["flat", "starts", "ends", "axes"], ["part"]),
            helper.make_node("Mul", ["part", "W"], ["scaled"]),
            helper.make_node("Tanh", ["scaled"], ["out"]),
        ],
        "slice_embedder",
        [helper.make_tensor_value_info("data", TensorProto.FLOAT, ["n", "a", "b", "c"])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, ["n", 256])],
        [*consts, numpy_helper.from_array(w, "W")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return str(path)


@pytest.fixture(scope="module")
def assets(tmp_path_factory) -> dict[str, Any]:
    """Paths the configs name: InsightFace packs, stand-in models, the StyleGAN2 pickle (the
    FaceNet weights are made on first use)."""
    import torch

    from ganatlas.networks.persistence import save_network_pickle
    from ganatlas.networks.registry import FAMILIES

    models = find_testdata() / "models"
    if not ((models / SCRFD_500M).is_file() and (models / SCRFD_2_5G).is_file()):
        pytest.skip(f"SCRFD test models absent in {models} (set GANATLAS_TESTDATA)")
    pytest.importorskip("dlib")
    root = tmp_path_factory.mktemp("assets")
    out: dict[str, Any] = {"root": root, **{m: str(models / m) for m in (SCRFD_500M, SCRFD_2_5G)}}
    arc = [str(fake_onnx(root / f"arcface_{s}.onnx", 112, 512, seed=s)) for s in (2, 3, 4)]
    out["arcface_b"] = arc[2]
    packs = {  # folder -> (detector, extra files)
        "root_a/models/pack": (SCRFD_500M, {}),
        "root_a/models/pack25": (SCRFD_2_5G, {}),
        "root_b/models/pack": (SCRFD_2_5G, {}),
        "emb_root_a/models/pack": (SCRFD_500M, {"w600k_a.onnx": arc[0]}),
        "emb_root_a/models/pack2": (SCRFD_500M, {"w600k_a.onnx": arc[1]}),
        "emb_root_b/models/pack": (SCRFD_2_5G, {"w600k_a.onnx": arc[0]}),
    }
    for rel, (det, extra) in packs.items():
        (root / rel).mkdir(parents=True)
        (root / rel / det).symlink_to(models / det)
        for name, src in extra.items():
            (root / rel / name).symlink_to(src)
    fake_onnx(root / "root_a/models/pack/zz_landmark3d68.onnx", 192, 3309, seed=1)
    for name in ("root_a", "root_b", "emb_root_a", "emb_root_b"):
        out[name] = str(root / name)
    out["onnx_a"] = slice_onnx(root / "onnx_a.onnx", 0, seed=1)
    out["onnx_b"] = slice_onnx(root / "onnx_b.onnx", 4000, seed=2)
    g = FAMILIES["stylegan2"].small()
    with torch.no_grad():
        for name, p in g.named_parameters():
            if name.endswith("noise_strength"):
                p.fill_(0.5)  # random init is 0: noise_mode would not matter
    out["sg2"] = str(save_network_pickle(root / "sg2.pkl", G=g, G_ema=g))
    return out


def asset(assets: dict, name: str) -> str:
    if name.startswith("facenet_") and name not in assets:
        assets[name] = facenet_weights(assets["root"] / f"{name}.pt", seed=ord(name[-1]))
    return assets[name]


def world_config(world: str, assets: dict) -> dict:
    """The baseline config of ``world`` (unchecked: defaults are filled by check_config)."""
    if world == "dcgan":
        return {
            "network": "digiface-dcgan",
            "detector": {
                "backend": "insightface",
                "pack": "pack",
                "root": assets["root_a"],
                "det_size": 160,
            },
            "paths": {
                "points": {"a": "seed:6", "b": "seed:7", "c": "a - b + 0.5*e:3"},
                "batch_size": 8,
                "interpolate": {"paths": {"tour": ["a", "b", "c"]}, "steps": 3, "fps": 4},
                "planes": {
                    "planes": {"abc": {"origin": "a", "x": "b", "y": "c"}},
                    "xs": [-1, 1],
                    "ys": {"start": 0, "stop": 0.5, "num": 2},
                },
                "axes": {"count": 2, "worst": 2, "columns": 3, "scale": 8.0},
            },
            "embedder": {"name": "onnx", "model": assets["onnx_a"]},
        }
    assert world == "sg"
    return {
        "network": assets["sg2"],
        "paths": {
            "points": {"a": "seed:1", "b": "seed:2", "c": "seed:3"},
            "detector": {"backend": "none"},
            "interpolate": {"paths": {"ab": ["a", "b"]}, "steps": 3, "video": "never"},
            "planes": {"xs": [-1, 1], "ys": [0, 1]},
            "axes": {"count": 2, "worst": 1},
            "mix": {"rows": [0, 1], "cols": [2], "ranges": {"coarse": [0, 2], "fine": [2, None]}},
            "report": {"sections": ["interpolate", "planes", "axes", "mix"]},
        },
        "embedder": {"name": "onnx", "model": assets["onnx_a"], "crop": "full"},
    }


class Baselines:
    """Run folders of the baselines, each stage computed at most once (lazily)."""

    def __init__(self, root: Path, assets: dict) -> None:
        self.root, self.assets = root, assets
        self.runs: dict[str, tuple[dict, Path, set[str]]] = {}
        self.infos: dict[str, Path] = {}

    def resolve(self, value: Any) -> Any:
        if isinstance(value, Asset):
            return asset(self.assets, value.name)
        return resolve_assets(value, self.assets)

    def config(self, world: str, base: dict, key: str | None = None, value: Any = None) -> dict:
        """The resolved ``paths`` settings of ``world`` with ``base`` and ``key`` set."""
        from ganatlas.studies.paths.settings import paths_config

        c = world_config(world, self.assets)
        for k, v in [*base.items(), *([(key, value)] if key else [])]:
            set_key(c, k, self.resolve(v))
        return paths_config(check_config(c))

    def info(self, world: str) -> Path:
        """network.json of ``world`` (as the network rule writes it)."""
        from ganatlas.networks.resolve import describe_network

        if world not in self.infos:
            path = self.root / f"{world}_network.json"
            path.write_text(
                json.dumps(describe_network(world_config(world, self.assets)["network"]))
            )
            self.infos[world] = path
        return self.infos[world]

    def ensure(self, world: str, base: dict, stages: set[str]) -> Path:
        name = world + "".join(f"_{k}={v}" for k, v in sorted(base.items()))
        if name not in self.runs:
            d = self.root / f"base{len(self.runs)}" / "paths"
            d.mkdir(parents=True)
            self.runs[name] = (self.config(world, base), d, set())
        config, d, done = self.runs[name]
        need = set(stages)
        for s in stages:
            need |= set(DEPS.get(s, []))
        for s in STAGES:
            if s in need and s not in done:
                run_stage(s, config, d, self.info(world))
                done.add(s)
        return d

    def rerun(self, world: str, base: dict, key: str, value: Any, stages: set[str]):
        """(baseline artifacts, changed artifacts) of ``stages`` with ``key`` set to ``value``:
        each stage reruns on its own on the baseline's files."""
        base_dir = self.ensure(world, base, stages)
        config = self.config(world, base, key, value)
        after: dict[str, Any] = {}
        for s in stages:
            d = self.root / f"run_{key}_{s}" / "paths"
            shutil.copytree(base_dir, d, symlinks=True)
            for rel in files_of(d, {s}):
                (d / rel).unlink()
            run_stage(s, config, d, self.info(world))
            after.update(artifacts(d, {s}))
        return artifacts(base_dir, stages), after


@pytest.fixture(scope="module")
def baselines(tmp_path_factory, assets) -> Baselines:
    return Baselines(tmp_path_factory.mktemp("paths_wiring"), assets)


#: the first bytes of a recorded figure file
FIGURE = b"recorded figure\n"


def _plain(obj: Any) -> Any:
    """``obj`` as plain data with a deterministic pickle (DataFrames as CSV text)."""
    import pandas as pd

    if isinstance(obj, (pd.DataFrame, pd.Series)):
        return (type(obj).__name__, obj.to_csv())
    if isinstance(obj, np.ndarray):
        return ("ndarray", obj.dtype.str, obj.shape, obj.tobytes())
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    return obj


@pytest.fixture(scope="module", autouse=True)
def record_figures():
    """The paths figures are recorded, not drawn: each figure file holds what its function was
    given (what reaches the figure is what matters here; drawing is tested elsewhere)."""
    from ganatlas.studies.paths import figures

    def recorder(fn):
        sig = inspect.signature(fn)

        def record(*args, **kwargs):
            data = dict(sig.bind(*args, **kwargs).arguments)
            path = Path(data.pop("path"))
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(FIGURE + pickle.dumps({"figure": fn.__name__, **_plain(data)}))

        return record

    names = (
        "labelled_sheet",
        "plane_montage",
        "plane_heatmaps",
        "distance_heatmap",
        "first_row_plot",
        "mix_grid",
    )
    with pytest.MonkeyPatch.context() as mp:
        for name in names:
            mp.setattr(figures, name, recorder(getattr(figures, name)))
        yield


@pytest.fixture(scope="module", autouse=True)
def load_networks_once():
    """Each network.json's generator is loaded once (no paths setting reaches the loading; the
    stages only run it, without gradients)."""
    from ganatlas.studies.paths import stages

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(stages, "load_network_job", functools.cache(stages.load_network_job))
        yield


# --- the tests --------------------------------------------------------------------------------


#: FaceNet's forward passes take ~15 s on a busy CPU
SLOW = {"embedder.weights"}


@pytest.mark.parametrize(
    "key", [pytest.param(k, marks=pytest.mark.slow) if k in SLOW else k for k in KEYS]
)
def test_paths_setting_is_wired(key, baselines):
    """Changing ``key`` changes the outputs its table entry names, and no other output."""
    if key in NO_EFFECT:
        entry = NO_EFFECT[key]
        if entry.verify:
            before, after = baselines.rerun(entry.world, {}, key, entry.value, set(entry.verify))
            assert before, f"{key}: the stages {entry.verify} wrote nothing"
            changed = diff(before, after)
            assert_nothing_changed(key, entry.reason, changed)
        return
    if key not in WIRED:
        fail_unclassified(key, Path(__file__).name)
    entry = WIRED[key]
    stages = stages_of(entry.change + entry.same + entry.may)
    before, after = baselines.rerun(entry.world, entry.base, key, entry.value, stages)
    check_wired_entry(key, entry, before, after)


def test_tables_name_only_schema_keys():
    assert_tables_name_only(WIRED, NO_EFFECT, KEYS)
    assert {"paths.interpolate.steps", "paths.detector.det_thresh", "embedder.layout"} <= set(KEYS)

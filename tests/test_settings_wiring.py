"""Every setting is wired: a changed config key changes the outputs it should, and no other.

One test per leaf key of the config schema (``ganatlas/schema/config.schema.yaml``, walked
recursively: ``w_avg.samples``, ``clamp.radius``, ``semantics.svm.C``, ...). Each key is either

- in :data:`WIRED`: a new (valid) value and the artifacts that must change (``change``), may
  change (``may``) and must stay identical (``same``). Each stage that owns one of those
  artifacts is rerun on its own, on the shared baseline's inputs, with the changed config (no
  Snakemake: the stage functions are called the way the rules' scripts call them, with the
  rules' params), so a change shows that *that* stage reads the key; ``chained`` entries rerun
  their stages in order instead. Every other artifact of those stages must stay identical. Or
- in :data:`NO_EFFECT`, with the reason; where a stage receives the key (batch sizes, threads,
  providers) the entry names the stages that are rerun to show that nothing changes.

A key in neither table fails its test: new keys cannot be forgotten.

Artifacts are named ``<file>`` (bytes), ``<file.npz>:<array>``, ``<file.parquet>:<column>`` or
``<file.json>:<key>``; globs use :func:`fnmatch.fnmatch` (``*`` matches ``/`` too). Two baselines
("worlds") are built once per module, each only as far as the keys need:

- ``walk``: the embedded DCGAN (faces), 1 seed x 8 steps, the real SCRFD (a pack of files in
  tmp) for the walk's detect stage and for the semantics sample stage (a planted scorer, the
  detector section inherited from the top level; ``semantics.detector.extra_tasks`` adds the
  pose scorer);
- ``sg2``: a small StyleGAN2 saved as an official pickle (noise strengths set, so that
  ``noise_mode`` matters; ``G`` differs from ``G_ema``), the semantics chain with planted scorers
  and no detector, and a 4-step walk for the render stage.
"""

from __future__ import annotations

import copy
import fnmatch
import functools
import json
import pickle
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
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

REPO = Path(__file__).resolve().parents[1]
SCRFD_500M = "scrfd_500m.onnx"
SCRFD_2_5G = "scrfd_2.5g.onnx"


SCHEMA_KEYS = schema_keys(load_schema())


# --- the tables -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Wired:
    """A key that changes outputs. ``value`` / ``base`` values may be ``Asset("name")``."""

    value: Any
    change: tuple[str, ...]
    same: tuple[str, ...] = ()
    may: tuple[str, ...] = ()
    world: str = "walk"
    base: dict = field(default_factory=dict)  # other keys set in baseline and change alike
    chained: bool = False  # rerun the stages as a chain, each reading the previous one's output


@dataclass(frozen=True)
class NoEffect:
    """A key that changes no output; ``verify``: stages rerun with ``value`` to show it."""

    reason: str
    value: Any = None
    verify: tuple[str, ...] = ()
    world: str = "walk"


WALK_NPZ = "walks/*.npz"
WALK_PATH = (f"{WALK_NPZ}:w_out", f"{WALK_NPZ}:distance", f"{WALK_NPZ}:norm")
W_AVG_STATS = tuple(
    f"w_avg.npz:{k}" for k in ("w_avg", "w_avg_norm", "distances", "norms", "percentiles")
)
DET = "detections/*.parquet"
DET_META = tuple(f"{DET}:{c}" for c in ("filename", "seed", "step", "distance"))
DET_FACE = tuple(f"{DET}:{c}" for c in ("detected", "score", "num_faces", "bbox", "kps"))
SAMPLES = "semantics/samples/*.parquet"
SAMPLE_FACE = tuple(
    f"{SAMPLES}:{c}" for c in ("detected", "det_score", "bbox", "yaw", "pitch", "roll")
)
SAMPLE_LATENT = tuple(f"{SAMPLES}:{c}" for c in ("index", "z", "w", "a"))
BOUNDARY_OUT = (
    "semantics/boundaries/*",
    "semantics/conditional/*",
    "semantics/accuracy.csv",
    "semantics/conditional.csv",
    "semantics/boundary_correlation_*",
    "semantics/figures/boundary_correlation.png",
)
BOUNDARY_NORMALS = "semantics/boundaries/*.npy"
SCORE_OUT = (
    "semantics/score_correlation.csv",
    "semantics/figures/score_correlation.png",
    "semantics/samples_summary.json:*",
)
EDITS = "semantics/edits/*.parquet"
GRIDS = "semantics/figures/grid_*"
SEM_REPORT = "semantics/report.md"
SUMMARY_FIGURES = ("semantics/figures/linearity_*", "semantics/figures/disentanglement.png")
SUMMARY_TABLES = ("semantics/linearity_faces.csv", "semantics/disentanglement.csv")
SEM_DET = "semantics.detector."


#: the pose scorer: its yaw comes from the 68 landmarks of the pack's extra task, when it runs
POSE_BASE = {
    "semantics.scorers": [{"type": "planted", "name": "a", "space": "z", "seed": 1},
                          {"type": "pose"}],
    "semantics.attributes": ["a", "yaw"],
}  # fmt: skip

#: dlib's CNN detector is slow on the CPU: 3 images at det_size 96 (64 px faces become 96 px)
DLIB_BASE = {
    "detector.backend": "dlib", "detector.det_size": 96, "steps": 3, "shard_size": 3,
    "semantics.samples": 3, "semantics.shard_size": 3,
}  # fmt: skip


def _boundary_key(value: Any) -> Wired:
    """A key read by the boundaries stage (and printed by the report): the normals themselves
    must change, not only the settings recorded beside them."""
    return Wired(
        value, change=(*BOUNDARY_OUT, BOUNDARY_NORMALS, SEM_REPORT), same=SCORE_OUT, world="sg2"
    )


# identity study (world "identity": the DCGAN, dlib, a generated and a photo target)
ID_SEARCH_FILES = ("identity/search/*/dual_annealing.*", "identity/search/*/cma.*")
ID_DA, ID_CMA = "identity/search/*/dual_annealing", "identity/search/*/cma"
ID_SLICE = "identity/search/*/slice.npz"
ID_ITER = "identity/iterate/keyfaces.npz"
#: wall times: the records and the results' seconds change on every run (named per method: a
#: glob must name files of one stage)
ID_TIMING = tuple(f"{m}.{x}" for m in (ID_DA, ID_CMA) for x in ("record.jsonl", "json:seconds"))


def _id_search(value: Any, change: tuple[str, ...], same: tuple[str, ...] = (), **kw) -> Wired:
    """A key the search stage reads."""
    return Wired(value, change=change, same=same, may=(*ID_SEARCH_FILES, *ID_TIMING),
                 world="identity", **kw)  # fmt: skip


def _id_iterate(value: Any, change: tuple[str, ...] = (f"{ID_ITER}:z",), **kw) -> Wired:
    """A key the iterate stage reads."""
    return Wired(value, change=change, may=("identity/iterate/*",), world="identity", **kw)


def _id_figures(value: Any, change: tuple[str, ...], same: tuple[str, ...] = ()) -> Wired:
    """A key the target-figures stage reads."""
    return Wired(value, change=change, same=same, may=(ID_SLICE, "identity/figures/*"),
                 world="identity")  # fmt: skip


WIRED: dict[str, Wired] = {
    # network rule / stage_network
    "network": Wired(
        "tiny-random",
        change=tuple(f"network.json:{k}" for k in ("spec", "name", "kind", "sha256", "z_dim")),
        may=("network.json:*",),
        same=("network.json:which",),
    ),
    "network_which": Wired(
        "G",
        change=("network.json:which", *W_AVG_STATS),
        same=("network.json:sha256", "w_avg.npz:samples"),
        world="sg2",
        chained=True,  # the w_avg stage loads the network that network.json names
    ),
    # walk study: w_avg, walk, render, report
    "w_avg.samples": Wired(
        300,
        change=(*W_AVG_STATS, "w_avg.npz:samples"),
        same=("w_avg.npz:seed", "w_avg.npz:percentile_levels"),
    ),
    "w_avg.seed": Wired(
        5,
        change=(*W_AVG_STATS, "w_avg.npz:seed"),
        same=("w_avg.npz:samples", "w_avg.npz:percentile_levels"),
    ),
    "seeds": Wired([1, 3], change=("walks/seed3.npz:*",), same=("walks/seed1.npz:*",)),
    "steps": Wired(
        5,
        change=(*WALK_PATH, f"{WALK_NPZ}:steps"),
        may=(f"{WALK_NPZ}:clamped",),
        same=(f"{WALK_NPZ}:seed", f"{WALK_NPZ}:clamp_radius", f"{WALK_NPZ}:w_avg"),
    ),
    "step_size": Wired(
        "auto",  # the network's walk default (0.15 for the DCGAN), baseline 0.6
        change=(*WALK_PATH, f"{WALK_NPZ}:step_size", f"{WALK_NPZ}:clamped"),
        same=(f"{WALK_NPZ}:steps", f"{WALK_NPZ}:clamp_radius"),
    ),
    "step_mode": Wired(
        "fixed",
        change=(*WALK_PATH, f"{WALK_NPZ}:step_mode"),
        may=(f"{WALK_NPZ}:clamped",),
        same=(f"{WALK_NPZ}:step_size", f"{WALK_NPZ}:clamp_radius"),
    ),
    "clamp.center": Wired(
        "origin",
        change=(*WALK_PATH, f"{WALK_NPZ}:clamp_center"),
        may=(f"{WALK_NPZ}:clamped",),
        same=(f"{WALK_NPZ}:clamp_radius", f"{WALK_NPZ}:step_size"),
    ),
    "clamp.radius": Wired(
        "p25",  # baseline p50: the walk reaches the sphere after 3 steps
        change=(*WALK_PATH, f"{WALK_NPZ}:clamp_radius"),
        may=(f"{WALK_NPZ}:clamped",),
        same=(f"{WALK_NPZ}:clamp_center", f"{WALK_NPZ}:step_size"),
    ),
    "shard_size": Wired(
        4,  # baseline 8 = steps: one shard per seed
        change=("images/*", f"{DET}:*"),
        same=("detections.parquet:*", "detections.csv"),
        chained=True,  # detect reads the render stage's shard folders
    ),
    "render.noise_mode": Wired("random", change=("images/*",), world="sg2"),
    "report.green_threshold": Wired(
        0.8,
        change=("report/figures/steps_seed*.png", "report/figures/hist_seed*.png"),
        same=("report/summary.csv", "report/report.md", "report/figures/monsters.png"),
    ),
    "report.gallery_band": Wired(
        1000.0,  # wider than any walk: one undetected and one detected frame per seed
        change=("report/figures/monsters.png",),
        may=("report/report.md",),  # the report states the band
        same=("report/summary.csv", "report/figures/steps_seed*.png"),
    ),
    "report.rate_window": Wired(
        3,  # baseline 50 spans the whole tiny walk
        change=("report/figures/steps_seed*.png",),
        same=("report/summary.csv", "report/report.md", "report/figures/monsters.png"),
    ),
    "report.gallery_size": Wired(
        4,
        change=("report/figures/monsters.png",),
        same=("report/summary.csv", "report/report.md", "report/figures/steps_seed*.png"),
    ),
    # the detector section: the walk's detect stage, and the semantics jobs (which inherit it)
    "detector.backend": Wired(
        "dlib",
        change=(f"{DET}:backend", f"{DET}:models", f"{DET}:score", f"{DET}:embedding"),
        may=DET_FACE,
        same=DET_META,
    ),
    "detector.pack": Wired(
        "pack25",  # <root>/models/pack25 holds SCRFD 2.5g
        change=(f"{DET}:models", f"{DET}:score"),
        may=DET_FACE,
        same=(*DET_META, f"{DET}:backend"),
    ),
    "detector.root": Wired(
        Asset("root_b"),  # its models/pack holds SCRFD 2.5g
        change=(f"{DET}:models", f"{DET}:score"),
        may=DET_FACE,
        same=(*DET_META, f"{DET}:backend"),
    ),
    "detector.det_model": Wired(
        Asset(SCRFD_2_5G),  # overrides the pack's SCRFD 500m
        change=(f"{DET}:models", f"{DET}:score"),
        may=DET_FACE,
        same=(*DET_META, f"{DET}:backend"),
    ),
    "detector.rec_model": Wired(
        Asset("arcface"),  # a stand-in ArcFace graph: embeddings appear
        change=(f"{DET}:models", f"{DET}:embedding"),
        same=(*DET_META, *DET_FACE),
    ),
    "detector.det_size": Wired(
        160,  # baseline auto = 320 (the DCGAN's catalogue value)
        change=(f"{DET}:det_size", f"{DET}:score", "semantics/samples/*:det_score"),
        may=(*DET_FACE, *SAMPLE_FACE),
        same=(*DET_META, f"{DET}:models", *SAMPLE_LATENT),
    ),
    "detector.det_thresh": Wired(
        0.78,  # baseline 0.5; the faces score 0.6-0.85
        change=(f"{DET}:detected", "semantics/samples/*:detected"),
        may=(*DET_FACE, *SAMPLE_FACE),
        same=(*DET_META, f"{DET}:det_size", f"{DET}:models", *SAMPLE_LATENT),
    ),
    "detector.dlib_detector": Wired(
        "cnn",
        change=(f"{DET}:score",),
        may=(*DET_FACE, f"{DET}:models", f"{DET}:embedding"),
        same=(*DET_META, f"{DET}:backend", f"{DET}:det_size"),
        base=DLIB_BASE,
    ),
    "detector.extra_tasks": Wired(
        "all",  # the pack's stand-in 3D landmark model runs: its file joins the models column
        change=(f"{DET}:models",),
        same=(*DET_META, *DET_FACE, f"{DET}:embedding"),
    ),
    # semantics: sampling
    "semantics.samples": Wired(
        50,  # baseline 60 in shards of 30: shard 1 shrinks
        change=("semantics/samples/shard1.parquet:*",),
        same=("semantics/samples/shard0.parquet:*",),
        world="sg2",
    ),
    "semantics.shard_size": Wired(
        20,
        change=("semantics/samples/shard2.parquet:*", f"{SAMPLES}:z"),
        world="sg2",
        may=(f"{SAMPLES}:*",),
    ),
    "semantics.seed": Wired(
        7,
        change=(f"{SAMPLES}:z", f"{SAMPLES}:w", f"{SAMPLES}:a", SEM_REPORT),
        may=(f"{SAMPLES}:b", f"{SAMPLES}:c"),
        same=(f"{SAMPLES}:index", f"{SAMPLES}:detected"),
        world="sg2",
    ),
    "semantics.noise_mode": Wired(
        "random",
        change=(GRIDS,),
        same=(EDITS,),  # planted scores do not read pixels
        world="sg2",
    ),
    "semantics.scorers": Wired(
        [
            {"type": "planted", "name": "a", "space": "z", "seed": 1},
            {"type": "planted", "name": "b", "space": "w", "seed": 2},
            {"type": "planted", "name": "c", "space": "z", "seed": 4},
        ],
        change=(f"{SAMPLES}:c",),
        same=(f"{SAMPLES}:a", f"{SAMPLES}:b", f"{SAMPLES}:z", f"{SAMPLES}:w"),
        world="sg2",
    ),
    # semantics: boundaries
    "semantics.spaces": Wired(
        ["w"],
        change=("semantics/boundaries/z/*", "semantics/boundary_correlation_z.csv", SEM_REPORT),
        may=BOUNDARY_OUT,
        same=("semantics/boundaries/w/*", *SCORE_OUT),
        world="sg2",
    ),
    "semantics.attributes": Wired(
        ["a", "b"],  # c loses its boundary and its column of the linearity table
        change=(
            "semantics/boundaries/*/c.*",
            "semantics/score_correlation.csv",
            "semantics/linearity.csv",
        ),
        may=(
            *BOUNDARY_OUT,
            *SCORE_OUT,
            "semantics/effect_correlation_*",
            *SUMMARY_FIGURES,
            *SUMMARY_TABLES,
        ),
        same=("semantics/boundaries/*/a.*", "semantics/conditional/*"),
        world="sg2",
    ),
    "semantics.select.k": _boundary_key(10),
    "semantics.select.fraction": _boundary_key(0.4),
    "semantics.val_fraction": _boundary_key(0.5),
    "semantics.split_seed": _boundary_key(3),
    "semantics.svm.C": _boundary_key(0.001),
    "semantics.svm.solver": _boundary_key("svc"),
    "semantics.split_repeats": Wired(
        2,  # baseline 5: the spread columns change, the normal (split_seed's fit) does not
        change=("semantics/accuracy.csv", "semantics/boundaries/*.json:acc_val_std", SEM_REPORT),
        may=("semantics/boundaries/*.json:*",),
        same=(BOUNDARY_NORMALS, "semantics/conditional/*", *SCORE_OUT),
        world="sg2",
    ),
    "semantics.protocol": Wired(
        "interfacegan",  # per-class split + SVC (boundaries), distance edits (edit), the report
        change=(*BOUNDARY_OUT, BOUNDARY_NORMALS, EDITS, SEM_REPORT),
        may=(GRIDS,),
        same=SCORE_OUT,
        world="sg2",
        base={"semantics.select.k": 10},  # InterFaceGAN's 2 % of 60 samples is K = 1
    ),
    "semantics.svm.max_iter": Wired(
        2, change=(*BOUNDARY_OUT, BOUNDARY_NORMALS), same=(*SCORE_OUT, SEM_REPORT), world="sg2"
    ),
    "semantics.conditions": Wired(
        {},  # baseline {a: [b]}: the conditional direction a_c_b is no longer edited either
        change=("semantics/conditional/*", "semantics/conditional.csv", EDITS, SEM_REPORT),
        may=("semantics/figures/grid_*_a_c_b.png",),
        same=(
            "semantics/boundaries/*",
            "semantics/accuracy.csv",
            *SCORE_OUT,
            "semantics/figures/grid_w_a.png",
        ),
        world="sg2",
    ),
    # semantics: edits
    "semantics.edit.seeds": Wired([0, 2], change=(EDITS, GRIDS, SEM_REPORT), world="sg2"),
    "semantics.edit.latent_files": Wired(
        [Asset("latents")],  # one more face, after the seeds' faces
        change=(EDITS, SEM_REPORT),
        same=(GRIDS,),  # grid_faces 2: the grids show the first two faces
        world="sg2",
    ),
    "semantics.edit.alphas": Wired([-2, 0, 2], change=(EDITS, GRIDS, SEM_REPORT), world="sg2"),
    "semantics.edit.attributes": Wired(
        ["a", "b"],  # baseline [a]
        change=(EDITS, "semantics/figures/grid_*_b.png", SEM_REPORT),
        same=("semantics/figures/grid_*_a.png",),
        world="sg2",
    ),
    "semantics.edit.spaces": Wired(
        ["w"],
        change=(
            "semantics/edits/wp.parquet",
            "semantics/figures/grid_wp_*",
            "semantics/effect_correlation_wp.csv",
            "semantics/linearity.csv",
            SEM_REPORT,
        ),
        may=(*SUMMARY_FIGURES, *SUMMARY_TABLES),
        same=(
            "semantics/edits/w.parquet:*",
            "semantics/figures/grid_w_*",
            "semantics/effect_correlation_w.csv",
        ),
        world="sg2",
    ),
    "semantics.edit.wp_layers": Wired(
        [2, 4],  # baseline [0, 2]
        change=("semantics/edits/wp.parquet:*", "semantics/figures/grid_wp_*", SEM_REPORT),
        same=("semantics/edits/w.parquet:*", "semantics/figures/grid_w_*"),
        world="sg2",
    ),
    "semantics.edit.grid_faces": Wired(1, change=(GRIDS,), same=(EDITS,), world="sg2"),
    "semantics.edit.mode": Wired(
        "distance", change=(EDITS, GRIDS, SEM_REPORT), same=(f"{EDITS}:start_a",), world="sg2"
    ),
    "semantics.edit.conditional": Wired(
        False,
        change=(EDITS, "semantics/figures/grid_*_a_c_b.png", SEM_REPORT),
        same=("semantics/figures/grid_w_a.png",),  # (the tables lose the a_c_b rows)
        world="sg2",
    ),
    "semantics.edit.boundary_files": Wired(
        [{"name": "ext", "path": Asset("ext_w"), "space": "w"}],
        change=("semantics/edits/external/*", "semantics/figures/grid_external_*", SEM_REPORT),
        same=("semantics/edits/w.parquet:*", "semantics/figures/grid_w_*"),
        world="sg2",
    ),
    # semantics: the detector overrides (the walk's detect stage does not read them)
    f"{SEM_DET}backend": Wired(
        "none",
        change=(f"{SAMPLES}:det_score", f"{SAMPLES}:bbox"),
        may=SAMPLE_FACE,
        same=SAMPLE_LATENT,
    ),
    f"{SEM_DET}pack": Wired(
        "pack25", change=(f"{SAMPLES}:det_score",), may=SAMPLE_FACE, same=SAMPLE_LATENT
    ),
    f"{SEM_DET}root": Wired(
        Asset("root_b"), change=(f"{SAMPLES}:det_score",), may=SAMPLE_FACE, same=SAMPLE_LATENT
    ),
    f"{SEM_DET}det_model": Wired(
        Asset(SCRFD_2_5G), change=(f"{SAMPLES}:det_score",), may=SAMPLE_FACE, same=SAMPLE_LATENT
    ),
    f"{SEM_DET}det_size": Wired(
        160, change=(f"{SAMPLES}:det_score",), may=SAMPLE_FACE, same=SAMPLE_LATENT
    ),
    f"{SEM_DET}det_thresh": Wired(
        0.78, change=(f"{SAMPLES}:detected",), may=SAMPLE_FACE, same=SAMPLE_LATENT
    ),
    f"{SEM_DET}dlib_detector": Wired(
        "cnn",
        change=(f"{SAMPLES}:det_score",),
        may=SAMPLE_FACE,
        same=SAMPLE_LATENT,
        base=DLIB_BASE,  # the semantics jobs inherit the top-level dlib detector
    ),
    f"{SEM_DET}extra_tasks": Wired(
        "all", change=(f"{SAMPLES}:yaw",), may=SAMPLE_FACE, same=SAMPLE_LATENT, base=POSE_BASE
    ),
    # identity study
    "identity.det_size": Wired(
        128,  # dlib's HOG box of the 64 px face moves (224 finds the same box as 160)
        change=("identity/targets/gen.npz:embedding", f"{ID_ITER}:embeddings"),
        same=("identity/targets/photo.npz:embedding",),
        may=("identity/targets/*", "identity/iterate/*"),
        world="identity",
    ),
    "identity.photo_det_size": Wired(
        480,
        change=("identity/targets/photo.npz:embedding",),
        same=("identity/targets/gen.npz:embedding",),
        may=("identity/targets/photo.png",),
        world="identity",
    ),
    "identity.require_face": _id_search(False, (f"{ID_DA}.json:best_distance",)),
    "identity.no_face_distance": _id_search(3.0, (f"{ID_DA}.json:best_distance",)),
    "identity.targets": Wired(
        {"gen": "seed:4", "photo": Asset("obama")},
        change=("identity/targets/gen.npz:embedding", "identity/targets/gen.png"),
        same=("identity/targets/photo.npz:embedding",),
        world="identity",
    ),
    "identity.search.methods": _id_search(
        ["cma"], (f"{ID_DA}.json:evaluations",), (f"{ID_CMA}.npz:w", f"{ID_CMA}.json:best_x")
    ),
    "identity.search.budget": _id_search(5, (f"{ID_CMA}.json:evaluations",)),
    "identity.search.seed": _id_search(1, (f"{ID_DA}.json:best_x",)),
    "identity.search.dual_annealing.k": _id_search(
        3, (f"{ID_DA}.json:best_x",), (f"{ID_CMA}.npz:w",)
    ),
    "identity.search.dual_annealing.dims": _id_search(
        [1, 2], (f"{ID_DA}.npz:w",), (f"{ID_CMA}.npz:w",)
    ),
    "identity.search.dual_annealing.bounds": _id_search(
        [-2.0, 2.0], (f"{ID_DA}.json:best_x",), (f"{ID_CMA}.npz:w",)
    ),
    "identity.search.cma.dim": _id_search(3, (f"{ID_CMA}.json:best_x",), (f"{ID_DA}.npz:w",)),
    "identity.search.cma.sigma0": _id_search(1.5, (f"{ID_CMA}.json:best_x",), (f"{ID_DA}.npz:w",)),
    "identity.search.cma.restarts": _id_search(
        0,
        (f"{ID_CMA}.json:evaluations",),
        # from z = 0, where the DCGAN draws no face: flat fitness ends each run at once
        base={"identity.search.cma.start": None, "identity.search.budget": 40},
    ),
    "identity.search.cma.popsize": _id_search(
        3, (f"{ID_CMA}.json:best_x",), base={"identity.search.budget": 10}
    ),
    "identity.search.cma.bound": _id_search(0.2, (f"{ID_CMA}.json:best_x",)),
    "identity.search.cma.pca_samples": Wired(
        60,
        change=(f"{ID_CMA}.npz:w", f"{ID_SLICE}:basis"),
        same=(f"{ID_DA}.npz:w",),
        may=(*ID_SEARCH_FILES, *ID_TIMING, ID_SLICE, "identity/figures/*"),
        world="identity",
    ),
    "identity.search.cma.pca_seed": Wired(
        1,
        change=(f"{ID_CMA}.npz:w", f"{ID_SLICE}:basis"),
        same=(f"{ID_DA}.npz:w",),
        may=(*ID_SEARCH_FILES, *ID_TIMING, ID_SLICE, "identity/figures/*"),
        world="identity",
    ),
    "identity.search.cma.start": _id_search("seed:4", (f"{ID_CMA}.npz:w",), (f"{ID_DA}.npz:w",)),
    "identity.search.slice.resolution": _id_figures(3, (f"{ID_SLICE}:distance",)),
    "identity.search.slice.extent": _id_figures(1.0, (f"{ID_SLICE}:offsets",)),
    "identity.search.slice.axes": _id_figures([0, 1], (f"{ID_SLICE}:basis",)),
    "identity.search.gallery": _id_figures(
        1, ("identity/figures/gallery_*",), (f"{ID_SLICE}:distance",)
    ),
    "identity.iterate.start": _id_iterate("seed:4"),
    "identity.iterate.keyfaces": _id_iterate(4),
    "identity.iterate.map": _id_iterate("random_projection"),
    "identity.iterate.map_seed": _id_iterate(1, base={"identity.iterate.map": "random_projection"}),
    "identity.iterate.lstsq_samples": _id_iterate(8, base={"identity.iterate.map": "lstsq"}),
    "identity.iterate.tolerance": _id_iterate(5.0, ("identity/iterate/recurrence.json:tolerance",)),
    "identity.iterate.fixed_steps": _id_iterate(
        1, ("identity/iterate/recurrence.json:fixed_steps",)
    ),
    "identity.iterate.frames": _id_iterate(2, ("identity/iterate/iterate.mp4",)),
    "identity.iterate.fps": _id_iterate(8, ("identity/iterate/iterate.mp4",)),
}

#: Other batch sizes may round differently (BLAS blocking): 1-ulp differences are no effect.
MON = "monsters/"
MON_RADIAL = f"{MON}radial/*"
MON_BOUNDARY = (f"{MON}boundary/*", f"{MON}boundary_strip.csv", f"{MON}figures/boundary_strip.png")
MON_MAP = (f"{MON}embeddings.parquet", f"{MON}embedding_map.json", f"{MON}drift.csv",
           f"{MON}identities.csv", f"{MON}figures/embedding_map.png",
           f"{MON}figures/identity_drift.png")  # fmt: skip
MON_XY = (
    f"{MON}embeddings.parquet:x",
    f"{MON}embeddings.parquet:y",
    f"{MON}figures/embedding_map.png",
)
MON_SUMMARY = (f"{MON}radial_curves.csv", f"{MON}monster_radii.csv", f"{MON}figures/radial_*")
#: the detector with a (stand-in) ArcFace recogniser: map.embedder auto -> the detector's own
MON_ARCFACE = {"detector.rec_model": Asset("arcface")}

WIRED.update({
    "monsters.networks": Wired(
        ["tiny-random"],
        change=(f"{MON}radial/net1_*", f"{MON}networks/*"),
        same=(f"{MON}radial/net0_*",),
    ),
    "monsters.spaces": Wired(
        ["w"], change=(f"{MON}radial/net0_z.parquet",), same=(f"{MON}radial/net0_w.parquet",)
    ),
    "monsters.directions": Wired(3, change=(MON_RADIAL,)),
    "monsters.seed": Wired(
        5, change=(MON_RADIAL, f"{MON}boundary/normal.npy"), may=(*MON_BOUNDARY, *MON_SUMMARY)
    ),
    "monsters.radii": Wired(
        {"max": 1.5, "num": 3},
        change=(f"{MON_RADIAL}:radius", f"{MON_RADIAL}:w"),
        may=(MON_RADIAL,),
    ),
    "monsters.radius_unit": Wired(
        "absolute",
        change=(f"{MON_RADIAL}:radius_abs", f"{MON_RADIAL}:unit_length", f"{MON_RADIAL}:w"),
        may=(MON_RADIAL, *MON_SUMMARY),
        same=(f"{MON_RADIAL}:radius",),
    ),
    "monsters.scorers": Wired(
        [{"type": "pose"}], change=(f"{MON_RADIAL}:attr_yaw",), may=(MON_RADIAL,)
    ),
    "monsters.bootstrap": Wired(
        10, change=(f"{MON}monster_radii.csv",), may=(f"{MON}figures/radial_*", f"{MON}radial_curves.csv")
    ),
    "monsters.boundary.val_fraction": Wired(
        0.5, change=(f"{MON}boundary/boundary.json:n_val",), may=MON_BOUNDARY
    ),
    "monsters.boundary.C": Wired(1e-4, change=(f"{MON}boundary/normal.npy",), may=MON_BOUNDARY),
    "monsters.boundary.max_iter": Wired(
        1, change=(f"{MON}boundary/normal.npy",), may=MON_BOUNDARY
    ),
    "monsters.boundary.strip_frames": Wired(
        4,
        change=(f"{MON}boundary_strip.csv", f"{MON}figures/boundary_strip.png"),
        same=(f"{MON}boundary/normal.npy",),
        may=(f"{MON}boundary/boundary.json:strip",),
    ),
    "monsters.map.method": Wired(
        "tsne", change=(*MON_XY, f"{MON}embedding_map.json:method"),
        same=(f"{MON}identities.csv", f"{MON}drift.csv"),
    ),
    "monsters.map.max_points": Wired(
        10, change=MON_XY, same=(f"{MON}identities.csv",), base={"monsters.map.method": "tsne"}
    ),
    "monsters.map.embedder": Wired(
        "dlib",
        change=(f"{MON_RADIAL}:embedder", f"{MON}embedding_map.json:embedder"),
        may=(MON_RADIAL, *MON_MAP),
        base=MON_ARCFACE,
    ),
    "monsters.map.min_cluster_size": Wired(
        50, change=(f"{MON}identities.csv",), may=(f"{MON}embeddings.parquet:cluster",),
        same=(f"{MON}drift.csv",),
    ),
})  # fmt: skip


NO_EFFECT_RTOL = 1e-12

NO_EFFECT: dict[str, NoEffect] = {
    "outdir": NoEffect("the folder of every output; stages take explicit paths"),
    "conda_env": NoEffect("which conda environment Snakemake gives the GPU rules (--sdm conda)"),
    "cache_dir": NoEffect(
        "where networks given by URL are downloaded; catalogue and local networks never use it"
    ),
    "gpu.slots_per_device": NoEffect("how many jobs share a GPU (scheduling only)"),
    "gpu.lock_dir": NoEffect("where the GPU slot pool keeps its lock files (scheduling only)"),
    "gpu.wait_timeout": NoEffect("how long a job waits for a free GPU slot (scheduling only)"),
    "gpu.log_every": NoEffect("how often a waiting job logs the busy slots (logging only)"),
    "max_jobs": NoEffect("a guard checked when the config is validated; plans nothing else"),
    "w_avg.batch_size": NoEffect(
        "the same seeded latents mapped in other batches", 64, verify=("w_avg",), world="sg2"
    ),
    "render.batch_size": NoEffect(
        "the same images rendered in other batches", 3, verify=("render",)
    ),
    "semantics.batch_size": NoEffect(
        "the same latents rendered and scored in other batches",
        7,
        verify=("sample",),
        world="sg2",
    ),
    "monsters.batch_size": NoEffect(
        "the same radial latents rendered in other batches", 2, verify=("radial",)
    ),
    "detector.workers": NoEffect(
        "threads sharing one backend: same rows, in order", 2, verify=("detect",)
    ),
    "detector.providers": NoEffect(
        "onnxruntime providers: the same model on the CPU gives the same scores",
        ["CPUExecutionProvider"],
        verify=("detect",),
    ),
    f"{SEM_DET}workers": NoEffect(
        "the semantics jobs score their batches in one thread (workers sizes the walk's detect pool)"
    ),
    f"{SEM_DET}providers": NoEffect(
        "onnxruntime providers: the same model on the CPU gives the same scores "
        "(and the semantics jobs take them from the job's device)"
    ),
    f"{SEM_DET}rec_model": NoEffect(
        "semantics tables keep no embeddings and no scorer reads them",
        Asset("arcface"),
        verify=("sample",),
    ),
    "identity.noise_mode": NoEffect(
        "the identity world's DCGAN has no noise inputs (the key reaches every identity render: "
        "render_rgb(..., noise_mode))",
        "random",
        verify=("id_target", "id_iterate"),
        world="identity",
    ),
    "identity.search.gradient.lr": NoEffect(
        "the gradient search runs only with a FaceNet embedder (no weights offline; skipped with "
        "dlib); Adam's steps are tested on planted objectives in tests/studies/identity"
    ),
}

#: The projection study's keys: no walk or semantics stage reads them.
#: tests/studies/projection/test_projection_wiring.py classifies each one at the stage level the
#: same way (the projection stages rerun with the key changed; an unclassified key fails), and
#: tests/studies/projection/test_projection_settings.py checks that the jobs' params carry it.
NO_EFFECT.update(
    {
        key: NoEffect(
            "read only by the projection study's jobs (classified in "
            "tests/studies/projection/test_projection_wiring.py)"
        )
        for key in SCHEMA_KEYS
        if key.split(".", 1)[0] == "projection"
    }
)

#: The paths study's keys and the identity embedder's: no walk or semantics stage reads them
#: (the embedder also reaches the identity jobs: rules/identity.smk passes the whole section).
#: tests/studies/paths/test_paths_settings.py classifies each one by the paths jobs whose params
#: carry it; tests/studies/paths/test_paths_wiring.py shows, stage by stage in the same way as
#: here, that the paths stages read each one (both fail on an unclassified key).
NO_EFFECT.update(
    {
        key: NoEffect(
            "read only by the paths (and, for embedder, identity) jobs (classified in "
            "tests/studies/paths/test_paths_wiring.py)"
        )
        for key in SCHEMA_KEYS
        if key.split(".", 1)[0] in ("paths", "embedder")
    }
)


# --- the stages, called as the rules' scripts call them ---------------------------------------

#: Stage -> the files it writes (relative to a run folder), in pipeline order.
STAGE_FILES: dict[str, tuple[str, ...]] = {
    "network": ("network.json",),
    "w_avg": ("w_avg.npz",),
    "walk": ("walks/*",),
    "render": ("images/*",),
    "detect": ("detections/*",),
    "merge": ("detections.parquet", "detections.csv"),
    "report": ("report/*",),
    "sample": ("semantics/samples/*",),
    "boundaries": (
        "semantics/boundaries/*", "semantics/conditional/*", "semantics/accuracy.csv",
        "semantics/conditional.csv", "semantics/score_correlation.csv",
        "semantics/boundary_correlation_*", "semantics/figures/boundary_correlation.png",
        "semantics/figures/score_correlation.png", "semantics/samples_summary.json",
    ),
    "edit": ("semantics/edits/*", "semantics/figures/grid_*"),
    "edit_summary": (
        "semantics/linearity.csv", "semantics/effect_correlation_*",
        "semantics/figures/linearity_*", "semantics/figures/disentanglement.png",
        *SUMMARY_TABLES,
    ),
    "sem_report": ("semantics/report.md",),
    "id_target": ("identity/targets/*",),
    "id_search": ID_SEARCH_FILES,
    "id_figures": (ID_SLICE, "identity/figures/*"),
    "id_summary": ("identity/search.csv", "identity/search.md"),
    "id_iterate": ("identity/iterate/*",),
    "radial": ("monsters/radial/*", "monsters/networks/*"),
    "radial_summary": (
        "monsters/radial_curves.csv", "monsters/monster_radii.csv", "monsters/figures/radial_*",
    ),
    "mon_boundary": (
        "monsters/boundary/*", "monsters/boundary_strip.csv", "monsters/figures/boundary_strip.png",
    ),
    "mon_map": (
        "monsters/embeddings.parquet", "monsters/embedding_map.json", "monsters/drift.csv",
        "monsters/identities.csv", "monsters/figures/embedding_map.png",
        "monsters/figures/identity_drift.png",
    ),
}  # fmt: skip
STAGES = list(STAGE_FILES)
SEM_STAGES = ("sample", "boundaries", "edit", "edit_summary", "sem_report")
DEPS = {
    "network": (),
    "w_avg": ("network",),
    "walk": ("w_avg",),
    "render": ("walk",),
    "detect": ("render",),
    "merge": ("detect",),
    "report": ("merge",),
    "sample": ("network",),
    "boundaries": ("sample",),
    "edit": ("boundaries",),
    "edit_summary": ("edit",),
    "sem_report": ("edit_summary",),
    "id_target": ("network",),
    "id_search": ("id_target",),
    "id_figures": ("id_search",),
    "id_summary": ("id_search",),
    "id_iterate": ("network",),
    "radial": ("w_avg",),
    "radial_summary": ("radial",),
    "mon_boundary": ("merge", "radial"),
    "mon_map": ("merge", "radial"),
}


def rule_keys(smk: str, call: str) -> dict[str, list[str]]:
    """rules/<smk>: rule name -> the keys its ``<call>(SECTION, "k1", "k2", ...)`` params pass."""
    import re

    text = (REPO / "rules" / smk).read_text()
    out = {}
    for m in re.finditer(r"^rule (\w+):(.*?)(?=^rule |\Z)", text, re.S | re.M):
        p = re.search(rf"{re.escape(call)}\(\s*\w+,(.*?)\)", m.group(2), re.S)
        if p:
            out[m.group(1)] = re.findall(r'"(\w+)"', p.group(1))
    return out


SEM_PARAMS = rule_keys("semantics.smk", "sem=rule_params")
MON_PARAMS = rule_keys("monsters.smk", "mon=mon_params")


def mon_params(config: dict, rule: str) -> dict:
    """What a monsters rule passes its script: exactly its ``mon_params`` keys."""
    from ganatlas.studies.monsters.settings import monsters_config, rule_params

    return copy.deepcopy(rule_params(monsters_config(config), *MON_PARAMS[rule]))


def sem_params(sem: dict, rule: str) -> dict:
    """What the rule passes its script: exactly its ``rule_params`` keys of the resolved section."""
    from ganatlas.studies.semantics.settings import rule_params

    return copy.deepcopy(rule_params(sem, *SEM_PARAMS[rule]))


def run_stage(stage: str, config: dict, d: Path) -> None:
    """Run ``stage`` for the checked ``config`` in run folder ``d`` (inputs read from ``d``)."""
    from ganatlas.render import shard_ranges
    from ganatlas.studies.semantics import stages as S
    from ganatlas.studies.semantics.settings import edit_names, n_shards, semantics_config
    from ganatlas.studies.walk import stages as W

    c = copy.deepcopy(config)
    info, sem_dir = d / "network.json", d / "semantics"
    seeds = sorted(set(c["seeds"]))
    shards = range(len(shard_ranges(c["steps"], c["shard_size"])))
    sem = semantics_config(c) if stage in SEM_STAGES else None
    if stage == "network":
        W.stage_network(c["network"], info, cache_dir=c["cache_dir"], which=c["network_which"])
    elif stage == "w_avg":
        w = c["w_avg"]
        W.stage_w_avg(info, d / "w_avg.npz", w["samples"], w["seed"], w["batch_size"])
    elif stage == "walk":
        cfg = {k: c[k] for k in ("steps", "step_size", "step_mode", "clamp")}
        for seed in seeds:
            W.stage_walk(info, d / "w_avg.npz", d / f"walks/seed{seed}.npz", seed, cfg)
    elif stage == "render":
        r = c["render"]
        for seed in seeds:
            for k in shards:
                W.stage_render(
                    info, d / f"walks/seed{seed}.npz", k, c["shard_size"],
                    d / f"images/seed{seed}/shard{k}", r["batch_size"], r["noise_mode"],
                )  # fmt: skip
    elif stage == "detect":
        for seed in seeds:
            for k in shards:
                W.stage_detect(
                    info, d / f"walks/seed{seed}.npz", d / f"images/seed{seed}/shard{k}", k,
                    c["shard_size"], d / f"detections/seed{seed}/shard{k}.parquet", c["detector"],
                )  # fmt: skip
    elif stage == "merge":
        parts = [d / f"detections/seed{s}/shard{k}.parquet" for s in seeds for k in shards]
        W.stage_merge(parts, d / "detections.parquet", d / "detections.csv")
    elif stage == "report":
        rep = c["report"]
        W.stage_report(
            d / "detections.parquet", info, d / "images", d / "report",
            rep["green_threshold"], rep["gallery_size"], d / "w_avg.npz",
            rep["gallery_band"], rep["rate_window"],
        )  # fmt: skip
    elif stage == "sample":
        p = sem_params(sem, "semantics_sample")
        for k in range(n_shards(sem)):
            S.stage_sample(info, p, k, sem_dir / f"samples/shard{k}.parquet")
    elif stage == "boundaries":
        shard_files = [sem_dir / f"samples/shard{k}.parquet" for k in range(n_shards(sem))]
        S.stage_boundaries(shard_files, sem_params(sem, "semantics_boundaries"), info, sem_dir)
    elif stage == "edit":
        p = sem_params(sem, "semantics_edit")
        for space in sem["edit"]["spaces"]:
            grids = [sem_dir / f"figures/grid_{space}_{n}.png" for n in edit_names(sem)]
            S.stage_edit(info, p, space, sem_dir, sem_dir / f"edits/{space}.parquet", grids)
        p = sem_params(sem, "semantics_edit_external")
        for b in sem["edit"]["boundary_files"]:
            n = b["name"]
            S.stage_edit_external(
                info, p, n, sem_dir / f"edits/external/{n}.parquet",
                sem_dir / f"figures/grid_external_{n}.png",
            )  # fmt: skip
    elif stage == "edit_summary":
        ext = [
            sem_dir / f"edits/external/{b['name']}.parquet" for b in sem["edit"]["boundary_files"]
        ]
        tables = [sem_dir / f"edits/{s}.parquet" for s in sem["edit"]["spaces"]] + ext
        S.stage_edit_summary(tables, sem_params(sem, "semantics_edit_summary"), sem_dir)
    elif stage == "sem_report":
        S.stage_report(sem_params(sem, "semantics_report"), sem_dir, sem_dir / "report.md")
    elif stage.startswith("id_"):
        run_identity_stage(stage, c, d)
    elif stage in ("radial", "radial_summary", "mon_boundary", "mon_map"):
        run_monsters_stage(stage, c, d, seeds)
    else:
        raise KeyError(stage)


def run_identity_stage(stage: str, c: dict, d: Path) -> None:
    """The identity stages, with the params rules/identity.smk passes (settings.stage_params)."""
    from ganatlas.studies.identity import stages as I
    from ganatlas.studies.identity.settings import identity_config, stage_params

    ident = identity_config(c)
    info, idd = d / "network.json", d / "identity"
    targets, methods = sorted(ident["targets"]), ident["search"]["methods"]
    if stage == "id_target":
        for t in targets:
            I.stage_target(info, stage_params(ident, "identity_target", t),
                           idd / f"targets/{t}.npz", idd / f"targets/{t}.png")  # fmt: skip
    elif stage == "id_search":
        p = stage_params(ident, "identity_search")
        for t in targets:
            b = idd / "search" / t
            for m in methods:
                I.stage_search(info, p, m, idd / f"targets/{t}.npz", b / f"{m}.record.jsonl",
                               b / f"{m}.json", b / f"{m}.npz")  # fmt: skip
    elif stage == "id_figures":
        p = stage_params(ident, "identity_target_figures")
        for t in targets:
            b = idd / "search" / t
            figs = {
                f: idd / "figures" / f"{f}_{t}.png" for f in ("convergence", "gallery", "slice")
            }
            I.stage_target_figures(
                info, p, idd / f"targets/{t}.npz", idd / f"targets/{t}.png",
                [b / f"{m}.json" for m in methods], [b / f"{m}.record.jsonl" for m in methods],
                b / "slice.npz", figs, t,
            )  # fmt: skip
    elif stage == "id_summary":
        res = {t: [idd / "search" / t / f"{m}.json" for m in methods] for t in targets}
        I.stage_search_summary(res, idd / "search.csv", idd / "search.md")
    else:
        it = idd / "iterate"
        out = {"npz": it / "keyfaces.npz", "csv": it / "keyfaces.csv", "json": it /
               "recurrence.json", "gallery": it / "keyfaces.png", "distances": it /
               "distances.png", "mp4": it / "iterate.mp4"}  # fmt: skip
        I.stage_iterate(info, stage_params(ident, "identity_iterate"), out)


def run_monsters_stage(stage: str, c: dict, d: Path, seeds: list[int]) -> None:
    """The monsters stages, as rules/monsters.smk's scripts call them."""
    from ganatlas.studies.monsters import stages as M
    from ganatlas.studies.monsters.settings import monsters_config
    from ganatlas.studies.walk import stages as W

    mon, mdir = monsters_config(c), d / "monsters"
    net0 = [mdir / f"radial/net0_{s}.parquet" for s in mon["spaces"]]
    if stage == "radial":
        for net, spec in mon["nets"].items():
            info = d / "network.json"
            if net != "net0":
                info = mdir / f"networks/{net}.json"
                W.stage_network(spec, info, cache_dir=c["cache_dir"], which=c["network_which"])
            w_avg = d / "w_avg.npz" if net == "net0" else None
            for space in mon["spaces"]:
                p = mon_params(c, "monsters_radial")
                M.stage_radial(info, w_avg, p, net, space, mdir / f"radial/{net}_{space}.parquet")
    elif stage == "radial_summary":
        tables = sorted((mdir / "radial").glob("*.parquet"))
        M.stage_radial_summary(tables, mon_params(c, "monsters_radial_summary"), mdir)
    elif stage == "mon_boundary":
        walks = [d / f"walks/seed{s}.npz" for s in seeds]
        M.stage_monster_boundary(d / "detections.parquet", walks, net0, d / "network.json",
                                 mon_params(c, "monsters_boundary"), mdir)  # fmt: skip
    else:
        M.stage_embedding_map(d / "detections.parquet", d / "images", net0,
                              mon_params(c, "monsters_embedding_map"), mdir)  # fmt: skip


def upstream(stages: set[str]) -> list[str]:
    """``stages`` and everything they read from, in pipeline order."""
    todo, seen = list(stages), set()
    while todo:
        s = todo.pop()
        if s not in seen:
            seen.add(s)
            todo.extend(DEPS[s])
    return [s for s in STAGES if s in seen]


@functools.cache
def stage_of_file(rel: str) -> str:
    owners = [s for s, pats in STAGE_FILES.items() if any(fnmatch.fnmatch(rel, p) for p in pats)]
    assert len(owners) == 1, f"{rel} is written by {owners or 'no known stage'}"
    return owners[0]


def stages_of(globs: tuple[str, ...]) -> set[str]:
    """The stages whose files the artifact globs name (a glob names files of exactly one)."""
    out = set()
    for g in globs:
        file_glob = g.split(":", 1)[0]
        owners = [
            s
            for s, pats in STAGE_FILES.items()
            if any(fnmatch.fnmatch(file_glob, p) or fnmatch.fnmatch(p, file_glob) for p in pats)
        ]
        assert len(owners) == 1, f"artifact glob {g!r} names files of stages {owners}"
        out.add(owners[0])
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
        if rel.endswith(".npz"):
            with np.load(p) as z:
                out.update({f"{rel}:{k}": z[k] for k in z.files})
        elif rel.endswith(".parquet"):
            t = pq.read_table(p)
            out.update({f"{rel}:{c}": t.column(c).to_pylist() for c in t.column_names})
        elif rel.endswith(".json"):
            out.update({f"{rel}:{k}": v for k, v in json.loads(p.read_text()).items()})
        else:
            out[rel] = p.read_bytes()
    return out


# --- the baselines ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def assets(tmp_path_factory) -> dict[str, Any]:
    """Paths the configs name: the StyleGAN2 pickle, InsightFace packs, stand-in models."""
    import torch
    from conftest import find_testdata

    from ganatlas.networks.persistence import save_network_pickle
    from ganatlas.networks.registry import FAMILIES

    root = tmp_path_factory.mktemp("assets")
    out: dict[str, Any] = {}
    g = FAMILIES["stylegan2"].small()
    g_ema = FAMILIES["stylegan2"].small()
    with torch.no_grad():
        for net, extra in ((g, 0.3), (g_ema, 0.0)):
            for name, p in net.named_parameters():
                if name.endswith("noise_strength"):
                    p.fill_(0.5)  # random init is 0: noise_mode would not matter
                elif name.startswith("mapping.fc0"):
                    p.add_(extra)  # G differs from G_ema in what it maps
    out["sg2"] = str(save_network_pickle(root / "sg2.pkl", G=g, G_ema=g_ema))
    np.save(root / "latents.npy", np.random.default_rng(5).standard_normal((1, 16)))
    out["latents"] = str(root / "latents.npy")
    ext = np.random.default_rng(6).standard_normal((1, g_ema.w_dim)).astype(np.float32)
    np.save(root / "ext_w.npy", ext / np.linalg.norm(ext))  # InterFaceGAN's layout: [1, w_dim]
    out["ext_w"] = str(root / "ext_w.npy")
    models = find_testdata() / "models"
    out["scrfd"] = (models / SCRFD_500M).is_file() and (models / SCRFD_2_5G).is_file()
    out[SCRFD_2_5G] = str(models / SCRFD_2_5G)
    for rel, src in (
        ("root_a/models/pack", SCRFD_500M),
        ("root_a/models/pack25", SCRFD_2_5G),
        ("root_b/models/pack", SCRFD_2_5G),
    ):
        (root / rel).mkdir(parents=True)
        (root / rel / src).symlink_to(models / src)
    fake_onnx(root / "root_a/models/pack/zz_landmark3d68.onnx", 192, 3309, seed=1)
    out["arcface"] = str(fake_onnx(root / "arcface.onnx", 112, 512, seed=2))
    out["root_a"], out["root_b"] = str(root / "root_a"), str(root / "root_b")
    out["obama"] = str(find_testdata() / "photos" / "obama.jpg")
    return out


def world_config(world: str, assets: dict) -> dict:
    """The baseline config of ``world`` (unchecked: defaults are filled by check_config)."""
    if world == "walk":
        return {
            "network": "digiface-dcgan",
            "seeds": [1],
            "steps": 8,
            "step_size": 0.6,
            "clamp": {"center": "w_avg", "radius": "p50"},
            "shard_size": 8,
            "w_avg": {"samples": 200, "seed": 0, "batch_size": 100},
            "render": {"batch_size": 8},
            "detector": {"backend": "insightface", "pack": "pack", "root": assets["root_a"]},
            "semantics": {
                "samples": 4,
                "shard_size": 4,
                "scorers": [{"type": "planted", "name": "a", "space": "z", "seed": 1}],
                "attributes": ["a"],
            },
            "monsters": {
                "directions": 4, "radii": {"max": 2.0, "num": 3}, "bootstrap": 30,
                "boundary": {"strip_frames": 3}, "map": {"method": "pca", "min_cluster_size": 2},
            },
        }  # fmt: skip
    if world == "identity":
        return {
            "network": "digiface-dcgan",
            "detector": {"backend": "dlib"},
            "identity": {
                "targets": {"gen": "seed:1", "photo": assets["obama"]},
                "search": {"methods": ["dual_annealing", "cma"], "budget": 3,
                           "dual_annealing": {"k": 2},
                           "cma": {"dim": 2, "pca_samples": 50, "start": "seed:1"},
                           "slice": {"resolution": 2}, "gallery": 2},
                "iterate": {"start": "seed:1", "keyfaces": 3, "frames": 1, "fps": 4,
                            "lstsq_samples": 6},
            },
        }  # fmt: skip
    assert world == "sg2"
    return {
        "network": assets["sg2"],
        "seeds": [1],
        "steps": 4,
        "shard_size": 4,
        "w_avg": {"samples": 200, "batch_size": 100},
        "render": {"batch_size": 4},
        "semantics": {
            "samples": 60,
            "shard_size": 30,
            "scorers": [
                {"type": "planted", "name": "a", "space": "z", "seed": 1},
                {"type": "planted", "name": "b", "space": "w", "seed": 2},
                {"type": "planted", "name": "c", "space": "z", "seed": 3},
            ],
            "attributes": ["a", "b", "c"],
            "detector": {"backend": "none"},
            "conditions": {"a": ["b"]},
            "edit": {"seeds": [0, 1], "alphas": [-1, 0, 1], "spaces": ["w", "wp"],
                     "wp_layers": [0, 2], "grid_faces": 2, "attributes": ["a"]},
        },
    }  # fmt: skip


def resolve_assets(value: Any, assets: dict) -> Any:
    if isinstance(value, Asset):
        return assets[value.name]
    if isinstance(value, list):
        return [resolve_assets(v, assets) for v in value]
    if isinstance(value, dict):
        return {k: resolve_assets(v, assets) for k, v in value.items()}
    return value


class Baselines:
    """Run folders of the baselines, each stage computed at most once (lazily)."""

    def __init__(self, root: Path, assets: dict) -> None:
        self.root, self.assets = root, assets
        self.runs: dict[str, tuple[dict, Path, set[str]]] = {}

    def config(self, world: str, base: dict, key: str | None = None, value: Any = None) -> dict:
        c = world_config(world, self.assets)
        for k, v in [*base.items(), *([(key, value)] if key else [])]:
            set_key(c, k, resolve_assets(v, self.assets))
        return check_config(c)

    def ensure(self, world: str, base: dict, stages: set[str]) -> Path:
        name = world + "".join(f"_{k}={v}" for k, v in sorted(base.items()))
        if name not in self.runs:
            d = self.root / f"base{len(self.runs)}"
            d.mkdir()
            self.runs[name] = (self.config(world, base), d, set())
        config, d, done = self.runs[name]
        for s in upstream(stages):
            if s not in done:
                needs_faces(s, config, self.assets)
                run_stage(s, config, d)
                done.add(s)
        return d

    def rerun(
        self, world: str, base: dict, key: str, value: Any, stages: set[str], chained: bool
    ) -> tuple[dict, dict]:
        """(baseline artifacts, changed artifacts) of ``stages`` with ``key`` set to ``value``.

        Each stage reruns on its own on the baseline's inputs (so what changes, changes because
        that stage reads the key), or, ``chained``, all of them in order.
        """
        base_dir = self.ensure(world, base, stages)
        config = self.config(world, base, key, value)
        after: dict[str, Any] = {}
        for group in [stages] if chained else [{s} for s in stages]:
            d = self.root / f"run_{key}_{'+'.join(sorted(group))}"
            shutil.copytree(base_dir, d, symlinks=True)
            for rel in files_of(d, group):
                (d / rel).unlink()
            for s in STAGES:
                if s in group:
                    needs_faces(s, config, self.assets)
                    run_stage(s, config, d)
            after.update(artifacts(d, group))
        return artifacts(base_dir, stages), after


def needs_faces(stage: str, config: dict, assets: dict) -> None:
    """Skip when ``stage`` runs the InsightFace detector and the SCRFD test models are absent,
    or an identity stage and dlib or the test photo is absent."""
    if stage.startswith("id_"):
        pytest.importorskip("dlib")
        if not Path(assets["obama"]).is_file():
            pytest.skip(f"test photo {assets['obama']} absent (set GANATLAS_TESTDATA)")
        return
    det = {"detect": config["detector"]}.get(stage)
    """Skip when ``stage`` runs the InsightFace detector and the SCRFD test models are absent."""
    det = {"detect": config["detector"], "radial": config["detector"],
           "mon_boundary": config["detector"]}.get(stage)  # fmt: skip
    if stage == "sample":
        det = {**config["detector"], **config["semantics"]["detector"]}
    if det is not None and det["backend"] in ("insightface", "auto") and not assets["scrfd"]:
        pytest.skip("SCRFD test models absent (../shared/testdata/models; set GANATLAS_TESTDATA)")


@pytest.fixture(scope="module")
def baselines(tmp_path_factory, assets) -> Baselines:
    return Baselines(tmp_path_factory.mktemp("wiring"), assets)


def _plain(obj: Any) -> Any:
    """``obj`` as plain data with a deterministic pickle (DataFrames as CSV text)."""
    import pandas as pd

    if isinstance(obj, pd.DataFrame):
        return ("DataFrame", obj.to_csv())
    if isinstance(obj, np.ndarray):
        return ("ndarray", obj.dtype.str, obj.shape, obj.tobytes())
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    return obj


@pytest.fixture(scope="module", autouse=True)
def record_semantics_figures():
    """The semantics figures are recorded, not drawn: each figure file holds what its function
    was given (seaborn's annotated heatmaps alone took a third of this module's time). Drawing
    is tested in tests/studies/semantics; here what reaches the figure is what matters."""
    import inspect

    from ganatlas.studies.semantics import figures

    def recorder(fn):
        sig = inspect.signature(fn)

        def record(*args, **kwargs):
            data = dict(sig.bind(*args, **kwargs).arguments)
            path = Path(data.pop("path"))
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(pickle.dumps((fn.__name__, _plain(data))))

        return record

    with pytest.MonkeyPatch.context() as mp:
        for name in ("heatmaps", "edit_grid", "linearity_curves", "disentanglement_figure"):
            mp.setattr(figures, name, recorder(getattr(figures, name)))
        yield


# --- the tests --------------------------------------------------------------------------------


@pytest.mark.parametrize("key", SCHEMA_KEYS)
def test_setting_is_wired(key, baselines):
    """Changing ``key`` changes the outputs its table entry names, and no other output."""
    if key in NO_EFFECT:
        entry = NO_EFFECT[key]
        if entry.verify:
            before, after = baselines.rerun(
                entry.world, {}, key, entry.value, set(entry.verify), chained=False
            )
            assert before, f"{key}: the stages {entry.verify} wrote nothing"
            changed = diff(before, after, NO_EFFECT_RTOL)
            assert_nothing_changed(key, entry.reason, changed)
        return
    if key not in WIRED:
        fail_unclassified(key, Path(__file__).name)
    entry = WIRED[key]
    stages = stages_of(entry.change + entry.same + entry.may)
    before, after = baselines.rerun(
        entry.world, entry.base, key, entry.value, stages, entry.chained
    )
    check_wired_entry(key, entry, before, after)


def test_tables_name_only_schema_keys():
    assert_tables_name_only(WIRED, NO_EFFECT, SCHEMA_KEYS)


def test_schema_walk_reaches_nested_keys():
    for key in (
        "w_avg.samples",
        "clamp.radius",
        "render.noise_mode",
        "detector.det_size",
        "semantics.svm.C",
        "semantics.edit.alphas",
        "semantics.detector.det_thresh",
    ):
        assert key in SCHEMA_KEYS
    assert "clamp" not in SCHEMA_KEYS and "semantics" not in SCHEMA_KEYS

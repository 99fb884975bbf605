"""Every projection setting is wired: a changed ``projection.*`` key changes the outputs it should,
and no other, at the stage level (no Snakemake).

One test per leaf key of the schema's ``projection`` section (walked as ``schema_keys`` in
tests/test_settings_wiring.py walks the whole schema). Each key is either

- in :data:`WIRED`: a new (valid) value and the artifacts that must change (``change``), may
  change (``may``) and must stay identical (``same``). Every stage owning one of those artifacts
  is rerun on its own, on the baseline's inputs, with the changed config and exactly the params
  its rule passes (rules/projection.smk: ``PROJECT_KEYS`` for ``projection_project``, the listed
  keys for ``projection_summary``), so a change shows that *that* stage reads the key; or
- in :data:`NO_EFFECT`, with the reason; where a stage receives the key, the entry reruns it to
  show that nothing changes.

A key in neither table fails its test. :func:`test_each_receiving_stage_is_rerun` also fails
an entry that skips a stage whose rule params carry its key.

The baseline is ``tests/configs/projection_tiny.yaml`` with: one photo (obama) and one generated
face, 4 steps, 200 w_avg samples, progress every 2 steps, every loss term on but identity
(``l1: 0.5``), a 32 px StyleGAN2 with noise buffers (the tiny network has none, so ``noise_reg``
would not matter), a stand-in for NVIDIA's VGG16 TorchScript (so LPIPS runs), stand-in FaceNet
weights (random) for the identity loss (``identity_embedder: facenet``, weight 0 but in the
``losses.identity`` baseline), SCRFD-500M as the detector (with the tiny config's dlib,
``align.landmarks: detector`` gives dlib's own points) and a stand-in ONNX identity embedder for
the identity metric (dlib's descriptor costs half a second a job).

Artifacts are ``<file>`` (bytes), ``<file.npz>:<array>``, ``<file.json>:<key>`` or
``<file.csv>:<column>``; globs use :func:`fnmatch.fnmatch` (``*`` matches ``/`` too). The jobs
themselves are ``jobs.json:photos`` / ``jobs.json:synthetic`` (the items of the resolved section,
one ``projection_project`` job each), and ``logs/projection/<item>.steps`` holds the step
counters of a job's progress lines (their rates and ETAs vary). Wall times
(``metrics.json:seconds``) may always change.
"""

from __future__ import annotations

import copy
import json
import pickle
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import yaml
from conftest import REPO, find_testdata
from wiring_common import (
    Asset,
    assert_nothing_changed,
    assert_tables_name_only,
    check_wired_entry,
    diff,
    fail_unclassified,
    schema_keys,
    set_key,
)

from ganatlas.config import check_config, load_schema

PRJ_KEYS = [k for k in schema_keys(load_schema()) if k.startswith("projection.")]
TINY = REPO / "tests" / "configs" / "projection_tiny.yaml"
RULES = (REPO / "rules" / "projection.smk").read_text()


def summary_keys() -> list[str]:
    """The keys rule ``projection_summary`` passes its script (``prj_params(PRJ, ...)``)."""
    rule = RULES.split("rule projection_summary:", 1)[1].split("\nrule ", 1)[0]
    return re.findall(r'"(\w+)"', rule.split("params:", 1)[1])


SUMMARY_KEYS = summary_keys()
JOB_KEYS = ("photos", "synthetic")  # they define the jobs (projection_config's items)

# --- the tables -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Wired:
    """A key that changes outputs; ``base``: other keys set in baseline and change alike."""

    value: Any
    change: tuple[str, ...]
    same: tuple[str, ...] = ()
    may: tuple[str, ...] = ()
    base: dict = field(default_factory=dict)


@dataclass(frozen=True)
class NoEffect:
    """A key that changes no output; ``verify``: stages rerun with ``value`` to show it."""

    reason: str
    value: Any = None
    verify: tuple[str, ...] = ()


SYN, PHO = "projection/items/synthetic0000", "projection/items/obama"
ITEMS = {"synthetic0000": SYN, "obama": PHO}
SUMMARY_FILES = (
    "projection/metrics.csv",
    "projection/latents.csv",
    "projection/figures/latents_real_vs_synthetic.png",
    "projection/report.md",
)
REPORT = "projection/report.md"
SUMMARY_DATA = SUMMARY_FILES[:3]
TIMING = ("*/metrics.json:seconds",)
STEPS_LOG = "logs/projection/synthetic0000.steps"

START = ("projected_w.npz:w_avg", "projected_w.npz:sigma_w")  # w_avg and sigma_w
SCHEDULE = ("history.npz:lr", "history.npz:w_noise")  # per step

#: what an optimisation setting leaves alone, unless its entry says otherwise: the target, the
#: start point, the schedule, the recorded settings and the detector's score of the target
OPT_SAME = (
    "target.png",
    *START,
    "projected_w.npz:space",
    *SCHEDULE,
    "metrics.json:steps",
    "metrics.json:space",
    "metrics.json:sigma_w",
    "metrics.json:target_score",
    "metrics.json:kind",
)


def _opt(top: str, value: Any, change: tuple[str, ...], base: dict | None = None) -> Wired:
    """A key of the optimisation (``top``: its name in the section), rerun on the generated
    face: ``change`` (names inside its folder, or its progress log) must change, the rest of
    :data:`OPT_SAME` and the progress log stay; when the summary job receives the key, its
    report must change and its tables and figure stay."""
    same = tuple(f"{SYN}/{a}" for a in OPT_SAME if a not in change)
    same += () if STEPS_LOG in change else (STEPS_LOG,)
    change = tuple(a if a == STEPS_LOG else f"{SYN}/{a}" for a in change)
    if top in SUMMARY_KEYS:
        change, same = change + (REPORT,), same + SUMMARY_DATA
    return Wired(value, change=change, same=same, may=(f"{SYN}/*",), base=base or {})


def _align(value: Any, change: tuple[str, ...]) -> Wired:
    """An alignment key: the photo's target and alignment change (and so its projection); the
    start point and schedule stay, and the generated face is untouched."""
    return Wired(
        value,
        change=(f"{PHO}/target.png", *(f"{PHO}/alignment.json:{k}" for k in change)),
        same=(f"{SYN}/*", *(f"{PHO}/{a}" for a in (*START, *SCHEDULE))),
        may=(f"{PHO}/*",),
    )


W = "projected_w.npz:w"
LOSS = "history.npz:loss"

SYN_FILES = tuple(
    f"{SYN}/{f}"
    for f in ("metrics.json", "target.png", "projected_w.npz", "proj.png", "compare.png",
              "losses.png", "history.npz")
)  # fmt: skip

WIRED: dict[str, Wired] = {
    "projection.photos": Wired(
        [Asset("obama"), Asset("rose")], change=("jobs.json:photos",), same=("jobs.json:synthetic",)
    ),
    "projection.synthetic": Wired(2, change=("jobs.json:synthetic",), same=("jobs.json:photos",)),
    "projection.synthetic_seed": Wired(
        1,
        change=(f"{SYN}/target.png", f"{SYN}/metrics.json:dist_true_w", f"{SYN}/{W}"),
        same=(f"{PHO}/*", *(f"{SYN}/{a}" for a in (*START, *SCHEDULE))),
        may=(f"{SYN}/*",),
    ),
    "projection.space": _opt(
        "space", "w+", ("metrics.json:space", "projected_w.npz:space", "metrics.json:layer_spread", W)
    ),
    "projection.steps": _opt(
        "steps", 3,
        ("metrics.json:steps", LOSS, "history.npz:lr", "history.npz:w_noise", W, STEPS_LOG),
    ),
    "projection.lr": _opt("lr", 0.05, ("history.npz:lr", LOSS, W)),
    "projection.lr_rampup": _opt("lr_rampup", 0.5, ("history.npz:lr", LOSS, W)),
    # only the last step's rate changes: the recorded losses (computed before it) do not
    "projection.lr_rampdown": _opt("lr_rampdown", 0.5, ("history.npz:lr", W)),
    "projection.noise_factor": _opt("noise_factor", 0.2, ("history.npz:w_noise", LOSS, W)),
    "projection.noise_ramp": _opt("noise_ramp", 0.3, ("history.npz:w_noise", LOSS, W)),
    "projection.noise_reg": _opt("noise_reg", 10.0, (LOSS, "history.npz:noise_reg", W)),
    "projection.w_avg_samples": _opt(
        "w_avg_samples", 100,
        ("projected_w.npz:w_avg", "projected_w.npz:sigma_w", "metrics.json:sigma_w",
         "history.npz:w_noise", W),
    ),
    "projection.compare_size": _opt("compare_size", 16, (LOSS, W)),
    "projection.seed": _opt(
        "seed", 1,
        ("projected_w.npz:w_avg", "projected_w.npz:sigma_w", "metrics.json:sigma_w",
         "history.npz:w_noise", "history.npz:noise_reg", W),
    ),
    # every weight from one non-zero value to another: a weight read as "on" only is caught
    "projection.losses.lpips": _opt("losses", 0.25, (LOSS, W)),
    "projection.losses.l2": _opt("losses", 0.25, (LOSS, W)),
    "projection.losses.l1": _opt("losses", 0.25, (LOSS, W)),
    "projection.losses.ms_ssim": _opt("losses", 0.25, (LOSS, W)),
    "projection.losses.identity": _opt(
        "losses", 0.5, (LOSS, W), base={"projection.losses.identity": 0.25}
    ),
    "projection.vgg16": _opt(
        "vgg16", None, ("metrics.json:lpips", "history.npz:lpips", LOSS, W)
    ),
    "projection.align.enabled": _align(False, ("aligned",)),
    "projection.align.landmarks": _align("detector", ("backend", "kps", "matrix")),
    "projection.align.max_side": _align(512, ("kps", "matrix")),
    "projection.video": Wired(True, change=(f"{SYN}/proj.mp4",), same=(*SYN_FILES, STEPS_LOG)),
    "projection.video_every": Wired(
        1, change=(f"{SYN}/proj.mp4",), same=(*SYN_FILES, STEPS_LOG),
        base={"projection.video": True},
    ),
    "projection.log_every": Wired(1, change=(STEPS_LOG,), same=(f"{SYN}/*",)),
}  # fmt: skip

NO_EFFECT: dict[str, NoEffect] = {
    "projection.identity_embedder": NoEffect(
        "facenet is the only embedder (null with losses.identity > 0 is a config error, "
        "test_projection_settings.py); it is built only for the identity loss, whose weight is "
        "0 in the baseline (losses.identity shows the embedder at work)",
        None,
        verify=("project:synthetic0000",),
    ),
}


# --- the stages, called as workflow/scripts/projection/*.py call them --------------------------


def _photo(name: str) -> Path:
    return find_testdata() / "photos" / f"{name}.jpg"


@pytest.fixture(scope="module")
def assets(tmp_path_factory) -> dict[str, str]:
    """The 32 px StyleGAN2 pickle (noise strengths set), the VGG16 and FaceNet stand-ins."""
    pytest.importorskip("dlib")
    from ganatlas.faces.facenet import InceptionResnetV1
    from ganatlas.networks.persistence import save_network_pickle
    from ganatlas.networks.stylegan2 import Generator

    if not all(_photo(n).is_file() for n in ("obama", "rose_leslie2")):
        pytest.skip(f"test photos not found under {find_testdata()} (set GANATLAS_TESTDATA)")
    root = tmp_path_factory.mktemp("assets")
    torch.manual_seed(0)
    g = Generator(
        z_dim=16, c_dim=0, w_dim=16, img_resolution=32, img_channels=3,
        mapping_kwargs={"num_layers": 2}, synthesis_kwargs={"channel_base": 64, "channel_max": 8},
    ).eval()  # fmt: skip
    with torch.no_grad():
        for name, p in g.named_parameters():
            if name.endswith("noise_strength"):
                p.fill_(0.5)  # random init is 0: the noise buffers would not reach the image
    out = {"sg2": str(save_network_pickle(root / "sg2.pkl", G=g, G_ema=g))}
    torch.jit.script(_StandInVGG()).save(str(root / "vgg16.pt"))
    out["vgg16"] = str(root / "vgg16.pt")
    state = {k: v.half() for k, v in InceptionResnetV1().state_dict().items()}
    torch.save(state, root / "facenet.pt")  # random weights, half precision: a smaller file
    out["facenet"] = str(root / "facenet.pt")
    out["embedder"] = str(_stand_in_embedder(root / "embedder.onnx"))
    out["obama"], out["rose"] = str(_photo("obama")), str(_photo("rose_leslie2"))
    out["scrfd"] = str(find_testdata() / "models" / "scrfd_500m.onnx")
    if not Path(out["scrfd"]).is_file():
        pytest.skip(f"{out['scrfd']} absent (set GANATLAS_TESTDATA)")
    return out


def _stand_in_embedder(path: Path, size: int = 16, dim: int = 16) -> Path:
    """An ONNX identity embedder ``[1, 3, size, size] -> [1, dim]`` (one random linear map)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    w = np.random.default_rng(2).standard_normal((3 * size * size, dim)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("Flatten", ["data"], ["flat"]),
         helper.make_node("MatMul", ["flat", "W"], ["out"])],
        "stand_in",
        [helper.make_tensor_value_info("data", TensorProto.FLOAT, [1, 3, size, size])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, [1, dim])],
        [numpy_helper.from_array(w, "W")],
    )  # fmt: skip
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


class _StandInVGG(torch.nn.Module):
    """NVIDIA's vgg16.pt call interface on one 3x3 convolution: ``(img [N, 3, H, W] in [0, 255],
    resize_images, return_lpips) -> [N, F]``."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(1)
        self.conv = torch.nn.Conv2d(3, 4, 3)

    def forward(self, img, resize_images: bool = True, return_lpips: bool = False):
        return self.conv(img / 255).flatten(1)


def base_config(assets: dict) -> dict:
    """The tiny projection config with the overrides of the module docstring (unchecked)."""
    c = yaml.safe_load(TINY.read_text())
    c["network"] = assets["sg2"]
    c["projection"].update(
        photos=[assets["obama"]], synthetic=1, steps=4, w_avg_samples=200, log_every=2,
        vgg16=assets["vgg16"], identity_embedder="facenet",
    )  # fmt: skip
    c["projection"]["losses"] = {"l1": 0.5}  # every term on but identity (lpips, l2, ms_ssim: 1)
    c["detector"] = {"backend": "insightface", "det_model": assets["scrfd"], "det_size": 64}
    c["embedder"] = {"name": "onnx", "model": assets["embedder"], "input_size": 16,
                     "weights": assets["facenet"]}  # fmt: skip
    return c


def resolve(value: Any, assets: dict) -> Any:
    if isinstance(value, Asset):
        if not Path(assets[value.name]).is_file():
            pytest.skip(f"{assets[value.name]} absent (set GANATLAS_TESTDATA)")
        return assets[value.name]
    if isinstance(value, list):
        return [resolve(v, assets) for v in value]
    if isinstance(value, dict):
        return {k: resolve(v, assets) for k, v in value.items()}
    return value


def run_stage(stage: str, config: dict, d: Path) -> None:
    """Run ``stage`` (``jobs``, ``project:<item>`` or ``summary``) for ``config`` in run folder
    ``d`` with the params its rule passes."""
    from ganatlas.studies.projection import stages as S
    from ganatlas.studies.projection.settings import PROJECT_KEYS, projection_config, rule_params

    prj = projection_config(config)
    if stage == "jobs":
        jobs = {"photos": list(prj["items"]), "synthetic": prj["synthetic_items"]}
        (d / "jobs.json").write_text(json.dumps(jobs))
    elif stage.startswith("project:"):
        item = stage.split(":", 1)[1]
        assert item in [*prj["items"], *prj["synthetic_items"]], item
        lines: list[str] = []
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(S, "_log", lines.append)
            S.stage_project(d / "network.json", copy.deepcopy(rule_params(prj, *PROJECT_KEYS)),
                            item, prj["items"].get(item), d / ITEMS[item], "cpu", 1)  # fmt: skip
        steps = [m[1] for line in lines if (m := re.match(r"step (\d+/\d+) ", line))]
        (d / "logs/projection").mkdir(parents=True, exist_ok=True)
        (d / f"logs/projection/{item}.steps").write_text("\n".join(steps))
    elif stage == "summary":
        items = [d / ITEMS[i] for i in (*prj["items"], *prj["synthetic_items"])]
        out = [d / f for f in SUMMARY_FILES]
        S.stage_summary(items, copy.deepcopy(rule_params(prj, *SUMMARY_KEYS)), out[0], out[1],
                        out[2], out[3])  # fmt: skip
    else:
        raise KeyError(stage)


def stage_of(name: str) -> str:
    """The stage that writes artifact (or glob) ``name``."""
    file = name.split(":", 1)[0]
    if file == "jobs.json":
        return "jobs"
    for item, folder in ITEMS.items():
        if file.startswith(folder + "/") or file == f"logs/projection/{item}.steps":
            return f"project:{item}"
    if file in SUMMARY_FILES:
        return "summary"
    raise KeyError(name)


def files_of(d: Path, stage: str) -> list[Path]:
    if stage == "jobs":
        return [d / "jobs.json"]
    if stage == "summary":
        return [d / f for f in SUMMARY_FILES]
    item = stage.split(":", 1)[1]
    return [*sorted((d / ITEMS[item]).iterdir()), d / f"logs/projection/{item}.steps"]


def artifacts(d: Path, stages: set[str]) -> dict[str, Any]:
    """``{artifact: value}`` of the files ``stages`` wrote in ``d``."""
    import pandas as pd

    out: dict[str, Any] = {}
    for stage in stages:
        for p in files_of(d, stage):
            rel = p.relative_to(d).as_posix()
            if p.suffix == ".npz":
                with np.load(p) as z:
                    out.update({f"{rel}:{k}": z[k] for k in z.files})
            elif p.suffix == ".json":
                out.update({f"{rel}:{k}": v for k, v in json.loads(p.read_text()).items()})
            elif p.suffix == ".csv":
                out.update({f"{rel}:{k}": v.tolist() for k, v in pd.read_csv(p).items()})
            else:
                out[rel] = p.read_bytes()
    return out


def stages_of(globs: tuple[str, ...]) -> set[str]:
    return {stage_of(g) for g in globs}


def _record_figure(fn):
    """``fn(data..., path)`` recorded, not drawn: the file holds what the figure was given."""
    import inspect

    sig = inspect.signature(fn)

    def plain(v: Any) -> Any:
        if hasattr(v, "to_csv"):
            return v.to_csv()
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        if isinstance(v, np.ndarray):
            return (v.dtype.str, v.shape, v.tobytes())
        return v

    def record(*args, **kwargs):
        data = dict(sig.bind(*args, **kwargs).arguments)
        path = Path(data.pop("path"))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(pickle.dumps((fn.__name__, plain(data))))

    return record


def _memo(fn, fresh=lambda obj: obj):
    """``fn`` called once per distinct arguments; ``fresh(cached)`` is returned."""
    cache: dict[str, Any] = {}

    def memo(*args, **kwargs):
        key = repr((args, sorted(kwargs.items())))
        if key not in cache:
            cache[key] = fn(*args, **kwargs)
        return fresh(cache[key])

    return memo


@pytest.fixture(scope="module", autouse=True)
def fast_stages():
    """One torch thread (what the rule's ``threads: 1`` gives the job; more make each StyleGAN2
    step ~50x slower on a busy machine); the two figures recorded, not drawn (drawing is tested
    by test_projection_workflow.py; here what reaches them matters); dlib's model files, the
    face models and the network each read once per distinct arguments (seconds each; a changed
    setting still builds its own detector, and every job gets its own copy of the network)."""
    import ganatlas.threads
    from ganatlas.faces import backends, embedders
    from ganatlas.networks import resolve
    from ganatlas.studies.projection import stages as S

    dlib = pytest.importorskip("dlib")
    before = (torch.get_num_threads(), ganatlas.threads.job_threads())
    ganatlas.threads.set_job_threads(1)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(S, "loss_figure", _record_figure(S.loss_figure))
        mp.setattr(S, "latents_figure", _record_figure(S.latents_figure))
        for name in ("get_frontal_face_detector", "shape_predictor", "face_recognition_model_v1"):
            mp.setattr(dlib, name, _memo(getattr(dlib, name)))
        mp.setattr(backends, "make_backend", _memo(backends.make_backend))
        mp.setattr(embedders, "make_embedder", _memo(embedders.make_embedder))
        mp.setattr(resolve, "load_from_info", _memo(resolve.load_from_info, copy.deepcopy))
        yield
    torch.set_num_threads(before[0])
    ganatlas.threads._JOB_THREADS = before[1]


class Baselines:
    """Run folders of the baselines (one per ``base``), each stage computed at most once."""

    def __init__(self, root: Path, assets: dict) -> None:
        self.root, self.assets = root, assets
        self.runs: dict[str, tuple[dict, Path, set[str]]] = {}

    def config(self, base: dict, key: str | None = None, value: Any = None) -> dict:
        c = base_config(self.assets)
        for k, v in [*base.items(), *([(key, value)] if key else [])]:
            set_key(c, k, resolve(v, self.assets))
        check_config(c)  # a valid value, or a clear error here
        return c

    def ensure(self, base: dict, stages: set[str]) -> Path:
        from ganatlas.studies.walk.stages import stage_network

        name = repr(sorted(base.items()))
        if name not in self.runs:
            d = self.root / f"base{len(self.runs)}"
            d.mkdir()
            config = self.config(base)
            if not self.runs:  # every baseline has the same network
                stage_network(config["network"], self.root / "network.json")
            shutil.copy(self.root / "network.json", d / "network.json")
            self.runs[name] = (config, d, set())
        config, d, done = self.runs[name]
        if "summary" in stages:
            stages = stages | {f"project:{i}" for i in ITEMS}
        for s in sorted(stages, key=lambda s: s == "summary"):  # the items first
            if s not in done:
                run_stage(s, config, d)
                done.add(s)
        return d

    def rerun(self, base: dict, key: str, value: Any, stages: set[str]) -> tuple[dict, dict]:
        """(baseline artifacts, changed artifacts) of ``stages``, each rerun on its own on the
        baseline's inputs with ``key`` set to ``value``."""
        base_dir = self.ensure(base, stages)
        config = self.config(base, key, value)
        after: dict[str, Any] = {}
        for s in sorted(stages):
            d = self.root / f"run_{key}_{s.replace(':', '_')}"
            shutil.copytree(base_dir, d)
            for p in files_of(d, s):
                shutil.rmtree(p) if p.is_dir() else p.unlink()
            run_stage(s, config, d)
            after.update(artifacts(d, {s}))
        return artifacts(base_dir, stages), after


@pytest.fixture(scope="module")
def baselines(tmp_path_factory, assets) -> Baselines:
    return Baselines(tmp_path_factory.mktemp("wiring"), assets)


# --- the tests --------------------------------------------------------------------------------


@pytest.mark.parametrize("key", PRJ_KEYS)
def test_projection_setting_is_wired(key, baselines):
    """Changing ``key`` changes the outputs its table entry names, and no other output."""
    if key in NO_EFFECT:
        entry = NO_EFFECT[key]
        if entry.verify:
            before, after = baselines.rerun({}, key, entry.value, set(entry.verify))
            assert before, f"{key}: the stages {entry.verify} wrote nothing"
            changed = diff(before, after, ignore=TIMING)
            assert_nothing_changed(key, entry.reason, changed)
        return
    if key not in WIRED:
        fail_unclassified(key, Path(__file__).name)
    entry = WIRED[key]
    stages = stages_of(entry.change + entry.same + entry.may)
    before, after = baselines.rerun(entry.base, key, entry.value, stages)
    check_wired_entry(key, entry, before, after, ignore=TIMING)


def test_tables_name_only_projection_keys():
    assert_tables_name_only(WIRED, NO_EFFECT, PRJ_KEYS)
    assert {"projection.losses.l2", "projection.align.max_side"} <= set(PRJ_KEYS)
    assert "projection.losses" not in PRJ_KEYS


def test_each_receiving_stage_is_rerun():
    """An entry reruns every stage whose rule params carry its key: a project job (the photo's
    or the generated face's) for PROJECT_KEYS, the summary for the summary rule's keys, the
    job list for photos and synthetic."""
    from ganatlas.studies.projection.settings import PROJECT_KEYS

    assert "prj_params(PRJ, *PROJECT_KEYS)" in RULES and set(SUMMARY_KEYS) <= set(PROJECT_KEYS)
    for key in PRJ_KEYS:
        top = key.split(".")[1]
        e = WIRED.get(key) or NO_EFFECT.get(key)
        if e is None:
            continue  # test_projection_setting_is_wired fails it
        rerun = stages_of(e.change + e.same + e.may) if isinstance(e, Wired) else set(e.verify)
        need = {"jobs"} if top in JOB_KEYS else set()
        need |= {"summary"} if top in SUMMARY_KEYS else set()
        assert need <= rerun, f"{key}: the stages {need - rerun} receive it but are not rerun"
        if top in PROJECT_KEYS:
            assert any(s.startswith("project:") for s in rerun), f"{key}: no project job rerun"

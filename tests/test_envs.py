"""Conda environments (envs/), the Makefile and pyproject.toml agree; envs survive Snakemake's copy.

Under ``--sdm conda`` Snakemake copies ``envs/<name>.yaml`` to ``<conda-prefix>/<hash>.yaml`` and
``<name>.post-deploy.sh`` to ``<conda-prefix>/<hash>.post-deploy.sh``, then runs conda on the copy
and the script from the run's working directory (docs/envs.md). These tests hold the env files to
that: no relative path in the YAML, and a post-deploy script that finds the repository from the
working directory (or $GANATLAS_REPO), not from its own location.
"""

from __future__ import annotations

import inspect
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    tomllib = pytest.importorskip("tomli")

REPO = Path(__file__).resolve().parents[1]
ENVS = ("cpu", "gpu")


def pyproject() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text())["project"]


def pyproject_requirements() -> dict[str, Requirement]:
    """Every requirement of pyproject.toml (dependencies and extras) by canonical name."""
    project = pyproject()
    reqs = [Requirement(r) for r in project["dependencies"]]
    for extra in project["optional-dependencies"].values():
        reqs += [Requirement(r) for r in extra]
    out: dict[str, Requirement] = {}
    for r in reqs:
        name = canonicalize_name(r.name)
        assert name not in out or out[name].specifier == r.specifier, f"{r.name}: two pins"
        out[name] = r
    return out


def env_pip_entries(env: str) -> list[str]:
    spec = yaml.safe_load((REPO / "envs" / f"{env}.yaml").read_text())
    pips = [d["pip"] for d in spec["dependencies"] if isinstance(d, dict) and "pip" in d]
    return [entry for block in pips for entry in block]


def env_pip_requirements(env: str) -> list[Requirement]:
    return [Requirement(e) for e in env_pip_entries(env) if not e.startswith("-")]


def makefile_pins() -> dict[str, str]:
    """``name==version`` pins of the Makefile's pip lines."""
    text = (REPO / "Makefile").read_text()
    return {canonicalize_name(n): v for n, v in re.findall(r"([A-Za-z0-9_.-]+)==([^\s']+)", text)}


def no_deps_pins(text: str) -> set[str]:
    lines = [ln for ln in text.splitlines() if "pip" in ln.lower() and "--no-deps" in ln]
    lines = [ln for ln in lines if "--force-reinstall" not in ln]  # gpu: onnxruntime-gpu restore
    assert len(lines) == 1, lines
    return {w for w in lines[0].split() if "==" in w}


# --- the env files survive Snakemake's copy ------------------------------------------------------


@pytest.mark.parametrize("env", ENVS)
def test_env_yaml_has_no_local_paths(env):
    """conda runs the pip section from the copy's folder (.snakemake/conda): no path may be in it."""
    for entry in env_pip_entries(env):
        words = entry.split()
        assert words[0] not in ("-e", "--editable", "-r", "--requirement", "-c", "--constraint"), (
            f"envs/{env}.yaml: {entry!r} is resolved from .snakemake/conda/, not envs/"
        )
        target = words[-1]
        assert not target.startswith((".", "/", "~", "file:")), f"envs/{env}.yaml: {entry!r}"
        assert "/" not in target or "://" in target, f"envs/{env}.yaml: {entry!r} looks like a path"


def test_snakemake_still_copies_env_files():
    """The behaviour docs/envs.md relies on, in the installed Snakemake's source (a tripwire)."""
    conda = pytest.importorskip("snakemake.deployment.conda")
    source = inspect.getsource(conda.Env.create)
    assert 'target_env_file = env_path + f".{filetype}"' in source
    assert '--file "{target_env_file}"' in source
    assert 'target_deploy_file = env_path + ".post-deploy.sh"' in source
    runner = inspect.getsource(conda.Env.execute_deployment_script)
    assert "cwd=" not in runner  # the script runs in Snakemake's working directory


FAKE_PYTHON = """#!/usr/bin/env bash
printf '%s\\n' "$*" >> "$FAKE_LOG"
if [ "$1" = -c ]; then echo 1.99.0; fi
"""


def run_post_deploy(env: str, tmp_path: Path, cwd: Path, repo_env: str | None = None):
    """envs/<env>.post-deploy.sh as Snakemake runs it: a copy elsewhere, from the working dir.

    ``python`` is a stand-in that records its arguments (one line per call).
    """
    if shutil.which("bash") is None:
        pytest.skip("no bash")
    prefix = tmp_path / "conda-prefix"
    (prefix / "0123abcd_" / "bin").mkdir(parents=True, exist_ok=True)
    fake = prefix / "0123abcd_" / "bin" / "python"
    fake.write_text(FAKE_PYTHON)
    fake.chmod(0o755)
    script = prefix / "0123abcd_.post-deploy.sh"
    shutil.copy(REPO / "envs" / f"{env}.post-deploy.sh", script)
    log = tmp_path / "calls.log"
    log.write_text("")
    environ = {k: v for k, v in os.environ.items() if k != "GANATLAS_REPO"}
    environ.update(PATH=f"{fake.parent}{os.pathsep}{environ.get('PATH', '')}", FAKE_LOG=str(log))
    if repo_env is not None:
        environ["GANATLAS_REPO"] = repo_env
    proc = subprocess.run(
        ["bash", str(script)], cwd=cwd, env=environ, capture_output=True, text=True, timeout=60
    )
    return proc, log.read_text().splitlines()


@pytest.mark.parametrize("env", ENVS)
@pytest.mark.parametrize("where", [".", "envs"])
def test_post_deploy_installs_repo_from_working_dir(env, where, tmp_path):
    proc, calls = run_post_deploy(env, tmp_path, cwd=REPO / where)
    assert proc.returncode == 0, proc.stderr
    assert calls[0] == f"-m pip install -e {REPO}[{env}]"
    assert calls[1].startswith("-m pip install --no-deps ")
    if env == "gpu":
        assert calls[2:] == [
            "-m pip uninstall -y onnxruntime",
            calls[3],
            "-m pip install --force-reinstall --no-deps onnxruntime-gpu==1.99.0",
        ]
        assert calls[3].startswith("-c ")
    else:
        assert len(calls) == 2


def test_post_deploy_outside_repo_needs_ganatlas_repo(tmp_path):
    outside = tmp_path / "workdir"
    outside.mkdir()
    proc, calls = run_post_deploy("cpu", tmp_path, cwd=outside)
    assert proc.returncode != 0 and calls == []
    assert "GANATLAS_REPO" in proc.stderr
    proc, calls = run_post_deploy("cpu", tmp_path, cwd=outside, repo_env=str(REPO))
    assert proc.returncode == 0, proc.stderr
    assert calls[0] == f"-m pip install -e {REPO}[cpu]"
    proc, calls = run_post_deploy("cpu", tmp_path, cwd=REPO, repo_env=str(outside))
    assert proc.returncode != 0 and calls == []
    assert "holds no ganatlas pyproject.toml" in proc.stderr


# --- one source for pins --------------------------------------------------------------------------


def test_envs_repeat_only_the_torch_build():
    """Every dependency but the torch wheel (its own index per build) comes from pyproject."""
    for env in ENVS:
        names = {canonicalize_name(r.name) for r in env_pip_requirements(env)}
        assert names == {"torch"}, f"envs/{env}.yaml repeats {names - {'torch'}}"


def test_pins_agree_with_pyproject():
    reqs = pyproject_requirements()
    make = makefile_pins()
    assert "torch" in make
    for env in ENVS:
        (torch,) = env_pip_requirements(env)
        (spec,) = torch.specifier
        assert spec.operator == "==" and spec.version == make["torch"], f"envs/{env}.yaml"
    for name, version in make.items():
        if name in reqs:
            assert reqs[name].specifier.contains(version, prereleases=True), (
                f"Makefile pins {name}=={version}, pyproject says {reqs[name]}"
            )


def test_no_deps_wheels_agree():
    make = no_deps_pins((REPO / "Makefile").read_text())
    assert make
    for env in ENVS:
        assert no_deps_pins((REPO / "envs" / f"{env}.post-deploy.sh").read_text()) == make, env


def test_extras_exist_and_keep_onnxruntime_builds_apart():
    extras = pyproject()["optional-dependencies"]
    names = {k: {canonicalize_name(Requirement(r).name) for r in v} for k, v in extras.items()}
    assert "onnxruntime" in names["cpu"] and "onnxruntime-gpu" not in names["cpu"]
    assert "onnxruntime-gpu" in names["gpu"] and "onnxruntime" not in names["gpu"]
    (make_extras,) = re.findall(r"-e '\.\[([a-z,]+)\]'", (REPO / "Makefile").read_text())
    assert set(make_extras.split(",")) <= set(extras)
    for env in ENVS:
        assert env in extras
        assert f'"$repo[{env}]"' in (REPO / "envs" / f"{env}.post-deploy.sh").read_text()


@pytest.mark.parametrize("dist", ["torch", "insightface", "snakemake", "onnxruntime"])
def test_installed_versions_satisfy_pyproject(dist):
    """This environment (the Makefile's) meets pyproject's lower bounds."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        installed = version(dist)
    except PackageNotFoundError:
        pytest.skip(f"{dist} not installed")
    req = pyproject_requirements()[canonicalize_name(dist)]
    assert req.specifier.contains(installed.split("+")[0], prereleases=True), (
        f"{dist} {installed} does not satisfy {req}"
    )


# --- InsightFace internals (ganatlas.faces.insightface_backend.INSIGHTFACE_INTERNALS) ------------


def self_attributes(cls: type) -> set[str]:
    """Names assigned as ``self.<name> = ...`` in the source of ``cls`` and its bases."""
    import ast
    import textwrap

    names: set[str] = set()
    for klass in cls.__mro__[:-1]:  # not object
        try:
            tree = ast.parse(textwrap.dedent(inspect.getsource(klass)))
        except (OSError, TypeError):
            continue
        for node in ast.walk(tree):
            targets = getattr(node, "targets", None) or [getattr(node, "target", None)]
            for target in targets:
                elts = target.elts if isinstance(target, ast.Tuple) else [target]
                names |= {
                    t.attr
                    for t in elts
                    if isinstance(t, ast.Attribute)
                    and isinstance(t.value, ast.Name)
                    and t.value.id == "self"
                }
    return names


def insightface_internals() -> list[tuple[str, str]]:
    from ganatlas.faces.insightface_backend import INSIGHTFACE_INTERNALS

    return [(where, attr) for where, attrs in INSIGHTFACE_INTERNALS.items() for attr in attrs]


@pytest.mark.parametrize(("where", "attr"), insightface_internals())
def test_insightface_internal_exists(where, attr):
    import importlib

    pytest.importorskip("insightface", reason="insightface is not installed")
    module_name, _, class_name = where.partition(":")
    module = importlib.import_module(module_name)
    if not class_name:
        assert hasattr(module, attr), f"{module_name}.{attr} is gone"
        return
    cls = getattr(module, class_name)
    assert hasattr(cls, attr) or attr in self_attributes(cls), f"{where}.{attr} is gone"


def test_insightface_internals_on_a_loaded_detector(testdata):
    """The SCRFD entries on a real instance, as model_zoo routes scrfd_500m.onnx."""
    pytest.importorskip("insightface", reason="insightface is not installed")
    from ganatlas.faces.insightface_backend import INSIGHTFACE_INTERNALS, _load_model

    det = _load_model(testdata / "models" / "scrfd_500m.onnx", ["CPUExecutionProvider"])
    assert type(det).__module__ + ":" + type(det).__name__ == "insightface.model_zoo.scrfd:SCRFD"
    missing = [
        a for a in INSIGHTFACE_INTERNALS["insightface.model_zoo.scrfd:SCRFD"] if not hasattr(det, a)
    ]
    assert not missing


def test_insightface_checked_version_meets_pyproject():
    from ganatlas.faces.insightface_backend import INSIGHTFACE_CHECKED_VERSION

    req = pyproject_requirements()["insightface"]
    assert req.specifier.contains(INSIGHTFACE_CHECKED_VERSION)

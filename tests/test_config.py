"""Config validation: defaults, and errors that name the key and the allowed values."""

import pytest
import yaml
from conftest import REPO

from ganatlas.config import ConfigError, check_config

REPO_CONFIG = REPO / "config.yaml"


def test_defaults_fill_in(repo_root):
    cfg = check_config({})
    assert cfg["network"] == "digiface-dcgan" and cfg["w_avg"]["samples"] == 10_000
    assert cfg["detector"]["det_thresh"] == 0.5 and cfg["clamp"]["center"] == "w_avg"
    shipped = check_config(yaml.safe_load((repo_root / "config.yaml").read_text()))
    assert shipped["seeds"] == [0, 1, 2, 3] and shipped["steps"] == 1000


@pytest.mark.parametrize(
    "cfg, expected",
    [
        ({"detector": {"backend": "opencv"}}, "config key 'detector.backend': got 'opencv'"),
        ({"detector": {"backend": "opencv"}}, "allowed values: auto, insightface, mtcnn, dlib"),
        ({"step_mode": "levy"}, "allowed values: gaussian, fixed"),
        ({"clamp": {"radius": "p42"}}, "config key 'clamp.radius'"),
        ({"seeds": []}, "config key 'seeds'"),
        ({"steps": 0}, "config key 'steps': got 0"),
        ({"seed": [1]}, "known keys:"),
        ({"detector": {"det_sise": 320}}, "config key 'detector': unknown key(s) ['det_sise']"),
    ],
)
def test_errors_name_key_and_allowed(cfg, expected):
    with pytest.raises(ConfigError) as err:
        check_config(cfg)
    assert expected in str(err.value)


def test_command_line_strings_are_parsed():
    """`snakemake --config steps=200 seeds=[1,2]` passes strings; they are read as YAML."""
    cfg = check_config({"steps": "200", "seeds": "[1, 2]", "step_size": "0.05", "network": "x.pkl"})
    assert cfg["steps"] == 200 and cfg["seeds"] == [1, 2] and cfg["step_size"] == 0.05
    assert cfg["network"] == "x.pkl"
    with pytest.raises(ConfigError, match="config key 'steps'"):
        check_config({"steps": "many"})


def test_onnx_providers_follow_the_job_device():
    from ganatlas.faces.backends import onnx_providers

    assert onnx_providers("auto", "cpu") == ["CPUExecutionProvider"]
    assert onnx_providers("auto", "cuda:3") == [
        ("CUDAExecutionProvider", {"device_id": 3}),
        "CPUExecutionProvider",
    ]
    assert onnx_providers(["CPUExecutionProvider"], "cuda:1") == ["CPUExecutionProvider"]


def test_schema_ships_in_the_package_and_covers_every_study_section():
    from importlib import resources

    from ganatlas.config import load_schema

    text = resources.files("ganatlas").joinpath("schema", "config.schema.yaml").read_text()
    assert "semantics:" in text
    schema = load_schema()
    sem = schema["properties"]["semantics"]
    assert sem["additionalProperties"] is False and "default" in sem
    cfg = check_config({})
    assert cfg["semantics"]["samples"] == 2000 and cfg["semantics"]["svm"]["C"] == 1.0
    assert cfg["semantics"]["edit"]["alphas"] == {"start": -3.0, "stop": 3.0, "step": 0.5}


@pytest.mark.parametrize(
    ("section", "expected"),
    [
        ({"semantics": {"svm": {"C": 0}}}, "config key 'semantics.svm.C': got 0"),
        ({"semantics": {"edit": {"spaces": ["wp"]}}}, "wp_layers must be [start, stop)"),
        ({"semantics": {"conditions": {"smile": ["age"]}}}, "semantics.conditions.smile"),
    ],
)
def test_cross_key_errors_of_study_sections_surface_in_check_config(section, expected):
    with pytest.raises(ConfigError) as err:
        check_config(section)
    assert expected in str(err.value)


def test_job_threads_reach_torch_and_onnxruntime():
    import torch

    from ganatlas.threads import job_threads, onnx_session_options, set_job_threads

    before = torch.get_num_threads()
    try:
        assert set_job_threads(1) == 1 and job_threads() == 1 and torch.get_num_threads() == 1
        opts = onnx_session_options()
        assert opts.intra_op_num_threads == 1 and opts.inter_op_num_threads == 1
        assert onnx_session_options(3).intra_op_num_threads == 3
    finally:
        import ganatlas.threads

        ganatlas.threads._JOB_THREADS = None
        torch.set_num_threads(before)
    assert onnx_session_options().intra_op_num_threads == 0  # onnxruntime's default outside a job


@pytest.mark.parametrize(
    ("cfg", "expected"),
    [
        ({"outdir": ""}, "config key 'outdir': got ''; it must not be empty or blank"),
        ({"outdir": "  "}, "must not be empty or blank"),
        ({"seeds": [3, 1, 3]}, "config key 'seeds': got [3, 1, 3]; duplicates [3]"),
        ({"step_size": 0}, "allowed: number > 0 or auto"),
        ({"clamp": {"radius": -3}}, "allowed: number > 0 or string matching"),
        ({"detector": {"det_size": 31}}, "allowed: integer >= 64, <= 2048, a multiple of 32"),
        ({"detector": {"det_size": 100}}, "config key 'detector.det_size': got 100"),
        ({"semantics": {"detector": {"det_size": 330}}}, "a multiple of 32"),
        ({"steps": 10**8}, "config key 'steps': got 100000000"),
        (
            {"steps": 10**6, "shard_size": 1},
            "4 seeds x ceil(1000000 / 1) shards x 2 = 8,000,000 render and detect jobs, over "
            "max_jobs = 20,000",
        ),
    ],
)
def test_bounds_are_enforced_and_named(cfg, expected):
    with pytest.raises(ConfigError) as err:
        check_config(cfg)
    assert expected in str(err.value)


def test_max_jobs_can_be_raised_on_purpose():
    cfg = check_config({"steps": 10**6, "shard_size": 100, "max_jobs": 100_000})
    assert cfg["max_jobs"] == 100_000


def test_config_files_report_file_and_line(tmp_path):
    from ganatlas.config import check_config_files, load_config_file

    bad = tmp_path / "bad.yaml"
    bad.write_text("outdir: x\nseeds: [1, 2\nsteps: 10\n")
    with pytest.raises(ConfigError, match=r"bad.yaml:\d+:\d+: YAML syntax error: .*at line 2"):
        load_config_file(bad)
    listed = tmp_path / "list.yaml"
    listed.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="list.yaml: a config file must be a mapping of keys"):
        load_config_file(listed)
    with pytest.raises(ConfigError, match="missing.yaml: cannot read the config file"):
        load_config_file(tmp_path / "missing.yaml")
    over = tmp_path / "over.yaml"
    over.write_text("w_avg: {samples: 50}\nsteps: 20\n")
    cfg = check_config_files([REPO_CONFIG, over])
    assert cfg["steps"] == 20 and cfg["w_avg"]["samples"] == 50 and cfg["w_avg"]["seed"] == 0


def test_check_config_command(tmp_path, capsys):
    from ganatlas.cli import main

    assert main(["check-config", str(REPO_CONFIG)]) == 0
    assert (
        "valid: network digiface-dcgan, 4 seeds x 1000 steps, 32 render" in capsys.readouterr().out
    )
    bad = tmp_path / "bad.yaml"
    bad.write_text("seeds: [1, 1]\n")
    assert main(["check-config", str(REPO_CONFIG), str(bad)]) == 2
    assert "duplicates [1]" in capsys.readouterr().err

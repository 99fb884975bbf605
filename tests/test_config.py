"""Config validation: defaults, and errors that name the key and the allowed values."""

import pytest
import yaml

from ganatlas.config import ConfigError, check_config


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
        ({"detector": {"backend": "opencv"}}, "allowed values: auto, insightface, dlib"),
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

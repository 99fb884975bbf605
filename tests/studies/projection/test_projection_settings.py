"""The projection section: defaults (NVIDIA's constants), resolution of photos, clear errors."""

import pytest

from ganatlas.config import check_config
from ganatlas.studies.projection.settings import (
    PROJECT_KEYS,
    ProjectionConfigError,
    projection_config,
    projector_settings,
    rule_params,
)


def test_defaults_are_nvidias_constants():
    prj = projection_config({})
    s = projector_settings(prj)
    assert (s.steps, s.lr, s.lr_rampup, s.lr_rampdown) == (1000, 0.1, 0.05, 0.25)
    assert (s.noise_factor, s.noise_ramp, s.noise_reg) == (0.05, 0.75, 1e5)
    assert (s.w_avg_samples, s.compare_size, s.space) == (10000, 256, "w")
    assert prj["items"] == {} and prj["synthetic"] == 0 and prj["synthetic_items"] == []
    assert prj["vgg16"].endswith("/metrics/vgg16.pt")
    assert set(rule_params(prj, *PROJECT_KEYS)) == set(PROJECT_KEYS)


def test_photos_files_and_folders(tmp_path):
    (tmp_path / "d").mkdir()
    for name in ("b.png", "a.jpg", "notes.txt"):
        (tmp_path / "d" / name).write_bytes(b"x")
    (tmp_path / "c.jpeg").write_bytes(b"x")
    prj = projection_config(
        {"projection": {"photos": [str(tmp_path / "d"), str(tmp_path / "c.jpeg")]}}
    )
    assert list(prj["items"]) == ["a", "b", "c"]
    assert prj["synthetic"] == 3 and prj["synthetic_items"][-1] == "synthetic0002"
    prj = projection_config({"projection": {"photos": [str(tmp_path / "c.jpeg")], "synthetic": 5}})
    assert prj["synthetic"] == 5


@pytest.mark.parametrize(
    ("section", "match"),
    [
        ({"space": "z"}, r"projection\.space"),
        ({"steps": 0}, r"projection\.steps"),
        ({"losses": {"identity": 1.0}}, r"projection\.identity_embedder.*not configured"),
        (
            {"losses": {"identity": 1.0}, "identity_embedder": "arcface"},
            r"projection\.identity_embedder",
        ),
        ({"losses": {"lpips": 0, "l2": 0, "ms_ssim": 0}}, "every weight is 0"),
        ({"photos": ["/nonexistent/x.jpg"]}, r"projection\.photos: /nonexistent/x.jpg is neither"),
        ({"align": {"landmarks": "eyes"}}, r"projection\.align\.landmarks"),
    ],
)
def test_bad_values_name_the_key(section, match):
    with pytest.raises(ProjectionConfigError, match=match):
        projection_config({"projection": section})


def test_bad_photo_names(tmp_path):
    for sub in ("x", "y"):
        (tmp_path / sub).mkdir()
        (tmp_path / sub / "same.jpg").write_bytes(b"x")
    with pytest.raises(ProjectionConfigError, match="two photos named 'same'"):
        projection_config({"projection": {"photos": [str(tmp_path / "x"), str(tmp_path / "y")]}})
    (tmp_path / "synthetic1.jpg").write_bytes(b"x")
    with pytest.raises(ProjectionConfigError, match="cannot name a job"):
        projection_config({"projection": {"photos": [str(tmp_path / "synthetic1.jpg")]}})


def test_check_config_runs_the_cross_key_checks():
    with pytest.raises(ProjectionConfigError, match="identity_embedder"):
        check_config({"projection": {"losses": {"identity": 0.5}}})


def test_every_projection_key_reaches_a_job():
    """Each leaf key of the projection schema is in the params of the project jobs, defines the
    jobs themselves (photos, synthetic), or is in the summary job's params (rules/projection.smk)."""
    import re

    from conftest import REPO

    from ganatlas.config import section_schema

    def leaves(schema, prefix=""):
        for k, sub in schema.get("properties", {}).items():
            if sub.get("type") == "object" and sub.get("properties"):
                yield from leaves(sub, f"{prefix}{k}.")
            else:
                yield prefix + k

    rules = (REPO / "rules" / "projection.smk").read_text()
    summary = rules.split("rule projection_summary:", 1)[1].split("rule project:", 1)[0]
    summary_keys = set(re.findall(r'"(\w+)"', summary.split("params:", 1)[1]))
    assert "prj_params(PRJ, *PROJECT_KEYS)" in rules
    defines_jobs = {"photos", "synthetic"}
    for key in leaves(section_schema("projection")):
        top = key.split(".", 1)[0]
        assert top in PROJECT_KEYS or top in defines_jobs or top in summary_keys, key
    assert summary_keys <= set(PROJECT_KEYS)


def test_identity_loss_resolves_the_facenet_weights():
    cfg = {"projection": {"losses": {"identity": 0.5}, "identity_embedder": "facenet"},
           "embedder": {"weights": "/w/facenet.pt"}, "cache_dir": "/c"}  # fmt: skip
    prj = projection_config(cfg)
    assert prj["identity"] == {"name": "facenet", "weights": "/w/facenet.pt", "cache_dir": "/c"}
    assert projection_config({})["identity"] is None

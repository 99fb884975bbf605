"""External boundary files (InterFaceGAN's .npy layout), built here: checks and clear errors."""

from __future__ import annotations

import numpy as np
import pytest

from ganatlas.studies.semantics.external import BoundaryFileError, load_external_boundary
from ganatlas.studies.semantics.settings import SemanticsConfigError, semantics_config


def unit(*shape, seed=0):
    a = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    return a / np.linalg.norm(a, axis=-1, keepdims=True)


def test_interfacegan_layouts_load(tmp_path):
    np.save(tmp_path / "age_w.npy", unit(1, 512))
    b = load_external_boundary(tmp_path / "age_w.npy", "w", 512, 512, 18)
    assert b.shape == (1, 512) and b.dtype == np.float32
    np.testing.assert_allclose(b, np.load(tmp_path / "age_w.npy"), atol=1e-7)
    np.save(tmp_path / "flat.npy", unit(100))
    assert load_external_boundary(tmp_path / "flat.npy", "z", 100, 64, 1).shape == (1, 100)
    np.save(tmp_path / "wp.npy", unit(18, 512))
    assert load_external_boundary(tmp_path / "wp.npy", "wp", 512, 512, 18).shape == (18, 512)
    assert load_external_boundary(tmp_path / "age_w.npy", "wp", 512, 512, 18).shape == (1, 512)


@pytest.mark.parametrize(
    ("array", "space", "message"),
    [
        (unit(1, 512), "z", r"shape \[1, 512\].*space z.*expected \[1, 100\]; its width is w_dim"),
        (unit(1, 100), "w", r"expected \[1, 512\]; its width is z_dim \(100\): a Z boundary"),
        (unit(18, 512), "w", r"shape \[18, 512\].*expected \[1, 512\]$"),
        (unit(4, 512), "wp", r"expected \[1, 512\] or \[14, 512\]"),
        (2 * unit(1, 100), "z", r"norms \[2.0\].*unit normal"),
        (np.full((1, 100), np.nan), "z", "non-finite"),
        (np.array(["a"]), "z", "numeric array"),
    ],
)
def test_bad_files_name_the_entry(tmp_path, array, space, message):
    np.save(tmp_path / "b.npy", array)
    with pytest.raises(BoundaryFileError, match=message) as err:
        load_external_boundary(tmp_path / "b.npy", space, 100, 512, 14, key="files[0] (age)")
    assert str(err.value).startswith("files[0] (age): ")


def test_missing_and_non_npy_files(tmp_path):
    with pytest.raises(BoundaryFileError, match="no file at"):
        load_external_boundary(tmp_path / "nope.npy", "z", 4, 4, 1)
    (tmp_path / "x.npy").write_bytes(b"not numpy")
    with pytest.raises(BoundaryFileError, match="is not a .npy array"):
        load_external_boundary(tmp_path / "x.npy", "z", 4, 4, 1)
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(BoundaryFileError, match="is not a .npy array"):  # no pickles loaded
        load_external_boundary(tmp_path / "obj.npy", "z", 4, 4, 1)


def test_config_entries_checked():
    ok = semantics_config({"semantics": {"edit": {
        "boundary_files": [{"name": "age", "path": "a.npy", "space": "w"}]}}})  # fmt: skip
    assert ok["edit"]["boundary_files"][0]["name"] == "age"
    bad = [
        ({"boundary_files": [{"name": "yaw", "path": "a.npy", "space": "w"}]}, "clash"),
        ({"boundary_files": [{"name": "x", "path": "a", "space": "w"},
                             {"name": "x", "path": "b", "space": "z"}]}, r"\['x'\] repeat"),
        ({"boundary_files": [{"name": "x", "path": "a", "space": "wp"}]}, "wp_layers"),
        ({"boundary_files": [{"name": "a/b", "path": "a", "space": "w"}]}, "boundary_files.0.name"),
        ({"boundary_files": [{"name": "x", "path": "a"}]}, "space"),
    ]  # fmt: skip
    for edit, message in bad:
        with pytest.raises(SemanticsConfigError, match=message):
            semantics_config({"semantics": {"edit": edit}})


def test_stage_edit_external_on_a_tiny_network(tmp_path):
    """An InterFaceGAN-layout W boundary, edited by distance: each edited latent sits at the
    requested signed distance; a planted w score moves by cos(normal, truth) per unit; a file
    of the wrong width is refused with the entry named."""
    import pandas as pd

    from ganatlas.networks.resolve import describe_network
    from ganatlas.studies.semantics import stages
    from ganatlas.studies.semantics.effects import face_fits
    from ganatlas.studies.semantics.scoring import planted_direction

    info = describe_network("tiny-random")
    normal = unit(1, info["w_dim"], seed=3)
    np.save(tmp_path / "ext.npy", normal)
    np.save(tmp_path / "bad.npy", unit(1, info["w_dim"] + 1))
    files = [{"name": "ext", "path": str(tmp_path / "ext.npy"), "space": "w"},
             {"name": "bad", "path": str(tmp_path / "bad.npy"), "space": "w"}]  # fmt: skip
    sem = semantics_config({"semantics": {
        "detector": {"backend": "none"}, "attributes": ["b"],
        "scorers": [{"type": "planted", "name": "b", "space": "w", "seed": 2}],
        "edit": {"seeds": [0, 1], "alphas": [-2, 0, 2], "mode": "distance", "grid_faces": 2,
                 "boundary_files": files}}})  # fmt: skip
    out, grid = tmp_path / "ext.parquet", tmp_path / "grid_external_ext.png"
    stages.stage_edit_external(info, sem, "ext", out, grid)
    rows = pd.read_parquet(out)
    assert grid.is_file() and set(rows.edited) == {"ext"} and set(rows["mode"]) == {"distance"}
    np.testing.assert_allclose(rows.distance, np.tile([-2.0, 0.0, 2.0], 2), atol=1e-4)
    assert "start_ext" in rows and rows.start_ext.nunique() == 2
    slope = face_fits(rows, ["b"]).slope
    np.testing.assert_allclose(slope, normal[0] @ planted_direction(info["w_dim"], 2), rtol=1e-3)
    with pytest.raises(BoundaryFileError, match=r"boundary_files\[1\] \(bad\): .*expected \["):
        stages.stage_edit_external(info, sem, "bad", tmp_path / "b.parquet", tmp_path / "b.png")

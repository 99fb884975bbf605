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

"""Atomic writers: the target appears only complete; a failure leaves no file behind."""

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ganatlas.atomic import atomic_path, save_npz_atomic, write_parquet_atomic, write_text_atomic


def test_writers_produce_complete_files(tmp_path):
    write_text_atomic(tmp_path / "a" / "x.json", "{}\n")
    save_npz_atomic(tmp_path / "w.npz", w=np.arange(3))
    write_parquet_atomic(pa.table({"k": [1, 2]}), tmp_path / "t.parquet")
    assert (tmp_path / "a" / "x.json").read_text() == "{}\n"
    np.testing.assert_array_equal(np.load(tmp_path / "w.npz")["w"], np.arange(3))
    assert pq.read_table(tmp_path / "t.parquet").column("k").to_pylist() == [1, 2]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "t.parquet", "w.npz"]


def test_failure_leaves_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]

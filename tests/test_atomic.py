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


def _dead_pid() -> int:
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_temporaries_of_killed_jobs_are_removed_by_the_next_write(tmp_path):
    import os
    import time

    from ganatlas.atomic import STALE_AFTER_S, remove_stale_temporaries, temporary_name

    target = tmp_path / "shard3"
    mine = temporary_name(target).name.rsplit("-", 1)[0]  # "shard3.tmp<host>"
    dead = tmp_path / f"{mine}-{_dead_pid()}"
    (dead / "x").mkdir(parents=True)
    alive = tmp_path / f"{mine}-{os.getppid()}"  # a live process: its work is kept
    alive.mkdir()
    other_old = tmp_path / "shard3.tmpotherhost-12"
    other_old.mkdir()
    old = time.time() - STALE_AFTER_S - 60
    os.utime(other_old, (old, old))
    other_new = tmp_path / "shard3.tmpotherhost-13"
    other_new.mkdir()
    unrelated = tmp_path / "shard30.tmpotherhost-14"
    unrelated.mkdir()
    os.utime(unrelated, (old, old))
    removed = remove_stale_temporaries(target)
    assert sorted(p.name for p in removed) == sorted([dead.name, other_old.name])
    assert not dead.exists() and not other_old.exists()
    assert alive.is_dir() and other_new.is_dir() and unrelated.is_dir()


def test_render_removes_a_killed_renders_folder(tmp_path):
    import numpy as np

    from ganatlas.atomic import temporary_name
    from ganatlas.networks.tiny import TinyGenerator
    from ganatlas.render import render_to_dir

    out = tmp_path / "images" / "shard0"
    stale = temporary_name(out).with_name(
        temporary_name(out).name.rsplit("-", 1)[0] + f"-{_dead_pid()}"
    )
    stale.mkdir(parents=True)
    (stale / "seed0000_step00000.png").write_bytes(b"half")
    g = TinyGenerator()
    w = np.zeros((2, g.w_dim), np.float32)
    render_to_dir(g, w, ["a.png", "b.png"], out)
    assert sorted(p.name for p in (tmp_path / "images").iterdir()) == ["shard0"]
    assert sorted(p.name for p in out.iterdir()) == ["a.png", "b.png"]

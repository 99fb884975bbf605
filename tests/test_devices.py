"""GPU assignment: scheduler-assigned devices, the lock-file slot pool, CPU fallback."""

import multiprocessing as mp
import os
import re
import stat
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from ganatlas import devices
from ganatlas.devices import acquire_device, default_lock_dir, hold_slot


def _hold(lock_dir, n, slots, queue, hold_s):
    with hold_slot(n, slots, lock_dir, poll_s=0.05) as dev:
        queue.put(dev)
        time.sleep(hold_s)


def test_four_concurrent_jobs_get_four_different_devices(tmp_path):
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    procs = [ctx.Process(target=_hold, args=(tmp_path, 4, 1, q, 1.0)) for _ in range(4)]
    for p in procs:
        p.start()
    got = sorted(q.get(timeout=10) for _ in procs)
    for p in procs:
        p.join()
    assert got == [0, 1, 2, 3]


def test_fifth_job_waits_for_a_free_slot(tmp_path):
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    holder = ctx.Process(target=_hold, args=(tmp_path, 1, 1, q, 1.0))
    holder.start()
    assert q.get(timeout=10) == 0
    with pytest.raises(TimeoutError, match="no free GPU slot"):
        with hold_slot(1, 1, tmp_path, poll_s=0.05, timeout_s=0.2):
            pass
    holder.join()
    with hold_slot(1, 1, tmp_path, timeout_s=1) as dev:  # released when the holder exited
        assert dev == 0


def test_slots_per_device_spread_before_sharing(tmp_path):
    with (
        hold_slot(2, 2, tmp_path) as a,
        hold_slot(2, 2, tmp_path) as b,
        hold_slot(2, 2, tmp_path) as c,
    ):
        assert [a, b, c] == [0, 1, 0]


def test_cpu_fallback_is_logged(monkeypatch):
    monkeypatch.setattr(devices.torch.cuda, "is_available", lambda: False)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2")
    lines = []
    with acquire_device(True, log=lines.append) as dev:
        assert dev in ("cpu", "mps")
    assert "CUDA_VISIBLE_DEVICES=2" in lines[0] or dev == "mps"


def test_scheduler_assignment_wins(monkeypatch):
    monkeypatch.setattr(devices.torch.cuda, "is_available", lambda: True)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3")
    lines = []
    with acquire_device(True, log=lines.append) as dev:
        assert dev == "cuda:0"
    assert "CUDA_VISIBLE_DEVICES=3" in lines[0]


def test_slot_pool_used_without_scheduler(monkeypatch, tmp_path):
    monkeypatch.setattr(devices.torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(devices.torch.cuda, "device_count", lambda: 2)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    lines = []
    with acquire_device(True, lock_dir=tmp_path, log=lines.append) as d0:
        with acquire_device(True, lock_dir=tmp_path, log=lines.append) as d1:
            assert {d0, d1} == {"cuda:0", "cuda:1"}
    assert "slot pool of 2 GPU(s)" in lines[0]


def test_lock_folder_is_per_user_and_private(tmp_path, monkeypatch):
    monkeypatch.delenv("GANATLAS_GPU_LOCK_DIR", raising=False)
    assert default_lock_dir() == Path(f"/tmp/ganatlas-gpu-locks-{os.geteuid()}")
    monkeypatch.setenv("GANATLAS_GPU_LOCK_DIR", str(tmp_path / "env"))
    assert default_lock_dir() == tmp_path / "env"
    locks = tmp_path / "a" / "locks"
    with hold_slot(1, 1, locks, timeout_s=1) as dev:
        assert dev == 0
    assert stat.S_IMODE(locks.stat().st_mode) == 0o700
    assert stat.S_IMODE((locks / "gpu0.slot0.lock").stat().st_mode) == 0o600


@pytest.mark.parametrize("mode", [0o777, 0o770, 0o702, 0o1777])
def test_group_or_world_writable_lock_folder_is_refused(tmp_path, mode):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(mode)
    with pytest.raises(PermissionError, match=f"GPU lock folder {shared} is owned by .* with mode"):
        with hold_slot(1, 1, shared, timeout_s=1):
            pass
    assert not (shared / "gpu0.slot0.lock").exists()


def test_lock_folder_of_another_user_is_refused(tmp_path, monkeypatch):
    locks = tmp_path / "locks"
    locks.mkdir(mode=0o700)
    me = os.geteuid()
    monkeypatch.setattr(
        devices.os, "geteuid", lambda: me + 1
    )  # the folder now belongs to "someone else"
    with pytest.raises(PermissionError, match=rf"{locks} is owned by .*uid {me}.*must be owned by"):
        with hold_slot(1, 1, locks, timeout_s=1):
            pass


def test_symlinked_lock_folder_is_refused(tmp_path):
    real = tmp_path / "real"
    real.mkdir(mode=0o700)
    link = tmp_path / "link"
    link.symlink_to(real)
    with pytest.raises(PermissionError, match="is a symlink"):
        with hold_slot(1, 1, link, timeout_s=1):
            pass


def test_planted_symlink_is_refused_and_its_target_untouched(tmp_path):
    locks = tmp_path / "locks"
    locks.mkdir(mode=0o700)
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    (locks / "gpu0.slot0.lock").symlink_to(victim)
    with pytest.raises(PermissionError, match=r"gpu0\.slot0\.lock is a symlink; refusing"):
        with hold_slot(1, 1, locks, poll_s=0.05, timeout_s=1):
            pass
    assert victim.read_text() == "precious\n"
    assert (locks / "gpu0.slot0.lock").is_symlink()


needs_proc = pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs Linux /proc")


@needs_proc
def test_deleting_a_held_lock_file_does_not_free_its_slot(tmp_path):
    locks = tmp_path / "locks"
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    holder = ctx.Process(target=_hold, args=(locks, 2, 1, q, 3.0))
    holder.start()
    try:
        assert q.get(timeout=10) == 0
        (locks / "gpu0.slot0.lock").unlink()  # e.g. a /tmp cleaner, or rm -rf of the folder
        with hold_slot(2, 1, locks, poll_s=0.05, timeout_s=1) as dev:
            assert dev == 1  # not the slot the holder still has
            with pytest.raises(TimeoutError):
                with hold_slot(2, 1, locks, poll_s=0.05, timeout_s=0.3):
                    pass
    finally:
        holder.terminate()
        holder.join()
    with hold_slot(2, 1, locks, timeout_s=1) as dev:  # the holder is gone: slot 0 is free again
        assert dev == 0


def test_lock_file_replaced_while_locking_is_rechecked(tmp_path, monkeypatch):
    """The path is swapped for a new file between open and flock: lock what the path names now."""
    locks = tmp_path / "locks"
    monkeypatch.setattr(devices, "_deleted_but_held", lambda path: [])  # no /proc to fall back on
    real_flock = devices.fcntl.flock
    swapped = []

    def flock_then_swap(fd, op):
        real_flock(fd, op)
        if not swapped:
            swapped.append(True)
            (locks / "gpu0.slot0.lock").unlink()
            (locks / "gpu0.slot0.lock").touch()

    monkeypatch.setattr(devices.fcntl, "flock", flock_then_swap)
    with hold_slot(1, 1, locks, poll_s=0.05, timeout_s=1) as dev:
        assert dev == 0 and swapped
        assert (locks / "gpu0.slot0.lock").read_text() == f"{os.getpid()}\n"
        with pytest.raises(TimeoutError):
            with hold_slot(1, 1, locks, poll_s=0.05, timeout_s=0.3):
                pass


def test_a_wait_is_logged_and_ends_in_a_clear_timeout(tmp_path):
    locks = tmp_path / "locks"
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    holder = ctx.Process(target=_hold, args=(locks, 1, 1, q, 2.0))  # frees the GPU after 2 s
    holder.start()
    assert q.get(timeout=10) == 0
    lines = []
    t0 = time.monotonic()
    try:
        with pytest.raises(TimeoutError) as err:
            with hold_slot(
                1, 1, locks, poll_s=0.02, timeout_s=0.5, log_every_s=0.2, log=lines.append
            ):
                pass
    finally:
        holder.join()
    assert time.monotonic() - t0 < 3
    busy = f"busy: gpu0.slot0 (pid {holder.pid})"
    msg = str(err.value)
    assert f"no free GPU slot in {locks}" in msg and "gpu.wait_timeout = 0.5 s" in msg
    assert busy in msg
    assert 2 <= len(lines) <= 4, lines  # at once, then every 0.2 s of a 0.5 s wait (3)
    assert all("waiting for a GPU slot" in line and busy in line for line in lines)
    waited = [int(re.search(r"for (\d+) s", line).group(1)) for line in lines]
    assert waited == sorted(waited)


def test_job_device_takes_wait_timeout_and_log_every_from_the_config(tmp_path, monkeypatch, capsys):
    from ganatlas.smk import job_device

    locks = tmp_path / "locks"
    monkeypatch.setattr(devices.torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(devices.torch.cuda, "device_count", lambda: 1)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    held, release = threading.Event(), threading.Event()

    def holder():  # a job that keeps the only GPU for up to 3 s
        with hold_slot(1, 1, locks):
            held.set()
            release.wait(3)

    thread = threading.Thread(target=holder)
    thread.start()
    held.wait(5)
    gpu = {"slots_per_device": 1, "lock_dir": str(locks), "wait_timeout": 1.2, "log_every": 0.4}
    job = SimpleNamespace(config={"gpu": gpu}, resources=SimpleNamespace(gpu=1))
    try:
        with pytest.raises(TimeoutError, match=r"gpu\.wait_timeout = 1\.2 s"):
            with job_device(job):
                pass
    finally:
        release.set()
        thread.join()
    assert capsys.readouterr().err.count("device: waiting for a GPU slot") >= 2  # 0, 0.5, 1 s

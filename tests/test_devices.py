"""GPU assignment: scheduler-assigned devices, the lock-file slot pool, CPU fallback."""

import multiprocessing as mp
import time

import pytest

from ganatlas import devices
from ganatlas.devices import acquire_device, hold_slot


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

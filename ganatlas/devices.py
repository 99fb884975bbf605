"""GPU assignment for jobs that declare ``resources: gpu=1``.

Snakemake's ``gpu`` resource is only a counter; it never says *which* device a job gets. The
order of preference here:

1. the scheduler already chose (``CUDA_VISIBLE_DEVICES`` set inside a Slurm job, or set by hand):
   use ``cuda:0`` of what is visible;
2. otherwise a lock-file slot pool: ``slots_per_device`` jobs per visible GPU, each holding an
   exclusive ``flock`` on ``<lock_dir>/gpu<i>.slot<j>.lock`` for its lifetime, so four
   concurrent jobs on a four-GPU box land on four different GPUs (locks vanish with the process,
   so a crash never leaks a slot). The lock folder is per user (``/tmp/ganatlas-gpu-locks-<uid>``
   unless ``gpu.lock_dir`` or ``$GANATLAS_GPU_LOCK_DIR`` says otherwise), created with mode 0700
   and refused when someone else owns it or it is group/world-writable; lock files are opened
   with ``O_NOFOLLOW`` and never truncated before they are locked, so a planted symlink is refused
   rather than followed. After locking, the path must still name the locked inode (else retry),
   and on Linux a slot whose lock file was deleted while a live process still holds it open
   stays busy (``/proc/*/fd``), so deleting a held lock file cannot put two jobs on one slot;
   a job waiting for a slot logs which slots are busy (and their holders' pids) every
   ``gpu.log_every`` seconds and gives up with a TimeoutError after ``gpu.wait_timeout`` seconds
   (null: wait as long as it takes);
3. no usable CUDA device: CPU (or Apple MPS), with a warning in the job's log.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import pwd
import stat
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import torch


def default_lock_dir() -> Path:
    """``$GANATLAS_GPU_LOCK_DIR``, else ``/tmp/ganatlas-gpu-locks-<uid>`` (one pool per user)."""
    env = os.environ.get("GANATLAS_GPU_LOCK_DIR")
    return Path(env) if env else Path(f"/tmp/ganatlas-gpu-locks-{os.geteuid()}")


def _owner(uid: int) -> str:
    try:
        return f"{pwd.getpwuid(uid).pw_name} (uid {uid})"
    except KeyError:
        return f"uid {uid}"


def open_lock_dir(lock_dir: Path) -> int:
    """Create ``lock_dir`` (mode 0700) if missing and return an open fd on it.

    Refused (PermissionError naming the folder, its owner and mode) when it is a symlink, is not
    owned by this user, or is writable by group or others: anyone who can write there could plant
    symlinks or delete the lock files of running jobs.
    """
    with contextlib.suppress(FileExistsError):
        lock_dir.mkdir(mode=0o700, parents=True)
    try:
        fd = os.open(lock_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            raise PermissionError(
                f"GPU lock folder {lock_dir} is a symlink or not a folder; refusing to use it "
                "(set gpu.lock_dir or $GANATLAS_GPU_LOCK_DIR to a folder of your own)"
            ) from exc
        raise
    st = os.fstat(fd)
    if st.st_uid != os.geteuid() or st.st_mode & 0o022:
        os.close(fd)
        raise PermissionError(
            f"GPU lock folder {lock_dir} is owned by {_owner(st.st_uid)} with mode "
            f"{stat.filemode(st.st_mode)} ({stat.S_IMODE(st.st_mode):o}); it must be owned by "
            f"{_owner(os.geteuid())} and not writable by group or others. `chmod 700 {lock_dir}` "
            "if it is yours, else set gpu.lock_dir or $GANATLAS_GPU_LOCK_DIR to another folder"
        )
    return fd


def _open_slot(dir_fd: int, lock_dir: Path, name: str) -> int:
    """Open (creating, never truncating, never following a symlink) one slot's lock file."""
    flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        fd = os.open(name, flags, 0o600, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.EMLINK):
            raise PermissionError(
                f"GPU lock file {lock_dir / name} is a symlink; refusing to follow it (remove it)"
            ) from exc
        raise
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise PermissionError(f"GPU lock file {lock_dir / name} is not a regular file (remove it)")
    return fd


def scheduler_assigned() -> str | None:
    """The CUDA_VISIBLE_DEVICES a scheduler set for this job, or None."""
    value = os.environ.get("CUDA_VISIBLE_DEVICES")
    return value if value not in (None, "") else None


def _deleted_but_held(path: Path) -> list[int]:
    """Pids that still have ``path`` open after it was deleted (Linux ``/proc``; [] elsewhere).

    A job holding a slot keeps its lock on the lock file's inode even when someone deletes the
    file; the next job would then create and lock a fresh inode for the same slot. Such a holder
    shows up as an open fd whose link reads ``<path> (deleted)``.
    """
    target = f"{os.path.realpath(path)} (deleted)"
    pids = []
    with contextlib.suppress(OSError):
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                fds = os.listdir(f"/proc/{pid}/fd")
            except OSError:  # another user's process, or gone
                continue
            for fd in fds:
                with contextlib.suppress(OSError):
                    if os.readlink(f"/proc/{pid}/fd/{fd}") == target:
                        pids.append(int(pid))
                        break
    return pids


def _lock_slot(dir_fd: int, lock_dir: Path, name: str) -> int | None:
    """An fd holding the slot's exclusive lock, or None when the slot is busy."""
    for _ in range(3):
        fd = _open_slot(dir_fd, lock_dir, name)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        # The lock sits on the inode opened above; the path must still name that inode (it may
        # have been deleted or replaced in between), else the next job would lock another one.
        held = os.fstat(fd)
        try:
            now = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        except FileNotFoundError:
            now = None
        if now is None or (now.st_dev, now.st_ino) != (held.st_dev, held.st_ino):
            os.close(fd)
            continue
        if _deleted_but_held(lock_dir / name):
            os.close(fd)
            return None
        return fd
    return None


def _busy(dir_fd: int, lock_dir: Path, names: list[str]) -> str:
    """'gpu0.slot0 (pid 123), ...' for the wait log: who holds each slot, as far as is known."""
    out = []
    for name in names:
        pid = "?"
        with contextlib.suppress(OSError, ValueError):
            fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=dir_fd)
            try:
                pid = str(int(os.read(fd, 32) or b"?"))
            finally:
                os.close(fd)
        gone = _deleted_but_held(lock_dir / name)
        if gone:
            pid = f"{', '.join(map(str, gone))}, lock file deleted"
        out.append(f"{name.removesuffix('.lock')} (pid {pid})")
    return ", ".join(out)


@contextlib.contextmanager
def hold_slot(
    n_devices: int,
    slots_per_device: int = 1,
    lock_dir: str | Path | None = None,
    poll_s: float = 0.5,
    timeout_s: float | None = None,
    log_every_s: float = 60.0,
    log: Callable[[str], object] | None = None,
) -> Iterator[int]:
    """Hold one free slot of the pool and yield its device index.

    Blocks until a slot is free; while waiting, ``log`` gets a line naming the busy slots and the
    time waited, at once and then every ``log_every_s`` seconds; after ``timeout_s`` seconds
    (None: no limit) a TimeoutError says the same.
    """
    if n_devices < 1 or slots_per_device < 1:
        raise ValueError("n_devices and slots_per_device must be >= 1")
    lock_dir = Path(lock_dir) if lock_dir else default_lock_dir()
    dir_fd = open_lock_dir(lock_dir)
    try:
        start = time.monotonic()
        next_log = start
        while True:
            busy = []
            # Fill each device's first slot before any second slot: spread before sharing.
            for slot in range(slots_per_device):
                for dev in range(n_devices):
                    name = f"gpu{dev}.slot{slot}.lock"
                    fd = _lock_slot(dir_fd, lock_dir, name)
                    if fd is None:
                        busy.append(name)
                        continue
                    try:
                        # Truncated only now: the file is locked, regular and ours.
                        os.ftruncate(fd, 0)
                        os.write(fd, f"{os.getpid()}\n".encode())
                        yield dev
                    finally:
                        os.close(fd)  # releases the lock
                    return
            now = time.monotonic()
            waited = now - start
            if timeout_s is not None and waited >= timeout_s:
                raise TimeoutError(
                    f"no free GPU slot in {lock_dir} after {waited:.1f} s (gpu.wait_timeout = "
                    f"{timeout_s:g} s); busy: {_busy(dir_fd, lock_dir, busy)}"
                )
            if log is not None and now >= next_log:
                log(
                    f"device: waiting for a GPU slot in {lock_dir} for {waited:.0f} s; "
                    f"busy: {_busy(dir_fd, lock_dir, busy)}"
                )
                next_log = now + log_every_s
            left = poll_s if timeout_s is None else min(poll_s, timeout_s - waited)
            time.sleep(max(left, 0.0))
    finally:
        os.close(dir_fd)


@contextlib.contextmanager
def acquire_device(
    gpu: bool = True,
    slots_per_device: int = 1,
    lock_dir: str | Path | None = None,
    log: Callable[[str], object] = print,
    wait_timeout: float | None = None,
    log_every: float = 60.0,
) -> Iterator[str]:
    """Yield the torch device string this job should use ('cuda:K', 'mps' or 'cpu') and log why.

    ``wait_timeout`` and ``log_every`` (seconds) bound and report a wait for a slot of the pool.
    """
    if not gpu:
        log("device: cpu (job asked for no GPU)")
        yield "cpu"
        return
    visible = scheduler_assigned()
    if torch.cuda.is_available():
        if visible is not None:
            log(f"device: cuda:0 (CUDA_VISIBLE_DEVICES={visible} set by the scheduler)")
            yield "cuda:0"
            return
        n = torch.cuda.device_count()
        pool = Path(lock_dir) if lock_dir else default_lock_dir()
        with hold_slot(
            n, slots_per_device, pool, timeout_s=wait_timeout, log_every_s=log_every, log=log
        ) as dev:
            log(f"device: cuda:{dev} (slot pool of {n} GPU(s) x {slots_per_device}, {pool})")
            yield f"cuda:{dev}"
        return
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        log("device: mps (Apple GPU)")
        yield "mps"
        return
    why = f"CUDA_VISIBLE_DEVICES={visible} but " if visible is not None else ""
    log(f"device: cpu (warning: {why}no CUDA device is usable; running on CPU)")
    yield "cpu"

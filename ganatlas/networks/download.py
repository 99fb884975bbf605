"""Download network files once into a cache, resumably, with their sha256 recorded.

``fetch(url)`` returns the cached file when it is there (no network access at all); otherwise
it downloads to ``<file>.part``, checks that it is complete (its Content-Length, or the expected
sha256 when given), renames it atomically and writes ``<file>.sha256`` (sha256, size, mtime).

* Cache layout: ``<cache_dir>/<16 hex of sha256(url)>/<safe file name>``; ``cache_dir``
  defaults to ``$GANATLAS_CACHE`` or ``~/.cache/ganatlas``. Nothing a URL says can lead outside.
* A partial download is resumed only under a validator (ETag or Last-Modified, kept in
  ``<file>.part.json`` and sent as If-Range); otherwise it starts again from zero.
* Cache hits: a pinned sha256 is checked on every call; otherwise the file is re-hashed when
  its size or mtime differ from the sidecar's. A file put there by hand is recorded on first use.
* URLs whose query names the file (Google Drive's ``uc?id=...``) get one cache entry per URL:
  the key hashes the whole URL. A server that answers with a web page instead of the file
  (Google Drive asks a browser to confirm large downloads) is an error naming the path to put
  the file at.
* Limits: an overall deadline and a minimum rate (:data:`DEFAULT_DEADLINE`,
  :data:`DEFAULT_MIN_RATE`), changed by :func:`fetch`'s arguments or the environment.
"""

from __future__ import annotations

import collections
import contextlib
import hashlib
import http.client
import json
import math
import os
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

CHUNK = 1 << 20
MiB = 1 << 20

# Limits on one download (fetch's arguments override them; 0 or less turns one off). A
# StyleGAN3 1024px pickle (~300 MB) needs at least ~85 KB/s on average to meet the deadline; a
# download cut by a limit resumes from its .part next time when the server gives a validator.
DEFAULT_DEADLINE = 3600.0  # seconds for the whole download; $GANATLAS_DOWNLOAD_DEADLINE
DEFAULT_MIN_RATE = 10 * 1024  # bytes/s averaged over RATE_WINDOW; $GANATLAS_DOWNLOAD_MIN_RATE
RATE_WINDOW = 30.0  # seconds
PROGRESS_MIN_BYTES = 16 * MiB  # smaller downloads print no progress
PROGRESS_INTERVAL = 5.0  # seconds: a progress line every 10 % or this often, whichever is first


class DownloadError(RuntimeError):
    """A download failed; the message names the URL and where to put the file by hand."""


@dataclass(frozen=True)
class FetchResult:
    """A cached file and its hex sha256; ``downloaded`` is False when it came from the cache."""

    path: Path
    sha256: str
    downloaded: bool = False


def default_cache_dir() -> Path:
    """``$GANATLAS_CACHE`` or ``~/.cache/ganatlas``."""
    env = os.environ.get("GANATLAS_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "ganatlas"


NAME_MAX = 100  # characters of the sanitised file name kept in the cache
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def safe_name(url_path: str) -> str | None:
    """The last component of a URL path as a safe file name, or None when there is none.

    The path is percent-decoded first (``%2e%2e`` is ``..``, ``%2f`` a slash); any character
    outside ``[A-Za-z0-9._-]`` becomes ``_``, leading dots are dropped, the length is bounded by
    :data:`NAME_MAX` (the suffix kept), and an empty result becomes ``download``.
    """
    comps = [c for c in re.split(r"[/\\]", urllib.parse.unquote(url_path)) if c]
    if not comps:
        return None
    name = _UNSAFE.sub("_", comps[-1]).lstrip(".")
    if len(name) > NAME_MAX:
        stem, dot, suffix = name.rpartition(".")
        keep = dot + suffix if stem and len(suffix) <= 16 else ""
        name = name[: NAME_MAX - len(keep)] + keep
    return name or "download"


def cache_path(url: str, cache_dir: str | Path | None = None) -> Path:
    """Where ``url`` is cached: ``<cache_dir>/<16 hex of sha256(url)>/<safe file name>``.

    The folder comes from a hash of the whole URL (fragment dropped), the name from
    :func:`safe_name`, so no URL can name a path outside ``cache_dir``.
    """
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https", "file"):
        raise ValueError(f"unsupported URL scheme {parts.scheme!r} in {url!r} (http, https, file)")
    name = safe_name(parts.path)
    if name is None:
        raise ValueError(f"URL {url!r} names no file")
    base = Path(cache_dir).expanduser() if cache_dir else default_cache_dir()
    key = hashlib.sha256(urllib.parse.urldefrag(url)[0].encode()).hexdigest()[:16]
    path = base / key / name
    if not path.resolve().is_relative_to(base.resolve()):  # pragma: no cover - by construction
        raise ValueError(f"cache path {path} for {url!r} is outside {base}")
    return path


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(CHUNK):
            h.update(block)
    return h.hexdigest()


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


@dataclass(frozen=True)
class _Record:
    """What a sidecar records: the sha256 and the size and mtime it was computed for."""

    digest: str
    size: int | None = None
    mtime_ns: int | None = None


def _write_sidecar(path: Path, digest: str) -> None:
    """``<digest>  <name>`` (``sha256sum -c`` reads it) and a comment with size and mtime_ns."""
    st = path.stat()
    side = _sidecar(path)
    tmp = side.with_name(side.name + f".{os.getpid()}.tmp")
    tmp.write_text(f"{digest}  {path.name}\n# size={st.st_size} mtime_ns={st.st_mtime_ns}\n")
    os.replace(tmp, side)


def _read_sidecar(path: Path) -> _Record | None:
    side = _sidecar(path)
    try:
        text = side.read_text()
    except OSError:
        return None
    m = re.match(r"([0-9a-f]{64})\s", text)
    if m is None:
        return None
    size = re.search(r"^# size=(\d+) mtime_ns=(\d+)$", text, re.M)
    return _Record(m[1], *(map(int, size.groups()) if size else ()))


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock on ``<path>.lock`` (POSIX), so parallel jobs download once."""
    lock = path.with_name(path.name + ".lock")
    with open(lock, "a") as fh:
        try:
            import fcntl

            fcntl.flock(fh, fcntl.LOCK_EX)
        except ImportError:  # pragma: no cover - non-POSIX
            pass
        yield


def fetch(
    url: str,
    cache_dir: str | Path | None = None,
    sha256: str | None = None,
    timeout: float = 60.0,
    deadline: float | None = None,
    min_rate: float | None = None,
    rate_window: float = RATE_WINDOW,
) -> FetchResult:
    """Return the cached copy of ``url``, downloading it first if needed.

    ``sha256`` (optional) is checked against the finished download and on every cache hit.
    A download counts as complete only when the server sent a Content-Length and that many
    bytes arrived, or when ``sha256`` is given and matches.

    ``timeout`` bounds each connection attempt and each read (seconds). ``deadline`` bounds the
    whole download (default ``$GANATLAS_DOWNLOAD_DEADLINE`` or :data:`DEFAULT_DEADLINE`, 1 h)
    and ``min_rate`` its speed in bytes/s averaged over the last ``rate_window`` seconds
    (default ``$GANATLAS_DOWNLOAD_MIN_RATE`` or :data:`DEFAULT_MIN_RATE`, 10 KiB/s over 30 s);
    0 turns either off. Downloads of :data:`PROGRESS_MIN_BYTES` or more print progress lines
    on stderr.

    Raises :class:`DownloadError` naming the URL and the cache path to fill by hand when the
    download fails (offline, HTTP error, cut short, no Content-Length and no sha256, past the
    deadline, too slow).
    """
    limits = _Limits(
        timeout=timeout,
        deadline=_setting(deadline, "GANATLAS_DOWNLOAD_DEADLINE", DEFAULT_DEADLINE),
        min_rate=_setting(min_rate, "GANATLAS_DOWNLOAD_MIN_RATE", DEFAULT_MIN_RATE),
        rate_window=rate_window,
    )
    dest = cache_path(url, cache_dir)
    try:
        cached = _from_cache(dest, sha256)
    except DownloadError:  # perhaps a download finishing meanwhile: ask again under the lock
        cached = None
    if cached is not None:
        return cached
    dest.parent.mkdir(parents=True, exist_ok=True)
    with _locked(dest):
        cached = _from_cache(dest, sha256)  # another process may have finished meanwhile
        if cached is not None:
            return cached
        part = _part(dest)
        limits.start = time.monotonic()
        _download(url, dest, sha256, limits)
        digest = sha256_file(part)
        if sha256 is not None and digest != sha256.lower():
            _discard(dest)
            raise DownloadError(
                f"{url} downloaded with sha256 {digest}, expected {sha256}; the partial file was "
                f"removed. Put a good copy at {dest} by hand if the server is wrong."
            )
        _sidecar(dest).unlink(missing_ok=True)  # one left from a file deleted by hand
        os.replace(part, dest)
        _meta(dest).unlink(missing_ok=True)
        _write_sidecar(dest, digest)
        return FetchResult(dest, digest, downloaded=True)


def _from_cache(dest: Path, sha256: str | None) -> FetchResult | None:
    """The cached file, checked: against ``sha256`` whenever it is given (the file is hashed
    on every call then), else against its sidecar, re-hashed when the file's size or mtime is
    not what the sidecar recorded. A file with no sidecar (put there by hand) is recorded."""
    if not dest.is_file():
        return None
    st = dest.stat()
    rec = _read_sidecar(dest)
    fresh = rec is not None and (rec.size, rec.mtime_ns) == (st.st_size, st.st_mtime_ns)
    digest = rec.digest if fresh and sha256 is None else sha256_file(dest)
    if sha256 is not None and digest != sha256.lower():
        raise DownloadError(
            f"cached file {dest} has sha256 {digest}, expected {sha256}; delete it (and "
            f"{_sidecar(dest).name}) to download it again"
        )
    if sha256 is None and rec is not None and digest != rec.digest:
        raise DownloadError(
            f"cached file {dest} changed since its sha256 was recorded ({st.st_size} bytes, "
            f"sha256 {digest}; recorded: {rec.size} bytes, sha256 {rec.digest}); delete it to "
            f"download it again, or delete {_sidecar(dest).name} to accept it as it is"
        )
    if not fresh:
        _write_sidecar(dest, digest)
    return FetchResult(dest, digest, downloaded=False)


def _part(dest: Path) -> Path:
    return dest.with_name(dest.name + ".part")


def _meta(dest: Path) -> Path:
    """``<file>.part.json``: the validator (ETag / Last-Modified) and size of the ``.part``."""
    return dest.with_name(dest.name + ".part.json")


def _discard(dest: Path) -> None:
    _part(dest).unlink(missing_ok=True)
    _meta(dest).unlink(missing_ok=True)


def _validators(headers) -> dict:
    """The response's validators usable in If-Range: a strong ETag, Last-Modified."""
    etag = headers.get("ETag")
    return {
        "etag": etag if etag and not etag.startswith("W/") else None,
        "last_modified": headers.get("Last-Modified"),
    }


def _resume_point(url: str, dest: Path) -> tuple[int, dict]:
    """Bytes of ``.part`` to keep and the validators they were downloaded under.

    A ``.part`` without a stored validator (or from another URL) cannot be resumed safely: it
    is removed and the download starts from zero.
    """
    part, meta = _part(dest), _meta(dest)
    have = part.stat().st_size if part.is_file() else 0
    try:
        stored = json.loads(meta.read_text()) if have and meta.is_file() else {}
    except (OSError, ValueError):
        stored = {}
    if not isinstance(stored, dict) or stored.get("url") != url or url.startswith("file:"):
        stored = {}
    if have and (stored.get("etag") or stored.get("last_modified")):
        return have, stored
    _discard(dest)
    return 0, {}


def _resumable(response, have: int, stored: dict) -> bool:
    """True when a 206 continues exactly the bytes we have, of the same version of the file."""
    if getattr(response, "status", None) != 206:
        return False
    got = _validators(response.headers)
    for key in ("etag", "last_modified"):
        if stored.get(key) and got[key] and got[key] != stored[key]:
            return False
    m = re.fullmatch(r"bytes (\d+)-(\d+)/(\d+|\*)", response.headers.get("Content-Range", ""))
    if m is None or int(m[1]) != have:
        return False
    total = stored.get("total")
    return m[3] == "*" or total is None or int(m[3]) == total


def _setting(value: float | None, env: str, default: float) -> float:
    """``value``, else the number in ``$env``, else ``default``; 0 or less means off (inf)."""
    if value is None:
        text = os.environ.get(env, "").strip()
        try:
            value = float(text) if text else default
        except ValueError:
            raise ValueError(f"${env}={text!r} is not a number") from None
    return value if value > 0 else math.inf


@dataclass
class _Limits:
    timeout: float
    deadline: float  # inf: none
    min_rate: float  # inf: none
    rate_window: float
    start: float = 0.0

    def left(self) -> float:
        return self.deadline - (time.monotonic() - self.start)

    def socket_timeout(self) -> float:
        """Each read waits at most this long: no data for a rate window is too slow anyway."""
        window = self.rate_window if self.min_rate < math.inf else math.inf
        return max(0.01, min(self.timeout, self.left(), window))

    def past_deadline(self, url: str, done: int, total: int | None) -> str:
        return (
            f"download of {url} passed its deadline of {self.deadline:g} s "
            f"({done} of {total if total is not None else '?'} bytes); change the limit with "
            f"fetch(deadline=...) or $GANATLAS_DOWNLOAD_DEADLINE (seconds, 0 for none);"
        )

    def too_slow(self, url: str, rate: float, span: float) -> str:
        return (
            f"download of {url} is below the minimum rate of {self.min_rate / 1024:g} KiB/s "
            f"({rate / 1024:.1f} KiB/s over the last {span:.3g} s); change the limit with "
            f"fetch(min_rate=...) or $GANATLAS_DOWNLOAD_MIN_RATE (bytes/s, 0 for none);"
        )


class _LimitHit(Exception):
    """A limit of :class:`_Limits` was passed; the message names the URL and the limit."""


def _download(url: str, dest: Path, sha256: str | None, limits: _Limits) -> None:
    """Download ``url`` into ``<dest>.part``, resuming it when a validator allows.

    The Range request carries the stored ETag (or Last-Modified) as If-Range, so a server whose
    file changed answers 200 with the whole new file. A 200, a 206 for another version or
    offset, or a 416 start the download over from zero (one retry in the same call).
    """
    part, meta = _part(dest), _meta(dest)
    hint = (
        f"Without network access, download {url} on another machine and put it at {dest} "
        "(its sha256 is recorded on first use)."
    )
    for attempt in (0, 1):
        have, stored = _resume_point(url, dest)
        headers = {"User-Agent": "ganatlas"}
        if have:
            headers["Range"] = f"bytes={have}-"
            headers["If-Range"] = stored.get("etag") or stored["last_modified"]
        total, wait = None, limits.timeout
        try:
            if limits.left() <= 0:
                raise _LimitHit(limits.past_deadline(url, have, None))
            wait = limits.socket_timeout()
            with urllib.request.urlopen(
                urllib.request.Request(url, headers=headers), timeout=wait
            ) as r:
                resumed = have > 0 and _resumable(r, have, stored)
                if have and not resumed:
                    if getattr(r, "status", None) == 206:  # a range of some other file
                        _discard(dest)
                        continue
                    have = 0  # the server sent the whole (possibly new) file
                ctype = (r.headers.get("Content-Type") or "") if r.headers else ""
                if ctype.startswith("text/html") and not url.split("?")[0].endswith(
                    (".htm", ".html")
                ):
                    raise DownloadError(
                        f"{url} answered with a web page ({ctype}), not the file (Google Drive "
                        f"asks a browser to confirm large downloads). Download it in a browser and "
                        f"put it at {dest} (its sha256 is recorded on first use)."
                    )
                length = r.headers.get("Content-Length") if r.headers else None
                if length is not None and length.isdigit():
                    total = have + int(length)
                elif sha256 is None:
                    _discard(dest)
                    raise DownloadError(
                        f"{url} came without a Content-Length, so a complete download cannot be "
                        f"told from a cut one; give its sha256 (a catalogue entry pins it) or "
                        f"put a checked copy at {dest} by hand."
                    )
                if not resumed:
                    _discard(dest)
                    found = _validators(r.headers)
                    if found["etag"] or found["last_modified"]:
                        meta.write_text(json.dumps({"url": url, "total": total, **found}))
                with open(part, "ab" if resumed else "wb") as out:
                    _copy(r, out, url, limits, have, total)
        except _LimitHit as exc:
            raise DownloadError(f"{exc} {_keep_or_drop(dest)} {hint}") from None
        except urllib.error.HTTPError as exc:
            if exc.code == 416 and have and attempt == 0:
                _discard(dest)  # the partial file does not fit the server's: start over
                continue
            raise DownloadError(
                f"cannot download {url}: HTTP {exc.code} {exc.reason}. {hint}"
            ) from None
        except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
            reason = getattr(exc, "reason", exc)
            if limits.left() <= 0:
                done = part.stat().st_size if part.is_file() else 0
                reason = limits.past_deadline(url, done, total)
                raise DownloadError(f"{reason} {_keep_or_drop(dest)} {hint}") from None
            if isinstance(reason, TimeoutError):
                if limits.min_rate < math.inf and wait >= limits.rate_window:  # a whole window
                    reason = limits.too_slow(url, 0.0, wait).rstrip(";")
                else:
                    reason = f"no data for {wait:g} s"
            raise DownloadError(
                f"cannot download {url}: {reason}. {_keep_or_drop(dest)} {hint}"
            ) from None
        size = part.stat().st_size
        if total is not None and size != total:
            raise DownloadError(
                f"download of {url} stopped at {size} of {total} bytes; "
                f"{_keep_or_drop(dest)} {hint}"
            )
        return
    raise DownloadError(f"cannot download {url}: the server keeps refusing a fresh start. {hint}")


def _keep_or_drop(dest: Path) -> str:
    """After a failure: keep a resumable ``.part``, remove one that could not be resumed."""
    if _part(dest).is_file() and _meta(dest).is_file():
        return f"run again to resume ({_part(dest)})."
    _discard(dest)
    return "run again to start over (the server gives no ETag or Last-Modified to resume with)."


def _copy(response, out, url: str, limits: _Limits, have: int, total: int | None) -> None:
    """Copy the body, checking the deadline and the rate after every read; print progress."""
    read = getattr(response, "read1", response.read)  # read1: whatever has arrived, no waiting
    t0 = time.monotonic()
    got = 0
    recent = collections.deque([(t0, 0)])  # (time, bytes) over the last rate window
    progress = _Progress(url, have, total, t0)
    while True:
        if limits.left() <= 0:
            raise _LimitHit(limits.past_deadline(url, have + got, total))
        block = read(CHUNK)
        if not block:
            return
        out.write(block)
        got += len(block)
        now = time.monotonic()
        recent.append((now, got))
        while len(recent) > 2 and recent[1][0] <= now - limits.rate_window:
            recent.popleft()
        span = now - recent[0][0]
        if span >= limits.rate_window and (got - recent[0][1]) / span < limits.min_rate:
            raise _LimitHit(limits.too_slow(url, (got - recent[0][1]) / span, span))
        progress.update(have + got, got / max(now - t0, 1e-9), now)


class _Progress:
    """Lines on stderr for a download of :data:`PROGRESS_MIN_BYTES` or more: one per 10 % or
    per :data:`PROGRESS_INTERVAL` seconds, whichever comes first."""

    def __init__(self, url: str, done: int, total: int | None, now: float) -> None:
        self.url, self.total, self.last = url, total, now
        self.step = self._step(done)

    def _step(self, done: int) -> int:
        return 10 * done // self.total if self.total else 0

    def update(self, done: int, rate: float, now: float) -> None:
        if max(done, self.total or 0) < PROGRESS_MIN_BYTES:
            return
        step = self._step(done)
        if step <= self.step and now - self.last < PROGRESS_INTERVAL:
            return
        self.step, self.last = step, now
        size = (
            f" of {self.total / MiB:.1f} MiB ({100 * done / self.total:.0f} %)"
            if self.total
            else ""
        )
        print(
            f"ganatlas: downloading {self.url}: {done / MiB:.1f}{size}, {rate / MiB:.2f} MiB/s",
            file=sys.stderr,
            flush=True,
        )

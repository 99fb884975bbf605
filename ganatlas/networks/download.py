"""Download network files once into a cache, resumably, with their sha256 recorded.

``fetch(url)`` returns the cached file when it is there (no network access at all); otherwise
it downloads to ``<file>.part`` (resuming a partial download with an HTTP Range request), checks
the size (and the expected sha256 when given), renames atomically and writes ``<file>.sha256``.

Cache layout: ``<cache_dir>/<host>/<url path>`` (plus ``/<query>`` for URLs with a query, such
as Google Drive's ``uc?id=...``: one file per id); ``cache_dir`` defaults to ``$GANATLAS_CACHE``
or ``~/.cache/ganatlas``. A file put there by hand is used as is (its sha256 is recorded then).
A server that answers with a web page instead of the file (Google Drive asks a browser to
confirm downloads of large files) is an error naming the URL and the path to put the file at.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

CHUNK = 1 << 20


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


def cache_path(url: str, cache_dir: str | Path | None = None) -> Path:
    """Where ``url`` is cached: ``<cache_dir>/<host>/<url path components>``."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https", "file"):
        raise ValueError(f"unsupported URL scheme {parts.scheme!r} in {url!r} (http, https, file)")
    host = parts.netloc or "local"
    comps = [urllib.parse.unquote(c) for c in parts.path.split("/") if c not in ("", ".", "..")]
    if not comps:
        raise ValueError(f"URL {url!r} names no file")
    if parts.query:  # e.g. drive.google.com/uc?id=...: the query names the file
        comps.append(urllib.parse.unquote(parts.query).replace("&", "_"))
    base = Path(cache_dir).expanduser() if cache_dir else default_cache_dir()
    return base.joinpath(*(c.replace(os.sep, "_") for c in [host.replace(":", "_"), *comps]))


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(CHUNK):
            h.update(block)
    return h.hexdigest()


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def _write_sidecar(path: Path, digest: str) -> None:
    side = _sidecar(path)
    tmp = side.with_name(side.name + f".{os.getpid()}.tmp")
    tmp.write_text(f"{digest}  {path.name}\n")
    os.replace(tmp, side)


def _read_sidecar(path: Path) -> str | None:
    side = _sidecar(path)
    if not side.is_file():
        return None
    text = side.read_text().split()
    return text[0] if text and len(text[0]) == 64 else None


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
) -> FetchResult:
    """Return the cached copy of ``url``, downloading it first if needed.

    ``sha256`` (optional) is checked against the finished download and against a cached file
    whose recorded sha256 differs. Raises :class:`DownloadError` naming the URL and the cache
    path to fill by hand when the download fails (offline, HTTP error, size mismatch).
    """
    dest = cache_path(url, cache_dir)
    cached = _from_cache(dest, sha256)
    if cached is not None:
        return cached
    dest.parent.mkdir(parents=True, exist_ok=True)
    with _locked(dest):
        cached = _from_cache(dest, sha256)  # another process may have finished meanwhile
        if cached is not None:
            return cached
        _download(url, dest, timeout)
        digest = sha256_file(dest.with_name(dest.name + ".part"))
        if sha256 is not None and digest != sha256.lower():
            bad = dest.with_name(dest.name + ".part")
            bad.unlink(missing_ok=True)
            raise DownloadError(
                f"{url} downloaded with sha256 {digest}, expected {sha256}; the partial file was "
                f"removed. Put a good copy at {dest} by hand if the server is wrong."
            )
        os.replace(dest.with_name(dest.name + ".part"), dest)
        _write_sidecar(dest, digest)
        return FetchResult(dest, digest, downloaded=True)


def _from_cache(dest: Path, sha256: str | None) -> FetchResult | None:
    if not dest.is_file():
        return None
    digest = _read_sidecar(dest)
    if digest is None:
        digest = sha256_file(dest)
        _write_sidecar(dest, digest)
    if sha256 is not None and digest != sha256.lower():
        raise DownloadError(
            f"cached file {dest} has sha256 {digest}, expected {sha256}; delete it (and "
            f"{_sidecar(dest).name}) to download it again"
        )
    return FetchResult(dest, digest, downloaded=False)


def _download(url: str, dest: Path, timeout: float) -> None:
    """Download ``url`` into ``<dest>.part``, resuming from its current size."""
    part = dest.with_name(dest.name + ".part")
    have = part.stat().st_size if part.is_file() else 0
    headers = {"User-Agent": "ganatlas"}
    if have and not url.startswith("file:"):
        headers["Range"] = f"bytes={have}-"
    hint = (
        f"Without network access, download {url} on another machine and put it at {dest} "
        "(its sha256 is recorded on first use)."
    )
    try:
        with urllib.request.urlopen(
            urllib.request.Request(url, headers=headers), timeout=timeout
        ) as r:
            status = getattr(r, "status", None) or 200
            resumed = have > 0 and status == 206
            if have and not resumed:
                have = 0  # the server sent the whole file
            total = _expected_size(r, have, resumed)
            ctype = (r.headers.get("Content-Type") or "") if r.headers else ""
            if ctype.startswith("text/html") and not url.split("?")[0].endswith((".htm", ".html")):
                raise DownloadError(
                    f"{url} answered with a web page ({ctype}), not the file (Google Drive asks "
                    f"a browser to confirm large downloads). Download it in a browser and put it "
                    f"at {dest} (its sha256 is recorded on first use)."
                )
            with open(part, "ab" if resumed else "wb") as out:
                shutil.copyfileobj(r, out, CHUNK)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:
            part.unlink(missing_ok=True)  # bad partial file; the next attempt starts over
        raise DownloadError(
            f"cannot download {url}: HTTP {exc.code} {exc.reason}. {hint}"
        ) from None
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DownloadError(f"cannot download {url}: {reason}. {hint}") from None
    size = part.stat().st_size
    if total is not None and size != total:
        raise DownloadError(
            f"download of {url} stopped at {size} of {total} bytes; run again to resume "
            f"({part}). {hint}"
        )


def _expected_size(response, have: int, resumed: bool) -> int | None:
    length = response.headers.get("Content-Length") if response.headers else None
    if length is None or not length.isdigit():
        return None
    return int(length) + (have if resumed else 0)

"""Cached, resumable downloads with sha256 sidecars (file:// and a local HTTP server)."""

from __future__ import annotations

import hashlib
import http.server
import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ganatlas.networks import download
from ganatlas.networks.download import (
    DownloadError,
    _part,
    _sidecar,
    cache_path,
    default_cache_dir,
    fetch,
)

PAYLOAD = bytes(range(256)) * 400  # 100 KiB
SHA = hashlib.sha256(PAYLOAD).hexdigest()


class _Handler(http.server.BaseHTTPRequestHandler):
    """Serves ``state["payload"]`` at any path but /missing.pkl, as ``state`` configures it.

    Range requests get 206 when ``ranges`` is on, honouring If-Range unless ``if_range`` is off;
    ``etag`` / ``last_modified`` are sent when set, Content-Length unless ``no_length``. Each
    number popped from ``cut`` ends one response after that many body bytes; ``piece`` and
    ``delay`` pace the body, after ``stall`` seconds of silence. Every request's Range and
    If-Range headers go to ``requests``.
    """

    state: dict = {}

    def log_message(self, *args) -> None:  # keep pytest output clean
        pass

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        st = self.state
        rng, if_range = self.headers.get("Range"), self.headers.get("If-Range")
        st["requests"].append((rng, if_range))
        if self.path.startswith("/uc?"):  # a Google-Drive-like confirmation page
            body = b"<!DOCTYPE html><html>Google Drive can't scan this file for viruses</html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        if self.path == "/missing.pkl":
            self.send_error(404, "Not Found")
            return
        payload = st["payload"]
        current = {st["etag"], st["last_modified"]} - {None}
        partial = (
            rng and st["ranges"] and (not st["if_range"] or not if_range or if_range in current)
        )
        start = int(rng.split("=")[1].split("-")[0]) if partial else 0
        if partial:
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(payload) - 1}/{len(payload)}")
        else:
            self.send_response(200)
        if st["etag"]:
            self.send_header("ETag", st["etag"])
        if st["last_modified"]:
            self.send_header("Last-Modified", st["last_modified"])
        body = payload[start:]
        if not st["no_length"]:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if st["cut"]:
            body = body[: st["cut"].pop(0)]
        try:
            self.wfile.flush()
            st["stop"].wait(st["stall"])
            for i in range(0, len(body), st["piece"]):
                if st["stop"].is_set():
                    break
                self.wfile.write(body[i : i + st["piece"]])
                self.wfile.flush()
                if st["delay"]:
                    time.sleep(st["delay"])
        except OSError:  # the client gave up
            pass
        self.connection.shutdown(socket.SHUT_RDWR)  # the end (or a cut) of the response


@pytest.fixture()
def server() -> Iterator[dict]:
    """A local HTTP server in a thread on an ephemeral port; it stops when the test ends."""
    state = dict(
        requests=[],
        payload=PAYLOAD,
        etag='"v1"',
        last_modified=None,
        ranges=True,
        if_range=True,
        no_length=False,
        cut=[],
        piece=1 << 16,
        stall=0.0,
        delay=0.0,
        stop=threading.Event(),
    )
    handler = type("Handler", (_Handler,), {"state": state})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    state["base"] = f"http://127.0.0.1:{httpd.server_address[1]}"
    state["url"] = state["base"] + "/net.pkl"
    yield state
    state["stop"].set()
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


def free_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/nothing-listens.pkl"


def test_file_url_cached_once_with_sidecar(tmp_path: Path) -> None:
    src = tmp_path / "src" / "net.pkl"
    src.parent.mkdir()
    src.write_bytes(PAYLOAD)
    cache = tmp_path / "cache"
    first = fetch(src.as_uri(), cache_dir=cache)
    assert first.downloaded and first.sha256 == SHA
    assert first.path == cache_path(src.as_uri(), cache) and first.path.is_relative_to(cache)
    assert first.path.read_bytes() == PAYLOAD
    st = first.path.stat()
    side = first.path.with_name("net.pkl.sha256").read_text()
    assert side == f"{SHA}  net.pkl\n# size={len(PAYLOAD)} mtime_ns={st.st_mtime_ns}\n"
    assert not first.path.with_name("net.pkl.part").exists()
    src.unlink()  # no access to the source any more: the cache answers
    second = fetch(src.as_uri(), cache_dir=cache)
    assert second.path == first.path and second.sha256 == SHA and not second.downloaded


def test_cache_dir_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GANATLAS_CACHE", str(tmp_path / "envcache"))
    assert default_cache_dir() == tmp_path / "envcache"
    src = tmp_path / "a.pkl"
    src.write_bytes(b"abc")
    assert fetch(src.as_uri()).path.is_relative_to(tmp_path / "envcache")
    monkeypatch.delenv("GANATLAS_CACHE")
    assert default_cache_dir() == Path.home() / ".cache" / "ganatlas"


def test_http_download_resumes_with_range(tmp_path: Path, server: dict) -> None:
    server["cut"] = [len(PAYLOAD) // 3]
    with pytest.raises(DownloadError, match="stopped at .* bytes; run again to resume"):
        fetch(server["url"], cache_dir=tmp_path)
    dest = cache_path(server["url"], tmp_path)
    part = dest.with_name(dest.name + ".part")
    have = part.stat().st_size
    assert 0 < have < len(PAYLOAD) and not dest.exists()
    result = fetch(server["url"], cache_dir=tmp_path, sha256=SHA)
    assert server["requests"] == [(None, None), (f"bytes={have}-", '"v1"')]
    assert result.downloaded and result.sha256 == SHA and dest.read_bytes() == PAYLOAD
    assert fetch(server["url"], cache_dir=tmp_path).downloaded is False
    assert len(server["requests"]) == 2  # cached: no request at all


def test_server_without_range_support_restarts(tmp_path: Path, server: dict) -> None:
    # A stale .part with a validator: the server answers the Range request with 200.
    server["ranges"] = False
    server["cut"] = [len(PAYLOAD) // 2]
    with pytest.raises(DownloadError, match="run again to resume"):
        fetch(server["url"], cache_dir=tmp_path)
    dest = cache_path(server["url"], tmp_path)
    assert _part(dest).stat().st_size == len(PAYLOAD) // 2
    assert fetch(server["url"], cache_dir=tmp_path).sha256 == SHA
    assert server["requests"][1] == (f"bytes={len(PAYLOAD) // 2}-", '"v1"')
    assert dest.read_bytes() == PAYLOAD and not _part(dest).exists()


def test_part_without_validator_is_not_resumed(tmp_path: Path, server: dict) -> None:
    dest = cache_path(server["url"], tmp_path)
    dest.parent.mkdir(parents=True)
    _part(dest).write_bytes(b"garbage-prefix")  # no .part.json beside it
    assert fetch(server["url"], cache_dir=tmp_path).sha256 == SHA
    assert server["requests"] == [(None, None)]
    assert dest.read_bytes() == PAYLOAD


def test_server_without_validator_starts_over(tmp_path: Path, server: dict) -> None:
    server["etag"] = None  # neither ETag nor Last-Modified: a .part cannot be resumed safely
    server["cut"] = [len(PAYLOAD) // 3]
    with pytest.raises(DownloadError, match=r"stopped at \d+ of 102400 bytes; run again to start"):
        fetch(server["url"], cache_dir=tmp_path)
    dest = cache_path(server["url"], tmp_path)
    assert not dest.exists() and not _part(dest).exists()  # nothing cached, nothing kept
    assert fetch(server["url"], cache_dir=tmp_path).sha256 == SHA
    assert server["requests"] == [(None, None), (None, None)]


def test_resume_with_last_modified_validator(tmp_path: Path, server: dict) -> None:
    server.update(etag=None, last_modified="Tue, 01 Jul 2025 10:00:00 GMT")
    server["cut"] = [1000]
    with pytest.raises(DownloadError, match="run again to resume"):
        fetch(server["url"], cache_dir=tmp_path)
    assert fetch(server["url"], cache_dir=tmp_path, sha256=SHA).downloaded
    assert server["requests"][1] == ("bytes=1000-", "Tue, 01 Jul 2025 10:00:00 GMT")


@pytest.mark.parametrize("honours_if_range", [True, False])
def test_resume_after_server_file_changed_does_not_splice(
    tmp_path: Path, server: dict, honours_if_range: bool
) -> None:
    server["cut"] = [len(PAYLOAD) // 3]
    with pytest.raises(DownloadError, match="run again to resume"):
        fetch(server["url"], cache_dir=tmp_path)
    new = bytes(reversed(PAYLOAD))  # same size: only the validator tells the versions apart
    server.update(payload=new, etag='"v2"', if_range=honours_if_range)
    got = fetch(server["url"], cache_dir=tmp_path)
    assert got.path.read_bytes() == new and got.sha256 == hashlib.sha256(new).hexdigest()
    assert server["requests"][1] == (f"bytes={len(PAYLOAD) // 3}-", '"v1"')
    # An If-Range server answers 200 (new file); one ignoring If-Range sends a 206 of the new
    # version, whose ETag gives it away, and the client asks again for the whole file.
    assert server["requests"][2:] == ([] if honours_if_range else [(None, None)])


def test_truncated_response_without_content_length_is_not_cached(
    tmp_path: Path, server: dict
) -> None:
    server.update(no_length=True, etag=None, cut=[len(PAYLOAD) // 2])
    dest = cache_path(server["url"], tmp_path)
    with pytest.raises(DownloadError, match="without a Content-Length.*give its sha256"):
        fetch(server["url"], cache_dir=tmp_path)
    assert not dest.exists() and not _sidecar(dest).exists() and not _part(dest).exists()
    # With a pinned sha256 the cut response is caught, and the whole one is accepted.
    deadline = time.time() + 5  # the first response's handler takes its cut after the client left
    while server["cut"] and time.time() < deadline:
        time.sleep(0.01)
    server["cut"] = [len(PAYLOAD) // 2]
    with pytest.raises(DownloadError, match=f"expected {SHA}"):
        fetch(server["url"], cache_dir=tmp_path, sha256=SHA)
    assert not dest.exists() and not _sidecar(dest).exists()
    got = fetch(server["url"], cache_dir=tmp_path, sha256=SHA)
    assert got.downloaded and dest.read_bytes() == PAYLOAD


def test_response_shorter_than_content_length_is_an_error(tmp_path: Path, server: dict) -> None:
    server["cut"] = [len(PAYLOAD) - 1]
    dest = cache_path(server["url"], tmp_path)
    with pytest.raises(DownloadError, match=f"stopped at {len(PAYLOAD) - 1} of {len(PAYLOAD)}"):
        fetch(server["url"], cache_dir=tmp_path)
    assert not dest.exists() and not _sidecar(dest).exists()
    assert _part(dest).stat().st_size == len(PAYLOAD) - 1  # kept: an ETag allows a resume


def test_cached_file_cut_short_fails_its_pinned_sha256(tmp_path: Path) -> None:
    src = tmp_path / "net.pkl"
    src.write_bytes(PAYLOAD)
    url, cache = src.as_uri(), tmp_path / "cache"
    dest = fetch(url, cache_dir=cache, sha256=SHA).path
    with open(dest, "r+b") as fh:  # cut to 100 bytes; the sidecar still says all is well
        fh.truncate(100)
    with pytest.raises(DownloadError, match=f"cached file .* has sha256 .*, expected {SHA}"):
        fetch(url, cache_dir=cache, sha256=SHA)
    # Same size, mtime put back: only hashing on every pinned hit notices.
    dest.write_bytes(PAYLOAD)  # a good copy put back by hand is accepted
    assert fetch(url, cache_dir=cache, sha256=SHA).sha256 == SHA
    st = dest.stat()
    dest.write_bytes(b"x" * len(PAYLOAD))
    os.utime(dest, ns=(st.st_atime_ns, st.st_mtime_ns))
    with pytest.raises(DownloadError, match=f"expected {SHA}"):
        fetch(url, cache_dir=cache, sha256=SHA)


def test_cached_file_changed_since_recorded_is_rehashed(tmp_path: Path) -> None:
    src = tmp_path / "net.pkl"
    src.write_bytes(PAYLOAD)
    url, cache = src.as_uri(), tmp_path / "cache"
    dest = fetch(url, cache_dir=cache).path
    side = _sidecar(dest)
    # Only the mtime changed: re-hashed, same sha256, the sidecar follows the new mtime.
    os.utime(dest, ns=(0, 10**18))
    assert fetch(url, cache_dir=cache).sha256 == SHA
    assert side.read_text().endswith(f"mtime_ns={10**18}\n")
    # Cut short: the size disagrees with the sidecar, the re-hash too.
    with open(dest, "r+b") as fh:
        fh.truncate(100)
    with pytest.raises(DownloadError, match="changed since its sha256 was recorded.*100 bytes"):
        fetch(url, cache_dir=cache)
    # A sidecar in the old one-line format is checked and upgraded.
    dest.write_bytes(PAYLOAD)
    side.write_text(f"{SHA}  net.pkl\n")
    assert fetch(url, cache_dir=cache).sha256 == SHA and "size=102400" in side.read_text()
    side.write_text(f"{'0' * 64}  net.pkl\n")
    with pytest.raises(DownloadError, match="changed since"):
        fetch(url, cache_dir=cache)


def test_offline_error_names_url_and_destination(tmp_path: Path) -> None:
    url = free_port_url()
    with pytest.raises(DownloadError) as err:
        fetch(url, cache_dir=tmp_path, timeout=5)
    msg = str(err.value)
    assert url in msg and str(cache_path(url, tmp_path)) in msg and "put it at" in msg
    # A file put there by hand is used without any network access.
    dest = cache_path(url, tmp_path)
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_bytes(PAYLOAD)
    got = fetch(url, cache_dir=tmp_path)
    assert got.sha256 == SHA and not got.downloaded
    assert dest.with_name(dest.name + ".sha256").read_text().startswith(SHA)


def test_http_errors_and_checksum_mismatch(tmp_path: Path, server: dict) -> None:
    missing = server["base"] + "/missing.pkl"
    with pytest.raises(DownloadError, match=r"HTTP 404.*put it at"):
        fetch(missing, cache_dir=tmp_path)
    with pytest.raises(DownloadError, match=f"expected {'0' * 64}"):
        fetch(server["url"], cache_dir=tmp_path, sha256="0" * 64)
    dest = cache_path(server["url"], tmp_path)
    assert not dest.exists() and not dest.with_name(dest.name + ".part").exists()
    fetch(server["url"], cache_dir=tmp_path)
    with pytest.raises(DownloadError, match="cached file .* has sha256"):
        fetch(server["url"], cache_dir=tmp_path, sha256="1" * 64)


def test_bad_urls(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unsupported URL scheme 'ftp'"):
        fetch("ftp://example.org/net.pkl", cache_dir=tmp_path)
    with pytest.raises(ValueError, match="names no file"):
        fetch("https://example.org/", cache_dir=tmp_path)


ESCAPES = [
    "/%2e%2e/%2e%2e/%2e%2e/escaped.pkl",
    "/a/%2e%2e/%2e%2e/%2e%2e/%2e%2e/escaped.pkl",
    "/..%2f..%2f..%2fescaped.pkl",
    "/%2e%2e%5c%2e%2e%5cescaped.pkl",
    "/x/%2e%2e",
    "/%2e%2e",
    "/.hidden",
    "/%00evil%0a.pkl",
    "/" + "n" * 400 + ".pkl",
]


@pytest.mark.parametrize("path", ESCAPES)
def test_cache_path_stays_inside_cache(tmp_path: Path, path: str) -> None:
    cache = tmp_path / "a" / "b" / "cache"
    dest = cache_path("http://127.0.0.1:9" + path, cache)
    assert dest.resolve().is_relative_to(cache.resolve()) and dest.parent.parent == cache
    assert re.fullmatch(r"[A-Za-z0-9._-]+", dest.name) and not dest.name.startswith(".")
    assert len(dest.name) <= 100
    if path.endswith(".pkl"):
        assert dest.suffix == ".pkl"  # family_of_file reads the suffix


def test_percent_encoded_dotdot_download_stays_inside_cache(tmp_path: Path, server: dict) -> None:
    cache = tmp_path / "a" / "b" / "cache"
    got = [fetch(server["base"] + path, cache_dir=cache) for path in ESCAPES[:4]]
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    outside = [p for p in written if not p.resolve().is_relative_to(cache.resolve())]
    assert written and not outside
    assert all(g.path.read_bytes() == PAYLOAD and g.path.name == "escaped.pkl" for g in got)
    assert len({cache_path(server["base"] + p, cache) for p in ESCAPES}) == len(ESCAPES)


def test_deadline_stops_a_slow_download(tmp_path: Path, server: dict) -> None:
    server.update(piece=1024, delay=0.02)  # 100 KiB would take over 2 s
    t0 = time.monotonic()
    with pytest.raises(DownloadError) as err:
        fetch(server["url"], cache_dir=tmp_path, deadline=0.5, min_rate=0)
    assert time.monotonic() - t0 < 1.5
    msg = str(err.value)
    assert (
        server["url"] in msg
        and "passed its deadline of 0.5 s" in msg
        and "run again to resume" in msg
    )
    assert not cache_path(server["url"], tmp_path).exists()


def test_deadline_covers_a_server_that_sends_nothing(tmp_path: Path, server: dict) -> None:
    server["stall"] = 3.0  # headers, then silence
    t0 = time.monotonic()
    with pytest.raises(DownloadError, match=r"passed its deadline of 0\.4 s"):
        fetch(server["url"], cache_dir=tmp_path, deadline=0.4, min_rate=0)
    assert time.monotonic() - t0 < 1.5


def test_minimum_rate_stops_a_trickle(tmp_path: Path, server: dict) -> None:
    server.update(piece=512, delay=0.02)  # at most 25 KiB/s
    t0 = time.monotonic()
    with pytest.raises(DownloadError) as err:
        fetch(server["url"], cache_dir=tmp_path, min_rate=200 * 1024, rate_window=0.3)
    assert time.monotonic() - t0 < 1.5
    msg = str(err.value)
    assert server["url"] in msg and "below the minimum rate of 200 KiB/s" in msg
    assert re.search(r"\(\d+\.\d KiB/s over the last 0\.3\d* s\)", msg)


def test_minimum_rate_covers_a_server_that_sends_nothing(tmp_path: Path, server: dict) -> None:
    server["stall"] = 3.0
    with pytest.raises(
        DownloadError, match=r"below the minimum rate .*0\.0 KiB/s over the last 0\.3"
    ):
        fetch(server["url"], cache_dir=tmp_path, min_rate=1024, rate_window=0.3)


def test_limits_from_the_environment(
    tmp_path: Path, server: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.update(piece=1024, delay=0.02)
    monkeypatch.setenv("GANATLAS_DOWNLOAD_DEADLINE", "0.3")
    monkeypatch.setenv("GANATLAS_DOWNLOAD_MIN_RATE", "0")
    with pytest.raises(DownloadError, match=r"deadline of 0\.3 s.*GANATLAS_DOWNLOAD_DEADLINE"):
        fetch(server["url"], cache_dir=tmp_path)
    monkeypatch.setenv("GANATLAS_DOWNLOAD_DEADLINE", "soon")
    with pytest.raises(ValueError, match="GANATLAS_DOWNLOAD_DEADLINE='soon' is not a number"):
        fetch(server["url"], cache_dir=tmp_path)


def test_progress_lines_for_large_downloads(
    tmp_path: Path, server: dict, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    server.update(piece=1024, delay=0.001)  # about 100 reads
    fetch(server["url"], cache_dir=tmp_path / "a")
    assert capsys.readouterr().err == ""  # 100 KiB is below PROGRESS_MIN_BYTES
    monkeypatch.setattr(download, "PROGRESS_MIN_BYTES", 50 * 1024)
    fetch(server["url"], cache_dir=tmp_path / "b")
    lines = capsys.readouterr().err.splitlines()
    assert 2 <= len(lines) <= 11  # every 10 %, not every read
    assert all(line.startswith(f"ganatlas: downloading {server['url']}: ") for line in lines)
    assert lines[-1].split(": ")[-1].startswith("0.1 of 0.1 MiB (100 %), ")


def test_query_urls_cache_per_query_and_web_pages_are_refused(tmp_path: Path, server: dict) -> None:
    base = server["url"].replace("net.pkl", "uc")
    a, b = cache_path(f"{base}?id=AAA", tmp_path), cache_path(f"{base}?id=BBB", tmp_path)
    assert a != b and a.name == b.name == "uc"
    with pytest.raises(DownloadError, match=r"answered with a web page.*put it at .*uc"):
        fetch(f"{base}?id=AAA", cache_dir=tmp_path)
    assert not a.exists() and not a.with_name(a.name + ".part").exists()

"""Cached, resumable downloads with sha256 sidecars (file:// and a local HTTP server)."""

from __future__ import annotations

import hashlib
import http.server
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from ganatlas.networks.download import DownloadError, cache_path, default_cache_dir, fetch

PAYLOAD = bytes(range(256)) * 400  # 100 KiB
SHA = hashlib.sha256(PAYLOAD).hexdigest()


class _Handler(http.server.BaseHTTPRequestHandler):
    """Serves PAYLOAD at /net.pkl with Range support; the first GET can be cut short."""

    state: dict = {}

    def log_message(self, *args) -> None:  # keep pytest output clean
        pass

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        st = self.state
        st["requests"].append(self.headers.get("Range"))
        if self.path.startswith("/uc?"):  # a Google-Drive-like confirmation page
            body = b"<!DOCTYPE html><html>Google Drive can't scan this file for viruses</html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        if self.path != "/net.pkl":
            self.send_error(404, "Not Found")
            return
        start = 0
        rng = self.headers.get("Range")
        if rng and st["ranges"]:
            start = int(rng.split("=")[1].split("-")[0])
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(PAYLOAD) - 1}/{len(PAYLOAD)}")
        else:
            self.send_response(200)
        body = PAYLOAD[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if st["cut"]:
            st["cut"] = False
            self.wfile.write(body[: len(body) // 3])  # the connection drops mid-way
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.wfile.write(body)


@pytest.fixture()
def server() -> Iterator[dict]:
    state = {"requests": [], "cut": False, "ranges": True}
    handler = type("Handler", (_Handler,), {"state": state})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    state["url"] = f"http://127.0.0.1:{httpd.server_address[1]}/net.pkl"
    yield state
    httpd.shutdown()
    httpd.server_close()


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
    assert first.path.with_name("net.pkl.sha256").read_text() == f"{SHA}  net.pkl\n"
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
    server["cut"] = True
    with pytest.raises(DownloadError, match="stopped at .* bytes; run again to resume"):
        fetch(server["url"], cache_dir=tmp_path)
    dest = cache_path(server["url"], tmp_path)
    part = dest.with_name(dest.name + ".part")
    have = part.stat().st_size
    assert 0 < have < len(PAYLOAD) and not dest.exists()
    result = fetch(server["url"], cache_dir=tmp_path, sha256=SHA)
    assert server["requests"] == [None, f"bytes={have}-"]
    assert result.downloaded and result.sha256 == SHA and dest.read_bytes() == PAYLOAD
    assert fetch(server["url"], cache_dir=tmp_path).downloaded is False
    assert len(server["requests"]) == 2  # cached: no request at all


def test_server_without_range_support_restarts(tmp_path: Path, server: dict) -> None:
    server["ranges"] = False
    dest = cache_path(server["url"], tmp_path)
    dest.parent.mkdir(parents=True)
    dest.with_name(dest.name + ".part").write_bytes(b"garbage-prefix")
    assert fetch(server["url"], cache_dir=tmp_path).sha256 == SHA
    assert dest.read_bytes() == PAYLOAD


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
    missing = server["url"].replace("net.pkl", "missing.pkl")
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


def test_query_urls_cache_per_query_and_web_pages_are_refused(tmp_path: Path, server: dict) -> None:
    base = server["url"].replace("net.pkl", "uc")
    a, b = cache_path(f"{base}?id=AAA", tmp_path), cache_path(f"{base}?id=BBB", tmp_path)
    assert a != b and a.name == "id=AAA" and a.parent.name == "uc"
    with pytest.raises(DownloadError, match=r"answered with a web page.*put it at .*id=AAA"):
        fetch(f"{base}?id=AAA", cache_dir=tmp_path)
    assert not a.exists() and not a.with_name(a.name + ".part").exists()

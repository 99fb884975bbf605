"""``ganatlas models fetch``: through the download cache (a local file:// URL, never the
network), sha256 recorded, safe unpacking; and ``detector.backend: auto`` never downloads."""

from __future__ import annotations

import hashlib
import json
import stat
import zipfile
from pathlib import Path

import pytest

from ganatlas.cli import main
from ganatlas.faces.models import PackError, fetch_pack, unpack_pack


def make_zip(path: Path, members: dict[str, bytes], symlink: str | None = None) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
        if symlink:
            info = zipfile.ZipInfo(symlink)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, "/etc/passwd")
    return path


def test_fetch_from_file_url_unpacks_and_records_sha256(tmp_path: Path) -> None:
    z = make_zip(tmp_path / "buffalo_l.zip", {"det_10g.onnx": b"det", "w600k_r50.onnx": b"rec"})
    digest = hashlib.sha256(z.read_bytes()).hexdigest()
    root, cache = tmp_path / "if", tmp_path / "cache"
    res = fetch_pack("buffalo_l", root, cache, url=z.as_uri(), sha256=digest)
    assert res.directory == root / "models" / "buffalo_l"
    assert res.files == ["det_10g.onnx", "w600k_r50.onnx"] and res.downloaded
    assert (res.directory / "det_10g.onnx").read_bytes() == b"det"
    rec = json.loads((res.directory / "pack.json").read_text())
    assert rec["zip_sha256"] == digest and rec["url"] == z.as_uri()
    cached = list(cache.rglob("buffalo_l.zip"))
    assert len(cached) == 1 and cached[0].with_name("buffalo_l.zip.sha256").is_file()
    with pytest.raises(PackError, match="exists; pass --force"):
        fetch_pack("buffalo_l", root, cache, url=z.as_uri())
    z.unlink()  # the second fetch comes from the cache
    again = fetch_pack("buffalo_l", root, cache, url=z.as_uri(), force=True)
    assert not again.downloaded and again.sha256 == digest


def test_single_top_folder_is_stripped(tmp_path: Path) -> None:
    z = make_zip(
        tmp_path / "a.zip", {"antelopev2/scrfd_10g_bnkps.onnx": b"d", "antelopev2/x/y.onnx": b"e"}
    )
    assert unpack_pack(z, tmp_path / "out") == ["scrfd_10g_bnkps.onnx", "x/y.onnx"]


@pytest.mark.parametrize(
    "members,symlink,message",
    [
        ({"../evil.onnx": b"x"}, None, "outside the pack"),
        ({"ok.onnx": b"x", "a/../../evil": b"x"}, None, "outside the pack"),
        ({"/abs.onnx": b"x"}, None, "outside the pack"),
        ({"C:/w.onnx": b"x"}, None, "outside the pack"),
        ({"ok.onnx": b"x"}, "link.onnx", "not a regular file"),
    ],
)
def test_unsafe_members_are_refused_and_nothing_is_written(
    tmp_path: Path, members: dict, symlink: str | None, message: str
) -> None:
    z = make_zip(tmp_path / "bad.zip", members, symlink)
    dest = tmp_path / "root" / "models" / "bad"
    with pytest.raises(PackError, match=message):
        unpack_pack(z, dest)
    assert not dest.exists() and list(dest.parent.iterdir()) == []
    assert not (tmp_path / "evil.onnx").exists() and not (tmp_path / "root" / "evil").exists()


def test_not_a_zip_and_unknown_pack(tmp_path: Path) -> None:
    bad = tmp_path / "x.zip"
    bad.write_bytes(b"not a zip")
    with pytest.raises(PackError, match="not a zip file"):
        unpack_pack(bad, tmp_path / "out")
    with pytest.raises(PackError, match="unknown pack 'nope'.*antelopev2.*buffalo_l"):
        fetch_pack("nope", tmp_path)


def test_cli_models_fetch_and_errors(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    z = make_zip(tmp_path / "p.zip", {"det.onnx": b"d"})
    args = ["models", "fetch", "antelopev2", "--url", z.as_uri(), "--root", str(tmp_path / "r"),
            "--cache-dir", str(tmp_path / "c")]  # fmt: skip
    assert main(args) == 0
    assert "1 files (downloaded; zip sha256 " in capsys.readouterr().out
    assert (tmp_path / "r" / "models" / "antelopev2" / "det.onnx").is_file()
    assert main(args) == 2
    assert "exists; pass --force" in capsys.readouterr().err
    assert main(["models", "fetch", "x", "--url", (tmp_path / "missing.zip").as_uri(),
                 "--root", str(tmp_path / "r"), "--cache-dir", str(tmp_path / "c")]) == 2  # fmt: skip
    assert "missing.zip" in capsys.readouterr().err
    assert main(["models", "list"]) == 0
    assert "buffalo_l  https://" in capsys.readouterr().out


def test_auto_backend_never_downloads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import urllib.request

    import ganatlas.faces.models as models
    import ganatlas.networks.download as download
    from ganatlas.faces.backends import resolve_backend_name, validate_detector_config

    def refuse(*a, **k):
        raise AssertionError("auto tried to download")

    monkeypatch.setattr(download, "fetch", refuse)
    monkeypatch.setattr(download, "_download", refuse)
    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    monkeypatch.setattr(models, "fetch_pack", refuse)
    cfg = validate_detector_config({"backend": "auto", "root": str(tmp_path), "pack": "buffalo_l"})
    assert resolve_backend_name(cfg) in ("mtcnn", "dlib")
    assert not (tmp_path / "models").exists()

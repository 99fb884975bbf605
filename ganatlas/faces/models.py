"""``ganatlas models fetch PACK``: an InsightFace model pack, downloaded once and unpacked safely.

The zip goes through the download cache (:func:`ganatlas.networks.download.fetch`: resumable,
complete only with its Content-Length or a pinned sha256, sha256 recorded beside it), then is
unpacked into ``<root>/models/<pack>/`` (the layout ``detector.pack`` / ``detector.root`` and
``auto`` look for). Unpacking refuses anything that could write outside that folder: absolute
names, ``..`` components, drive letters, symbolic links and other non-regular members, more than
:data:`MAX_MEMBERS` members or :data:`MAX_UNPACKED_BYTES` unpacked. It goes to a temporary folder
first and is renamed into place, so a failed unpack leaves no half pack. ``pack.json`` in the
pack folder records the URL and the zip's sha256.

Nothing here runs during a workflow run: ``detector.backend: auto`` only looks at local files.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

#: Release assets of InsightFace's model packs (the URLs insightface's own downloader uses).
PACK_URLS: dict[str, str] = {
    "buffalo_l": "https://github.com/deepinsight/insightface/releases/download/v0.7/buffalo_l.zip",
    "antelopev2": "https://github.com/deepinsight/insightface/releases/download/v0.7/antelopev2.zip",
}
MAX_MEMBERS = 200
MAX_UNPACKED_BYTES = 4 << 30  # 4 GiB: the packs are ~0.3-0.4 GB


class PackError(ValueError):
    """A model pack could not be fetched or unpacked; the message says which and why."""


@dataclass(frozen=True)
class PackResult:
    """Where a pack was unpacked, its files, the zip's sha256 and whether it was downloaded now."""

    directory: Path
    files: list[str]
    sha256: str
    downloaded: bool


def _member_name(info: zipfile.ZipInfo) -> PurePosixPath:
    """The safe relative path of a zip member, or PackError naming it."""
    raw = info.filename.replace("\\", "/")
    path = PurePosixPath(raw)
    mode = info.external_attr >> 16
    if (
        raw.startswith("/")
        or (len(raw) > 1 and raw[1] == ":")
        or any(part in ("..", "") for part in path.parts)
        or not path.parts
    ):
        raise PackError(f"zip member {info.filename!r} would be written outside the pack folder")
    kind = stat.S_IFMT(mode)  # 0 when the zip records permissions only
    if kind and kind not in (stat.S_IFREG, stat.S_IFDIR):
        raise PackError(f"zip member {info.filename!r} is not a regular file (mode {mode:o})")
    return path


def safe_members(zf: zipfile.ZipFile) -> list[tuple[zipfile.ZipInfo, PurePosixPath]]:
    """(member, relative path) of every file in ``zf``; a single top folder common to all files
    is stripped (``antelopev2.zip`` holds ``antelopev2/*.onnx``, ``buffalo_l.zip`` holds
    ``*.onnx``). PackError on an unsafe member, too many members or too many bytes."""
    infos = zf.infolist()
    if len(infos) > MAX_MEMBERS:
        raise PackError(f"zip has {len(infos)} members, more than {MAX_MEMBERS}")
    files = [(i, _member_name(i)) for i in infos if not i.is_dir()]
    if not files:
        raise PackError("zip holds no files")
    total = sum(i.file_size for i, _ in files)
    if total > MAX_UNPACKED_BYTES:
        raise PackError(f"zip unpacks to {total:,} bytes, more than {MAX_UNPACKED_BYTES:,}")
    tops = {p.parts[0] for _, p in files}
    if len(tops) == 1 and all(len(p.parts) > 1 for _, p in files):
        files = [(i, PurePosixPath(*p.parts[1:])) for i, p in files]
    return files


def unpack_pack(zip_path: str | Path, dest: str | Path) -> list[str]:
    """Unpack ``zip_path`` into the new folder ``dest`` (atomically: a temporary sibling, then
    a rename). Returns the relative file names. ``dest`` must not exist."""
    dest = Path(dest)
    if dest.exists():
        raise PackError(f"{dest} exists; pass --force to replace it")
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        zf = zipfile.ZipFile(zip_path)
    except zipfile.BadZipFile as exc:
        raise PackError(f"{zip_path} is not a zip file ({exc})") from None
    with zf, tempfile.TemporaryDirectory(dir=dest.parent, prefix=f".{dest.name}.") as tmp:
        root = Path(tmp) / "pack"
        root.mkdir()
        names = []
        written = 0
        for info, rel in safe_members(zf):
            out = root.joinpath(*rel.parts)
            if not out.resolve().is_relative_to(root.resolve()):
                raise PackError(f"zip member {info.filename!r} would be written outside the pack")
            out.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as src, open(out, "xb") as dst:
                while chunk := src.read(1 << 20):
                    written += len(chunk)
                    if written > MAX_UNPACKED_BYTES:
                        raise PackError(f"zip unpacks to more than {MAX_UNPACKED_BYTES:,} bytes")
                    dst.write(chunk)
            names.append(rel.as_posix())
        os.replace(root, dest)
    return sorted(names)


def fetch_pack(
    name: str,
    root: str | Path = "~/.insightface",
    cache_dir: str | Path | None = None,
    url: str | None = None,
    sha256: str | None = None,
    force: bool = False,
) -> PackResult:
    """Download (or take from the cache) the pack ``name`` and unpack it to
    ``<root>/models/<name>/``. ``url`` overrides :data:`PACK_URLS` (any name is then allowed);
    ``sha256`` pins the zip's checksum. An existing pack folder is kept unless ``force``."""
    from ganatlas.networks.download import fetch

    if url is None:
        if name not in PACK_URLS:
            raise PackError(f"unknown pack {name!r}; known: {sorted(PACK_URLS)} (or give --url)")
        url = PACK_URLS[name]
    if not name or "/" in name or "\\" in name or name in (".", ".."):
        raise PackError(f"pack name {name!r} must be a plain folder name")
    dest = Path(root).expanduser() / "models" / name
    got = fetch(url, cache_dir=cache_dir, sha256=sha256)
    if dest.exists():
        if not force:
            raise PackError(f"{dest} exists; pass --force to replace it")
        shutil.rmtree(dest)
    files = unpack_pack(got.path, dest)
    record = {"pack": name, "url": url, "zip_sha256": got.sha256, "files": files}
    (dest / "pack.json").write_text(json.dumps(record, indent=2) + "\n")
    return PackResult(dest, files, got.sha256, got.downloaded)

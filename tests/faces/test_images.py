"""Bad image files become error rows, quickly and in bounded memory: decompression bombs (refused
from the header), FIFOs (never opened), truncated and non-image files."""

from __future__ import annotations

import os
import resource
import struct
import threading
import time
import zlib

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from ganatlas.faces import detect
from ganatlas.faces.detect import MAX_IMAGE_PIXELS, detect_images, read_bgr


def png_header_only(path, width: int, height: int) -> None:
    """A small PNG whose header claims ``width x height`` RGB pixels (one tiny IDAT)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    raw = zlib.compress(b"\x00" * 64)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")
    )


class StubBackend:
    """Counts the images it sees; finds no faces."""

    name, model_names, det_size = "stub", "none", 64

    def __init__(self) -> None:
        self.seen = 0

    def analyze(self, img):
        self.seen += 1
        return []


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@pytest.mark.parametrize(("width", "height"), [(100_000, 100_000), (30_000, 30_000), (9000, 9000)])
def test_decompression_bombs_are_refused_from_the_header(tmp_path, width, height):
    bomb = tmp_path / "bomb.png"
    png_header_only(bomb, width, height)
    assert bomb.stat().st_size < 400
    before = _peak_rss_mb()
    t0 = time.perf_counter()
    # 9000 x 9000 is under Pillow's own cap: ganatlas's limit, with the size, refuses it.
    pixels = f"{width} x {height} = {width * height:,} pixels, " if width == 9000 else ""
    with pytest.raises(ValueError, match=f"{pixels}.*over the limit of {MAX_IMAGE_PIXELS:,}"):
        read_bgr(bomb)
    assert time.perf_counter() - t0 < 2.0
    assert _peak_rss_mb() - before < 100  # nothing was decoded


def test_limit_is_a_setting_and_applies_to_real_images(tmp_path, monkeypatch):
    img = tmp_path / "small.png"
    Image.fromarray(np.zeros((64, 48, 3), np.uint8)).save(img)
    assert read_bgr(img).shape == (64, 48, 3)
    with pytest.raises(ValueError, match="48 x 64 = 3,072 pixels, over the limit of 3,000"):
        read_bgr(img, max_pixels=3000)
    assert read_bgr(img, max_pixels=3072).shape == (64, 48, 3)  # the limit itself is allowed
    with pytest.raises(ValueError, match="over the limit of 3,071"):
        read_bgr(img, max_pixels=3071)
    monkeypatch.setattr(detect, "MAX_IMAGE_PIXELS", 3000)
    with pytest.raises(ValueError, match="over the limit"):
        read_bgr(img)
    assert MAX_IMAGE_PIXELS == 1 << 26


def test_fifo_is_never_opened(tmp_path):
    fifo = tmp_path / "seed0000_step00000.png"
    os.mkfifo(fifo)
    result: list = []
    worker = threading.Thread(target=lambda: result.append(detect.try_read(fifo)), daemon=True)
    worker.start()
    worker.join(timeout=5)
    assert not worker.is_alive(), "reading a FIFO blocked"
    assert "not a regular file" in result[0]


def test_every_bad_file_is_an_error_row_and_the_shard_goes_on(tmp_path):
    good = tmp_path / "good.png"
    Image.fromarray(np.full((32, 32, 3), 200, np.uint8)).save(good)
    bomb = tmp_path / "bomb.png"
    png_header_only(bomb, 100_000, 100_000)
    truncated = tmp_path / "truncated.png"
    truncated.write_bytes(good.read_bytes()[:60])
    text = tmp_path / "text.png"
    text.write_text("not a png")
    fifo = tmp_path / "fifo.png"
    os.mkfifo(fifo)
    missing = tmp_path / "missing.png"
    paths = [good, bomb, truncated, text, fifo, missing, good]
    backend = StubBackend()
    table = detect_images(paths, backend, progress=False).to_pandas()
    assert len(table) == 7 and backend.seen == 2  # only the two good images reached the backend
    errors = table.error.tolist()
    assert pd.isna(errors[0]) and pd.isna(errors[6])
    expected = ["over the limit", "cannot decode", "cannot decode", "not a regular file", "missing"]
    for err, needle, path in zip(errors[1:6], expected, paths[1:6], strict=True):
        assert needle in err and str(path) in err
    assert (table.score == 0.0).all() and not table.detected.any()


def test_read_bgr_returns_exact_bgr_pixels_down_to_one_pixel(tmp_path):
    """A 1 x 1 and a 2 x 3 RGB PNG come back as BGR uint8 [H, W, 3] with the exact values."""
    for h, w in ((1, 1), (2, 3)):
        rgb = np.zeros((h, w, 3), np.uint8)
        rgb[..., 0], rgb[..., 1], rgb[..., 2] = 250, 100, 7  # red-ish: R=250, G=100, B=7
        path = tmp_path / f"img{h}x{w}.png"
        Image.fromarray(rgb).save(path)
        img = read_bgr(path)
        assert img.dtype == np.uint8 and img.shape == (h, w, 3)
        assert (
            (img[..., 0] == 7).all() and (img[..., 1] == 100).all() and (img[..., 2] == 250).all()
        )


def test_header_ok_but_undecodable_pixels_is_a_value_error(tmp_path):
    """A PNG whose header reads (so Pillow opens it) but whose pixels do not decode is refused by
    read_bgr with a ValueError naming the file, never returned as None."""
    good = tmp_path / "good.png"
    Image.fromarray(np.full((32, 32, 3), 200, np.uint8)).save(good)
    truncated = tmp_path / "truncated.png"
    truncated.write_bytes(good.read_bytes()[:60])
    with Image.open(truncated) as header:
        assert header.size == (32, 32)  # the header alone is fine
    with pytest.raises(ValueError, match=r"unreadable image .*truncated\.png \(cannot decode"):
        read_bgr(truncated)


def test_progress_lines_count_images_and_give_a_rate(tmp_path, capsys):
    """progress=True (the default) prints every 100 images and at the end, an int every that
    many, False never: ``detect: done/n images, R images/s`` with a finite positive rate."""
    import re

    paths = []
    for i in range(3):
        paths.append(tmp_path / f"{i}.png")
        Image.fromarray(np.full((8, 8, 3), 50 * i, np.uint8)).save(paths[-1])
    capsys.readouterr()
    detect_images(paths, StubBackend())
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1
    done, n, rate = re.fullmatch(
        r"detect: (\d+)/(\d+) images, ([\d.]+|nan) images/s", lines[0]
    ).groups()
    assert (done, n) == ("3", "3") and 0 < float(rate) < float("inf")
    detect_images(paths, StubBackend(), progress=2)
    assert [line.split(",")[0] for line in capsys.readouterr().err.splitlines()] == [
        "detect: 2/3 images",
        "detect: 3/3 images",
    ]
    detect_images(paths, StubBackend(), progress=False)
    assert capsys.readouterr().err == ""


def test_read_ahead_is_bounded():
    """_bounded_map keeps at most ``ahead`` calls in flight: before the first result is handed
    on, exactly ``ahead`` items have been taken from the input (images decoded ahead)."""
    from concurrent.futures import ThreadPoolExecutor

    taken = []

    def items():
        for i in range(10):
            taken.append(i)
            yield i

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = detect._bounded_map(pool, lambda i: i * i, items(), ahead=3)
        assert next(results) == 0 and len(taken) == 3
        assert next(results) == 1 and len(taken) == 4
        assert list(results) == [i * i for i in range(2, 10)]

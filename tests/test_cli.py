"""``ganatlas info`` and ``ganatlas render`` on official-format pickles; --version and --help."""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ganatlas.cli import build_parser, main, parse_seeds, z_for_seed
from ganatlas.networks.persistence import save_network_pickle
from ganatlas.networks.stylegan2 import Generator


def small(c_dim: int = 0) -> Generator:
    torch.manual_seed(3)
    return Generator(
        z_dim=8, c_dim=c_dim, w_dim=8, img_resolution=16, img_channels=3,
        mapping_kwargs={"num_layers": 2}, synthesis_kwargs={"channel_base": 128, "channel_max": 16},
    ).eval()  # fmt: skip


@pytest.fixture()
def pkl(tmp_path: Path) -> tuple[Path, Generator]:
    g = small()
    return save_network_pickle(tmp_path / "net.pkl", G=g), g


def test_info_prints_summary(pkl, capsys: pytest.CaptureFixture) -> None:
    path, g = pkl
    assert main(["info", str(path)]) == 0
    out = dict(line.split(None, 1) for line in capsys.readouterr().out.strip().splitlines())
    assert out["kind"] == "stylegan2-ada"
    assert (out["z_dim"], out["c_dim"], out["w_dim"]) == ("8", "0", "8")
    assert out["num_ws"] == str(g.num_ws) == "6"
    assert out["img_resolution"] == "16" and out["img_channels"] == "3"
    assert out["num_params"] == f"{sum(p.numel() for p in g.parameters()):,}"


def test_render_writes_the_generators_images(pkl, tmp_path: Path) -> None:
    path, g = pkl
    outdir = tmp_path / "out"
    assert main(["render", str(path), "--seeds", "0-1,5", "--outdir", str(outdir),
                 "--trunc", "0.7"]) == 0  # fmt: skip
    assert sorted(p.name for p in outdir.iterdir()) == [
        "seed0000.png",
        "seed0001.png",
        "seed0005.png",
    ]
    for seed in (0, 1, 5):
        png = np.asarray(Image.open(outdir / f"seed{seed:04d}.png"))
        with torch.no_grad():
            img = g(z_for_seed(seed, 8), None, truncation_psi=0.7, noise_mode="const")
        # NVIDIA's mapping written out: x * 127.5 + 128, clipped, truncated, RGB order kept.
        raw = img[0].numpy().transpose(1, 2, 0)
        expected = (raw * np.float32(127.5) + np.float32(128)).clip(0, 255).astype(np.uint8)
        assert png.shape == (16, 16, 3)
        np.testing.assert_array_equal(png, expected)
    # NVIDIA's gen_images.py seeds: RandomState(seed).randn(1, z_dim)
    ref = np.random.RandomState(5).randn(1, 8).astype(np.float32)
    assert np.array_equal(z_for_seed(5, 8).numpy(), ref)


def test_render_conditional_needs_class(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = save_network_pickle(tmp_path / "c.pkl", G=small(c_dim=3))
    with pytest.raises(SystemExit, match="conditional .*pass --class"):
        main(["render", str(path), "--seeds", "0", "--outdir", str(tmp_path / "o")])
    assert main(["render", str(path), "--seeds", "2", "--class", "1",
                 "--outdir", str(tmp_path / "o")]) == 0  # fmt: skip
    assert (tmp_path / "o" / "seed0002.png").is_file()


def test_errors_are_reported(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["info", "no-such-network"]) == 2
    assert "unknown network 'no-such-network'" in capsys.readouterr().err
    bad = tmp_path / "bad.pkl"
    bad.write_bytes(b"\x80\x04garbage")
    assert main(["info", str(bad)]) == 2
    assert "truncated or corrupted" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["render", "tiny-random", "--seeds", "x", "--outdir", str(tmp_path)])
    assert "bad seed list 'x'" in capsys.readouterr().err


def test_parse_seeds() -> None:
    assert parse_seeds("0-3") == [0, 1, 2, 3]
    assert parse_seeds("7,1-2, 9") == [7, 1, 2, 9]
    for bad in ("", "3-1", "a", "-1"):
        with pytest.raises(Exception, match="bad seed list"):
            parse_seeds(bad)


def test_python_dash_m(pkl) -> None:
    path, _ = pkl
    out = subprocess.run(
        [sys.executable, "-m", "ganatlas", "info", str(path)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert "num_ws" in out.stdout and "stylegan2-ada" in out.stdout


def test_catalogue_lists_every_entry(capsys: pytest.CaptureFixture) -> None:
    from ganatlas.networks import CATALOGUE

    assert main(["catalogue"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:4] == ["name", "kind", "px", "det_size"]
    names = [line.split()[0] for line in lines[1:]]
    assert names == sorted(CATALOGUE) and "digiface-dcgan" in names
    row = next(line for line in lines if line.startswith("digiface-dcgan "))
    assert row.split()[1:4] == ["dcgan-embedded", "64", "320"]


def pyproject_version() -> str:
    text = (Path(__file__).resolve().parents[1] / "pyproject.toml").read_text()
    return re.search(r'(?m)^version = "([^"]+)"', text).group(1)


def test_version_matches_pyproject(capsys: pytest.CaptureFixture) -> None:
    import ganatlas

    assert ganatlas.__version__ == pyproject_version()
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"ganatlas {pyproject_version()}"


def test_version_falls_back_to_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.metadata

    import ganatlas
    from ganatlas.cli import package_version

    def missing(name: str) -> str:
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "version", missing)
    assert package_version() == ganatlas.__version__


def test_help_is_plain_text() -> None:
    """No reStructuredText (``literals``, :func: roles) or backticks in any help text."""
    parser = build_parser()
    (commands,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    helps = {"ganatlas": parser.format_help()}
    helps |= {f"ganatlas {name}": p.format_help() for name, p in commands.choices.items()}
    assert set(helps) >= {"ganatlas catalogue", "ganatlas info", "ganatlas render"}
    for name, text in helps.items():
        assert "`" not in text and not re.search(r":[a-z]+:", text), f"{name} --help:\n{text}"
        assert "usage: " + name in text

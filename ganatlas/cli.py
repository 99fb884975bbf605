"""Command line: ``ganatlas <command>`` (also ``python -m ganatlas``).

- ``ganatlas info NETWORK``: kind, dims, num_ws, resolution and parameter count
- ``ganatlas render NETWORK --seeds 0-3 --outdir DIR``: one PNG per seed
- ``ganatlas convert IN.pkl OUT.pkl``: a TensorFlow-era StyleGAN2 pickle as an official PyTorch one
- ``ganatlas models fetch buffalo_l``: an InsightFace pack into ``~/.insightface/models/``

NETWORK is a catalogue name, a local file or a URL (as the workflow's ``network:`` key).
Subcommands are argparse subparsers registered in :func:`build_parser`; add more there. Their help
texts are plain text (no reStructuredText: ``ganatlas --help`` prints them as written).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

DESCRIPTION = (
    "Map the latent space of StyleGAN-family face generators: list, inspect and render networks."
)
EPILOG = (
    "A network is a catalogue name (see 'ganatlas catalogue'), a local .pkl/.pt file or a URL, "
    "as the workflow's network key. The studies themselves run with snakemake."
)


def package_version() -> str:
    """The installed distribution's version, else ``ganatlas.__version__`` (a source checkout)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("ganatlas")
    except PackageNotFoundError:
        from ganatlas import __version__

        return __version__


def parse_seeds(text: str) -> list[int]:
    """``"0-3,7"`` -> ``[0, 1, 2, 3, 7]`` (ranges inclusive, as NVIDIA's scripts)."""
    seeds: list[int] = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        try:
            if "-" in part[1:]:
                lo, hi = part.split("-", 1) if not part.startswith("-") else ("", part)
                a, b = int(lo), int(hi)
                if b < a:
                    raise ValueError
                seeds.extend(range(a, b + 1))
            else:
                seeds.append(int(part))
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"bad seed list {text!r}: use integers and ranges like 0-3,7"
            ) from None
    if not seeds or min(seeds) < 0:
        raise argparse.ArgumentTypeError(f"bad seed list {text!r}: need seeds >= 0")
    return seeds


def _load(args: argparse.Namespace) -> torch.nn.Module:
    from ganatlas.networks import load_network

    return load_network(
        args.network, device=args.device, which=args.which, cache_dir=args.cache_dir
    )


def cmd_info(args: argparse.Namespace) -> int:
    from ganatlas.networks import network_summary

    g = _load(args)
    for key, value in network_summary(g).items():
        print(f"{key:15s} {value:,}" if isinstance(value, int) else f"{key:15s} {value}")
    return 0


def z_for_seed(seed: int, z_dim: int) -> torch.Tensor:
    """``z: [1, z_dim]`` as NVIDIA's gen_images.py draws it (``RandomState(seed).randn``)."""
    return torch.from_numpy(np.random.RandomState(seed).randn(1, z_dim).astype(np.float32))


def cmd_render(args: argparse.Namespace) -> int:
    from PIL import Image

    from ganatlas.networks.base import to_uint8

    g = _load(args)
    outdir = Path(args.outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    c = torch.zeros([1, g.c_dim], device=args.device)
    if g.c_dim:
        if args.class_idx is None:
            raise SystemExit(f"error: this network is conditional (c_dim={g.c_dim}); pass --class")
        if not 0 <= args.class_idx < g.c_dim:
            raise SystemExit(f"error: --class must be in 0..{g.c_dim - 1}, got {args.class_idx}")
        c[:, args.class_idx] = 1
    for seed in args.seeds:
        z = z_for_seed(seed, g.z_dim).to(args.device)
        with torch.no_grad():
            ws = g.mapping(z, c, truncation_psi=args.trunc, truncation_cutoff=args.trunc_cutoff)
            img = g.synthesis(ws, noise_mode=args.noise_mode)
        arr = to_uint8(img)[0].cpu().numpy()
        path = outdir / f"seed{seed:04d}.png"
        Image.fromarray(arr[:, :, 0] if arr.shape[2] == 1 else arr).save(path)
        print(path)
    return 0


def cmd_convert(args: argparse.Namespace) -> int:
    """Write the stylegan2-ada-pytorch snapshot format of a TF-era StyleGAN2 pickle."""
    from ganatlas.networks.resolve import resolve_network
    from ganatlas.networks.tf_pickle import convert_tf_pickle, is_tf_pickle

    dest = Path(args.dest)
    if dest.exists() and not args.force:
        raise FileExistsError(f"{dest} exists; pass --force to replace it")
    src = resolve_network(args.source, cache_dir=args.cache_dir).path
    if src is None or not is_tf_pickle(src):
        raise ValueError(f"{args.source} is not a TensorFlow-era network pickle")
    convert_tf_pickle(src, dest, allow_missing_d=args.allow_missing_d)
    print(dest)
    return 0


def cmd_catalogue(args: argparse.Namespace) -> int:
    """Print the named networks: name, kind, resolution, det_size and what it is."""
    from ganatlas.networks import CATALOGUE

    rows = [(e.name, e.kind, str(e.resolution), str(e.det_size), e.description)
            for e in sorted(CATALOGUE.values(), key=lambda e: e.name)]  # fmt: skip
    header = ("name", "kind", "px", "det_size", "description")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(4)]
    for r in [header, *rows]:
        print("  ".join(c.ljust(w) for c, w in zip(r[:4], widths, strict=True)) + "  " + r[4])
    return 0


def cmd_check_config(args: argparse.Namespace) -> int:
    """Print the planned jobs of a valid config; errors name the file and line, or the key."""
    from ganatlas.config import ConfigError, check_config_files
    from ganatlas.studies.walk.settings import planned_jobs

    try:
        cfg = check_config_files(args.files)
    except ConfigError as exc:
        print(f"ganatlas check-config: {exc}", file=sys.stderr)
        return 2
    print(
        f"valid: network {cfg['network']}, {len(cfg['seeds'])} seeds x {cfg['steps']} steps, "
        f"{planned_jobs(cfg):,} render and detect jobs, outdir {cfg['outdir']}"
    )
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    """``models list``: the known packs; ``models fetch NAME``: download and unpack one."""
    from ganatlas.faces.models import PACK_URLS, fetch_pack

    if args.action == "list":
        for name, url in sorted(PACK_URLS.items()):
            print(f"{name}  {url}")
        return 0
    if not args.name:
        raise ValueError("models fetch needs a pack name, e.g. buffalo_l or antelopev2")
    res = fetch_pack(args.name, args.root, args.cache_dir, args.url, args.sha256, args.force)
    how = "downloaded" if res.downloaded else "from the cache"
    print(f"{res.directory}: {len(res.files)} files ({how}; zip sha256 {res.sha256})")
    return 0


def _add_network_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("network", help="catalogue name, local .pkl/.pt file or URL")
    p.add_argument("--which", default="G_ema", help="network in a snapshot pickle (G_ema or G)")
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, mps")
    p.add_argument("--cache-dir", default=None, help="download cache (default $GANATLAS_CACHE)")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with one subparser per command (``func`` runs it)."""
    parser = argparse.ArgumentParser(prog="ganatlas", description=DESCRIPTION, epilog=EPILOG)
    parser.add_argument("--version", action="version", version=f"ganatlas {package_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, text: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=text, description=text[0].upper() + text[1:] + ".")

    p = add("catalogue", "list the networks the workflow's network key accepts by name")
    p.set_defaults(func=cmd_catalogue)

    p = add("info", "print a network's kind, dimensions, resolution and parameter count")
    _add_network_args(p)
    p.set_defaults(func=cmd_info)

    p = add("render", "render seeds to PNGs, one seedNNNN.png per seed")
    _add_network_args(p)
    p.add_argument("--seeds", type=parse_seeds, required=True, help="e.g. 0-3,7")
    p.add_argument("--outdir", required=True, help="folder for seedNNNN.png")
    p.add_argument("--trunc", type=float, default=1.0, help="truncation psi (1 = none)")
    p.add_argument("--trunc-cutoff", type=int, default=None, help="truncate only the first N ws")
    p.add_argument("--noise-mode", choices=["const", "random", "none"], default="const",
                   help="StyleGAN noise inputs (default const)")  # fmt: skip
    p.add_argument("--class", dest="class_idx", type=int, default=None, help="class label")
    p.set_defaults(func=cmd_render)

    p = add(
        "convert",
        "convert a TensorFlow-era StyleGAN2 pickle (G, D, Gs) into the official PyTorch "
        "format (stylegan2-ada-pytorch's G, D and G_ema, loadable by NVIDIA's legacy.py)",
    )
    p.add_argument("source", help="TF-era .pkl: a local file, URL or catalogue name")
    p.add_argument("dest", help="the PyTorch .pkl to write")
    p.add_argument("--force", action="store_true", help="replace DEST if it exists")
    p.add_argument("--allow-missing-d", action="store_true",
                   help="convert a file without a discriminator (D=None: NVIDIA's loader refuses "
                   "the result; ganatlas loads it)")  # fmt: skip
    p.add_argument("--cache-dir", default=None, help="download cache (default $GANATLAS_CACHE)")
    p.set_defaults(func=cmd_convert)

    p = add("check-config", "validate config files as snakemake --configfile would merge them")
    p.add_argument(
        "files", nargs="+", help="YAML config files, later ones win (e.g. config.yaml my.yaml)"
    )
    p.set_defaults(func=cmd_check_config)

    p = add(
        "models",
        "download an InsightFace model pack (buffalo_l, antelopev2) once into the download "
        "cache and unpack it to ROOT/models/NAME, where detector.backend auto finds it",
    )
    p.add_argument("action", choices=["fetch", "list"], help="fetch a pack, or list the known ones")
    p.add_argument("name", nargs="?", help="pack name: buffalo_l or antelopev2 (any with --url)")
    p.add_argument("--root", default="~/.insightface", help="InsightFace root (detector.root)")
    p.add_argument("--url", default=None, help="zip URL instead of the known release asset")
    p.add_argument("--sha256", default=None, help="expected sha256 of the zip")
    p.add_argument("--cache-dir", default=None, help="download cache (default $GANATLAS_CACHE)")
    p.add_argument("--force", action="store_true", help="replace an existing pack folder")
    p.set_defaults(func=cmd_models)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``ganatlas`` console script; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (OSError, KeyError, ValueError, RuntimeError) as exc:
        msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"ganatlas {args.command}: error: {msg}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

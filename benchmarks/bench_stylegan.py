"""Images per second of ganatlas's StyleGAN generators (random weights, float32).

    .venv/bin/python benchmarks/bench_stylegan.py [--device cpu] [--batch 8] [--repeats 3]
        [--reference DIR] [--threads N] [--busy-core]

Networks: StyleGAN2 256x256 (channel_base 16384, channel_max 512), StyleGAN (2019) and Progressive
GAN 256x256 (NVIDIA's defaults: fmap_base 8192, fmap_max 512, 8 mapping layers of 512 for StyleGAN)
and StyleGAN3-T and -R 64x64 (channel_base 4096, channel_max 128). Each timing is the best of
``--repeats`` runs of ``G(z, c, noise_mode="const")`` after one warm-up. ``--reference DIR`` also
times NVIDIA's own implementation (a runnable copy of their ``training/`` + ``torch_utils/`` +
``dnnlib/`` in DIR, reference ops) with the same weights, interleaved with ours so both see the same
machine load (StyleGAN2/3 only: NVIDIA's StyleGAN and Progressive GAN are TensorFlow code).
``--network FILE ...`` times networks loaded with ``ganatlas.networks.load_network`` (e.g. one
network as a TF-era and as a PyTorch pickle), interleaved with each other; ``--only`` with no names
then skips the built-in configs. ``--threads N`` sets torch's intra-op threads; ``--busy-core``
runs one competing CPU-bound process (a spinning Python loop) while timing, as another job would.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from collections.abc import Callable

import torch
from busy_core import busy_core, set_threads

CONFIGS = {
    "stylegan2-256": (
        "stylegan2",
        "training.networks_stylegan2",
        dict(z_dim=512, c_dim=0, w_dim=512, img_resolution=256, img_channels=3,
             channel_base=16384, channel_max=512),
    ),
    "stylegan1-256": (
        "stylegan1",
        None,
        dict(z_dim=512, c_dim=0, w_dim=512, img_resolution=256, img_channels=3),
    ),
    "progan-256": (
        "progan",
        None,
        dict(z_dim=512, c_dim=0, img_resolution=256, img_channels=3),
    ),
    "stylegan3-t-64": (
        "stylegan3",
        "training.networks_stylegan3",
        dict(z_dim=512, c_dim=0, w_dim=512, img_resolution=64, img_channels=3,
             channel_base=4096, channel_max=128),
    ),
    "stylegan3-r-64": (
        "stylegan3",
        "training.networks_stylegan3",
        dict(z_dim=512, c_dim=0, w_dim=512, img_resolution=64, img_channels=3,
             channel_base=4096, channel_max=128, conv_kernel=1, use_radial_filters=True),
    ),
}  # fmt: skip
# Both StyleGAN3 configs use channel_base 4096 / channel_max 128 as given (NVIDIA's train.py
# would double them for R).


def images_per_second(run: Callable[[], object], batch: int) -> Callable[[], float]:
    """A timer: each call runs ``run`` once and returns images/s for that run."""

    def once() -> float:
        t0 = time.perf_counter()
        run()
        return batch / (time.perf_counter() - t0)

    return once


def build(kind: str, kwargs: dict, device: str) -> torch.nn.Module:
    module = importlib.import_module(f"ganatlas.networks.{kind}")
    torch.manual_seed(0)
    return module.Generator(**kwargs).eval().requires_grad_(False).to(device)


def reference(module_name: str, kwargs: dict, state: dict, ref_dir: str) -> torch.nn.Module:
    """NVIDIA's generator from ``ref_dir`` with ganatlas's weights (same names)."""
    if ref_dir not in sys.path:
        sys.path.insert(0, ref_dir)
    g = importlib.import_module(module_name).Generator(**kwargs).eval().requires_grad_(False)
    g.load_state_dict(state)
    return g


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--reference", default=None, help="folder with NVIDIA's code (optional)")
    ap.add_argument("--only", nargs="*", default=None, help="subset of " + ", ".join(CONFIGS))
    ap.add_argument("--network", nargs="*", default=[], help="network files to time as loaded")
    ap.add_argument("--threads", type=int, default=None, help="torch.set_num_threads")
    ap.add_argument("--busy-core", action="store_true", help="one competing CPU-bound process")
    args = ap.parse_args(argv)
    set_threads(args.threads)
    with busy_core(args.busy_core) as load:
        rows = (time_files(args) if args.network else []) + run(args)
    header = ("network", "ganatlas img/s", "nvidia-ref img/s", "speed-up", "params / note")
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    print(f"device={args.device} batch={args.batch} threads={torch.get_num_threads()} "
          f"torch={torch.__version__} {load}")  # fmt: skip
    for r in [header, tuple("-" * w for w in widths), *rows]:
        print("  ".join(str(v).ljust(w) for v, w in zip(r, widths, strict=True)))


def run(args: argparse.Namespace) -> list[tuple]:
    """Time each network of ``CONFIGS``: table rows."""
    rows = []
    for name, (kind, ref_module, kwargs) in CONFIGS.items():
        if args.only is not None and name not in args.only:
            continue
        try:
            g = build(kind, kwargs, args.device)
        except ImportError as exc:
            rows.append((name, "n/a", "n/a", "n/a", f"not built: {exc}"))
            continue
        z = torch.randn(args.batch, g.z_dim, device=args.device)
        c = torch.zeros(args.batch, g.c_dim, device=args.device)
        timers = {
            "ganatlas": images_per_second(
                lambda g=g, z=z, c=c: g(z, c, noise_mode="const"), args.batch
            )
        }
        if args.reference and ref_module and args.device == "cpu":
            try:
                ref = reference(ref_module, kwargs, g.state_dict(), args.reference)
                timers["nvidia-ref"] = images_per_second(
                    lambda r=ref, z=z, c=c: r(z, c, noise_mode="const", force_fp32=True), args.batch
                )
            except ImportError as exc:
                print(f"{name}: no reference ({exc})", file=sys.stderr)
        best = dict.fromkeys(timers, 0.0)
        with torch.inference_mode():
            for _ in range(args.repeats + 1):  # the first round warms up
                for key, timer in timers.items():
                    best[key] = max(best[key], timer())
        ours, theirs = best["ganatlas"], best.get("nvidia-ref")
        ratio = f"{ours / theirs:.2f}x" if theirs else "-"
        params = sum(p.numel() for p in g.parameters())
        rows.append((name, f"{ours:.2f}", f"{theirs:.2f}" if theirs else "-", ratio, f"{params:,}"))
    return rows


def time_files(args: argparse.Namespace) -> list[tuple]:
    """Rows for ``--network`` files: each loaded with load_network, timed interleaved."""
    from ganatlas.networks import load_network

    nets, timers = {}, {}
    for path in args.network:
        t0 = time.perf_counter()
        g = load_network(path, device=args.device)
        load_s = time.perf_counter() - t0
        z = torch.randn(args.batch, g.z_dim, device=args.device)
        c = torch.zeros(args.batch, g.c_dim, device=args.device)
        nets[path] = (g, load_s)
        timers[path] = images_per_second(
            lambda g=g, z=z, c=c: g(z, c, noise_mode="const"), args.batch
        )
    best = dict.fromkeys(timers, 0.0)
    with torch.inference_mode():
        for _ in range(args.repeats + 1):
            for key, timer in timers.items():
                best[key] = max(best[key], timer())
    rows = []
    for path, (g, load_s) in nets.items():
        params = sum(p.numel() for p in g.parameters())
        note = (
            f"{params:,}; {getattr(g, 'source_format', 'pytorch')} file, loaded in {load_s:.1f} s"
        )
        rows.append((path, f"{best[path]:.2f}", "-", "-", note))
    return rows


if __name__ == "__main__":
    main()

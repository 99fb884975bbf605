"""Images per second of ganatlas's StyleGAN3 generator, configs T and R (random weights).

    .venv/bin/python benchmarks/bench_stylegan3.py [--device cpu] [--batch 8] [--repeats 3]
        [--resolution 64] [--reference DIR] [--half] [--compile] [--threads N] [--busy-core]

StyleGAN3-T 64x64: channel_base 4096, channel_max 128; StyleGAN3-R 64x64: channel_base 8192,
channel_max 256, conv_kernel 1, radial filters (NVIDIA's train.py doubles cbase/cmax for R).
Each number is the best of ``--repeats`` timed runs of ``G(z, c)`` after one warm-up, without
gradients. ``--reference DIR`` also times NVIDIA's implementation (a runnable copy of their
``training/``, ``torch_utils/`` and ``dnnlib/`` in DIR, CPU reference ops) on the same weights,
alternating with ours so both see the same machine load, and prints the largest difference.
``--half`` (CUDA) runs the fp16 layers in float16 as NVIDIA does (``num_fp16_res=4``); without it
everything is float32. ``--compile`` wraps ganatlas's synthesis in ``torch.compile``.
``--threads N`` sets torch's intra-op threads; ``--busy-core`` runs one competing CPU-bound
process (a spinning Python loop) while timing, as another job on the machine would.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time

import torch
from busy_core import busy_core, set_threads

from ganatlas.networks.stylegan3 import Generator


def configs(resolution: int) -> dict[str, dict]:
    """Benchmark networks by name: Generator kwargs."""
    common = dict(z_dim=512, c_dim=0, w_dim=512, img_resolution=resolution, img_channels=3)
    return {
        f"stylegan3-t-{resolution}": dict(common, channel_base=4096, channel_max=128),
        f"stylegan3-r-{resolution}": dict(
            common, channel_base=8192, channel_max=256, conv_kernel=1, use_radial_filters=True
        ),
    }


def best_rate(fn, batch: int, repeats: int, device: str) -> float:
    """Best images/s over ``repeats`` calls of ``fn`` (after one warm-up)."""
    fn()
    best = 0.0
    for _ in range(repeats):
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        fn()
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        best = max(best, batch / (time.perf_counter() - t0))
    return best


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--resolution", type=int, default=64)
    ap.add_argument("--reference", default=None, help="folder with NVIDIA's code (optional)")
    ap.add_argument("--half", action="store_true", help="fp16 layers in float16 (CUDA only)")
    ap.add_argument("--compile", action="store_true", help="torch.compile the synthesis network")
    ap.add_argument("--threads", type=int, default=None, help="torch.set_num_threads")
    ap.add_argument("--busy-core", action="store_true", help="one competing CPU-bound process")
    args = ap.parse_args(argv)
    torch.set_grad_enabled(False)
    set_threads(args.threads)
    with busy_core(args.busy_core) as load:
        print(
            f"torch {torch.__version__}, threads {torch.get_num_threads()}, "
            f"device {args.device}, batch {args.batch}, {load}", flush=True,
        )  # fmt: skip
        run(args)


def run(args: argparse.Namespace) -> None:
    """Time each config of :func:`configs` (and NVIDIA's when ``--reference``)."""
    for name, kwargs in configs(args.resolution).items():
        torch.manual_seed(0)
        g = Generator(**kwargs).eval().requires_grad_(False).to(args.device)
        z = torch.randn(args.batch, g.z_dim, device=args.device)
        c = torch.zeros(args.batch, g.c_dim, device=args.device)
        ws = g.mapping(z, c)
        synth = torch.compile(g.synthesis) if args.compile else g.synthesis
        force_fp32 = not args.half

        def ours(synth=synth, ws=ws, force_fp32=force_fp32) -> torch.Tensor:
            return synth(ws, force_fp32=force_fp32)

        rate = best_rate(ours, args.batch, args.repeats, args.device)
        line = f"{name}: ganatlas {rate:.2f} img/s"
        if args.reference:
            if args.reference not in sys.path:
                sys.path.insert(0, args.reference)
            ref_cls = importlib.import_module("training.networks_stylegan3").Generator
            ref = ref_cls(**kwargs).eval().requires_grad_(False).to(args.device)
            ref.load_state_dict(g.state_dict())

            def theirs(ref=ref, ws=ws, force_fp32=force_fp32) -> torch.Tensor:
                return ref.synthesis(ws, force_fp32=force_fp32)

            ref_rate = best_rate(theirs, args.batch, args.repeats, args.device)
            diff = (ours() - theirs()).abs().max().item()
            line += (
                f", NVIDIA reference {ref_rate:.2f} img/s, speed-up {rate / ref_rate:.1f}x, "
                f"max |diff| {diff:.2e}"
            )
        print(line, flush=True)


if __name__ == "__main__":
    main()

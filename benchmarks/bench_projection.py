"""Projection speed: optimisation steps per second (forward, losses, backward, Adam) for the
embedded DCGAN (64 px, Z) and a random-weight StyleGAN2 at 256 px (channel_base 16384,
channel_max 512, 8 mapping layers: the shape of NVIDIA's 256 px configs), in W and W+.

    .venv/bin/python benchmarks/bench_projection.py [--steps 20] [--threads 2] [--device cpu|cuda]
        [--losses offline|lpips] [--only dcgan|sg2-256]

``--losses offline`` (the default without NVIDIA's vgg16.pt): L2 + MS-SSIM + noise
regularisation; ``lpips``: NVIDIA's loss (LPIPS + noise regularisation), needs vgg16.pt in the
download cache. The first 2 steps (warm-up) are not timed. Never run by the test suite.
"""

from __future__ import annotations

import argparse
import time

import torch


def stylegan2_256() -> torch.nn.Module:
    from ganatlas.networks.stylegan2 import Generator

    torch.manual_seed(0)
    g = Generator(z_dim=512, c_dim=0, w_dim=512, img_resolution=256, img_channels=3,
                  mapping_kwargs={"num_layers": 8},
                  synthesis_kwargs={"channel_base": 16384, "channel_max": 512})  # fmt: skip
    for m in g.synthesis.modules():
        if hasattr(m, "noise_strength"):
            m.noise_strength.data.fill_(0.1)
    return g.eval()


def time_projection(
    g, space: str, steps: int, weights: dict, lpips, device: str
) -> tuple[float, float]:
    """(steps per wall-clock second, CPU seconds per step of this process)."""
    from ganatlas.studies.projection.projector import ProjectorSettings, latent_stats, project

    stats = latent_stats(g, 1000, 0)
    target = torch.rand(1, 3, g.img_resolution, g.img_resolution, device=device) * 2 - 1
    warm = ProjectorSettings(steps=2, space=space, weights=weights, log_every=0)
    project(g, target, warm, lpips=lpips, stats=stats)
    cfg = ProjectorSettings(steps=steps, space=space, weights=weights, log_every=0)
    t0, c0 = time.perf_counter(), time.process_time()
    p = project(g, target, cfg, lpips=lpips, stats=stats)
    total, cpu = time.perf_counter() - t0, time.process_time() - c0
    assert len(p.history["loss"]) == steps
    return steps / total, cpu / steps


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--losses", choices=["offline", "lpips"], default="offline")
    ap.add_argument("--only", choices=["dcgan", "sg2-256"], default=None)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    from ganatlas.networks import load_network

    lpips = None
    weights = {"l2": 1.0, "ms_ssim": 1.0}
    if a.losses == "lpips":
        from ganatlas.studies.projection.losses import VGG16_URL, load_vgg16, vgg16_path

        path = vgg16_path(VGG16_URL)
        if path is None:
            raise SystemExit(f"--losses lpips: {VGG16_URL} is not in the download cache")
        lpips, weights = load_vgg16(path, a.device), {"lpips": 1.0}
    nets = {"dcgan": lambda: load_network("digiface-dcgan", device=a.device),
            "sg2-256": lambda: stylegan2_256().to(a.device)}  # fmt: skip
    for name, build in nets.items():
        if a.only and name != a.only:
            continue
        g = build()
        for space in ("w",) if name == "dcgan" else ("w", "w+"):
            rate, cpu = time_projection(g, space, a.steps, weights, lpips, a.device)
            label = "z" if name == "dcgan" else space
            print(f"{name} {label}: {rate:.2f} steps/s, {cpu:.2f} CPU s/step ({a.steps} steps, {a.losses} losses, "
                  f"{a.threads} threads, {a.device}); 1,000 steps ~ {1000 / rate / 60:.1f} min",
                  flush=True)  # fmt: skip


if __name__ == "__main__":
    main()

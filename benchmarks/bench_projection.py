"""Projection speed: optimisation steps per second (forward, losses, backward, Adam) for the
embedded DCGAN (64 px, Z) and a random-weight StyleGAN2 at 256 px (channel_base 16384,
channel_max 512, 8 mapping layers: the shape of NVIDIA's 256 px configs), in W and W+.

    .venv/bin/python benchmarks/bench_projection.py [--steps 20] [--threads 2] [--device cpu|cuda]
        [--losses offline|lpips] [--only dcgan|sg2-256] [--reference DIR [--vgg16 FILE]]

``--losses offline`` (the default): L2 + MS-SSIM + noise regularisation; ``lpips``: NVIDIA's loss
(LPIPS + noise regularisation) with ``--vgg16 FILE``, else vgg16.pt from the download cache, else
the random-weight stand-in of benchmarks/vgg16_standin.py (same work per step).
The first 2 steps (warm-up) are not timed. Never run by the test suite.

``--reference DIR`` (DIR: a runnable copy of NVIDIA's stylegan2-ada-pytorch, kept outside the
repository) times NVIDIA's ``projector.project`` and ours side by side on the same pickle (the
256 px StyleGAN2 written by ``save_network_pickle`` to a temp dir, loaded by NVIDIA's
``legacy.load_network_pkl`` and by ours), with NVIDIA's losses for both (LPIPS + noise
regularisation 1e5, NVIDIA's constants, W space) and the same VGG16 file: ``--vgg16 FILE``, else
NVIDIA's vgg16.pt from the download cache, else a random-weight stand-in with the same
architecture and call interface (benchmarks/vgg16_standin.py; fine for timing, its distances mean
nothing). NVIDIA's download is patched to open that file. Each rate is timed inside one
``project`` call of 2 + ``--steps`` steps, from the end of step 2 to the end of the last (the
projectors' own per-step progress lines give the clock times: ours via ``log``, NVIDIA's
``verbose`` lines via its module's ``print``), so set-up (W statistics over 1,000 samples, target
features) is not counted; the two are interleaved for ``--rounds`` rounds (order alternating), for
each of ``--thread-list`` (default 1 and 2 threads).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

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


def ours_projector(g, vgg16: Path) -> Callable[[torch.Tensor, int], list[float]]:
    """``run(target [1, 3, R, R] in [-1, 1], steps) -> clock time at the end of each step``:
    ganatlas's projector with NVIDIA's losses (its progress line, logged every step)."""
    from ganatlas.studies.projection.losses import load_vgg16
    from ganatlas.studies.projection.projector import ProjectorSettings, project

    lpips = load_vgg16(vgg16, "cpu")

    def run(target: torch.Tensor, steps: int) -> list[float]:
        stamps: list[float] = []
        cfg = ProjectorSettings(steps=steps, space="w", w_avg_samples=1000, log_every=1)
        project(g, target, cfg, lpips=lpips, log=lambda _: stamps.append(time.perf_counter()))
        return stamps

    return run


def nvidia_projector(
    ref_dir: str, pkl: Path, vgg16: Path
) -> Callable[[torch.Tensor, int], list[float]]:
    """``run(target, steps) -> end-of-step clock times``: NVIDIA's ``projector.project`` from
    ``ref_dir`` on the generator their ``legacy.load_network_pkl`` reads from ``pkl``; their
    vgg16.pt download opens ``vgg16``."""
    if ref_dir not in sys.path:
        sys.path.insert(0, ref_dir)
    import dnnlib
    import legacy
    import projector

    warnings.filterwarnings("ignore", "Converting a tensor with requires_grad=True")  # their log
    dnnlib.util.open_url = lambda url, *a, **k: open(vgg16, "rb")  # noqa: SIM115 (a with-target)
    with open(pkl, "rb") as fh:
        g = legacy.load_network_pkl(fh)["G_ema"]

    def run(target: torch.Tensor, steps: int) -> list[float]:
        img = ((target[0] + 1) * (255 / 2)).clamp(0, 255)  # their target: [C, H, W] in [0, 255]
        stamps: list[float] = []
        # verbose: their per-step line (after each step's update) goes to the module's print
        projector.print = lambda *_: stamps.append(time.perf_counter())
        dev = torch.device("cpu")
        projector.project(g, img, num_steps=steps, w_avg_samples=1000, verbose=True, device=dev)
        return stamps[-steps:]  # the first line is their "Computing W midpoint" note

    return run


def side_by_side(a: argparse.Namespace) -> None:
    """NVIDIA's projector vs ours on one 256 px StyleGAN2 pickle, interleaved (see the doc)."""
    from vgg16_standin import save_standin

    from ganatlas.networks.persistence import load_network_pickle, save_network_pickle
    from ganatlas.studies.projection.losses import VGG16_URL, vgg16_path

    with tempfile.TemporaryDirectory() as tmp:
        from ganatlas.networks.stylegan2_discriminator import Discriminator

        # NVIDIA's loader insists on a D; a small one (the projectors never use it)
        d = Discriminator(c_dim=0, img_resolution=256, img_channels=3, channel_base=256,
                          channel_max=16)  # fmt: skip
        pkl = save_network_pickle(Path(tmp) / "sg2-256.pkl", G=stylegan2_256(), D=d)
        vgg16 = vgg16_path(a.vgg16) or vgg16_path(VGG16_URL)
        kind = f"VGG16 {vgg16}"
        if vgg16 is None:
            vgg16, kind = save_standin(Path(tmp) / "vgg16.pt"), "VGG16 stand-in (random weights)"
        runs = {
            "ganatlas": ours_projector(load_network_pickle(pkl), vgg16),
            "nvidia": nvidia_projector(a.reference, pkl, vgg16),
        }
        torch.manual_seed(1)
        target = torch.rand(1, 3, 256, 256) * 2 - 1
        for threads in a.thread_list:
            torch.set_num_threads(threads)
            rates: dict[str, list[float]] = {k: [] for k in runs}
            for r in range(a.rounds):  # interleaved, order alternating: same load for both
                for name in list(runs)[:: 1 if r % 2 == 0 else -1]:
                    stamps = runs[name](target, 2 + a.steps)  # 2 warm-up steps
                    rates[name].append(a.steps / (stamps[-1] - stamps[1]))
                load = "load average {:.1f} {:.1f} {:.1f}".format(*os.getloadavg())
                print(f"sg2-256 w, LPIPS + noise reg, {kind}, {threads} threads, {a.steps} steps, "
                      f"round {r + 1}, {load}: ganatlas {rates['ganatlas'][-1]:.3f} steps/s, "
                      f"nvidia {rates['nvidia'][-1]:.3f} steps/s, "
                      f"ratio {rates['ganatlas'][-1] / rates['nvidia'][-1]:.2f}", flush=True)  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--losses", choices=["offline", "lpips"], default="offline")
    ap.add_argument("--only", choices=["dcgan", "sg2-256"], default=None)
    ap.add_argument("--reference", default=None, help="NVIDIA's stylegan2-ada-pytorch (a copy)")
    ap.add_argument("--vgg16", default=None, help="VGG16 TorchScript (LPIPS)")
    ap.add_argument("--thread-list", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--rounds", type=int, default=2, help="--reference: interleaved rounds")
    a = ap.parse_args()
    if a.reference:
        if a.device != "cpu":
            raise SystemExit("--reference: CPU only (NVIDIA's custom ops fall back there)")
        side_by_side(a)
        return
    torch.set_num_threads(a.threads)
    with contextlib.ExitStack() as stack:
        time_networks(a, stack)


def time_networks(a: argparse.Namespace, stack: contextlib.ExitStack) -> None:
    """The DCGAN and the 256 px StyleGAN2 with ganatlas's projector alone (temp files on ``stack``)."""
    from ganatlas.networks import load_network

    lpips = None
    weights = {"l2": 1.0, "ms_ssim": 1.0}
    if a.losses == "lpips":
        from ganatlas.studies.projection.losses import VGG16_URL, load_vgg16, vgg16_path

        path = vgg16_path(a.vgg16) or vgg16_path(VGG16_URL)
        if path is None:  # the random-weight stand-in (timing only)
            from vgg16_standin import save_standin

            path = save_standin(
                Path(stack.enter_context(tempfile.TemporaryDirectory())) / "vgg16.pt"
            )
            print(f"--losses lpips: no vgg16.pt given or cached; a stand-in ({path})", flush=True)
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

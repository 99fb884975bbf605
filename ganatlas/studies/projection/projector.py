"""Project one image into a generator: optimise w (W), one w per layer (W+) or z (the DCGAN).

NVIDIA's algorithm, written anew: start at ``w_avg`` of ``w_avg_samples`` mapped samples, Adam
(betas 0.9, 0.999) on w and on every StyleGAN2 noise buffer (``noise_const``, randomised from
the seed and renormalised after each step), the learning rate and the noise on w of
:mod:`ganatlas.studies.projection.schedule`, synthesis with ``noise_mode="const"``, images compared
at ``compare_size`` px (area-downsampled when larger), the weighted losses of
:mod:`ganatlas.studies.projection.losses`. A Z-only network (the DCGAN: ``num_ws == 1`` and an
identity mapping) is projected in Z the same way, from the prior's mean.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch.nn import functional as F

from ganatlas.studies.projection.losses import image_terms, noise_regularization, normalize_noise_
from ganatlas.studies.projection.schedule import learning_rate, noise_scale

SPACES = ("w", "w+")


@dataclass
class ProjectorSettings:
    """NVIDIA's projector constants as defaults; ``weights`` of the loss terms (see losses)."""

    steps: int = 1000
    lr: float = 0.1
    lr_rampup: float = 0.05
    lr_rampdown: float = 0.25
    noise_factor: float = 0.05
    noise_ramp: float = 0.75
    noise_reg: float = 1e5
    w_avg_samples: int = 10000
    compare_size: int = 256
    space: str = "w"
    seed: int = 0
    weights: dict[str, float] = field(
        default_factory=lambda: {
            "lpips": 1.0,
            "l2": 0.0,
            "l1": 0.0,
            "ms_ssim": 0.0,
            "identity": 0.0,
        }
    )
    log_every: int = 100
    keep_every: int = 0  # keep ws every K steps for a video (0: none)

    def __post_init__(self) -> None:
        if self.space not in SPACES:
            raise ValueError(f"projection.space must be one of {SPACES}, got {self.space!r}")
        if self.steps < 1:
            raise ValueError(f"projection.steps must be >= 1, got {self.steps}")
        if self.w_avg_samples < 2:
            raise ValueError(f"projection.w_avg_samples must be >= 2, got {self.w_avg_samples}")


@dataclass
class Projection:
    """ws: [1, num_ws, w_dim] final latent (z for a Z-only network: [1, 1, z_dim]); image:
    [1, 3, H, W] in [-1, 1]; history: per-step arrays (loss, each term, lr, w_noise);
    frames: [K, num_ws, w_dim] kept latents; w_avg: [w_dim]; sigma_w; space: w, w+ or z."""

    ws: torch.Tensor
    image: torch.Tensor
    history: dict[str, np.ndarray]
    frames: np.ndarray
    w_avg: np.ndarray
    sigma_w: float
    space: str
    seconds: float


def is_z_only(g: torch.nn.Module) -> bool:
    """A network whose mapping is the identity on z (the DCGAN): projected in Z."""
    from ganatlas.networks.dcgan import DCGANGenerator

    return isinstance(g, DCGANGenerator)


def latent_stats(g, samples: int, seed: int, batch: int = 1000) -> tuple[torch.Tensor, float]:
    """``(w_avg [w_dim], sigma_w)``: mean of ``samples`` mapped z (fixed seed) and the root mean
    squared distance of the samples from it (NVIDIA's ``w_std``)."""
    dev = next(iter(g.parameters())).device if any(True for _ in g.parameters()) else "cpu"
    gen = torch.Generator().manual_seed(seed)
    z = torch.randn(samples, g.z_dim, generator=gen)
    ws = []
    with torch.no_grad():
        for i in range(0, samples, batch):
            zb = z[i : i + batch].to(dev)
            c = torch.zeros(zb.shape[0], g.c_dim, device=dev)
            ws.append(g.mapping(zb, c)[:, 0].float().cpu())
    w = torch.cat(ws).double()
    w_avg = w.mean(0)
    sigma = float(((w - w_avg).square().sum() / samples) ** 0.5)
    return w_avg.float(), sigma


def noise_buffers(g: torch.nn.Module) -> list[tuple[str, torch.Tensor]]:
    """The synthesis noise buffers (NVIDIA's name ``noise_const``), in module order."""
    synthesis = getattr(g, "synthesis", None)
    if not isinstance(synthesis, torch.nn.Module):
        return []
    return [(n, b) for n, b in synthesis.named_buffers() if "noise_const" in n]


def to_compare(img: torch.Tensor, size: int) -> torch.Tensor:
    """Area-downsample ``img: [N, C, H, W]`` to ``size`` px when larger (NVIDIA: 256)."""
    if img.shape[-1] > size:
        img = F.adaptive_avg_pool2d(img, (size, size))
    return img


def _fmt_time(s: float) -> str:
    s = int(round(s))
    return (
        f"{s // 3600}h{s % 3600 // 60:02d}m{s % 60:02d}s"
        if s >= 3600
        else f"{s // 60}m{s % 60:02d}s"
    )


def project(
    g: torch.nn.Module,
    target: torch.Tensor,
    cfg: ProjectorSettings,
    lpips: Callable | None = None,
    identity: Callable | None = None,
    log: Callable[[str], None] = lambda m: None,
    stats: tuple[torch.Tensor, float] | None = None,
) -> Projection:
    """Project ``target: [1, 3, R, R]`` in [-1, 1] (R = the network's resolution) into ``g``.

    lpips / identity: callables ``img [N, 3, h, w] -> [N, F]`` (VGG16 features, identity
    embedding); their terms are skipped when None. stats: precomputed ``(w_avg, sigma_w)``.
    """
    t0 = time.perf_counter()
    res = int(g.img_resolution)
    if (
        target.ndim != 4
        or target.shape[0] != 1
        or tuple(target.shape[1:]) != (g.img_channels, res, res)
    ):
        raise ValueError(
            f"target must be [1, {g.img_channels}, {res}, {res}] (the network's resolution), "
            f"got {tuple(target.shape)}"
        )  # fmt: skip
    original = g
    g = copy.deepcopy(g).eval().requires_grad_(False)
    dev = target.device
    z_only = is_z_only(g)
    space = "z" if z_only else cfg.space
    w_avg, sigma_w = stats if stats is not None else latent_stats(g, cfg.w_avg_samples, cfg.seed)
    w_avg = w_avg.to(dev)
    rows = 1 if space in ("w", "z") else g.num_ws
    w_opt = w_avg.reshape(1, 1, -1).repeat(1, rows, 1).clone().requires_grad_(True)
    gen = torch.Generator().manual_seed(cfg.seed)
    bufs = [b for _, b in noise_buffers(g)]
    for b in bufs:
        b.copy_(torch.randn(b.shape, generator=gen).to(b))
        b.requires_grad_(True)
    normalize_noise_(bufs)
    opt = torch.optim.Adam([w_opt, *bufs], betas=(0.9, 0.999), lr=cfg.lr)
    weights = dict(cfg.weights)
    target_cmp = to_compare(target.float(), cfg.compare_size)
    lp = (lpips, lpips(target_cmp).detach()) if lpips is not None and weights.get("lpips") else None
    ident = (
        (identity, identity(target.float()).detach())
        if identity is not None and weights.get("identity")
        else None
    )
    hist: dict[str, list[float]] = {"loss": [], "lr": [], "w_noise": [], "noise_reg": []}
    frames = []
    t_loop = time.perf_counter()
    for step in range(cfg.steps):
        lr = learning_rate(step, cfg.steps, cfg.lr, cfg.lr_rampup, cfg.lr_rampdown)
        ns = noise_scale(step, cfg.steps, sigma_w, cfg.noise_factor, cfg.noise_ramp)
        for group in opt.param_groups:
            group["lr"] = lr
        w_noise = torch.randn(w_opt.shape, generator=gen).to(dev) * ns
        ws = (w_opt + w_noise).expand(1, g.num_ws, -1) if rows == 1 else w_opt + w_noise
        synth = g.synthesis(ws, noise_mode="const")
        synth_cmp = to_compare(synth, cfg.compare_size)
        terms = image_terms(synth_cmp, target_cmp, weights, lp)
        if ident is not None:
            emb = identity(synth)
            terms["identity"] = 1 - F.cosine_similarity(emb, ident[1], dim=-1).mean()
        loss = sum((weights[k] * v for k, v in terms.items()), torch.zeros([], device=dev))
        if bufs and cfg.noise_reg:
            reg = noise_regularization(bufs)
            loss = loss + cfg.noise_reg * reg
            hist["noise_reg"].append(float(reg.detach()))
        else:
            hist["noise_reg"].append(0.0)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        normalize_noise_(bufs)
        hist["loss"].append(float(loss.detach()))
        hist["lr"].append(lr)
        hist["w_noise"].append(ns)
        for k, v in terms.items():
            hist.setdefault(k, []).append(float(v.detach()))
        if cfg.keep_every and (step % cfg.keep_every == 0 or step == cfg.steps - 1):
            frames.append(w_opt.detach().expand(1, g.num_ws, -1)[0].cpu().numpy().copy())
        done = step + 1
        if cfg.log_every and (done % cfg.log_every == 0 or done == cfg.steps):
            rate = done / max(time.perf_counter() - t_loop, 1e-9)
            parts = " ".join(f"{k} {hist[k][-1]:.4g}" for k in [*terms, "noise_reg"])
            log(f"step {done}/{cfg.steps} loss {hist['loss'][-1]:.4g} ({parts}) lr {lr:.4g} "
                f"w_noise {ns:.3g} | {rate:.2f} steps/s, ETA {_fmt_time((cfg.steps - done) / rate)}")  # fmt: skip
    with torch.no_grad():
        final = w_opt.detach().expand(1, g.num_ws, -1).clone()
        # as NVIDIA saves proj.png: the original network's stored noise, so that re-rendering
        # projected_w.npz gives this image (the optimised noise buffers are not kept)
        image = original.synthesis(final.to(dev), noise_mode="const")
    return Projection(
        ws=final,
        image=image.detach(),
        history={k: np.asarray(v, np.float64) for k, v in hist.items()},
        frames=np.stack(frames) if frames else np.zeros((0, g.num_ws, g.w_dim), np.float32),
        w_avg=w_avg.cpu().numpy(),
        sigma_w=float(sigma_w),
        space=space,
        seconds=time.perf_counter() - t0,
    )


def planted_distance(ws: torch.Tensor, w_true: torch.Tensor) -> float:
    """Root mean squared distance per row between ``ws`` and ``w_true`` (both [1, num_ws, w_dim])."""
    return float(math.sqrt((ws - w_true).square().sum(-1).mean()))

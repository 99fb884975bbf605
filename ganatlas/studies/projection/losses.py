"""The projector's loss terms, each a function of the synthesised and target images.

Images are ``[N, 3, H, W]`` in [-1, 1] at the comparison size. The total loss is the weighted sum
``lpips * LPIPS + l2 * mean squared error + l1 * mean absolute error + ms_ssim * (1 - MS-SSIM)
+ identity * (1 - cosine of embeddings) + noise_reg * noise regularisation``; a term with weight 0
is not computed.

- **LPIPS** uses NVIDIA's TorchScript VGG16 (``vgg16.pt``, the file NVIDIA's projector loads):
  features of both images, squared distance summed, as NVIDIA's projector does. Optional: used
  when the file is present locally (a path, or the URL already in the download cache).
- **Noise regularisation** (NVIDIA): for every noise buffer and each level of its 2x2-average
  pyramid down to 8x8, the squared mean autocorrelation with its 1-pixel shifts along x and y.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch
from torch.nn import functional as F

from ganatlas.studies.projection.ssim import ms_ssim

VGG16_URL = "https://nvlabs-fi-cdn.nvidia.com/stylegan2-ada-pytorch/pretrained/metrics/vgg16.pt"
TERMS = ("lpips", "l2", "l1", "ms_ssim", "identity")


def noise_regularization(noise_bufs: list[torch.Tensor]) -> torch.Tensor:
    """Sum over buffers ``[H, W]`` (or ``[1, 1, H, W]``) and their pyramids of the squared mean
    products with the 1-pixel rolled copies along x and y (pyramid down to 8 px)."""
    total = torch.zeros([])
    for buf in noise_bufs:
        noise = buf.reshape(1, 1, *buf.shape[-2:])
        total = total.to(noise)
        while True:
            total = total + (noise * torch.roll(noise, shifts=1, dims=3)).mean() ** 2
            total = total + (noise * torch.roll(noise, shifts=1, dims=2)).mean() ** 2
            if noise.shape[2] <= 8:
                break
            noise = F.avg_pool2d(noise, kernel_size=2)
    return total


def normalize_noise_(noise_bufs: list[torch.Tensor]) -> None:
    """Give every buffer mean 0 and standard deviation 1 in place (after each optimiser step)."""
    with torch.no_grad():
        for buf in noise_bufs:
            buf -= buf.mean()
            buf *= buf.square().mean().rsqrt()


def vgg16_path(spec: str | None, cache_dir: str | Path | None = None) -> Path | None:
    """The local VGG16 TorchScript file for ``spec`` (a path, or a URL found in the download
    cache), or None when there is none (LPIPS is then skipped); never downloads."""
    if not spec:
        return None
    if "://" in spec:
        from ganatlas.networks.download import cache_path

        path = cache_path(spec, cache_dir)
    else:
        path = Path(spec).expanduser()
    return path if path.is_file() else None


def load_vgg16(path: Path, device: str | torch.device) -> Callable[[torch.Tensor], torch.Tensor]:
    """NVIDIA's VGG16 TorchScript as ``features(img [N, 3, H, W] in [-1, 1]) -> [N, F]``."""
    model = torch.jit.load(str(path), map_location=device).eval()
    for p in model.parameters():  # no weight gradients (a ScriptModule has no requires_grad_)
        p.requires_grad_(False)

    def features(img: torch.Tensor) -> torch.Tensor:
        return model((img + 1) * (255 / 2), resize_images=False, return_lpips=True)

    return features


def lpips_distance(
    features: Callable[[torch.Tensor], torch.Tensor],
    synth: torch.Tensor,
    target_features: torch.Tensor,
) -> torch.Tensor:
    """Sum of squared differences of the VGG16 LPIPS features (NVIDIA's projector's ``dist``)."""
    return (target_features - features(synth)).square().sum()


def image_terms(
    synth: torch.Tensor,
    target: torch.Tensor,
    weights: dict[str, float],
    lpips: tuple[Callable, torch.Tensor] | None = None,
) -> dict[str, torch.Tensor]:
    """The unweighted image terms with non-zero weight: ``{name: scalar}`` (LPIPS only when
    ``lpips`` = (features, target features) is given; identity is the projector's own term, on
    the full-size image).
    """
    out: dict[str, torch.Tensor] = {}
    if weights.get("lpips", 0) and lpips is not None:
        out["lpips"] = lpips_distance(lpips[0], synth, lpips[1])
    if weights.get("l2", 0):
        out["l2"] = (synth - target).square().mean()
    if weights.get("l1", 0):
        out["l1"] = (synth - target).abs().mean()
    if weights.get("ms_ssim", 0):
        out["ms_ssim"] = 1 - ms_ssim(synth, target).mean()
    return out

"""SSIM, MS-SSIM and PSNR in PyTorch (differentiable), written for the projector and its scores.

SSIM (Wang et al. 2004): an 11-tap Gaussian window (sigma 1.5) applied without padding ("valid"),
``C1 = (0.01 L)^2``, ``C2 = (0.03 L)^2`` for data range ``L``; the mean of the SSIM map over the
valid region and the channels. This equals scikit-image's ``structural_similarity`` with
``gaussian_weights=True, sigma=1.5, use_sample_covariance=False`` per channel (tested).

MS-SSIM (Wang et al. 2003): contrast-structure terms at the first ``levels - 1`` scales and the
full SSIM at the last, combined with the weights 0.0448, 0.2856, 0.3001, 0.2363, 0.1333; between
scales the images are averaged over 2x2 blocks. Images too small for five scales (a side below
``win * 2^(levels-1)``) use as many scales as fit, with the leading weights renormalised to sum
to 1; negative contrast-structure terms are clipped at 0 before the power, as pytorch-msssim does.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

MS_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
WIN_SIZE = 11
WIN_SIGMA = 1.5


def gaussian_window(size: int = WIN_SIZE, sigma: float = WIN_SIGMA) -> torch.Tensor:
    """``[size]`` normalised 1-D Gaussian taps."""
    x = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-(x**2) / (2 * sigma**2))
    return (g / g.sum()).float()


def band_matrix(n: int, win: torch.Tensor) -> torch.Tensor:
    """``[n, n - K + 1]`` matrix whose product with a row of ``n`` values is its valid filtering
    with taps ``win: [K]`` (dense matrix products beat depthwise convolutions on the CPU)."""
    k = win.numel()
    m = torch.zeros(n, n - k + 1, dtype=win.dtype)
    for j in range(n - k + 1):
        m[j : j + k, j] = win
    return m


def _filter(x: torch.Tensor, win: torch.Tensor) -> torch.Tensor:
    """Separable valid filtering of ``x: [..., H, W]`` with taps ``win: [K]`` along both axes."""
    bw = band_matrix(x.shape[-1], win).to(x)
    bh = band_matrix(x.shape[-2], win).to(x)
    return bh.T @ (x @ bw)


def _check(x: torch.Tensor, y: torch.Tensor, win: int) -> None:
    if x.shape != y.shape or x.ndim != 4:
        raise ValueError(f"expected two images [N, C, H, W] of one shape, got {tuple(x.shape)} "
                         f"and {tuple(y.shape)}")  # fmt: skip
    if min(x.shape[-2:]) < win:
        raise ValueError(
            f"images of {tuple(x.shape[-2:])} px are smaller than the {win}-tap window"
        )


def ssim_terms(
    x: torch.Tensor, y: torch.Tensor, data_range: float, win: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-image, per-channel means of the SSIM map and of its contrast-structure part: ``[N, C]``."""
    c1 = (0.01 * data_range) ** 2
    c2 = (0.03 * data_range) ** 2
    mu_x, mu_y, fxx, fyy, fxy = _filter(torch.stack([x, y, x * x, y * y, x * y]), win)
    sxx = fxx - mu_x**2
    syy = fyy - mu_y**2
    sxy = fxy - mu_x * mu_y
    cs = (2 * sxy + c2) / (sxx + syy + c2)
    lum = (2 * mu_x * mu_y + c1) / (mu_x**2 + mu_y**2 + c1)
    return (lum * cs).mean(dim=(-2, -1)), cs.mean(dim=(-2, -1))


def ssim(x: torch.Tensor, y: torch.Tensor, data_range: float = 2.0) -> torch.Tensor:
    """SSIM of ``x, y: [N, C, H, W]`` (value range ``data_range``, 2 for [-1, 1]) -> ``[N]``."""
    _check(x, y, WIN_SIZE)
    s, _ = ssim_terms(x.float(), y.float(), data_range, gaussian_window())
    return s.mean(dim=1)


def ms_ssim_levels(size: int, levels: int = len(MS_WEIGHTS), win: int = WIN_SIZE) -> int:
    """How many of ``levels`` scales fit an image whose smaller side is ``size`` px."""
    n = 1
    while n < levels and size // 2**n >= win:
        n += 1
    return n


def ms_ssim(x: torch.Tensor, y: torch.Tensor, data_range: float = 2.0) -> torch.Tensor:
    """MS-SSIM of ``x, y: [N, C, H, W]`` -> ``[N]`` (see the module docstring for small images)."""
    _check(x, y, WIN_SIZE)
    x, y = x.float(), y.float()
    n = ms_ssim_levels(min(x.shape[-2:]))
    weights = torch.tensor(MS_WEIGHTS[:n], dtype=x.dtype, device=x.device)
    if n < len(MS_WEIGHTS):  # fewer scales: the leading weights renormalised
        weights = weights / weights.sum()
    win = gaussian_window()
    values = []
    for level in range(n):
        s, cs = ssim_terms(x, y, data_range, win)
        values.append(cs.clamp(min=0) if level < n - 1 else s.clamp(min=0))
        if level < n - 1:
            x, y = F.avg_pool2d(x, 2), F.avg_pool2d(y, 2)
    stack = torch.stack(values, dim=0)  # [levels, N, C]
    # a zero term with weight < 1 has an infinite derivative: keep the base away from 0
    out = torch.prod(stack.clamp(min=1e-8) ** weights[:, None, None], dim=0)
    return out.mean(dim=1)


def psnr(x: torch.Tensor, y: torch.Tensor, data_range: float = 2.0) -> torch.Tensor:
    """PSNR in dB of ``x, y: [N, C, H, W]`` -> ``[N]`` (inf for identical images)."""
    mse = (x.float() - y.float()).square().mean(dim=(1, 2, 3))
    return 10 * torch.log10(data_range**2 / mse)

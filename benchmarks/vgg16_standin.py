"""A stand-in for NVIDIA's LPIPS VGG16 TorchScript (``vgg16.pt``), for timing only.

NVIDIA's projector loads ``vgg16.pt`` (downloaded from NVIDIA, not available offline) and calls
``vgg16(img, resize_images=False, return_lpips=True)`` on ``img: [N, 3, H, W]`` in [0, 255]. This
module has the same call interface and the same work on that path: the 13 3x3 convolutions of
VGG16 (64, 64 | 128, 128 | 256 x 3 | 512 x 3 | 512 x 3, 2x2 max-pooling between blocks), the
LPIPS features at relu1_2, relu2_2, relu3_3, relu4_3 and relu5_3, each unit-normalised over
channels and scaled by the square root of a per-channel weight and of 1 / (H W), flattened and
concatenated: ``[N, F]``. The weights are random (seeded): its distances mean nothing; it is for
measuring speed, and both projectors get the same file. The fully connected part (the path of
``return_features=True``, unused by the projectors) is left out.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch.nn import functional as F

BLOCKS = ((64, 2), (128, 2), (256, 3), (512, 3), (512, 3))  # (channels, convs) per block


class VGG16LPIPS(torch.nn.Module):
    """``forward(img [N, 3, H, W] in [0, 255], resize_images, return_lpips) -> [N, F]``."""

    def __init__(self, seed: int = 0) -> None:
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        convs = []
        c_in = 3
        for c_out, n in BLOCKS:
            for _ in range(n):
                conv = torch.nn.Conv2d(c_in, c_out, 3, padding=1)
                with torch.no_grad():
                    conv.weight.normal_(0, (2 / (9 * c_in)) ** 0.5, generator=gen)
                    conv.bias.zero_()
                convs.append(conv)
                c_in = c_out
        self.convs = torch.nn.ModuleList(convs)
        widths = [c for c, _ in BLOCKS]
        # the per-channel weights of the 5 layers, concatenated: [1, 64 + 128 + 256 + 512 + 512]
        self.register_buffer("lin", torch.rand(1, sum(widths), 1, 1, generator=gen))
        self.offsets = [0] + [int(o) for o in torch.tensor(widths).cumsum(0)]
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1) * 255)
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1) * 255)
        self.ends = [int(e) for e in torch.tensor([n for _, n in BLOCKS]).cumsum(0) - 1]

    def forward(
        self,
        img: torch.Tensor,
        resize_images: bool = True,
        return_features: bool = False,
        return_lpips: bool = False,
    ) -> torch.Tensor:
        if return_features or not return_lpips:
            raise RuntimeError("stand-in VGG16: only return_lpips=True is implemented")
        x = img
        if resize_images:
            x = F.interpolate(x, size=(224, 224), mode="area")
        x = (x - self.mean) / self.std
        feats: list[torch.Tensor] = []
        block = 0
        for i, conv in enumerate(self.convs):
            x = F.relu(conv(x))
            if i in self.ends:
                feats.append(x)
                block += 1
                if block < len(self.ends):
                    x = F.max_pool2d(x, 2)
        out: list[torch.Tensor] = []
        for j, f in enumerate(feats):
            w = self.lin[:, self.offsets[j] : self.offsets[j + 1]]
            f = f / (f.square().sum(dim=1, keepdim=True).sqrt() + 1e-10)
            f = f * (w.sqrt() / (f.shape[2] * f.shape[3]) ** 0.5)
            out.append(f.flatten(1))
        return torch.cat(out, dim=1)


def save_standin(path: str | Path, seed: int = 0) -> Path:
    """Script the stand-in and save it at ``path`` (a TorchScript file like ``vgg16.pt``)."""
    path = Path(path)
    # frozen weights, as in NVIDIA's file (their projector's target features would otherwise
    # keep a graph that its second backward pass trips over)
    torch.jit.script(VGG16LPIPS(seed).eval().requires_grad_(False)).save(str(path))
    return path

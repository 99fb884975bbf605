"""FaceNet's Inception-ResNet-v1 (Szegedy et al. 2016, as trained by D. Sandberg's FaceNet on
VGGFace2, release 20180402-114759): 160x160 RGB in, a 512-d L2-normalised identity embedding out.

The architecture is written here from the paper's block layout; the module and parameter names
follow the state-dict naming used by the widely shared PyTorch conversion of that release
(``conv2d_1a.conv.weight``, ``repeat_1.0.branch1.1.bn.running_mean``, ``last_linear.weight``,
``last_bn.*``), so that such a file loads with :func:`load_weights`. Weights are never fetched
here: they come from a user-supplied file or the download cache (``$GANATLAS_CACHE``), see
:func:`find_weights`. A classifier head (``logits.*``) in the file is ignored.

Input normalisation (``fixed_image_standardization``): ``(rgb - 127.5) / 128``.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from ganatlas.networks.persistence import safe_torch_load

#: Embedding size, input side (pixels) and the file name the download cache is searched for.
EMBED_DIM = 512
INPUT_SIZE = 160
WEIGHTS_NAME = "20180402-114759-vggface2.pt"


class BasicConv2d(nn.Sequential):
    """conv (no bias) -> batch norm (eps 1e-3) -> ReLU."""

    def __init__(self, cin: int, cout: int, kernel, stride=1, padding=0) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, stride=stride, padding=padding, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=0.001, momentum=0.1)
        self.relu = nn.ReLU(inplace=False)


def _chain(*layers: nn.Module) -> nn.Sequential:
    return nn.Sequential(*layers)


class Block35(nn.Module):
    """Inception-ResNet-A (35x35 grid, 256 channels): three branches, 1x1 up-projection, residual."""

    def __init__(self, scale: float = 1.0) -> None:
        super().__init__()
        self.scale = scale
        self.branch0 = BasicConv2d(256, 32, 1)
        self.branch1 = _chain(BasicConv2d(256, 32, 1), BasicConv2d(32, 32, 3, padding=1))
        self.branch2 = _chain(
            BasicConv2d(256, 32, 1),
            BasicConv2d(32, 32, 3, padding=1),
            BasicConv2d(32, 32, 3, padding=1),
        )
        self.conv2d = nn.Conv2d(96, 256, 1)
        self.relu = nn.ReLU(inplace=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mixed = torch.cat([self.branch0(x), self.branch1(x), self.branch2(x)], 1)
        return self.relu(x + self.scale * self.conv2d(mixed))


class Block17(nn.Module):
    """Inception-ResNet-B (17x17 grid, 896 channels): 1x7 / 7x1 factorised branch."""

    def __init__(self, scale: float = 1.0) -> None:
        super().__init__()
        self.scale = scale
        self.branch0 = BasicConv2d(896, 128, 1)
        self.branch1 = _chain(
            BasicConv2d(896, 128, 1),
            BasicConv2d(128, 128, (1, 7), padding=(0, 3)),
            BasicConv2d(128, 128, (7, 1), padding=(3, 0)),
        )
        self.conv2d = nn.Conv2d(256, 896, 1)
        self.relu = nn.ReLU(inplace=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mixed = torch.cat([self.branch0(x), self.branch1(x)], 1)
        return self.relu(x + self.scale * self.conv2d(mixed))


class Block8(nn.Module):
    """Inception-ResNet-C (8x8 grid, 1792 channels): 1x3 / 3x1 branch; optional final ReLU."""

    def __init__(self, scale: float = 1.0, relu: bool = True) -> None:
        super().__init__()
        self.scale = scale
        self.branch0 = BasicConv2d(1792, 192, 1)
        self.branch1 = _chain(
            BasicConv2d(1792, 192, 1),
            BasicConv2d(192, 192, (1, 3), padding=(0, 1)),
            BasicConv2d(192, 192, (3, 1), padding=(1, 0)),
        )
        self.conv2d = nn.Conv2d(384, 1792, 1)
        self.relu = nn.ReLU(inplace=False) if relu else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x + self.scale * self.conv2d(torch.cat([self.branch0(x), self.branch1(x)], 1))
        return self.relu(out) if self.relu is not None else out


class Mixed6a(nn.Module):
    """Reduction-A: 256 -> 896 channels (384 + 256 + 256 max-pooled), stride 2."""

    def __init__(self) -> None:
        super().__init__()
        self.branch0 = BasicConv2d(256, 384, 3, stride=2)
        self.branch1 = _chain(
            BasicConv2d(256, 192, 1),
            BasicConv2d(192, 192, 3, padding=1),
            BasicConv2d(192, 256, 3, stride=2),
        )
        self.branch2 = nn.MaxPool2d(3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.branch0(x), self.branch1(x), self.branch2(x)], 1)


class Mixed7a(nn.Module):
    """Reduction-B: 896 -> 1792 channels (384 + 256 + 256 + 896 max-pooled), stride 2."""

    def __init__(self) -> None:
        super().__init__()
        self.branch0 = _chain(BasicConv2d(896, 256, 1), BasicConv2d(256, 384, 3, stride=2))
        self.branch1 = _chain(BasicConv2d(896, 256, 1), BasicConv2d(256, 256, 3, stride=2))
        self.branch2 = _chain(
            BasicConv2d(896, 256, 1),
            BasicConv2d(256, 256, 3, padding=1),
            BasicConv2d(256, 256, 3, stride=2),
        )
        self.branch3 = nn.MaxPool2d(3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        parts = [self.branch0(x), self.branch1(x), self.branch2(x), self.branch3(x)]
        return torch.cat(parts, 1)


class InceptionResnetV1(nn.Module):
    """x: [N, 3, 160, 160] standardised RGB -> [N, 512] L2-normalised embeddings (eval mode)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv2d_1a = BasicConv2d(3, 32, 3, stride=2)
        self.conv2d_2a = BasicConv2d(32, 32, 3)
        self.conv2d_2b = BasicConv2d(32, 64, 3, padding=1)
        self.maxpool_3a = nn.MaxPool2d(3, stride=2)
        self.conv2d_3b = BasicConv2d(64, 80, 1)
        self.conv2d_4a = BasicConv2d(80, 192, 3)
        self.conv2d_4b = BasicConv2d(192, 256, 3, stride=2)
        self.repeat_1 = nn.Sequential(*[Block35(0.17) for _ in range(5)])
        self.mixed_6a = Mixed6a()
        self.repeat_2 = nn.Sequential(*[Block17(0.10) for _ in range(10)])
        self.mixed_7a = Mixed7a()
        self.repeat_3 = nn.Sequential(*[Block8(0.20) for _ in range(5)])
        self.block8 = Block8(relu=False)
        self.avgpool_1a = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(0.6)
        self.last_linear = nn.Linear(1792, EMBED_DIM, bias=False)
        self.last_bn = nn.BatchNorm1d(EMBED_DIM, eps=0.001, momentum=0.1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for name in ("conv2d_1a", "conv2d_2a", "conv2d_2b", "maxpool_3a", "conv2d_3b"):
            x = getattr(self, name)(x)
        for name in ("conv2d_4a", "conv2d_4b", "repeat_1", "mixed_6a", "repeat_2"):
            x = getattr(self, name)(x)
        x = self.block8(self.repeat_3(self.mixed_7a(x)))
        x = self.dropout(self.avgpool_1a(x).flatten(1))
        x = self.last_bn(self.last_linear(x))
        return nn.functional.normalize(x, p=2, dim=1)


def standardize(rgb_uint8: torch.Tensor) -> torch.Tensor:
    """[N, 3, H, W] uint8/float RGB in 0..255 -> FaceNet's input scale ``(x - 127.5) / 128``."""
    return (rgb_uint8.float() - 127.5) / 128.0


def find_weights(weights: str | Path | None, cache_dir: str | Path | None = None) -> Path:
    """The weights file: ``weights`` when given, else ``<cache>/facenet/<WEIGHTS_NAME>``.

    Raises FileNotFoundError naming the key (``embedder.weights``) and where the file may go.
    Nothing is downloaded.
    """
    if weights is not None:
        path = Path(str(weights)).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"embedder.weights: FaceNet weights file not found: {path}")
        return path
    from ganatlas.networks.download import default_cache_dir

    cache = Path(str(cache_dir)).expanduser() if cache_dir else default_cache_dir()
    path = cache / "facenet" / WEIGHTS_NAME
    if not path.is_file():
        raise FileNotFoundError(
            f"embedder.weights: no FaceNet weights given and none in the download cache at "
            f"{path}; set embedder.weights to a state-dict file of InceptionResnetV1 "
            f"(VGGFace2, {WEIGHTS_NAME}) or put it there. Nothing is downloaded."
        )
    return path


def load_weights(model: InceptionResnetV1, path: str | Path) -> InceptionResnetV1:
    """Load a state dict (``torch.load(weights_only=True)``), ignoring a ``logits.*`` head.

    Missing or unexpected keys (other than the head) or wrong shapes raise ValueError naming them.
    """
    state = safe_torch_load(path)
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise ValueError(f"embedder.weights: {path} is not a state dict")
    state = {k: v for k, v in state.items() if not k.startswith("logits.")}
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    extra = sorted(set(state) - set(own))
    shapes = [k for k in own if k in state and tuple(state[k].shape) != tuple(own[k].shape)]
    if missing or extra or shapes:
        raise ValueError(
            f"embedder.weights: {path} does not fit InceptionResnetV1: missing {missing[:5]}, "
            f"unexpected {extra[:5]}, wrong shapes {shapes[:5]}"
        )
    model.load_state_dict(state)
    return model

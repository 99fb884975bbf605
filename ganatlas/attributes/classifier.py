"""A generic classifier scorer built from config: an ONNX or TorchScript model on face crops.

Config keys (all but ``name`` and ``model`` optional)::

    name: eyeglasses            # score column
    model: models/glasses.onnx  # .onnx (onnxruntime) or .pt/.pth TorchScript (torch.jit.load)
    input_size: 224             # int or [width, height]
    channels: rgb               # rgb | bgr | gray (gray = 0.2989 R + 0.5870 G + 0.1140 B)
    layout: nchw                # nchw | nhwc
    mean: [0.485, 0.456, 0.406] # subtracted after scaling pixels by `scale`
    std: [0.229, 0.224, 0.225]  # divided after the mean
    scale: 0.00392156862745098  # pixel multiplier applied first (default 1/255)
    crop: {box_scale: 1.0, square: true}   # detector box enlarged about its centre
    output_index: 0             # which column of the [N, K] output (after the activation)
    activation: none            # none | sigmoid | softmax (over the K outputs)
    label: wearing eyeglasses   # free text recorded in docs/metadata
    output: 0                   # which model output (index or name) when it has several

Input = ((pixels * scale) - mean) / std, as float32 ``[N, C, H, W]`` or ``[N, H, W, C]``.
The score of a face is ``activation(output)[0, output_index]``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ganatlas.attributes.base import crop_face, onnx_session, require_file
from ganatlas.faces.types import Face

CHANNELS = ("rgb", "bgr", "gray")
LAYOUTS = ("nchw", "nhwc")
ACTIVATIONS = ("none", "sigmoid", "softmax")
CROP_KEYS = ("box_scale", "square")


def activate(x: np.ndarray, activation: str) -> np.ndarray:
    """x: [N, K] -> [N, K] after none | sigmoid | softmax (over K)."""
    x = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
    if activation == "sigmoid":
        return 1.0 / (1.0 + np.exp(-x))
    if activation == "softmax":
        e = np.exp(x - x.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)
    return x


def _check_choice(key: str, value: str, allowed: Sequence[str], who: str) -> None:
    if value not in allowed:
        raise ValueError(f"{who}: {key} must be one of {list(allowed)}, got {value!r}")


@dataclass
class ClassifierScorer:
    """One score column ``name`` from a user model; see the module docstring for the keys."""

    name: str
    model: str | Path
    input_size: int | Sequence[int] = 224
    channels: str = "rgb"
    layout: str = "nchw"
    mean: float | Sequence[float] = 0.0
    std: float | Sequence[float] = 1.0
    scale: float = 1.0 / 255.0
    crop: dict = field(default_factory=dict)
    output_index: int = 0
    activation: str = "none"
    label: str = ""
    output: int | str = 0
    providers: Any = None
    outputs: list[str] = field(init=False)

    def __post_init__(self) -> None:
        who = f"classifier scorer {self.name!r}"
        _check_choice("channels", self.channels, CHANNELS, who)
        _check_choice("layout", self.layout, LAYOUTS, who)
        _check_choice("activation", self.activation, ACTIVATIONS, who)
        bad = sorted(set(self.crop) - set(CROP_KEYS))
        if bad:
            raise ValueError(f"{who}: unknown crop keys {bad}; allowed {list(CROP_KEYS)}")
        size = self.input_size
        self._size = (int(size), int(size)) if np.isscalar(size) else tuple(int(v) for v in size)
        if len(self._size) != 2 or min(self._size) < 1:
            raise ValueError(f"{who}: input_size must be an int or [width, height], got {size!r}")
        n_ch = 1 if self.channels == "gray" else 3
        self._mean = np.broadcast_to(np.asarray(self.mean, np.float64), (n_ch,))
        self._std = np.broadcast_to(np.asarray(self.std, np.float64), (n_ch,))
        if np.any(self._std == 0):
            raise ValueError(f"{who}: std must be non-zero, got {self.std!r}")
        path = require_file(self.model, who, "model")
        self._run = self._load(path, who)
        self.outputs = [self.name]

    def _load(self, path: Path, who: str):
        suffix = path.suffix.lower()
        if suffix == ".onnx":
            sess = onnx_session(path, self.providers)
            inp = sess.get_inputs()[0].name
            outs = [o.name for o in sess.get_outputs()]
            if isinstance(self.output, str):
                if self.output not in outs:
                    raise ValueError(f"{who}: output {self.output!r} not in the model's {outs}")
                oname = self.output
            else:
                if not 0 <= int(self.output) < len(outs):
                    raise ValueError(f"{who}: output {self.output} out of range; outputs {outs}")
                oname = outs[int(self.output)]
            return lambda x: sess.run([oname], {inp: x})[0]
        if suffix in (".pt", ".pth", ".ts", ".torchscript"):
            import torch

            mod = torch.jit.load(str(path), map_location="cpu").eval()

            def run(x: np.ndarray) -> np.ndarray:
                with torch.no_grad():
                    y = mod(torch.from_numpy(x))
                if isinstance(y, (tuple, list)):
                    y = y[int(self.output)]
                elif isinstance(y, dict):
                    y = y[self.output]
                return y.detach().cpu().numpy()

            return run
        raise ValueError(
            f"{who}: model {path} has suffix {suffix!r}; allowed .onnx, .pt, .pth, .ts, "
            f".torchscript (TorchScript)"
        )

    def preprocess(self, img_bgr: np.ndarray, bbox: np.ndarray) -> np.ndarray:
        """One face -> float32 [1, C, H, W] or [1, H, W, C] as the config says."""
        crop = crop_face(
            img_bgr,
            bbox,
            self._size,
            box_scale=float(self.crop.get("box_scale", 1.0)),
            square=bool(self.crop.get("square", True)),
        ).astype(np.float64)
        if self.channels == "rgb":
            crop = crop[..., ::-1]
        elif self.channels == "gray":
            crop = (crop[..., ::-1] @ np.array([0.2989, 0.5870, 0.1140]))[..., None]
        x = (crop * self.scale - self._mean) / self._std
        if self.layout == "nchw":
            x = x.transpose(2, 0, 1)
        return np.ascontiguousarray(x[None], dtype=np.float32)

    def score(
        self, images: Sequence[np.ndarray], faces: Sequence[Face | None]
    ) -> dict[str, np.ndarray]:
        """-> {name: [N] float64}, NaN without face."""
        out = np.full(len(faces), np.nan)
        for i, (img, f) in enumerate(zip(images, faces, strict=True)):
            if f is None:
                continue
            y = activate(self._run(self.preprocess(img, f.bbox)), self.activation)
            if not 0 <= self.output_index < y.shape[1]:
                raise ValueError(
                    f"classifier scorer {self.name!r}: output_index {self.output_index} outside "
                    f"the model's {y.shape[1]} outputs"
                )
            out[i] = y[0, self.output_index]
        return {self.name: out}

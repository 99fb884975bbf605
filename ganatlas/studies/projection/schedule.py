"""NVIDIA's projector schedule: the learning rate and the scale of the noise added to w, per step.

With ``t = step / num_steps``:

- learning rate ``lr(t) = lr0 * min(1, t / rampup) * (0.5 - 0.5 cos(pi * min(1, (1 - t) / rampdown)))``:
  a linear ramp-up over the first ``rampup`` fraction of the steps and a cosine ramp-down over
  the last ``rampdown`` fraction (defaults 0.05 and 0.25, ``lr0 = 0.1``);
- noise scale ``sigma_w * noise_factor * max(0, 1 - t / noise_ramp) ** 2``: Gaussian noise on w
  that decays to 0 over the first ``noise_ramp`` fraction (defaults 0.05 and 0.75), where
  ``sigma_w`` is the root mean squared distance of mapped samples from ``w_avg``.
"""

from __future__ import annotations

import math


def learning_rate(
    step: int, num_steps: int, lr: float = 0.1, rampup: float = 0.05, rampdown: float = 0.25
) -> float:
    """The learning rate at ``step`` (0-based) of ``num_steps``."""
    t = step / num_steps
    down = min(1.0, (1.0 - t) / rampdown) if rampdown > 0 else 1.0
    ramp = 0.5 - 0.5 * math.cos(down * math.pi)
    up = min(1.0, t / rampup) if rampup > 0 else 1.0
    return lr * ramp * up


def noise_scale(
    step: int, num_steps: int, sigma_w: float, noise_factor: float = 0.05, noise_ramp: float = 0.75
) -> float:
    """Standard deviation of the Gaussian noise added to w at ``step`` (0 from ``noise_ramp`` on)."""
    t = step / num_steps
    if noise_ramp <= 0:
        return 0.0
    return sigma_w * noise_factor * max(0.0, 1.0 - t / noise_ramp) ** 2

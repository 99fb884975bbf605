"""NVIDIA's projector schedule at the steps the issue names (0, 5 %, 75 %, 100 %) and between."""

import math

import pytest

from ganatlas.studies.projection.schedule import learning_rate, noise_scale


def nvidia_lr(t: float, lr0=0.1, rampdown=0.25, rampup=0.05) -> float:
    ramp = min(1.0, (1.0 - t) / rampdown)
    ramp = 0.5 - 0.5 * math.cos(ramp * math.pi)
    return lr0 * ramp * min(1.0, t / rampup)


@pytest.mark.parametrize(
    ("step", "expected"),
    [(0, 0.0), (25, 0.05), (50, 0.1), (500, 0.1), (750, 0.1), (875, 0.05), (1000, 0.0)],
)
def test_learning_rate_at_landmark_steps(step, expected):
    assert learning_rate(step, 1000) == pytest.approx(expected, abs=1e-12)


def test_learning_rate_follows_the_formula_everywhere():
    for step in range(0, 1001, 7):
        assert learning_rate(step, 1000) == pytest.approx(nvidia_lr(step / 1000), abs=1e-12)
    # ramp-up is linear, ramp-down a half cosine
    assert learning_rate(10, 1000) == pytest.approx(0.1 * 10 / 50)
    assert learning_rate(800, 1000) == pytest.approx(0.1 * (0.5 - 0.5 * math.cos(0.8 * math.pi)))
    assert learning_rate(3, 10, lr=0.2, rampup=0.5, rampdown=0.5) == pytest.approx(0.2 * 0.6 * 1.0)


@pytest.mark.parametrize(("step", "factor"), [(0, 1.0), (50, (1 - 0.05 / 0.75) ** 2),
                                              (375, 0.25), (750, 0.0), (1000, 0.0)])  # fmt: skip
def test_noise_scale_decays_quadratically_to_zero_at_75_percent(step, factor):
    assert noise_scale(step, 1000, sigma_w=20.0) == pytest.approx(20.0 * 0.05 * factor, abs=1e-12)


def test_noise_scale_without_ramp_is_zero():
    assert noise_scale(0, 10, 1.0, noise_ramp=0.0) == 0.0

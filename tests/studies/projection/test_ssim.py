"""SSIM against scikit-image, MS-SSIM's properties and PSNR against its formula."""

import numpy as np
import pytest
import torch

from ganatlas.studies.projection.ssim import MS_WEIGHTS, ms_ssim, ms_ssim_levels, psnr, ssim


def _pair(seed: int, size: int = 64, noise: float = 0.2):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, (1, 3, size, size)).astype(np.float32)
    x = torch.nn.functional.avg_pool2d(torch.from_numpy(x), 3, 1, 1)  # some structure
    y = (x + noise * torch.randn(x.shape, generator=torch.Generator().manual_seed(seed))).clamp(
        -1, 1
    )
    return x, y


@pytest.mark.parametrize("seed", [0, 1])
def test_ssim_matches_skimage(seed):
    skm = pytest.importorskip("skimage.metrics")
    x, y = _pair(seed)
    ref = np.mean([
        skm.structural_similarity(x[0, c].numpy(), y[0, c].numpy(), data_range=2.0,
                                  gaussian_weights=True, sigma=1.5, use_sample_covariance=False)
        for c in range(3)
    ])  # fmt: skip
    assert float(ssim(x, y)[0]) == pytest.approx(ref, abs=1e-5)


def test_ms_ssim_properties():
    x, y = _pair(0, size=192)
    assert ms_ssim_levels(192) == 5 and ms_ssim_levels(64) == 3 and ms_ssim_levels(16) == 1
    assert float(ms_ssim(x, x)[0]) == pytest.approx(1.0, abs=1e-6)
    a, b = float(ms_ssim(x, y)[0]), float(ms_ssim(y, x)[0])
    assert a == pytest.approx(b, abs=1e-6) and 0 < a < 1  # symmetric, below 1 for a change
    _, y_more = _pair(0, size=192, noise=0.5)
    assert float(ms_ssim(x, y_more)[0]) < a  # more noise, lower score
    # one level = the SSIM itself
    small_x, small_y = x[..., :16, :16], y[..., :16, :16]
    assert float(ms_ssim(small_x, small_y)[0]) == pytest.approx(
        float(ssim(small_x, small_y)[0]), abs=1e-6
    )


def test_ms_ssim_combines_levels_with_the_published_weights():
    from ganatlas.studies.projection.ssim import gaussian_window, ssim_terms

    x, y = _pair(3, size=176)  # 176 // 16 = 11: exactly five levels
    win = gaussian_window()
    # per channel product, then the channel mean (what ms_ssim computes)
    per_c = torch.ones(3)
    xs, ys = x, y
    for level, wgt in enumerate(MS_WEIGHTS):
        s, cs = ssim_terms(xs, ys, 2.0, win)
        per_c = per_c * (s if level == 4 else cs)[0].clamp(min=0) ** wgt
        xs, ys = torch.nn.functional.avg_pool2d(xs, 2), torch.nn.functional.avg_pool2d(ys, 2)
    assert float(ms_ssim(x, y)[0]) == pytest.approx(float(per_c.mean()), abs=1e-6)


def test_ms_ssim_is_differentiable():
    x, y = _pair(1, size=32)
    x = x.clone().requires_grad_(True)
    (1 - ms_ssim(x, y).mean()).backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_psnr_formula_and_bad_inputs():
    x = torch.zeros(1, 3, 16, 16)
    y = x + 0.1
    assert float(psnr(x, y)[0]) == pytest.approx(10 * np.log10(4 / 0.01), abs=1e-4)
    with pytest.raises(ValueError, match="smaller than the 11-tap window"):
        ssim(torch.zeros(1, 3, 8, 8), torch.zeros(1, 3, 8, 8))
    with pytest.raises(ValueError, match="one shape"):
        ms_ssim(torch.zeros(1, 3, 16, 16), torch.zeros(1, 3, 32, 32))


@pytest.mark.parametrize("seed", [0])
def test_ssim_on_an_image_the_size_of_the_window(seed):
    """11 x 11 px is the smallest image: one window position, as scikit-image computes it;
    10 x 10 is refused."""
    skm = pytest.importorskip("skimage.metrics")
    x, y = _pair(seed, size=11)
    ref = np.mean([
        skm.structural_similarity(x[0, c].numpy(), y[0, c].numpy(), data_range=2.0,
                                  gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                  win_size=11)
        for c in range(3)
    ])  # fmt: skip
    assert float(ssim(x, y)[0]) == pytest.approx(ref, abs=1e-5)
    with pytest.raises(ValueError, match=r"\(10, 10\) px are smaller than the 11-tap window"):
        ssim(x[..., :10, :10], y[..., :10, :10])

"""Separable resampling passes (ganatlas.networks.resample): the upfirdn matrix, band plans and
the shared-block product against dense and direct computations."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ganatlas.networks.resample import apply_band, band_plan, padded_rows, resample_matrix


def test_resample_matrix_equals_direct_upfirdn() -> None:
    """The matrix form of 1-D upfirdn equals zero insertion, padding, convolution, decimation."""
    rng = np.random.default_rng(5)
    f = rng.standard_normal(7)
    x = rng.standard_normal(11)
    for up, down, p0, p1 in [(2, 1, 4, 3), (3, 2, -2, 5), (1, 2, 0, 0), (4, 1, -6, -9)]:
        u = np.zeros(len(x) * up)
        u[::up] = x
        u = np.pad(u, (max(p0, 0), max(p1, 0)))
        u = u[max(-p0, 0) : len(u) - max(-p1, 0)]
        want = np.convolve(u, f, mode="valid")[::down] * 1.5
        m = resample_matrix(torch.from_numpy(f), len(x), up, down, p0, p1, gain=1.5)
        np.testing.assert_allclose(x @ m.numpy(), want, atol=1e-12)


@pytest.mark.parametrize("rows", [1, 3, 8, 1000])
def test_shared_block_product_equals_dense_product(rows: int) -> None:
    """Blocks of one shared matrix on overlapping windows equal the dense upfirdn matrix."""
    f = torch.from_numpy(np.random.default_rng(1).standard_normal(12))
    cases = [(2, 1, 9, 8), (1, 2, 0, 0), (4, 1, -6, -9), (3, 2, -2, 5), (2, 1, -11, -12)]
    for up, down, p0, p1 in cases:
        m = resample_matrix(f, 30, up, down, p0, p1, gain=1.5)  # [n_in, n_out]
        x = torch.randn(3, 30, 7, dtype=torch.float64)
        plan = band_plan(f, 30, up, down, p0, p1, gain=1.5, rows=rows, dtype=torch.float64)
        got = apply_band(plan, padded_rows(plan, x))
        assert got.shape[1] >= m.shape[1] and plan.n_out == m.shape[1]
        want = torch.einsum("bjf,jm->bmf", x, m)
        torch.testing.assert_close(got[:, : plan.n_out], want, rtol=0, atol=1e-12)


def test_band_plan_rejects_wrong_rows_and_2d_filters() -> None:
    plan = band_plan(torch.ones(4), 10, up=2, pad0=2, pad1=1)
    with pytest.raises(ValueError, match="plan is for 10 rows, got 9"):
        padded_rows(plan, torch.zeros(1, 9, 3))
    with pytest.raises(ValueError, match="1-D filter"):
        band_plan(torch.ones(3, 3), 10)

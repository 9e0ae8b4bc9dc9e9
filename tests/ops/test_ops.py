"""Kernels and MMD estimators against the Gaussian closed form."""

import pytest
import torch

from pyrovae.ops import (
    gaussian_rbf_mmd2,
    imq_kernel,
    logmeanexp,
    mmd2,
    multiscale_kernel,
    rbf_kernel,
)
from pyrovae.ops.kernels import rbf_denominator, resolve_kernel


def test_rbf_conventions():
    x = torch.tensor([[0.0, 0.0, 0.0]])
    y = torch.tensor([[1.0, 1.0, 1.0]])  # squared distance 3, d = 3
    assert rbf_kernel(x, y, "dim").item() == pytest.approx(torch.exp(torch.tensor(-3 / 6)).item())
    assert rbf_kernel(x, y, "infovae").item() == pytest.approx(
        torch.exp(torch.tensor(-3 / 9)).item()
    )
    assert rbf_kernel(x, y, 2.0).item() == pytest.approx(torch.exp(torch.tensor(-3 / 8)).item())


@pytest.mark.parametrize("kernel", ["rbf", "imq", "multiscale"])
def test_kernels_are_symmetric_psd(kernel):
    x = torch.randn(30, 4, dtype=torch.float64)
    gram = resolve_kernel(kernel)(x, x)
    assert torch.allclose(gram, gram.T)
    assert torch.linalg.eigvalsh(gram).min() > -1e-8


def test_bad_kernel_options():
    with pytest.raises(ValueError, match="bandwidth"):
        resolve_kernel("rbf", "wide")
    with pytest.raises(ValueError, match="positive"):
        rbf_denominator(-1.0, 2)
    with pytest.raises(ValueError, match="unknown kernel"):
        resolve_kernel("laplace")
    with pytest.raises(ValueError, match="two samples"):
        mmd2(torch.randn(1, 2), torch.randn(5, 2))


def test_imq_and_multiscale_values():
    x, y = torch.zeros(1, 2), torch.ones(1, 2)  # squared distance 2, C = 4
    assert imq_kernel(x, y).item() == pytest.approx(4 / 6)
    assert multiscale_kernel(x, x).item() == pytest.approx(7.0)


def test_logmeanexp():
    x = torch.tensor([[0.0, 1000.0], [0.0, 1000.0]])
    assert torch.allclose(logmeanexp(x, 0), torch.tensor([0.0, 1000.0]))


@pytest.mark.parametrize("bandwidth", ["dim", "infovae", 0.7])
def test_mmd_estimator_matches_gaussian_closed_form(bandwidth):
    """Oracle: MMD² between N(0, I) and N(m, S) under an RBF kernel has a closed form.

    With 4000 samples each the U-statistic's standard deviation is about 1e-3 here; tolerance 5e-3.
    """
    torch.manual_seed(0)
    d = 3
    mean_q = torch.tensor([0.5, -0.3, 0.0], dtype=torch.float64)
    cov_q = torch.diag(torch.tensor([0.5, 1.5, 1.0], dtype=torch.float64))
    c = rbf_denominator(bandwidth, d)
    exact = gaussian_rbf_mmd2(
        torch.zeros(d, dtype=torch.float64), torch.eye(d, dtype=torch.float64), mean_q, cov_q, c
    ).item()
    p = torch.randn(4000, d, dtype=torch.float64)
    q = mean_q + torch.randn(4000, d, dtype=torch.float64) * cov_q.diagonal().sqrt()
    est = mmd2(p, q, lambda a, b: rbf_kernel(a, b, bandwidth)).item()
    assert exact > 0.01
    assert est == pytest.approx(exact, abs=5e-3)


def test_mmd_unbiased_is_centred_under_null_and_biased_is_not():
    torch.manual_seed(1)
    unbiased = [mmd2(torch.randn(50, 2), torch.randn(50, 2)).item() for _ in range(200)]
    biased = [
        mmd2(torch.randn(50, 2), torch.randn(50, 2), unbiased=False).item() for _ in range(200)
    ]
    mean_u = sum(unbiased) / 200
    assert abs(mean_u) < 3e-3  # sd of the mean is about 1e-3
    assert min(biased) > 0 and sum(biased) / 200 > 10 * abs(mean_u)


def test_closed_form_is_zero_for_identical_gaussians():
    m, s = torch.randn(2, dtype=torch.float64), torch.eye(2, dtype=torch.float64) * 2
    assert gaussian_rbf_mmd2(m, s, m, s, 4.0).item() == pytest.approx(0.0, abs=1e-12)

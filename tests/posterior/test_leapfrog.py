"""pyrovae.posterior.leapfrog: the one integrator and Metropolis step of ais and hmc."""

import math

import torch

from pyrovae.posterior.leapfrog import leapfrog, metropolis


def gaussian(u):
    """log N(u; 0, I) up to a constant, its gradient, and an extra carried value (−|u|²)."""
    return -0.5 * u.pow(2).sum(-1), -u, -u.pow(2).sum(-1)


def _start(seed=0, chains=3, batch=4, dim=2):
    gen = torch.Generator().manual_seed(seed)
    u = torch.randn(chains, batch, dim, generator=gen, dtype=torch.float64)
    p = torch.randn(chains, batch, dim, generator=gen, dtype=torch.float64)
    return u, p


def test_leapfrog_is_reversible_and_carries_the_density_at_the_end():
    u, p = _start()
    eps = torch.tensor([0.1, 0.2, 0.3, 0.05], dtype=torch.float64)
    steps = torch.tensor([1.0, 3.0, 5.0, 2.0], dtype=torch.float64)
    u1, p1, at = leapfrog(gaussian, u, p, gaussian(u), eps, steps)
    for value, exact in zip(at, gaussian(u1), strict=True):
        torch.testing.assert_close(value, exact)
    u0, p0, _ = leapfrog(gaussian, u1, -p1, at, eps, steps)  # back along the same path
    torch.testing.assert_close(u0, u)
    torch.testing.assert_close(-p0, p)


def test_each_point_takes_its_own_number_of_steps():
    """A point with L = 2 ends where two steps of the same ε end, whatever the others take."""
    u, p = _start()
    eps = torch.full((4,), 0.2, dtype=torch.float64)
    mixed = torch.tensor([2.0, 7.0, 2.0, 4.0], dtype=torch.float64)
    u_mixed, p_mixed, _ = leapfrog(gaussian, u, p, gaussian(u), eps, mixed)
    u_two, p_two, _ = leapfrog(gaussian, u, p, gaussian(u), eps, torch.full_like(eps, 2.0))
    for b in (0, 2):
        torch.testing.assert_close(u_mixed[:, b], u_two[:, b])
        torch.testing.assert_close(p_mixed[:, b], p_two[:, b])


def test_energy_error_shrinks_as_the_step_squared():
    u, p = _start()
    errors = []
    for eps in (0.2, 0.1):
        n = int(round(1.0 / eps))
        step = torch.full((4,), eps, dtype=torch.float64)
        u1, p1, at = leapfrog(gaussian, u, p, gaussian(u), step, torch.full_like(step, n))
        h0 = 0.5 * u.pow(2).sum(-1) + 0.5 * p.pow(2).sum(-1)
        h1 = -at[0] + 0.5 * p1.pow(2).sum(-1)
        errors.append((h1 - h0).abs().max().item())
    assert 3.0 < errors[0] / errors[1] < 5.0, errors  # second order: halving ε quarters it


def test_metropolis_rejects_divergent_proposals_and_leaves_a_zero_density_start():
    p = torch.zeros(1, 3, 1)
    log_f0 = torch.tensor([[0.0, -math.inf, 0.0]])
    log_f1 = torch.tensor([[math.nan, -1.0, -2000.0]])
    position1 = torch.tensor([[[0.0], [0.0], [0.0]]])
    accept_prob, accept, divergent = metropolis(log_f0, p, log_f1, p, position1, 1000.0)
    assert divergent.tolist() == [[True, False, True]]  # NaN energy; energy error > 1000
    assert accept_prob.tolist() == [[0.0, 1.0, 0.0]]
    assert accept.tolist() == [[False, True, False]]

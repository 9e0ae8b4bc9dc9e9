r"""Many posteriors at once: HMC chains for every data point in one tensor program, each point
with its own step size and metric.

One NUTS sampler over the (B, D) block of a minibatch (:func:`pyrovae.posterior.nuts`) shares
one step size and one tree depth among all points, so a varied batch moves at the pace of its
hardest posterior. Here the chains of all points (C chains × B points) advance together, but
every point adapts its own:

* **metric**: the latents are sampled in whitened coordinates u with z = m_b + s_b ⊙ u. The map
  starts at the guide's per-point Normal (NeuTra with the encoder as the transport map, Hoffman
  et al. 2019) or at (0, 1) without a guide, and is re-estimated once from the point's own
  warm-up draws (mean and sd over chains and draws, as Stan's windowed diagonal adaptation);
* **step size**: per-point dual averaging toward ``target_accept`` (Hoffman & Gelman 2014, Alg. 5),
  restarted after the metric update;
* **trajectory length**: a fixed length τ in whitened units, jittered uniformly in [0.5τ, 1.5τ]
  at every iteration (as ChEES-HMC, Hoffman, Radul & Sountsov 2021, jitters it), so each point
  takes ⌈τ/ε_b⌉ leapfrog steps; points that are done wait (their state is frozen) while the
  others finish.

The decoder is fixed and the target is ∏_b p_θ(z_b|x_b) with the data plate's scale removed.
Transitions whose energy is not finite, or whose energy error exceeds ``max_energy_error``, are
divergent: rejected and counted per point. Returns ``arviz.InferenceData`` shaped like
:func:`nuts`'s: ``posterior[site]`` (chain, draw, data, ...), ``sample_stats`` with ``diverging``,
``acceptance_rate`` and ``lp`` (log p(x, z) of the draw) per (chain, draw, data).

HMC does not cross wide regions of low density, so a chain that ends warm-up in a minor mode
stays there (a *stranded* chain: R-hat flags the point, and :func:`posterior_comparison` says
that the chains disagree in mean log density). ``restart_stranded=True`` looks at every chain's
draws over the last quarter of warm-up, estimates the mass of the mode it samples
(:mod:`pyrovae.posterior.stranded`) and moves each chain whose mode holds less than
``stranded_mass_ratio`` of the heaviest chain's to the state of another chain of the same point,
before any draw is kept. Modes of comparable mass are left alone: restarting cannot make a run
mix between modes, only drop ones of negligible weight.
"""

import math

import arviz
import numpy as np
import pyro
import torch

from ..checks import check_count, check_probability, check_weight
from ..traces import adapt, hide_params, max_plate_nesting, particle_log_weights, prior_proposal
from ._checks import check_data_support, check_guide_draws, prepare_inputs
from ._vectorized import (
    flat_latents,
    latent_names,
    nan_to_minus_inf,
    refuse_discrete,
    site_log_joint,
    site_shapes,
    site_width,
    split_flat,
)
from .leapfrog import leapfrog, metropolis
from .stranded import chain_log_mass, restart_from_others, stranded
from .whitening import guide_affine

# what to use for a model that cannot broadcast over chains
_LOOP_FIX = "hmc(..., vectorize=False) (chains one after another, no particle dimension)"


class _Target:
    """log p(x, z) per (chain, point) at whitened flat u (C, B, D) and its gradient in u."""

    def __init__(self, model, x, num_chains, nesting, shapes, plate_name):
        self.model, self.x, self.num_chains = model, x, num_chains
        self.nesting, self.shapes, self.plate_name = nesting, shapes, plate_name
        self.loc = self.scale = None

    def z(self, u):
        return self.loc + self.scale * u

    def __call__(self, u):
        with torch.enable_grad():
            u = u.detach().requires_grad_(True)
            values = split_flat(self.z(u), self.shapes, self.num_chains)
            args = (self.num_chains, self.nesting, self.plate_name, "HMC")
            log_p = site_log_joint(self.model, self.x, values, *args)
            log_p = nan_to_minus_inf(log_p)
            (grad,) = torch.autograd.grad(log_p.sum(), u)
        return log_p.detach(), torch.nan_to_num(grad.detach(), nan=0.0, posinf=0.0, neginf=0.0)


class _DualAveraging:
    """Per-point step sizes by dual averaging (Hoffman & Gelman 2014, Alg. 5), vectorized."""

    def __init__(self, step_size, target, gamma=0.05, t0=10.0, kappa=0.75):
        self.mu = (10.0 * step_size).log()
        self.target, self.gamma, self.t0, self.kappa = target, gamma, t0, kappa
        self.h = torch.zeros_like(step_size)
        self.log_avg = torch.zeros_like(step_size)
        self.t = 0
        self.step_size = step_size

    def update(self, accept_prob):  # (B,)
        self.t += 1
        w = 1.0 / (self.t + self.t0)
        self.h = (1 - w) * self.h + w * (self.target - accept_prob)
        log_eps = self.mu - math.sqrt(self.t) / self.gamma * self.h
        eta = self.t ** (-self.kappa)
        self.log_avg = eta * log_eps + (1 - eta) * self.log_avg
        self.step_size = log_eps.exp()

    def final(self):
        return self.log_avg.exp()


def _transition(target, state, step_size, trajectory, max_leapfrog, max_energy_error):
    """One HMC transition for every (chain, point); per-point step size (B,) and the number of
    leapfrog steps ⌈trajectory / ε_b⌉ (capped); returns state, accept prob, accepted, divergent."""
    u, log_p, grad = state
    n_steps = (trajectory / step_size).ceil().clamp(1, max_leapfrog)  # (B,)
    p0 = torch.randn_like(u)
    u1, p1, (log_p1, g1) = leapfrog(target, u, p0, (log_p, grad), step_size, n_steps)
    accept_prob, accept, divergent = metropolis(log_p, p0, log_p1, p1, u1, max_energy_error)
    keep = accept.unsqueeze(-1)
    new = (
        torch.where(keep, u1, u),
        torch.where(accept, log_p1, log_p),
        torch.where(keep, g1, grad),
    )
    return new, accept_prob, accept, divergent


def _rewhiten(target, state, window):
    """Set the map to the window's per-point mean and sd of z (C·n draws), the variance
    regularized as Stan regularizes its metric (n/(n+5)·var + 10⁻³·5/(n+5), here in units of
    the old scale²); re-express the state in the new coordinates."""
    draws = torch.cat(window, 0)  # (n·C, B, D) of z
    n = draws.shape[0]
    var = draws.var(0)
    scale_old = target.scale.expand_as(var)
    var = (n / (n + 5.0)) * var + 1e-3 * (5.0 / (n + 5.0)) * scale_old.pow(2)
    z = target.z(state[0])
    target.loc, target.scale = draws.mean(0), var.sqrt()
    u = (z - target.loc) / target.scale
    log_p, grad = target(u)
    return u, log_p, grad


@torch.no_grad()
def hmc(
    model,
    x,
    num_samples=500,
    warmup_steps=500,
    num_chains=4,
    guide=None,
    seed=0,
    target_accept=0.8,
    trajectory_length=1.5,
    max_leapfrog=64,
    max_energy_error=1000.0,
    plate_name=None,
    progress=False,
    vectorize=True,
    restart_stranded=False,
    stranded_mass_ratio=1e-3,
):
    """Sample p_θ(z|x) for every point of ``x`` with C HMC chains per point, all in one tensor
    program, each point with its own metric and step size (see the module docstring).

    :param guide: a guide that is Normal per point: its (μ, σ) whiten the target from the first
        step, and chains start at u ~ N(0, 2²) in those coordinates (over-dispersed, so R-hat
        can see several modes). Default: start from prior draws with the identity map.
    :param num_chains: chains per data point (≥ 2 for R-hat).
    :param trajectory_length: τ, the integration time in whitened units (jittered ±50%).
    :param vectorize: ``False`` runs the chains one after another, each without a particle
        dimension (for models whose code cannot broadcast over one); each chain then adapts its
        own metric and step size from its own warm-up (as Stan does), ``step_size`` in the
        posterior's attrs is (chain, data).
    :param restart_stranded: at the end of warm-up, move every chain whose mode's estimated mass
        is below ``stranded_mass_ratio`` × the heaviest chain's (same point) to another chain's
        state (see the module docstring); which chains moved is in the posterior's attrs
        ``restarted`` (chain, data), 0 or 1. Needs ``vectorize=True``, ≥ 2 chains and
        ``warmup_steps`` ≥ 40 (the estimate uses the last quarter of warm-up).
    :returns: ``arviz.InferenceData`` as :func:`pyrovae.posterior.nuts` returns.
    """
    model, guide = adapt(model, plate_name), adapt(guide, plate_name)
    x = prepare_inputs(model, x, "hmc")
    check_data_support(model, x, "hmc")
    if guide is not None:
        check_guide_draws(guide, x, "hmc")
    num_samples = check_count("num_samples", num_samples)
    num_chains = check_count("num_chains", num_chains)
    max_leapfrog = check_count("max_leapfrog", max_leapfrog)
    warmup_steps = check_count("warmup_steps", warmup_steps, minimum=0)
    target_accept = check_probability("target_accept", target_accept)
    check_weight("trajectory_length", trajectory_length, strict=True)
    restart = _restart_option(
        restart_stranded, stranded_mass_ratio, vectorize, num_chains, warmup_steps
    )
    pyro.set_rng_seed(seed)
    options = (
        warmup_steps,
        target_accept,
        trajectory_length,
        max_leapfrog,
        max_energy_error,
        restart,
    )
    if vectorize or num_chains == 1:
        shapes, draws, stats = _chains(
            model, guide, x, num_samples, num_chains, options, plate_name, progress
        )
    else:
        runs = [
            _chains(model, guide, x, num_samples, 1, options, plate_name, progress)
            for _ in range(num_chains)
        ]
        shapes = {name: (num_chains, *shape[1:]) for name, shape in runs[0][0].items()}
        draws = torch.cat([r[1] for r in runs])
        per_draw = ("diverging", "acceptance_rate", "lp")
        stats = {k: torch.cat([r[2][k] for r in runs]) for k in per_draw}
        stats["step_size"] = torch.stack([r[2]["step_size"] for r in runs])  # (C, B)
    return _to_inference_data(shapes, num_chains, draws, stats, x.num_points)


def _restart_option(restart_stranded, mass_ratio, vectorize, num_chains, warmup_steps):
    """The mass ratio below which a chain is restarted, or None; refuses what cannot work."""
    if not restart_stranded:
        return None
    mass_ratio = check_probability("stranded_mass_ratio", mass_ratio)  # in (0, 1)
    if not vectorize or num_chains < 2:
        raise ValueError(
            "restart_stranded=True moves a chain to another chain's state, so it needs several "
            "chains run together: pass vectorize=True and num_chains >= 2"
        )
    if warmup_steps < 40:
        raise ValueError(
            f"restart_stranded=True estimates each chain's mode mass from the last quarter of "
            f"warm-up, which needs warmup_steps >= 40 (got {warmup_steps})"
        )
    return mass_ratio


def _chains(model, guide, x, num_samples, num_chains, options, plate_name, progress):
    """C chains per point in one tensor program: the site shapes, draws (C, S, B, D), stats."""
    fixed = hide_params(model)
    batch = x.num_points
    with pyro.validation_enabled(False):  # rejected divergent moves may visit invalid states
        proposal = prior_proposal(fixed)
        nesting = max_plate_nesting(fixed, proposal, args=x.args, kwargs=x.kwargs)
        _, model_trace, guide_trace = particle_log_weights(
            fixed, proposal, x, num_chains, nesting, plate_name, "hmc", _LOOP_FIX
        )
        names, pairs = latent_names(model_trace, guide_trace, None, plate_name)
        refuse_discrete(pairs, names, "hmc")
        z0 = flat_latents(pairs, names, num_chains, batch, plate_name)  # (C, B, D)
        shapes = site_shapes(pairs, names, num_chains, batch, "HMC")
        target = _Target(fixed, x, num_chains, nesting, shapes, plate_name)
        if guide is None:
            target.loc, target.scale = torch.zeros_like(z0[0]), torch.ones_like(z0[0])
            u0 = z0
        else:
            fix = "pass guide=None (hmc then starts from prior draws, unwhitened)"
            affine = guide_affine(model, guide, x, plate_name, fix)
            target.loc = torch.cat([affine[n][0].reshape(batch, -1) for n in names], -1).to(z0)
            target.scale = torch.cat([affine[n][1].reshape(batch, -1) for n in names], -1).to(z0)
            u0 = 2.0 * torch.randn_like(z0)
        state = (u0, *target(u0))
        draws, stats = _run(target, state, num_samples, *options, progress)
    if num_chains == 1:  # no particle plate: give the shapes their chain dimension
        shapes = {name: (1, *shape) for name, shape in shapes.items()}
    return shapes, draws, stats


def _run(
    target,
    state,
    num_samples,
    warmup,
    target_accept,
    trajectory,
    max_leapfrog,
    max_err,
    restart,
    progress,
):
    batch = state[0].shape[1]
    step = torch.full((batch,), 0.25 * trajectory, dtype=state[0].dtype, device=state[0].device)
    adapt = _DualAveraging(step, target_accept)
    window_start, window_end = warmup // 4, (3 * warmup) // 4
    window, draws, tail = [], [], []
    restarted = None
    stats = {"diverging": [], "acceptance_rate": [], "lp": []}
    iterations = range(warmup + num_samples)
    if progress:
        from tqdm.auto import tqdm

        iterations = tqdm(iterations, desc="HMC", leave=False)
    for t in iterations:
        warming = t < warmup
        eps = adapt.step_size if warming else adapt.final()
        jitter = 0.5 + torch.rand((), dtype=eps.dtype, device=eps.device)
        state, accept_prob, _, divergent = _transition(
            target, state, eps, trajectory * jitter, max_leapfrog, max_err
        )
        if warming:
            adapt.update(accept_prob.mean(0))
            if window_start <= t < window_end:
                window.append(target.z(state[0]))
            if t == window_end - 1 and len(window) >= 10:
                state = _rewhiten(target, state, window)
                adapt = _DualAveraging(adapt.final(), target_accept)
            if restart is not None and t >= window_end:
                tail.append((target.z(state[0]), state[1]))
            if restart is not None and t == warmup - 1:
                z_tail = torch.stack([z for z, _ in tail], 1)  # (C, n, B, D)
                lp_tail = torch.stack([lp for _, lp in tail], 1)  # (C, n, B)
                restarted = stranded(chain_log_mass(z_tail, lp_tail), restart)
                state = restart_from_others(state, restarted)
        else:
            draws.append(target.z(state[0]))
            stats["diverging"].append(divergent)
            stats["acceptance_rate"].append(accept_prob)
            stats["lp"].append(state[1])
    stats = {k: torch.stack(v, 1) for k, v in stats.items()}  # (C, S, B)
    stats["step_size"] = adapt.final()
    if restarted is not None:
        stats["restarted"] = restarted
    return torch.stack(draws, 1), stats  # (C, S, B, D)


def _to_inference_data(shapes, num_chains, draws, stats, batch):
    flat = draws.cpu().numpy()  # (C, S, B, D)
    posterior, dims, start = {}, {}, 0
    for name, shape in shapes.items():
        width = site_width(shape, num_chains, batch)
        posterior[name] = flat[..., start : start + width]
        dims[name] = ["data", f"{name}_dim"]
        start += width
    sample_stats = {
        "diverging": stats["diverging"].cpu().numpy(),
        "acceptance_rate": stats["acceptance_rate"].cpu().numpy(),
        "lp": stats["lp"].cpu().numpy(),
    }
    dims.update({k: ["data"] for k in sample_stats})
    with np.errstate(invalid="ignore"):
        idata = arviz.from_dict(
            posterior=posterior,
            sample_stats=sample_stats,
            coords={"data": np.arange(batch)},
            dims=dims,
        )
    idata.posterior.attrs["step_size"] = stats["step_size"].cpu().numpy().tolist()
    if "restarted" in stats:
        idata.posterior.attrs["restarted"] = stats["restarted"].int().cpu().numpy().tolist()
    return idata

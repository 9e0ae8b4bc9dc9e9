r"""Annealed importance sampling of log p_θ(x) with HMC transitions, vectorized over data points and
chains (Neal 2001; Wu, Burda, Salakhutdinov, Grosse 2017, "On the quantitative analysis of
decoder-based generative models").

Between the proposal r(z|x) (the prior, or a guide) and the posterior, the geometric path

.. math::
    \log f_t(z) = (1 - \beta_t)\log r(z|x) + \beta_t \log p_\theta(x, z),
    \qquad 0 = \beta_0 < \beta_1 < \dots < \beta_T = 1,

is followed by C chains per data point: :math:`z_0 \sim r`, then for t = 1..T the log-weight gains
:math:`(\beta_t - \beta_{t-1})[\log p(x, z_{t-1}) - \log r(z_{t-1}|x)]` and an HMC transition that
leaves :math:`f_t` invariant moves :math:`z_{t-1} \to z_t`. Each chain's weight is an unbiased
estimate of p(x), so :math:`\log\frac1C\sum_c w_c` is a stochastic lower bound of log p(x)
(:func:`ais`). Run from an exact posterior draw with the schedule reversed, the weights estimate
1/p(x) and give a stochastic upper bound (``reverse_from=``; :func:`bdmc`, Grosse, Ghahramani,
Adams 2015, "Sandwiching the marginal likelihood using bidirectional Monte Carlo").

All C·B chains are one tensor (C, B, D): one model and one proposal evaluation per leapfrog step,
with no Python loop over points or chains. HMC step sizes are per data point (shared by its
chains): after each transition ε ← ε · exp(adapt_rate · (a − target_accept)), a the acceptance
rate over the point's chains. Wu et al. 2017's code multiplies by 1.02 or 0.98; that cannot move
ε by more than 7× either way in 100 steps, too little for the narrow posteriors of a sharp
decoder (measured on a linear-Gaussian model with σ² = 10⁻⁴, 100 steps from the prior: BDMC gap
18217 nats with it, 274 with ``adapt_rate = 0.5``, the default at 100 steps). A
transition whose energy is NaN / inf is rejected and counted (``divergences``); it never enters a
weight.
"""

from dataclasses import dataclass

import pyro
import pyro.poutine as poutine
import torch

from ..checks import check_count, check_probability, check_weight
from ..traces import (
    adapt,
    hide_params,
    in_data_plate,
    max_plate_nesting,
    particle_log_weights,
    prior_proposal,
    unwrap,
)
from ._checks import (
    check_data_support,
    check_guide_draws,
    check_log_marginal,
    check_proposal_density,
    prepare_inputs,
)
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
from .importance import weight_statistics
from .leapfrog import leapfrog, metropolis

# what to use for a model that cannot broadcast over chains
_LOOP_FIX = "ais(..., vectorize=False) (chains one after another, no particle dimension)"

SCHEDULES = ("sigmoid", "linear")


def annealing_schedule(num_steps: int, schedule: str = "sigmoid", delta: float = 4.0):
    """β_0 = 0 < ... < β_T = 1 (float64, T + 1 values): ``"linear"``, or ``"sigmoid"`` (Grosse
    et al. 2015): :math:`\\sigma(\\delta(2t/T - 1))` rescaled to [0, 1], denser near both ends."""
    t = torch.linspace(0.0, 1.0, num_steps + 1, dtype=torch.float64)
    if schedule == "linear":
        return t
    if schedule == "sigmoid":
        s = torch.sigmoid(delta * (2 * t - 1))
        return (s - s[0]) / (s[-1] - s[0])
    raise ValueError(f"unknown schedule {schedule!r}; choose from {SCHEDULES}")


@dataclass
class AISResult:
    """Per data point: ``log_marginal`` (a lower bound in expectation; an upper bound for a reverse
    run), ``stderr`` across chains (delta method), ``ess`` of the final weights, ``acceptance``
    (mean HMC acceptance rate), ``divergences`` (rejected NaN / inf transitions), ``step_size``
    (final); ``samples`` (C, B, D): the chains' final states, approximate posterior draws (exact
    ones in the limit of a slow schedule); ``log_weights`` (C, B)."""

    log_marginal: torch.Tensor
    stderr: torch.Tensor
    ess: torch.Tensor
    acceptance: torch.Tensor
    divergences: torch.Tensor
    step_size: torch.Tensor
    samples: torch.Tensor
    log_weights: torch.Tensor
    num_steps: int
    num_chains: int
    latent_sites: list[str]
    reverse: bool = False

    def summary(self) -> dict:
        return {
            "log_marginal": self.log_marginal.mean().item(),
            "stderr_of_mean": (self.stderr.pow(2).sum().sqrt() / len(self.stderr)).item(),
            "ess_mean": self.ess.mean().item(),
            "acceptance_mean": self.acceptance.mean().item(),
            "divergences": int(self.divergences.sum().item()),
            "num_steps": self.num_steps,
            "num_chains": self.num_chains,
            "reverse": self.reverse,
        }


class _Path:
    """log p(x, z) and log r(z|x) at flat latents (C, B, D), with their gradient in z."""

    def __init__(self, model, proposal, x, num_chains, nesting, shapes, plate_name):
        self.model, self.proposal, self.x = model, proposal, x
        self.num_chains, self.nesting, self.shapes = num_chains, nesting, shapes
        self.plate_name = plate_name

    def parts(self, flat):
        """log p(x, z) and log r(z|x), (C, B); a NaN density (outside the model's support) is
        read as density 0 (−inf): such a state gets no weight and every move out is accepted."""
        values = split_flat(flat, self.shapes, self.num_chains)
        args = (self.x, values, self.num_chains, self.nesting, self.plate_name, "AIS")
        log_joint = site_log_joint(self.model, *args)
        log_r = site_log_joint(self.proposal, *args)
        return nan_to_minus_inf(log_joint), nan_to_minus_inf(log_r)

    def log_density(self, flat, beta):
        """(log f_β, ∇_z log f_β, log p(x, z), log r(z|x)), each detached; (C, B) or (C, B, D)."""
        with torch.enable_grad():
            flat = flat.detach().requires_grad_(True)
            log_joint, log_r = self.parts(flat)
            log_f = (1.0 - beta) * log_r + beta * log_joint
            (grad,) = torch.autograd.grad(log_f.sum(), flat)
        return log_f.detach(), grad, log_joint.detach(), log_r.detach()


def _hmc(path, state, beta, step_size, leapfrog_steps):
    """One vectorized HMC transition targeting f_β from ``state`` = (z, log p, log r); returns
    the new state, the acceptance indicator (C, B) and the divergent transitions (C, B)."""
    z = state[0]
    start = path.log_density(z, beta)  # (log f_β, its gradient, log p, log r)
    p0 = torch.randn_like(z)
    steps = torch.full_like(step_size, leapfrog_steps)  # the same L for every point

    def density(u):
        return path.log_density(u, beta)

    z1, p1, (log_f1, _, log_joint1, log_r1) = leapfrog(density, z, p0, start, step_size, steps)
    _, accept, divergent = metropolis(start[0], p0, log_f1, p1, z1)
    new = (
        torch.where(accept.unsqueeze(-1), z1, z),
        torch.where(accept, log_joint1, state[1]),
        torch.where(accept, log_r1, state[2]),
    )
    return new, accept, divergent


def _anneal(path, state, betas, step_size, leapfrog_steps, target_accept, adapt_rate, progress):
    """Follow ``betas`` (increasing: forward AIS; decreasing: reverse) from ``state``; returns
    the log-weights (C, B), the final state, acceptance rate, divergences and step sizes (B,)."""
    log_w = torch.zeros_like(state[1])
    accepted = torch.zeros_like(step_size)
    divergences = torch.zeros_like(step_size, dtype=torch.long)
    steps = range(1, len(betas))
    if progress:
        from tqdm.auto import tqdm

        steps = tqdm(steps, desc="AIS", leave=False)
    for t in steps:
        beta_prev, beta = betas[t - 1].item(), betas[t].item()
        log_w = log_w + (beta - beta_prev) * (state[1] - state[2])
        state, accept, divergent = _hmc(path, state, beta, step_size, leapfrog_steps)
        rate = accept.to(step_size.dtype).mean(0)  # (B,) over the point's chains
        accepted = accepted + rate
        divergences = divergences + divergent.sum(0)
        step_size = step_size * torch.exp(adapt_rate * (rate - target_accept))
    return log_w, state, accepted / (len(betas) - 1), divergences, step_size


def _check_reverse(reverse_from, shapes, num_chains, batch):
    """Exact posterior draws {site: (B, *event)} -> their flat (B, D) form, checked."""
    if not isinstance(reverse_from, dict) or set(reverse_from) != set(shapes):
        have = sorted(reverse_from) if isinstance(reverse_from, dict) else type(reverse_from)
        raise ValueError(
            f"reverse_from must map every latent site of the data plate {sorted(shapes)} to its "
            f"exact posterior draw (B, *event); got {have}"
        )
    parts = []
    for name, shape in shapes.items():
        value = torch.as_tensor(reverse_from[name])
        width = site_width(shape, num_chains, batch)
        if value.numel() != batch * width:
            raise ValueError(
                f"reverse_from[{name!r}] has shape {tuple(value.shape)}; expected {batch} draws "
                f"of {width} values each"
            )
        parts.append(value.reshape(batch, width))
    return torch.cat(parts, -1)


@torch.no_grad()
def ais(
    model,
    x,
    guide=None,
    num_steps=1000,
    num_chains=16,
    schedule="sigmoid",
    leapfrog_steps=10,
    step_size=0.1,
    target_accept=0.65,
    adapt_rate=None,
    reverse_from=None,
    seed=None,
    plate_name=None,
    progress=False,
    vectorize=True,
) -> AISResult:
    """Annealed importance sampling estimate of log p_θ(x_b) for every data point of ``x``.

    :param model: a model of :mod:`pyrovae.models.contract` (decoder held fixed).
    :param guide: the start distribution r(z|x) (a guide of the contract); default the prior.
    :param num_steps: T, the number of intermediate distributions (HMC transitions).
    :param num_chains: C independent chains per data point (their weights are averaged).
    :param schedule: ``"sigmoid"`` (default) or ``"linear"`` in β.
    :param leapfrog_steps: with ``step_size`` and ``target_accept``, HMC; the step size
        (initial, per point) adapts toward ``target_accept``.
    :param adapt_rate: how fast the step sizes adapt (see the module docstring); default
        min(0.5, 50 / num_steps), so that over any schedule ε can move by e^±30 but no faster
        than needed (a fast rate adds noise to ε that long schedules do not need).
    :param reverse_from: ``{site: (B, *event)}`` exact posterior draws: run the schedule
        backwards from them; ``log_marginal`` is then a stochastic *upper* bound (see :func:`bdmc`).
    :param vectorize: ``False`` runs the C chains one after another, each without a particle
        dimension (for models whose code cannot broadcast over one, e.g. ``view(-1, 784)`` or
        boolean indexing); each chain then adapts its own step sizes, ``acceptance`` and
        ``step_size`` are averaged over chains and ``divergences`` summed. Same estimator, C times
        the passes.
    :returns: :class:`AISResult`.
    """
    model, guide = adapt(model, plate_name), adapt(guide, plate_name)
    x = prepare_inputs(model, x, "ais")
    discrete = check_data_support(model, x, "ais")
    if guide is not None:
        check_guide_draws(guide, x, "ais")
    batch = x.num_points
    num_steps = check_count("num_steps", num_steps)
    num_chains = check_count("num_chains", num_chains)
    leapfrog_steps = check_count("leapfrog_steps", leapfrog_steps)
    check_weight("step_size", step_size, strict=True)
    target = check_probability("target_accept", target_accept)
    if adapt_rate is None:
        adapt_rate = min(0.5, 50.0 / num_steps)
    adapt_rate = check_weight("adapt_rate", adapt_rate)
    betas = annealing_schedule(num_steps, schedule)
    if seed is not None:
        pyro.set_rng_seed(seed)
    if not vectorize and num_chains > 1:
        options = dict(
            num_steps=num_steps,
            schedule=schedule,
            leapfrog_steps=leapfrog_steps,
            step_size=step_size,
            target_accept=target,
            adapt_rate=adapt_rate,
            reverse_from=reverse_from,
            plate_name=plate_name,
            progress=progress,
        )
        chains = [ais(model, x, guide, num_chains=1, **options) for _ in range(num_chains)]
        return _joined(chains)
    if guide is None:
        proposal = prior_proposal(model)
    else:
        proposal = hide_params(guide)
    with pyro.validation_enabled(False):  # rejected divergent moves may visit NaN states
        nesting = max_plate_nesting(model, proposal, args=x.args, kwargs=x.kwargs)
        _, model_trace, guide_trace = particle_log_weights(
            model, proposal, x, num_chains, nesting, plate_name, "AIS", _LOOP_FIX
        )
        names, pairs = latent_names(model_trace, guide_trace, None, plate_name)
        refuse_discrete(pairs, names, "AIS")
        shapes = site_shapes(pairs, names, num_chains, batch, "AIS")
        path = _Path(model, proposal, x, num_chains, nesting, shapes, plate_name)
        flat0 = flat_latents(pairs, names, num_chains, batch, plate_name)  # (C, B, D)
        if reverse_from is not None:
            exact = _check_reverse(reverse_from, shapes, num_chains, batch).to(flat0)
            flat0 = exact.unsqueeze(0).expand_as(flat0).contiguous()
            betas = betas.flip(0)
        log_joint, log_r = path.parts(flat0)
        if guide is not None and reverse_from is None:
            check_proposal_density(log_r, "ais")
        state = (flat0, log_joint.detach(), log_r.detach())
        eps = torch.full((batch,), float(step_size), dtype=flat0.dtype, device=flat0.device)
        log_w, state, acceptance, divergences, eps = _anneal(
            path, state, betas, eps, leapfrog_steps, target, adapt_rate, progress
        )
    if reverse_from is not None:
        # weights of 1/p(x): log p̂ = −log mean w is an upper bound in expectation
        log_inv, stderr, ess, _ = weight_statistics(log_w)
        log_marginal = -log_inv
    else:
        log_marginal, stderr, ess, _ = weight_statistics(log_w)
        fix = "Check the guide (scale > 0), or run more steps (num_steps) or chains."
        check_log_marginal(log_marginal, discrete, "ais", fix)
    return AISResult(
        log_marginal=log_marginal,
        stderr=stderr,
        ess=ess,
        acceptance=acceptance,
        divergences=divergences,
        step_size=eps,
        samples=state[0],
        log_weights=log_w,
        num_steps=num_steps,
        num_chains=num_chains,
        latent_sites=names,
        reverse=reverse_from is not None,
    )


def _joined(chains):
    """One :class:`AISResult` from single-chain runs on the same points (``vectorize=False``)."""
    log_w = torch.cat([c.log_weights for c in chains])  # (C, B)
    if chains[0].reverse:
        log_inv, stderr, ess, _ = weight_statistics(log_w)
        log_marginal = -log_inv
    else:
        log_marginal, stderr, ess, _ = weight_statistics(log_w)
    return AISResult(
        log_marginal=log_marginal,
        stderr=stderr,
        ess=ess,
        acceptance=torch.stack([c.acceptance for c in chains]).mean(0),
        divergences=torch.stack([c.divergences for c in chains]).sum(0),
        step_size=torch.stack([c.step_size for c in chains]).mean(0),
        samples=torch.cat([c.samples for c in chains]),
        log_weights=log_w,
        num_steps=chains[0].num_steps,
        num_chains=len(chains),
        latent_sites=chains[0].latent_sites,
        reverse=chains[0].reverse,
    )


@dataclass
class BDMCResult:
    """Bidirectional Monte Carlo on data simulated from the model: ``x`` (B, ...), the exact
    ``latents`` it was drawn with, ``lower`` and ``upper`` (B,): forward and reverse AIS
    estimates that bound log p(x) from below and above in expectation; ``gap`` = upper − lower.
    A gap near 0 says the schedule is long enough for AIS's lower bound to be trusted on data
    like these (Grosse, Ghahramani, Adams 2015)."""

    x: torch.Tensor
    latents: dict
    lower: torch.Tensor
    upper: torch.Tensor
    forward: AISResult
    reverse: AISResult

    @property
    def gap(self) -> torch.Tensor:
        return self.upper - self.lower

    def summary(self) -> dict:
        return {
            "lower": self.lower.mean().item(),
            "upper": self.upper.mean().item(),
            "gap": self.gap.mean().item(),
            "num_points": int(self.lower.shape[0]),
            "num_steps": self.forward.num_steps,
            "num_chains": self.forward.num_chains,
        }


def simulate(model, data_shape, num_points, plate_name=None):
    """Draw (x, z) from the model: ``x`` ``(num_points, *data_shape)`` and ``{site: value}`` for the
    latent sites. The model must have a single observed site (the data)."""
    model = adapt(model, plate_name)
    template = torch.zeros(num_points, *data_shape)
    owner = getattr(unwrap(model), "__self__", None)
    if isinstance(owner, torch.nn.Module):
        p = next(owner.parameters(), None)
        if p is not None:
            template = template.to(p)
    with torch.no_grad(), pyro.validation_enabled(False):
        trace = poutine.trace(poutine.uncondition(model)).get_trace(template)
    observed = [
        s
        for s in trace.nodes.values()
        if s["type"] == "sample" and s["infer"].get("was_observed", False)
    ]
    if len(observed) != 1:
        raise ValueError(
            "bdmc simulates data from a model with one observed site (the data x); this model "
            f"has {len(observed)}"
        )
    latents = {
        s["name"]: s["value"]
        for s in trace.nodes.values()
        if s["type"] == "sample"
        and s["name"] != observed[0]["name"]
        and not poutine.util.site_is_subsample(s)
        and in_data_plate(s, plate_name)
    }
    return observed[0]["value"].reshape(num_points, *data_shape), latents


def bdmc(model, data_shape, num_points=16, guide=None, seed=None, **ais_options) -> BDMCResult:
    """Sandwich bounds on log p(x) for data simulated from ``model``: forward AIS from the
    proposal (lower bound) and reverse AIS from the exact latent each x was drawn with (upper
    bound). ``ais_options`` (``num_steps``, ``num_chains``, ...) go to both runs of :func:`ais`."""
    num_points = check_count("num_points", num_points)
    if seed is not None:
        pyro.set_rng_seed(seed)
    x, latents = simulate(model, tuple(data_shape), num_points)
    forward = ais(model, x, guide=guide, **ais_options)
    reverse = ais(model, x, guide=guide, reverse_from=latents, **ais_options)
    return BDMCResult(x, latents, forward.log_marginal, reverse.log_marginal, forward, reverse)

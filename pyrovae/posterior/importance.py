r"""Vectorized importance sampling of p_θ(z|x) and log p_θ(x), the decoder held fixed.

For each data point x_b, draw :math:`z_{k,b} \sim r(z|x_b)` (the guide, or the prior) and weigh
:math:`\log w_{k,b} = \log p(x_b, z_{k,b}) - \log r(z_{k,b}|x_b)`. Then

* :math:`\log\hat p(x_b) = \log\frac1K\sum_k w_{k,b}` -- the IWAE-K bound, biased low by
  about :math:`\mathrm{Var}(w)/(2K\,\bar w^2)` (Burda et al. 2016);
* its standard error by the delta method: :math:`\mathrm{sd}(w)/(\sqrt K\,\bar w)`;
* the effective sample size :math:`(\sum_k w_k)^2 / \sum_k w_k^2` (Kong 1992);
* the Pareto k̂ of the largest weights (PSIS, Vehtari et al. 2024, via ``arviz.psislw``):
  k̂ < 0.5 reliable, 0.5–0.7 slow convergence, > 0.7 the estimate is not to be trusted;
* posterior draws by resampling in proportion to the weights;
* with the guide as proposal, :math:`\frac1K\sum_k \log w_{k,b}` is an estimate of ELBO(x_b).

Pyro's ``pyro.infer.Importance`` returns one joint normalizer for a whole batch, and
``vectorized_importance_weights(normalized=True)`` fails on batches (Pyro 1.9.2); here the
(K, B) log-weights are built from per-site unscaled log-probs under a particle plate, chunked
over particles and data points only for memory.
"""

import math
import warnings
from dataclasses import dataclass

import arviz
import numpy as np
import torch
from tqdm.auto import tqdm

from ..checks import check_count
from ..traces import adapt, max_plate_nesting, prior_proposal
from ._checks import (
    check_data_support,
    check_guide_draws,
    check_log_marginal,
    prepare_inputs,
    warn_if_large,
)
from ._vectorized import weighted_particles


@dataclass
class ImportanceResult:
    """Per data point: ``log_marginal``, ``stderr``, ``ess``, ``khat``, ``elbo`` (B,) and
    ``samples`` (S, B, D) resampled posterior draws; ``latent_sites`` names the sites in D."""

    log_marginal: torch.Tensor
    stderr: torch.Tensor
    ess: torch.Tensor
    khat: torch.Tensor
    elbo: torch.Tensor
    samples: torch.Tensor
    num_samples: int
    latent_sites: list[str]

    def summary(self) -> dict:
        """Means over data points, JSON-serializable."""
        return {
            "log_marginal": self.log_marginal.mean().item(),
            "stderr_of_mean": (self.stderr.pow(2).sum().sqrt() / len(self.stderr)).item(),
            "ess_mean": self.ess.mean().item(),
            "khat_max": self.khat.max().item(),
            "elbo": self.elbo.mean().item(),
            "num_samples": self.num_samples,
        }


def weight_statistics(log_w: torch.Tensor):
    """log p̂, its standard error, the ESS and the mean log-weight from (K, B) log-weights.
    One weight (K = 1) has no spread to estimate an error from: its standard error is NaN."""
    k = log_w.shape[0]
    lse = torch.logsumexp(log_w, 0)  # (B,)
    log_marginal = lse - math.log(k)
    w = torch.exp(log_w - log_w.max(0).values)  # (K, B), max weight 1
    if k == 1:
        stderr = torch.full_like(lse, math.nan)
    else:
        stderr = w.std(0, unbiased=True) / (math.sqrt(k) * w.mean(0))
    ess = torch.exp(2 * lse - torch.logsumexp(2 * log_w, 0))
    return log_marginal, stderr, ess, log_w.mean(0)


def pareto_khat(log_w: torch.Tensor) -> torch.Tensor:
    """PSIS k̂ per data point from (K, B) log-weights (arviz.psislw, which wants K last)."""
    lw = log_w.detach().double().cpu().numpy().T  # (B, K)
    lw = lw - lw.max(axis=1, keepdims=True)  # shift: k̂ is invariant, the fit is stabler
    with np.errstate(over="ignore"):  # arviz's GPD fit overflows harmlessly on extreme tails
        _, khat = arviz.psislw(np.ascontiguousarray(lw))
    return torch.as_tensor(np.atleast_1d(khat), dtype=log_w.dtype, device=log_w.device)


class UnreliableEstimateWarning(UserWarning):
    """Importance sampling's Pareto k̂ says its estimate is not to be trusted for some points."""


def _warn_if_unreliable(khat, threshold=0.7):
    bad = int((khat > threshold).sum())
    if bad:
        warnings.warn(
            f"importance sampling: {bad} of {khat.numel()} data points have Pareto k̂ > "
            f"{threshold} (max {khat.max().item():.2f}); their log p̂(x) and its ± are not to be "
            "trusted. Use annealed importance sampling: pyrovae.posterior.ais, or "
            'diagnostics.log_likelihood(..., method="ais") (pyrovae diagnose --method ais).',
            UnreliableEstimateWarning,
            stacklevel=4,  # the caller of importance (past torch.no_grad's wrapper)
        )


class _StreamingResampler:
    """S draws per data point, with replacement, in proportion to the importance weights of all
    particles seen so far, without keeping the particles: after a chunk with total weight W_c,
    each of the S slots takes a draw from the chunk (∝ its weights) with probability
    W_c / (W_seen + W_c) -- so every slot ends up distributed ∝ the weights over all chunks."""

    def __init__(self, num_draws):
        self.num_draws = num_draws
        self.draws = None  # (S, b, D)
        self.log_total = None  # (b,)

    def update(self, log_w, z):  # (k, b), (k, b, D)
        safe = log_w.T.clamp_min(-1e30)  # a point whose weights are all 0 resamples uniformly
        idx = torch.multinomial(torch.softmax(safe, -1), self.num_draws, replacement=True)
        candidates = torch.gather(
            z.transpose(0, 1), 1, idx.unsqueeze(-1).expand(-1, -1, z.shape[-1])
        ).transpose(0, 1)  # (S, b, D)
        chunk_total = torch.logsumexp(log_w, 0)  # (b,)
        if self.draws is None:
            self.draws, self.log_total = candidates, chunk_total
            return
        new_total = torch.logaddexp(self.log_total, chunk_total)
        take = torch.rand(self.num_draws, z.shape[1], device=z.device) < torch.exp(
            chunk_total - new_total
        )  # (S, b)
        self.draws = torch.where(take.unsqueeze(-1), candidates, self.draws)
        self.log_total = new_total


def _default_sizes(x, num_samples, batch_size, chunk_size):
    batch = min(x.num_points, batch_size or 100)
    per_point = max(sum(math.prod(t.shape[1:]) for t in x.tensors().values()), 1)
    chunk = chunk_size or max(1, min(num_samples, (1 << 23) // (batch * per_point)))
    return batch, chunk


@torch.no_grad()
def importance(
    model,
    guide,
    x,
    num_samples=1000,
    num_resample=None,
    batch_size=None,
    chunk_size=None,
    latent_sites=None,
    plate_name=None,
    progress=None,
    seed=None,
    vectorize=True,
) -> ImportanceResult:
    """Importance sampling of the posterior of every data point in ``x`` at once.

    :param model: any Pyro model with a data plate (:mod:`pyrovae.models.contract`), its
        parameters held fixed.
    :param guide: the proposal r(z|x) (a guide of the contract), or ``None`` for the prior.
        Discrete latent sites (e.g. a label) are sampled from it like the others, so log p̂(x)
        stays an unbiased-in-p estimate that sums over them in expectation.
    :param x: the data: a tensor, or several inputs (a tuple or dict of aligned tensors,
        :mod:`pyrovae.models.inputs`).
    :param num_samples: K importance samples per data point.
    :param num_resample: S posterior draws to return per point (default min(K, 1000)).
    :param batch_size: data points per pass (default 100); ``chunk_size``: particles per pass
        (default: as many as keep about 8M values of x in memory).
    :param latent_sites: sites whose draws are returned (default: all local latents).
    :param plate_name: the data plate's name when it cannot be found (see
        :func:`pyrovae.traces.adapt`).
    :param seed: seeds torch before sampling.
    :param vectorize: ``False`` runs one particle per pass (a loop) for models whose code cannot
        broadcast over a leading particle dimension (boolean indexing, ``view(-1, ...)``); same
        estimate, slower.
    """
    model, guide = adapt(model, plate_name), adapt(guide, plate_name)
    x = prepare_inputs(model, x, "importance")
    discrete = check_data_support(model, x, "importance")
    if guide is not None:
        check_guide_draws(guide, x, "importance")
    num_samples = check_count("num_samples", num_samples, minimum=2)
    if seed is not None:
        torch.manual_seed(seed)
    proposal = guide if guide is not None else prior_proposal(model)
    num_resample = int(num_resample or min(num_samples, 1000))
    batch, chunk = _default_sizes(x, num_samples, batch_size, chunk_size)
    head = x.slice(0, batch)
    nesting = max_plate_nesting(model, proposal, args=head.args, kwargs=head.kwargs)
    # kept per pass: the (K, b) log-weights (for k̂); latents are resampled as they stream by
    item = x.primary.element_size()
    warn_if_large(num_samples * batch * item, "importance", "num_samples or batch_size")
    starts = list(range(0, x.num_points, batch))
    passes = len(starts) * math.ceil(num_samples / chunk)
    bar = tqdm(
        total=passes,
        disable=progress is False or (progress is None and passes < 20),
        desc="importance",
        leave=False,
    )
    out = {k: [] for k in ("log_marginal", "stderr", "ess", "elbo", "khat", "samples")}
    names = None
    for start in starts:
        xb = x.slice(start, start + batch)
        log_ws, resampler = [], _StreamingResampler(num_resample)
        for done in range(0, num_samples, chunk):
            k = min(chunk, num_samples - done)
            log_w, z, names = weighted_particles(
                model, proposal, xb, k, nesting, latent_sites, plate_name, vectorize
            )
            log_ws.append(log_w)  # (k, b)
            resampler.update(log_w, z)  # z (k, b, D) is not kept
            bar.update()
        log_w = torch.cat(log_ws)  # (K, b)
        stats = weight_statistics(log_w)
        for key, value in zip(("log_marginal", "stderr", "ess", "elbo"), stats, strict=True):
            out[key].append(value)
        out["khat"].append(pareto_khat(log_w))
        out["samples"].append(resampler.draws)  # (S, b, D)
    bar.close()
    khat = torch.cat(out["khat"])
    log_marginal = torch.cat(out["log_marginal"])
    fix = "Check the guide (scale > 0); use more samples, or AIS (pyrovae.posterior.ais)."
    check_log_marginal(log_marginal, discrete, "importance", fix)
    _warn_if_unreliable(khat)
    return ImportanceResult(
        log_marginal=log_marginal,
        stderr=torch.cat(out["stderr"]),
        ess=torch.cat(out["ess"]),
        khat=khat,
        elbo=torch.cat(out["elbo"]),
        samples=torch.cat(out["samples"], 1),
        num_samples=num_samples,
        latent_sites=names,
    )

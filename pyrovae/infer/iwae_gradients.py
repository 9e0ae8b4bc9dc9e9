r"""Gradient estimators of the IWAE bound that share its value.

With log-weights :math:`\log w_k = \log p_\theta(x, z_k) - \log q_\phi(z_k|x)`,
:math:`z_k = z_\phi(\epsilon_k)` and normalized weights :math:`\tilde w_k = w_k / \sum_j w_j`:

* ``"reparam"`` (Burda et al. 2016): :math:`\nabla \log \frac1K \sum_k w_k`, the plain
  reparameterized gradient.
* ``"stl"`` (Roeder, Wu, Duvenaud 2017, Sec. 5): :math:`\sum_k \tilde w_k \nabla \log w_k` with
  φ stopped inside :math:`\log q_\phi`, so φ's gradient flows only through :math:`z_k`
  (biased for K > 1, as Tucker et al. 2019 show).
* ``"dreg"`` (Tucker, Lawson, Gu, Maddison, "Doubly reparameterized gradient estimators for Monte
  Carlo objectives", ICLR 2019, Eq. 5): the guide's gradient
  :math:`\sum_k \tilde w_k^2 \, (\partial \log w_k / \partial z_k)(\partial z_k / \partial\phi)`
  (unbiased, and its variance does not grow with K as the plain one's signal-to-noise ratio
  decays); the model's gradient stays :math:`\sum_k \tilde w_k \nabla_\theta \log w_k`.

DReG is built without a second model pass: the STL surrogate gives the model gradient and the
guide's :math:`\tilde w_k` part; :math:`g_k = \partial/\partial z_k \sum (\tilde w_k^2 - \tilde w_k)
\log w_k` (one ``autograd.grad``, weights detached) is then added as :math:`\sum g_k \cdot z_k`,
which carries gradient to φ alone (z does not depend on θ). That split is exact when the guide's
latent sites do not depend on each other; a guide where one latent's draw depends on another is
refused (the total derivative through both would be counted twice).
"""

import torch

from ..ops import logmeanexp

IWAE_GRADIENTS = ("reparam", "stl", "dreg")


def check_gradient(gradient, objective="IWAE"):
    """The estimator name, or ``ValueError`` listing the choices."""
    if gradient not in IWAE_GRADIENTS:
        raise ValueError(
            f"unknown gradient estimator {gradient!r} for {objective}; choose from {IWAE_GRADIENTS}"
        )
    return gradient


def single_sample_stl(gradient, stl, objective):
    """``stl`` for a single-sample objective given ``gradient`` ("reparam" or "stl"); "dreg" (an
    IWAE estimator) or an unknown name is a ``ValueError`` naming the fix."""
    if gradient is None:
        return bool(stl)
    check_gradient(gradient, objective)
    if gradient == "dreg":
        raise ValueError(
            f"gradient='dreg' (doubly reparameterized) is an estimator of the IWAE bound; "
            f"{objective} has none. Use pyrovae.infer.IWAE(K, gradient='dreg'), or "
            f"gradient='stl' for {objective}"
        )
    return bool(stl) or gradient == "stl"


def _check_independent(values):
    """``ValueError`` when a latent's draw depends on an earlier latent (DReG's split needs
    conditionally independent guide sites)."""
    for i in range(1, len(values)):
        grads = torch.autograd.grad(
            values[i].sum(), values[:i], retain_graph=True, allow_unused=True
        )
        if any(g is not None for g in grads):
            raise ValueError(
                "gradient='dreg' needs guide latent sites that are drawn independently given x; "
                "this guide draws one latent from another. Use gradient='reparam' or 'stl'."
            )


def iwae_surrogate(log_w, scale, gradient, latent_values=None):
    """The negative of a surrogate whose gradient is the chosen estimator of the IWAE bound's.

    :param log_w: (K, B) log-weights; for ``"stl"`` / ``"dreg"`` with the guide's parameters
        stopped inside log q (same values).
    :param scale: the data plate's N / B.
    :param latent_values: the guide's latent draws (tensors carrying the path to φ), for DReG.
    """
    if gradient == "reparam":
        return -(logmeanexp(log_w, 0) * scale).sum()
    w = torch.softmax(log_w.detach(), 0)  # (K, B) normalized importance weights
    surrogate = ((w * log_w).sum(0) * scale).sum()
    if gradient == "dreg":
        values = [z for z in latent_values or () if z.requires_grad]
        if values:
            _check_independent(values)
            correction = (((w * w - w) * log_w).sum(0) * scale).sum()
            grads = torch.autograd.grad(correction, values, retain_graph=True, allow_unused=True)
            for g, z in zip(grads, values, strict=True):
                if g is not None:
                    surrogate = surrogate + (g.detach() * z).sum()
    return -surrogate

"""The conditional PixelCNN likelihood: autoregressive masks, exact normalization, sampling, and a
VAE that trains and is scored with it."""

import itertools
import shutil

import pytest
import torch
from torch import nn

from pyrovae.infer import EvidenceLowerBound, train
from pyrovae.models import VAE, PixelCNNBernoulli
from pyrovae.nets import MLP, MaskedConv2d
from pyrovae.posterior import importance

H, W, C = 3, 3, 2


def tiny_likelihood(seed=0):
    torch.manual_seed(seed)
    lik = PixelCNNBernoulli(image_shape=(H, W), condition_channels=C, channels=8, layers=3)
    for p in lik.parameters():  # larger weights than the default init: a far-from-uniform p(x|z)
        nn.init.normal_(p, std=0.7)
    return lik


def test_mask_shapes():
    a, b = MaskedConv2d(1, 1, 3, "A").mask, MaskedConv2d(1, 1, 3, "B").mask
    assert a.tolist() == [[1, 1, 1], [1, 0, 0], [0, 0, 0]]
    assert b.tolist() == [[1, 1, 1], [1, 1, 0], [0, 0, 0]]
    with pytest.raises(ValueError, match="mask_type"):
        MaskedConv2d(1, 1, 3, "C")


def test_logit_of_each_pixel_depends_only_on_earlier_pixels():
    lik = tiny_likelihood()
    cond = torch.randn(1, C, H, W)
    d = lik(cond, (H * W,), torch.Size([1]))
    x = torch.bernoulli(torch.full((1, H * W), 0.5)).requires_grad_()
    logits = d.logits(x)[0]
    for i in range(H * W):
        (grad,) = torch.autograd.grad(logits[i], x, retain_graph=True)
        assert grad[0, i:].abs().max() == 0, f"pixel {i} sees pixels at or after itself"
        if i > 0:
            assert grad[0, :i].abs().max() > 0  # and it does use the earlier ones


def test_probabilities_of_all_images_sum_to_one():
    """Oracle: Σ_x p(x|z) over all 2^9 binary 3x3 images is 1 for every conditioning map."""
    lik = tiny_likelihood()
    cond = torch.randn(4, C, H, W, dtype=torch.float64)
    lik = lik.double()
    images = torch.tensor(
        list(itertools.product([0.0, 1.0], repeat=H * W)), dtype=torch.float64
    )  # (512, 9)
    d = lik(cond.unsqueeze(0).expand(512, -1, -1, -1, -1), (H * W,), torch.Size([512, 4]))
    logp = d.log_prob(images.unsqueeze(1))  # (512, 4)
    assert torch.allclose(logp.exp().sum(0), torch.ones(4, dtype=torch.float64), atol=1e-10)


def test_ancestral_samples_follow_log_prob():
    """20000 ancestral samples of a 2x2 image: empirical frequencies match exp(log_prob) within
    4 binomial standard errors (seed 0)."""
    torch.manual_seed(0)
    lik = PixelCNNBernoulli(image_shape=(2, 2), condition_channels=C, channels=8, layers=2)
    for p in lik.parameters():
        nn.init.normal_(p, std=0.7)
    cond = torch.randn(C, 2, 2)
    d = lik(cond, (4,), torch.Size([]))
    n = 20000
    samples = d.sample((n,))  # (n, 4)
    images = torch.tensor(list(itertools.product([0.0, 1.0], repeat=4)))
    freq = (samples.unsqueeze(1) == images).all(-1).float().mean(0)
    p = d.log_prob(images).exp().detach()
    se = (p * (1 - p) / n).sqrt()
    assert ((freq - p).abs() <= 4 * se + 1e-4).all(), (freq, p)


def test_pixelcnn_vae_trains_and_is_scored_by_importance_sampling():
    torch.manual_seed(0)
    z_dim = 2
    decoder = nn.Sequential(MLP(z_dim, [16], C * H * W), nn.Unflatten(-1, (C, H, W)))
    vae = VAE(
        MLP(H * W, [16], 2 * z_dim),
        decoder,
        PixelCNNBernoulli((H, W), C, channels=8, layers=2),
        z_dim,
        (H * W,),
    )
    x = torch.bernoulli(torch.full((64, H * W), 0.3))
    res = train(
        vae.model,
        vae.guide,
        x,
        EvidenceLowerBound(),
        steps=60,
        batch_size=16,
        lr=1e-2,
        progress=False,
    )
    first, last = (
        sum(r["elbo"] for r in rows) / 10 for rows in (res.history[:10], res.history[-10:])
    )
    assert last > first + 0.5, (first, last)  # the ELBO of 9-pixel images with p = 0.3 improves
    imp = importance(vae.model, vae.guide, x[:5], num_samples=50)
    assert torch.isfinite(imp.log_marginal).all()
    assert (imp.elbo <= imp.log_marginal + 1e-4).all()
    with torch.no_grad():
        samples = vae.sample(3)
    assert samples.shape == (3, H * W) and ((samples >= 0) & (samples <= 1)).all()


def test_pixelcnn_likelihood_rejects_wrong_data():
    lik = PixelCNNBernoulli((H, W), C)
    with pytest.raises(ValueError, match="binary"):
        lik.validate(torch.full((2, 9), 0.5))
    with pytest.raises(ValueError, match="image_shape"):
        lik.validate(torch.ones(2, 16))


def test_full_profile_pixelcnn_vae_of_the_infovae_experiments_scores_28x28_images():
    """The wiring of ``infovae-comparison --profile full`` (conv map ->
    PixelCNN), at a small width."""
    from pyrovae.experiments.infovae_comparison import PROFILES
    from pyrovae.infer import InfoVAE
    from pyrovae.models import conv_vae

    assert PROFILES["full"].decoder == "pixelcnn"
    vae = conv_vae(5, channels=8, hidden=32, decoder="pixelcnn", seed=0)
    assert isinstance(vae.likelihood, PixelCNNBernoulli)
    x = torch.bernoulli(torch.full((4, 784), 0.2))
    loss = InfoVAE(1.0, 1000.0).loss(vae.model, vae.guide, x)
    assert torch.isfinite(torch.tensor(loss))
    with torch.no_grad():
        assert vae.decode(vae.encode(x)[0]).log_prob(x).shape == (4,)


def test_log_prob_is_summed_in_float32_under_bfloat16_autocast():
    """Under ``torch.autocast`` the PixelCNN's logits come out in bfloat16; the 784-term sum of
    log p(x_i | x_<i, z) is taken in float32 from those logits, not in bfloat16, and a float64
    model stays float64."""
    lik = tiny_likelihood()
    condition = torch.randn(5, C, H, W)
    x = torch.bernoulli(torch.full((5, H * W), 0.4))
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        dist = lik(condition, (H * W,))
        logits = dist.logits(x)
        log_p = dist.log_prob(x)
    assert logits.dtype == torch.bfloat16 and log_p.dtype == torch.float32
    by_hand = -nn.functional.binary_cross_entropy_with_logits(
        logits.float(), x, reduction="none"
    ).sum(-1)
    assert torch.allclose(log_p, by_hand, atol=1e-5)
    wide = lik.double()(condition.double(), (H * W,)).log_prob(x.double())
    assert wide.dtype == torch.float64


def test_ancestral_sampling_on_a_band_of_rows_matches_the_whole_image_pass():
    """Sampling runs the net on the ``rows_above`` + 1 rows a pixel's logit can see; the
    probability recorded for every pixel equals the teacher-forced one of the finished sample
    from the whole image (12x12 images, reach 5 rows: most passes see half the image)."""
    torch.manual_seed(1)
    lik = PixelCNNBernoulli(image_shape=(12, 12), condition_channels=C, channels=8, layers=3)
    for p in lik.parameters():
        nn.init.normal_(p, std=0.5)
    assert lik.net.rows_above == 5  # 7x7 "A" kernel: 3 rows, two 3x3 "B": 1 each, 1x1: none
    d = lik(torch.randn(6, C, 12, 12), (144,))
    x, probs = d._ancestral()
    assert torch.allclose(probs, torch.sigmoid(d.logits(x)), atol=1e-5)
    assert 0.05 < x.mean() < 0.95  # a sample with both values, not a constant image


@pytest.mark.slow  # compiling takes seconds to tens of seconds
# torch's inductor imports its own deprecated torch.jit code on CPU (torch 2.13)
@pytest.mark.filterwarnings("ignore:.*torch.jit.script_method.*:DeprecationWarning")
@pytest.mark.skipif(
    shutil.which("g++") is None and shutil.which("c++") is None,
    reason="torch.compile's CPU backend needs a C++ compiler",
)
def test_compiled_pixelcnn_gives_the_eager_log_likelihood():
    """The scoring recipe of docs/benchmarks.md: ``likelihood.net.compile()`` before IS / AIS;
    log p(x|z) equals the eager pass's to 1e-4 nats."""
    lik = tiny_likelihood()
    condition = torch.randn(6, C, H, W)
    x = torch.bernoulli(torch.full((6, H * W), 0.5))
    with torch.no_grad():
        eager = lik(condition, (H * W,)).log_prob(x)
        lik.net.compile()
        compiled = lik(condition, (H * W,)).log_prob(x)
    assert torch.allclose(compiled, eager, atol=1e-4)

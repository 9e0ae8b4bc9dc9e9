r"""``infovae-comparison`` — InfoVAE (Zhao, Song, Ermon 2019), Figure 6.

Binarized MNIST; the ELBO, InfoVAE with α = 1, λ = 1000 and D = MMD, Stein or adversarial, and an
unregularized autoencoder (β-VAE with β = 0: reconstruction only), at several
latent sizes. For each model:

* ``mmd``: full-batch MMD²(q(z), p(z)) -- one draw of q(z|x) per test image against as many prior
  draws, RBF kernel exp(−‖z−z'‖²/(2d)), unbiased estimate (0 for a perfect match);
* ``log_det_per_dim``: log det Cov[q(z)] / d of the aggregate posterior on the test images (exact
  mixture moments; 0 for the prior);
* ``class_cross_entropy``: H(u, p̂) between the digit frequencies u of the labelled set and the class
  distribution p̂ a classifier assigns to binary samples from the model (minimum H(u) ≈ log 10; see
  :mod:`.mnist_probes`); the classifier's held-out accuracy is recorded beside it;
* ``svm_error``: the test error of an RBF SVM on the latent means of 1000 labelled images;
* ``mmd_trajectory``: MMD² on held-out images every ``evaluate_every`` steps (speed and stability).

Claims (paper, Fig. 6): the InfoVAE models have much smaller MMD and log det closer to 0 than the
ELBO and the autoencoder, generate classes in better proportion (lower cross entropy), give
latent features at least as good for semi-supervised classification, and converge faster and more
stably in MMD. The paper used a PixelCNN decoder (the ``full`` profile here uses
:class:`pyrovae.models.PixelCNNBernoulli` on the conv decoder's map); ``quick`` uses the
DCGAN-style conv decoder.
"""

import os

import torch

from ..data import load_binarized_mnist, load_mnist_idx, random_subset
from ..diagnostics import aggregate_posterior_moments
from ..infer import BetaVAE, EvidenceLowerBound, InfoVAE, train
from ..models import VAE, Bernoulli, PixelCNNBernoulli
from ..nets import ConvDecoder28, ConvEncoder28
from ..ops import mmd2, rbf_kernel
from ..plotting import plot_image_rows
from ..plotting.figure import save_figure, subplots
from .common import check_profile, encode_in_batches, prepare_out, write_results
from .mnist_probes import (
    binarize,
    generated_class_cross_entropy,
    latent_svm_error,
    split_labelled,
    train_digit_classifier,
)
from .settings import resolve_settings

SETTINGS = {
    "quick": dict(
        z_dims=(2, 5),
        n_train=10000,
        steps=1000,
        batch_size=100,
        channels=16,
        hidden=256,
        decoder="conv",
        n_test=2000,
        evaluate_every=100,
        n_eval=500,
        classifier_epochs=5,
        n_labels=1000,
        n_generated=2000,
    ),
    "full": dict(
        z_dims=(2, 5, 10),
        n_train=50000,
        steps=50000,
        batch_size=100,
        channels=64,
        hidden=1024,
        decoder="pixelcnn",
        n_test=10000,
        evaluate_every=1000,
        n_eval=2000,
        classifier_epochs=20,
        n_labels=1000,
        n_generated=10000,
    ),
}
ALPHA, LAM = 1.0, 1000.0
HELDOUT_LABELLED = 2000


def objectives():
    """(label, objective) in the order of the paper's figure."""
    return [
        ("ELBO", EvidenceLowerBound()),
        ("InfoVAE-MMD", InfoVAE(ALPHA, LAM, "mmd")),
        ("InfoVAE-Stein", InfoVAE(ALPHA, LAM, "stein")),
        ("InfoVAE-adversarial", InfoVAE(ALPHA, LAM, "adversarial")),
        ("Autoencoder", BetaVAE(0.0)),
    ]


def make_vae(z_dim, cfg, seed):
    torch.manual_seed(seed)
    encoder = ConvEncoder28(2 * z_dim, cfg["channels"], cfg["hidden"])
    if cfg["decoder"] == "pixelcnn":
        decoder = ConvDecoder28(
            z_dim, PixelCNNBernoulli.CONDITION_CHANNELS, cfg["channels"], cfg["hidden"]
        )
        likelihood = PixelCNNBernoulli()
    else:
        decoder, likelihood = ConvDecoder28(z_dim, 1, cfg["channels"], cfg["hidden"]), Bernoulli()
    return VAE(encoder, decoder, likelihood, z_dim, (784,))


def latent_mmd2(vae, x, seed):
    """Unbiased MMD² between one draw of q(z|x) per row of ``x`` and as many prior draws."""
    generator = torch.Generator(device=x.device).manual_seed(seed)
    loc, scale = vae.encode(x)
    q = loc + scale * torch.randn(loc.shape, generator=generator, device=x.device, dtype=loc.dtype)
    p = torch.randn(q.shape, generator=generator, device=x.device, dtype=q.dtype)
    return mmd2(q, p, lambda a, b: rbf_kernel(a, b, "dim")).item()


def _labelled_data(data, seed):
    """Binarized labelled MNIST split for the classifier and for the SVM probe."""
    idx_path = data if data is None or os.path.isdir(data) else os.path.dirname(data)
    images, labels = load_mnist_idx(idx_path, "test")
    images = binarize(images, seed=seed)
    tr_x, tr_y, ho_x, ho_y = split_labelled(images, labels, HELDOUT_LABELLED, seed=seed)
    frequencies = torch.bincount(labels, minlength=10).float()
    return tr_x, tr_y, ho_x, ho_y, frequencies


def run(
    out="runs/infovae-comparison",
    profile="quick",
    device="cpu",
    seed=0,
    data=None,
    progress=False,
    overrides=None,
):
    cfg = resolve_settings(SETTINGS[check_profile(profile)], overrides, "infovae-comparison")
    prepare_out(out)
    x_train = load_binarized_mnist(data, "train")[: cfg["n_train"]]
    x_test = random_subset(
        load_binarized_mnist(data, "test"), cfg["n_test"], seed
    )  # the split is class-ordered
    tr_x, tr_y, ho_x, ho_y, frequencies = _labelled_data(data, seed)
    classifier, accuracy = train_digit_classifier(
        tr_x, tr_y, ho_x, ho_y, epochs=cfg["classifier_epochs"], seed=seed
    )
    heldout_ce = generated_class_cross_entropy(classifier, ho_x, frequencies)
    results = {
        "claim": "InfoVAE (MMD, Stein, adversarial) matches q(z) to p(z) far better than the "
        "ELBO and an "
        "autoencoder, generates classes in better proportion, gives latent features at least as "
        "good for semi-supervised learning, and converges faster and more stably in MMD",
        "paper": "Zhao, Song, Ermon 2019, Fig. 6",
        "profile": profile,
        "config": cfg,
        "alpha": ALPHA,
        "lambda": LAM,
        "classifier_heldout_accuracy": accuracy,
        "class_cross_entropy_minimum": heldout_ce["minimum"],
        "classifier_cross_entropy_on_heldout_data": heldout_ce["cross_entropy"],
        "rows": [],
    }
    x_eval = x_test[: cfg["n_eval"]].to(device)
    samples = {"data": x_test[:12]}
    for z_dim in cfg["z_dims"]:
        for label, objective in objectives():
            vae = make_vae(z_dim, cfg, seed)

            def evaluate(step, vae=vae):
                vae.eval()
                value = latent_mmd2(vae, x_eval, seed + step)
                vae.train()
                return {"eval_mmd2": value}

            result = train(
                vae.model,
                vae.guide,
                x_train,
                objective,
                steps=cfg["steps"],
                batch_size=cfg["batch_size"],
                seed=seed,
                device=device,
                progress=progress,
                evaluate=evaluate,
                evaluate_every=cfg["evaluate_every"],
            )
            vae = vae.eval()  # evaluated on the training device (PixelCNN sampling is 784 passes)
            with torch.no_grad():
                loc, scale = (t.cpu() for t in encode_in_batches(vae, x_test.to(device)))
                moments = aggregate_posterior_moments(loc, scale)
                means = vae.sample(
                    cfg["n_generated"], torch.Generator(device=device).manual_seed(seed)
                )
                generated = torch.bernoulli(
                    means, generator=torch.Generator(device=device).manual_seed(seed + 1)
                ).cpu()
                feats_tr = encode_in_batches(vae, tr_x[: cfg["n_labels"]].to(device))[0].cpu()
                feats_ho = encode_in_batches(vae, ho_x.to(device))[0].cpu()
                mmd = latent_mmd2(vae, x_test.to(device), seed)
            ce = generated_class_cross_entropy(classifier, generated, frequencies)
            trajectory = [(r["step"], r["eval_mmd2"]) for r in result.history if "eval_mmd2" in r]
            results["rows"].append(
                {
                    "objective": label,
                    "z_dim": z_dim,
                    "mmd2": mmd,
                    "log_det_per_dim": moments["log_det"].item() / z_dim,
                    "class_cross_entropy": ce["cross_entropy"],
                    "class_cross_entropy_excess": ce["excess"],
                    "generated_class_distribution": ce["generated_class_distribution"],
                    "svm_error": latent_svm_error(
                        feats_tr, tr_y[: cfg["n_labels"]], feats_ho, ho_y
                    ),
                    "mmd_trajectory": trajectory,
                    "final_loss": sum(r["loss"] for r in result.history[-50:])
                    / min(50, len(result.history)),
                }
            )
            if z_dim == cfg["z_dims"][-1]:
                samples[label] = vae.sample(
                    12, torch.Generator(device=device).manual_seed(seed)
                ).cpu()
    results["checks"] = _checks(results["rows"], cfg["z_dims"])
    _plot(
        results["rows"],
        cfg["z_dims"],
        results["class_cross_entropy_minimum"],
        os.path.join(out, "figure6.png"),
    )
    plot_image_rows(samples, os.path.join(out, f"samples_z{cfg['z_dims'][-1]}.png"))
    return write_results(out, results)


def _checks(rows, z_dims):
    """The orderings the paper claims, per latent size (True where they hold)."""
    checks = {}
    for d in z_dims:
        by = {r["objective"]: r for r in rows if r["z_dim"] == d}
        info = [k for k in by if k.startswith("InfoVAE")]
        checks[f"z{d}_infovae_mmd_below_elbo"] = {
            k: by[k]["mmd2"] < by["ELBO"]["mmd2"] for k in info
        }
        checks[f"z{d}_infovae_mmd_below_autoencoder"] = {
            k: by[k]["mmd2"] < by["Autoencoder"]["mmd2"] for k in info
        }
        checks[f"z{d}_infovae_class_cross_entropy_below_elbo"] = {
            k: by[k]["class_cross_entropy"] < by["ELBO"]["class_cross_entropy"] for k in info
        }
        checks[f"z{d}_infovae_svm_error_at_most_elbo"] = {
            k: by[k]["svm_error"] <= by["ELBO"]["svm_error"] for k in info
        }
    return checks


def _plot(rows, z_dims, ce_minimum, path):
    metrics = [
        ("mmd2", "MMD²(q(z), p(z))"),
        ("log_det_per_dim", "log det Cov[q(z)] / d"),
        ("class_cross_entropy", "class cross entropy"),
        ("svm_error", "SVM error, 1000 labels"),
    ]
    labels = list(dict.fromkeys(r["objective"] for r in rows))
    fig, axes = subplots(1, len(metrics) + 1, figsize=(4 * (len(metrics) + 1), 3.3))
    width = 0.8 / len(labels)
    for ax, (key, title) in zip(axes[:-1], metrics, strict=True):  # the last: MMD² vs step
        for j, label in enumerate(labels):
            vals = [
                next(r[key] for r in rows if r["objective"] == label and r["z_dim"] == d)
                for d in z_dims
            ]
            ax.bar([i + j * width for i in range(len(z_dims))], vals, width, label=label)
        ax.set_xticks([i + 0.4 - width / 2 for i in range(len(z_dims))], [f"z={d}" for d in z_dims])
        ax.set_title(title, fontsize=9)
    axes[2].axhline(ce_minimum, color="k", ls="--", lw=0.8)
    ax = axes[-1]
    for label in labels:
        r = next(r for r in rows if r["objective"] == label and r["z_dim"] == z_dims[-1])
        steps, values = zip(*r["mmd_trajectory"], strict=True)
        ax.plot(steps, values, label=label)
    ax.set_yscale("symlog", linthresh=1e-3)
    ax.set_xlabel("step")
    ax.set_title(f"held-out MMD² vs iteration, z={z_dims[-1]}", fontsize=9)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    save_figure(fig, path)

r"""``infovae-comparison`` — InfoVAE (Zhao, Song, Ermon 2019), Figure 6.

Binarized MNIST; the ELBO, InfoVAE with α = 1, λ = 1000 and D = MMD, Stein or adversarial, and an
unregularized autoencoder (β-VAE with β = 0: reconstruction only), at several
latent sizes. For each model:

* ``mmd``: full-batch MMD²(q(z), p(z)) -- one draw of q(z|x) per test image against as many prior
  draws, RBF kernel exp(−‖z−z'‖²/(2d)), unbiased estimate (0 for a perfect match);
* ``log_det_per_dim``: log det Cov[q(z)] / d of the aggregate posterior on the test images (exact
  mixture moments; 0 for the prior);
* ``class_cross_entropy``: H(u, p̂) between the digit frequencies u of the labelled set and the class
  distribution p̂ a classifier assigns to binary samples from the model (minimum H(u) ≈ log 10;
  see :mod:`pyrovae.diagnostics.label_probes`); the classifier's held-out accuracy is recorded
  beside it;
* ``svm_error``: the test error of an RBF SVM on the latent means of 1000 labelled images;
* ``mmd_trajectory``: MMD² on held-out images every ``evaluate_every`` steps (speed and stability).

Claims (paper, Fig. 6): the InfoVAE models have much smaller MMD and log det closer to 0 than the
ELBO and the autoencoder, generate classes in better proportion (lower cross entropy), give
latent features at least as good for semi-supervised classification, and converge faster and more
stably in MMD. The paper used a PixelCNN decoder (the ``full``, ``cpu`` and ``paper`` profiles
here use :class:`pyrovae.models.PixelCNNBernoulli` on the conv decoder's map); ``quick`` uses the
DCGAN-style conv decoder. ``judge`` gives each claim's verdict with the Monte Carlo error and the
run's scale.

Each model is a stage (``z5-InfoVAE-MMD``, ...: ``--stage``, ``--budget-minutes``); the digit
classifier that scores the samples is retrained in each process on one thread from the same seed,
so every stage uses the same weights, which :func:`assemble` checks by their hash.
"""

import functools
import hashlib
import math
import os
import sys
from dataclasses import dataclass

import torch

from ..data import load_binarized_mnist, load_mnist_idx, random_subset
from ..diagnostics import aggregate_posterior_moments
from ..diagnostics.label_probes import (
    binarize,
    generated_class_cross_entropy,
    latent_svm_error,
    split_labelled,
    train_digit_classifier,
)
from ..models import conv_vae
from ..ops import mmd2, rbf_kernel
from ..plotting import plot_image_rows
from ..plotting.figure import save_figure, subplots
from .framework.common import encode_in_batches, fit
from .framework.judgement import claim_words, compare, difference_stderr
from .framework.stages import run_all_stages
from .infovae_setup import ConvInfoVAESettings, infovae_objectives

CLAIM = (
    "InfoVAE (MMD, Stein, adversarial) matches q(z) to p(z) better than the ELBO and an "
    "autoencoder, converges faster and more stably in MMD, generates classes in better "
    "proportion, and its latents are as good for semi-supervised learning"
)
PAPER = "Zhao, Song, Ermon 2019, Fig. 6"


@dataclass(frozen=True)
class Config(ConvInfoVAESettings):
    """Latent sizes ``z_dims``; the training settings of :class:`ConvInfoVAESettings`
    (``n_train``, ``steps``, ``batch_size``, ``channels``, ``hidden``, ``decoder``, α, λ);
    held-out MMD² on ``n_eval`` test images every
    ``evaluate_every`` steps; final metrics on ``n_test`` random test images; the digit
    classifier trained ``classifier_epochs`` on the labelled set minus ``heldout_labelled``
    images; the SVM on ``n_labels`` labelled latents; ``n_generated`` samples per model.
    With ``stage_minutes`` its row says ``out_of_time`` and how many steps ran."""

    z_dims: tuple = (2, 5)
    n_test: int = 2000
    evaluate_every: int = 100
    n_eval: int = 500
    classifier_epochs: int = 5
    heldout_labelled: int = 2000
    n_labels: int = 1000
    n_generated: int = 2000


PROFILES = {
    "quick": Config(),
    "full": Config(
        z_dims=(2, 5, 10),
        n_train=50000,
        steps=50000,
        channels=64,
        hidden=1024,
        decoder="pixelcnn",
        n_test=10000,
        evaluate_every=1000,
        n_eval=2000,
        classifier_epochs=20,
        n_generated=10000,
    ),
    # The paper's decoder family (the conditional PixelCNN) on 2 CPU cores, dim z = 5 (Table 1's
    # size): 800 steps at 32 channels and 300 samples (PixelCNN sampling: 784 passes of the net
    # on a band of 7 rows) took about 3 minutes a model, 15 for the five, on this 2-core machine.
    "cpu": Config(
        z_dims=(5,),
        n_train=50000,
        steps=800,
        channels=32,
        hidden=256,
        decoder="pixelcnn",
        n_test=2000,
        evaluate_every=100,
        n_eval=500,
        n_generated=300,
    ),
    # Minutes of one H100/H200-class GPU beside infovae-likelihood's paper profile, every stage
    # its own process under CUDA MPS (benchmarks/gpu_paper_run.sh): 10000 steps of the
    # 64-channel PixelCNN VAE are 0.33 PFLOP (32.8 GFLOP a step at batch 100), stopped at
    # stage_minutes with what the model has. Not yet run: no GPU was lent.
    "paper": Config(
        z_dims=(5,),
        n_train=50000,
        steps=10000,
        channels=64,
        hidden=1024,
        decoder="pixelcnn",
        n_test=10000,
        evaluate_every=500,
        n_eval=2000,
        classifier_epochs=20,
        n_generated=2000,
        stage_minutes=5.0,
    ),
}


def objectives(alpha=1.0, lam=1000.0):
    """(label, objective) in the order of the paper's figure, the autoencoder last."""
    return infovae_objectives(alpha, lam, autoencoder=True)


def latent_mmd2(vae, x, seed):
    """Unbiased MMD² between one draw of q(z|x) per row of ``x`` and as many prior draws."""
    generator = torch.Generator(device=x.device).manual_seed(seed)
    loc, scale = vae.encode(x)
    q = loc + scale * torch.randn(loc.shape, generator=generator, device=x.device, dtype=loc.dtype)
    p = torch.randn(q.shape, generator=generator, device=x.device, dtype=q.dtype)
    return mmd2(q, p, lambda a, b: rbf_kernel(a, b, "dim")).item()


def _labelled_data(data, seed, heldout):
    """Binarized labelled MNIST split for the classifier and for the SVM probe."""
    idx_path = data if data is None or os.path.isdir(data) else os.path.dirname(data)
    images, labels = load_mnist_idx(idx_path, "test")
    images = binarize(images, seed=seed)
    tr_x, tr_y, ho_x, ho_y = split_labelled(images, labels, heldout, seed=seed)
    frequencies = torch.bincount(labels, minlength=10).float()
    return tr_x, tr_y, ho_x, ho_y, frequencies


@functools.lru_cache(maxsize=2)
def _classifier(data, seed, heldout, epochs):
    """The labelled split, the digit classifier and what identifies it. Trained on one thread
    whatever the process's thread count, so that every stage (several processes, ``--stage``)
    scores its samples with the same weights; ``sha256`` of the weights lets :func:`assemble`
    check it."""
    tr_x, tr_y, ho_x, ho_y, frequencies = _labelled_data(data, seed, heldout)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        classifier, accuracy = train_digit_classifier(
            tr_x, tr_y, ho_x, ho_y, epochs=epochs, seed=seed
        )
    finally:
        torch.set_num_threads(threads)
    digest = hashlib.sha256()
    for value in classifier.state_dict().values():
        digest.update(value.numpy().tobytes())
    heldout_ce = generated_class_cross_entropy(classifier, ho_x, frequencies)
    facts = {
        "heldout_accuracy": accuracy,
        "cross_entropy_minimum": heldout_ce["minimum"],
        "cross_entropy_on_heldout_data": heldout_ce["cross_entropy"],
        "sha256": digest.hexdigest(),
    }
    return (tr_x, tr_y, ho_x, ho_y, frequencies), classifier, facts


@functools.lru_cache(maxsize=2)
def _images(data, n_train, n_test, seed):
    # a random test subset: the test split is ordered by class
    x_train = load_binarized_mnist(data, "train")[:n_train]
    return x_train, random_subset(load_binarized_mnist(data, "test"), n_test, seed)


def _stage_names(config):
    """``{stage: (z_dim, objective label)}`` in the order the models are trained."""
    return {
        f"z{d}-{label}": (d, label)
        for d in config.z_dims
        for label, _ in objectives(config.alpha, config.lam)
    }


def stages(config):
    """One stage per (latent size, objective): train, then measure q(z), samples, SVM."""
    return list(_stage_names(config))


def run_stage(config, stage, out, device="cpu", seed=0, data=None, progress=False):
    """Train one model and measure it: MMD², aggregate log det, class cross entropy of its
    samples (the shared digit classifier), SVM error on its latent means."""
    cfg = config
    z_dim, label = _stage_names(cfg)[stage]
    objective = dict(objectives(cfg.alpha, cfg.lam))[label]
    x_train, x_test = _images(data, cfg.n_train, cfg.n_test, seed)
    labelled, classifier, classifier_facts = _classifier(
        data, seed, cfg.heldout_labelled, cfg.classifier_epochs
    )
    tr_x, tr_y, ho_x, ho_y, frequencies = labelled
    x_eval = x_test[: cfg.n_eval].to(device)
    vae = conv_vae(z_dim, cfg.channels, cfg.hidden, cfg.decoder, seed=seed)

    def evaluate(step):
        vae.eval()
        value = latent_mmd2(vae, x_eval, seed + step)
        vae.train()
        return {"eval_mmd2": value}

    result = fit(
        vae,
        x_train,
        objective,
        cfg,
        seed=seed,
        device=device,
        progress=progress,
        evaluate=evaluate,
        evaluate_every=cfg.evaluate_every,
    )
    vae = vae.eval()  # evaluated on the training device (PixelCNN sampling is 784 passes)
    with torch.no_grad():
        loc, scale = (t.cpu() for t in encode_in_batches(vae, x_test.to(device)))
        moments = aggregate_posterior_moments(loc, scale)
        means = vae.sample(cfg.n_generated, torch.Generator(device=device).manual_seed(seed))
        generated = torch.bernoulli(
            means, generator=torch.Generator(device=device).manual_seed(seed + 1)
        ).cpu()
        feats_tr = encode_in_batches(vae, tr_x[: cfg.n_labels].to(device))[0].cpu()
        feats_ho = encode_in_batches(vae, ho_x.to(device))[0].cpu()
        mmd = latent_mmd2(vae, x_test.to(device), seed)
        shown = None
        if z_dim == cfg.z_dims[-1]:  # the samples figure shows the last latent size
            shown = vae.sample(12, torch.Generator(device=device).manual_seed(seed)).cpu()
    ce = generated_class_cross_entropy(classifier, generated, frequencies)
    trajectory = [(r["step"], r["eval_mmd2"]) for r in result.history if "eval_mmd2" in r]
    row = {
        "objective": label,
        "z_dim": z_dim,
        "mmd2": mmd,
        "log_det_per_dim": moments["log_det"].item() / z_dim,
        "class_cross_entropy": ce["cross_entropy"],
        "class_cross_entropy_stderr": ce["stderr"],
        "class_cross_entropy_excess": ce["excess"],
        "generated_class_distribution": ce["generated_class_distribution"],
        "svm_error": latent_svm_error(feats_tr, tr_y[: cfg.n_labels], feats_ho, ho_y),
        "svm_test_points": int(ho_y.shape[0]),
        "mmd_trajectory": trajectory,
        "final_loss": sum(r["loss"] for r in result.history[-50:]) / min(50, len(result.history)),
        "steps_run": result.steps,
        "out_of_time": result.out_of_time,
    }
    return {
        "row": row,
        "classifier": classifier_facts,
        "samples": None if shown is None else shown.tolist(),
        "data_samples": x_test[:12].tolist() if shown is not None else None,
    }


def assemble(config, done):
    """The rows in training order, the classifier's numbers (one classifier for every stage:
    refused otherwise) and the samples of the last latent size."""
    names = stages(config)
    digests = {done[n]["classifier"]["sha256"] for n in names}
    if len(digests) > 1:
        raise ValueError(
            "the stages of this run scored their samples with different digit classifiers "
            "(another machine or library version trained it): rerun every stage in one place, "
            "or delete OUT/stages and run again"
        )
    facts = done[names[0]]["classifier"]
    results = {
        "classifier_heldout_accuracy": facts["heldout_accuracy"],
        "class_cross_entropy_minimum": facts["cross_entropy_minimum"],
        "classifier_cross_entropy_on_heldout_data": facts["cross_entropy_on_heldout_data"],
        "classifier_sha256": facts["sha256"],
        "rows": [done[n]["row"] for n in names],
    }
    samples = {}
    for n in names:
        if done[n]["samples"] is not None:
            samples.setdefault("data", done[n]["data_samples"])
            samples[done[n]["row"]["objective"]] = done[n]["samples"]
    results["samples"] = samples
    for row in results["rows"]:  # top-level numbers, for sweep summaries over seeds
        tag = f"z{row['z_dim']}_{row['objective']}"
        for key in ("mmd2", "class_cross_entropy", "svm_error"):
            results[f"{tag}_{key}"] = row[key]
    return results


def run(config, out, device="cpu", seed=0, data=None, progress=False):
    return run_all_stages(sys.modules[__name__], config, out, device, seed, data, progress)


def checks(results):
    """The orderings the paper claims, per latent size and InfoVAE divergence."""
    out = {}
    for d in results["config"]["z_dims"]:
        by = {r["objective"]: r for r in results["rows"] if r["z_dim"] == d}
        for k in (k for k in by if k.startswith("InfoVAE")):
            mine, elbo, ae = by[k], by["ELBO"], by["Autoencoder"]
            out[f"z={d} {k}: MMD² below the ELBO's"] = mine["mmd2"] < elbo["mmd2"]
            out[f"z={d} {k}: MMD² below the autoencoder's"] = mine["mmd2"] < ae["mmd2"]
            out[f"z={d} {k}: class cross entropy below the ELBO's"] = (
                mine["class_cross_entropy"] < elbo["class_cross_entropy"]
            )
            out[f"z={d} {k}: SVM error at most the ELBO's"] = mine["svm_error"] <= elbo["svm_error"]
    return out


def scale(results) -> str:
    """The size of the run, in the words a verdict needs."""
    c = results["config"]
    dims = ", ".join(map(str, c["z_dims"]))
    return (
        f"{results.get('profile', 'quick')} profile: {c['steps']} steps on {c['n_train']} images, "
        f"{c['decoder']} decoder ({c['channels']} channels), dim z {dims}, "
        f"{c['n_generated']} samples per model"
    )


def judge(results) -> str:
    """Each of Fig. 6's claims judged over the InfoVAE divergences and latent sizes, with the
    Monte Carlo error: the class cross entropy by its bootstrap standard error, the SVM error
    by its binomial one ("as good as": a tie holds); MMD² compared as measured."""
    claims = {
        "q(z) closer to p(z) than the ELBO's (MMD²)": ("mmd2", "ELBO"),
        "closer than the autoencoder's": ("mmd2", "Autoencoder"),
        "classes in better proportion than the ELBO (class cross entropy)": (
            "class_cross_entropy",
            "ELBO",
        ),
        "latents as good for an SVM as the ELBO's": ("svm_error", "ELBO"),
    }
    words = []
    for claim, (key, base_label) in claims.items():
        outcomes = {}
        for d in results["config"]["z_dims"]:
            by = {r["objective"]: r for r in results["rows"] if r["z_dim"] == d}
            for label, row in by.items():
                if not label.startswith("InfoVAE"):
                    continue
                base = by[base_label]
                case = label.removeprefix("InfoVAE-") + (
                    f" (z={d})" if len(results["config"]["z_dims"]) > 1 else ""
                )
                outcomes[case] = compare(
                    row[key], base[key], _stderr(row, base, key), ties_hold=key == "svm_error"
                )
        words.append(f"{claim}: {claim_words(outcomes)}")
    return f"at the {scale(results)}: " + "; ".join(words)


def _stderr(row, base, key):
    if key == "class_cross_entropy":
        return difference_stderr(
            row.get("class_cross_entropy_stderr"), base.get("class_cross_entropy_stderr")
        )
    if key == "svm_error" and "svm_test_points" in row:
        n = row["svm_test_points"]
        return difference_stderr(
            *(math.sqrt(e * (1 - e) / n) for e in (row["svm_error"], base["svm_error"]))
        )
    return 0.0


def summary(results):
    cells = []
    for d in results["config"]["z_dims"]:
        by = {r["objective"]: r for r in results["rows"] if r["z_dim"] == d}
        cells.append(
            f"z = {d}: MMD² "
            + ", ".join(f"{k} {r['mmd2']:.4f}" for k, r in by.items())
            + "; class cross entropy "
            + ", ".join(f"{k} {r['class_cross_entropy']:.3f}" for k, r in by.items())
            + "; SVM error "
            + ", ".join(f"{k} {r['svm_error']:.3f}" for k, r in by.items())
        )
    return (
        "; ".join(cells)
        + f"; class cross entropy minimum {results['class_cross_entropy_minimum']:.3f}, "
        f"classifier held-out accuracy {results['classifier_heldout_accuracy']:.3f}"
    )


def plot(results, out):
    z_dims = results["config"]["z_dims"]
    paths = [os.path.join(out, "figure6.png"), os.path.join(out, f"samples_z{z_dims[-1]}.png")]
    _plot(results["rows"], z_dims, results["class_cross_entropy_minimum"], paths[0])
    plot_image_rows({k: torch.tensor(v) for k, v in results["samples"].items()}, paths[1])
    return paths


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

r"""Label-based probes of a VAE trained on binarized MNIST (InfoVAE, Zhao,
Song, Ermon 2019, Fig. 6).

* :func:`train_digit_classifier`: a small MLP classifier on the labelled MNIST test set (10000
  images, stochastically binarized with a fixed seed so that it sees the same kind of input as the
  VAE), split into a training part and a held-out part whose accuracy is recorded.
* :func:`generated_class_cross_entropy`: with :math:`\hat p(c) = \frac1n\sum_i p(c \mid \tilde x_i)`
  the classifier's class distribution over generated samples :math:`\tilde x_i` and :math:`u(c)` the
  class frequencies of the labelled set, the cross entropy
  :math:`H(u, \hat p) = -\sum_c u(c)\log\hat p(c)`. Its minimum, :math:`H(u)\approx\log 10`, is
  reached when the model generates every digit as often as the data has it; missing or
  over-represented classes raise it.
* :func:`latent_svm_error`: semi-supervised error -- an RBF support vector machine fitted to the
  latent means of a few labelled images (1000 in the paper), its error on other labelled images.
"""

import torch
from torch import nn


def binarize(images: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """Stochastic binarization x ~ Bernoulli(grey level), reproducible through ``seed``."""
    generator = torch.Generator().manual_seed(seed)
    return torch.bernoulli(images, generator=generator)


def split_labelled(images, labels, n_heldout: int, seed: int = 0):
    """A fixed random split of labelled data into (train images, train labels, held-out ...)."""
    perm = torch.randperm(images.shape[0], generator=torch.Generator().manual_seed(seed))
    tr, ho = perm[n_heldout:], perm[:n_heldout]
    return images[tr], labels[tr], images[ho], labels[ho]


def train_digit_classifier(
    images,
    labels,
    heldout_images,
    heldout_labels,
    epochs: int = 10,
    hidden: int = 512,
    seed: int = 0,
):
    """An MLP 784-hidden-10 trained with Adam; returns (classifier in eval
    mode, held-out accuracy)."""
    torch.manual_seed(seed)
    net = nn.Sequential(
        nn.Linear(images.shape[1], hidden), nn.ReLU(), nn.Dropout(0.2), nn.Linear(hidden, 10)
    )
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    generator = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        for idx in torch.randperm(images.shape[0], generator=generator).split(128):
            opt.zero_grad()
            nn.functional.cross_entropy(net(images[idx]), labels[idx]).backward()
            opt.step()
    net.eval()
    with torch.no_grad():
        accuracy = (net(heldout_images).argmax(-1) == heldout_labels).float().mean().item()
    return net, accuracy


@torch.no_grad()
def generated_class_cross_entropy(
    classifier, samples: torch.Tensor, class_frequencies: torch.Tensor, bootstrap: int = 200
) -> dict:
    """H(u, p̂) of the classes of generated ``samples`` (n, 784) against ``class_frequencies`` u,
    with ``stderr``: the standard deviation of H over ``bootstrap`` resamples of the samples
    (seed 0; 0 resamples: ``None``), the Monte Carlo error that comparing two models needs."""
    probs = torch.softmax(classifier(samples.reshape(samples.shape[0], -1)), -1)
    p_hat = probs.mean(0)
    u = class_frequencies / class_frequencies.sum()
    cross_entropy = -(u * p_hat.clamp_min(1e-12).log()).sum().item()
    entropy = -(u * u.clamp_min(1e-12).log()).sum().item()
    stderr = None
    if bootstrap:
        generator = torch.Generator().manual_seed(0)
        rows = torch.randint(probs.shape[0], (bootstrap, probs.shape[0]), generator=generator)
        resampled = probs.cpu()[rows].mean(1)  # (bootstrap, classes)
        values = -(u.cpu() * resampled.clamp_min(1e-12).log()).sum(-1)
        stderr = values.std().item()
    return {
        "cross_entropy": cross_entropy,
        "stderr": stderr,
        "minimum": entropy,
        "excess": cross_entropy - entropy,
        "generated_class_distribution": p_hat.tolist(),
    }


def latent_svm_error(train_features, train_labels, test_features, test_labels) -> float:
    """Test error of an RBF SVM (scikit-learn ``SVC``, features standardized) on latent features."""
    try:
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler
        from sklearn.svm import SVC
    except ImportError as err:  # pragma: no cover - scikit-learn is an install requirement
        raise ImportError(
            "the semi-supervised probe needs scikit-learn: pip install scikit-learn"
        ) from err
    svm = make_pipeline(StandardScaler(), SVC(kernel="rbf", C=10.0, gamma="scale"))
    svm.fit(train_features.cpu().numpy(), train_labels.cpu().numpy())
    accuracy = svm.score(test_features.cpu().numpy(), test_labels.cpu().numpy())
    return 1.0 - float(accuracy)

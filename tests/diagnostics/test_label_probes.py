"""The label-based probes of infovae-comparison: class cross entropy, digit
classifier, SVM on latents."""

import math

import pytest
import torch

from pyrovae.diagnostics.label_probes import (
    binarize,
    generated_class_cross_entropy,
    latent_svm_error,
    split_labelled,
    train_digit_classifier,
)

pytest.importorskip("sklearn")


class FixedClassifier(torch.nn.Module):
    """Puts all probability on the class stored in the first pixel."""

    def forward(self, x):
        return torch.nn.functional.one_hot(x[:, 0].long(), 10).float() * 50.0


def test_cross_entropy_is_minimal_when_generated_classes_match_the_data():
    u = torch.full((10,), 100.0)
    balanced = torch.arange(10).repeat(20).float().unsqueeze(-1).expand(-1, 784)
    r = generated_class_cross_entropy(FixedClassifier(), balanced, u)
    assert r["minimum"] == pytest.approx(math.log(10), abs=1e-6)
    assert r["cross_entropy"] == pytest.approx(math.log(10), abs=1e-4)
    only_two = torch.tensor([3.0, 7.0]).repeat(100).unsqueeze(-1).expand(-1, 784)
    r2 = generated_class_cross_entropy(FixedClassifier(), only_two, u)
    # 8 classes never generated: p̂ = e^-50-ish there, so the excess is large
    assert r2["excess"] > 5.0
    assert sum(r2["generated_class_distribution"]) == pytest.approx(1.0, abs=1e-5)


def test_cross_entropy_stderr_matches_its_spread_over_independent_sample_sets():
    """The bootstrap standard error from one set of 300 samples is within 25% of the standard
    deviation of H(u, p̂) over 400 independent sets (classes drawn with probabilities q ≠ u;
    seed 0): what a comparison of two models' cross entropies can rely on."""
    u = torch.full((10,), 1.0)
    q = torch.linspace(1.0, 2.0, 10)
    g = torch.Generator().manual_seed(0)

    def sample_set():
        classes = torch.multinomial(q, 300, replacement=True, generator=g).float()
        return classes.unsqueeze(-1).expand(-1, 784)

    spread = (
        torch.tensor(
            [
                generated_class_cross_entropy(FixedClassifier(), sample_set(), u, 0)[
                    "cross_entropy"
                ]
                for _ in range(400)
            ]
        )
        .std()
        .item()
    )
    r = generated_class_cross_entropy(FixedClassifier(), sample_set(), u)
    assert r["stderr"] == pytest.approx(spread, rel=0.25)
    assert generated_class_cross_entropy(FixedClassifier(), sample_set(), u, 0)["stderr"] is None


def test_classifier_and_svm_learn_separable_synthetic_digits():
    g = torch.Generator().manual_seed(0)
    labels = torch.randint(0, 10, (3000,), generator=g)
    prototypes = torch.rand(10, 784, generator=g)
    images = binarize(prototypes[labels] * 0.8 + 0.1, seed=1)
    tr_x, tr_y, ho_x, ho_y = split_labelled(images, labels, 500, seed=0)
    assert len(tr_x) == 2500 and len(ho_x) == 500
    _, accuracy = train_digit_classifier(tr_x, tr_y, ho_x, ho_y, epochs=3)
    assert accuracy > 0.95
    features = prototypes[labels][:, :5] + 0.01 * torch.randn(3000, 5, generator=g)
    assert latent_svm_error(features[:1000], labels[:1000], features[1000:], labels[1000:]) < 0.05
    noise = torch.randn(3000, 5, generator=g)
    assert latent_svm_error(noise[:1000], labels[:1000], noise[1000:], labels[1000:]) > 0.8

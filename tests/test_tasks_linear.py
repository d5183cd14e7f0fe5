"""Linear heads on features built to have a known answer; Transfer Init; average precision by hand."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from catlip_bench.backbone import SynsetHead
from catlip_bench.tasks.linear import (
    LinearHead,
    average_precision,
    fit_linear_head,
    mean_average_precision,
    select_weight_decay,
    top1,
)
from catlip_bench.tasks.vocab import matched_rows, transfer_init_head

CLASSES, DIM = 10, 32


def _clusters(n_per_class: int, seed: int, spread: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Class c sits at 3·e_c (+ an offset shared by all) with isotropic noise of std `spread`."""
    generator = torch.Generator().manual_seed(seed)
    y = torch.arange(CLASSES).repeat_interleave(n_per_class)
    x = 3 * torch.eye(CLASSES, DIM)[y] + 5 + spread * torch.randn(len(y), DIM, generator=generator)
    return x, y


def test_separable_features_are_learned_perfectly():
    # margins: centres are 3·√2 ≈ 4.2 apart and the noise is 0.3, so the classes are linearly separable
    train_x, train_y = _clusters(20, seed=0, spread=0.3)
    test_x, test_y = _clusters(50, seed=1, spread=0.3)
    head = fit_linear_head(train_x, train_y, CLASSES, weight_decay=1e-3)
    assert top1(head(test_x), test_y) == 1.0


def test_random_features_stay_at_chance():
    generator = torch.Generator().manual_seed(0)
    train_x, test_x = torch.randn(2000, DIM, generator=generator), torch.randn(4000, DIM, generator=generator)
    train_y = torch.randint(0, CLASSES, (2000,), generator=generator)
    test_y = torch.randint(0, CLASSES, (4000,), generator=generator)
    head = fit_linear_head(train_x, train_y, CLASSES, weight_decay=1e-2)
    # chance is 1/10; the accuracy of 4000 independent guesses has std sqrt(.1·.9/4000) ≈ 0.005
    assert abs(top1(head(test_x), test_y) - 0.1) < 0.025


def test_prior_anchors_the_head_in_raw_feature_space():
    x, y = _clusters(5, seed=2, spread=1.0)
    x = x * torch.linspace(0.1, 10, DIM)  # very unequal feature scales: the standardisation must round-trip
    prior = LinearHead(torch.randn(CLASSES, DIM), torch.zeros(CLASSES))
    held = fit_linear_head(x, y, CLASSES, weight_decay=1e6, init=prior, prior=prior)
    assert torch.allclose(held.weight, prior.weight, atol=1e-3)
    free = fit_linear_head(x, y, CLASSES, weight_decay=1e6, init=prior)
    assert free.weight.abs().max() < 1e-3


def test_transfer_init_copies_the_matched_rows_exactly():
    weight, bias = torch.randn(6, DIM), torch.randn(6)
    head = SynsetHead(weight, bias, ["n1", "n2", "n3", "n4", "n5", "n6"], ["a", "b", "c", "d", "e", "f"])
    keys = ["n5", None, "n2", "n999"]  # two in the vocabulary, one class without a synset, one synset outside
    assert matched_rows(head, keys) == [4, None, 1, None]
    init, prior = transfer_init_head(head, keys, seed=0)
    assert torch.equal(init.weight[0], weight[4]) and torch.equal(init.bias[0], bias[4])
    assert torch.equal(init.weight[2], weight[1]) and torch.equal(init.bias[2], bias[1])
    assert torch.equal(prior.weight[[0, 2]], init.weight[[0, 2]])
    for cls in (1, 3):  # random rows (small, seeded), zero bias; the prior there is zero
        assert 0 < init.weight[cls].abs().max() < 0.1 and init.bias[cls] == 0
        assert not prior.weight[cls].any()
    assert torch.equal(transfer_init_head(head, keys, seed=0)[0].weight, init.weight)


def test_average_precision_by_hand():
    # positives ranked 1st and 3rd: precisions 1/1 and 2/3 -> AP = (1 + 2/3) / 2
    assert average_precision(np.array([0.9, 0.8, 0.7, 0.6]), np.array([1, 0, 1, 0])) == pytest.approx(5 / 6)
    # a tie at the top counts as one threshold: P = 1/2 at R = 1/2, then P = 2/3 at R = 1
    assert average_precision(np.array([0.5, 0.5, 0.2]), np.array([1, 0, 1])) == pytest.approx(0.5 * 0.5 + 0.5 * 2 / 3)
    scores = torch.tensor([[0.9, 0.1, 0.3], [0.8, 0.7, 0.2], [0.7, 0.2, 0.1], [0.6, 0.9, 0.0]])
    targets = torch.tensor([[1, 0, 0], [0, 1, 0], [1, 0, 0], [0, 0, 0]])
    # class 2 has no positive and is skipped; class 0 = 5/6 as above, class 1: its positive ranks 2nd -> 1/2
    assert mean_average_precision(scores, targets) == (pytest.approx((5 / 6 + 1 / 2) / 2), 2)


def test_weight_decay_ties_go_to_the_stronger_decay():
    scores = {1e-3: 0.5, 1e-2: 0.8, 1e-1: 0.8, 1.0: 0.4}
    best, seen = select_weight_decay(lambda wd: wd, lambda wd: scores[wd], list(scores))
    assert best == 1e-1 and seen == scores
    scores = {1e-3: 0.5, 1.0: float("nan")}
    assert select_weight_decay(lambda wd: wd, lambda wd: scores[wd], list(scores))[0] == 1e-3


def test_multilabel_head_recovers_attributes_and_random_labels_stay_at_prevalence():
    generator = torch.Generator().manual_seed(4)
    x, x_test = torch.randn(600, DIM, generator=generator), torch.randn(600, DIM, generator=generator)
    # five attributes, attribute j present when feature j > 0.5: linear, and present in ~31% of images
    attributes = (x[:, :5] > 0.5).float()
    head = fit_linear_head(x, attributes, 5, weight_decay=1e-3, multilabel=True)
    value, evaluated = mean_average_precision(head(x_test), (x_test[:, :5] > 0.5).float())
    assert evaluated == 5 and value > 0.99
    noise = (torch.rand(600, 5, generator=generator) < 0.3).float()
    test_noise = (torch.rand(600, 5, generator=generator) < 0.3).float()
    head = fit_linear_head(x, noise, 5, weight_decay=1e-1, multilabel=True)
    # a ranking unrelated to the labels has AP ≈ the prevalence (0.3), mean over 5 classes of 600 images
    assert abs(mean_average_precision(head(x_test), test_noise)[0] - 0.3) < 0.05

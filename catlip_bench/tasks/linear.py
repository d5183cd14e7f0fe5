"""Linear heads on frozen features: full-batch L-BFGS, a weight-decay search, accuracy and mAP."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

DEFAULT_WEIGHT_DECAYS = (1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0)


@dataclass
class LinearHead:
    """`logits = features @ weight.T + bias` on raw (unstandardised) pooled features."""

    weight: torch.Tensor
    bias: torch.Tensor

    def __call__(self, features: torch.Tensor) -> torch.Tensor:
        return features @ self.weight.T + self.bias


def random_head(num_classes: int, dim: int, seed: int, std: float = 0.01) -> LinearHead:
    """A seeded N(0, std²) weight and a zero bias."""
    generator = torch.Generator().manual_seed(seed)
    return LinearHead(torch.randn(num_classes, dim, generator=generator) * std, torch.zeros(num_classes))


@contextmanager
def _one_thread() -> Iterator[None]:
    """L-BFGS makes hundreds of tiny BLAS calls; on a busy CPU, waking intra-op threads for each costs more
    than it gives (measured 10x slower for a 300 x 1280 probe with 2 threads on a loaded 2-core machine)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def fit_linear_head(
    features: torch.Tensor,
    targets: torch.Tensor,
    num_classes: int,
    *,
    weight_decay: float,
    init: LinearHead | None = None,
    prior: LinearHead | None = None,
    multilabel: bool = False,
    max_iter: int = 200,
    seed: int = 0,
) -> LinearHead:
    """Fit a linear head by full-batch L-BFGS (strong-Wolfe line search, so no learning rate to tune).

    Loss: mean cross-entropy (or, `multilabel`, BCE summed over classes, mean over examples) plus
    `weight_decay / 2 * ||W - W_prior||²` on the weight in standardised feature space. `prior` defaults to
    zero (plain L2); giving the Transfer-Init rows as prior (L2-SP) keeps the solution near them, which
    matters because the problem is convex: from any `init` it converges to the same optimum.
    Features are standardised with the training mean and std; the returned head acts on raw features.
    """
    x = features.float()
    mean, std = x.mean(0), x.std(0, correction=0).clamp_min(1e-6)
    z = (x - mean) / std
    start = init or random_head(num_classes, x.shape[1], seed)
    weight = (start.weight.float() * std).clone().requires_grad_(True)
    bias = (start.bias.float() + start.weight.float() @ mean).clone().requires_grad_(True)
    anchor = prior.weight.float() * std if prior is not None else torch.zeros_like(weight)
    y = targets.float() if multilabel else targets.long()

    def loss_fn() -> torch.Tensor:
        logits = z @ weight.T + bias
        if multilabel:
            data_loss = F.binary_cross_entropy_with_logits(logits, y, reduction="sum") / len(z)
        else:
            data_loss = F.cross_entropy(logits, y)
        return data_loss + 0.5 * weight_decay * (weight - anchor).pow(2).sum()

    optimizer = torch.optim.LBFGS(
        [weight, bias], lr=1.0, max_iter=max_iter, history_size=20, line_search_fn="strong_wolfe",
        tolerance_grad=1e-6, tolerance_change=1e-9,
    )

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = loss_fn()
        loss.backward()
        return loss

    with torch.enable_grad(), _one_thread():
        optimizer.step(closure)
    raw_weight = weight.detach() / std
    return LinearHead(raw_weight, bias.detach() - raw_weight @ mean)


def top1(logits: torch.Tensor, targets: torch.Tensor) -> float:
    """Share of rows whose arg-max is the target."""
    return float((logits.argmax(1) == targets).float().mean()) if len(targets) else float("nan")


def average_precision(scores: np.ndarray, positives: np.ndarray) -> float:
    """AP = Σ (R_n − R_{n−1}) P_n over distinct score thresholds (ties grouped, as scikit-learn does)."""
    order = np.argsort(-scores, kind="stable")
    scores, positives = scores[order], positives[order].astype(bool)
    last_of_run = np.r_[np.flatnonzero(np.diff(scores)), len(scores) - 1]
    true_pos = np.cumsum(positives)[last_of_run]
    precision = true_pos / (last_of_run + 1)
    recall = true_pos / true_pos[-1]
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def mean_average_precision(scores: torch.Tensor, targets: torch.Tensor) -> tuple[float, int]:
    """(mAP over the classes that have a positive, how many classes that is)."""
    s, t = scores.detach().cpu().numpy(), targets.cpu().numpy().astype(bool)
    present = np.flatnonzero(t.any(0))
    if not len(present):
        return float("nan"), 0
    return float(np.mean([average_precision(s[:, c], t[:, c]) for c in present])), len(present)


def select_weight_decay(
    fit: Callable[[float], LinearHead],
    score: Callable[[LinearHead], float],
    grid: Sequence[float],
) -> tuple[float, dict[float, float]]:
    """The grid value whose head scores best on validation (ties go to the stronger decay; a NaN score, e.g.
    mAP on a validation split without positives, never wins), and all scores."""
    scores = {float(wd): score(fit(float(wd))) for wd in grid}
    best = max(sorted(scores, reverse=True), key=lambda wd: -np.inf if np.isnan(scores[wd]) else scores[wd])
    return best, scores

"""Linear probes on frozen, cached features: full-data probe, k-shot sweeps, multi-label mAP.

Parameters (besides those of `catlip_bench.tasks.common`):
- linear_probe / multilabel: `weight_decays` (the grid searched on a validation split, default
  1e-4 … 10), `val_fraction` (of train, stratified for single-label; default 0.2).
- fewshot: `shots` (list of ints and "all"; default [1, 2, 5, 10, "all"]), `init` (`random` or
  `transfer_init`), `weight_decay` (fixed: a 1-shot sample leaves nothing to validate on; default 1e-2).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from catlip_bench.data.classification import sample_per_class, stratified_split
from catlip_bench.errors import CatlipBenchError
from catlip_bench.specs import Metric, TaskContext
from catlip_bench.tasks.common import chance_top1, check_params, class_keys, features, labels, load_data
from catlip_bench.tasks.linear import (
    DEFAULT_WEIGHT_DECAYS,
    LinearHead,
    fit_linear_head,
    mean_average_precision,
    select_weight_decay,
    top1,
)
from catlip_bench.tasks.vocab import coverage_metric, matched_rows, synset_head, transfer_init_head

DEFAULT_SHOTS = (1, 2, 5, 10, "all")
FEWSHOT_WEIGHT_DECAY = 1e-2
INITS = ("random", "transfer_init")
SEARCH_PARAMS = ("weight_decays", "val_fraction")
FEWSHOT_PARAMS = ("shots", "init", "weight_decay")


def _grid(params: dict[str, Any]) -> list[float]:
    grid = params.get("weight_decays", DEFAULT_WEIGHT_DECAYS)
    if isinstance(grid, (int, float)):
        grid = [grid]
    try:
        values = [float(v) for v in grid]
    except (TypeError, ValueError):
        raise CatlipBenchError(f"params.weight_decays must be a list of numbers, got {grid!r}") from None
    if not values or min(values) < 0:
        raise CatlipBenchError(f"params.weight_decays must be non-negative numbers, got {grid!r}")
    return values


def _searched_head(
    train_x: torch.Tensor, train_y: torch.Tensor, num_classes: int, params: dict[str, Any], seed: int,
    *, multilabel: bool,
) -> tuple[LinearHead, dict[str, Any]]:
    """Pick the weight decay on a validation split carved from train, then refit on all of train."""
    fraction = float(params.get("val_fraction", 0.2))
    if multilabel:
        order = np.random.default_rng(seed).permutation(len(train_y))
        cut = max(1, round(len(order) * fraction))
        held, kept = np.sort(order[:cut]), np.sort(order[cut:])
    else:
        kept, held = stratified_split(train_y.numpy(), fraction, seed)
    if not len(held) or not len(kept):
        raise CatlipBenchError(f"too few training images ({len(train_y)}) to carve a validation split")
    kept_t, held_t = torch.from_numpy(kept), torch.from_numpy(held)

    def fit(wd: float, x: torch.Tensor = train_x[kept_t], y: torch.Tensor = train_y[kept_t]) -> LinearHead:
        return fit_linear_head(x, y, num_classes, weight_decay=wd, multilabel=multilabel, seed=seed)

    def score(head: LinearHead) -> float:
        logits = head(train_x[held_t])
        return mean_average_precision(logits, train_y[held_t])[0] if multilabel else top1(logits, train_y[held_t])

    best, scores = select_weight_decay(fit, score, _grid(params))
    head = fit(best, train_x, train_y)
    return head, {"weight_decay": best, "val_scores": scores, "val_images": len(held)}


def linear_probe(ctx: TaskContext) -> list[Metric]:
    """Top-1 of a linear head on frozen pooled features, weight decay chosen on a validation split."""
    check_params(ctx, "linear_probe", SEARCH_PARAMS)
    data = load_data(ctx)
    train_x, train_y = features(ctx, data, "train"), labels(data, "train")
    head, extra = _searched_head(train_x, train_y, len(data.class_names), ctx.params, ctx.seed, multilabel=False)
    accuracy = top1(head(features(ctx, data, "test")), labels(data, "test"))
    return [Metric("top1", accuracy, n_train=len(train_y), extra={**extra, "chance": chance_top1(data)})]


def _shots(params: dict[str, Any]) -> list[int | str]:
    shots = params.get("shots", DEFAULT_SHOTS)
    if not isinstance(shots, Sequence) or isinstance(shots, str) or not shots or not all(
        s == "all" or (isinstance(s, int) and not isinstance(s, bool) and s > 0) for s in shots
    ):
        raise CatlipBenchError(f"params.shots must be a list of positive integers and/or 'all', got {shots!r}")
    return list(shots)


def fewshot(ctx: TaskContext) -> list[Metric]:
    """Top-1 with k training images per class for every k in `shots` (one row each, `shots=k`).

    `init: transfer_init` starts matched classes from the CatLIP head's synset rows and keeps them as the
    L2 anchor (see `fit_linear_head`), and adds a `coverage` row. A k larger than the smallest class is
    skipped with a warning.
    """
    check_params(ctx, "fewshot", FEWSHOT_PARAMS)
    init_mode = ctx.params.get("init", "random")
    if init_mode not in INITS:
        raise CatlipBenchError(f"params.init must be one of {', '.join(INITS)}, got {init_mode!r}")
    weight_decay = float(ctx.params.get("weight_decay", FEWSHOT_WEIGHT_DECAY))
    data = load_data(ctx)
    num_classes = len(data.class_names)
    init = prior = None
    rows: list[Metric] = []
    if init_mode == "transfer_init":
        head = synset_head(ctx.backbone, ctx.backbone_name, "fewshot with init: transfer_init")
        keys = class_keys(data)
        init, prior = transfer_init_head(head, keys, ctx.seed)
        rows.append(coverage_metric(data.class_names, matched_rows(head, keys)))
    train_x, train_y = features(ctx, data, "train"), labels(data, "train")
    test_x, test_y = features(ctx, data, "test"), labels(data, "test")
    smallest = int(np.bincount(train_y.numpy(), minlength=num_classes).min())
    extra = {"init": init_mode, "weight_decay": weight_decay, "chance": chance_top1(data), "classes": num_classes}
    for k in _shots(ctx.params):
        if k != "all" and k > smallest:
            warnings.warn(f"fewshot on {data.name}: skipping k={k}, its smallest class has {smallest} training images",
                          stacklevel=2)
            continue
        chosen = torch.arange(len(train_y)) if k == "all" else torch.from_numpy(sample_per_class(train_y.numpy(), k, ctx.seed))
        head = fit_linear_head(
            train_x[chosen], train_y[chosen], num_classes, weight_decay=weight_decay, init=init, prior=prior,
            seed=ctx.seed,
        )
        rows.append(Metric(
            "top1", top1(head(test_x), test_y), shots=None if k == "all" else k, n_train=len(chosen),
            extra={**extra, "shots": k},
        ))
    return rows


def multilabel(ctx: TaskContext) -> list[Metric]:
    """mAP over classes of a linear head trained with BCE on frozen features (weight decay searched)."""
    check_params(ctx, "multilabel", SEARCH_PARAMS)
    data = load_data(ctx, multilabel=True)
    train_x, train_y = features(ctx, data, "train"), labels(data, "train")
    head, extra = _searched_head(train_x, train_y, len(data.class_names), ctx.params, ctx.seed, multilabel=True)
    test_y = labels(data, "test")
    value, evaluated = mean_average_precision(head(features(ctx, data, "test")), test_y)
    present = test_y[:, test_y.bool().any(0)]
    chance = float(present.mean()) if evaluated else float("nan")
    return [Metric("mAP", value, n_train=len(train_y), extra={**extra, "classes_evaluated": evaluated, "chance": chance})]

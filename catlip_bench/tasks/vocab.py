"""Using a CatLIP head's synset rows: Transfer Init of a downstream head, and vocabulary zero-shot."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from catlip_bench.backbone import Backbone, SynsetHead
from catlip_bench.errors import CatlipBenchError
from catlip_bench.specs import Metric, TaskContext
from catlip_bench.tasks.common import chance_top1, check_params, class_keys, features, labels, load_data
from catlip_bench.tasks.linear import LinearHead, random_head


def synset_head(backbone: Backbone, backbone_name: str, task: str) -> SynsetHead:
    """The backbone's CatLIP head; a backbone without one is a one-line error."""
    if backbone.synset_head is None:
        raise CatlipBenchError(
            f"{task} needs a classifier over synsets, and backbone {backbone_name!r} has none: "
            "use a CatLIP checkpoint (e.g. catlip-vit-tiny-demo) or a backbone whose card brings a synset_head"
        )
    return backbone.synset_head


def matched_rows(head: SynsetHead, keys: Sequence[str | None]) -> list[int | None]:
    """For each class, the row of its synset in `head`, or None when it has no synset or the vocabulary lacks it."""
    index = {key: row for row, key in enumerate(head.keys)}
    return [index.get(key) if key else None for key in keys]


def transfer_init_head(head: SynsetHead, keys: Sequence[str | None], seed: int) -> tuple[LinearHead, LinearHead]:
    """(init, prior) for a downstream head: matched classes get their synset's weight row and bias copied
    from `head`; the others a seeded random row (init) and zero (prior)."""
    rows = matched_rows(head, keys)
    init = random_head(len(keys), head.weight.shape[1], seed)
    prior = LinearHead(torch.zeros_like(init.weight), torch.zeros_like(init.bias))
    for target in (init, prior):
        for cls, row in enumerate(rows):
            if row is not None:
                target.weight[cls] = head.weight[row].float()
                target.bias[cls] = head.bias[row].float()
    return init, prior


def coverage_metric(class_names: Sequence[str], rows: Sequence[int | None]) -> Metric:
    """`coverage` = matched / total classes, with the unmatched names kept in `extra`."""
    matched = sum(row is not None for row in rows)
    unmatched = [name for name, row in zip(class_names, rows, strict=True) if row is None]
    return Metric("coverage", matched / len(rows), extra={"matched": matched, "classes": len(rows), "unmatched": unmatched})


def zeroshot_vocab(ctx: TaskContext) -> list[Metric]:
    """Predict with the CatLIP head restricted to the rows of the classes' synsets; no training.

    `top1` counts every test image (a class without a synset is never predicted); `top1_matched` only the
    images of matched classes; `coverage` is matched / total classes.
    """
    check_params(ctx, "zeroshot_vocab")
    head = synset_head(ctx.backbone, ctx.backbone_name, "zeroshot_vocab")
    data = load_data(ctx)
    rows = matched_rows(head, class_keys(data))
    classes = [cls for cls, row in enumerate(rows) if row is not None]
    coverage = coverage_metric(data.class_names, rows)
    if not classes:
        return [Metric("top1", 0.0, extra={"chance": chance_top1(data)}), coverage]
    picked = torch.tensor([rows[cls] for cls in classes])
    test_x, test_y = features(ctx, data, "test"), labels(data, "test")
    logits = test_x @ head.weight[picked].float().T + head.bias[picked].float()
    predicted = torch.tensor(classes)[logits.argmax(1)]
    hits = (predicted == test_y).float()
    in_vocab = torch.isin(test_y, torch.tensor(classes))
    extra = {"chance": chance_top1(data), "test_images": len(test_y)}
    return [
        Metric("top1", float(hits.mean()), extra=extra),
        Metric("top1_matched", float(hits[in_vocab].mean()) if in_vocab.any() else float("nan"),
               extra={"chance": 1.0 / len(classes), "test_images": int(in_vocab.sum())}),
        coverage,
    ]

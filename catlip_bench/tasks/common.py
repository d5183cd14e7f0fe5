"""What the classification tasks share: loading the unit's data, cached features, class → synset keys.

Task parameters (the suite's `params`) read here: `max_train`, `max_test` (class-balanced subsample, passed to
the dataset's `load`), `data` (any other `load` options, e.g. `{path: ...}` for image-folder), and for feature
extraction `batch_size` (default 64) and `num_workers` (image-decoding DataLoader workers, default 0).
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Iterable
from typing import Any

import torch

from catlip_bench.data.types import ClassificationData, LabelledImages
from catlip_bench.errors import CatlipBenchError
from catlip_bench.features import cached_features
from catlip_bench.labels import match_class_names
from catlip_bench.specs import TaskContext

LOAD_OPTIONS = ("max_train", "max_test")
COMMON_PARAMS = (*LOAD_OPTIONS, "data", "batch_size", "num_workers")


def check_params(ctx: TaskContext, task: str, own: Iterable[str] = ()) -> None:
    """A parameter the task does not read is an error naming it (a typo would otherwise pass silently)."""
    allowed = (*COMMON_PARAMS, *own)
    for key in ctx.params:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), allowed, n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"{task} reads {', '.join(allowed)}"
            raise CatlipBenchError(f"{task}: unknown parameter {key!r}: {hint}")


def load_data(ctx: TaskContext, *, multilabel: bool = False) -> ClassificationData:
    """The unit's dataset, loaded with the suite's options; the wrong kind of data is a one-line error."""
    options: dict[str, Any] = {k: ctx.params[k] for k in LOAD_OPTIONS if k in ctx.params}
    options.update(ctx.params.get("data") or {})
    try:
        inspect.signature(ctx.dataset.load).bind(**options)
    except TypeError as error:
        raise CatlipBenchError(f"dataset {ctx.dataset.name!r} does not take options {sorted(options)}: {error}") from None
    data = ctx.dataset.load(**options)
    if not isinstance(data, ClassificationData):
        raise CatlipBenchError(f"dataset {ctx.dataset.name!r} ({ctx.dataset.kind}) does not load classification data")
    if data.multilabel and not multilabel:
        raise CatlipBenchError(f"dataset {ctx.dataset.name!r} is multi-label: evaluate it with the multilabel task")
    if multilabel and not data.multilabel:
        raise CatlipBenchError(f"dataset {ctx.dataset.name!r} is single-label: the multilabel task needs multi-hot "
                               "labels (e.g. tuxpaint-multilabel)")
    if not len(data.train) and not len(data.test):
        raise CatlipBenchError(f"dataset {ctx.dataset.name!r} loaded no images")
    return data


def features(ctx: TaskContext, data: ClassificationData, split: str) -> torch.Tensor:
    """Pooled features of the `split` ('train' or 'test') images, cached on disk."""
    images: LabelledImages = getattr(data, split)
    return cached_features(
        ctx.backbone, images, dataset=data.name, split=split, device=ctx.device,
        batch_size=int(ctx.params.get("batch_size", 64)), num_workers=int(ctx.params.get("num_workers", 0)),
        progress=ctx.progress,
    )


def labels(data: ClassificationData, split: str) -> torch.Tensor:
    """Labels of a split as a tensor: int64 [N], or float multi-hot [N, C]."""
    values = torch.as_tensor(getattr(data, split).labels)
    return values.float() if data.multilabel else values.long()


def class_keys(data: ClassificationData) -> list[str | None]:
    """Each class's synset key ("n2084071"): the dataset's own `class_synsets` when it has them, else
    `catlip_bench.labels.match_class_names` on the class names."""
    if len(data.class_synsets) == len(data.class_names) and any(data.class_synsets):
        return list(data.class_synsets)
    return [match.key for match in match_class_names(data.class_names)]


def chance_top1(data: ClassificationData) -> float:
    """Top-1 of guessing a class uniformly at random."""
    return 1.0 / len(data.class_names)

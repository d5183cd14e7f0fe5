"""Transfer tasks (a built-in plugin): linear probe, k-shot sweeps, vocabulary zero-shot, multi-label mAP.

Each task takes a `TaskContext` and returns metric rows; chance depends on the dataset (1/C for top-1, the
mean class prevalence for mAP), so every row carries it in `extra["chance"]`.
"""

from __future__ import annotations

from catlip_bench.hookspecs import hookimpl
from catlip_bench.specs import TaskSpec
from catlip_bench.tasks.probe import fewshot, linear_probe, multilabel
from catlip_bench.tasks.vocab import zeroshot_vocab

TASKS = (
    TaskSpec(
        "linear_probe", linear_probe, "top1",
        "frozen features, L-BFGS linear head, weight decay searched on a validation split; top-1 on test",
    ),
    TaskSpec(
        "fewshot", fewshot, "top1",
        "k images per class for k in params.shots; head init random or transfer_init (CatLIP synset rows)",
    ),
    TaskSpec(
        "zeroshot_vocab", zeroshot_vocab, "top1",
        "no training: the CatLIP head restricted to the classes' synsets; top-1 and coverage",
    ),
    TaskSpec(
        "multilabel", multilabel, "mAP",
        "frozen features, linear head trained with BCE, weight decay searched; mAP over classes",
        dataset_kinds=("multilabel",),
    ),
)


@hookimpl
def register_tasks(register) -> None:
    """Built-in tasks."""
    for spec in TASKS:
        register(spec)

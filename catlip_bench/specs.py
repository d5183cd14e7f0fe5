"""What plugins register: one small dataclass per extension point."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from catlip_bench.backbone import Backbone


@dataclass(frozen=True)
class BackboneSpec:
    """A named vision encoder. `build()` returns a ready `Backbone` (weights loaded, card filled).

    When `weights` is missing and `trainer`/`recipe` are set, the suite runner pre-trains it first
    (the recipe's YAML updated with `overrides`) into `weights`' folder.
    """

    name: str
    build: Callable[[], Backbone]
    description: str = ""
    pretraining: str = "none"
    weights: Path | None = None
    trainer: str | None = None
    recipe: Path | None = None
    overrides: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Metric:
    """One number a task measured. `shots`/`n_train` describe the training data it saw."""

    name: str
    value: float
    shots: int | None = None
    n_train: int | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class TaskContext:
    """Everything a task run gets: the built backbone, the dataset, the unit's parameters."""

    backbone: Backbone
    backbone_name: str
    dataset: DatasetSpec
    params: dict[str, Any]
    seed: int
    device: str
    work_dir: Path
    progress: Callable[[str, int], Any] | None = None


@dataclass(frozen=True)
class TaskSpec:
    """An evaluation: `run(ctx)` returns metric rows; `main_metric` is what leaderboards rank by."""

    name: str
    run: Callable[[TaskContext], list[Metric]]
    main_metric: str
    description: str = ""
    higher_is_better: bool = True
    chance: float | None = None
    protocol_version: str = "1"
    dataset_kinds: tuple[str, ...] = ("classification",)


@dataclass(frozen=True)
class DatasetSpec:
    """Data of one `kind` (classification, multilabel, detection, segmentation, captions).

    `load(**options)` returns the kind's object; it raises CatlipBenchError naming the set-up command
    when the files are missing. `prepare()` builds the files once into the cache (idempotent, offline
    apart from the package registries); `catlip-bench data prepare` calls it.
    """

    name: str
    kind: str
    load: Callable[..., Any]
    description: str = ""
    source: str = ""
    prepare: Callable[[], Any] | None = None
    composite: bool = False


@dataclass(frozen=True)
class TrainerSpec:
    """A pre-training method: `train(config, out_dir, resume)` writes and returns a checkpoint path."""

    name: str
    train: Callable[[dict[str, Any], Path, bool], Path]
    description: str = ""


@dataclass(frozen=True)
class SuiteSpec:
    """A versioned YAML suite file."""

    name: str
    path: Path
    description: str = ""


@dataclass(frozen=True)
class ExporterSpec:
    """A leaderboard format: `export(frame)` turns the leaderboard table into text."""

    name: str
    export: Callable[[pd.DataFrame], str]
    description: str = ""
    suffix: str = ".txt"

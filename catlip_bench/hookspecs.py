"""The hooks a catlip-bench plugin can implement; each receives a `register` callback."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pluggy

hookspec = pluggy.HookspecMarker("catlip_bench")
hookimpl = pluggy.HookimplMarker("catlip_bench")

Register = Callable[[Any], None]


@hookspec
def register_backbones(register: Register) -> None:
    """Register BackboneSpec objects: vision encoders that tasks can evaluate."""


@hookspec
def register_tasks(register: Register) -> None:
    """Register TaskSpec objects: evaluations that turn a backbone and a dataset into metric rows."""


@hookspec
def register_datasets(register: Register) -> None:
    """Register DatasetSpec objects: data that tasks and trainers read."""


@hookspec
def register_trainers(register: Register) -> None:
    """Register TrainerSpec objects: pre-training recipes that write backbone checkpoints."""


@hookspec
def register_suites(register: Register) -> None:
    """Register SuiteSpec objects: versioned YAML files of backbones x tasks x datasets."""


@hookspec
def register_exporters(register: Register) -> None:
    """Register ExporterSpec objects: leaderboard formats (csv, md, json, ...)."""

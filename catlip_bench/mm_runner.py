"""What the MMDetection and MMSegmentation plugins share: config templates, an mmengine Runner that trains a
detector/segmentor on a built catlip-bench backbone, and weights-only checkpoints.

This module imports mmengine (never mmcv, mmdet or mmseg) and only the mm plugins import it, so the core runs
without any of them installed.
"""

from __future__ import annotations

import builtins
import copy
import difflib
import inspect
import os
import pickle
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch
from mmengine.config import Config, ConfigDict
from mmengine.hooks import Hook
from mmengine.logging import HistoryBuffer
from mmengine.registry import Registry, init_default_scope
from mmengine.runner import Runner

from catlip_bench.backbone import Backbone
from catlip_bench.dense import layer_decay_rules
from catlip_bench.errors import CatlipBenchError
from catlip_bench.paths import configs_dir
from catlip_bench.specs import TaskContext

DENSE_PARAMS = ("config", "options", "max_iters", "data")
RUNNER_KEYS = (
    "train_dataloader", "val_dataloader", "train_cfg", "val_cfg", "optim_wrapper", "param_scheduler",
    "auto_scale_lr", "val_evaluator", "default_hooks", "env_cfg", "log_processor", "log_level",
    "visualizer", "default_scope",
)
# Where the SimpleFeaturePyramid's backbone sits in an mmdet detector / mmseg segmentor.
BACKBONE_PREFIX = "backbone.backbone."
HISTORY_BUFFER_METHODS = ("min", "max", "current", "mean")


def load_template(area: str, name: str) -> Config:
    """`configs/<area>/<name>.py` as an mmengine Config; an unknown name lists the templates there."""
    folder = configs_dir() / area
    path = folder / f"{name}.py"
    if not path.is_file():
        known = sorted(p.stem for p in folder.glob("*.py") if not p.stem.startswith("_"))
        raise CatlipBenchError(f"no {area} config {name!r} in {folder}: choose one of {', '.join(known) or 'none'}")
    return Config.fromfile(str(path))


def load_dataset(ctx: TaskContext) -> Any:
    """The unit's dataset, loaded with the suite's `params.data` options (e.g. `{root: /data/coco}`)."""
    options = dict(ctx.params.get("data") or {})
    try:
        inspect.signature(ctx.dataset.load).bind(**options)
    except TypeError as error:
        raise CatlipBenchError(f"dataset {ctx.dataset.name!r} does not take options {sorted(options)}: {error}") from None
    return ctx.dataset.load(**options)


def task_config(area: str, params: Mapping[str, Any], default: str,
                configure: Callable[[Config], None] | None = None) -> Config:
    """The config a dense task unit asks for: the template `params["config"]` (default `default`), filled in
    by the task's `configure`, then the unit's `options` (dotted overrides, e.g. {"train_cfg.val_interval":
    50}; they win over what the task filled in) and `max_iters` (the schedule's length: LR phases that ended
    at the template's last iteration end at the new one, shorter ones are cut to it, milestones scale)."""
    for key in params:
        if key not in DENSE_PARAMS:
            close = difflib.get_close_matches(str(key), DENSE_PARAMS, n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"known: {', '.join(DENSE_PARAMS)}"
            raise CatlipBenchError(f"{area}: unknown parameter {key!r}: {hint}")
    cfg = load_template(area, str(params.get("config", default)))
    if configure is not None:
        configure(cfg)
    if params.get("options"):
        cfg.merge_from_dict(dict(params["options"]))
    if "max_iters" in params:
        old, new = int(cfg.train_cfg.max_iters), int(params["max_iters"])
        if new < 1:
            raise CatlipBenchError(f"max_iters must be at least 1, got {new}")
        cfg.train_cfg.max_iters = new
        if cfg.train_cfg.get("val_interval", old) >= old:  # validation only at the end: keep it so
            cfg.train_cfg.val_interval = new
        phases = cfg.get("param_scheduler") or []
        for phase in [phases] if isinstance(phases, Mapping) else phases:
            end = phase.get("end", old)
            phase.end = new if end == old else min(end, new)
            if "milestones" in phase:
                phase.milestones = [round(step * new / old) for step in phase.milestones]
    return cfg


def pixel_normalisation(backbone: Backbone) -> dict[str, list[float]]:
    """The backbone's mean/std on the 0-255 scale of mm data preprocessors."""
    return {"mean": [255.0 * v for v in backbone.mean], "std": [255.0 * v for v in backbone.std]}


def _history_buffer_method(owner: Any, name: str) -> Any:
    """Stands in for `getattr` while unpickling: only HistoryBuffer's statistics methods may be looked up."""
    if owner is HistoryBuffer and name in HISTORY_BUFFER_METHODS:
        return getattr(owner, name)
    raise pickle.UnpicklingError(f"checkpoint asks for {owner!r}.{name}, which is not on the mmengine allow-list")


def checkpoint_globals() -> list[Any]:
    """The exact non-tensor globals an mmengine 0.10 checkpoint pickles: the message hub's HistoryBuffer (with
    its statistics methods, pickled as getattr(HistoryBuffer, name)) and its numpy float64/int64 arrays
    and scalars."""
    return [
        HistoryBuffer,
        (_history_buffer_method, f"{builtins.__name__}.getattr"),
        np.ndarray,
        np.dtype,
        np._core.multiarray._reconstruct,
        np._core.multiarray.scalar,
        type(np.dtype(np.float64)),  # HistoryBuffer's value history
        type(np.dtype(np.int64)),  # and its count history
    ]


@contextmanager
def mmengine_checkpoints() -> Iterator[None]:
    """Within this block `torch.load` (weights-only, the default) also accepts mmengine's resume state."""
    with torch.serialization.safe_globals(checkpoint_globals()):
        yield


def apply_layer_decay(cfg: Config, backbone: Backbone) -> None:
    """If the config sets `layer_decay` (a rate), add its per-parameter LR multipliers to the optimizer's
    `paramwise_cfg.custom_keys` (mmengine's DefaultOptimWrapperConstructor applies them)."""
    rate = cfg.get("layer_decay")
    if rate is None:
        return
    paramwise = cfg.optim_wrapper.setdefault("paramwise_cfg", ConfigDict())
    paramwise.setdefault("custom_keys", ConfigDict()).update(layer_decay_rules(backbone, float(rate), BACKBONE_PREFIX))


class RunRecord(Hook):
    """What a run leaves behind: the last validation's metrics, how many images the (filtered) train and val
    datasets held, and the seconds of each training iteration this process ran (IterTimerHook's measurement,
    read after it)."""

    priority = "LOWEST"

    def __init__(self) -> None:
        self.metrics: dict[str, float] | None = None
        self.train_images = self.val_images = 0
        self.iter_seconds: list[float] = []

    def before_train(self, runner: Runner) -> None:
        self.train_images = len(runner.train_dataloader.dataset)

    def after_train_iter(self, runner: Runner, batch_idx: int, data_batch: Any = None, outputs: Any = None) -> None:
        self.iter_seconds.append(float(runner.message_hub.get_scalar("train/time").current()))

    def after_val_epoch(self, runner: Runner, metrics: dict[str, float] | None = None) -> None:
        self.metrics = dict(metrics or {})
        self.val_images = len(runner.val_dataloader.dataset)

    @property
    def seconds_per_iter(self) -> float | None:
        """Median seconds per training iteration, leaving out the first (warm-up) when there are more."""
        timed = self.iter_seconds[1:] or self.iter_seconds
        return float(np.median(timed)) if timed else None

    def summary(self) -> dict[str, Any]:
        """The run's facts for a metric row's `extra`."""
        return {"val_images": self.val_images, "seconds_per_iter": self.seconds_per_iter}


def train_and_evaluate(cfg: Config, registry: Registry, backbone: Backbone, work_dir: Path, seed: int) -> RunRecord:
    """Build `cfg.model` around the built `backbone` (its `backbone.backbone` entry names it for the record),
    train for `cfg.train_cfg` (resuming from `work_dir`'s last checkpoint if there is one; the loop validates
    at its last iteration), and validate once more only if training was already complete. Under torchrun
    (WORLD_SIZE > 1) mmengine's pytorch launcher runs it data-parallel."""
    init_default_scope(cfg.default_scope)
    apply_layer_decay(cfg, backbone)
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg.backbone.backbone = backbone
    model = registry.build(model_cfg)
    if model.backbone.backbone is not backbone:
        raise CatlipBenchError(f"{type(model).__name__} did not take the built backbone as `backbone.backbone`")
    work_dir.mkdir(parents=True, exist_ok=True)
    record = RunRecord()
    launcher = cfg.get("launcher") or ("pytorch" if int(os.environ.get("WORLD_SIZE", "1")) > 1 else "none")
    runner = Runner(
        model=model, work_dir=str(work_dir), resume=True, randomness={"seed": seed}, launcher=launcher,
        experiment_name=f"{work_dir.name}-{uuid.uuid4().hex[:8]}", cfg=cfg,
        custom_hooks=[*(cfg.get("custom_hooks") or []), record],
        **{key: cfg.get(key) for key in RUNNER_KEYS if key in cfg},
    )
    with mmengine_checkpoints():
        runner.train()
        if record.metrics is None:
            runner.val()
    return record

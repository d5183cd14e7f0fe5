"""The `detection` task: fine-tune Mask R-CNN on a catlip-bench backbone with mmengine's Runner, then report
COCO box (and mask) AP from mmdet's CocoMetric on the validation split.

Unit params: `config` (a template in configs/detection/, default the CPU demo), `options` (dotted config
overrides, e.g. {"val_dataloader.dataset.indices": 50} to score the first 50 val images only), `max_iters`.
A dataset without masks trains the same detector without its mask branch. `n_train` counts the training
images mmdet kept (images without boxes are filtered out).
"""

from __future__ import annotations

from mmdet.registry import MODELS
from mmengine.config import Config

import catlip_bench_mmdet.models  # noqa: F401 - registers CatlipBenchBackbone
from catlip_bench.backbone import Backbone
from catlip_bench.data.dense import CocoCheck, check_coco
from catlip_bench.data.types import DetectionData
from catlip_bench.errors import CatlipBenchError
from catlip_bench.mm_runner import load_dataset, pixel_normalisation, task_config, train_and_evaluate
from catlip_bench.specs import Metric, TaskContext

DEFAULT_CONFIG = "mask_rcnn_vit_cpu_demo"
METRIC_PREFIX = "coco/"


def configure(cfg: Config, data: DetectionData, backbone: Backbone, checks: dict[str, CocoCheck]) -> None:
    """Point a detection template at the dataset's checked COCO splits, classes and the backbone's normalisation."""
    cfg.model.data_preprocessor.update(pixel_normalisation(backbone))
    roi_head = cfg.model.roi_head
    roi_head.bbox_head.num_classes = len(data.class_names)
    if data.has_masks:
        roi_head.mask_head.num_classes = len(data.class_names)
    else:
        roi_head.mask_head = roi_head.mask_roi_extractor = None
    for loader, check in ((cfg.train_dataloader, checks["train"]), (cfg.val_dataloader, checks["val"])):
        loader.dataset.ann_file = str(check.split.ann_file)
        loader.dataset.data_prefix = {"img": f"{check.split.img_dir}/"}
        loader.dataset.metainfo = {"classes": tuple(data.class_names)}
        for step in loader.dataset.pipeline:
            if step.type == "LoadAnnotations":
                step.with_mask = data.has_masks
    cfg.val_evaluator.ann_file = str(checks["val"].split.ann_file)
    cfg.val_evaluator.metric = ["bbox", "segm"] if data.has_masks else ["bbox"]


def run(ctx: TaskContext) -> list[Metric]:
    data = load_dataset(ctx)
    if not isinstance(data, DetectionData):
        raise CatlipBenchError(f"dataset {ctx.dataset.name!r} ({ctx.dataset.kind}) is not a detection dataset")
    work_dir = ctx.work_dir / "mmdet"
    checks = {split: check_coco(getattr(data, split), work_dir / f"{split}.checked.json") for split in ("train", "val")}
    cfg = task_config("detection", ctx.params, DEFAULT_CONFIG, lambda cfg: configure(cfg, data, ctx.backbone, checks))
    record = train_and_evaluate(cfg, MODELS, ctx.backbone, work_dir, ctx.seed)
    extra = {
        "config": str(ctx.params.get("config", DEFAULT_CONFIG)),
        "max_iters": int(cfg.train_cfg.max_iters),
        **record.summary(),
        "skipped_annotations": {split: check.skipped for split, check in checks.items() if check.skipped},
        "composite": data.composite,
    }
    # COCO reports -1 for an area range without objects: those are not measurements.
    return [
        Metric(key.removeprefix(METRIC_PREFIX), 100.0 * float(value), n_train=record.train_images, extra=extra)
        for key, value in (record.metrics or {}).items()
        if key.startswith(METRIC_PREFIX) and float(value) >= 0
    ]

"""The `segmentation` task: fine-tune DeepLabv3 (or UperNet) on a catlip-bench backbone with mmengine's
Runner, then report mIoU, mAcc and aAcc from mmseg's IoUMetric on the validation split.

Unit params: `config` (a template in configs/segmentation/, default the DeepLabv3 CPU demo), `options`
(dotted config overrides, e.g. {"val_dataloader.dataset.indices": 50} to score the first 50 val images only),
`max_iters`.
"""

from __future__ import annotations

from mmengine.config import Config
from mmseg.registry import MODELS

import catlip_bench_mmseg.models  # noqa: F401 - registers CatlipBenchBackbone
from catlip_bench.backbone import Backbone
from catlip_bench.data.dense import check_segmentation
from catlip_bench.data.types import SegmentationData
from catlip_bench.errors import CatlipBenchError
from catlip_bench.mm_runner import load_dataset, pixel_normalisation, task_config, train_and_evaluate
from catlip_bench.specs import Metric, TaskContext

DEFAULT_CONFIG = "deeplabv3_vit_cpu_demo"
METRICS = ("mIoU", "mAcc", "aAcc")


def configure(cfg: Config, data: SegmentationData, backbone: Backbone) -> None:
    """Point a segmentation template at the dataset's folders, classes and ignore index, and at the
    backbone's normalisation."""
    cfg.model.data_preprocessor.update(pixel_normalisation(backbone), seg_pad_val=data.ignore_index)
    cfg.model.decode_head.update(num_classes=len(data.class_names), ignore_index=data.ignore_index)
    for loader, split in ((cfg.train_dataloader, data.train), (cfg.val_dataloader, data.val)):
        loader.dataset.update(
            data_prefix={"img_path": str(split.img_dir), "seg_map_path": str(split.ann_dir)},
            ann_file=str(split.split_file or ""),
            img_suffix=data.img_suffix,
            seg_map_suffix=data.seg_suffix,
            reduce_zero_label=data.reduce_zero_label,
            ignore_index=data.ignore_index,
            metainfo={"classes": tuple(data.class_names)},
        )
    cfg.val_evaluator.ignore_index = data.ignore_index


def run(ctx: TaskContext) -> list[Metric]:
    data = load_dataset(ctx)
    if not isinstance(data, SegmentationData):
        raise CatlipBenchError(f"dataset {ctx.dataset.name!r} ({ctx.dataset.kind}) is not a segmentation dataset")
    check_segmentation(data)
    cfg = task_config("segmentation", ctx.params, DEFAULT_CONFIG, lambda cfg: configure(cfg, data, ctx.backbone))
    record = train_and_evaluate(cfg, MODELS, ctx.backbone, ctx.work_dir / "mmseg", ctx.seed)
    values = record.metrics or {}
    extra = {
        "config": str(ctx.params.get("config", DEFAULT_CONFIG)),
        "max_iters": int(cfg.train_cfg.max_iters),
        **record.summary(),
        "composite": data.composite,
    }
    return [Metric(name, float(values[name]), n_train=record.train_images, extra=extra)
            for name in METRICS if name in values]

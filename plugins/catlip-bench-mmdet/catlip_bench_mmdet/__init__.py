"""catlip-bench plugin: the `detection` task (Mask R-CNN through MMDetection) on any registered backbone.

MMDetection is imported only when the task runs; a missing mm stack makes this plugin fail to load (and be
reported by `catlip-bench plugins`) instead of failing half-way through a suite.
"""

from __future__ import annotations

import importlib.util

from catlip_bench import hookimpl
from catlip_bench.specs import Metric, TaskContext, TaskSpec

for _module in ("mmengine", "mmcv", "mmdet", "pycocotools"):
    if importlib.util.find_spec(_module) is None:
        raise ImportError(f"catlip-bench-mmdet needs {_module}: install the mm stack with scripts/setup.sh")


def run_detection(ctx: TaskContext) -> list[Metric]:
    from catlip_bench_mmdet.task import run

    return run(ctx)


@hookimpl
def register_tasks(register) -> None:
    register(TaskSpec(
        name="detection",
        run=run_detection,
        main_metric="bbox_mAP",
        description="Mask R-CNN (ViTDet-style pyramid + FPN) fine-tuned end to end; COCO box and mask AP (0-100) "
                    "by mmdet's CocoMetric",
        higher_is_better=True,
        chance=0.0,
        protocol_version="1",
        dataset_kinds=("detection",),
    ))

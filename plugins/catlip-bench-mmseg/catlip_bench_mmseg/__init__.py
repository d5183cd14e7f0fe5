"""catlip-bench plugin: the `segmentation` task (DeepLabv3 or UperNet through MMSegmentation) on any backbone.

MMSegmentation is imported only when the task runs; a missing mm stack makes this plugin fail to load (and be
reported by `catlip-bench plugins`) instead of failing half-way through a suite.
"""

from __future__ import annotations

import importlib.util

from catlip_bench import hookimpl
from catlip_bench.specs import Metric, TaskContext, TaskSpec

for _module in ("mmengine", "mmcv", "mmseg"):
    if importlib.util.find_spec(_module) is None:
        raise ImportError(f"catlip-bench-mmseg needs {_module}: install the mm stack with scripts/setup.sh")


def run_segmentation(ctx: TaskContext) -> list[Metric]:
    from catlip_bench_mmseg.task import run

    return run(ctx)


@hookimpl
def register_tasks(register) -> None:
    register(TaskSpec(
        name="segmentation",
        run=run_segmentation,
        main_metric="mIoU",
        description="DeepLabv3 (ASPP 12/24/36, output stride 8) or UperNet fine-tuned end to end; mIoU (0-100) "
                    "by mmseg's IoUMetric",
        higher_is_better=True,
        chance=0.0,
        protocol_version="1",
        dataset_kinds=("segmentation",),
    ))

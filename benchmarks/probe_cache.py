"""The feature cache's payoff: wall time of the same linear probe run twice on the same backbone.

    .venv/bin/python benchmarks/probe_cache.py [--backbone mobilenet-v2-imagenet] [--max-train 600] [--max-test 400]

The first run starts cold (this probe's cached feature files are removed first); the second reads them.
Goal: second / first <= 5%.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from pathlib import Path

from catlip_bench.features import cache_key, cache_path
from catlip_bench.plugins import registries
from catlip_bench.specs import TaskContext


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backbone", default="mobilenet-v2-imagenet")
    parser.add_argument("--dataset", default="fashion-mnist")
    parser.add_argument("--max-train", type=int, default=600)
    parser.add_argument("--max-test", type=int, default=400)
    args = parser.parse_args()
    found = registries()
    backbone = found.backbones.get(args.backbone).build().eval()
    dataset = found.datasets.get(args.dataset)
    params = {"max_train": args.max_train, "max_test": args.max_test}
    data = dataset.load(**params)
    for split in ("train", "test"):
        cache_path(cache_key(backbone, getattr(data, split), data.name, split)).unlink(missing_ok=True)
    probe = found.tasks.get("linear_probe")
    times, values = [], []
    with tempfile.TemporaryDirectory() as work:
        for _ in range(2):
            ctx = TaskContext(backbone, args.backbone, dataset, dict(params), 0, "cpu", Path(work))
            started = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                (row,) = probe.run(ctx)
            times.append(time.perf_counter() - started)
            values.append(row.value)
    if values[0] != values[1]:
        raise SystemExit(f"the cached run measured top1 {values[1]}, the cold run {values[0]}: cache is wrong")
    print(f"linear_probe {args.backbone} on {args.dataset} ({args.max_train} train / {args.max_test} test), "
          f"top1 {values[0]:.4f}")
    print(f"first run (extract + fit): {times[0]:8.2f} s")
    print(f"second run (cache + fit):  {times[1]:8.2f} s")
    print(f"ratio second / first:      {times[1] / times[0]:8.2%}  (goal <= 5%)")


if __name__ == "__main__":
    main()

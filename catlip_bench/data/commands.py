"""`catlip-bench data prepare` (build offline data into the cache once) and `catlip-bench data pack`."""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from catlip_bench.data import shards
from catlip_bench.errors import CatlipBenchError

#: Names `data prepare` knows besides the registered datasets.
NLTK = "nltk"
ALL = "all"
DEMO = "demo"


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Add `data prepare` and `data pack` to the `catlip-bench` parser."""
    data = sub.add_parser("data", help="prepare offline data; pack captioned images into labelled shards")
    commands = data.add_subparsers(dest="data_command", required=True, metavar="COMMAND")

    p = commands.add_parser(
        "prepare", help="build data into the cache once (idempotent)",
        description=f"NAME: {NLTK} (WordNet, Punkt, tagger), {DEMO} (the Tux Paint datasets), any registered "
                    f"dataset (`catlip-bench list datasets`), or {ALL} (NLTK and every dataset that has a prepare "
                    "step, plugins' too).")
    p.add_argument("names", nargs="+", metavar="NAME")
    p.set_defaults(func=_prepare)

    p = commands.add_parser("pack", help="write (image, caption) pairs as labelled webdataset shards")
    shards.add_pack_arguments(p)
    p.set_defaults(func=shards.pack_command)


def _steps(names: list[str]) -> list[tuple[str, Callable[[], object] | None]]:
    """(name, prepare function or None) for each requested name, in order, without repeats."""
    from catlip_bench.data import tuxpaint
    from catlip_bench.data.nltk_data import prepare_nltk
    from catlip_bench.plugins import registries

    datasets = registries().datasets
    steps: dict[str, Callable[[], object] | None] = {}
    for name in names:
        if name in (NLTK, ALL):
            steps[NLTK] = prepare_nltk
        if name == ALL:
            steps.update((spec.name, spec.prepare) for spec in datasets if spec.prepare is not None)
        elif name == DEMO:
            steps.update((spec.name, spec.prepare) for spec in tuxpaint.specs())
        elif name != NLTK:
            steps[name] = datasets.get(name).prepare
    return list(steps.items())


def _prepare(args: argparse.Namespace) -> int:
    steps = _steps(args.names)
    outcomes: dict[Callable[[], object], str] = {}  # datasets that share one prepare step run it once
    failed: list[str] = []
    start = time.perf_counter()
    for name, prepare in steps:
        if prepare is None:
            print(f"{name}: nothing to prepare (its data comes from your own files)")
            continue
        if prepare not in outcomes:
            began = time.perf_counter()
            try:
                where = prepare()
            except Exception as error:  # noqa: BLE001 - one failing dataset (a plugin's too) must not stop the rest
                outcomes[prepare] = f"FAILED: {error if isinstance(error, CatlipBenchError) else repr(error)}"
            else:
                outcomes[prepare] = f"ready{f' in {where}' if where else ''} ({time.perf_counter() - began:.1f} s)"
        failed += [name] if outcomes[prepare].startswith("FAILED") else []
        print(f"{name}: {outcomes[prepare]}", flush=True)
    print(f"prepared {len(steps) - len(failed)} of {len(steps)} in {time.perf_counter() - start:.1f} s")
    if failed:
        raise CatlipBenchError(f"could not prepare {', '.join(failed)} (see above)")
    return 0

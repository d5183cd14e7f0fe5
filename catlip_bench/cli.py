"""The `catlip-bench` command line. Each area adds its own sub-commands; errors are one line."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from catlip_bench.errors import CatlipBenchError
from catlip_bench.plugins import KINDS, registries

COMMAND_MODULES = (
    "catlip_bench.labels.commands",
    "catlip_bench.data.commands",
    "catlip_bench.pretrain.commands",
    "catlip_bench.suites",
    "catlip_bench.scaffold",
)


def _plugins(args: argparse.Namespace) -> int:
    for info in registries().plugins:
        hooks = ", ".join(info.hooks) or "-"
        line = f"{info.name:<24} {info.version:<10} {hooks}"
        if info.errors:
            line += f"  ERROR: {' | '.join(info.errors)}"
        print(line)
    return 0


def _list(args: argparse.Namespace) -> int:
    found = registries()
    registry = found.of(args.kind)
    width = max((len(n) for n in registry.names()), default=0)
    for item in registry:
        print(f"{item.name:<{width}}  {item.description}  [{registry.owner(item.name)}]")
    return 0


def _leaderboard(args: argparse.Namespace) -> int:
    from catlip_bench import leaderboard
    from catlip_bench.results import Store

    if not Path(args.store).is_file():
        raise CatlipBenchError(
            f"results store {args.store} not found: run `catlip-bench run --suite NAME` first or pass --store")
    exporter = registries().exporters.get(args.format)
    text = exporter.export(leaderboard.build(Store(args.store, readonly=True), args.suite))
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text)
        print(f"wrote {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def default_store() -> str:
    return os.environ.get("CATLIP_BENCH_STORE", str(Path("outputs") / "results.sqlite"))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="catlip-bench", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("plugins", help="list installed plugins, their hooks and load errors")
    p.set_defaults(func=_plugins)

    p = sub.add_parser("list", help="list registered backbones, tasks, suites, trainers, datasets or exporters")
    p.add_argument("kind", choices=KINDS)
    p.set_defaults(func=_list)

    p = sub.add_parser("leaderboard", help="export the leaderboard from a results store")
    p.add_argument("--store", default=default_store(), help="SQLite results file (default: %(default)s)")
    p.add_argument("--suite", default=None, help="only this suite's rows")
    p.add_argument("--format", default="csv", help="csv, md, json or any registered exporter")
    p.add_argument("--out", default=None, help="write here instead of stdout")
    p.set_defaults(func=_leaderboard)

    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).add_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except CatlipBenchError as error:
        print(f"catlip-bench: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("catlip-bench: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

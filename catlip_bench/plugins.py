"""Plugin discovery: built-in plugins plus the `catlip_bench` entry-point group, each isolated."""

from __future__ import annotations

import importlib
import os
import sys
from dataclasses import dataclass, field
from functools import cache
from importlib import metadata
from types import ModuleType
from typing import Any

import pluggy

from catlip_bench import hookspecs
from catlip_bench.errors import CatlipBenchError
from catlip_bench.registry import Registry

ENTRY_POINT_GROUP = "catlip_bench"
KINDS = ("backbones", "tasks", "datasets", "trainers", "suites", "exporters")
BUILTIN_PLUGINS = (
    "catlip_bench.backbones",
    "catlip_bench.tasks",
    "catlip_bench.data.datasets",
    "catlip_bench.pretrain",
    "catlip_bench.suites",
    "catlip_bench.leaderboard",
)


@dataclass
class PluginInfo:
    """One plugin as `catlip-bench plugins` shows it."""

    name: str
    version: str
    source: str
    hooks: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@dataclass
class Registries:
    """Everything the plugins registered, one registry per kind."""

    backbones: Registry[Any]
    tasks: Registry[Any]
    datasets: Registry[Any]
    trainers: Registry[Any]
    suites: Registry[Any]
    exporters: Registry[Any]
    plugins: list[PluginInfo]

    def of(self, kind: str) -> Registry[Any]:
        if kind not in KINDS:
            raise CatlipBenchError(f"unknown kind {kind!r}: choose one of {', '.join(KINDS)}")
        return getattr(self, kind)


def _strict() -> bool:
    return os.environ.get("CATLIP_BENCH_STRICT_PLUGINS", "") not in ("", "0", "false", "no")


def _report(info: PluginInfo, message: str) -> None:
    info.errors.append(message)
    line = f"plugin {info.name!r} ({info.source}) {message}"
    if _strict():
        raise CatlipBenchError(f"{line} [CATLIP_BENCH_STRICT_PLUGINS is set]")
    print(f"catlip-bench: warning: {line}", file=sys.stderr)


def _error_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__


def _discover(manager: pluggy.PluginManager) -> list[PluginInfo]:
    infos: list[PluginInfo] = []
    for module_name in BUILTIN_PLUGINS:
        info = PluginInfo(module_name.rsplit(".", 1)[-1], "builtin", module_name)
        infos.append(info)
        try:
            manager.register(importlib.import_module(module_name), name=info.name)
        except Exception as error:  # noqa: BLE001 - a broken plugin must not take the others down
            _report(info, f"failed to import: {_error_line(error)}")
    allow = {n.strip() for n in os.environ.get("CATLIP_BENCH_PLUGINS", "").split(",") if n.strip()}
    entries = sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name)
    for name in sorted(allow - {entry.name for entry in entries}):
        info = PluginInfo(name, "-", "CATLIP_BENCH_PLUGINS")
        infos.append(info)
        _report(info, f"is not installed: no entry point {name!r} in group {ENTRY_POINT_GROUP!r}")
    for entry in entries:
        if allow and entry.name not in allow:
            continue
        dist = getattr(entry, "dist", None)
        info = PluginInfo(entry.name, dist.version if dist else "?", f"entry point {entry.name} = {entry.value}")
        infos.append(info)
        try:
            plugin: ModuleType | Any = entry.load()
            manager.register(plugin, name=entry.name)
        except Exception as error:  # noqa: BLE001
            _report(info, f"failed to import: {_error_line(error)}")
    return infos


@cache
def registries() -> Registries:
    """Load every plugin once and collect what their hooks register."""
    manager = pluggy.PluginManager(ENTRY_POINT_GROUP)
    manager.add_hookspecs(hookspecs)
    infos = _discover(manager)
    by_name = {info.name: info for info in infos}
    found = {kind: Registry[Any](kind) for kind in KINDS}
    for kind in KINDS:
        hook = getattr(manager.hook, f"register_{kind}")
        for impl in hook.get_hookimpls():
            info = by_name[impl.plugin_name]
            info.hooks.append(f"register_{kind}")
            staged: list[Any] = []
            try:
                impl.function(register=staged.append)
                for item in staged:
                    found[kind].add(item, impl.plugin_name)
            except CatlipBenchError as error:
                _report(info, f"register_{kind}: {error}")
            except Exception as error:  # noqa: BLE001
                _report(info, f"hook register_{kind} raised {_error_line(error)}")
    return Registries(**found, plugins=infos)

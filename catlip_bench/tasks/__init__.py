"""Transfer tasks (a built-in plugin)."""

from __future__ import annotations

from catlip_bench.hookspecs import hookimpl


@hookimpl
def register_tasks(register) -> None:
    """Built-in tasks."""

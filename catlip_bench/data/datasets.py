"""Built-in datasets (a built-in plugin)."""

from __future__ import annotations

from catlip_bench.hookspecs import hookimpl


@hookimpl
def register_datasets(register) -> None:
    """Built-in datasets."""

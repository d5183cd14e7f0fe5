"""Pre-training: the CatLIP trainer and the matched CLIP baseline (a built-in plugin)."""

from __future__ import annotations

from catlip_bench.hookspecs import hookimpl


@hookimpl
def register_trainers(register) -> None:
    """Built-in trainers."""

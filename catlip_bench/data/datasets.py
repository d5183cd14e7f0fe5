"""Built-in datasets (a built-in plugin): each data module contributes its specs."""

from __future__ import annotations

from catlip_bench.data import classification, dense, tuxpaint
from catlip_bench.hookspecs import hookimpl


@hookimpl
def register_datasets(register) -> None:
    for module in (tuxpaint, classification, dense):
        for spec in module.specs():
            register(spec)

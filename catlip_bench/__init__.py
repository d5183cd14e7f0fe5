"""catlip-bench: pre-train and benchmark vision backbones the CatLIP way.

The public names import lazily, so `import catlip_bench` (and the pytest plugin) stays cheap.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from catlip_bench.errors import CatlipBenchError
from catlip_bench.hookspecs import hookimpl

if TYPE_CHECKING:
    from catlip_bench.backbone import Backbone
    from catlip_bench.plugins import registries

__all__ = ["Backbone", "CatlipBenchError", "hookimpl", "registries"]
__version__ = "0.1.0"
_LAZY = {"Backbone": "catlip_bench.backbone", "registries": "catlip_bench.plugins"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'catlip_bench' has no attribute {name!r}")

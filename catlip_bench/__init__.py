"""catlip-bench: pre-train and benchmark vision backbones the CatLIP way."""

from catlip_bench.backbone import Backbone
from catlip_bench.errors import CatlipBenchError
from catlip_bench.hookspecs import hookimpl
from catlip_bench.plugins import registries

__all__ = ["Backbone", "CatlipBenchError", "hookimpl", "registries"]
__version__ = "0.1.0"

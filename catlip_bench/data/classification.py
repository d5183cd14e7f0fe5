"""(being written)"""

from __future__ import annotations

from catlip_bench.specs import DatasetSpec


def specs() -> list[DatasetSpec]:
    return []

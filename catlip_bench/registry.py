"""A typed name -> item registry that knows which plugin registered each name."""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from typing import Generic, Protocol, TypeVar

from catlip_bench.errors import CatlipBenchError


class Named(Protocol):
    name: str
    description: str


T = TypeVar("T", bound=Named)


class Registry(Generic[T]):
    """Items of one kind (backbones, tasks, ...), unique by name."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}
        self._owners: dict[str, str] = {}
        self._conflicts: dict[str, str] = {}

    def add(self, item: T, plugin: str) -> None:
        """Register `item` for `plugin`; a name already taken is an error naming both plugins."""
        if not isinstance(getattr(item, "name", None), str) or not item.name:
            raise CatlipBenchError(f"plugin {plugin!r} registered a {self.kind[:-1]} without a name: {item!r}")
        if item.name in self._items:
            message = (
                f"{self.kind[:-1]} {item.name!r} is registered twice: by plugin {self._owners[item.name]!r} "
                f"and by plugin {plugin!r}; uninstall one or rename it"
            )
            self._conflicts[item.name] = message
            raise CatlipBenchError(message)
        self._items[item.name] = item
        self._owners[item.name] = plugin

    def get(self, name: str) -> T:
        """The item called `name`; an unknown name is an error listing the closest registered names."""
        if name in self._conflicts:
            raise CatlipBenchError(self._conflicts[name])
        try:
            return self._items[name]
        except KeyError:
            close = difflib.get_close_matches(name, self._items, n=3, cutoff=0.5)
            hint = f"did you mean {', '.join(close)}?" if close else f"known: {', '.join(sorted(self._items)) or 'none'}"
            raise CatlipBenchError(
                f"unknown {self.kind[:-1]} {name!r}: {hint} (`catlip-bench list {self.kind}`)"
            ) from None

    def owner(self, name: str) -> str:
        """The plugin that registered `name`."""
        return self._owners[name]

    def names(self) -> list[str]:
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[T]:
        return iter(self._items[name] for name in self.names())

    def __len__(self) -> int:
        return len(self._items)

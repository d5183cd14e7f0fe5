"""`catlip-bench plugin new`: write a ready third-party backbone plugin package."""

from __future__ import annotations

import argparse


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Add `plugin new`."""

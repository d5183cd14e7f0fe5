"""CLI sub-commands for this area."""

from __future__ import annotations

import argparse


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Add this area's sub-commands to the `catlip-bench` parser."""

"""Suites: versioned YAML files in configs/suites/, and the runner behind `catlip-bench run`."""

from __future__ import annotations

import argparse

import yaml

from catlip_bench.hookspecs import hookimpl
from catlip_bench.paths import configs_dir
from catlip_bench.specs import SuiteSpec


@hookimpl
def register_suites(register) -> None:
    for path in sorted((configs_dir() / "suites").glob("*.yaml")):
        meta = yaml.safe_load(path.read_text()) or {}
        register(SuiteSpec(path.stem, path, str(meta.get("description", ""))))


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Add `run`."""

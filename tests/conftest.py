"""Shared fixtures: real plugin distributions installed into a temporary site folder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURE_PLUGINS = Path(__file__).parent / "fixtures" / "plugins"


def pip_install_target(source: Path, target: Path) -> None:
    """Really install a plugin distribution (its entry points included) into `target`."""
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--target", str(target),
         str(source)],
        check=True, capture_output=True,
    )


@pytest.fixture(scope="session")
def plugin_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding the installed test plugins: good, broken (import error), raising, dup."""
    target = tmp_path_factory.mktemp("plugin-site")
    for name in ("good", "broken", "raising", "dup"):
        pip_install_target(FIXTURE_PLUGINS / name, target)
    return target


def run_cli(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run the installed `catlip-bench` console script in a subprocess."""
    full_env = {**os.environ, **(env or {})}
    script = Path(sys.executable).with_name("catlip-bench")
    return subprocess.run([str(script), *args], capture_output=True, text=True, env=full_env, cwd=cwd, timeout=600)

"""Where catlip-bench keeps derived data, and how it fails when something is missing."""

from __future__ import annotations

import os
from pathlib import Path

from catlip_bench.errors import CatlipBenchError

SETUP_HINT = "run scripts/setup.sh (or `catlip-bench data prepare all`)"


def cache_dir() -> Path:
    """The cache folder: $CATLIP_BENCH_CACHE, else $XDG_CACHE_HOME/catlip-bench, else ~/.cache/catlip-bench."""
    if env := os.environ.get("CATLIP_BENCH_CACHE"):
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "catlip-bench"


def repo_root() -> Path:
    """The source checkout that holds configs/ (the package is installed editable from it)."""
    return Path(__file__).resolve().parent.parent


def configs_dir() -> Path:
    """The configs/ folder: $CATLIP_BENCH_CONFIGS, else the checkout's configs/."""
    path = Path(os.environ.get("CATLIP_BENCH_CONFIGS") or repo_root() / "configs")
    if not path.is_dir():
        raise CatlipBenchError(f"configs folder {path} not found: set CATLIP_BENCH_CONFIGS to a copy of the repo's configs/")
    return path


def require(path: Path, what: str, hint: str = SETUP_HINT) -> Path:
    """Return `path` if it exists, else raise a one-line error naming it and the command that builds it."""
    if not path.exists():
        raise CatlipBenchError(f"{what} not found at {path}: {hint}")
    return path

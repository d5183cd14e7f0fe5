"""The core imports and lists without mmcv/mmdet/mmseg/mmengine: they are the mm plugins' business only."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

BLOCKED = ("mmcv", "mmdet", "mmseg", "mmengine")
# Installed as sitecustomize (imported at interpreter start-up): any import of the mm stack fails, and at exit
# the process reports which catlip_bench modules it loaded and whether any mm module got in some other way.
BLOCKER = f"""
import atexit, sys
BLOCKED = {BLOCKED!r}

class BlockMM:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {{name!r}} (blocked by the test)", name=name)
        return None

sys.meta_path.insert(0, BlockMM())

@atexit.register
def report():
    loaded = sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED)
    sys.stderr.write(f"MM-MODULES-LOADED={{loaded}}\\n")
"""


def run_blocked(site: Path, *commands: str, allow: str | None) -> subprocess.CompletedProcess:
    """Run `catlip-bench <command>` for each command, in one process with the blocker installed; the output of
    each is preceded by a `== <command>` line."""
    (site / "sitecustomize.py").write_text(BLOCKER)
    env = {**os.environ, "PYTHONPATH": str(site), "CATLIP_BENCH_STRICT_PLUGINS": "0"}
    env.pop("CATLIP_BENCH_PLUGINS", None)
    if allow is not None:
        env["CATLIP_BENCH_PLUGINS"] = allow
    code = (
        "import sys\nfrom catlip_bench.cli import main\n"
        f"for command in {list(commands)!r}:\n"
        "    print('==', command, flush=True)\n"
        "    if main(command.split()):\n"
        "        sys.exit(1)\n"
    )
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)


def sections(stdout: str) -> dict[str, str]:
    found: dict[str, list[str]] = {}
    for line in stdout.splitlines():
        if line.startswith("== "):
            current = found.setdefault(line[3:], [])
        elif line.strip():
            current.append(line)
    return {command: "\n".join(lines) for command, lines in found.items()}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("blocked-site")


def test_blocker_really_blocks(site: Path) -> None:
    (site / "sitecustomize.py").write_text(BLOCKER)
    done = subprocess.run([sys.executable, "-c", "import mmdet"], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(site)})
    assert done.returncode != 0 and "blocked by the test" in done.stderr


def test_core_lists_tasks_and_dense_datasets_with_the_mm_plugins_excluded(site: Path) -> None:
    done = run_blocked(site, "list tasks", "list datasets", allow="mobilenet")
    assert done.returncode == 0, done.stderr
    listed = sections(done.stdout)
    tasks = {line.split()[0] for line in listed["list tasks"].splitlines()}
    assert {"linear_probe", "fewshot"} <= tasks and not tasks & {"detection", "segmentation"}
    for name in ("deepforest-trees", "voc-semantic-mini", "tuxpaint-composite-instances"):
        assert name in listed["list datasets"]
    assert "MM-MODULES-LOADED=[]" in done.stderr and "warning" not in done.stderr


def test_mm_plugins_that_cannot_import_are_reported_and_skipped(site: Path) -> None:
    done = run_blocked(site, "list tasks", allow=None)
    assert done.returncode == 0, done.stderr
    for plugin in ("mmdet", "mmseg"):
        assert f"plugin {plugin!r}" in done.stderr and "failed to import" in done.stderr
    tasks = sections(done.stdout)["list tasks"]
    assert "detection" not in tasks and "segmentation" not in tasks and "linear_probe" in tasks
    assert "MM-MODULES-LOADED=[]" in done.stderr

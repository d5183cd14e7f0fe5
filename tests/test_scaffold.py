"""`catlip-bench plugin new`: the package it writes installs with pip, passes its own test and is listed."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
from conftest import pip_install_target, run_cli

from catlip_bench.cli import main
from catlip_bench.errors import CatlipBenchError
from catlip_bench.plugins import ENTRY_POINT_GROUP
from catlip_bench.scaffold import new_plugin

DOCS = (Path(__file__).resolve().parent.parent / "docs" / "plugins.md").read_text()


@pytest.mark.slow
def test_generated_plugin_installs_passes_its_own_test_and_is_listed(tmp_path: Path) -> None:
    made = run_cli("plugin", "new", "demo-resnet", "--dir", str(tmp_path))
    assert made.returncode == 0, made.stderr
    package = tmp_path / "catlip-bench-demo-resnet"
    assert sorted(str(p.relative_to(package)) for p in package.rglob("*") if p.is_file()) == [
        "README.md", "catlip_bench_demo_resnet.py", "pyproject.toml", "tests/test_demo_resnet.py",
    ]
    site = tmp_path / "site"
    pip_install_target(package, site)
    tested = subprocess.run(  # from tmp_path, so only the installed copy (and its entry point) can be found
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(package / "tests")],
        cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(site)}, capture_output=True, text=True, timeout=600,
    )
    assert tested.returncode == 0, tested.stdout[-3000:] + tested.stderr[-2000:]
    assert "2 passed" in tested.stdout
    listed = run_cli("list", "backbones", env={"PYTHONPATH": str(site)})
    assert re.search(r"^demo-resnet +ResNet-18 trunk, random init \(seed 0\).*\[demo-resnet\]$", listed.stdout, re.M)
    suite = tmp_path / "suite.yaml"  # the tutorial's suite file, for this plugin
    suite.write_text(re.search(r"^```yaml\n(suite: my-convnet-quick\n.*?)^```", DOCS, re.M | re.S)[1]
                     .replace("my-convnet", "demo-resnet"))
    planned = subprocess.run(
        [sys.executable, "-c", "import sys; from catlip_bench.suites import load_suite; "
         "print(sorted((u.backbone, u.task, u.dataset) for u in load_suite(sys.argv[1]).units))", str(suite)],
        env={**os.environ, "PYTHONPATH": str(site)}, capture_output=True, text=True, timeout=600,
    )
    assert planned.returncode == 0, planned.stderr
    assert planned.stdout.strip() == str(
        [("demo-resnet", "linear_probe", "fashion-mnist"), ("vit-tiny-untrained", "linear_probe", "fashion-mnist")]
    )


@pytest.mark.parametrize("name", ["My Net", "1net", "net-", "net--b", "über", "a" * 41])
def test_bad_name_is_refused_before_writing(name: str, tmp_path: Path) -> None:
    with pytest.raises(CatlipBenchError, match="is not valid: use lower-case letters and digits"):
        new_plugin(name, tmp_path)
    assert not any(tmp_path.iterdir())


def test_taken_names_and_existing_folders_are_refused(tmp_path: Path) -> None:
    with pytest.raises(CatlipBenchError, match="backbone 'vit-tiny-untrained' is already registered by plugin 'backbones'"):
        new_plugin("vit-tiny-untrained", tmp_path)
    installed = sorted(entry.name for entry in metadata.entry_points(group=ENTRY_POINT_GROUP))
    if installed:  # plugins/* are installed by scripts/setup.sh
        with pytest.raises(CatlipBenchError, match=f"already has the entry point '{installed[0]}'"):
            new_plugin(installed[0], tmp_path)
    (tmp_path / "catlip-bench-mine").mkdir()
    with pytest.raises(CatlipBenchError, match="catlip-bench-mine already exists: pick another name"):
        new_plugin("mine", tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["catlip-bench-mine"]


def test_cli_error_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plugin", "new", "Bad Name", "--dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("catlip-bench: error: plugin name 'Bad Name' is not valid") and err.count("\n") == 1

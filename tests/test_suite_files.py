"""Suite files are data: every mistake in one is a one-line error naming the file and the entry."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from conftest import run_cli

from catlip_bench.errors import CatlipBenchError
from catlip_bench.plugins import registries
from catlip_bench.suites import load_suite


def _write(tmp_path: Path, suite: dict) -> Path:
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump(suite))
    return path


def _probe_unit() -> dict:
    return {"task": "linear_probe", "dataset": "fashion-mnist", "seeds": [0, 1], "params": {"max_train": 100}}


def test_every_shipped_suite_parses() -> None:
    for suite in registries().suites:
        plan = load_suite(suite.name)
        assert plan.units, suite.name


def test_units_are_backbones_times_entries_times_seeds(tmp_path: Path) -> None:
    path = _write(tmp_path, {"suite": "mine", "version": 3, "backbones": ["vit-tiny-untrained", "vit-base-untrained"],
                             "units": [_probe_unit()]})
    plan = load_suite(str(path))
    assert (plan.name, plan.version) == ("mine", "3")
    assert [(u.backbone, u.seed) for u in plan.units] == [
        ("vit-tiny-untrained", 0), ("vit-tiny-untrained", 1), ("vit-base-untrained", 0), ("vit-base-untrained", 1)]
    assert len({u.unit_id for u in plan.units}) == 4


def test_changing_params_changes_the_unit_identity(tmp_path: Path) -> None:
    first = load_suite(str(_write(tmp_path, {"backbones": ["vit-tiny-untrained"], "units": [_probe_unit()]})))
    changed = _probe_unit() | {"params": {"max_train": 200}}
    second = load_suite(str(_write(tmp_path, {"backbones": ["vit-tiny-untrained"], "units": [changed]})))
    assert first.units[0].unit_id != second.units[0].unit_id


@pytest.mark.parametrize(
    ("suite", "message"),
    [
        ({"backbones": ["vit-tiny-untrainde"], "units": [_probe_unit()]},
         r"backbones\[0\]: unknown backbone 'vit-tiny-untrainde': did you mean vit-tiny-untrained"),
        ({"backbones": ["vit-tiny-untrained"], "units": [_probe_unit() | {"task": "linear_prob"}]},
         r"units\[0\]: unknown task 'linear_prob': did you mean linear_probe"),
        ({"backbones": ["vit-tiny-untrained"], "units": [_probe_unit() | {"dataset": "fashion-mnsit"}]},
         r"units\[0\]: unknown dataset 'fashion-mnsit': did you mean fashion-mnist"),
        ({"backbones": ["vit-tiny-untrained"], "units": [_probe_unit() | {"sedes": [1]}]},
         r"units\[0\]: unknown key 'sedes': did you mean 'seeds'\?"),
        ({"backbone": ["vit-tiny-untrained"], "units": [_probe_unit()]}, r"unknown key 'backbone': did you mean 'backbones'"),
        ({"backbones": ["vit-tiny-untrained"], "units": []}, r"'units' is missing or empty"),
        ({"backbones": [{"name": "mine", "trainer": "catlp", "recipe": "pretrain/x.yaml"}], "units": [_probe_unit()]},
         r"backbones\[0\]: unknown trainer 'catlp': did you mean catlip"),
        ({"backbones": [{"name": "mine", "trainer": "catlip", "recipe": "pretrain/catlip_vit_tiny_dem.yaml"}],
          "units": [_probe_unit()]}, r"backbones\[0\]: recipe pretrain/catlip_vit_tiny_dem.yaml not found"),
        ({"backbones": ["/nowhere/weights.pt"], "units": [_probe_unit()]},
         r"backbones\[0\]: checkpoint /nowhere/weights.pt not found"),
        ({"backbones": ["vit-tiny-untrained"], "units": [_probe_unit()], "claims": [{"kind": "vibes"}]},
         r"claims\[0\]: 'kind' must be one of"),
    ],
)
def test_mistakes_name_the_file_and_the_entry(tmp_path: Path, suite: dict, message: str) -> None:
    path = _write(tmp_path, suite)
    with pytest.raises(CatlipBenchError, match=message) as caught:
        load_suite(str(path))
    assert str(path) in str(caught.value)


def test_the_cli_reports_a_bad_suite_in_one_line(tmp_path: Path) -> None:
    path = _write(tmp_path, {"backbones": ["nope"], "units": [_probe_unit()]})
    done = run_cli("run", "--suite", str(path), "--output-dir", str(tmp_path / "out"))
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "unknown backbone 'nope'" in done.stderr
    unknown = run_cli("run", "--suite", "transfr", "--output-dir", str(tmp_path / "out"))
    assert unknown.returncode == 2 and "did you mean transfer" in unknown.stderr

"""Plugin discovery through real installed distributions and the entry-point group."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import run_cli

from catlip_bench.errors import CatlipBenchError
from catlip_bench.registry import Registry
from catlip_bench.specs import SuiteSpec


def test_installed_plugin_is_found_through_its_entry_point(plugin_site: Path) -> None:
    env = {"PYTHONPATH": str(plugin_site), "CATLIP_BENCH_PLUGINS": "testplugin"}
    listed = run_cli("list", "backbones", env=env)
    assert listed.returncode == 0, listed.stderr
    assert "testplugin-patchmean" in listed.stdout
    assert "[testplugin]" in listed.stdout
    assert "vit-tiny-untrained" in listed.stdout  # built-ins come through the same hooks
    plugins = run_cli("plugins", env=env)
    line = next(row for row in plugins.stdout.splitlines() if row.startswith("testplugin"))
    assert "0.3.1" in line
    assert "register_backbones, register_tasks, register_exporters" in line


def test_broken_plugins_do_not_take_the_others_down(plugin_site: Path) -> None:
    env = {"PYTHONPATH": str(plugin_site), "CATLIP_BENCH_PLUGINS": "testplugin,broken,raising"}
    listed = run_cli("list", "backbones", env=env)
    assert listed.returncode == 0
    assert "testplugin-patchmean" in listed.stdout
    assert "raising-half-registered" not in listed.stdout  # a hook that raised registers nothing
    assert "plugin 'broken' (entry point broken = catlip_bench_broken) failed to import: ModuleNotFoundError" in listed.stderr
    assert "plugin 'raising'" in listed.stderr and "weights folder is not configured" in listed.stderr
    plugins = run_cli("plugins", env=env)
    assert "ERROR: failed to import" in next(r for r in plugins.stdout.splitlines() if r.startswith("broken"))


def test_strict_mode_exits_non_zero(plugin_site: Path) -> None:
    env = {"PYTHONPATH": str(plugin_site), "CATLIP_BENCH_PLUGINS": "broken", "CATLIP_BENCH_STRICT_PLUGINS": "1"}
    listed = run_cli("list", "backbones", env=env)
    assert listed.returncode == 2
    assert listed.stderr.count("\n") == 1 and "catlip_bench_broken" in listed.stderr


def test_allow_list_skips_other_entry_points(plugin_site: Path) -> None:
    listed = run_cli("list", "backbones", env={"PYTHONPATH": str(plugin_site), "CATLIP_BENCH_PLUGINS": "dup"})
    assert "testplugin-patchmean" not in listed.stdout


def test_duplicate_name_is_an_error_naming_both_plugins(plugin_site: Path) -> None:
    env = {"PYTHONPATH": str(plugin_site), "CATLIP_BENCH_PLUGINS": "dup"}
    listed = run_cli("list", "backbones", env=env)
    assert "'vit-tiny-untrained' is registered twice: by plugin 'backbones' and by plugin 'dup'" in listed.stderr
    strict = run_cli("list", "backbones", env={**env, "CATLIP_BENCH_STRICT_PLUGINS": "1"})
    assert strict.returncode == 2


def test_registry_suggests_close_names_and_rejects_clashes() -> None:
    registry: Registry[SuiteSpec] = Registry("suites")
    registry.add(SuiteSpec("transfer", Path("t.yaml")), "core")
    registry.add(SuiteSpec("smoke", Path("s.yaml")), "core")
    with pytest.raises(CatlipBenchError, match=r"unknown suite 'trasnfer': did you mean transfer\?"):
        registry.get("trasnfer")
    with pytest.raises(CatlipBenchError, match="known: smoke, transfer"):
        registry.get("zzz")
    with pytest.raises(CatlipBenchError, match="by plugin 'core' and by plugin 'other'"):
        registry.add(SuiteSpec("smoke", Path("x.yaml")), "other")
    with pytest.raises(CatlipBenchError, match="registered twice"):
        registry.get("smoke")  # a clashing name is never silently resolved to one of the two


def test_unknown_kind_in_cli_is_rejected() -> None:
    done = run_cli("list", "bakbones")
    assert done.returncode == 2 and "invalid choice" in done.stderr


def test_builtin_trainers_come_through_register_trainers() -> None:
    """The core's trainers use the same hook as a third party's (the smoke suite test trains through it)."""
    from catlip_bench.plugins import registries

    found = registries()
    assert found.trainers.names() == ["catlip", "clip"]
    assert found.trainers.owner("catlip") == "pretrain"
    assert next(p for p in found.plugins if p.name == "pretrain").hooks == ["register_trainers"]

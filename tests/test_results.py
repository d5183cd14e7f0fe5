"""The SQLite results store: concurrent writers, killed writers, and the leaderboard built from it."""

from __future__ import annotations

import io
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from conftest import run_cli

from catlip_bench import leaderboard
from catlip_bench.errors import CatlipBenchError
from catlip_bench.results import Store, Unit
from catlip_bench.specs import Metric

WRITER = """
import sys
from catlip_bench.results import Store, Unit
from catlip_bench.specs import Metric
store, tag, units, rows = Store(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
for u in range(units):
    unit = Unit("s", "t", "d", f"{tag}-{u}", seed=0)
    store.record(unit, [Metric(f"m{r}", r) for r in range(rows)], checkpoint_sha256=None, wall_seconds=0.0,
                 versions={}, revision="test")
    print(u, flush=True)
"""


def _writer(store: Path, tag: str, units: int, rows: int) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", WRITER, str(store), tag, str(units), str(rows)],
                            stdout=subprocess.PIPE, text=True)


def test_two_processes_writing_at_once_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "results.sqlite"
    Store(path)
    writers = [_writer(path, tag, units=150, rows=3) for tag in ("a", "b")]
    for writer in writers:
        writer.communicate(timeout=300)
        assert writer.returncode == 0
    frame = Store(path).frame()
    assert len(frame) == 2 * 150 * 3
    assert frame.groupby("backbone").size().eq(3).all() and frame.backbone.nunique() == 300


def test_a_writer_killed_mid_write_leaves_no_partial_unit(tmp_path: Path) -> None:
    path = tmp_path / "results.sqlite"
    Store(path)
    writer = _writer(path, "k", units=10_000, rows=2_000)
    assert writer.stdout is not None
    writer.stdout.readline()  # at least one unit committed; the next is being written
    time.sleep(0.3)
    os.kill(writer.pid, signal.SIGKILL)
    writer.wait()
    with sqlite3.connect(path) as db:
        units = db.execute("SELECT COUNT(*) FROM units").fetchone()[0]
        per_unit = db.execute("SELECT unit_id, COUNT(*) FROM results GROUP BY unit_id").fetchall()
        orphans = db.execute(
            "SELECT COUNT(*) FROM results WHERE unit_id NOT IN (SELECT unit_id FROM units)").fetchone()[0]
    assert units >= 1
    assert len(per_unit) == units and all(count == 2_000 for _, count in per_unit)
    assert orphans == 0


def test_recording_a_unit_again_replaces_its_rows(tmp_path: Path) -> None:
    store = Store(tmp_path / "r.sqlite")
    unit = Unit("s", "linear_probe", "fashion-mnist", "vit", seed=1)
    store.record(unit, [Metric("top1", 0.5)], checkpoint_sha256="ab", wall_seconds=1, versions={}, revision="x")
    assert store.is_done(unit)
    store.record(unit, [Metric("top1", 0.7)], checkpoint_sha256="ab", wall_seconds=1, versions={}, revision="x")
    assert store.frame().value.tolist() == [0.7]


def test_a_file_that_is_not_sqlite_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "results.sqlite"
    bad.write_text("these are not the rows you are looking for" * 100)
    with pytest.raises(CatlipBenchError, match=f"results store {bad} is not a usable SQLite file"):
        Store(bad)


def _known_store(path: Path) -> Store:
    """Two backbones; one metric at two seeds (mean), one at two shot counts, one only for one backbone."""
    store = Store(path)
    rows = {
        ("linear_probe", "fmnist", "vit", 0): [Metric("top1", 0.80)],
        ("linear_probe", "fmnist", "vit", 1): [Metric("top1", 0.90)],
        ("linear_probe", "fmnist", "mnv2", 0): [Metric("top1", 0.75)],
        ("fewshot", "fmnist", "vit", 0): [Metric("top1", 0.25, shots=1), Metric("top1", 0.5, shots=10)],
        ("zeroshot_vocab", "tux", "vit", 0): [Metric("coverage", 0.6)],
    }
    for (task, dataset, backbone, seed), metrics in rows.items():
        store.record(Unit("demo", task, dataset, backbone, seed), metrics, checkpoint_sha256=f"{backbone}-sha",
                     wall_seconds=1.0, versions={}, revision="abc123")
    store.record(Unit("other", "linear_probe", "fmnist", "vit", 0), [Metric("top1", 0.1)],
                 checkpoint_sha256="x", wall_seconds=1.0, versions={}, revision="abc123")
    return store


def test_leaderboard_csv_cell_by_cell(tmp_path: Path) -> None:
    store = _known_store(tmp_path / "r.sqlite")
    done = run_cli("leaderboard", "--store", str(store.path), "--suite", "demo", "--format", "csv")
    assert done.returncode == 0, done.stderr
    table = pd.read_csv(io.StringIO(done.stdout)).set_index("backbone")
    assert list(table.index) == ["mnv2", "vit"]
    assert table.loc["vit", "linear_probe/fmnist/top1"] == pytest.approx(0.85)  # mean of seeds 0 and 1
    assert table.loc["mnv2", "linear_probe/fmnist/top1"] == pytest.approx(0.75)
    assert table.loc["vit", "fewshot/fmnist/top1@k=1"] == pytest.approx(0.25)
    assert table.loc["vit", "fewshot/fmnist/top1@k=10"] == pytest.approx(0.5)
    assert table.loc["vit", "zeroshot_vocab/tux/coverage"] == pytest.approx(0.6)
    assert pd.isna(table.loc["mnv2", "fewshot/fmnist/top1@k=1"])
    assert table.loc["vit", "checkpoint_sha256"] == "vit-sha"
    assert table.loc["vit", "seeds"] == 2 and table.loc["mnv2", "seeds"] == 1
    assert table.loc["vit", "git_revision"] == "abc123"
    assert table.loc["vit", "protocol_versions"] == "fewshot=1;linear_probe=1;zeroshot_vocab=1"


def test_leaderboard_markdown_and_json_and_file_output(tmp_path: Path) -> None:
    store = _known_store(tmp_path / "r.sqlite")
    frame = leaderboard.build(store, "other")
    assert frame["linear_probe/fmnist/top1"].tolist() == [0.1]
    out = tmp_path / "board.md"
    done = run_cli("leaderboard", "--store", str(store.path), "--format", "md", "--out", str(out))
    assert done.returncode == 0 and done.stdout == ""
    lines = out.read_text().splitlines()
    assert lines[0].startswith("| backbone | fewshot/fmnist/top1@k=1 |")
    # without --suite, vit's probe is the mean of all three rows (0.8, 0.9 and 0.1)
    assert any(line.startswith("| vit | 0.25 | 0.5 | 0.6 | 0.6 |") for line in lines)


def test_leaderboard_errors_are_one_line(tmp_path: Path) -> None:
    missing = run_cli("leaderboard", "--store", str(tmp_path / "nope.sqlite"))
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1 and "nope.sqlite not found" in missing.stderr
    store = _known_store(tmp_path / "r.sqlite")
    typo = run_cli("leaderboard", "--store", str(store.path), "--format", "cvs")
    assert typo.returncode == 2 and "did you mean csv?" in typo.stderr

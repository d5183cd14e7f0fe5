"""The smoke suite end to end: pre-training a missing backbone, a kill, a resume, a re-run that skips all."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from conftest import run_cli

from catlip_bench.paths import cache_dir

pytestmark = pytest.mark.slow


def _units(store: Path) -> dict[str, str]:
    if not store.is_file():
        return {}
    try:
        with sqlite3.connect(store, timeout=30) as db:
            return dict(db.execute("SELECT unit_id, finished_at FROM units").fetchall())
    except sqlite3.OperationalError:  # the schema is not there yet
        return {}


def test_smoke_suite_survives_a_kill_and_a_rerun_skips_everything(tmp_path: Path) -> None:
    shutil.rmtree(cache_dir() / "checkpoints" / "catlip-vit-tiny-smoke", ignore_errors=True)
    out = tmp_path / "smoke"
    store = out / "results.sqlite"
    script = Path(sys.executable).with_name("catlip-bench")
    first = subprocess.Popen([str(script), "run", "--suite", "smoke", "--output-dir", str(out)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 900
    while len(_units(store)) < 2 and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.5)
    os.killpg(first.pid, signal.SIGKILL)  # the untrained backbone's units are in; pre-training or a unit is in flight
    first.wait()
    before = _units(store)
    assert len(before) >= 2

    second = run_cli("run", "--suite", "smoke", "--output-dir", str(out))
    assert second.returncode == 0, second.stderr[-3000:]
    assert f"{len(before)} already in {store}" in second.stderr
    after = _units(store)
    assert len(after) == 5
    assert all(after[unit] == finished for unit, finished in before.items())  # nothing finished was redone
    assert (cache_dir() / "checkpoints" / "catlip-vit-tiny-smoke" / "checkpoint.pt").is_file()

    board = pd.read_csv(out / "leaderboard.csv").set_index("backbone")
    assert set(board.index) == {"vit-tiny-untrained", "catlip-vit-tiny-smoke"}
    probe = board["linear_probe/fashion-mnist/top1"]
    assert ((probe > 0.1) & (probe <= 1.0)).all()  # 10 classes: above chance even untrained
    coverage = board.loc["catlip-vit-tiny-smoke", "fewshot[transfer_init]/tuxpaint-probe/coverage"]
    assert 0 < coverage <= 1
    assert pd.isna(board.loc["vit-tiny-untrained", "zeroshot_vocab/tuxpaint-probe/top1"])
    summary = (out / "summary.md").read_text()
    assert summary.startswith("# smoke (suite v1)")
    assert "| linear_probe / fashion-mnist / top1 |" in summary
    assert (out / "leaderboard.md").is_file() and (out / "shots_tuxpaint-probe.png").is_file()

    third = run_cli("run", "--suite", "smoke", "--output-dir", str(out))
    assert third.returncode == 0
    assert "5 units, 5 already in" in third.stderr and "0 to run" in third.stderr
    assert _units(store) == after

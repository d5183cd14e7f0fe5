"""Bad input found by trying the CLI as a newcomer: each gets one line, and nothing is changed or lost."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import torch
from conftest import run_cli

from catlip_bench.backbone import load_checkpoint
from catlip_bench.errors import CatlipBenchError


def test_leaderboard_never_writes_into_a_file_that_is_not_a_store(tmp_path: Path) -> None:
    other = tmp_path / "mine.db"
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE notes (text TEXT)")
    empty = tmp_path / "typo.txt"
    empty.write_bytes(b"")
    for path in (other, empty):
        done = run_cli("leaderboard", "--store", str(path))
        assert done.returncode == 2 and f"{path} is not a catlip-bench results store" in done.stderr
    assert empty.read_bytes() == b""
    with sqlite3.connect(other) as db:
        assert [r[0] for r in db.execute("SELECT name FROM sqlite_master")] == ["notes"]


def test_corrupt_and_empty_checkpoints_say_so(tmp_path: Path) -> None:
    text = tmp_path / "bad.pt"
    text.write_text("not a checkpoint")
    truncated = tmp_path / "cut.pt"
    torch.save({"w": torch.zeros(100)}, tmp_path / "whole.pt")
    truncated.write_bytes((tmp_path / "whole.pt").read_bytes()[:300])
    empty = tmp_path / "empty.pt"
    empty.write_bytes(b"")
    for path in (text, truncated, empty):
        with pytest.raises(CatlipBenchError, match=r"is not a readable PyTorch checkpoint \(corrupt or truncated\?\)"):
            load_checkpoint(path)


def test_unsafe_objects_are_refused_without_suggesting_unsafe_loading(tmp_path: Path) -> None:
    path = tmp_path / "pickled.pt"
    torch.save({"model": torch.nn.Linear(2, 2)}, path)  # a whole module: arbitrary classes
    with pytest.raises(CatlipBenchError, match="safe \\(weights-only\\) loading refuses") as caught:
        load_checkpoint(path)
    assert "weights_only" not in str(caught.value) and "False" not in str(caught.value)


def test_non_utf8_captions_are_decoded_with_replacement() -> None:
    done = run_cli("labels", "extract", "caf\udce9 cat")  # the argv of the raw bytes b"caf\xe9 cat"
    assert done.returncode == 0 and done.stdout == "n2121620\tcat.n.01\n"


def test_an_empty_caption_file_is_an_error(tmp_path: Path) -> None:
    captions = tmp_path / "captions.txt"
    captions.write_text("")
    done = run_cli("labels", "vocab", "--captions", str(captions), "--min-count", "1", "--out", str(tmp_path / "v"))
    assert done.returncode == 2 and f"{captions} holds no captions" in done.stderr
    assert not (tmp_path / "v").exists()


def test_an_allow_list_naming_no_installed_plugin_warns() -> None:
    done = run_cli("list", "tasks", env={"CATLIP_BENCH_PLUGINS": "nonexistent"})
    assert done.returncode == 0
    assert "plugin 'nonexistent' (CATLIP_BENCH_PLUGINS) is not installed" in done.stderr
    strict = run_cli("list", "tasks", env={"CATLIP_BENCH_PLUGINS": "nonexistent", "CATLIP_BENCH_STRICT_PLUGINS": "1"})
    assert strict.returncode == 2

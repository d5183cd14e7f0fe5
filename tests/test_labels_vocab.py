"""Vocabulary counting, cuts, the saved TSV round trip, malformed files, and the coverage report."""

from __future__ import annotations

from pathlib import Path

import pytest

from catlip_bench.errors import CatlipBenchError
from catlip_bench.labels import Synset, Vocabulary, build_vocabulary, extractor
from catlip_bench.labels.sources import read_captions

# hand-counted: dog 4 (dogs, dog, dog, dog), cat 3, bird 2, fox 1; "qwzx" and "of the" have no synset
CAPTIONS = ["a dog and a cat", "two dogs", "dog, cat, bird", "a dog", "cat", "red fox", "bird", "qwzx",
            None, "", b"\xff"]
DOG, CAT, BIRD = "n2084071", "n2121620", "n1503061"


def test_counts_sort_and_min_count() -> None:
    vocabulary, report = build_vocabulary(CAPTIONS, min_count=2)
    assert vocabulary.keys == (DOG, CAT, BIRD)
    assert vocabulary.names == ("dog.n.01", "cat.n.01", "bird.n.01")
    assert vocabulary.counts == (4, 3, 2)
    # 11 captions; bad: None and invalid UTF-8; empty: ""; no synset: qwzx + the three above
    assert (report.captions, report.bad, report.empty, report.unlabelled) == (11, 2, 1, 4)
    # plus "two" (two.n.01), "red" and "fox" once each: 6 distinct synsets before the cut ("a" is angstrom.n.01)
    assert report.distinct_synsets == 6
    # captions with dog, cat or bird: 1, 2, 3, 4, 5, 7 -> 6 of 11; labels in the vocabulary: 2+1+3+1+1+1 = 9
    assert report.covered == 6
    assert report.coverage == pytest.approx(6 / 11)
    assert report.mean_labels == pytest.approx(9 / 11)
    assert [(s.key, n) for s, n in report.top] == [(DOG, 4), (CAT, 3), (BIRD, 2)]


def test_top_k_and_ties_by_offset() -> None:
    vocabulary, _ = build_vocabulary(["fox", "two", "red", "dog"], top_k=2)
    # all four seen once: ties go by WordNet offset, dog 2084071 < fox 2118333 < red 4962784 < two 13743269
    assert vocabulary.keys == ("n2084071", "n2118333")


def test_no_cut_keeps_everything_and_bad_cuts_are_errors() -> None:
    vocabulary, _ = build_vocabulary(CAPTIONS)
    assert len(vocabulary) == 6
    with pytest.raises(CatlipBenchError, match="min_count must be at least 1"):
        build_vocabulary(CAPTIONS, min_count=0)


def test_index_encode() -> None:
    vocabulary, _ = build_vocabulary(CAPTIONS, min_count=2)
    assert vocabulary.index(CAT) == 1
    assert vocabulary.index("n2118333") is None  # fox was cut
    synsets = extractor().synsets("a bird, a fox, a dog and another bird")
    assert vocabulary.encode(synsets) == [2, 0]
    assert vocabulary.encode([CAT, Synset(DOG, "dog.n.01"), CAT]) == [1, 0]


def test_save_load_round_trip_and_digest(tmp_path: Path) -> None:
    vocabulary, _ = build_vocabulary(CAPTIONS, min_count=2)
    path = vocabulary.save(tmp_path / "v" / "vocab.tsv")
    assert path.read_text().splitlines() == [
        "key\tname\tcount\trank", f"{DOG}\tdog.n.01\t4\t1", f"{CAT}\tcat.n.01\t3\t2", f"{BIRD}\tbird.n.01\t2\t3"]
    loaded = Vocabulary.load(path)
    assert loaded == vocabulary
    assert loaded.digest() == vocabulary.digest()
    assert len(vocabulary.digest()) == 64
    assert Vocabulary.from_dict(vocabulary.as_dict()) == vocabulary
    other, _ = build_vocabulary(CAPTIONS, min_count=3)
    assert other.digest() != vocabulary.digest()


@pytest.mark.parametrize(("text", "message"), [
    ("", "line 1: expected the header key name count rank"),
    ("key,name,count,rank\n", "line 1: expected the header"),
    ("key\tname\tcount\trank\nn1\tx.n.01\tmany\t1\n", "line 2: expected n<offset>, name, count, rank 1"),
    ("key\tname\tcount\trank\nn1\tx.n.01\t3\t2\n", "line 2: expected"),
    ("key\tname\tcount\trank\ndog\tx.n.01\t3\t1\n", "line 2"),
    ("key\tname\tcount\trank\nn1\ta.n.01\t3\t1\nn1\tb.n.01\t2\t2\n", "lists synset n1 twice"),
])
def test_malformed_vocabulary_files(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.tsv"
    path.write_text(text)
    with pytest.raises(CatlipBenchError, match=message) as error:
        Vocabulary.load(path)
    assert "\n" not in str(error.value)


def test_missing_vocabulary_file(tmp_path: Path) -> None:
    with pytest.raises(CatlipBenchError, match="cannot be read"):
        Vocabulary.load(tmp_path / "nope.tsv")


def test_report_prints() -> None:
    _, report = build_vocabulary(CAPTIONS, min_count=2)
    text = str(report)
    assert "captions             11" in text
    assert "coverage             54.5% of captions have >= 1 vocabulary label (6)" in text
    assert "1. n2084071   dog.n.01" in text


def test_read_captions_lines_and_tables(tmp_path: Path) -> None:
    lines = tmp_path / "captions.txt"
    lines.write_bytes(b"a dog\r\n\nbad \xff byte\n")
    assert list(read_captions(lines)) == [b"a dog", b"", b"bad \xff byte"]
    table = tmp_path / "pairs.tsv"
    table.write_bytes(b"image\tcaption\nx.png\ta dog\ny.png\t\nz.png\tbad \xff\n")
    captions = list(read_captions(table))
    assert captions[:2] == ["a dog", ""]
    assert extractor().extract(captions[2]).status == "bad"
    csv = tmp_path / "pairs.csv"
    csv.write_text('image,caption\nx.png,"a dog, a cat"\n')
    assert list(read_captions(csv)) == ["a dog, a cat"]


def test_read_captions_errors(tmp_path: Path) -> None:
    with pytest.raises(CatlipBenchError, match="not found"):
        list(read_captions(tmp_path / "nope.txt"))
    table = tmp_path / "pairs.csv"
    table.write_text("image,text\nx.png,a dog\n")
    with pytest.raises(CatlipBenchError, match="has no 'caption' column \\(columns: image, text\\)"):
        list(read_captions(table))

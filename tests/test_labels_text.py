"""The fast cleaning and tokenizing paths give exactly what CoreNet's cleaning and `nltk.word_tokenize` give."""

from __future__ import annotations

import random

import nltk
import pytest

from catlip_bench.data.nltk_data import ensure_nltk
from catlip_bench.labels.reference import reference_clean
from catlip_bench.labels.text import caption_text, clean_caption, safe_chunks, tokenize_chunk, word_tokenize

# Pieces that exercise every rule of Punkt and NLTKWordTokenizer: quotes, clitics, contractions, abbreviations,
# sentence ends, dashes, brackets, numbers, unicode letters and quotes, runs of spaces.
PIECES = [
    "a", "b", "dog", "Cat", "3", "3,36", "x_y", "\u00e9t\u00e9", "\u00b2", " ", "  ", " ", " ", ",", ":", ";", ".", "?",
    "!", "'", "''", '"', "`", "-", "--", "(", ")", "[", "]", "{", "}", "<", ">", "@", "#", "$", "%", "&", "*", "/",
    "=", "^", "|", "~", "\\", "\u00ab", "\u201c", "\u2019", "\u2014", "...", "cannot", "gonna", "wanna", "gimme",
    "'s", "'ll", "n't", "'re", "'t", "is", "'tis", "d'ye", "more'n", "st.", "mr.", "u.s.", "e.g.", "No.", "\n", "\t",
]


def random_texts(seed: int, count: int, pieces: list[str]) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choice(pieces) for _ in range(rng.randint(0, 16))) for _ in range(count)]


@pytest.fixture(scope="module", autouse=True)
def nltk_data() -> None:
    ensure_nltk()


def test_word_tokenize_equals_nltk_on_random_texts() -> None:
    texts = random_texts(0, 4000, PIECES)
    fast = sum(safe_chunks(t) is not None for t in texts)
    assert 500 < fast < 3500  # both paths are exercised
    assert [word_tokenize(t) for t in texts] == [nltk.word_tokenize(t) for t in texts]


def test_safe_texts_tokenize_word_by_word() -> None:
    """The theorem the fast path rests on, over texts drawn only from the safe characters."""
    safe = [p for p in PIECES if safe_chunks(p.strip() or "a") is not None and not set(p) & set(".?!")]
    texts = [t.strip() + end for t, end in zip(random_texts(1, 3000, safe), [".", "?", "!", ""] * 750, strict=True)]
    texts = [" ".join(t.split()) for t in texts]
    chunked = [(t, safe_chunks(t)) for t in texts]
    assert sum(c is not None for _, c in chunked) > 2000
    for text, chunks in chunked:
        if chunks is not None:
            assert [tok for c in chunks for tok in tokenize_chunk(c)] == nltk.word_tokenize(text), text


@pytest.mark.parametrize("chunk", ["dog", "dog.", "dog?", "cannot", "Cannot.", "gonna", "wanna", "lemme!", "x_1",
                                   "\u00e9t\u00e9", "\u00b2", "3", ".", "dog's", "(dog),", "can", "not"])
def test_tokenize_chunk_equals_nltk(chunk: str) -> None:
    from nltk.tokenize import NLTKWordTokenizer

    assert tokenize_chunk(chunk) == NLTKWordTokenizer().tokenize(chunk)


def test_english_punkt_model_is_the_real_one() -> None:
    """Abbreviations from NLTK's English model stay whole; with an untrained Punkt they would split."""
    assert nltk.word_tokenize("Mr. Smith saw the U.S. flag. It was big.") == [
        "Mr.", "Smith", "saw", "the", "U.S.", "flag", ".", "It", "was", "big", "."]


def test_clean_caption_equals_corenet_on_random_text() -> None:
    rng = random.Random(2)
    alphabet = [chr(c) for c in range(32, 127)] + ["\n", "\t", "\u00e9", "\u201c", "&amp;", "%20", "<b>", "\u00c3\u00a9"]
    texts = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 24))) for _ in range(3000)]
    assert [clean_caption(t) for t in texts] == [reference_clean(t) for t in texts]


@pytest.mark.parametrize(("caption", "expected"), [
    ("dog", "dog"), (b"dog", "dog"), (bytearray(b"dog"), "dog"), (b"\xff", None), ("a\udcffb", None),
    (None, None), (7, None),
])
def test_caption_text(caption: object, expected: str | None) -> None:
    assert caption_text(caption) == expected

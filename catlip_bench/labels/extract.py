"""Caption → WordNet noun synsets, CoreNet's way (`corenet`) or the paper's nouns-only way (`nouns`).

Both modes clean the caption (`text.clean_caption`), tokenize it as `nltk.word_tokenize` does, lemmatize each
token as a noun with NLTK's WordNet lemmatizer and keep the synset `<lemma>.n.01` when it exists and its name is
exactly `<lemma>.n.01`; the key is `n<offset>` (WordNet 3.0, no zero padding). `corenet` keeps every token (the
released code computes POS tags but never reads them, so they are not computed here); `nouns` keeps the tokens
that `nltk.pos_tag` tags NN, NNS, NNP or NNPS. A caption's synsets are unique, in caption order.

Speed without changing a label: the token → synset result is cached, and for captions that `text.safe_chunks`
accepts, a whole space-separated word → its tokens and synsets is cached (new words of a group of captions are
tokenized together), so a typical caption costs one regex match and a dictionary look-up per word.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from functools import cache
from itertools import islice
from typing import NamedTuple

from catlip_bench.data.nltk_data import ensure_nltk, first_senses
from catlip_bench.errors import CatlipBenchError
from catlip_bench.labels.text import caption_text, clean_caption, safe_chunks, tokenize_chunks

MODES = ("corenet", "nouns")
NOUN_TAGS = frozenset({"NN", "NNS", "NNP", "NNPS"})
CACHE_LIMIT = 1_000_000
#: Captions labelled together by `Extractor.extract_many` (their new words are tokenized in one go).
GROUP = 4096
#: Longer captions are counted as bad, not labelled: no real caption is this long, and NLTK's regex guard
#: (5 s a pattern) could otherwise abort on a multi-megabyte one. The one deliberate difference from CoreNet.
MAX_CAPTION_CHARS = 100_000


class Synset(NamedTuple):
    """A WordNet noun synset: `key` is `n<offset>` (e.g. n2084071), `name` is WordNet's (e.g. dog.n.01)."""

    key: str
    name: str


class Extracted(NamedTuple):
    """One caption's outcome: `status` is ok, empty (blank once cleaned) or bad (not text, or longer than
    `MAX_CAPTION_CHARS`); its synsets."""

    status: str
    synsets: list[Synset]


class _Lookup:
    """Token → synset under CoreNet's rule, cached.

    The released code calls `wordnet.synset(f"{lemma}.n.01")` and keeps it when its name is `<lemma>.n.01`;
    that call resolves `lemma.lower()` to the offset of its first noun sense and parses that synset. The same
    answer for every noun lemma was written once by NLTK into `first_senses()`, so only the lemmatizer runs here.
    """

    def __init__(self) -> None:
        ensure_nltk()
        from nltk.stem import WordNetLemmatizer

        self._lemmatize = WordNetLemmatizer().lemmatize
        self._first_senses = first_senses()
        self._tokens: dict[str, Synset | None] = {}

    def __call__(self, token: str) -> Synset | None:
        found = self._tokens.get(token, False)
        if found is False:
            if len(self._tokens) >= CACHE_LIMIT:
                self._tokens.clear()
            found = self._tokens[token] = self._resolve(token)
        return found  # type: ignore[return-value]

    def _resolve(self, token: str) -> Synset | None:
        try:
            lemma = self._lemmatize(token)
        except Exception:  # noqa: BLE001 - as released: any token WordNet refuses is skipped
            return None
        sense = self._first_senses.get(lemma.lower())
        if sense is None or sense[1] != f"{lemma}.n.01":
            return None
        return Synset(f"n{sense[0]}", sense[1])


class Extractor:
    """Labels captions with synsets; never raises on bad input (such a caption gets no synsets)."""

    def __init__(self, mode: str) -> None:
        if mode not in MODES:
            raise CatlipBenchError(f"unknown label mode {mode!r}: choose one of {', '.join(MODES)}")
        self.mode = mode
        self._lookup = _Lookup()
        self._chunk_tokens: dict[str, tuple[str, ...]] = {}
        self._chunk_synsets: dict[str, tuple[Synset, ...]] = {}
        if mode == "nouns":
            import nltk

            nltk.pos_tag(["warm", "up"])  # load the tagger now: a missing file fails here, not mid-run

    def synsets(self, caption: object) -> list[Synset]:
        """The caption's synsets, unique, in caption order; [] for None, non-text or invalid UTF-8."""
        return self.extract(caption).synsets

    def batch(self, captions: Iterable[object]) -> list[list[Synset]]:
        """`synsets` of each caption (faster than one by one: new words are tokenized together)."""
        return [found.synsets for found in self.extract_many(captions)]

    def extract(self, caption: object) -> Extracted:
        """The caption's status (ok, empty, bad) and synsets."""
        return self._extract_group([caption])[0]

    def extract_many(self, captions: Iterable[object]) -> Iterator[Extracted]:
        """`extract` of each caption, lazily, `GROUP` captions at a time."""
        captions = iter(captions)
        while group := list(islice(captions, GROUP)):
            yield from self._extract_group(group)

    def _extract_group(self, captions: list[object]) -> list[Extracted]:
        texts = [_clean(caption) for caption in captions]
        chunked = [safe_chunks(text) if text else None for text in texts]
        self._learn(chunks for chunks in chunked if chunks is not None)
        found = []
        for text, chunks in zip(texts, chunked, strict=True):
            if not text:
                found.append(Extracted("bad" if text is None else "empty", []))
                continue
            if chunks is not None and self.mode == "corenet":
                synsets = [synset for chunk in chunks for synset in self._synsets_of_chunk(chunk)]
            else:
                synsets = self._synsets_of_tokens(self._tokens(text, chunks))
            found.append(Extracted("ok", list(dict.fromkeys(synsets))))
        return found

    def _learn(self, chunk_lists: Iterable[list[str]]) -> None:
        """Make sure every chunk of the group has its tokens cached (new ones tokenized together)."""
        wanted = dict.fromkeys(chunk for chunks in chunk_lists for chunk in chunks)
        if len(self._chunk_tokens) + len(wanted) > CACHE_LIMIT:
            self._chunk_tokens.clear()
            self._chunk_synsets.clear()
        new = [chunk for chunk in wanted if chunk not in self._chunk_tokens]
        self._chunk_tokens.update(zip(new, map(tuple, tokenize_chunks(new)), strict=True))

    def _tokens(self, text: str, chunks: list[str] | None) -> list[str]:
        if chunks is None:
            import nltk

            return nltk.word_tokenize(text)
        return [token for chunk in chunks for token in self._chunk_tokens[chunk]]

    def _synsets_of_tokens(self, tokens: list[str]) -> list[Synset]:
        if self.mode == "nouns":
            import nltk

            tokens = [token for token, tag in nltk.pos_tag(tokens) if tag in NOUN_TAGS]
        return [synset for synset in map(self._lookup, tokens) if synset is not None]

    def _synsets_of_chunk(self, chunk: str) -> tuple[Synset, ...]:
        found = self._chunk_synsets.get(chunk)
        if found is None:
            tokens = self._chunk_tokens[chunk]
            found = self._chunk_synsets[chunk] = tuple(s for s in map(self._lookup, tokens) if s is not None)
        return found


def _clean(caption: object) -> str | None:
    """The cleaned caption; None when it is not text or longer than `MAX_CAPTION_CHARS`."""
    raw = caption_text(caption)
    return None if raw is None or len(raw) > MAX_CAPTION_CHARS else clean_caption(raw)


def extractor(mode: str = "corenet") -> Extractor:
    """The extractor for `mode` (corenet or nouns), built once per process."""
    return _extractor(mode)


@cache
def _extractor(mode: str) -> Extractor:
    return Extractor(mode)

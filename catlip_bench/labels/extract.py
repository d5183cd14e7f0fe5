"""Caption → WordNet noun synsets, CoreNet's way (`corenet`) or the paper's nouns-only way (`nouns`).

Both modes clean the caption (`text.clean_caption`), tokenize it as `nltk.word_tokenize` does, lemmatize each
token as a noun with NLTK's WordNet lemmatizer and keep the synset `<lemma>.n.01` when it exists and its name is
exactly `<lemma>.n.01`; the key is `n<offset>` (WordNet 3.0, no zero padding). `corenet` keeps every token (the
released code computes POS tags but never reads them, so they are not computed here); `nouns` keeps the tokens
that `nltk.pos_tag` tags NN, NNS, NNP or NNPS. A caption's synsets are unique, in caption order.

Speed without changing a label: the token → synset result is cached, and for captions that `text.safe_chunks`
accepts, a whole space-separated word → its synsets is cached, so a typical caption costs one regex match and a
dictionary look-up per word.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from typing import NamedTuple

from catlip_bench.data.nltk_data import ensure_nltk
from catlip_bench.errors import CatlipBenchError
from catlip_bench.labels.text import caption_text, clean_caption, safe_chunks, tokenize_chunk

MODES = ("corenet", "nouns")
NOUN_TAGS = frozenset({"NN", "NNS", "NNP", "NNPS"})
CACHE_LIMIT = 1_000_000


class Synset(NamedTuple):
    """A WordNet noun synset: `key` is `n<offset>` (e.g. n2084071), `name` is WordNet's (e.g. dog.n.01)."""

    key: str
    name: str


class Extracted(NamedTuple):
    """One caption's outcome: `status` is ok, empty (blank once cleaned) or bad (not text); its synsets."""

    status: str
    synsets: list[Synset]


class _Lookup:
    """Token → synset under CoreNet's rule, cached (the same WordNet calls the released code makes)."""

    def __init__(self) -> None:
        ensure_nltk()
        from nltk.corpus import wordnet
        from nltk.stem import WordNetLemmatizer

        self._wordnet = wordnet
        self._lemmatize = WordNetLemmatizer().lemmatize
        self._tokens: dict[str, Synset | None] = {}

    def __call__(self, token: str) -> Synset | None:
        found = self._tokens.get(token, False)
        if found is False:
            if len(self._tokens) >= CACHE_LIMIT:
                self._tokens.clear()
            found = self._tokens[token] = self._resolve(token)
        return found  # type: ignore[return-value]

    def _resolve(self, token: str) -> Synset | None:
        lemma = self._lemmatize(token)
        try:
            synset = self._wordnet.synset(f"{lemma}.n.01")
        except Exception:  # noqa: BLE001 - the released code skips any token WordNet refuses, so does this
            return None
        name = synset.name()
        return Synset(f"n{synset.offset()}", name) if name == f"{lemma}.n.01" else None


class Extractor:
    """Labels captions with synsets; `synsets` never raises on bad input (it returns no synsets)."""

    def __init__(self, mode: str) -> None:
        if mode not in MODES:
            raise CatlipBenchError(f"unknown label mode {mode!r}: choose one of {', '.join(MODES)}")
        self.mode = mode
        self._lookup = _Lookup()
        self._chunks: dict[str, tuple[str, ...]] = {}
        self._chunk_synsets: dict[str, tuple[Synset, ...]] = {}
        if mode == "nouns":
            import nltk

            nltk.pos_tag(["warm", "up"])  # load the tagger now: a missing file fails here, not mid-run

    def synsets(self, caption: object) -> list[Synset]:
        """The caption's synsets, unique, in caption order; [] for None, non-text or invalid UTF-8."""
        return self.extract(caption).synsets

    def batch(self, captions: Iterable[object]) -> list[list[Synset]]:
        """`synsets` of each caption."""
        return [self.extract(caption).synsets for caption in captions]

    def extract(self, caption: object) -> Extracted:
        """The caption's status (ok, empty, bad) and synsets."""
        raw = caption_text(caption)
        if raw is None:
            return Extracted("bad", [])
        text = clean_caption(raw)
        if not text:
            return Extracted("empty", [])
        chunks = safe_chunks(text)
        if self.mode == "corenet" and chunks is not None:
            found = [synset for chunk in chunks for synset in self._synsets_of_chunk(chunk)]
        else:
            found = self._synsets_of_tokens(self._tokens(text, chunks))
        return Extracted("ok", list(dict.fromkeys(found)))

    def _tokens(self, text: str, chunks: list[str] | None) -> list[str]:
        if chunks is None:
            import nltk

            return nltk.word_tokenize(text)
        return [token for chunk in chunks for token in self._tokens_of_chunk(chunk)]

    def _synsets_of_tokens(self, tokens: Iterable[str]) -> list[Synset]:
        if self.mode == "nouns":
            import nltk

            tokens = [token for token, tag in nltk.pos_tag(list(tokens)) if tag in NOUN_TAGS]
        return [synset for synset in map(self._lookup, tokens) if synset is not None]

    def _tokens_of_chunk(self, chunk: str) -> tuple[str, ...]:
        tokens = self._chunks.get(chunk)
        if tokens is None:
            if len(self._chunks) >= CACHE_LIMIT:
                self._chunks.clear()
            tokens = self._chunks[chunk] = tuple(tokenize_chunk(chunk))
        return tokens

    def _synsets_of_chunk(self, chunk: str) -> tuple[Synset, ...]:
        found = self._chunk_synsets.get(chunk)
        if found is None:
            if len(self._chunk_synsets) >= CACHE_LIMIT:
                self._chunk_synsets.clear()
            tokens = self._tokens_of_chunk(chunk)
            found = self._chunk_synsets[chunk] = tuple(s for s in map(self._lookup, tokens) if s is not None)
        return found


def extractor(mode: str = "corenet") -> Extractor:
    """The extractor for `mode` (corenet or nouns), built once per process."""
    return _extractor(mode)


@cache
def _extractor(mode: str) -> Extractor:
    return Extractor(mode)

"""Caption text: decoding, CoreNet's cleaning, and `nltk.word_tokenize` with a fast path that gives the same tokens.

`nltk.word_tokenize(text)` splits `text` into sentences with the English Punkt model, then runs NLTK's improved
Treebank tokenizer (`NLTKWordTokenizer`) on each sentence. That costs ~0.5 ms a caption (every regex runs under
NLTK's ReDoS guard). Most captions need none of it, which `safe_chunks` decides:

- Punkt only breaks sentences at `.`, `?` or `!` followed by more text; a text whose only such character is its
  last is one sentence, the text itself.
- Within one sentence, the tokenizer's rules act on a word (a run of non-spaces) alone, except those that read
  across a space or an end of the text: opening double quotes (`"`, `''`, backtick), a period before the end
  (`.` `\\s*$`), and `:`/`,` before a space (whose other rule, `[:,]$`, splits a word-final one the same way).
  A text made of word characters, spaces and ``,:;'()[]{}>@#$*/=^|~\\-`` (no `''`), optionally ending in one of
  `.?!`, therefore tokenizes as the concatenation of `NLTKWordTokenizer().tokenize(word)` over its
  space-separated words, which the extractor caches per word; new words are tokenized many at a time
  (`tokenize_chunks`). Everything else goes through `nltk.word_tokenize`.

`tests/test_labels_text.py` checks both paths give equal tokens on random strings drawn from the characters that
matter; `tests/test_labels.py` and `benchmarks/labels_speed.py` compare whole labels with the reference loop.
"""

from __future__ import annotations

import re
import urllib.parse
from functools import cache

_HTML_TAG = re.compile("<.*?>")
_SPACE_RUN = re.compile(" +")
#: Printable ASCII without the characters that unquoting (`%`, `+`), tag removal (`<`) or ftfy (`&` entities)
#: act on: for these, CoreNet's cleaning reduces to collapsing spaces, stripping and lowercasing.
_CLEAN_AS_IS = re.compile(r"[ -$'-*,-;=-~]*")
_SAFE_TEXT = re.compile(r"[\w ,:;'()\[\]{}>@#$*/=^|~\\-]*[.?!]?")
_WORD = re.compile(r"\w+")
_SENTENCE_ENDS = (".", "?", "!")
#: Words tokenized per NLTK call by `tokenize_chunks` (a long text keeps each regex pass short of NLTK's timeout).
JOIN_LIMIT = 500


def caption_text(caption: object) -> str | None:
    """The caption as a string, or None when it is not text: None, a non-string, invalid UTF-8 bytes, or a
    string holding unpaired surrogates (what undecodable bytes become under `errors="surrogateescape"`)."""
    if isinstance(caption, (bytes, bytearray)):
        try:
            return bytes(caption).decode("utf-8")
        except UnicodeDecodeError:
            return None
    if not isinstance(caption, str):
        return None
    if not caption.isascii():
        try:
            caption.encode("utf-8")
        except UnicodeEncodeError:
            return None
    return caption


def clean_caption(text: str) -> str:
    """CoreNet's caption preprocessing: URL-unquote, `+` to space, drop `<...>` tags (non-greedy, one line),
    strip newlines at the ends, collapse space runs, ftfy, strip, lowercase."""
    if _CLEAN_AS_IS.fullmatch(text):
        return _SPACE_RUN.sub(" ", text).strip().lower()
    import ftfy

    text = urllib.parse.unquote(text).replace("+", " ")
    text = _HTML_TAG.sub("", text).strip("\n")
    text = ftfy.fix_text(_SPACE_RUN.sub(" ", text))
    return text.strip().lower()


def safe_chunks(text: str) -> list[str] | None:
    """The space-separated words of `text` when they tokenize independently (see the module docstring), else None."""
    if _SAFE_TEXT.fullmatch(text) and "''" not in text:
        return text.split(" ")
    return None


@cache
def _word_tokenizer():  # noqa: ANN202 - nltk has no types
    from nltk.tokenize import NLTKWordTokenizer

    return NLTKWordTokenizer()


@cache
def _contractions() -> tuple[re.Pattern[str], ...]:
    tokenizer = _word_tokenizer()
    return (*tokenizer.CONTRACTIONS2, *tokenizer.CONTRACTIONS3)


def _plain_tokens(chunk: str) -> list[str] | None:
    """The tokens of a run of word characters, optionally ending in one of `.?!`, that none of the tokenizer's
    contraction patterns (cannot, gonna, ...) matches: itself (and the punctuation), because every other rule
    of the tokenizer needs a character that is not a word character. None for any other chunk."""
    core, end = (chunk[:-1], chunk[-1:]) if chunk[-1:] in _SENTENCE_ENDS else (chunk, "")
    if _WORD.fullmatch(core) and not any(p.search(f" {core} ") for p in _contractions()):
        return [core, end] if end else [core]
    return None


def tokenize_chunk(chunk: str) -> list[str]:
    """NLTK's improved Treebank tokens of one space-free word: `NLTKWordTokenizer().tokenize(chunk)`."""
    plain = _plain_tokens(chunk)
    return _word_tokenizer().tokenize(chunk) if plain is None else plain


def tokenize_chunks(chunks: list[str]) -> list[list[str]]:
    """`tokenize_chunk` of each word of safe texts (`safe_chunks`), running NLTK once per `JOIN_LIMIT` words.

    Words that do not end a sentence, joined by spaces, form a safe text, whose tokens are each word's tokens in
    turn; with the safe characters the tokenizer only inserts spaces, so each word's tokens spell it exactly and
    are cut back out by length (checked: a mismatch falls back to one NLTK call per word).
    """
    tokenizer = _word_tokenizer()
    found: dict[str, list[str]] = {}
    joinable = []
    for chunk in dict.fromkeys(chunks):
        plain = _plain_tokens(chunk)
        if plain is not None:
            found[chunk] = plain
        elif chunk[-1:] in _SENTENCE_ENDS:
            found[chunk] = tokenizer.tokenize(chunk)
        else:
            joinable.append(chunk)
    for start in range(0, len(joinable), JOIN_LIMIT):
        group = joinable[start:start + JOIN_LIMIT]
        found.update(_cut(group, tokenizer.tokenize(" ".join(group))) or {c: tokenizer.tokenize(c) for c in group})
    return [found[chunk] for chunk in chunks]


def _cut(chunks: list[str], tokens: list[str]) -> dict[str, list[str]] | None:
    """Each chunk's share of `tokens`, or None when the tokens do not spell the chunks one after another."""
    shares, position = {}, 0
    for chunk in chunks:
        start, spelled = position, ""
        while len(spelled) < len(chunk) and position < len(tokens):
            spelled += tokens[position]
            position += 1
        if spelled != chunk:
            return None
        shares[chunk] = tokens[start:position]
    return shares if position == len(tokens) else None


def word_tokenize(text: str) -> list[str]:
    """Exactly `nltk.word_tokenize(text)` (English Punkt, then NLTKWordTokenizer), fast for plain captions."""
    chunks = safe_chunks(text)
    if chunks is None:
        import nltk

        return nltk.word_tokenize(text)
    return [token for tokens in tokenize_chunks([c for c in chunks if c]) for token in tokens]

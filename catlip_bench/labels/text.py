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
  space-separated words, which the extractor caches per word. Everything else goes through `nltk.word_tokenize`.

`tests/test_labels_text.py` checks both paths give equal tokens on real captions and on random strings drawn
from the characters that matter.
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


def tokenize_chunk(chunk: str) -> list[str]:
    """NLTK's improved Treebank tokens of one space-free word."""
    return _word_tokenizer().tokenize(chunk)


def word_tokenize(text: str) -> list[str]:
    """Exactly `nltk.word_tokenize(text)` (English Punkt, then NLTKWordTokenizer), fast for plain captions."""
    chunks = safe_chunks(text)
    if chunks is None:
        import nltk

        return nltk.word_tokenize(text)
    return [token for chunk in chunks if chunk for token in tokenize_chunk(chunk)]

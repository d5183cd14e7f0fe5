"""Downstream class names → WordNet noun synsets (Transfer Init, zero-shot), with the reason for each outcome."""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from typing import NamedTuple

from catlip_bench.data.nltk_data import ensure_nltk
from catlip_bench.errors import CatlipBenchError

_WNID = re.compile(r"[nN](\d{1,8})")
#: How a name's words are joined into WordNet lemmas, in the order tried: t-shirt, ice_cream, t-shirt, pineapple.
_JOINS = ((r"[\s_]+", "_"), (r"[\s_-]+", "_"), (r"[\s_-]+", "-"), (r"[\s_-]+", ""))


class ClassMatch(NamedTuple):
    """`key`/`synset_name` are None when no synset matched; `reason` says how it matched or why not; `lemma` is
    the WordNet lemma that matched (e.g. goose for "geese")."""

    name: str
    key: str | None
    synset_name: str | None
    reason: str
    lemma: str | None = None

    @property
    def matched(self) -> bool:
        return self.key is not None


def from_wnid(wnid: str) -> str:
    """ImageNet's zero-padded wnid (n01440764) → the vocabulary's key (n1440764)."""
    found = _WNID.fullmatch(wnid.strip())
    if found is None:
        raise CatlipBenchError(f"{wnid!r} is not a WordNet id: expected n followed by up to 8 digits")
    return f"n{int(found[1])}"


def to_wnid(key: str) -> str:
    """The vocabulary's key (n1440764) → ImageNet's zero-padded wnid (n01440764)."""
    return f"n{int(from_wnid(key)[1:]):08d}"


def match_class_names(names: Sequence[str]) -> list[ClassMatch]:
    """Match each class name: a wnid (n01440764 or n1440764), else the name (or each of its comma-separated
    alternatives, as ImageNet writes "tench, Tinca tinca") with its words joined as in `_JOINS`, as is and then as
    its noun lemmas (plurals: geese → goose); the match is the first lemma's first noun sense, e.g. "automobile" → car.n.01, "hot dog" → hotdog.n.01 (lemma hot_dog)."""
    ensure_nltk()
    from nltk.corpus import wordnet

    return [_match(wordnet, name) for name in names]


def _match(wordnet, name: object) -> ClassMatch:  # noqa: ANN001 - nltk's reader has no types
    if not isinstance(name, str) or not name.strip():
        return ClassMatch(str(name), None, None, "empty name" if isinstance(name, str) else "not a string")
    text = name.strip()
    if _WNID.fullmatch(text):
        key = from_wnid(text)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # nltk warns, then returns None, for an offset that starts no synset
            synset = wordnet.synset_from_pos_and_offset("n", int(key[1:]))
        if synset is None:
            return ClassMatch(name, None, None, f"{text}: no WordNet 3.0 noun synset has offset {int(key[1:])}")
        return ClassMatch(name, key, synset.name(), f"WordNet id {text}", synset.lemma_names()[0])
    tried: list[str] = []
    for alternative in (part for part in text.lower().split(",") if part.strip()):
        for candidate in _spellings(alternative):
            for lemma in dict.fromkeys([candidate, *wordnet._morphy(candidate, "n")]):
                tried.append(lemma)
                try:
                    synset = wordnet.synset(f"{lemma}.n.01")
                except Exception:  # noqa: BLE001 - WordNetError, or a lemma that does not parse as a name
                    continue
                return ClassMatch(name, f"n{synset.offset()}", synset.name(), _reason(candidate, lemma, synset.name()),
                                  lemma)
    return ClassMatch(name, None, None, f"no WordNet noun lemma among {', '.join(dict.fromkeys(tried))}")


def _spellings(alternative: str) -> list[str]:
    words = alternative.strip()
    return list(dict.fromkeys(re.sub(pattern, joiner, words) for pattern, joiner in _JOINS))


def _reason(candidate: str, lemma: str, synset_name: str) -> str:
    how = f"lemma {lemma!r}" if lemma == candidate else f"lemma {lemma!r} of {candidate!r}"
    if synset_name != f"{lemma}.n.01":
        how += f", whose first noun sense is {synset_name}"
    return how

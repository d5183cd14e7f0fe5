"""The released code's labelling loop, written plainly: the oracle the fast extractor is checked against.

Per caption, as CoreNet's `_convert_caption_to_labels` does: preprocess, `nltk.pos_tag(nltk.word_tokenize(...))`,
a new `WordNetLemmatizer`, and for every token `wn.synset(f"{lemma}.n.01")` with the name check. No caching.
"""

from __future__ import annotations

import re
import urllib.parse

import ftfy

from catlip_bench.data.nltk_data import ensure_nltk
from catlip_bench.labels.extract import NOUN_TAGS, Synset


def reference_clean(caption: str) -> str:
    """CoreNet's `caption_preprocessing`, line for line."""
    html_re = re.compile("<.*?>")
    caption = urllib.parse.unquote(str(caption))
    caption = caption.replace("+", " ")
    caption = re.sub(html_re, "", str(caption))
    caption = caption.strip("\n")
    caption = re.sub(" +", " ", caption)
    caption = ftfy.fix_text(caption)
    return caption.strip().lower()


def reference_synsets(caption: str, nouns_only: bool = False) -> list[Synset]:
    """The caption's synsets the released code's way (unique, in caption order); `nouns_only` keeps NN* tokens."""
    ensure_nltk()
    import nltk
    from nltk.corpus import wordnet as wn
    from nltk.stem import WordNetLemmatizer

    tagged_words = nltk.pos_tag(nltk.word_tokenize(reference_clean(caption)))
    lemmatizer = WordNetLemmatizer()
    labels = []
    for word, pos in tagged_words:
        if nouns_only and pos not in NOUN_TAGS:
            continue
        try:
            word = lemmatizer.lemmatize(word)
            noun_synset = wn.synset(f"{word}.n.01")
        except Exception:  # noqa: BLE001 - as released: any WordNet refusal skips the token
            continue
        if noun_synset.name() != f"{word}.n.01":
            continue
        labels.append(Synset(f"n{noun_synset.offset()}", noun_synset.name()))
    return list(dict.fromkeys(labels))

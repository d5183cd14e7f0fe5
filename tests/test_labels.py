"""Caption → synset labels on real WordNet 3.0: a table of worked cases, bad input, the nouns mode.

Every expected (key, name) pair below is WordNet's own (`test_table_keys_are_wordnet_offsets` re-derives each key
from its name), and the table is also checked against the plain reference loop written as the released code.
"""

from __future__ import annotations

import pytest

from catlip_bench.data.nltk_data import ensure_nltk
from catlip_bench.errors import CatlipBenchError
from catlip_bench.labels import Extractor, Synset, extractor
from catlip_bench.labels.reference import reference_synsets

DOG = ("n2084071", "dog.n.01")
CAT = ("n2121620", "cat.n.01")
BIRD = ("n1503061", "bird.n.01")
MAT = ("n3727837", "mat.n.01")

# caption -> expected (key, name) in caption order, with why
TABLE: list[tuple[str, list[tuple[str, str]]]] = [
    # DESIGN.md's check; "photos" -> photo, whose first sense is named photograph.n.01: dropped
    ("black and white image of stock photos",
     [("n4960277", "black.n.01"), ("n9638875", "white.n.01"), ("n5928118", "image.n.01"), ("n13333833", "stock.n.01")]),
    ("a photo of a photograph", [("n3925226", "photograph.n.01")]),
    # plural with an irregular lemma; "two" has a noun reading; the final period is its own token
    ("Two geese on a frozen lake.", [("n13743269", "two.n.01"), ("n1855672", "goose.n.01"), ("n9328904", "lake.n.01")]),
    ("three mice and two children",
     [("n13744044", "three.n.01"), ("n2330245", "mouse.n.01"), ("n13743269", "two.n.01"), ("n9917593", "child.n.01")]),
    ("wolves in the snow", [("n2114100", "wolf.n.01"), ("n11508382", "snow.n.01")]),
    # "automobile": its first sense is car.n.01, so the name check drops it; "car" itself is kept
    ("An automobile parked outside", [("n8613593", "outside.n.01")]),
    ("A car in the rain", [("n2958343", "car.n.01"), ("n11501381", "rain.n.01")]),
    # adjectives with a noun reading are kept (no POS filter in corenet mode)
    ("red, green and blue", [("n4962784", "red.n.01"), ("n4967191", "green.n.01"), ("n4968895", "blue.n.01")]),
    ("old people", [("n15121302", "old.n.01"), ("n7942152", "people.n.01")]),
    ("a (small) house", [("n5559023", "small.n.01"), ("n3544360", "house.n.01")]),
    # multi-word synsets never come from separate tokens
    ("A hot dog with mustard", [DOG, ("n11878283", "mustard.n.01")]),
    ("an ice cream cone", [("n14915184", "ice.n.01"), ("n8387035", "cream.n.01"), ("n3089348", "cone.n.01")]),
    ("New York at night", [("n8159924", "york.n.01"), ("n15167027", "night.n.01")]),
    # ...but one token that is a multi-word lemma is looked up as is, and kept only when the name matches
    ("ice_cream", [("n7614500", "ice_cream.n.01")]),
    ("hot_dog stand", []),  # hot_dog.n.01 is named hotdog.n.01, stand.n.01 is base.n.08
    # HTML tags go (non-greedy, glued text stays glued); entities are unescaped by ftfy after tag removal
    ("<i>cat</i>s on a <b>mat</b>", [CAT, MAT]),
    ("&lt;b&gt;horse&lt;/b&gt;", [("n2374451", "horse.n.01")]),
    # URLs: unquoted, then tokenized as text; "+" is a space
    ("https://example.com/images/red%20fox.jpg", []),
    ("red+fox", [("n4962784", "red.n.01"), ("n2118333", "fox.n.01")]),
    # several sentences (English Punkt), abbreviations kept whole ("mr.", "u.s." have no noun synset of that name)
    ("A dog. A cat sat on the mat! Is that a bird?", [DOG, CAT, MAT, BIRD]),
    ("Mr. Smith walks his dog.", [("n11306297", "smith.n.01"), ("n283568", "walk.n.01"), DOG]),
    ("The U.S. flag", [("n3354903", "flag.n.01")]),
    # clitics split off ("is" has no noun synset); contractions split: can, not, gon, na, wan, na
    ("The dog's bone isn't here.", [DOG, ("n5269901", "bone.n.01"), ("n8489497", "here.n.01")]),
    ("cannot gonna wanna", [("n2946921", "can.n.01")]),
    # unique, caption order, case and surrounding newlines do not matter
    ("dog dog dogs", [DOG]),
    ("DOG", [DOG]),
    ("\n\ndog\n", [DOG]),
    ("dog,cat;bird", [DOG, CAT, BIRD]),
    ("a dog!!!", [DOG]),
    ("3 cats & 2 dogs", [CAT, DOG]),
    ("my glasses", [("n14881303", "glass.n.01")]),  # shortest lemma of glasses: glass
    ("running shoes", [("n4199027", "shoe.n.01")]),  # running.n.01 is named run.n.05
    ("Women and men", [("n10787470", "woman.n.01")]),  # "men" stays "men", first sense work_force.n.01
    ("the sun and the moon.", [("n9450163", "sun.n.01"), ("n9358358", "moon.n.01")]),
    ("\u201cQuoted\u201d words", [("n6286395", "word.n.01")]),  # ftfy straightens the quotes
    # emoji, other scripts, blank
    ("\U0001f436 dog", [DOG]),
    ("\u72ac\u3068\u732b", []),
    ("caf\u00e9 au lait", []),
    ("", []),
    ("   \n ", []),
]


@pytest.fixture(scope="module")
def corenet() -> Extractor:
    return extractor("corenet")


def keys(synsets: list[Synset]) -> list[tuple[str, str]]:
    return [(s.key, s.name) for s in synsets]


def test_table_is_big_enough() -> None:
    assert len(TABLE) >= 30


@pytest.mark.parametrize(("caption", "expected"), TABLE, ids=[repr(c)[:40] for c, _ in TABLE])
def test_table(corenet: Extractor, caption: str, expected: list[tuple[str, str]]) -> None:
    assert keys(corenet.synsets(caption)) == expected
    assert keys(reference_synsets(caption)) == expected


def test_table_keys_are_wordnet_offsets() -> None:
    ensure_nltk()
    from nltk.corpus import wordnet

    for _, expected in TABLE:
        for key, name in expected:
            assert key == f"n{wordnet.synset(name).offset()}", name


def test_dropped_lemmas_first_senses_have_other_names() -> None:
    """The table's dropped words, as WordNet names their first noun senses."""
    ensure_nltk()
    from nltk.corpus import wordnet

    first_sense = {"photo": "photograph.n.01", "automobile": "car.n.01", "hot_dog": "hotdog.n.01",
                   "stand": "base.n.08", "running": "run.n.05", "men": "work_force.n.01"}
    assert {lemma: wordnet.synset(f"{lemma}.n.01").name() for lemma in first_sense} == first_sense


@pytest.mark.parametrize("caption", [
    None, 12, 3.5, float("nan"), b"\xff\xfe dog", "dog \udcff", object(), ["dog"],
])
def test_not_text_gives_no_labels_and_counts_as_bad(corenet: Extractor, caption: object) -> None:
    assert corenet.synsets(caption) == []
    assert corenet.extract(caption).status == "bad"


def test_utf8_bytes_are_decoded(corenet: Extractor) -> None:
    assert keys(corenet.synsets("\U0001f436 dog".encode())) == [DOG]


def test_blank_after_cleaning_is_empty(corenet: Extractor) -> None:
    assert corenet.extract("<br> <p></p>").status == "empty"
    assert corenet.extract("dog").status == "ok"


def test_long_captions(corenet: Extractor) -> None:
    assert keys(corenet.synsets("dog " * 2500)) == [DOG]  # 10,000 characters, fast path
    messy = ("a dog. " + "x" * 50 + ", \"cat\"; ") * 160  # 10,000+ characters through nltk's tokenizer
    assert len(messy) >= 10_000
    assert keys(corenet.synsets(messy)) == [DOG, CAT]
    assert corenet.extract("dog " * 25_000).status == "ok"
    assert corenet.extract("dog " * 25_001).status == "bad"  # over MAX_CAPTION_CHARS = 100,000


def test_batch_matches_one_by_one(corenet: Extractor) -> None:
    captions = [c for c, _ in TABLE] + [None, b"\xff"]
    assert corenet.batch(captions) == [corenet.synsets(c) for c in captions]


def test_nouns_mode_keeps_only_tagged_nouns() -> None:
    nouns = extractor("nouns")
    # the tagger reads black/white as adjectives, image/stock as nouns
    assert keys(nouns.synsets("black and white image of stock photos")) == [
        ("n5928118", "image.n.01"), ("n13333833", "stock.n.01")]
    assert keys(nouns.synsets("Two geese on a frozen lake.")) == [("n1855672", "goose.n.01"), ("n9328904", "lake.n.01")]
    for caption, _ in TABLE:
        assert nouns.synsets(caption) == reference_synsets(caption, nouns_only=True), caption


def test_extractor_is_cached_per_mode_and_unknown_modes_are_named() -> None:
    assert extractor() is extractor("corenet")
    assert extractor("nouns") is not extractor("corenet")
    with pytest.raises(CatlipBenchError, match="unknown label mode 'verbs': choose one of corenet, nouns"):
        extractor("verbs")


def test_tux_paint_captions_match_the_reference_loop(corenet: Extractor) -> None:
    from catlip_bench.data import tuxpaint

    tuxpaint.prepare()
    captions = list(tuxpaint.read_index()["caption"])
    assert len(captions) >= 650
    assert corenet.batch(captions) == [reference_synsets(c) for c in captions]

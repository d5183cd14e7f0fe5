"""Class names → WordNet synsets for Transfer Init: plurals, multi-word names, separators, wnids, failures."""

from __future__ import annotations

import pytest

from catlip_bench.errors import CatlipBenchError
from catlip_bench.labels import from_wnid, match_class_names, to_wnid


@pytest.mark.parametrize(("name", "key", "synset_name", "lemma"), [
    ("dog", "n2084071", "dog.n.01", "dog"),
    ("geese", "n1855672", "goose.n.01", "goose"),  # irregular plural
    ("Birds", "n1503061", "bird.n.01", "bird"),
    ("glasses", "n4272054", "spectacles.n.01", "glasses"),  # a lemma of its own before its singular
    ("hot dog", "n10187710", "hotdog.n.01", "hot_dog"),  # WordNet's first sense of hot_dog
    ("hot-dogs", "n10187710", "hotdog.n.01", "hot_dog"),
    ("great_white_shark", "n1484850", "great_white_shark.n.01", "great_white_shark"),
    ("Great White Shark", "n1484850", "great_white_shark.n.01", "great_white_shark"),
    ("body parts", "n5220461", "body_part.n.01", "body_part"),
    ("ice-cream", "n7614500", "ice_cream.n.01", "ice_cream"),  # hyphen as a space
    ("t-shirt", "n3595614", "jersey.n.03", "t-shirt"),  # hyphen kept
    ("T Shirt", "n3595614", "jersey.n.03", "t-shirt"),  # space as a hyphen
    ("automobile", "n2958343", "car.n.01", "automobile"),
    ("tench, Tinca tinca", "n1440764", "tench.n.01", "tench"),  # ImageNet's comma-separated synonyms
    ("n01440764", "n1440764", "tench.n.01", "tench"),  # zero-padded wnid
    ("n1440764", "n1440764", "tench.n.01", "tench"),
])
def test_matches(name: str, key: str, synset_name: str, lemma: str) -> None:
    [match] = match_class_names([name])
    assert (match.name, match.key, match.synset_name, match.lemma) == (name, key, synset_name, lemma)
    assert match.matched
    assert match.reason


def test_reasons_say_how() -> None:
    geese, car = match_class_names(["geese", "automobile"])
    assert geese.reason == "lemma 'goose' of 'geese'"
    assert car.reason == "lemma 'automobile', whose first noun sense is car.n.01"


@pytest.mark.parametrize(("name", "reason"), [
    ("road signs", "no WordNet noun lemma among road_signs, road-signs, roadsigns"),
    ("", "empty name"),
    ("   ", "empty name"),
    ("n99999999", "n99999999: no WordNet 3.0 noun synset has offset 99999999"),
    ("n00000005", "no WordNet 3.0 noun synset has offset 5"),  # not the start of a synset line
])
def test_unmatched_names_say_why(name: str, reason: str) -> None:
    [match] = match_class_names([name])
    assert match.key is None and match.synset_name is None and not match.matched
    assert reason in match.reason


def test_order_and_length_are_kept() -> None:
    names = ["cat", "qwzx", "cats"]
    assert [m.key for m in match_class_names(names)] == ["n2121620", None, "n2121620"]


def test_wnid_conversions() -> None:
    assert from_wnid("n01440764") == "n1440764"
    assert to_wnid("n1440764") == "n01440764"
    assert to_wnid(from_wnid("n02084071")) == "n02084071"
    with pytest.raises(CatlipBenchError, match="'dog' is not a WordNet id"):
        from_wnid("dog")

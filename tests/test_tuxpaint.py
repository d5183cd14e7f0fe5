"""The Tux Paint demo set on the real Debian package (prepared by setup; `prepare()` is a no-op when cached)."""

from __future__ import annotations

import hashlib
from collections import Counter

import numpy as np
import pytest

from catlip_bench.data import tuxpaint
from catlip_bench.errors import CatlipBenchError
from catlip_bench.labels import extractor


@pytest.fixture(scope="module")
def index():  # noqa: ANN201
    tuxpaint.prepare()
    return tuxpaint.read_index()


def test_index_holds_every_captioned_stamp_outside_symbols(index) -> None:  # noqa: ANN001
    assert 650 <= len(index) <= 710  # DATA.md: 701 pairs outside symbols/
    assert "symbols" not in set(index["category"])
    assert set(index["source"]) == {"png", "svg"}
    assert all(caption.strip() for caption in index["caption"])
    assert index["image"].is_unique
    assert all(path.endswith(".png") for path in index["image"])


def test_splits_are_disjoint_and_probe_images_never_pretrained(index) -> None:  # noqa: ANN001
    pretrain = {p for p, _ in tuxpaint.caption_pairs("pretrain")}
    probe_train = {p for p, _ in tuxpaint.caption_pairs("probe-train")}
    probe_test = {p for p, _ in tuxpaint.caption_pairs("probe-test")}
    assert not pretrain & probe_train and not pretrain & probe_test and not probe_train & probe_test
    assert len(pretrain) + len(probe_train) + len(probe_test) == len(index)
    assert {p for p, _ in tuxpaint.specs()[0].load()} == pretrain


def test_split_rule_is_a_quarter_each_of_big_subfolders(index) -> None:  # noqa: ANN001
    groups = Counter(index["subfolder"])
    probe = index[index["split"] != "pretrain"]
    assert set(probe["subfolder"]) == {g for g, n in groups.items() if n >= 15 and "/" in g} == {
        "animals/mammals", "food/fruit", "animals/birds", "town/houses", "plants/flowers", "animals/insects",
        "seasonal/christmas", "town/roadsigns", "food/vegetables", "clothes/hats", "seasonal/halloween",
        "people/body_parts", "household/dishes"}
    for group, rows in probe.groupby("subfolder"):
        counts = Counter(rows["split"])
        assert counts["probe-test"] == counts["probe-train"] == groups[group] // 4, group


def test_assign_splits_orders_by_path_hash() -> None:
    stems = [f"animals/birds/b{i}" for i in range(16)] + [f"food/f{i}" for i in range(20)] + ["town/x/y"]
    splits = tuxpaint.assign_splits(stems)
    by_hash = sorted(stems[:16], key=lambda s: hashlib.sha256(s.encode()).hexdigest())
    assert [splits[s] for s in by_hash] == ["probe-test"] * 4 + ["probe-train"] * 4 + ["pretrain"] * 8
    # top-of-category stamps and small groups are always pre-trained on
    assert {splits[s] for s in stems[16:]} == {"pretrain"}
    assert tuxpaint.assign_splits(list(reversed(stems))) == splits


def test_probe_classes_map_to_wordnet() -> None:
    data = tuxpaint.specs()[1].load()
    assert data.name == "tuxpaint-probe"
    assert "bird" in data.class_names and "mammal" in data.class_names and "body part" in data.class_names
    assert data.class_synsets[data.class_names.index("bird")] == "n1503061"
    assert data.class_synsets[data.class_names.index("roadsigns")] is None
    assert len(data.class_synsets) == len(data.class_names) == 13
    assert np.array_equal(np.bincount(data.train.labels), np.bincount(data.test.labels))
    image = data.test.image(0)
    assert image.mode == "RGB" and min(image.size) > 8
    small = tuxpaint.load_probe(max_train=26, seed=1)
    assert len(small.train) == 26 and len(small.test) == len(data.test)


def test_multilabel_targets_are_the_captions_synsets() -> None:
    data = tuxpaint.specs()[2].load()
    assert data.multilabel and data.train.labels.shape == (len(data.train), len(data.class_names))
    assert data.class_synsets and len(data.class_synsets) == len(data.class_names)
    assert (data.train.labels.sum(axis=0) > 0).all() and (data.test.labels.sum(axis=0) > 0).all()
    captions = dict(tuxpaint.caption_pairs("probe-test"))
    labeller = extractor("corenet")
    for row, path in enumerate(data.test.items[:20]):
        expected = {s.key for s in labeller.synsets(captions[path])} & set(data.class_synsets)
        assert {data.class_synsets[i] for i in np.flatnonzero(data.test.labels[row])} == expected


def test_unknown_split_is_an_error() -> None:
    with pytest.raises(CatlipBenchError, match="unknown Tux Paint split 'val': choose one of pretrain"):
        tuxpaint.caption_pairs("val")


def test_missing_index_names_the_prepare_command(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setenv("CATLIP_BENCH_CACHE", str(tmp_path))
    with pytest.raises(CatlipBenchError, match="catlip-bench data prepare demo"):
        tuxpaint.caption_pairs()

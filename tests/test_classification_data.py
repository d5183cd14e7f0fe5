"""Classification datasets (Fashion-MNIST, image folders, CSV) and class-balanced sampling, on real files."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from skimage import data as skdata

from catlip_bench.data import classification as cls
from catlip_bench.errors import CatlipBenchError
from catlip_bench.plugins import registries

LABELS = np.repeat(np.arange(4), [3, 7, 10, 20])  # unbalanced on purpose: 40 examples, 4 classes


def test_sample_per_class_is_balanced_seeded_and_nested():
    picked = cls.sample_per_class(LABELS, 3, seed=5)
    assert np.bincount(LABELS[picked]).tolist() == [3, 3, 3, 3]
    assert np.array_equal(picked, cls.sample_per_class(LABELS, 3, seed=5))
    assert not np.array_equal(cls.sample_per_class(LABELS, 3, seed=6), picked)
    # the same seed draws a k-shot set inside every larger one (so a sweep over k adds images, never swaps)
    assert set(cls.sample_per_class(LABELS, 1, seed=5)) <= set(cls.sample_per_class(LABELS, 2, seed=5)) <= set(picked)


def test_sample_per_class_names_a_class_too_small():
    with pytest.raises(CatlipBenchError, match="cannot draw 5 examples per class: class 0 has 3"):
        cls.sample_per_class(LABELS, 5, seed=0)


def test_balanced_subsample_spreads_evenly_within_class_sizes():
    picked = cls.balanced_subsample(LABELS, 14, seed=1)
    assert len(picked) == 14
    # 14 over 4 classes: 3.5 each; class 0 has only 3, so every class gets 3 or 4, at most 3 for class 0
    counts = np.bincount(LABELS[picked], minlength=4)
    assert counts[0] == 3 and set(counts[1:]) <= {3, 4} and counts.sum() == 14
    assert np.array_equal(picked, cls.balanced_subsample(LABELS, 14, seed=1))
    assert len(cls.balanced_subsample(LABELS, 100, seed=1)) == len(LABELS)


def test_stratified_split_holds_out_each_class_share():
    kept, held = cls.stratified_split(LABELS, 0.2, seed=3)
    assert not set(kept) & set(held) and len(kept) + len(held) == len(LABELS)
    # round(n * 0.2), at least one: 3 -> 1, 7 -> 1, 10 -> 2, 20 -> 4
    assert np.bincount(LABELS[held], minlength=4).tolist() == [1, 1, 2, 4]
    with pytest.raises(CatlipBenchError, match="between 0 and 1"):
        cls.stratified_split(LABELS, 1.5, seed=0)


def _idx_bytes(array: np.ndarray) -> bytes:
    """The IDX format: two zero bytes, type 0x08 (unsigned byte), ndim, big-endian int32 dims, data."""
    return bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}i", *array.shape) + array.tobytes()


def test_read_idx_parses_the_header_and_checks_it(tmp_path: Path):
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    good = tmp_path / "images-idx3-ubyte.gz"
    good.write_bytes(gzip.compress(_idx_bytes(images)))
    assert np.array_equal(cls.read_idx(good), images)
    short = tmp_path / "short.gz"
    short.write_bytes(gzip.compress(_idx_bytes(images)[:-1]))
    with pytest.raises(CatlipBenchError, match="declares shape"):
        cls.read_idx(short)
    floats = tmp_path / "floats.gz"
    floats.write_bytes(gzip.compress(bytes([0, 0, 0x0D, 1]) + struct.pack(">i", 1) + b"\0" * 4))
    with pytest.raises(CatlipBenchError, match="not an IDX file of unsigned bytes"):
        cls.read_idx(floats)


def test_fashion_mnist_missing_names_the_package_and_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("CATLIP_BENCH_CACHE", str(tmp_path))
    with pytest.raises(CatlipBenchError, match=r"catlip-bench data prepare fashion-mnist.*dataset-fashion-mnist"):
        cls.load_fashion_mnist()


@pytest.fixture(scope="module")
def fashion():
    try:
        return cls.load_fashion_mnist()
    except CatlipBenchError as error:
        pytest.skip(str(error))


def test_fashion_mnist_is_the_published_set(fashion):
    # Xiao et al. 2017: 60,000 train / 10,000 test 28x28 grey images, 6,000 / 1,000 per class
    assert fashion.train.items.shape == (60000, 28, 28) and fashion.test.items.shape == (10000, 28, 28)
    assert np.bincount(fashion.train.labels).tolist() == [6000] * 10
    assert np.bincount(fashion.test.labels).tolist() == [1000] * 10
    assert fashion.class_names[0] == "T-shirt/top" and fashion.class_names[9] == "Ankle boot"
    small = cls.load_fashion_mnist(max_train=50, max_test=20, seed=0)
    assert np.bincount(small.train.labels).tolist() == [5] * 10 and len(small.test) == 20
    assert small.train.image(0).size == (28, 28)


def _photo_tree(root: Path, layout: dict[str, list[str]]) -> None:
    photos = {"cat": skdata.chelsea(), "coffee": skdata.coffee(), "rocket": skdata.rocket(), "astronaut": skdata.astronaut()}
    for folder, names in layout.items():
        (root / folder).mkdir(parents=True, exist_ok=True)
        for i, name in enumerate(names):
            Image.fromarray(photos[name]).resize((32, 32)).save(root / folder / f"{name}{i}.png")


def test_image_folder_splits_each_class(tmp_path: Path):
    _photo_tree(tmp_path / "pets", {"cat": ["cat"] * 5, "coffee": ["coffee"] * 4})
    (tmp_path / "pets" / "cat" / "notes.txt").write_text("not an image")
    data = cls.load_image_folder(tmp_path / "pets", test_fraction=0.25, seed=0)
    assert data.class_names == ["cat", "coffee"] and data.name == "pets"
    # round(5 * .25) = 1 and round(4 * .25) = 1 held out per class
    assert np.bincount(data.test.labels).tolist() == [1, 1] and np.bincount(data.train.labels).tolist() == [4, 3]
    assert data.train.image(0).size == (32, 32)


def test_image_folder_with_train_and_val(tmp_path: Path):
    _photo_tree(tmp_path / "set" / "train", {"cup": ["coffee"] * 2, "rocket": ["rocket"] * 2})
    _photo_tree(tmp_path / "set" / "val", {"rocket": ["rocket"]})
    data = cls.load_image_folder(tmp_path / "set")
    assert data.class_names == ["cup", "rocket"] and data.test.labels.tolist() == [1] and len(data.train) == 4
    _photo_tree(tmp_path / "set" / "val", {"horse": ["cat"]})
    with pytest.raises(CatlipBenchError, match=r"classes horse are not in .*train"):
        cls.load_image_folder(tmp_path / "set")


def test_image_folder_errors_name_the_folder(tmp_path: Path):
    with pytest.raises(CatlipBenchError, match="not found: pass path="):
        cls.load_image_folder(tmp_path / "nowhere")
    (tmp_path / "flat").mkdir()
    with pytest.raises(CatlipBenchError, match="no class sub-folders"):
        cls.load_image_folder(tmp_path / "flat")
    (tmp_path / "flat" / "empty").mkdir()
    with pytest.raises(CatlipBenchError, match="class folder.*empty hold no"):
        cls.load_image_folder(tmp_path / "flat")


def test_csv_dataset(tmp_path: Path):
    _photo_tree(tmp_path / "img", {"a": ["cat"] * 4 + ["coffee"] * 4})
    rows = [f"a/cat{i}.png,cat" for i in range(4)] + [f"a/coffee{i}.png,coffee" for i in range(4, 8)]
    table = tmp_path / "list.csv"
    table.write_text("file,kind\n" + "\n".join(rows) + "\n")
    data = cls.load_csv(table, image_column="file", label_column="kind", root=tmp_path / "img", test_fraction=0.25)
    assert data.class_names == ["cat", "coffee"] and len(data.train) == 6 and np.bincount(data.test.labels).tolist() == [1, 1]
    assert data.test.image(0).mode == "RGB"
    with pytest.raises(CatlipBenchError, match=r"has no column\(s\) image, label \(it has file, kind\)"):
        cls.load_csv(table)
    with pytest.raises(CatlipBenchError, match=r"8 image\(s\) not found"):
        cls.load_csv(table, image_column="file", label_column="kind")


def test_datasets_are_registered():
    datasets = registries().datasets
    for name in ("fashion-mnist", "image-folder", "csv"):
        assert datasets.get(name).kind == "classification"
    assert datasets.get("fashion-mnist").prepare is cls.prepare_fashion_mnist

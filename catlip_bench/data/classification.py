"""Classification datasets (Fashion-MNIST, a folder of class folders, a CSV) and class-balanced sampling.

Every loader here takes `max_train`, `max_test` and `seed`: a class-balanced subsample for quick CPU runs.
"""

from __future__ import annotations

import gzip
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from catlip_bench.data.fetch import deb_download, deb_extract
from catlip_bench.data.types import ClassificationData, LabelledImages
from catlip_bench.errors import CatlipBenchError
from catlip_bench.paths import cache_dir, require
from catlip_bench.specs import DatasetSpec

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff")
FASHION_MNIST_PACKAGE = "dataset-fashion-mnist"
FASHION_MNIST_CLASSES = [
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
]
FASHION_MNIST_SPLITS = {"train": "train", "test": "t10k"}


# --- sampling -------------------------------------------------------------------------------------------------

def class_ranks(labels: np.ndarray, seed: int) -> np.ndarray:
    """Each example's position in a seeded random order of its own class (0 = first drawn).

    All the samplers below are thresholds on these ranks, so with one seed a k-shot sample is contained in
    every larger one, and a held-out split never overlaps what it leaves.
    """
    labels = np.asarray(labels)
    order = np.random.default_rng(seed).permutation(len(labels))
    ranks = np.empty(len(labels), dtype=np.int64)
    for value in np.unique(labels):
        members = order[labels[order] == value]
        ranks[members] = np.arange(len(members))
    return ranks


def sample_per_class(labels: np.ndarray, k: int, seed: int) -> np.ndarray:
    """Sorted indices of `k` random examples of every class; a class with fewer than `k` is an error."""
    labels = np.asarray(labels)
    values, counts = np.unique(labels, return_counts=True)
    if (counts < k).any():
        short = ", ".join(f"class {v} has {c}" for v, c in zip(values, counts, strict=True) if c < k)
        raise CatlipBenchError(f"cannot draw {k} examples per class: {short}")
    return np.flatnonzero(class_ranks(labels, seed) < k)


def balanced_subsample(labels: np.ndarray, n: int, seed: int) -> np.ndarray:
    """Sorted indices of `n` examples spread over the classes as evenly as their sizes allow."""
    labels = np.asarray(labels)
    if n >= len(labels):
        return np.arange(len(labels))
    ranks = class_ranks(labels, seed)
    tiebreak = np.random.default_rng(seed + 1).random(len(labels))
    return np.sort(np.lexsort((tiebreak, ranks))[:n])


def stratified_split(labels: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(kept, held_out) sorted indices: `fraction` of every class held out, at least one of a class of ≥2."""
    if not 0 < fraction < 1:
        raise CatlipBenchError(f"split fraction must be between 0 and 1, got {fraction}")
    labels = np.asarray(labels)
    ranks = class_ranks(labels, seed)
    values, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
    quota = np.where(counts >= 2, np.maximum(1, np.round(counts * fraction)), 0).astype(np.int64)
    held = ranks < quota[inverse]
    return np.flatnonzero(~held), np.flatnonzero(held)


def _subsample(images: LabelledImages, n: int | None, seed: int) -> LabelledImages:
    if n is None or n >= len(images):
        return images
    return images.subset(balanced_subsample(images.labels, n, seed))


def finish(
    data: ClassificationData, max_train: int | None, max_test: int | None, seed: int
) -> ClassificationData:
    """Apply the common `max_train`/`max_test` options (class-balanced, seeded) to a loaded dataset."""
    data.train = _subsample(data.train, max_train, seed)
    data.test = _subsample(data.test, max_test, seed)
    return data


# --- Fashion-MNIST (Debian dataset-fashion-mnist) ---------------------------------------------------------------

def _fashion_dir() -> Path:
    return cache_dir() / "datasets" / "fashion-mnist"


def read_idx(path: Path) -> np.ndarray:
    """An IDX file (the MNIST format, gzip-compressed) of unsigned bytes as an array of its declared shape."""
    with gzip.open(path, "rb") as handle:
        raw = handle.read()
    if len(raw) < 4 or raw[:2] != b"\0\0" or raw[2] != 0x08:
        raise CatlipBenchError(f"{path} is not an IDX file of unsigned bytes")
    ndim = raw[3]
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype=">i4", count=ndim, offset=4))
    body = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if body.size != int(np.prod(shape)):
        raise CatlipBenchError(f"{path} holds {body.size} bytes, its header declares shape {shape}")
    return body.reshape(shape)


def prepare_fashion_mnist() -> Path:
    """Download Debian `dataset-fashion-mnist` and store its splits as .npy arrays in the cache (once)."""
    out = _fashion_dir()
    if (out / "test_labels.npy").is_file():
        return out
    deb = deb_download(FASHION_MNIST_PACKAGE, cache_dir() / "downloads")
    with tempfile.TemporaryDirectory() as scratch:
        source = deb_extract(deb, Path(scratch), ("usr/share/datasets/fashion-mnist",))
        source = source / "usr/share/datasets/fashion-mnist"
        staging = out.with_name(out.name + ".tmp")
        staging.mkdir(parents=True, exist_ok=True)
        for split, stem in FASHION_MNIST_SPLITS.items():
            np.save(staging / f"{split}_images.npy", read_idx(source / f"{stem}-images-idx3-ubyte.gz"))
            np.save(staging / f"{split}_labels.npy", read_idx(source / f"{stem}-labels-idx1-ubyte.gz"))
        shutil.rmtree(out, ignore_errors=True)
        staging.rename(out)
    return out


def load_fashion_mnist(max_train: int | None = None, max_test: int | None = None, seed: int = 0) -> ClassificationData:
    """Fashion-MNIST (60k train / 10k test, 28x28 grey, 10 classes) from the prepared cache."""
    folder = _fashion_dir()
    hint = f"run `catlip-bench data prepare fashion-mnist` (needs Debian package {FASHION_MNIST_PACKAGE})"
    require(folder / "test_labels.npy", "Fashion-MNIST", hint)
    splits = {
        split: LabelledImages(np.load(folder / f"{split}_images.npy"), np.load(folder / f"{split}_labels.npy").astype(np.int64))
        for split in FASHION_MNIST_SPLITS
    }
    data = ClassificationData("fashion-mnist", list(FASHION_MNIST_CLASSES), splits["train"], splits["test"])
    return finish(data, max_train, max_test, seed)


# --- users' own data -------------------------------------------------------------------------------------------

def _images_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())


def _class_folders(root: Path) -> dict[str, list[Path]]:
    classes = {d.name: _images_in(d) for d in sorted(root.iterdir()) if d.is_dir() and not d.name.startswith(".")}
    if not classes:
        raise CatlipBenchError(f"image folder {root} has no class sub-folders (expected {root}/<class>/<image>)")
    empty = [name for name, files in classes.items() if not files]
    if empty:
        raise CatlipBenchError(f"image folder {root}: class folder(s) {', '.join(empty)} hold no {'/'.join(IMAGE_SUFFIXES)} image")
    return classes


def _labelled(files: dict[str, list[Path]], class_names: Sequence[str]) -> LabelledImages:
    index = {name: i for i, name in enumerate(class_names)}
    items = [path for name in files for path in files[name]]
    return LabelledImages(items, np.array([index[name] for name in files for _ in files[name]], dtype=np.int64))


def _split(name: str, class_names: list[str], everything: LabelledImages, test_fraction: float, seed: int) -> ClassificationData:
    kept, held = stratified_split(everything.labels, test_fraction, seed)
    return ClassificationData(name, class_names, everything.subset(kept), everything.subset(held))


def load_image_folder(
    path: str | Path,
    test_fraction: float = 0.2,
    seed: int = 0,
    max_train: int | None = None,
    max_test: int | None = None,
) -> ClassificationData:
    """`path/<class>/<images>`, or ImageNet style `path/train/<class>/…` + `path/val|test/<class>/…`.

    Without ready splits, `test_fraction` of every class is held out (seeded, stratified).
    """
    root = Path(path).expanduser()
    if not root.is_dir():
        raise CatlipBenchError(f"image folder {root} not found: pass path=<folder with one sub-folder per class>")
    test_root = next((root / n for n in ("val", "test") if (root / n).is_dir()), None)
    if (root / "train").is_dir() and test_root is not None:
        train, test = _class_folders(root / "train"), _class_folders(test_root)
        unknown = sorted(set(test) - set(train))
        if unknown:
            raise CatlipBenchError(f"image folder {test_root}: classes {', '.join(unknown)} are not in {root / 'train'}")
        names = sorted(train)
        data = ClassificationData(root.name, names, _labelled(train, names), _labelled(test, names))
    else:
        classes = _class_folders(root)
        names = sorted(classes)
        data = _split(root.name, names, _labelled(classes, names), test_fraction, seed)
    return finish(data, max_train, max_test, seed)


def load_csv(
    path: str | Path,
    image_column: str = "image",
    label_column: str = "label",
    root: str | Path | None = None,
    test_fraction: float = 0.2,
    seed: int = 0,
    max_train: int | None = None,
    max_test: int | None = None,
) -> ClassificationData:
    """A CSV with an image path column and a class-name column; relative paths are taken from `root`
    (default: the CSV's folder). `test_fraction` of every class is held out (seeded, stratified)."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise CatlipBenchError(f"CSV file {path} not found: pass path=<file.csv>")
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = [c for c in (image_column, label_column) if c not in table.columns]
    if missing:
        raise CatlipBenchError(
            f"CSV file {path} has no column(s) {', '.join(missing)} (it has {', '.join(table.columns)}): "
            "pass image_column=/label_column="
        )
    base = Path(root).expanduser() if root is not None else path.parent
    images = [base / value for value in table[image_column]]
    absent = [str(p) for p in images if not p.is_file()]
    if absent:
        raise CatlipBenchError(f"CSV file {path}: {len(absent)} image(s) not found, e.g. {absent[0]} (root={base})")
    names = sorted(set(table[label_column]))
    labels = table[label_column].map({n: i for i, n in enumerate(names)}).to_numpy(dtype=np.int64)
    data = _split(path.stem, names, LabelledImages(images, labels), test_fraction, seed)
    return finish(data, max_train, max_test, seed)


def specs() -> list[DatasetSpec]:
    return [
        DatasetSpec(
            "fashion-mnist", "classification", load_fashion_mnist,
            "Fashion-MNIST: 60k/10k 28x28 grey clothing images, 10 classes (MIT)",
            f"Debian {FASHION_MNIST_PACKAGE}", prepare_fashion_mnist,
        ),
        DatasetSpec(
            "image-folder", "classification", load_image_folder,
            "your images: path=<root>/<class>/<image> (or train/ + val/), test_fraction=0.2",
            "user files",
        ),
        DatasetSpec(
            "csv", "classification", load_csv,
            "your images listed in a CSV: path=<file>, image_column=image, label_column=label, root=<folder>",
            "user files",
        ),
    ]

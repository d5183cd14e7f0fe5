"""What classification datasets load into: image references with labels, split into train and test."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from catlip_bench.errors import CatlipBenchError


@dataclass
class LabelledImages:
    """Images (file paths or HxW[x3] uint8 arrays) with labels: int [N], or multi-hot [N, C]."""

    items: Sequence[Path | np.ndarray]
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.items)

    def image(self, index: int) -> Image.Image:
        """Image `index` as RGB; an unreadable file is a one-line error naming it."""
        item = self.items[index]
        if isinstance(item, np.ndarray):
            return Image.fromarray(item).convert("RGB")
        try:
            with Image.open(item) as opened:
                return _flatten_alpha(opened)
        except (OSError, ValueError) as error:
            raise CatlipBenchError(f"image {item} cannot be read: {error}") from error

    def subset(self, indices: Sequence[int] | np.ndarray) -> LabelledImages:
        return LabelledImages([self.items[i] for i in indices], self.labels[np.asarray(indices, dtype=int)])


def _flatten_alpha(image: Image.Image) -> Image.Image:
    """RGB on a white background (Tux Paint stamps are cut-outs with alpha)."""
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        canvas = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(canvas, rgba).convert("RGB")
    return image.convert("RGB")


@dataclass
class ClassificationData:
    """A classification (or multi-label) dataset: class names, a train split and a test split."""

    name: str
    class_names: list[str]
    train: LabelledImages
    test: LabelledImages
    multilabel: bool = False
    class_synsets: list[str | None] = field(default_factory=list)


@dataclass(frozen=True)
class CocoSplit:
    """One split of a COCO-format detection set: the annotation json and the folder its `file_name`s are in."""

    ann_file: Path
    img_dir: Path


@dataclass
class DetectionData:
    """A detection (and instance segmentation, when `has_masks`) dataset in COCO format.

    Category ids in the json are 1..K in the order of `class_names`. `composite` marks copy-paste sets.
    """

    name: str
    class_names: list[str]
    train: CocoSplit
    val: CocoSplit
    has_masks: bool
    composite: bool = False


@dataclass(frozen=True)
class SegmentationSplit:
    """One split of a semantic segmentation set: image folder, label-map folder, and the file stems in it
    (`split_file`, one stem a line, VOC's ImageSets style; None = every image in `img_dir`)."""

    img_dir: Path
    ann_dir: Path
    split_file: Path | None = None


@dataclass
class SegmentationData:
    """A semantic segmentation dataset in VOC or ADE20k layout.

    Label maps hold class indices into `class_names` and `ignore_index` for unlabelled pixels. With
    `reduce_zero_label` (ADE20k's convention) 0 is "other" and ignored, and index i + 1 is `class_names[i]`.
    """

    name: str
    class_names: list[str]
    train: SegmentationSplit
    val: SegmentationSplit
    layout: str
    img_suffix: str = ".jpg"
    seg_suffix: str = ".png"
    ignore_index: int = 255
    reduce_zero_label: bool = False
    composite: bool = False

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

"""Frozen-backbone features, extracted once per (backbone, preprocessing, data, view) and cached on disk.

A cache file lives at `cache_dir()/features/<backbone id>/<dataset>-<split>-<key>.pt`. The key hashes:
the backbone's weights (the card's sha256, else a hash of its state dict) and class, the preprocessing
(input size, resize rule, mean, std), the dataset name, split and a fingerprint of its content (array
bytes, or file paths with size and mtime, and the labels), and the view (`forward_pooled`).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms
from tqdm import tqdm

from catlip_bench.backbone import Backbone
from catlip_bench.data.types import LabelledImages
from catlip_bench.paths import cache_dir

FORMAT = "catlip-bench-features/1"
Progress = Callable[[str, int | None], Any]
VIEW = "forward_pooled"


def preprocessing(backbone: Backbone) -> transforms.Compose:
    """Evaluation preprocessing: shorter side to `input_size` (bicubic), centre crop, normalise."""
    return transforms.Compose([
        transforms.Resize(backbone.input_size, interpolation=transforms.InterpolationMode.BICUBIC, antialias=True),
        transforms.CenterCrop(backbone.input_size),
        transforms.ToTensor(),
        transforms.Normalize(backbone.mean, backbone.std),
    ])


def preprocessing_id(backbone: Backbone) -> str:
    """What `preprocessing` does, as a string for the cache key."""
    return (
        f"resize-shorter-bicubic:{backbone.input_size}|center-crop:{backbone.input_size}|"
        f"mean:{tuple(backbone.mean)}|std:{tuple(backbone.std)}"
    )


def backbone_id(backbone: Backbone) -> str:
    """The weights' identity: the card's file sha256, else a sha256 over the state dict (names, dtypes, bytes)."""
    if backbone.card.weights_sha256:
        return backbone.card.weights_sha256
    digest = hashlib.sha256()
    for name, tensor in sorted(backbone.state_dict().items()):
        flat = tensor.detach().to("cpu").contiguous()
        digest.update(f"{name}:{flat.dtype}:{tuple(flat.shape)}".encode())
        digest.update(flat.reshape(-1).view(torch.uint8).numpy().tobytes())
    return "state:" + digest.hexdigest()


def data_fingerprint(images: LabelledImages) -> str:
    """A sha256 of what the images are: array bytes, or file paths with size and mtime; and the labels."""
    digest = hashlib.sha256()
    items = images.items
    if isinstance(items, np.ndarray):
        digest.update(f"array:{items.dtype}:{items.shape}".encode())
        digest.update(np.ascontiguousarray(items).tobytes())
    else:
        for item in items:
            if isinstance(item, np.ndarray):
                digest.update(f"array:{item.dtype}:{item.shape}".encode())
                digest.update(np.ascontiguousarray(item).tobytes())
            else:
                stat = Path(item).stat()
                digest.update(f"file:{Path(item).resolve()}:{stat.st_size}:{stat.st_mtime_ns}\n".encode())
    labels = np.ascontiguousarray(images.labels)
    digest.update(f"labels:{labels.dtype}:{labels.shape}".encode())
    digest.update(labels.tobytes())
    return digest.hexdigest()


class _Preprocessed(Dataset):
    def __init__(self, images: LabelledImages, transform: Callable[[Any], torch.Tensor]) -> None:
        self.images, self.transform = images, transform

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> torch.Tensor:
        return self.transform(self.images.image(index))


def _bar(description: str, total: int | None) -> tqdm:
    return tqdm(total=total, desc=description, unit="batch", leave=False, disable=None)


def extract(
    backbone: Backbone,
    images: LabelledImages,
    *,
    device: str = "cpu",
    batch_size: int = 64,
    num_workers: int = 0,
    description: str = "features",
    progress: Progress | None = None,
) -> torch.Tensor:
    """Pooled features [N, C] (float32, on CPU) of `images`, batched under `torch.inference_mode` on `device`
    (the backbone is moved there), images decoded by `num_workers` DataLoader workers.

    `progress(description, total)` returns a bar with `update(n)` and `close()` (default: tqdm).
    """
    loader = DataLoader(
        _Preprocessed(images, preprocessing(backbone)), batch_size=batch_size, num_workers=num_workers
    )
    was_training = backbone.training
    backbone.eval().to(device)
    bar = (progress or _bar)(description, len(loader))
    chunks = []
    try:
        with torch.inference_mode():
            for batch in loader:
                chunks.append(backbone.forward_pooled(batch.to(device)).float().cpu())
                bar.update(1)
    finally:
        bar.close()
        backbone.train(was_training)
    if not chunks:
        return torch.zeros(0, backbone.embed_dim)
    return torch.cat(chunks)


def cache_key(backbone: Backbone, images: LabelledImages, dataset: str, split: str) -> dict[str, str]:
    """Everything the cached features depend on."""
    return {
        "format": FORMAT,
        "backbone": backbone_id(backbone),
        "backbone_class": f"{type(backbone).__module__}.{type(backbone).__qualname__}",
        "preprocessing": preprocessing_id(backbone),
        "dataset": dataset,
        "split": split,
        "data": data_fingerprint(images),
        "view": VIEW,
    }


def cache_path(key: dict[str, str]) -> Path:
    """Where the features of `key` are (or will be) stored."""
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:20]
    owner = key["backbone"].replace("state:", "state-")[:24]
    safe_dataset = "".join(c if c.isalnum() or c in "-_." else "_" for c in key["dataset"])
    return cache_dir() / "features" / owner / f"{safe_dataset}-{key['split']}-{digest}.pt"


def cached_features(
    backbone: Backbone,
    images: LabelledImages,
    *,
    dataset: str,
    split: str,
    device: str = "cpu",
    batch_size: int = 64,
    num_workers: int = 0,
    progress: Progress | None = None,
) -> torch.Tensor:
    """Pooled features of `images`, read from the cache when they were extracted before, else extracted
    and stored (atomically: a crash never leaves a half-written file)."""
    key = cache_key(backbone, images, dataset, split)
    path = cache_path(key)
    if path.is_file():
        try:
            stored = torch.load(path, map_location="cpu", weights_only=True)
        except Exception:  # noqa: BLE001 - an unreadable cache file is simply rebuilt
            stored = {}
        if isinstance(stored, dict) and stored.get("key") == key:
            return stored["features"]
    features = extract(
        backbone, images, device=device, batch_size=batch_size, num_workers=num_workers,
        description=f"features {dataset}/{split}", progress=progress,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".{os.getpid()}.tmp")
    torch.save({"key": key, "features": features}, partial)
    os.replace(partial, path)
    return features

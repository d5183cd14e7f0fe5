"""The feature cache: extracted once, reused, and keyed by everything the features depend on."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from skimage import data as skdata
from torch import nn

from catlip_bench.backbone import Backbone
from catlip_bench.data.types import LabelledImages
from catlip_bench.features import backbone_id, cache_key, cache_path, cached_features, extract


class TinyConv(Backbone):
    """A real (small) backbone: one strided conv, mean-pooled; counts the images it has seen."""

    embed_dim = 8
    patch_size = 4
    input_size = 16

    def __init__(self) -> None:
        super().__init__()
        with torch.random.fork_rng():
            torch.manual_seed(0)
            self.conv = nn.Conv2d(3, 8, 4, 4)
        self.images_seen = 0

    def forward_pooled(self, images: torch.Tensor) -> torch.Tensor:
        self.images_seen += len(images)
        return self.conv(images).mean((2, 3))


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CATLIP_BENCH_CACHE", str(tmp_path))
    return tmp_path


@pytest.fixture(scope="module")
def photos() -> LabelledImages:
    images = [skdata.chelsea(), skdata.coffee(), skdata.rocket(), skdata.astronaut(), skdata.camera()]
    return LabelledImages(images, np.arange(5))


def test_second_call_reads_the_cache(cache: Path, photos: LabelledImages):
    backbone = TinyConv()
    first = cached_features(backbone, photos, dataset="photos", split="test", batch_size=2)
    assert first.shape == (5, 8) and backbone.images_seen == 5
    again = cached_features(backbone, photos, dataset="photos", split="test")
    assert backbone.images_seen == 5 and torch.equal(first, again)
    assert cache_path(cache_key(backbone, photos, "photos", "test")).is_relative_to(cache / "features")
    # the batched features are the per-image ones (eval mode, no cross-talk between images)
    single = extract(backbone, photos.subset([3]))
    assert torch.allclose(single[0], first[3], atol=1e-5)


def test_key_follows_data_weights_and_preprocessing(photos: LabelledImages):
    backbone = TinyConv()
    base = cache_path(cache_key(backbone, photos, "photos", "test"))
    relabelled = LabelledImages(photos.items, np.array([0, 1, 2, 3, 3]))
    assert cache_path(cache_key(backbone, relabelled, "photos", "test")) != base
    assert cache_path(cache_key(backbone, photos.subset([0, 1, 2, 3]), "photos", "test")) != base
    assert cache_path(cache_key(backbone, photos, "photos", "train")) != base
    before = backbone_id(backbone)
    with torch.no_grad():
        backbone.conv.bias[0] += 1e-3
    assert backbone_id(backbone) != before and cache_path(cache_key(backbone, photos, "photos", "test")) != base
    resized = TinyConv()
    resized.input_size = 32
    assert cache_path(cache_key(resized, photos, "photos", "test")) != base
    # a checkpoint's file hash, when the card has one, names the weights
    resized.card.weights_sha256 = "ab" * 32
    assert backbone_id(resized) == "ab" * 32


def test_file_items_are_fingerprinted_by_content_stamp(tmp_path: Path, cache: Path):
    path = tmp_path / "cat.png"
    Image.fromarray(skdata.chelsea()).save(path)
    images = LabelledImages([path], np.array([0]))
    key = cache_key(TinyConv(), images, "files", "test")
    Image.fromarray(skdata.coffee()).save(path)
    assert cache_key(TinyConv(), images, "files", "test")["data"] != key["data"]


def test_a_broken_cache_file_is_rebuilt(cache: Path, photos: LabelledImages):
    backbone = TinyConv()
    good = cached_features(backbone, photos, dataset="photos", split="test")
    path = cache_path(cache_key(backbone, photos, "photos", "test"))
    path.write_bytes(b"truncated")
    assert torch.equal(cached_features(backbone, photos, dataset="photos", split="test"), good)
    assert backbone.images_seen == 10

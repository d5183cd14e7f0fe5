"""A ViTDet-style simple feature pyramid: one backbone map -> strides 4, 8, 16, 32 (pure torch).

The MMDetection and MMSegmentation plugins register `SimpleFeaturePyramid` as their backbone type; layer-wise
LR decay for it is `layer_decay_rules`.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import torch
from torch import nn

from catlip_bench.backbone import Backbone
from catlip_bench.errors import CatlipBenchError

PYRAMID_STRIDES = (4, 8, 16, 32)
BLOCK_NAME = re.compile(r"(?:^|\.)blocks\.(\d+)\.")
EMBEDDING_NAMES = ("cls_token", "reg_token", "pos_embed", "patch_embed")


def build_backbone(reference: str | Path) -> Backbone:
    """Build a backbone from a registered name, or from a catlip-bench checkpoint path (`*.pt` or with a `/`)."""
    from catlip_bench.backbones import spec_from_path
    from catlip_bench.plugins import registries

    text = str(reference)
    if text.endswith(".pt") or "/" in text:
        return spec_from_path(Path(text).expanduser()).build()
    return registries().backbones.get(text).build()


def _resample(channels: int, factor: float) -> nn.Module:
    """Upsample by transposed convs (x2 each, GELU-LayerNorm between), downsample by max-pool, or keep."""
    if factor == 1:
        return nn.Identity()
    if factor < 1:
        size = round(1 / factor)
        return nn.MaxPool2d(kernel_size=size, stride=size)
    steps = int(math.log2(factor))
    layers: list[nn.Module] = []
    for step in range(steps):
        layers.append(nn.ConvTranspose2d(channels, channels, kernel_size=2, stride=2))
        if step < steps - 1:
            layers += [nn.GroupNorm(1, channels), nn.GELU()]
    return nn.Sequential(*layers)


class SimpleFeaturePyramid(nn.Module):
    """Turns `backbone.forward_spatial` (stride `patch_size`) into four maps at strides 4, 8, 16, 32.

    For a stride-16 ViT this is ViTDet's recipe: stride 4 by two transposed convs, 8 by one, 16 as is,
    32 by max-pool. Each level then gets a 1x1 and a 3x3 conv to `out_channels` (with GroupNorm).
    `backbone` is a built Backbone, a registered name or a checkpoint path; `frozen` keeps its weights
    fixed (and it in eval mode), so that only the pyramid and the heads train.
    """

    def __init__(self, backbone: Backbone | str | Path, out_channels: int | None = None, frozen: bool = False) -> None:
        super().__init__()
        if not isinstance(backbone, Backbone):
            backbone = build_backbone(backbone)
        if type(backbone).forward_spatial is Backbone.forward_spatial:
            raise CatlipBenchError(
                f"backbone {type(backbone).__name__} has no spatial view: the Backbone contract's "
                "forward_spatial(images) -> [B, C, H/p, W/p] is needed for detection and segmentation"
            )
        stride = int(backbone.patch_size)
        if stride not in (4, 8, 16, 32):
            raise CatlipBenchError(f"backbone stride {stride} is not one of 4, 8, 16, 32: cannot build the pyramid")
        self.backbone = backbone
        self.frozen = frozen
        if frozen:
            backbone.requires_grad_(False)
        channels = int(backbone.embed_dim)
        self.out_channels = out_channels or channels
        self.resample = nn.ModuleList(_resample(channels, stride / s) for s in PYRAMID_STRIDES)
        self.project = nn.ModuleList(
            nn.Sequential(
                nn.Conv2d(channels, self.out_channels, 1, bias=False),
                nn.GroupNorm(1, self.out_channels),
                nn.Conv2d(self.out_channels, self.out_channels, 3, padding=1, bias=False),
                nn.GroupNorm(1, self.out_channels),
            )
            for _ in PYRAMID_STRIDES
        )

    def train(self, mode: bool = True) -> SimpleFeaturePyramid:
        super().train(mode)
        if self.frozen:
            self.backbone.eval()
        return self

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, ...]:
        if images.shape[-2] % PYRAMID_STRIDES[-1] or images.shape[-1] % PYRAMID_STRIDES[-1]:
            raise CatlipBenchError(
                f"input {images.shape[-2]}x{images.shape[-1]} is not a multiple of {PYRAMID_STRIDES[-1]}, the "
                "pyramid's coarsest stride: pad it (mm data preprocessors: size_divisor=32)"
            )
        feature = self.backbone.forward_spatial(images)
        return tuple(project(resample(feature)) for resample, project in zip(self.resample, self.project, strict=True))


def layer_decay_rules(backbone: nn.Module, rate: float, prefix: str) -> dict[str, dict[str, float]]:
    """Layer-wise LR decay (BEiT, ViTDet) for a ViT whose parameters are named `...blocks.<i>....`.

    With depth L, block i learns at `rate ** (L - i)` of the base LR and the embeddings (patch, position,
    class token) at `rate ** (L + 1)`; anything after the blocks keeps the full LR. Position/class tokens and
    1-d parameters (norms, biases) get no weight decay. Returned as {full parameter name: {"lr_mult",
    "decay_mult"}}, with names under `prefix` (where `backbone` sits in the whole model) — the form of
    mmengine's `paramwise_cfg.custom_keys`.
    """
    named = list(backbone.named_parameters())
    blocks = {name: int(match.group(1)) for name, _ in named if (match := BLOCK_NAME.search(name))}
    if not blocks:
        raise CatlipBenchError(
            f"layer-wise LR decay needs a ViT with parameters named 'blocks.<i>.': {type(backbone).__name__} has "
            "none; set layer_decay to null for it"
        )
    depth = max(blocks.values()) + 1
    rules = {}
    for name, parameter in named:
        token = any(part in name for part in EMBEDDING_NAMES)
        layer = blocks[name] + 1 if name in blocks else 0 if token else depth + 1
        no_decay = parameter.ndim <= 1 or (token and "patch_embed" not in name)
        rules[prefix + name] = {"lr_mult": rate ** (depth + 1 - layer), "decay_mult": 0.0 if no_decay else 1.0}
    return rules

"""A ViTDet-style simple feature pyramid: one backbone map -> strides 4, 8, 16, 32 (pure torch)."""

from __future__ import annotations

import math

import torch
from torch import nn

from catlip_bench.backbone import Backbone
from catlip_bench.errors import CatlipBenchError

PYRAMID_STRIDES = (4, 8, 16, 32)


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
    """

    def __init__(self, backbone: Backbone, out_channels: int | None = None) -> None:
        super().__init__()
        if type(backbone).forward_spatial is Backbone.forward_spatial:
            raise CatlipBenchError(
                f"backbone {type(backbone).__name__} has no spatial view: the Backbone contract's "
                "forward_spatial(images) -> [B, C, H/p, W/p] is needed for detection and segmentation"
            )
        stride = int(backbone.patch_size)
        if stride not in (4, 8, 16, 32):
            raise CatlipBenchError(f"backbone stride {stride} is not one of 4, 8, 16, 32: cannot build the pyramid")
        self.backbone = backbone
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

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, ...]:
        feature = self.backbone.forward_spatial(images)
        return tuple(project(resample(feature)) for resample, project in zip(self.resample, self.project, strict=True))

"""Registers catlip-bench's backbone adapter in MMDetection's MODELS (imported by the config templates).

`CatlipBenchBackbone(backbone=<registered name | checkpoint path>, out_channels=256, frozen=False)` is
`catlip_bench.dense.SimpleFeaturePyramid`: the backbone's stride-16 map → four maps at strides 4/8/16/32.
"""

from mmdet.registry import MODELS

from catlip_bench.dense import SimpleFeaturePyramid

MODELS.register_module("CatlipBenchBackbone", module=SimpleFeaturePyramid)

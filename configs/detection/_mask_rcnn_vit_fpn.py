# Mask R-CNN with FPN on any catlip-bench backbone, ViTDet-style: the backbone's stride-16 map becomes
# strides 4/8/16/32 (catlip_bench.dense.SimpleFeaturePyramid: two transposed convs, one, identity,
# max-pool) and feeds mmdet's FPN. Heads, assigners and samplers are mmdet's Mask R-CNN FPN ones.
#
# A template: the `detection` task fills model.backbone.backbone (the backbone it evaluates), the
# normalisation (the backbone's mean/std), the number of classes and the datasets. Run it by hand with
# mmdet's tools/train.py after setting those; `backbone` takes a registered name or a checkpoint path.
_base_ = ["mmdet::_base_/models/mask-rcnn_r50_fpn.py", "mmdet::_base_/default_runtime.py"]
custom_imports = dict(imports=["catlip_bench_mmdet.models"], allow_failed_imports=False)

pyramid_channels = 256
model = dict(
    backbone=dict(
        _delete_=True,
        type="CatlipBenchBackbone",
        backbone="vit-base-untrained",
        out_channels=pyramid_channels,
        frozen=False,
    ),
    neck=dict(in_channels=[pyramid_channels] * 4, out_channels=256),
)

# Layer-wise LR decay rate for the ViT's blocks (catlip_bench.dense.layer_decay_rules); None = off.
layer_decay = None

# COCO-format data: the task sets ann_file, data_prefix.img and metainfo.classes; configs add pipelines.
backend_args = None
train_dataloader = dict(
    sampler=dict(type="InfiniteSampler", shuffle=True),
    batch_sampler=dict(type="AspectRatioBatchSampler"),
    dataset=dict(
        type="CocoDataset",
        ann_file="",
        data_prefix=dict(img=""),
        filter_cfg=dict(filter_empty_gt=True, min_size=4),
        backend_args=backend_args,
    ),
)
val_dataloader = dict(
    batch_size=1,
    sampler=dict(type="DefaultSampler", shuffle=False),
    dataset=dict(type="CocoDataset", ann_file="", data_prefix=dict(img=""), test_mode=True, backend_args=backend_args),
)
val_evaluator = dict(type="CocoMetric", ann_file="", metric=["bbox", "segm"], format_only=False, backend_args=backend_args)
val_cfg = dict(type="ValLoop")

default_hooks = dict(checkpoint=dict(type="CheckpointHook", by_epoch=False, max_keep_ckpts=1, save_last=True))
log_processor = dict(by_epoch=False)

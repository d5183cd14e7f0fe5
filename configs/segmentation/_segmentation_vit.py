# What every segmentation template shares. The model is the paper's: DeepLabv3 (ASPP rates 12/24/36) on the
# stride-8 level of the ViTDet-style pyramid (catlip_bench.dense.SimpleFeaturePyramid; the ViT at output
# stride 8), no auxiliary head. `upernet_head` is the alternative: UperNet (PPM + FPN) over all four levels.
#
# A template: the `segmentation` task fills model.backbone.backbone, the normalisation, the number of classes
# and the data (VOC or ADE20k layout: paths, suffixes, classes, ignore index, reduce_zero_label).
_base_ = ["mmseg::_base_/models/deeplabv3_r50-d8.py", "mmseg::_base_/default_runtime.py"]
custom_imports = dict(imports=["catlip_bench_mmseg.models"], allow_failed_imports=False)

pyramid_channels = 256
model = dict(
    pretrained=None,
    backbone=dict(
        _delete_=True,
        type="CatlipBenchBackbone",
        backbone="vit-base-untrained",
        out_channels=pyramid_channels,
        frozen=False,
    ),
    decode_head=dict(in_channels=pyramid_channels, in_index=1, dilations=(1, 12, 24, 36)),
    auxiliary_head=None,
)
upernet_head = dict(
    _delete_=True,
    type="UPerHead",
    in_channels=[pyramid_channels] * 4,
    in_index=[0, 1, 2, 3],
    pool_scales=(1, 2, 3, 6),
    channels=512,
    dropout_ratio=0.1,
    num_classes=19,
    norm_cfg=dict(type="SyncBN", requires_grad=True),
    align_corners=False,
    loss_decode=dict(type="CrossEntropyLoss", use_sigmoid=False, loss_weight=1.0),
)

# Layer-wise LR decay rate for the ViT's blocks (catlip_bench.dense.layer_decay_rules); None = off.
layer_decay = None

dataset = dict(type="BaseSegDataset", data_root="", ann_file="", data_prefix=dict(img_path="", seg_map_path=""))
train_dataloader = dict(sampler=dict(type="InfiniteSampler", shuffle=True), dataset=dataset)
val_dataloader = dict(batch_size=1, sampler=dict(type="DefaultSampler", shuffle=False), dataset=dataset)
val_evaluator = dict(type="IoUMetric", iou_metrics=["mIoU"])
val_cfg = dict(type="ValLoop")

default_hooks = dict(
    timer=dict(type="IterTimerHook"),
    logger=dict(type="LoggerHook", interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type="ParamSchedulerHook"),
    checkpoint=dict(type="CheckpointHook", by_epoch=False, interval=1000, max_keep_ckpts=1, save_last=True),
    sampler_seed=dict(type="DistSamplerSeedHook"),
)

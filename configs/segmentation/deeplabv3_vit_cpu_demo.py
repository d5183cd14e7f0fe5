# CPU demo: DeepLabv3 (ASPP 12/24/36 on the stride-8 level) at 256 px crops, narrow head, batch 2, a few
# hundred iterations; GroupNorm in the head (SyncBN needs a GPU, BatchNorm's image-pool branch batches > 1).
_base_ = ["./_segmentation_vit.py"]

crop_size = (256, 256)
channels = 128
norm_cfg = dict(type="GN", num_groups=32, requires_grad=True)
model = dict(
    data_preprocessor=dict(size=crop_size, test_cfg=dict(size_divisor=32)),
    backbone=dict(out_channels=channels),
    decode_head=dict(in_channels=channels, channels=channels, norm_cfg=norm_cfg),
)

train_pipeline = [
    dict(type="LoadImageFromFile"),
    dict(type="LoadAnnotations"),
    dict(type="RandomResize", scale=(512, 256), ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type="RandomCrop", crop_size=crop_size, cat_max_ratio=0.75),
    dict(type="RandomFlip", prob=0.5),
    dict(type="PackSegInputs"),
]
test_pipeline = [
    dict(type="LoadImageFromFile"),
    dict(type="Resize", scale=(512, 256), keep_ratio=True),
    dict(type="LoadAnnotations"),
    dict(type="PackSegInputs"),
]
train_dataloader = dict(batch_size=2, num_workers=0, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(num_workers=0, dataset=dict(pipeline=test_pipeline))

max_iters = 300
train_cfg = dict(type="IterBasedTrainLoop", max_iters=max_iters, val_interval=max_iters)
optim_wrapper = dict(
    type="OptimWrapper",
    optimizer=dict(type="AdamW", lr=2e-4, betas=(0.9, 0.999), weight_decay=0.05),
    paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0),
    clip_grad=dict(max_norm=1.0),
)
param_scheduler = [
    dict(type="LinearLR", start_factor=0.01, by_epoch=False, begin=0, end=20),
    dict(type="CosineAnnealingLR", by_epoch=False, begin=0, end=max_iters, eta_min_ratio=0.01),
]
default_hooks = dict(logger=dict(interval=20), checkpoint=dict(interval=100))

# GPU recipe for the paper's segmentation set-up: DeepLabv3 (ASPP 12/24/36, the ViT at output stride 8) on
# ADE20k at 512 px crops. The paper does not spell out the schedule; this is MMSegmentation's standard ADE20k
# one for ViTs (BEiT/MAE style): 160k iterations at batch 16, AdamW 1e-4 with layer-wise LR decay 0.65, SyncBN.
#
# Batch 16 = 8 GPUs x 2: run it with mmseg's tools/dist_train.sh (after setting model.backbone.backbone and the
# data; ADE20k itself is not on any package registry) or through the `segmentation` task; auto_scale_lr scales
# the LR with the real batch. The ViT's last norm is unused by the spatial view, hence find_unused_parameters.
_base_ = ["./_segmentation_vit.py"]

crop_size = (512, 512)
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(backbone="catlip-vit-b16"),
    test_cfg=dict(mode="slide", crop_size=crop_size, stride=(341, 341)),
)
find_unused_parameters = True

train_pipeline = [
    dict(type="LoadImageFromFile"),
    dict(type="LoadAnnotations"),
    dict(type="RandomResize", scale=(2048, 512), ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type="RandomCrop", crop_size=crop_size, cat_max_ratio=0.75),
    dict(type="RandomFlip", prob=0.5),
    dict(type="PhotoMetricDistortion"),
    dict(type="PackSegInputs"),
]
test_pipeline = [
    dict(type="LoadImageFromFile"),
    dict(type="Resize", scale=(2048, 512), keep_ratio=True),
    dict(type="LoadAnnotations"),
    dict(type="PackSegInputs"),
]
train_dataloader = dict(batch_size=2, num_workers=4, persistent_workers=True, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(num_workers=4, persistent_workers=True, dataset=dict(pipeline=test_pipeline))

max_iters = 160_000
train_cfg = dict(type="IterBasedTrainLoop", max_iters=max_iters, val_interval=16_000)
layer_decay = 0.65
optim_wrapper = dict(
    type="AmpOptimWrapper",
    dtype="bfloat16",
    optimizer=dict(type="AdamW", lr=1e-4, betas=(0.9, 0.999), weight_decay=0.05),
    paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0),
)
auto_scale_lr = dict(enable=True, base_batch_size=16)
param_scheduler = [
    dict(type="LinearLR", start_factor=1e-6, by_epoch=False, begin=0, end=1500),
    dict(type="PolyLR", power=1.0, eta_min=0.0, by_epoch=False, begin=1500, end=max_iters),
]
default_hooks = dict(logger=dict(interval=50), checkpoint=dict(interval=16_000))

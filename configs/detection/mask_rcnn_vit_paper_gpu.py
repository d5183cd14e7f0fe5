# The paper's detection recipe (CatLIP follows ViTDet): Mask R-CNN on a ViT-B/16 at 1024 px with large-scale
# jitter, 25 epochs of COCO train2017, AdamW with layer-wise LR decay. ViTDet's heads (2-conv RPN, 4conv1fc box
# head, normalised convs) with GroupNorm standing in for ViTDet's LayerNorm, which mmdet's core lacks.
#
# Batch 64 = 16 GPUs x 4: run it with mmdet's tools/dist_train.sh (after setting model.backbone.backbone, the
# classes and the data), or through the `detection` task on fewer GPUs: auto_scale_lr scales the LR with the
# real batch. The ViT's last norm is unused by the spatial view, hence find_unused_parameters.
_base_ = ["./_mask_rcnn_vit_fpn.py"]

image_size = (1024, 1024)
norm_cfg = dict(type="GN", num_groups=32, requires_grad=True)
model = dict(
    data_preprocessor=dict(batch_augments=[dict(type="BatchFixedSizePad", size=image_size, pad_mask=True)]),
    backbone=dict(backbone="catlip-vit-b16"),
    neck=dict(norm_cfg=norm_cfg),
    rpn_head=dict(num_convs=2),
    roi_head=dict(
        bbox_head=dict(
            _delete_=True,
            type="Shared4Conv1FCBBoxHead",
            in_channels=256,
            conv_out_channels=256,
            fc_out_channels=1024,
            roi_feat_size=7,
            num_classes=80,
            norm_cfg=norm_cfg,
            bbox_coder=dict(type="DeltaXYWHBBoxCoder", target_means=[0.0] * 4, target_stds=[0.1, 0.1, 0.2, 0.2]),
            reg_class_agnostic=False,
            loss_cls=dict(type="CrossEntropyLoss", use_sigmoid=False, loss_weight=1.0),
            loss_bbox=dict(type="L1Loss", loss_weight=1.0),
        ),
        mask_head=dict(norm_cfg=norm_cfg),
    ),
)
find_unused_parameters = True

# Large-scale jitter (ViTDet): resize by 0.1-2.0, crop or pad to 1024.
train_pipeline = [
    dict(type="LoadImageFromFile", backend_args=None),
    dict(type="LoadAnnotations", with_bbox=True, with_mask=True),
    dict(type="RandomFlip", prob=0.5),
    dict(type="RandomResize", scale=image_size, ratio_range=(0.1, 2.0), keep_ratio=True),
    dict(type="RandomCrop", crop_type="absolute_range", crop_size=image_size, recompute_bbox=True,
         allow_negative_crop=True),
    dict(type="FilterAnnotations", min_gt_bbox_wh=(1e-2, 1e-2)),
    dict(type="PackDetInputs"),
]
test_pipeline = [
    dict(type="LoadImageFromFile", backend_args=None),
    dict(type="Resize", scale=image_size, keep_ratio=True),
    dict(type="Pad", size=image_size, pad_val=dict(img=(114, 114, 114))),
    dict(type="LoadAnnotations", with_bbox=True, with_mask=True),
    dict(type="PackDetInputs", meta_keys=("img_id", "img_path", "ori_shape", "img_shape", "scale_factor")),
]
train_dataloader = dict(batch_size=4, num_workers=8, persistent_workers=True, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(num_workers=4, persistent_workers=True, dataset=dict(pipeline=test_pipeline))

# 25 epochs of COCO train2017 (117,266 images) at batch 64: 1,833 iterations an epoch.
iters_per_epoch = 1833
max_iters = 25 * iters_per_epoch
train_cfg = dict(type="IterBasedTrainLoop", max_iters=max_iters, val_interval=5 * iters_per_epoch)
layer_decay = 0.7  # ViTDet's rate for ViT-B
optim_wrapper = dict(
    type="AmpOptimWrapper",
    dtype="bfloat16",
    optimizer=dict(type="AdamW", lr=1e-4, betas=(0.9, 0.999), weight_decay=0.1),
    paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0),
)
auto_scale_lr = dict(enable=True, base_batch_size=64)
param_scheduler = [
    dict(type="LinearLR", start_factor=0.001, by_epoch=False, begin=0, end=250),
    dict(type="MultiStepLR", by_epoch=False, begin=0, end=max_iters,
         milestones=[round(0.889 * max_iters), round(0.963 * max_iters)], gamma=0.1),
]
default_hooks = dict(logger=dict(interval=50), checkpoint=dict(interval=iters_per_epoch))

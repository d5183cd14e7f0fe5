# GPU recipe with UperNet over the four pyramid levels instead of DeepLabv3; everything else as
# deeplabv3_vit_ade20k_gpu (ADE20k, 512 px, 160k iterations at batch 16, layer-wise LR decay 0.65).
_base_ = ["./deeplabv3_vit_ade20k_gpu.py"]

model = dict(decode_head=_base_.upernet_head)

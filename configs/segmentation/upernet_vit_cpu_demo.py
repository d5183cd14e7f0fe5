# CPU demo: UperNet over the four pyramid levels instead of DeepLabv3; everything else as deeplabv3_vit_cpu_demo.
_base_ = ["./deeplabv3_vit_cpu_demo.py"]

model = dict(
    decode_head=dict(
        _base_.upernet_head,
        in_channels=[_base_.channels] * 4,
        channels=_base_.channels,
        norm_cfg=dict(type="GN", num_groups=32, requires_grad=True),
    )
)

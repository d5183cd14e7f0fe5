"""Pre-training: the CatLIP trainer and the matched CLIP baseline (a built-in plugin)."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

from catlip_bench.hookspecs import hookimpl
from catlip_bench.specs import TrainerSpec


def _train(trainer: str, config: dict[str, Any], out_dir: Path, resume: bool) -> Path:
    from catlip_bench.pretrain.engine import train  # torch, timm, open_clip: imported only when training

    return train(trainer, config, out_dir, resume)


@hookimpl
def register_trainers(register) -> None:
    """Built-in trainers."""
    register(TrainerSpec(
        "catlip", partial(_train, "catlip"),
        "CatLIP: ViT + one linear layer over WordNet synsets, BCE (sum over classes / batch)",
    ))
    register(TrainerSpec(
        "clip", partial(_train, "clip"),
        "CLIP baseline: the same ViT + open_clip's text transformer, contrastive loss gathered over ranks",
    ))

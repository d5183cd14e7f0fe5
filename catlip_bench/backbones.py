"""Built-in backbones: timm ViTs, untrained or from a catlip-bench checkpoint (a built-in plugin)."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import timm
import torch

from catlip_bench.backbone import (
    Backbone,
    SynsetHead,
    count_parameters,
    file_sha256,
    load_checkpoint,
    load_weights,
)
from catlip_bench.errors import CatlipBenchError
from catlip_bench.hookspecs import hookimpl
from catlip_bench.paths import cache_dir, configs_dir
from catlip_bench.specs import BackboneSpec

CHECKPOINT_FORMAT = "catlip-bench-checkpoint/1"
DEMO_IMAGE_SIZE = 96


class TimmViT(Backbone):
    """A timm Vision Transformer; pooled = its pre-logits (CLS) vector, spatial = last block's patch grid."""

    def __init__(self, arch: str, img_size: int, init_seed: int = 0) -> None:
        super().__init__()
        with torch.random.fork_rng():
            torch.manual_seed(init_seed)
            self.model = timm.create_model(
                arch, pretrained=False, num_classes=0, img_size=img_size, dynamic_img_size=True
            )
        self.arch = arch
        self.embed_dim = self.model.embed_dim
        self.patch_size = self.model.patch_embed.patch_size[0]
        self.input_size = img_size
        self.card.parameters = count_parameters(self.model)

    def forward_pooled(self, images: torch.Tensor) -> torch.Tensor:
        return self.model.forward_head(self.model.forward_features(images), pre_logits=True)

    def forward_spatial(self, images: torch.Tensor) -> torch.Tensor:
        return self.model.forward_intermediates(images, indices=1, output_fmt="NCHW", intermediates_only=True)[-1]


def vit_from_checkpoint(path: Path | str, min_fraction: float = 0.9) -> TimmViT:
    """Build the ViT a catlip-bench checkpoint describes and load its (EMA) backbone weights."""
    path = Path(path)
    checkpoint = load_checkpoint(path)
    if not isinstance(checkpoint, dict) or checkpoint.get("format") != CHECKPOINT_FORMAT:
        raise CatlipBenchError(f"{path} is not a catlip-bench checkpoint (no format={CHECKPOINT_FORMAT!r} key)")
    backbone = TimmViT(checkpoint["arch"], int(checkpoint["img_size"]))
    report = load_weights(backbone.model, checkpoint["backbone"], min_fraction=min_fraction, source=str(path))
    backbone.card.load_report = report
    backbone.card.weights = str(path)
    backbone.card.weights_sha256 = file_sha256(path)
    backbone.card.pretraining = str(checkpoint.get("pretraining", checkpoint.get("trainer", "unknown")))
    head, vocabulary = checkpoint.get("head"), checkpoint.get("vocabulary")
    if head is not None and vocabulary is not None:
        backbone.synset_head = SynsetHead(head["weight"], head["bias"], list(vocabulary["keys"]), list(vocabulary["names"]))
    return backbone


def _pretrained(name: str, trainer: str, recipe: str, description: str, pretraining: str) -> BackboneSpec:
    weights = cache_dir() / "checkpoints" / name / "checkpoint.pt"
    return BackboneSpec(
        name=name,
        build=partial(vit_from_checkpoint, weights),
        description=description,
        pretraining=pretraining,
        weights=weights,
        trainer=trainer,
        recipe=configs_dir() / "pretrain" / recipe,
    )


def spec_from_path(path: Path | str) -> BackboneSpec:
    """A backbone spec for a checkpoint file given by path instead of a registered name."""
    path = Path(path)
    return BackboneSpec(path.stem, partial(vit_from_checkpoint, path), f"checkpoint {path}", weights=path)


@hookimpl
def register_backbones(register) -> None:
    register(BackboneSpec(
        "vit-tiny-untrained",
        partial(TimmViT, "vit_tiny_patch16_224", DEMO_IMAGE_SIZE),
        f"ViT-Ti/16 at {DEMO_IMAGE_SIZE}px, random init (seed 0): the floor",
    ))
    register(BackboneSpec(
        "vit-base-untrained",
        partial(TimmViT, "vit_base_patch16_224", 224),
        "ViT-B/16 at 224px, random init (seed 0)",
    ))
    register(_pretrained(
        "catlip-vit-tiny-demo", "catlip", "catlip_vit_tiny_demo.yaml",
        "ViT-Ti/16 pre-trained by CatLIP on the Tux Paint demo captions (CPU minutes)", "CatLIP, Tux Paint demo",
    ))
    register(_pretrained(
        "clip-vit-tiny-demo", "clip", "clip_vit_tiny_demo.yaml",
        "ViT-Ti/16 pre-trained by CLIP on the Tux Paint demo captions (CPU minutes)", "CLIP, Tux Paint demo",
    ))
    register(_pretrained(
        "catlip-vit-b16", "catlip", "catlip_vit_b16.yaml",
        "ViT-B/16 with the paper's CatLIP recipe (GPU cluster)", "CatLIP, paper recipe",
    ))
    register(_pretrained(
        "clip-vit-b16", "clip", "clip_vit_b16.yaml",
        "ViT-B/16 with a matched CLIP recipe (GPU cluster)", "CLIP, paper recipe",
    ))

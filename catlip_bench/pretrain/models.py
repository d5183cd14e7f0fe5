"""The two objectives on one image tower: CatLIP (BCE over synsets) and CLIP (contrastive, open_clip's pieces).

Each model's `forward(images, targets, tokens)` returns the training loss, so DDP/FSDP wrap the whole step
and the speed benchmark times exactly what the trainer runs.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import torch
import torch.nn.functional as F
from open_clip.loss import ClipLoss
from open_clip.transformer import TextTransformer
from torch import nn

from catlip_bench.backbones import TimmViT
from catlip_bench.pretrain.config import TextConfig


def catlip_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """CatLIP's loss: binary cross-entropy with logits summed over the vocabulary and the batch, / batch size."""
    return F.binary_cross_entropy_with_logits(logits, targets, reduction="sum") / logits.shape[0]


class CatLIPModel(nn.Module):
    """A timm ViT from scratch plus one linear layer d -> |V| on the pooled (CLS) token."""

    def __init__(self, arch: str, img_size: int, vocab_size: int, *, seed: int = 0, head_bias: float = 0.0) -> None:
        super().__init__()
        self.image = TimmViT(arch, img_size, init_seed=seed)
        self.head = nn.Linear(self.image.embed_dim, vocab_size)
        with torch.random.fork_rng():
            torch.manual_seed(seed + 1)
            nn.init.trunc_normal_(self.head.weight, std=0.02)
        nn.init.constant_(self.head.bias, head_bias)

    def logits(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.image.forward_pooled(images))

    def forward(self, images: torch.Tensor, targets: torch.Tensor, tokens: Any = None) -> torch.Tensor:
        return catlip_loss(self.logits(images).float(), targets.float())

    def no_weight_decay(self) -> set[str]:
        return {f"image.model.{name}" for name in self.image.model.no_weight_decay()}

    def export(self, state: dict[str, torch.Tensor]) -> dict[str, Any]:
        """The checkpoint's CatLIP part from a full state dict: head rows follow the vocabulary's order."""
        return {"head": prefixed(state, "head.")}


class CLIPModel(nn.Module):
    """The same image tower, a linear projection, open_clip's text transformer and its contrastive loss."""

    def __init__(
        self, arch: str, img_size: int, text: TextConfig, *, seed: int = 0, rank: int = 0, world_size: int = 1
    ) -> None:
        super().__init__()
        self.text_config = text
        self.image = TimmViT(arch, img_size, init_seed=seed)
        with torch.random.fork_rng():
            torch.manual_seed(seed + 1)
            self.image_proj = nn.Linear(self.image.embed_dim, text.embed_dim, bias=False)
            nn.init.normal_(self.image_proj.weight, std=self.image.embed_dim ** -0.5)
            self.text = TextTransformer(
                context_length=text.context_length, vocab_size=text.vocab_size, width=text.width,
                heads=text.heads, layers=text.layers, output_dim=text.embed_dim,
            )
        self.logit_scale = nn.Parameter(torch.full((1,), text.init_logit_scale))  # 1-d: FSDP shards no scalars
        self.max_logit_scale = math.log(text.max_logit_scale)
        # Gathering with gradients makes every rank's loss the full-batch loss: DDP then averages exact grads.
        self.loss = ClipLoss(gather_with_grad=True, cache_labels=True, rank=rank, world_size=world_size)

    def features(self, images: torch.Tensor, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        image = F.normalize(self.image_proj(self.image.forward_pooled(images)).float(), dim=-1)
        text = F.normalize(self.text(tokens).float(), dim=-1)
        return image, text

    def forward(self, images: torch.Tensor, targets: Any, tokens: torch.Tensor) -> torch.Tensor:
        image, text = self.features(images, tokens)
        return self.loss(image, text, self.logit_scale.clamp(max=self.max_logit_scale).exp())

    def no_weight_decay(self) -> set[str]:
        return {f"image.model.{name}" for name in self.image.model.no_weight_decay()} | {
            f"text.{name}" for name in self.text.no_weight_decay()} | {"logit_scale"}

    def export(self, state: dict[str, torch.Tensor]) -> dict[str, Any]:
        """The checkpoint's CLIP part from a full state dict: text tower, projection, temperature (zero-shot)."""
        return {"clip": {
            "text_config": dataclasses.asdict(self.text_config),
            "text": prefixed(state, "text."),
            "image_proj": state["image_proj.weight"],
            "logit_scale": float(state["logit_scale"]),
        }}


def prefixed(state: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """The entries of `state` under `prefix`, with the prefix removed."""
    return {key[len(prefix):]: value for key, value in state.items() if key.startswith(prefix)}

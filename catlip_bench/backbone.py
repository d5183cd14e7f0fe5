"""The backbone contract: pooled features for probes, a spatial map for dense tasks, and a card."""

from __future__ import annotations

import hashlib
import pickle
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from catlip_bench.errors import CatlipBenchError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass
class LoadReport:
    """How a checkpoint fitted the module: keys missing from it, keys it had that the module lacks."""

    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    loaded_fraction: float = 1.0


@dataclass
class BackboneCard:
    """Provenance that the results store keeps beside every number."""

    parameters: int = 0
    pretraining: str = "none"
    weights: str | None = None
    weights_sha256: str | None = None
    load_report: LoadReport | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class SynsetHead:
    """A CatLIP classifier over a synset vocabulary: row i of `weight` belongs to synset `keys[i]`."""

    weight: torch.Tensor
    bias: torch.Tensor
    keys: list[str]
    names: list[str]


class Backbone(nn.Module):
    """Base class for every backbone, first- or third-party.

    Subclasses set `embed_dim` (channels of both views), `patch_size` (stride of the spatial view),
    `input_size`, `mean`, `std`, and implement `forward_pooled` ([B, C]) and `forward_spatial`
    ([B, C, H / patch_size, W / patch_size]). A CatLIP checkpoint also brings its `synset_head`.
    """

    embed_dim: int
    patch_size: int
    input_size: int = 224
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD

    def __init__(self) -> None:
        super().__init__()
        self.card = BackboneCard()
        self.synset_head: SynsetHead | None = None

    def forward_pooled(self, images: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward_spatial(self, images: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError(f"{type(self).__name__} has no spatial view (forward_spatial)")

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.forward_pooled(images)


def file_sha256(path: Path) -> str:
    """sha256 hex digest of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def load_checkpoint(path: Path | str) -> dict[str, Any]:
    """Load a checkpoint safely (`weights_only=True`); a missing or broken file is a one-line error."""
    path = Path(path)
    if not path.is_file():
        raise CatlipBenchError(f"checkpoint {path} not found")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        if "Weights only load failed" in str(error) and zipfile.is_zipfile(path):
            raise CatlipBenchError(
                f"checkpoint {path} holds objects that safe (weights-only) loading refuses: only tensors and plain "
                "containers are accepted; re-save it as a state dict"
            ) from error
        raise CatlipBenchError(f"{path} is not a readable PyTorch checkpoint (corrupt or truncated?)") from error
    except (RuntimeError, EOFError, OSError, ValueError) as error:
        raise CatlipBenchError(f"{path} is not a readable PyTorch checkpoint (corrupt or truncated?)") from error


def load_weights(
    module: nn.Module, state_dict: dict[str, torch.Tensor], *, min_fraction: float = 0.9, source: str = "checkpoint"
) -> LoadReport:
    """Load what fits, report missing/unexpected keys, refuse when under `min_fraction` of parameters load."""
    own = module.state_dict()
    usable = {k: v for k, v in state_dict.items() if k in own and own[k].shape == v.shape}
    mismatched = [k for k in state_dict if k in own and own[k].shape != state_dict[k].shape]
    total = sum(v.numel() for v in own.values()) or 1
    loaded = sum(own[k].numel() for k in usable)
    report = LoadReport(
        missing=sorted(set(own) - set(usable)),
        unexpected=sorted(set(state_dict) - set(own)) + sorted(mismatched),
        loaded_fraction=loaded / total,
    )
    if report.loaded_fraction < min_fraction:
        raise CatlipBenchError(
            f"{source} fills only {report.loaded_fraction:.0%} of {type(module).__name__}'s parameters "
            f"(need {min_fraction:.0%}); missing e.g. {report.missing[:3]}, unexpected e.g. {report.unexpected[:3]}"
        )
    module.load_state_dict(usable, strict=False)
    return report


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())

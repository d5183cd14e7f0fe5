"""`catlip-bench bench pretrain`: CatLIP and CLIP training steps beside the bare timm step, on one device.

All three run the same tower, batch and resolution, interleaved step by step (so a busy machine slows them
alike), on synthetic tensors: this times the model, the loss and the update, not the data pipeline.
CatLIP and CLIP use the trainers' own step (gradient clipping, AdamW, EMA); the floor is a bare timm
forward + backward + AdamW step of the tower alone.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import timm
import torch
from timm.utils import ModelEmaV3
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from catlip_bench.errors import CatlipBenchError
from catlip_bench.pretrain.config import Recipe, TextConfig, load_recipe, resolve
from catlip_bench.pretrain.engine import forward_backward, make_optimizer
from catlip_bench.pretrain.models import CatLIPModel, CLIPModel

# Dense bf16 tensor-core peaks (FLOP/s) by device-name fragment, for MFU.
PEAK_BF16 = {"H200": 989e12, "H100": 989e12, "A100": 312e12, "L40S": 362e12, "L4": 121e12, "A10": 125e12}


@dataclass
class Variant:
    """One timed training step: `run()` does a full update; `flops` counts one forward + backward."""

    name: str
    run: Callable[[], None]
    params: int
    flops: float = 0.0
    times: list[float] | None = None

    @property
    def seconds(self) -> float:
        return statistics.median(self.times or [float("nan")])


def text_config(model_name: str, context_length: int | None) -> TextConfig:
    """The text tower of an open_clip model config (shapes only; nothing is downloaded)."""
    import open_clip

    config = open_clip.get_model_config(model_name)
    if config is None:
        raise CatlipBenchError(f"open_clip has no model config {model_name!r} (see open_clip.list_models())")
    text = config["text_cfg"]
    return TextConfig(
        context_length=context_length or text.get("context_length", 77), vocab_size=text.get("vocab_size", 49408),
        width=text["width"], heads=text["heads"], layers=text["layers"], embed_dim=config["embed_dim"],
    )


def _variants(recipe: Recipe, vocab_size: int, batch: int, device: torch.device, bf16: bool) -> list[Variant]:
    size, text = recipe.model.img_size, recipe.text
    assert text is not None
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16)
    images = torch.randn(batch, 3, size, size, device=device)
    targets = torch.zeros(batch, vocab_size, device=device)
    targets.scatter_(1, torch.randint(vocab_size, (batch, 5), device=device), 1.0)
    tokens = torch.randint(1, text.vocab_size - 1, (batch, text.context_length), device=device)
    tokens[:, -1] = text.vocab_size - 1  # end-of-text, where open_clip pools
    fused = device.type == "cuda"

    floor_model = timm.create_model(recipe.model.arch, pretrained=False, num_classes=0, img_size=size).to(device)
    floor_opt = torch.optim.AdamW(floor_model.parameters(), lr=1e-4, fused=fused or None)

    def floor_loss() -> torch.Tensor:
        with autocast:
            return floor_model(images).float().mean()

    def floor_step() -> None:
        floor_opt.zero_grad(set_to_none=True)
        floor_loss().backward()
        floor_opt.step()

    variants = [Variant("floor", floor_step, sum(p.numel() for p in floor_model.parameters()))]
    variants[0].flops = _flops(floor_loss)
    for name, model, batch_args in (
        ("catlip", CatLIPModel(recipe.model.arch, size, vocab_size), (images, targets, None)),
        ("clip", CLIPModel(recipe.model.arch, size, text), (images, None, tokens)),
    ):
        variants.append(_trainer_variant(name, model.to(device), batch_args, recipe, autocast, fused))
    return variants


def _trainer_variant(
    name: str, model: nn.Module, batch: tuple, recipe: Recipe, autocast: torch.autocast, fused: bool
) -> Variant:
    optimizer = make_optimizer(model, recipe, fused=fused)
    ema = ModelEmaV3(model, decay=recipe.ema.decay or 0.9995)

    def step() -> None:
        forward_backward(model, model, batch, optimizer, autocast, recipe.optim.grad_clip)
        optimizer.step()
        ema.update(model)

    def loss() -> torch.Tensor:
        with autocast:
            return model(*batch)

    return Variant(name, step, sum(p.numel() for p in model.parameters()), _flops(loss))


def _flops(loss: Callable[[], torch.Tensor]) -> float:
    """FLOPs of one forward + backward, counted by torch's FlopCounterMode."""
    with FlopCounterMode(display=False) as counter:
        loss().backward()
    return float(counter.get_total_flops())


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def run_bench(
    recipe: Recipe, vocab_size: int, batch: int, steps: int, warmup: int, device: torch.device, bf16: bool
) -> list[Variant]:
    """Time `steps` interleaved rounds (after `warmup` untimed ones) of floor, CatLIP and CLIP steps."""
    variants = _variants(recipe, vocab_size, batch, device, bf16)
    for variant in variants:
        variant.times = []
    for round_ in range(warmup + steps):
        for variant in variants:
            _sync(device)
            start = time.perf_counter()
            variant.run()
            _sync(device)
            if round_ >= warmup:
                variant.times.append(time.perf_counter() - start)
    return variants


def report(variants: list[Variant], recipe: Recipe, vocab_size: int, batch: int, device: torch.device,
           bf16: bool, peak: float | None) -> str:
    """The table, the shapes and the ratios, as printed."""
    text = recipe.text
    assert text is not None
    model = timm.create_model(recipe.model.arch, pretrained=False, num_classes=0, img_size=recipe.model.img_size)
    tokens = model.patch_embed.num_patches + model.num_prefix_tokens
    lines = [
        f"shapes: image {recipe.model.arch} @ {recipe.model.img_size}px ({tokens} tokens, d={model.embed_dim}); "
        f"text tower {text.layers} layers x width {text.width}, {text.context_length} tokens, embed {text.embed_dim}; "
        f"CatLIP vocabulary {vocab_size:,} synsets; batch {batch}; {device.type} "
        f"{'bf16' if bf16 else 'fp32'}; {torch.get_num_threads()} threads",
        f"{'step':<8}{'params':>10}{'GFLOP/step':>12}{'ms/step':>10}{'images/s':>10}" + ("  MFU" if peak else ""),
    ]
    by_name = {v.name: v for v in variants}
    for v in variants:
        line = (f"{v.name:<8}{v.params / 1e6:>9.1f}M{v.flops / 1e9:>12.1f}{v.seconds * 1e3:>10.1f}"
                f"{batch / v.seconds:>10.1f}")
        if peak:
            line += f"  {v.flops / v.seconds / peak:5.1%}"
        lines.append(line)
    floor, catlip, clip = by_name["floor"], by_name["catlip"], by_name["clip"]
    lines += [
        f"CatLIP step / floor step: {catlip.seconds / floor.seconds:.3f}x (goal <= 1.10x)",
        f"CatLIP images/s / CLIP images/s: {clip.seconds / catlip.seconds:.2f}x "
        f"(FLOPs predict {clip.flops / catlip.flops:.2f}x)",
    ]
    return "\n".join(lines)


def bench_command(args: argparse.Namespace) -> int:
    """Run `catlip-bench bench pretrain`."""
    if args.recipe:
        recipe = resolve(load_recipe(args.recipe))
        recipe.text = recipe.text or text_config(args.text_model, args.context_length)
    else:
        text = text_config(args.text_model, args.context_length)
        recipe = resolve({"trainer": "clip", "model": {"arch": args.arch, "img_size": args.img_size},
                          "text": vars(text)})
    cuda = args.device == "cuda" or (args.device == "auto" and torch.cuda.is_available())
    if cuda and not torch.cuda.is_available():
        raise CatlipBenchError("--device cuda but no CUDA device is visible")
    device = torch.device("cuda" if cuda else "cpu")
    bf16 = args.precision == "bf16" or (args.precision == "auto" and cuda)
    peak = args.peak_tflops * 1e12 if args.peak_tflops else None
    if peak is None and cuda:
        name = torch.cuda.get_device_name(device)
        peak = next((v for k, v in PEAK_BF16.items() if k in name), None) if bf16 else None
    torch.manual_seed(0)
    variants = run_bench(recipe, args.vocab_size, args.batch, args.steps, args.warmup, device, bf16)
    print(report(variants, recipe, args.vocab_size, args.batch, device, bf16, peak))
    return 0

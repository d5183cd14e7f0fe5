"""The training loop both trainers share: one process or torchrun (DDP, or FSDP2), checkpoints, resume, logs."""

from __future__ import annotations

import json
import math
import os
import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from timm.optim import param_groups_weight_decay
from timm.scheduler import CosineLRScheduler
from timm.utils import ModelEmaV3
from torch import nn
from torch.distributed.checkpoint.state_dict import (
    StateDictOptions,
    get_model_state_dict,
    get_optimizer_state_dict,
    set_model_state_dict,
    set_optimizer_state_dict,
)
from torch.distributed.tensor import DTensor
from torch.utils.data import DataLoader
from torchvision import transforms
from tqdm import tqdm

from catlip_bench.backbone import load_checkpoint
from catlip_bench.backbones import CHECKPOINT_FORMAT
from catlip_bench.data.shards import Manifest, ShardStream, pack_once
from catlip_bench.errors import CatlipBenchError
from catlip_bench.paths import cache_dir
from catlip_bench.pretrain.config import DataConfig, Recipe
from catlip_bench.pretrain.models import CatLIPModel, CLIPModel

CHECKPOINT = "checkpoint.pt"
LOG = "log.jsonl"
FULL = StateDictOptions(full_state_dict=True, cpu_offload=True)


@dataclass
class Cluster:
    """This process's place in the run: rank, world size and device."""

    rank: int
    world: int
    device: torch.device

    @property
    def main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.world > 1:
            dist.barrier()

    def all_true(self, flag: bool) -> bool:
        """Whether `flag` holds on every rank (a MIN all-reduce; no collective when alone)."""
        if self.world == 1:
            return flag
        value = torch.tensor([int(flag)], device=self.device)
        dist.all_reduce(value, op=dist.ReduceOp.MIN)
        return bool(value.item())


@contextmanager
def cluster(device: str) -> Iterator[Cluster]:
    """Join the torchrun process group when WORLD_SIZE > 1 (nccl on GPU, gloo on CPU); leave it after."""
    cuda = device == "cuda" or (device == "auto" and torch.cuda.is_available())
    if cuda and not torch.cuda.is_available():
        raise CatlipBenchError("recipe asks for device: cuda but no CUDA device is visible; use device: cpu or auto")
    world = int(os.environ.get("WORLD_SIZE", "1"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if cuda:
        torch.cuda.set_device(local_rank)
    owns = world > 1 and not dist.is_initialized()
    if owns:
        dist.init_process_group("nccl" if cuda else "gloo")
    rank = dist.get_rank() if world > 1 else 0
    try:
        yield Cluster(rank, world, torch.device("cuda", local_rank) if cuda else torch.device("cpu"))
    finally:
        if owns:
            dist.destroy_process_group()


def dataset_manifest(data: DataConfig, node: Cluster) -> Manifest:
    """The recipe's shards: a manifest path, or a registered captions dataset packed once into the cache."""
    if data.shards is not None:
        return Manifest.load(data.shards)
    from catlip_bench.plugins import registries

    spec = registries().datasets.get(data.dataset)
    if spec.kind != "captions":
        raise CatlipBenchError(f"data.dataset {spec.name!r} is a {spec.kind} dataset; pre-training needs captions")
    cut = f"min{data.min_count}" if data.top_k is None else f"top{data.top_k}"
    folder = cache_dir() / "shards" / f"{spec.name}-{data.label_mode}-{cut}-s{data.shard_size}"
    options = dict(mode=data.label_mode, min_count=data.min_count, top_k=data.top_k, shard_size=data.shard_size)
    if node.main:
        pack_once(folder, spec.load, **options)
    node.barrier()
    return pack_once(folder, spec.load, **options)


def image_transform(recipe: Recipe) -> transforms.Compose:
    """RandomResizedCrop + horizontal flip to a uint8 tensor; normalising happens on the device."""
    return transforms.Compose([
        transforms.RandomResizedCrop(recipe.model.img_size, scale=recipe.data.crop_scale, antialias=True),
        transforms.RandomHorizontalFlip(recipe.data.hflip),
        transforms.PILToTensor(),
    ])


class Tokenize:
    """open_clip's tokenizer for one caption -> [context_length] token ids (picklable for loader workers)."""

    def __init__(self, context_length: int) -> None:
        from open_clip.tokenizer import SimpleTokenizer

        self.tokenizer = SimpleTokenizer(context_length=context_length)

    def __call__(self, caption: str) -> torch.Tensor:
        return self.tokenizer([caption])[0]


def build_model(recipe: Recipe, vocabulary_size: int, label_rate: float, node: Cluster) -> nn.Module:
    """The recipe's CatLIP or CLIP model, on the CPU, initialised from the recipe's seed."""
    if recipe.trainer == "catlip":
        bias = 0.0
        if recipe.model.head_bias_init == "prior":
            rate = min(max(label_rate, 1e-6), 1 - 1e-6)
            bias = math.log(rate / (1 - rate))
        return CatLIPModel(recipe.model.arch, recipe.model.img_size, vocabulary_size, seed=recipe.seed,
                           head_bias=bias)
    assert recipe.text is not None
    return CLIPModel(recipe.model.arch, recipe.model.img_size, recipe.text, seed=recipe.seed, rank=node.rank,
                     world_size=node.world)


def make_optimizer(model: nn.Module, recipe: Recipe, fused: bool) -> torch.optim.AdamW:
    """AdamW; no weight decay on 1-d parameters (norms, biases) and the model's no_weight_decay names."""
    optim = recipe.optim
    groups = param_groups_weight_decay(model, optim.weight_decay, no_weight_decay_list=model.no_weight_decay())
    return torch.optim.AdamW(groups, lr=optim.lr, betas=optim.betas, eps=optim.eps, fused=fused or None)


def make_scheduler(optimizer: torch.optim.Optimizer, recipe: Recipe) -> CosineLRScheduler:
    """Linear warm-up from warmup_lr, then cosine from lr to min_lr, stepped per optimizer update."""
    optim = recipe.optim
    return CosineLRScheduler(
        optimizer, t_initial=max(optim.steps - optim.warmup_steps, 1), lr_min=optim.min_lr,
        warmup_t=optim.warmup_steps, warmup_lr_init=optim.warmup_lr, warmup_prefix=True, t_in_epochs=False,
    )


def _shard(model: nn.Module) -> None:
    from torch.distributed.fsdp import fully_shard

    blocks = list(model.image.model.blocks)
    if isinstance(model, CLIPModel):
        blocks += list(model.text.transformer.resblocks)
    for block in blocks:
        fully_shard(block)
    fully_shard(model)


def _rng_state(cuda: bool) -> dict[str, Any]:
    state: dict[str, Any] = {"torch": torch.get_rng_state(), "python": random.getstate()}
    if cuda:
        state["cuda"] = torch.cuda.get_rng_state()
    return state


def _set_rng_state(state: dict[str, Any], cuda: bool) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate(state["python"])
    if cuda and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"])


def save_atomically(payload: dict[str, Any], path: Path) -> None:
    """torch.save to a temporary file, then rename: a failed save leaves the previous file as it was."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        torch.save(payload, tmp)
        os.replace(tmp, path)
    except (OSError, RuntimeError) as error:  # torch.save reports a failed open or write as RuntimeError
        if tmp.is_file():
            tmp.unlink()
        raise CatlipBenchError(f"could not save checkpoint {path}: {error}; the previous one is kept") from error


def forward_backward(
    wrapped: nn.Module, model: nn.Module, batch: tuple[Any, ...], optimizer: torch.optim.Optimizer,
    autocast: torch.autocast, grad_clip: float | None,
) -> torch.Tensor:
    """Zero the gradients, compute the loss (`wrapped(*batch)`), back-propagate, clip; returns [loss, grad norm]."""
    optimizer.zero_grad(set_to_none=True)
    with autocast:
        loss = wrapped(*batch)
    loss.backward()
    norm = nn.utils.clip_grad_norm_(model.parameters(), grad_clip) if grad_clip else loss.new_zeros(())
    if isinstance(norm, DTensor):  # FSDP: the norm of sharded gradients
        norm = norm.full_tensor()
    return torch.stack([loss.detach().float(), norm.float()])


class Trainer:
    """One pre-training run of `recipe` into `out_dir` (call `fit`)."""

    def __init__(self, recipe: Recipe, out_dir: Path, node: Cluster) -> None:
        self.recipe, self.out_dir, self.node = recipe, out_dir, node
        if recipe.optim.batch_size % node.world:
            raise CatlipBenchError(
                f"optim.batch_size {recipe.optim.batch_size} does not split over {node.world} ranks evenly")
        if recipe.fsdp and node.world == 1:
            raise CatlipBenchError("fsdp: true needs several ranks (torchrun --nproc-per-node N)")
        self.cuda = node.device.type == "cuda"
        bf16 = recipe.precision == "bf16" or (recipe.precision == "auto" and self.cuda)
        self.autocast = torch.autocast(node.device.type, dtype=torch.bfloat16, enabled=bf16)
        self.manifest = dataset_manifest(recipe.data, node)
        self.vocabulary = self.manifest.vocabulary()
        label_rate = (sum(self.vocabulary.counts) / max(self.manifest.samples, 1)) / max(len(self.vocabulary), 1)
        self.model = build_model(recipe, len(self.vocabulary), label_rate, node)
        if recipe.model.grad_checkpointing:
            self.model.image.model.set_grad_checkpointing(True)
        self.ema = ModelEmaV3(self.model, decay=recipe.ema.decay, use_warmup=recipe.ema.warmup) \
            if recipe.ema.decay is not None else None
        self.model.to(node.device)
        if self.ema is not None:
            self.ema.module.to(node.device)
        if recipe.fsdp:
            _shard(self.model)
            if self.ema is not None:
                _shard(self.ema.module)
            self.wrapped: nn.Module = self.model
        elif node.world > 1:
            self.wrapped = nn.parallel.DistributedDataParallel(
                self.model, device_ids=[node.device.index] if self.cuda else None)
        else:
            self.wrapped = self.model
        self.optimizer = make_optimizer(self.model, recipe, fused=self.cuda and not recipe.fsdp)
        self.scheduler = make_scheduler(self.optimizer, recipe)
        mean = torch.tensor(self.model.image.mean, device=node.device).view(1, 3, 1, 1) * 255
        std = torch.tensor(self.model.image.std, device=node.device).view(1, 3, 1, 1) * 255
        self.normalise = (mean, std)
        self.stream = ShardStream(
            self.manifest, shuffle=True, seed=recipe.seed, transform=image_transform(recipe),
            target="multihot", batch_size=recipe.optim.batch_size // node.world, buffer=recipe.data.shuffle_buffer,
            text_transform=Tokenize(recipe.text.context_length) if recipe.text else None,
        )
        self.step, self.epoch, self.batches, self.saved_step = 0, 0, 0, None
        self.checkpoint = out_dir / CHECKPOINT

    # ---- checkpoints ---------------------------------------------------------------------------------------

    def _payload(self) -> dict[str, Any] | None:
        """Gather full state dicts (every rank takes part); rank 0 builds the checkpoint, the others get None."""
        model = get_model_state_dict(self.model, options=FULL)
        ema = get_model_state_dict(self.ema.module, options=FULL) if self.ema is not None else None
        optimizer = get_optimizer_state_dict(self.model, self.optimizer, options=FULL)
        if not self.node.main:
            return None
        exported = ema if ema is not None else model
        recipe = self.recipe
        source = recipe.data.shards or recipe.data.dataset
        payload = {
            "format": CHECKPOINT_FORMAT,
            "trainer": recipe.trainer,
            "arch": recipe.model.arch,
            "img_size": recipe.model.img_size,
            "backbone": {k[len("image.model."):]: v for k, v in exported.items() if k.startswith("image.model.")},
            "pretraining": (
                f"{recipe.trainer} on {source} ({self.manifest.samples} pairs, {len(self.vocabulary)} synsets), "
                f"{self.step} steps x {recipe.optim.batch_size} images at {recipe.model.img_size}px, "
                f"seed {recipe.seed}{', EMA' if ema is not None else ''}"
            ),
            **self.model.export(exported),
            "recipe": recipe.as_dict(),
            "step": self.step,
            "state": {
                "model": model, "ema": ema, "optimizer": optimizer, "scheduler": self.scheduler.state_dict(),
                "epoch": self.epoch, "batches": self.batches, "rng": _rng_state(self.cuda),
            },
        }
        if recipe.trainer == "catlip":
            payload["vocabulary"] = {**self.vocabulary.as_dict(), "digest": self.vocabulary.digest()}
        return payload

    def save(self) -> None:
        payload = self._payload()
        if payload is not None:
            save_atomically(payload, self.checkpoint)
        self.node.barrier()
        self.saved_step = self.step

    def resume(self) -> None:
        """Continue from `out_dir/checkpoint.pt`: weights, EMA, optimizer, scheduler, data position, RNG."""
        checkpoint = load_checkpoint(self.checkpoint)
        saved = checkpoint.get("recipe")
        if saved is not None:
            for key in ("trainer", "seed", "model", "data", "optim", "ema", "text"):
                if saved.get(key) != self.recipe.as_dict()[key]:
                    raise CatlipBenchError(
                        f"{self.checkpoint} was trained with a different recipe key {key!r}: "
                        f"{saved.get(key)!r}; resume with the same recipe or drop --resume")
        state = checkpoint["state"]
        set_model_state_dict(self.model, state["model"], options=FULL)
        if self.ema is not None:
            set_model_state_dict(self.ema.module, state["ema"], options=FULL)
        set_optimizer_state_dict(self.model, self.optimizer, state["optimizer"], options=FULL)
        self.scheduler.load_state_dict(state["scheduler"])
        _set_rng_state(state["rng"], self.cuda)
        self.step, self.saved_step = int(checkpoint["step"]), int(checkpoint["step"])
        self.epoch, self.batches = int(state["epoch"]), int(state["batches"])

    # ---- the loop ------------------------------------------------------------------------------------------

    def _batches(self) -> Iterator[tuple[float, Any]]:
        """(seconds waited, batch) for as long as every rank has one; epochs roll over."""
        workers = self.recipe.data.workers
        loader = DataLoader(self.stream, batch_size=None, num_workers=workers, pin_memory=self.cuda,
                            prefetch_factor=4 if workers else None)
        while True:
            self.stream.set_position(self.epoch, self.batches)
            iterator = iter(loader)
            while True:
                start = time.perf_counter()
                batch = next(iterator, None)
                waited = time.perf_counter() - start
                if not self.node.all_true(batch is not None):
                    break
                yield waited, batch
            if self.batches == 0:
                raise CatlipBenchError(
                    f"epoch {self.epoch} gave no full batch of {self.stream.batch_size} per rank: "
                    f"{self.manifest.samples} samples in {len(self.manifest.shards)} shard(s) over "
                    f"{self.node.world} rank(s) x {max(workers, 1)} worker(s); lower optim.batch_size or "
                    f"data.workers, or pack smaller shards")
            self.epoch, self.batches = self.epoch + 1, 0

    def _to_device(self, batch: Any) -> tuple[torch.Tensor, torch.Tensor, Any]:
        images, targets, texts = batch
        mean, std = self.normalise
        images = (images.to(self.node.device, non_blocking=True).float() - mean) / std
        targets = targets.to(self.node.device, non_blocking=True)
        if torch.is_tensor(texts):
            texts = texts.to(self.node.device, non_blocking=True)
        return images, targets, texts

    def train_step(self, batch: tuple[torch.Tensor, torch.Tensor, Any]) -> float:
        """One optimizer update; a non-finite loss or gradient stops the run before the weights change."""
        self.scheduler.step_update(num_updates=self.step)
        loss_value, norm_value = (float(v) for v in forward_backward(
            self.wrapped, self.model, batch, self.optimizer, self.autocast, self.recipe.optim.grad_clip).tolist())
        if not (math.isfinite(loss_value) and math.isfinite(norm_value)):
            kept = (f"last good checkpoint {self.checkpoint} (step {self.saved_step}) kept"
                    if self.saved_step is not None else "no checkpoint had been written")
            raise CatlipBenchError(
                f"non-finite {'loss' if not math.isfinite(loss_value) else 'gradient norm'} "
                f"({loss_value if not math.isfinite(loss_value) else norm_value}) at step {self.step + 1}: "
                f"training stopped; {kept}")
        self.optimizer.step()
        self.step += 1
        self.batches += 1
        if self.ema is not None:
            self.ema.update(self.model, step=self.step)
        return loss_value

    def fit(self) -> Path:
        recipe, node = self.recipe, self.node
        total = recipe.optim.steps
        if self.step >= min(total, recipe.stop_at or total):
            return self.checkpoint
        log = open(self.out_dir / LOG, "a") if node.main else None
        bar = tqdm(total=total, initial=self.step, disable=not node.main, unit="step", dynamic_ncols=True,
                   desc=f"{recipe.trainer} {recipe.model.arch}@{recipe.model.img_size}")
        window = {"loss": 0.0, "steps": 0, "waited": 0.0, "start": time.perf_counter()}
        try:
            for waited, batch in self._batches():
                loss = self.train_step(self._to_device(batch))
                window["loss"] += loss
                window["steps"] += 1
                window["waited"] += waited
                elapsed = time.perf_counter() - window["start"]
                rate = window["steps"] * recipe.optim.batch_size / max(elapsed, 1e-9)
                bar.update(1)
                bar.set_postfix_str(f"loss {loss:.4g} {rate:.1f} img/s", refresh=False)
                if log is not None and (self.step % recipe.log_every == 0 or self.step == total):
                    log.write(json.dumps({
                        "step": self.step, "epoch": self.epoch, "loss": window["loss"] / window["steps"],
                        "lr": self.optimizer.param_groups[0]["lr"], "images_per_s": rate,
                        "data_wait": window["waited"] / max(elapsed, 1e-9), "time": time.time(),
                    }) + "\n")
                    log.flush()
                    window = {"loss": 0.0, "steps": 0, "waited": 0.0, "start": time.perf_counter()}
                stop = self.step >= min(total, recipe.stop_at or total)
                if stop or self.step % recipe.checkpoint_every == 0:
                    self.save()
                if stop:
                    break
        finally:
            bar.close()
            if log is not None:
                log.close()
        return self.checkpoint


def train(trainer: str, config: dict[str, Any], out_dir: Path, resume: bool) -> Path:
    """Run a recipe with `trainer` (catlip or clip) into `out_dir`; returns `out_dir/checkpoint.pt`."""
    from catlip_bench.pretrain.config import resolve

    recipe = resolve(config, trainer=trainer)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    resume = resume and (out_dir / CHECKPOINT).is_file()  # nothing to resume yet: start
    torch.manual_seed(recipe.seed)
    random.seed(recipe.seed)
    with cluster(recipe.device) as node:
        run = Trainer(recipe, out_dir, node)
        if resume:
            run.resume()
        return run.fit()

"""Pre-training recipes: YAML files with every knob, checked against typed defaults, plus `key=value` overrides."""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from catlip_bench.errors import CatlipBenchError
from catlip_bench.paths import configs_dir

TRAINERS = ("catlip", "clip")


@dataclass
class ModelConfig:
    """The image tower: a timm ViT built from scratch."""

    arch: str = "vit_tiny_patch16_224"
    img_size: int = 96
    grad_checkpointing: bool = False
    head_bias_init: str = "zero"  # CatLIP head bias: zero, or prior = logit of the mean label frequency


@dataclass
class DataConfig:
    """Where the labelled shards come from and how images are read."""

    dataset: str | None = "tuxpaint-captions"  # a registered captions dataset, packed into the cache once
    shards: str | None = None  # or the manifest.json of shards made by `catlip-bench data pack`
    label_mode: str = "corenet"  # corenet | nouns (only for packing `dataset`)
    min_count: int | None = 2  # vocabulary cut when packing `dataset`
    top_k: int | None = None
    shard_size: int = 1000  # samples per tar shard when packing `dataset`
    workers: int = 1  # data-loader worker processes per rank
    shuffle_buffer: int = 1000  # samples
    crop_scale: tuple[float, float] = (0.08, 1.0)  # RandomResizedCrop area range
    hflip: float = 0.5


@dataclass
class OptimConfig:
    """AdamW with a cosine schedule and linear warm-up, counted in optimizer steps."""

    batch_size: int = 64  # global: split evenly over ranks
    steps: int = 500
    lr: float = 1e-3
    min_lr: float = 1e-5
    warmup_steps: int = 50
    warmup_lr: float = 1e-6
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    weight_decay: float = 0.2  # never on norms, biases, position embeddings, class token
    grad_clip: float | None = 1.0


@dataclass
class EmaConfig:
    """Exponential moving average of the weights; the exported backbone is the EMA one when on."""

    decay: float | None = 0.9995  # null turns EMA off
    warmup: bool = False  # timm's EMA warm-up (decay ramps up over the first steps)


@dataclass
class TextConfig:
    """CLIP only: open_clip's text transformer and the joint embedding (defaults: open_clip ViT-B-16)."""

    context_length: int = 77
    vocab_size: int = 49408
    width: int = 512
    heads: int = 8
    layers: int = 12
    embed_dim: int = 512
    init_logit_scale: float = 2.659260036932778  # log(1 / 0.07)
    max_logit_scale: float = 100.0


@dataclass
class Recipe:
    """One pre-training run."""

    trainer: str = "catlip"
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda
    precision: str = "auto"  # auto (bf16 on cuda, fp32 on cpu) | bf16 | fp32
    fsdp: bool = False  # shard parameters with FSDP2 instead of replicating them with DDP
    log_every: int = 10  # steps between JSONL log lines
    checkpoint_every: int = 100  # steps between checkpoints (and one at the end)
    stop_at: int | None = None  # end this invocation (with a checkpoint) at this step; --resume goes on
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    ema: EmaConfig = field(default_factory=EmaConfig)
    text: TextConfig | None = None  # required by clip, refused by catlip

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def check(self) -> Recipe:
        """Cross-field checks; returns self."""
        choices = {"trainer": TRAINERS, "device": ("auto", "cpu", "cuda"), "precision": ("auto", "bf16", "fp32"),
                   "data.label_mode": ("corenet", "nouns"), "model.head_bias_init": ("zero", "prior")}
        for key, allowed in choices.items():
            value = _get(self, key)
            if value not in allowed:
                raise CatlipBenchError(f"recipe key {key!r} is {value!r}: choose one of {', '.join(allowed)}")
        if self.trainer == "clip" and self.text is None:
            self.text = TextConfig()
        if self.trainer == "catlip" and self.text is not None:
            raise CatlipBenchError("recipe key 'text' is only for trainer: clip (CatLIP has no text tower)")
        if self.data.shards is None and self.data.dataset is None:
            raise CatlipBenchError("recipe needs data.shards (a manifest.json) or data.dataset (a captions dataset)")
        positive = ("optim.batch_size", "optim.steps", "log_every", "checkpoint_every", "model.img_size")
        for key in positive:
            if _get(self, key) <= 0:
                raise CatlipBenchError(f"recipe key {key!r} must be positive, got {_get(self, key)}")
        return self


def _get(obj: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        obj = getattr(obj, part)
    return obj


def _unknown(key: str, valid: Sequence[str], where: str) -> CatlipBenchError:
    leaf = key.rsplit(".", 1)[-1]
    close = difflib.get_close_matches(leaf, valid, n=1, cutoff=0.4)
    prefix = key.rsplit(".", 1)[0] + "." if "." in key else ""
    hint = f"did you mean {prefix + close[0]!r}?" if close else f"valid keys here: {', '.join(valid)}"
    return CatlipBenchError(f"unknown recipe key {key!r} in {where}: {hint}")


def _coerce(value: Any, hint: Any, key: str, where: str) -> Any:
    """Check `value` against a type hint; numbers written as strings (YAML's `1e-3`) are converted."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(hint)
        if value is None and type(None) in options:
            return None
        hint = next(t for t in options if t is not type(None))
        origin = typing.get_origin(hint)
    if dataclasses.is_dataclass(hint):
        return _build(hint, value, key, where)
    if origin is tuple:
        items = typing.get_args(hint)
        if not isinstance(value, (list, tuple)) or len(value) != len(items):
            raise CatlipBenchError(f"recipe key {key!r} in {where} must be a list of {len(items)}, got {value!r}")
        return tuple(_coerce(v, t, f"{key}[{i}]", where) for i, (v, t) in enumerate(zip(value, items, strict=True)))
    if hint is bool:
        if isinstance(value, bool):
            return value
    elif hint in (int, float):
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                pass
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if hint is float or float(value).is_integer():
                return hint(value)
    elif isinstance(value, hint):
        return value
    raise CatlipBenchError(f"recipe key {key!r} in {where} must be {getattr(hint, '__name__', hint)}, got {value!r}")


def _build(cls: type, data: Any, prefix: str, where: str) -> Any:
    if not isinstance(data, Mapping):
        raise CatlipBenchError(f"recipe key {prefix or 'top level'!r} in {where} must be a mapping, got {data!r}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    values = {}
    for key, value in data.items():
        full = f"{prefix}.{key}" if prefix else str(key)
        if key not in names:
            raise _unknown(full, names, where)
        values[key] = _coerce(value, hints[key], full, where)
    return cls(**values)


def _set_dotted(tree: dict[str, Any], dotted: str, value: Any, where: str) -> None:
    node = tree
    parts = dotted.split(".")
    for part in parts[:-1]:
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        elif not isinstance(child, dict):
            raise CatlipBenchError(f"recipe key {dotted!r} in {where}: {part!r} is not a section")
        else:
            child = node[part] = dict(child)
        node = child
    node[parts[-1]] = value


def parse_overrides(items: Sequence[str]) -> dict[str, Any]:
    """`["optim.lr=1e-3", "data.workers=0"]` -> `{"optim.lr": 0.001, ...}`; values are read as YAML."""
    tree: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise CatlipBenchError(f"override {item!r} is not KEY=VALUE (e.g. optim.lr=0.001)")
        tree[key.strip()] = yaml.safe_load(text) if text.strip() else None
    return tree


def merge(base: Mapping[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    """Recursive dict merge: `update` wins, sections merge key by key."""
    out = dict(base)
    for key, value in update.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def resolve(config: Mapping[str, Any], where: str = "the recipe", trainer: str | None = None) -> Recipe:
    """Validate a recipe dict (unknown keys name the closest valid one) and fill the defaults.

    Dotted top-level keys (`{"optim.steps": 10}`, as overrides often come) are read as nested ones.
    """
    data = merge({}, {k: v for k, v in config.items() if "." not in str(k)})
    for key, value in config.items():
        if "." in str(key):
            _set_dotted(data, str(key), value, where)
    if trainer is not None:
        if data.setdefault("trainer", trainer) != trainer:
            raise CatlipBenchError(f"{where} names trainer {data['trainer']!r} but was given to trainer {trainer!r}")
    return _build(Recipe, data, "", where).check()


def recipe_path(name_or_path: str | Path) -> Path:
    """A recipe file given by path, or by name in configs/pretrain/ (with or without .yaml)."""
    path = Path(name_or_path)
    if path.is_file():
        return path
    for candidate in (configs_dir() / "pretrain" / path.name, configs_dir() / "pretrain" / f"{path.name}.yaml"):
        if candidate.is_file():
            return candidate
    known = sorted(p.stem for p in (configs_dir() / "pretrain").glob("*.yaml"))
    close = difflib.get_close_matches(path.stem, known, n=1)
    hint = f"did you mean {close[0]!r}?" if close else f"known recipes: {', '.join(known) or 'none'}"
    raise CatlipBenchError(f"recipe {str(name_or_path)!r} not found: {hint}")


def load_recipe(path: str | Path, overrides: Sequence[str] | Mapping[str, Any] = ()) -> dict[str, Any]:
    """Read a recipe YAML, apply overrides (`key=value` strings or a nested mapping) and validate it.

    Returns the plain dict a `TrainerSpec.train` takes.
    """
    path = recipe_path(path)
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as error:
        raise CatlipBenchError(f"recipe {path} is not valid YAML: {str(error).splitlines()[0]}") from error
    resolve(data, str(path))
    tree: dict[str, Any] = {}
    for key, value in (overrides.items() if isinstance(overrides, Mapping) else parse_overrides(overrides).items()):
        _set_dotted(tree, key, value, "the overrides")
    merged = merge(data, tree)
    resolve(merged, f"{path} with overrides")
    return merged

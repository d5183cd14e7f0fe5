"""Labelled webdataset shards: image bytes, caption and synset label indices, with a manifest.

`pack` writes `shard-NNNNNN.tar` files (webdataset's ShardWriter), the vocabulary and `manifest.json`;
`open_shards` streams them back as a torch IterableDataset that shuffles (seeded by seed and epoch), splits
shards across DDP ranks and data-loader workers, and can start mid-epoch at a saved position.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import random
import shutil
import sys
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

import torch
import webdataset as wds
from PIL import Image, UnidentifiedImageError
from torch.utils.data import IterableDataset, default_collate, get_worker_info

from catlip_bench.errors import CatlipBenchError
from catlip_bench.labels import Vocabulary, build_vocabulary, extractor

MANIFEST_FORMAT = "catlip-bench-shards/1"
MANIFEST = "manifest.json"
VOCABULARY = "vocabulary.tsv"
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff")
KEEP_FORMATS = {"PNG": "png", "JPEG": "jpg", "WEBP": "webp"}
IMAGE_ERRORS = (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError, SyntaxError)


@dataclass
class ShardInfo:
    """One tar file of a shard set: its name (relative to the manifest), samples and size in bytes."""

    name: str
    samples: int
    bytes: int


@dataclass
class Manifest:
    """What `pack` wrote: counts, the vocabulary (path and digest) and every shard."""

    samples: int
    bad_images: int
    unlabelled: int
    label_mode: str
    vocabulary_path: str
    vocabulary_digest: str
    vocabulary_size: int
    shards: list[ShardInfo]
    bad_examples: list[str] = field(default_factory=list)
    format: str = MANIFEST_FORMAT
    root: Path = field(default=Path("."), compare=False, repr=False)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("root")
        return data

    @classmethod
    def load(cls, path: Path | str) -> Manifest:
        """Read `manifest.json` (or the folder holding it); a wrong or incomplete shard set is a one-line error."""
        path = Path(path)
        path = path / MANIFEST if path.is_dir() else path
        if not path.is_file():
            raise CatlipBenchError(f"shard manifest {path} not found: make it with `catlip-bench data pack`")
        try:
            data = json.loads(path.read_text())
            if data.get("format") != MANIFEST_FORMAT:
                raise ValueError(f"format is {data.get('format')!r}, expected {MANIFEST_FORMAT!r}")
            data["shards"] = [ShardInfo(**s) for s in data["shards"]]
            manifest = cls(**data, root=path.parent)
        except (ValueError, TypeError, KeyError) as error:
            raise CatlipBenchError(f"shard manifest {path} is not valid: {error}") from error
        missing = [s.name for s in manifest.shards if not (manifest.root / s.name).is_file()]
        if missing:
            raise CatlipBenchError(f"shard manifest {path} lists {len(missing)} missing shard(s), e.g. {missing[0]}")
        return manifest

    def vocabulary(self) -> Vocabulary:
        """The vocabulary the label indices refer to; its digest must match the manifest's."""
        path = self.root / self.vocabulary_path
        vocabulary = Vocabulary.load(path)
        if vocabulary.digest() != self.vocabulary_digest:
            raise CatlipBenchError(
                f"vocabulary {path} changed since the shards were packed (digest {vocabulary.digest()[:12]} != "
                f"{self.vocabulary_digest[:12]}): repack with `catlip-bench data pack`"
            )
        return vocabulary

    def urls(self) -> list[str]:
        return [str(self.root / s.name) for s in self.shards]


def _read_image(image: Path | bytes) -> tuple[bytes, str]:
    """Image bytes in their original encoding (png, jpg, webp), or alpha-flattened on white as PNG."""
    data = image.read_bytes() if isinstance(image, Path) else bytes(image)
    with Image.open(io.BytesIO(data)) as decoded:
        decoded.load()
        has_alpha = decoded.mode in ("RGBA", "LA", "PA") or "transparency" in decoded.info
        if not has_alpha and decoded.format in KEEP_FORMATS:
            return data, KEEP_FORMATS[decoded.format]
        rgba = decoded.convert("RGBA")
    flat = Image.new("RGB", rgba.size, (255, 255, 255))
    flat.paste(rgba, mask=rgba.getchannel("A"))
    out = io.BytesIO()
    flat.save(out, format="PNG")
    return out.getvalue(), "png"


def pack(
    pairs: Iterable[tuple[Path | bytes, str]],
    out_dir: Path | str,
    vocabulary: Vocabulary,
    mode: str = "corenet",
    shard_size: int = 1000,
) -> Manifest:
    """Write (image, caption) pairs as labelled tar shards plus `vocabulary.tsv` and `manifest.json`.

    Unreadable images are skipped and counted; captions without a vocabulary synset keep an empty label list.
    """
    if shard_size <= 0:
        raise CatlipBenchError(f"shard size must be positive, got {shard_size}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    labeller = extractor(mode)
    vocabulary.save(out / VOCABULARY)
    counts: dict[str, int] = {}
    bad: list[str] = []
    unlabelled = 0
    with wds.ShardWriter(str(out / "shard-%06d.tar"), maxcount=shard_size, verbose=0, encoder=False) as sink:
        for image, caption in pairs:
            source = str(image) if isinstance(image, Path) else f"bytes #{sum(counts.values()) + len(bad)}"
            try:
                data, suffix = _read_image(image)
            except IMAGE_ERRORS:
                bad.append(source)
                continue
            caption = caption if isinstance(caption, str) else ""
            labels = sorted(set(vocabulary.encode(labeller.synsets(caption))))
            unlabelled += not labels
            key = f"{sum(counts.values()):09d}"
            sink.write({
                "__key__": key,
                suffix: data,
                "txt": caption.encode("utf-8", "replace"),
                "json": json.dumps({"labels": labels}).encode(),
            })
            name = Path(sink.fname).name
            counts[name] = counts.get(name, 0) + 1
    manifest = Manifest(
        samples=sum(counts.values()),
        bad_images=len(bad),
        unlabelled=unlabelled,
        label_mode=mode,
        vocabulary_path=VOCABULARY,
        vocabulary_digest=vocabulary.digest(),
        vocabulary_size=len(vocabulary),
        shards=[ShardInfo(name, n, (out / name).stat().st_size) for name, n in counts.items()],
        bad_examples=bad[:10],
        root=out,
    )
    (out / MANIFEST).write_text(json.dumps(manifest.to_json(), indent=1) + "\n")
    return manifest


def pack_once(
    folder: Path,
    pairs: Callable[[], Iterable[tuple[Path | bytes, str]]],
    *,
    mode: str = "corenet",
    min_count: int | None = None,
    top_k: int | None = None,
    shard_size: int = 1000,
) -> Manifest:
    """Pack `pairs()` into `folder` with a vocabulary built from their captions, unless already there.

    Packs into a temporary sibling folder and renames it, so concurrent callers never see half a shard set.
    """
    if not (folder / MANIFEST).is_file():
        items = list(pairs())
        vocabulary, _ = build_vocabulary([caption for _, caption in items], mode=mode, min_count=min_count,
                                         top_k=top_k)
        tmp = folder.with_name(f"{folder.name}.tmp-{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        pack(items, tmp, vocabulary, mode=mode, shard_size=shard_size)
        try:
            tmp.rename(folder)
        except OSError:  # another process finished first: keep theirs
            shutil.rmtree(tmp, ignore_errors=True)
    return Manifest.load(folder / MANIFEST)


def _seed(*parts: object) -> int:
    return int.from_bytes(hashlib.blake2b("/".join(map(str, parts)).encode(), digest_size=8).digest(), "little") >> 1


def _resume_point(capacities: list[int], batches: int) -> tuple[list[int], int]:
    """How many batches each worker had given after `batches` from a DataLoader, and whose turn is next.

    The loader takes one batch from each worker in turn, skipping workers that ran dry; `capacities` are the
    workers' batch counts.
    """
    consumed = [0] * len(capacities)
    turn, left = 0, min(batches, sum(capacities))
    while left:
        if consumed[turn] < capacities[turn]:
            consumed[turn] += 1
            left -= 1
        turn = (turn + 1) % len(capacities)
    while consumed != capacities and consumed[turn] == capacities[turn]:
        turn = (turn + 1) % len(capacities)
    return consumed, turn


class ShardStream(IterableDataset):
    """Streams (image, target, text) samples, or batches of them, from a shard set.

    Shards are split across DDP ranks (webdataset's split_by_node) then data-loader workers; samples are
    shuffled in a buffer. Order and augmentation are functions of (seed, epoch, rank, worker, sample key):
    each image is transformed under a torch seed derived from its key, so a resumed run sees the same pixels.
    Targets are multi-hot uint8 vectors over the vocabulary (`target="multihot"`) or label-index lists
    (`"indices"`); `text` is the caption, or `text_transform(caption)`.
    """

    def __init__(
        self,
        manifest: Manifest,
        *,
        shuffle: bool,
        seed: int,
        transform: Callable[[Image.Image], Any],
        target: str = "multihot",
        text_transform: Callable[[str], Any] | None = None,
        batch_size: int | None = None,
        buffer: int = 1000,
    ) -> None:
        if target not in ("multihot", "indices"):
            raise CatlipBenchError(f"target must be multihot or indices, got {target!r}")
        self.manifest = manifest
        self.shuffle, self.seed, self.transform = shuffle, seed, transform
        self.target, self.text_transform = target, text_transform
        self.batch_size, self.buffer = batch_size, buffer
        self.epoch, self.start_batch = 0, 0
        self.skipped = 0

    def set_position(self, epoch: int, batches: int = 0) -> None:
        """Start the next iteration at `epoch`, after the first `batches` batches this rank's loader gave."""
        self.epoch, self.start_batch = epoch, batches

    def shard_order(self) -> list[str]:
        """Every rank's list of shard files for this epoch (the same on all ranks)."""
        urls = self.manifest.urls()
        if self.shuffle:
            random.Random(_seed(self.seed, self.epoch, "shards")).shuffle(urls)
        return urls

    def worker_batches(self, rank: int, world: int, workers: int) -> list[int]:
        """Batches (samples when unbatched) each worker of `rank` yields this epoch, from the manifest counts."""
        sizes = {str(self.manifest.root / s.name): s.samples for s in self.manifest.shards}
        per_rank = self.shard_order()[rank::world]
        samples = [sum(sizes[u] for u in per_rank[w::workers]) for w in range(workers)]
        return [n // (self.batch_size or 1) for n in samples]

    def _decode(self, samples: Iterator[dict[str, Any]]) -> Iterator[tuple[Any, Any, Any]]:
        for sample in samples:
            suffix = next((k for k in sample if k in ("png", "jpg", "webp")), None)
            try:
                if suffix is None:
                    raise ValueError("no image member")
                with Image.open(io.BytesIO(sample[suffix])) as decoded:
                    image = decoded.convert("RGB")
                labels = json.loads(sample["json"])["labels"]
                caption = sample["txt"].decode("utf-8", "replace")
            except (*IMAGE_ERRORS, KeyError, json.JSONDecodeError) as error:
                self.skipped += 1
                warnings.warn(
                    f"skipped sample {sample.get('__key__')} of {sample.get('__url__')}: {error} "
                    f"({self.skipped} skipped in this reader)", stacklevel=1,
                )
                continue
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(_seed(self.seed, self.epoch, sample["__key__"]))
                pixels = self.transform(image)
            if self.target == "multihot":
                target = torch.zeros(self.manifest.vocabulary_size, dtype=torch.uint8)
                target[labels] = 1
            else:
                target = labels
            text = self.text_transform(caption) if self.text_transform else caption
            yield pixels, target, text

    def __iter__(self) -> Iterator[Any]:
        rank, world, *_ = wds.utils.pytorch_worker_info()
        info = get_worker_info()
        workers, worker = (info.num_workers, info.id) if info else (1, 0)
        consumed, first = _resume_point(self.worker_batches(rank, world, workers), self.start_batch)
        logical = (worker + first) % workers  # physical worker 0 continues with the worker whose turn it is
        stages: list[Any] = [
            wds.SimpleShardList(self.shard_order()),
            wds.split_by_node,
            lambda urls: islice(urls, logical, None, workers),
            wds.tarfile_to_samples(handler=wds.warn_and_continue),
        ]
        if self.shuffle:
            rng = random.Random(_seed(self.seed, self.epoch, rank, logical, "samples"))
            stages.append(wds.shuffle(self.buffer, initial=self.buffer, rng=rng))
        stages.append(lambda samples: islice(samples, consumed[logical] * (self.batch_size or 1), None))
        stages.append(self._decode)
        if self.batch_size:
            stages.append(wds.batched(self.batch_size, collation_fn=_collate, partial=False))
        return iter(wds.DataPipeline(*stages))


def _collate(samples: list[tuple[Any, Any, Any]]) -> tuple[Any, ...]:
    """Stack tensors, keep everything else (label-index lists, captions) as lists."""
    columns = [list(column) for column in zip(*samples, strict=True)]
    return tuple(default_collate(c) if torch.is_tensor(c[0]) else c for c in columns)


def open_shards(
    manifest_path: Path | str,
    *,
    shuffle: bool,
    seed: int,
    transform: Callable[[Image.Image], Any],
    target: str = "multihot",
    text_transform: Callable[[str], Any] | None = None,
    batch_size: int | None = None,
    buffer: int = 1000,
) -> ShardStream:
    """A streaming dataset over packed shards (see `ShardStream`); wrap it in a DataLoader(batch_size=None)."""
    return ShardStream(
        Manifest.load(manifest_path), shuffle=shuffle, seed=seed, transform=transform, target=target,
        text_transform=text_transform, batch_size=batch_size, buffer=buffer,
    )


# ---- `catlip-bench data pack` ------------------------------------------------------------------------------

def folder_pairs(folder: Path) -> tuple[list[tuple[Path, str]], int]:
    """(image, caption) pairs from IMAGE + same-stem .txt files (first line), and the count of images without one."""
    if not folder.is_dir():
        raise CatlipBenchError(f"folder {folder} not found")
    pairs, uncaptioned = [], 0
    for image in sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES):
        caption_file = image.with_suffix(".txt")
        if not caption_file.is_file():
            uncaptioned += 1
            continue
        lines = caption_file.read_text(encoding="utf-8", errors="replace").splitlines()
        pairs.append((image, lines[0].strip() if lines else ""))
    return pairs, uncaptioned


def table_pairs(path: Path) -> list[tuple[Path, str]]:
    """(image, caption) pairs from a TSV/CSV with `image` and `caption` columns; paths relative to the file."""
    import pandas as pd

    if not path.is_file():
        raise CatlipBenchError(f"pairs file {path} not found")
    sep = "\t" if path.suffix.lower() in (".tsv", ".tab") else ","
    try:
        table = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, UnicodeDecodeError) as error:
        raise CatlipBenchError(f"pairs file {path} cannot be read: {str(error).splitlines()[0]}") from error
    missing = {"image", "caption"} - set(table.columns)
    if missing:
        raise CatlipBenchError(
            f"pairs file {path} needs columns image and caption; missing {', '.join(sorted(missing))} "
            f"(found {', '.join(map(str, table.columns))})"
        )
    return [(path.parent / image, caption) for image, caption in zip(table["image"], table["caption"], strict=True)]


def add_pack_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `catlip-bench data pack`."""
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--folder", type=Path, help="images with a same-stem .txt caption file (first line)")
    source.add_argument("--pairs", type=Path, help="TSV/CSV with columns image (path) and caption")
    vocab = parser.add_mutually_exclusive_group(required=True)
    vocab.add_argument("--vocab", type=Path, help="an existing vocabulary file (`catlip-bench labels vocab`)")
    vocab.add_argument("--min-count", type=int, help="build the vocabulary: synsets seen at least N times")
    vocab.add_argument("--top-k", type=int, help="build the vocabulary: the K most frequent synsets")
    parser.add_argument("--mode", choices=("corenet", "nouns"), default="corenet", help="caption labeller")
    parser.add_argument("--shard-size", type=int, default=1000, help="samples per shard (default: %(default)s)")
    parser.add_argument("--out", type=Path, required=True, help="output folder for shards and manifest.json")


def pack_command(args: argparse.Namespace) -> int:
    """Run `catlip-bench data pack`."""
    uncaptioned = 0
    if args.folder is not None:
        pairs, uncaptioned = folder_pairs(args.folder)
    else:
        pairs = table_pairs(args.pairs)
    if not pairs:
        raise CatlipBenchError(f"no (image, caption) pairs found in {args.folder or args.pairs}")
    if args.vocab is not None:
        vocabulary = Vocabulary.load(args.vocab)
    else:
        vocabulary, _ = build_vocabulary([c for _, c in pairs], mode=args.mode, min_count=args.min_count,
                                         top_k=args.top_k)
    manifest = pack(pairs, args.out, vocabulary, mode=args.mode, shard_size=args.shard_size)
    print(
        f"packed {manifest.samples} samples into {len(manifest.shards)} shard(s) in {args.out}: "
        f"vocabulary {manifest.vocabulary_size} synsets, {manifest.unlabelled} without a label, "
        f"{manifest.bad_images} unreadable image(s) skipped"
        + (f", {uncaptioned} image(s) without a caption file" if uncaptioned else ""),
        file=sys.stderr,
    )
    return 0

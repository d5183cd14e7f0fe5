"""The MMDetection plugin: backbone adapter in mmdet's registry, COCO AP by mmdet's own metric, a real run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("mmdet", reason="the MMDetection plugin needs the mm stack (scripts/setup.sh)")

import catlip_bench_mmdet.models  # noqa: E402, F401 - registers CatlipBenchBackbone
from catlip_bench_mmdet.task import configure  # noqa: E402
from mmdet.evaluation.metrics import CocoMetric  # noqa: E402
from mmdet.registry import MODELS  # noqa: E402
from mmengine.registry import init_default_scope  # noqa: E402
from pycocotools import mask as mask_utils  # noqa: E402
from pycocotools.coco import COCO  # noqa: E402

from catlip_bench.backbone import Backbone  # noqa: E402
from catlip_bench.data.dense import check_coco  # noqa: E402
from catlip_bench.errors import CatlipBenchError  # noqa: E402
from catlip_bench.mm_runner import load_template, task_config  # noqa: E402
from catlip_bench.plugins import registries  # noqa: E402
from catlip_bench.specs import TaskContext  # noqa: E402

pytestmark = pytest.mark.mm


def dataset(name: str):
    spec = registries().datasets.get(name)
    spec.prepare()
    return spec


def coco_ap(ann_file: Path, classes: list[str], predict) -> dict[str, float]:
    """mmdet's CocoMetric over every image of `ann_file`, with predictions `predict(annotation)` -> (class index,
    score) per ground-truth instance (its own box and mask, i.e. perfect localisation)."""
    coco = COCO(str(ann_file))
    metric = CocoMetric(ann_file=str(ann_file), metric=["bbox", "segm"])
    metric.dataset_meta = {"classes": tuple(classes)}
    samples = []
    for image_id in coco.getImgIds():
        info = coco.loadImgs(image_id)[0]
        anns = coco.loadAnns(coco.getAnnIds(imgIds=image_id))
        labels, scores = zip(*(predict(ann) for ann in anns), strict=True)
        samples.append({
            "img_id": image_id,
            "ori_shape": (info["height"], info["width"]),
            "pred_instances": {
                "bboxes": torch.tensor([[x, y, x + w, y + h] for x, y, w, h in (a["bbox"] for a in anns)]),
                "labels": torch.tensor(labels),
                "scores": torch.tensor(scores),
                "masks": torch.from_numpy(np.stack([coco.annToMask(a) for a in anns]).astype(bool)),
            },
        })
    metric.process({}, samples)
    return metric.compute_metrics(metric.results)


def test_ap_is_100_for_perfect_predictions_and_matches_hand_value_for_one_wrong_class() -> None:
    data = dataset("voc-instances-mini").load()
    classes, ann_file = data.class_names, data.train.ann_file
    coco = COCO(str(ann_file))
    # labelme's three VOC photos: 6 person, 2 bus, and one bottle, car, chair, sofa.
    present = {classes[c - 1]: len(coco.getAnnIds(catIds=[c])) for c in coco.getCatIds() if coco.getAnnIds(catIds=[c])}
    assert present == {"person": 6, "bus": 2, "bottle": 1, "car": 1, "chair": 1, "sofa": 1}

    perfect = coco_ap(ann_file, classes, lambda ann: (ann["category_id"] - 1, 0.9))
    for key in ("bbox_mAP", "bbox_mAP_50", "bbox_mAP_75", "segm_mAP", "segm_mAP_50", "segm_mAP_75"):
        assert perfect[key] == 1.0, key

    # The one car, predicted as a bus, scored above everything else. The car box/mask overlaps neither bus by
    # IoU >= 0.5 (checked below), so at every threshold: car AP = 0 (no detection); bus ranks FP, TP, TP ->
    # precision 0, 1/2, 2/3 at recall 0, 1/2, 1, whose interpolated precision is 2/3 at every recall level, so
    # AP = 2/3; the other four classes stay at 1. mAP over the 6 classes with ground truth = (4 + 2/3 + 0) / 6.
    car, bus = classes.index("car") + 1, classes.index("bus") + 1
    car_ann = coco.loadAnns(coco.getAnnIds(catIds=[car]))[0]
    bus_anns = coco.loadAnns(coco.getAnnIds(catIds=[bus]))
    box_iou = mask_utils.iou([car_ann["bbox"]], [a["bbox"] for a in bus_anns], [0, 0])
    rle = lambda a: coco.annToRLE(a)  # noqa: E731
    mask_iou = mask_utils.iou([rle(car_ann)], [rle(a) for a in bus_anns], [0, 0])
    assert box_iou.max() < 0.5 and mask_iou.max() < 0.5
    wrong = coco_ap(ann_file, classes,
                    lambda ann: (bus - 1, 1.0) if ann["category_id"] == car else (ann["category_id"] - 1, 0.9))
    expected = round((4 + 2 / 3 + 0) / 6, 3)
    assert wrong["bbox_mAP"] == wrong["segm_mAP"] == expected == 0.778


class PooledOnly(Backbone):
    """A backbone that honours only half the contract: pooled features, no spatial view."""

    embed_dim, patch_size = 8, 16

    def forward_pooled(self, images: torch.Tensor) -> torch.Tensor:
        return images.mean(dim=(2, 3)).repeat(1, 3)[:, :8]


def test_backbone_without_spatial_view_is_a_clear_error() -> None:
    init_default_scope("mmdet")
    with pytest.raises(CatlipBenchError, match=r"PooledOnly has no spatial view.*forward_spatial"):
        MODELS.build({"type": "CatlipBenchBackbone", "backbone": PooledOnly()})
    with pytest.raises(CatlipBenchError, match="unknown backbone 'vit-tiny-untrainde'"):
        MODELS.build({"type": "CatlipBenchBackbone", "backbone": "vit-tiny-untrainde"})


def test_boxes_only_dataset_builds_a_detector_without_mask_branch(tmp_path: Path) -> None:
    data = dataset("deepforest-trees").load()
    backbone = registries().backbones.get("vit-tiny-untrained").build()
    cfg = task_config("detection", {}, "mask_rcnn_vit_cpu_demo")
    checks = {split: check_coco(getattr(data, split), tmp_path / f"{split}.json") for split in ("train", "val")}
    configure(cfg, data, backbone, checks)
    assert cfg.val_evaluator.metric == ["bbox"] and cfg.model.roi_head.bbox_head.num_classes == 1
    assert [s.with_mask for s in cfg.train_dataloader.dataset.pipeline if s.type == "LoadAnnotations"] == [False]
    assert cfg.model.data_preprocessor.mean == pytest.approx([123.675, 116.28, 103.53])  # ImageNet's, 0-255
    init_default_scope("mmdet")
    cfg.model.backbone.backbone = backbone
    detector = MODELS.build(cfg.model)
    assert not detector.roi_head.with_mask and detector.roi_head.bbox_head.num_classes == 1
    assert detector.backbone.backbone is backbone


@pytest.mark.slow
def test_detection_task_trains_and_evaluates_on_real_photos(tmp_path: Path) -> None:
    found = registries()
    spec = dataset("voc-instances-mini")
    backbone = found.backbones.get("vit-tiny-untrained").build()
    ctx = TaskContext(backbone, "vit-tiny-untrained", spec, {"max_iters": 1, "options": {"log_level": "WARNING"}},
                      seed=0, device="cpu", work_dir=tmp_path)
    before = backbone.model.blocks[0].attn.qkv.weight.detach().clone()
    rows = {m.name: m for m in found.tasks.get("detection").run(ctx)}
    assert {"bbox_mAP", "bbox_mAP_50", "segm_mAP", "segm_mAP_50"} <= set(rows)
    assert all(0.0 <= m.value <= 100.0 for m in rows.values())
    row = rows["bbox_mAP"]
    assert row.n_train == 3 and row.extra["val_images"] == 1 and row.extra["max_iters"] == 1
    assert row.extra["seconds_per_iter"] > 0 and row.extra["skipped_annotations"] == {}
    # One optimiser step reached the backbone (fine-tuned end to end) and was checkpointed.
    assert not torch.equal(before, backbone.model.blocks[0].attn.qkv.weight)
    assert (tmp_path / "mmdet" / "iter_1.pth").is_file()
    assert not (tmp_path / "mmdet" / "val.checked.json").exists()  # nothing skipped: the json is used as is


@pytest.mark.parametrize("template", ["mask_rcnn_vit_cpu_demo", "mask_rcnn_vit_paper_gpu"])
def test_every_detection_template_builds_around_a_backbone(template: str) -> None:
    cfg = task_config("detection", {"config": template, "max_iters": 100}, "mask_rcnn_vit_cpu_demo")
    init_default_scope("mmdet")
    backbone = registries().backbones.get("vit-tiny-untrained").build()
    cfg.model.backbone.backbone = backbone
    detector = MODELS.build(cfg.model)
    assert detector.backbone.backbone is backbone and detector.with_mask
    levels = detector.backbone(torch.zeros(1, 3, 128, 96))
    assert [tuple(level.shape[-2:]) for level in levels] == [(32, 24), (16, 12), (8, 6), (4, 3)]  # strides 4..32
    if template == "mask_rcnn_vit_paper_gpu":  # 25 COCO epochs; the LR steps at 88.9% and 96.3% scale along
        assert load_template("detection", template).train_cfg.max_iters == 25 * 1833 and cfg.layer_decay == 0.7
        assert cfg.param_scheduler[1].milestones == [89, 96]

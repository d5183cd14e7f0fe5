"""The MMSegmentation plugin: mIoU by mmseg's own metric, layer-wise LR decay through mmengine, weights-only
checkpoints with mmengine's resume state, real training runs that resume."""

from __future__ import annotations

import fractions
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

pytest.importorskip("mmseg", reason="the MMSegmentation plugin needs the mm stack (scripts/setup.sh)")

import catlip_bench_mmseg.models  # noqa: E402, F401 - registers CatlipBenchBackbone
from catlip_bench_mmseg.task import configure  # noqa: E402
from mmengine.logging import HistoryBuffer  # noqa: E402
from mmengine.optim import build_optim_wrapper  # noqa: E402
from mmengine.registry import init_default_scope  # noqa: E402
from mmseg.evaluation import IoUMetric  # noqa: E402
from mmseg.registry import MODELS  # noqa: E402

from catlip_bench.mm_runner import apply_layer_decay, load_template, mmengine_checkpoints, task_config  # noqa: E402
from catlip_bench.plugins import registries  # noqa: E402
from catlip_bench.specs import TaskContext  # noqa: E402

pytestmark = pytest.mark.mm


def dataset(name: str):
    spec = registries().datasets.get(name)
    spec.prepare()
    return spec


def miou(labels: list[np.ndarray], predictions: list[np.ndarray], classes: list[str]) -> dict[str, float]:
    metric = IoUMetric(iou_metrics=["mIoU"])
    metric.dataset_meta = {"classes": tuple(classes)}
    metric.process({}, [
        {"pred_sem_seg": {"data": torch.from_numpy(p.astype(np.int64))[None]},
         "gt_sem_seg": {"data": torch.from_numpy(g.astype(np.int64))[None]}}
        for g, p in zip(labels, predictions, strict=True)
    ])
    return metric.compute_metrics(metric.results)


def test_miou_is_100_for_perfect_predictions_and_matches_hand_value_for_one_wrong_class() -> None:
    data = dataset("voc-semantic-mini").load()
    stems = data.train.split_file.read_text().split()
    labels = [np.asarray(Image.open(data.train.ann_dir / f"{stem}.png")) for stem in stems]
    assert miou(labels, labels, data.class_names)["mIoU"] == 100.0  # 255 borders are ignored, not scored

    # Paint every car pixel as bus. Classes present: background, bottle, bus, car, chair, person, sofa (7;
    # absent classes have no union and are left out). Car: IoU 0; bus: n_bus / (n_bus + n_car); others 1.
    bus, car = data.class_names.index("bus"), data.class_names.index("car")
    n_bus, n_car = (sum(int((g == c).sum()) for g in labels) for c in (bus, car))
    assert (n_bus, n_car) == (118222, 7256)  # all in 2011_000025, the bus photo
    wrong = [np.where(g == car, bus, g) for g in labels]
    expected = round(100 * (5 + n_bus / (n_bus + n_car) + 0) / 7, 2)
    assert miou(labels, wrong, data.class_names)["mIoU"] == expected == 84.89


def test_layer_decay_reaches_the_optimizer_through_mmengine() -> None:
    backbone = registries().backbones.get("vit-tiny-untrained").build()
    cfg = task_config("segmentation", {"options": {"layer_decay": 0.65}}, "deeplabv3_vit_cpu_demo")
    cfg.model.decode_head.num_classes = 3
    apply_layer_decay(cfg, backbone)
    init_default_scope("mmseg")
    cfg.model.backbone.backbone = backbone
    model = MODELS.build(cfg.model)
    optimizer = build_optim_wrapper(model, cfg.optim_wrapper).optimizer
    group = {id(p): g for g in optimizer.param_groups for p in g["params"]}
    lr, wd = cfg.optim_wrapper.optimizer.lr, cfg.optim_wrapper.optimizer.weight_decay
    vit = backbone.model  # ViT-Ti: 12 blocks
    cases = [  # parameter, LR multiplier (0.65 ** (12 + 1 - layer)), weight decay
        (vit.patch_embed.proj.weight, 0.65**13, wd),
        (vit.pos_embed, 0.65**13, 0.0),
        (vit.blocks[0].attn.qkv.weight, 0.65**12, wd),
        (vit.blocks[1].attn.qkv.weight, 0.65**11, wd),  # not caught by a 'blocks.1' rule meant for 'blocks.11'
        (vit.blocks[11].mlp.fc1.weight, 0.65, wd),
        (vit.blocks[11].norm1.weight, 0.65, 0.0),
        (model.decode_head.conv_seg.weight, 1.0, wd),
    ]
    for parameter, multiplier, decay in cases:
        assert group[id(parameter)]["lr"] == pytest.approx(lr * multiplier)
        assert group[id(parameter)]["weight_decay"] == pytest.approx(decay)


def test_checkpoint_allow_list_is_exact(tmp_path: Path) -> None:
    state = tmp_path / "state.pth"
    torch.save({"buffer": HistoryBuffer([1.0, 3.0], [1, 1]), "method": HistoryBuffer.mean,
                "scalar": np.float64(0.5)}, state)
    with pytest.raises(pickle.UnpicklingError):
        torch.load(state)  # weights-only by default: mmengine's resume state needs the allow-list
    with mmengine_checkpoints():
        loaded = torch.load(state)
    assert loaded["buffer"].mean() == 2.0 and loaded["method"] is HistoryBuffer.mean and loaded["scalar"] == 0.5

    for name, payload in (("other-method", HistoryBuffer.__init__), ("other-class", fractions.Fraction(1, 3))):
        path = tmp_path / f"{name}.pth"
        torch.save({"x": payload}, path)
        with mmengine_checkpoints(), pytest.raises(pickle.UnpicklingError):
            torch.load(path)


def run_task(tmp_path: Path, dataset_name: str, params: dict, **options) -> dict:
    found = registries()
    backbone = found.backbones.get("vit-tiny-untrained").build()
    ctx = TaskContext(backbone, "vit-tiny-untrained", dataset(dataset_name),
                      {**params, "options": {"log_level": "WARNING", **options}}, seed=0, device="cpu", work_dir=tmp_path)
    return {m.name: m for m in found.tasks.get("segmentation").run(ctx)}


@pytest.mark.slow
def test_deeplabv3_trains_evaluates_and_resumes_on_real_photos(tmp_path: Path) -> None:
    first = run_task(tmp_path, "voc-semantic-mini", {"max_iters": 1})
    assert set(first) == {"mIoU", "mAcc", "aAcc"} and all(0 <= m.value <= 100 for m in first.values())
    assert first["mIoU"].n_train == 3 and first["mIoU"].extra["val_images"] == 1
    assert first["mIoU"].extra["seconds_per_iter"] > 0

    again = run_task(tmp_path, "voc-semantic-mini", {"max_iters": 2})  # same work dir: resumes at iteration 1
    checkpoint = tmp_path / "mmseg" / "iter_2.pth"
    with pytest.raises(pickle.UnpicklingError):
        torch.load(checkpoint)
    with mmengine_checkpoints():
        state = torch.load(checkpoint)
    assert state["meta"]["iter"] == 2 and not (tmp_path / "mmseg" / "iter_1.pth").exists()
    # The loss history carries both runs' iterations: the second run resumed instead of starting over.
    assert len(state["message_hub"]["log_scalars"]["train/loss"].data[0]) == 2
    assert set(again) == {"mIoU", "mAcc", "aAcc"}


@pytest.mark.slow
def test_upernet_on_composites_in_ade20k_layout(tmp_path: Path) -> None:
    rows = run_task(tmp_path, "tuxpaint-composite-semantic", {"max_iters": 1, "config": "upernet_vit_cpu_demo"},
                    **{"val_dataloader.dataset.indices": 3})  # score 3 of the 80 val composites: a CPU test
    assert rows["mIoU"].extra["composite"] and rows["mIoU"].n_train == 240 and rows["mIoU"].extra["val_images"] == 3
    assert 0 <= rows["mIoU"].value <= 100


def test_configure_points_the_template_at_an_ade20k_layout() -> None:
    data = dataset("tuxpaint-composite-semantic").load()
    backbone = registries().backbones.get("vit-tiny-untrained").build()
    params = {"config": "upernet_vit_cpu_demo", "max_iters": 5,
              "options": {"val_dataloader.dataset.data_prefix.img_path": "/elsewhere"}}
    cfg = task_config("segmentation", params, "deeplabv3_vit_cpu_demo", lambda cfg: configure(cfg, data, backbone))
    train = cfg.train_dataloader.dataset
    assert train.reduce_zero_label and train.ann_file == "" and train.data_prefix["img_path"].endswith("training")
    assert cfg.val_dataloader.dataset.data_prefix["seg_map_path"].endswith("annotations/validation")
    assert cfg.val_dataloader.dataset.data_prefix["img_path"] == "/elsewhere"  # the unit's options win
    assert cfg.model.decode_head.type == "UPerHead" and cfg.model.decode_head.num_classes == len(data.class_names)
    # max_iters=5 shortens the schedule: the cosine phase ends at 5, the 20-iteration warm-up is cut to 5.
    assert cfg.train_cfg.max_iters == cfg.train_cfg.val_interval == 5
    assert [phase.end for phase in cfg.param_scheduler] == [5, 5]


@pytest.mark.parametrize("template", ["deeplabv3_vit_cpu_demo", "upernet_vit_cpu_demo", "deeplabv3_vit_ade20k_gpu",
                                      "upernet_vit_ade20k_gpu"])
def test_every_segmentation_template_builds_around_a_backbone(template: str) -> None:
    cfg = load_template("segmentation", template)
    init_default_scope("mmseg")
    backbone = registries().backbones.get("vit-tiny-untrained").build()
    cfg.model.backbone.backbone = backbone
    segmentor = MODELS.build(cfg.model)
    head = segmentor.decode_head
    if template.startswith("deeplabv3"):  # the paper's head: ASPP 12/24/36 on the stride-8 level
        assert type(head).__name__ == "ASPPHead" and head.in_index == 1
        assert [m.conv.dilation[0] for m in head.aspp_modules] == [1, 12, 24, 36]
    else:
        assert type(head).__name__ == "UPerHead" and head.in_index == [0, 1, 2, 3]
    assert not segmentor.with_auxiliary_head

"""Pre-training: the CatLIP loss, recipes, checkpoints that load as backbones, resume, NaN, DDP over gloo."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from test_shards import pack_photos

from catlip_bench.backbones import spec_from_path, vit_from_checkpoint
from catlip_bench.data.shards import Manifest
from catlip_bench.errors import CatlipBenchError
from catlip_bench.pretrain.config import TextConfig, load_recipe, merge, resolve
from catlip_bench.pretrain.engine import train
from catlip_bench.pretrain.models import CatLIPModel, CLIPModel, catlip_loss

TINY_TEXT = {"width": 32, "heads": 2, "layers": 2, "context_length": 16, "embed_dim": 32}


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models run fastest (and steadiest on a shared machine) on one thread."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def shards(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """16 real photos with captions, 4 per shard."""
    out = tmp_path_factory.mktemp("shards")
    pack_photos(out, count=16, shard_size=4)
    return out / "manifest.json"


def tiny(trainer: str, manifest: Path, **update) -> dict:
    """A recipe that trains the 0.3M-parameter timm test ViT at 32 px for a few steps."""
    config = {
        "trainer": trainer,
        "model": {"arch": "test_vit", "img_size": 32},
        "data": {"shards": str(manifest), "workers": 0, "shuffle_buffer": 16},
        "optim": {"batch_size": 8, "steps": 4, "warmup_steps": 1},
        "ema": {"decay": 0.9},
        "checkpoint_every": 2,
        "log_every": 1,
        **({"text": TINY_TEXT} if trainer == "clip" else {}),
    }
    return merge(config, update)


def weights(path: Path, part: str = "model") -> dict[str, torch.Tensor]:
    return torch.load(path, weights_only=True)["state"][part]


def test_catlip_loss_matches_a_hand_computed_example() -> None:
    logits = torch.tensor([[0.0, 2.0, -1.0], [3.0, -2.0, 0.5]])
    targets = torch.tensor([[1.0, 0.0, 0.0], [1.0, 1.0, 0.0]])

    def softplus(x: float) -> float:
        return math.log1p(math.exp(x))

    # BCE(x, 1) = softplus(-x), BCE(x, 0) = softplus(x); summed over all 6 entries, divided by 2 images:
    # (0.693147 + 2.126928 + 0.313262 + 0.048587 + 2.126928 + 0.974077) / 2 = 3.141465
    expected = (softplus(-0.0) + softplus(2.0) + softplus(-1.0) + softplus(-3.0) + softplus(2.0) + softplus(0.5)) / 2
    assert expected == pytest.approx(3.141465, abs=1e-6)
    assert catlip_loss(logits, targets).item() == pytest.approx(expected, rel=1e-6)


def test_recipes_reject_unknown_keys_and_bad_values(tmp_path: Path) -> None:
    with pytest.raises(CatlipBenchError, match=r"unknown recipe key 'optim.wieght_decay'.*'optim.weight_decay'"):
        resolve({"optim": {"wieght_decay": 0.1}})
    with pytest.raises(CatlipBenchError, match=r"unknown recipe key 'emma'.*'ema'"):
        resolve({"emma": {}})
    with pytest.raises(CatlipBenchError, match="'text' is only for trainer: clip"):
        resolve({"trainer": "catlip", "text": {}})
    with pytest.raises(CatlipBenchError, match="'optim.steps' .* must be int"):
        resolve({"optim": {"steps": "many"}})
    recipe = tmp_path / "r.yaml"
    recipe.write_text("trainer: clip\noptim:\n  lr: 1e-3\n")  # YAML 1.1 reads 1e-3 as a string
    config = load_recipe(recipe, ["optim.steps=7", "data.crop_scale=[0.5, 1.0]"])
    parsed = resolve(config)
    assert parsed.optim.lr == 0.001 and parsed.optim.steps == 7 and parsed.data.crop_scale == (0.5, 1.0)
    assert parsed.text == TextConfig()  # open_clip ViT-B-16's text tower by default
    with pytest.raises(CatlipBenchError, match=r"unknown recipe key 'optim.stpes'.*'optim.steps'"):
        load_recipe(recipe, ["optim.stpes=7"])


def test_catlip_checkpoint_loads_as_a_backbone_with_its_synset_head(tmp_path: Path, shards: Path) -> None:
    path = train("catlip", tiny("catlip", shards), tmp_path, resume=False)
    checkpoint = torch.load(path, weights_only=True)
    assert checkpoint["format"] == "catlip-bench-checkpoint/1" and checkpoint["step"] == 4
    ema = checkpoint["state"]["ema"]
    backbone = vit_from_checkpoint(path)
    assert backbone.card.load_report.loaded_fraction == 1.0 and not backbone.card.load_report.unexpected
    # The exported tower and head are the EMA weights, and the head's rows follow the shards' vocabulary.
    for key, value in backbone.model.state_dict().items():
        assert torch.equal(value, ema[f"image.model.{key}"])
    assert torch.equal(backbone.synset_head.weight, ema["head.weight"])
    assert backbone.synset_head.keys == list(Manifest.load(shards).vocabulary().keys)
    assert backbone.forward_pooled(torch.zeros(2, 3, 32, 32)).shape == (2, 64)
    assert spec_from_path(path).build().card.weights_sha256 == backbone.card.weights_sha256
    log = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert [row["step"] for row in log] == [1, 2, 3, 4] and log[0]["lr"] == pytest.approx(1e-6)
    assert all(0 <= row["data_wait"] <= 1 and row["images_per_s"] > 0 for row in log)


def test_clip_trains_the_same_tower_with_open_clips_text_tower(tmp_path: Path, shards: Path) -> None:
    path = train("clip", tiny("clip", shards), tmp_path, resume=False)
    checkpoint = torch.load(path, weights_only=True)
    assert "head" not in checkpoint and checkpoint["clip"]["text_config"]["width"] == 32
    assert math.isfinite(checkpoint["clip"]["logit_scale"])
    backbone = vit_from_checkpoint(path)
    assert backbone.synset_head is None and backbone.card.load_report.loaded_fraction == 1.0


@pytest.mark.slow
def test_resume_continues_exactly_where_it_stopped(tmp_path: Path, shards: Path) -> None:
    # Two loader workers, stopped after an odd number of batches: the resumed loader must continue with
    # the worker whose turn it was, mid-epoch, with the same crops.
    config = tiny("catlip", shards, data={"workers": 2}, optim={"batch_size": 4, "steps": 6})
    straight = train("catlip", config, tmp_path / "straight", resume=False)
    train("catlip", merge(config, {"stop_at": 3}), tmp_path / "split", resume=False)
    assert torch.load(tmp_path / "split" / "checkpoint.pt", weights_only=True)["step"] == 3
    resumed = train("catlip", config, tmp_path / "split", resume=True)
    for part in ("model", "ema"):
        a, b = weights(straight, part), weights(resumed, part)
        for key in a:
            torch.testing.assert_close(a[key], b[key], rtol=0, atol=1e-6, msg=f"{part} {key}")
    moments = [torch.load(p, weights_only=True)["state"]["optimizer"]["state"] for p in (straight, resumed)]
    for key in moments[0]:
        torch.testing.assert_close(moments[0][key]["exp_avg_sq"], moments[1][key]["exp_avg_sq"], rtol=0, atol=1e-9)
    steps = [json.loads(line)["step"] for line in (tmp_path / "split" / "log.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3, 4, 5, 6]


def test_a_non_finite_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path: Path, shards: Path) -> None:
    # A learning rate of 1e30 sends every weight to +-1e30 after step 1; step 2's forward overflows.
    config = tiny("catlip", shards, optim={"lr": 1e30, "warmup_steps": 0}, checkpoint_every=1)
    with pytest.raises(CatlipBenchError, match=r"non-finite loss \(nan\) at step 2: .*\(step 1\) kept"):
        train("catlip", config, tmp_path, resume=False)
    checkpoint = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert checkpoint["step"] == 1
    assert all(torch.isfinite(v).all() for v in checkpoint["state"]["model"].values())


def test_a_failed_save_leaves_the_previous_checkpoint(tmp_path: Path, shards: Path) -> None:
    config = tiny("catlip", shards)
    train("catlip", merge(config, {"stop_at": 2}), tmp_path, resume=False)
    (tmp_path / "checkpoint.pt.tmp").mkdir()  # the temporary file cannot be written: the save fails
    with pytest.raises(CatlipBenchError, match="could not save checkpoint .*the previous one is kept"):
        train("catlip", config, tmp_path, resume=True)
    assert torch.load(tmp_path / "checkpoint.pt", weights_only=True)["step"] == 2
    with pytest.raises(CatlipBenchError, match="different recipe key 'optim'"):
        train("catlip", merge(config, {"optim": {"lr": 0.5}}), tmp_path, resume=True)


@pytest.mark.slow
@pytest.mark.parametrize(("trainer", "fsdp"), [("catlip", False), ("clip", True)], ids=["catlip-ddp", "clip-fsdp"])
def test_two_processes_over_gloo_match_one_process_on_the_same_global_batch(
    tmp_path: Path, shards: Path, trainer: str, fsdp: bool
) -> None:
    # 16 samples, global batch 16: each rank reads its half of the shards, one process reads all of them;
    # every crop is seeded by its sample key, so both runs take the same steps up to float rounding.
    config = tiny(trainer, shards, optim={"batch_size": 16, "steps": 2, "warmup_steps": 0}, fsdp=fsdp)
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(yaml.safe_dump(config))
    torchrun = Path(sys.executable).with_name("torchrun")
    done = subprocess.run(
        [str(torchrun), "--standalone", "--nproc-per-node", "2", "-m", "catlip_bench.cli", "pretrain", str(recipe),
         "--out", str(tmp_path / "ddp")],
        capture_output=True, text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    single = train(trainer, {**config, "fsdp": False}, tmp_path / "single", resume=False)
    vocabulary = len(Manifest.load(shards).vocabulary())
    init = (CatLIPModel("test_vit", 32, vocabulary) if trainer == "catlip"
            else CLIPModel("test_vit", 32, TextConfig(**TINY_TEXT))).state_dict()
    a, b = weights(tmp_path / "ddp" / "checkpoint.pt"), weights(single)
    moved = sum((a[k].float() - init[k].float()).norm() ** 2 for k in init) ** 0.5
    differ = sum((a[k].float() - b[k].float()).norm() ** 2 for k in init) ** 0.5
    assert moved > 0.01 and differ < 0.01 * moved, (differ, moved)
    shutil.rmtree(tmp_path / "ddp")


def test_cli_takes_options_between_overrides_and_finds_the_backbones_folder() -> None:
    from catlip_bench.cli import build_parser
    from catlip_bench.paths import cache_dir, configs_dir
    from catlip_bench.pretrain.commands import default_out_dir

    args = build_parser().parse_args(["pretrain", "catlip_vit_tiny_demo", "--resume", "optim.steps=5", "seed=1"])
    assert args.config == "catlip_vit_tiny_demo" and args.resume and args.overrides == ["optim.steps=5", "seed=1"]
    for name in ("catlip_vit_tiny_demo", "clip_vit_tiny_demo"):
        recipe = configs_dir() / "pretrain" / f"{name}.yaml"
        expected = cache_dir() / "checkpoints" / name.replace("_", "-")
        assert default_out_dir(recipe) == expected
        assert resolve(load_recipe(recipe)).trainer == name.split("_")[0]

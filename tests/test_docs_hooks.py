"""docs/plugins.md stays true: every hook has a section, a working example and a test; every command parses."""

from __future__ import annotations

import re
import shlex
import types
from pathlib import Path

import pandas as pd
import pluggy
import pytest
import torch

from catlip_bench import hookspecs
from catlip_bench.backbones import vit_from_checkpoint
from catlip_bench.cli import build_parser
from catlip_bench.data.types import ClassificationData
from catlip_bench.plugins import ENTRY_POINT_GROUP, registries
from catlip_bench.specs import (
    BackboneSpec,
    DatasetSpec,
    ExporterSpec,
    SuiteSpec,
    TaskContext,
    TaskSpec,
    TrainerSpec,
)
from catlip_bench.testing import check_backbone

ROOT = Path(__file__).resolve().parent.parent
DOCS = (ROOT / "docs" / "plugins.md").read_text()
HOOKS = sorted(name for name, value in vars(hookspecs).items() if hasattr(value, f"{ENTRY_POINT_GROUP}_spec"))
PRETRAINED = "mobilenet-v2-imagenet"  # plugins/catlip-bench-mobilenet: real ImageNet-1k weights
SPEC_TYPES = {
    "register_backbones": BackboneSpec, "register_tasks": TaskSpec, "register_datasets": DatasetSpec,
    "register_trainers": TrainerSpec, "register_suites": SuiteSpec, "register_exporters": ExporterSpec,
}


def _section(hook: str) -> str:
    """The text under the docs heading "### `hook`" up to the next heading of level 2 or 3."""
    match = re.search(rf"^### `{hook}`\n(.*?)(?=^##)", DOCS + "\n##", re.M | re.S)
    assert match, f"docs/plugins.md has no section '### `{hook}`' for the hook {hook} in catlip_bench/hookspecs.py"
    return match.group(1)


def _example(hook: str, tmp_path: Path) -> list[object]:
    """Run the section's python example as a plugin module through pluggy; return what its hook registered."""
    blocks = re.findall(r"^```python\n(.*?)^```", _section(hook), re.M | re.S)
    assert blocks, f"docs/plugins.md: the {hook} section has no python example"
    module = types.ModuleType(f"docs_example_{hook}")
    module.__file__ = str(tmp_path / "example.py")
    exec(compile(blocks[0], f"docs/plugins.md ({hook})", "exec"), module.__dict__)  # noqa: S102 - our own docs
    manager = pluggy.PluginManager(ENTRY_POINT_GROUP)
    manager.add_hookspecs(hookspecs)
    manager.register(module)  # pluggy checks the hook's name and arguments against the spec
    registered: list[object] = []
    getattr(manager.hook, hook)(register=registered.append)
    assert registered and all(isinstance(item, SPEC_TYPES[hook]) for item in registered), registered
    return registered


def test_every_hook_is_known_here() -> None:
    assert HOOKS == sorted(SPEC_TYPES), "a hook was added or removed: update SPEC_TYPES and docs/plugins.md"


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_has_a_docs_section_and_a_test(hook: str) -> None:
    section = _section(hook)
    assert SPEC_TYPES[hook].__name__ in section, f"the {hook} section does not name {SPEC_TYPES[hook].__name__}"
    kind = hook.removeprefix("register_")
    pattern = re.compile(rf"\b{hook}\b|registries\(\)\.{kind}\b")
    testing = [p.name for p in (ROOT / "tests").rglob("*.py") if p.name != Path(__file__).name
               and pattern.search(p.read_text())]
    assert testing, f"no test in tests/ exercises {hook} (mentions it or reads registries().{kind})"


def test_a_hook_without_a_section_fails() -> None:
    with pytest.raises(AssertionError, match="docs/plugins.md has no section '### `register_widgets`'"):
        _section("register_widgets")


def test_backbone_example_passes_the_conformance_kit(tmp_path: Path) -> None:
    (spec,) = _example("register_backbones", tmp_path)
    check_backbone(spec, image_size=64)


def test_dataset_and_task_examples_evaluate_a_backbone(tmp_path: Path) -> None:
    (dataset,) = _example("register_datasets", tmp_path)
    data = dataset.load()
    assert isinstance(data, ClassificationData) and (len(data.train), len(data.test)) == (150, 50)
    assert data.test.labels.tolist() == [0] * 25 + [1] * 25  # images 0, 4, ..., 196: 25 faces, 25 non-faces
    (task,) = _example("register_tasks", tmp_path)
    if PRETRAINED not in registries().backbones:
        pytest.skip(f"{PRETRAINED} is not installed: pip install -e plugins/catlip-bench-mobilenet")
    backbone = registries().backbones.get(PRETRAINED).build().eval()
    backbone.input_size = 64  # the crops are 25 px; 64 px keeps ImageNet features and costs a tenth of 224
    (metric,) = task.run(TaskContext(backbone, PRETRAINED, dataset, {}, 0, "cpu", tmp_path))
    assert metric.name == task.main_metric and metric.n_train == 150 and metric.extra["chance"] == 0.5
    assert metric.value >= 0.9  # ImageNet features set faces apart from other crops (untrained ViT-Ti: 0.70)


def test_trainer_example_writes_a_loadable_checkpoint(tmp_path: Path) -> None:
    (trainer,) = _example("register_trainers", tmp_path)
    path = trainer.train({"arch": "vit_tiny_patch16_224", "img_size": 32}, tmp_path / "run", False)
    backbone = vit_from_checkpoint(path)
    assert backbone.card.load_report.loaded_fraction == 1.0 and backbone.card.pretraining == "none (random init)"
    assert backbone.forward_pooled(torch.zeros(1, 3, 32, 32)).shape == (1, 192)


def test_suite_example_registers_the_package_yaml_files(tmp_path: Path) -> None:
    (tmp_path / "suites").mkdir()
    (tmp_path / "suites" / "faces.yaml").write_text("suite: faces\nversion: 1\ndescription: faces vs. others\n")
    (spec,) = _example("register_suites", tmp_path)
    assert (spec.name, spec.path, spec.description) == ("faces", tmp_path / "suites" / "faces.yaml", "faces vs. others")


def test_exporter_example_writes_html(tmp_path: Path) -> None:
    (exporter,) = _example("register_exporters", tmp_path)
    html = exporter.export(pd.DataFrame({"backbone": ["vit-tiny-untrained"], "linear_probe/fashion-mnist/top1": [0.5]}))
    assert html.startswith("<table") and "<td>vit-tiny-untrained</td>" in html and exporter.suffix == ".html"


def test_every_catlip_bench_command_in_the_docs_parses() -> None:
    commands = [line.split("  #")[0] for block in re.findall(r"^```bash\n(.*?)^```", DOCS, re.M | re.S)
                for line in block.splitlines()]
    argvs = [shlex.split(c)[1:] for c in commands if shlex.split(c)[:1] == ["catlip-bench"]]
    argvs += [shlex.split(c)[2:] for c in commands if re.match(r"[A-Z_]+=\S+ catlip-bench ", c)]
    assert len(argvs) >= 5  # the regexes found the commands
    for argv in argvs:
        build_parser().parse_args(argv)  # SystemExit (argparse's error) fails the test

"""Suites: versioned YAML files in configs/suites/, and the runner behind `catlip-bench run`."""

from __future__ import annotations

import argparse
import difflib
import hashlib
import json
import sys
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import torch
import yaml
from tqdm import tqdm

from catlip_bench import leaderboard
from catlip_bench.backbone import load_checkpoint
from catlip_bench.backbones import spec_from_path, vit_from_checkpoint
from catlip_bench.errors import CatlipBenchError
from catlip_bench.hookspecs import hookimpl
from catlip_bench.paths import cache_dir, configs_dir
from catlip_bench.plugins import Registries, registries
from catlip_bench.results import Store, Unit
from catlip_bench.specs import BackboneSpec, SuiteSpec, TaskContext

SUITE_KEYS = ("suite", "version", "description", "backbones", "units", "claims")
UNIT_KEYS = ("task", "dataset", "variant", "seeds", "params", "paper", "backbones")
BACKBONE_KEYS = ("name", "trainer", "recipe", "overrides", "description")


@dataclass
class SuitePlan:
    """A parsed suite file: its backbones and its units (one per backbone x unit entry x seed)."""

    name: str
    version: str
    path: Path
    backbones: list[BackboneSpec]
    units: list[Unit]
    claims: list[dict[str, Any]] = field(default_factory=list)
    paper: dict[str, dict[str, Any]] = field(default_factory=dict)


def _check_keys(mapping: dict[str, Any], allowed: tuple[str, ...], where: str) -> None:
    for key in mapping:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), allowed, n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"allowed: {', '.join(allowed)}"
            raise CatlipBenchError(f"{where}: unknown key {key!r}: {hint}")


def _suite_backbone(entry: Any, found: Registries, where: str) -> BackboneSpec:
    """A registered name, a checkpoint path, or an inline {name, trainer, recipe, overrides} definition."""
    if isinstance(entry, str):
        if entry.endswith(".pt") or "/" in entry:
            if not Path(entry).expanduser().is_file():
                raise CatlipBenchError(f"{where}: checkpoint {entry} not found")
            return spec_from_path(Path(entry).expanduser())
        try:
            return found.backbones.get(entry)
        except CatlipBenchError as error:
            raise CatlipBenchError(f"{where}: {error}") from None
    if not isinstance(entry, dict) or "name" not in entry:
        raise CatlipBenchError(f"{where}: a backbone is a registered name or a mapping with 'name', got {entry!r}")
    _check_keys(entry, BACKBONE_KEYS, where)
    if entry["name"] in found.backbones:
        raise CatlipBenchError(f"{where}: backbone {entry['name']!r} is already registered; pick another name")
    for key in ("trainer", "recipe"):
        if key not in entry:
            raise CatlipBenchError(f"{where}: inline backbone {entry['name']!r} needs {key!r}")
    try:
        found.trainers.get(entry["trainer"])
    except CatlipBenchError as error:
        raise CatlipBenchError(f"{where}: {error}") from None
    if not (configs_dir() / entry["recipe"]).is_file():
        raise CatlipBenchError(f"{where}: recipe {entry['recipe']} not found under {configs_dir()}")
    weights = cache_dir() / "checkpoints" / entry["name"] / "checkpoint.pt"
    return BackboneSpec(
        name=entry["name"],
        build=partial(vit_from_checkpoint, weights),
        description=entry.get("description", f"{entry['trainer']} pre-training from {entry['recipe']}"),
        pretraining=f"{entry['trainer']} ({entry['recipe']})",
        weights=weights,
        trainer=entry["trainer"],
        recipe=configs_dir() / entry["recipe"],
        overrides=dict(entry.get("overrides") or {}),
    )


def config_hash(payload: Any) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:12]


def load_suite(name_or_path: str, extra_backbones: Sequence[str] = ()) -> SuitePlan:
    """Parse and validate a suite by registered name or YAML path; every error names the file and entry.

    `extra_backbones` (names or checkpoint paths) join the suite's own list, e.g. a plugin's new backbone.
    """
    found = registries()
    path = Path(name_or_path)
    if not (path.suffix in (".yaml", ".yml") and path.is_file()):
        path = found.suites.get(name_or_path).path
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise CatlipBenchError(f"suite file {path} is not valid YAML: {str(error).splitlines()[0]}") from error
    if not isinstance(raw, dict):
        raise CatlipBenchError(f"suite file {path} must be a mapping with 'backbones' and 'units'")
    _check_keys(raw, SUITE_KEYS, f"suite file {path}")
    for key in ("backbones", "units"):
        if not raw.get(key):
            raise CatlipBenchError(f"suite file {path}: '{key}' is missing or empty")
    name, version = str(raw.get("suite", path.stem)), str(raw.get("version", "1"))
    backbones = [_suite_backbone(b, found, f"suite file {path}, backbones[{i}]") for i, b in enumerate(raw["backbones"])]
    for extra in extra_backbones:
        if extra not in [b.name for b in backbones]:
            backbones.append(_suite_backbone(extra, found, "--backbone"))
    units: list[Unit] = []
    paper: dict[str, dict[str, Any]] = {}
    for index, entry in enumerate(raw["units"]):
        where = f"suite file {path}, units[{index}]"
        if not isinstance(entry, dict):
            raise CatlipBenchError(f"{where}: a unit is a mapping with 'task' and 'dataset'")
        _check_keys(entry, UNIT_KEYS, where)
        try:
            task = found.tasks.get(entry.get("task", ""))
            dataset = found.datasets.get(entry.get("dataset", ""))
        except CatlipBenchError as error:
            raise CatlipBenchError(f"{where}: {error}") from None
        if dataset.kind not in task.dataset_kinds:
            raise CatlipBenchError(
                f"{where}: task {task.name!r} takes {'/'.join(task.dataset_kinds)} data, "
                f"dataset {dataset.name!r} is {dataset.kind}"
            )
        params = dict(entry.get("params") or {})
        variant = str(entry.get("variant", ""))
        digest = config_hash({"params": params, "variant": variant, "suite_version": version})
        if entry.get("paper"):
            paper[f"{task.name}[{variant}]" if variant else task.name] = dict(entry["paper"])
        only = entry.get("backbones")
        unknown = sorted(set(only or []) - {b.name for b in backbones})
        if unknown:
            raise CatlipBenchError(f"{where}: backbones {unknown} are not in the suite's backbones list")
        for backbone in backbones:
            if only and backbone.name not in only:
                continue
            for seed in entry.get("seeds", [0]):
                units.append(Unit(name, task.name, dataset.name, backbone.name, int(seed), variant, params,
                                  task.protocol_version, digest))
    claims = list(raw.get("claims") or [])
    for index, claim in enumerate(claims):
        _check_claim(claim, f"suite file {path}, claims[{index}]")
    return SuitePlan(name, version, path, backbones, units, claims, paper)


def _check_claim(claim: Any, where: str) -> None:
    from catlip_bench.summary import CLAIMS

    if not isinstance(claim, dict) or claim.get("kind") not in CLAIMS:
        raise CatlipBenchError(f"{where}: 'kind' must be one of {', '.join(CLAIMS)}")
    missing = [k for k in ("title", "paper", "scale") if k not in claim]
    if missing:
        raise CatlipBenchError(f"{where}: missing {', '.join(missing)}")


def unfinished(weights: Path) -> bool:
    """True when `weights` is missing or is a catlip-bench checkpoint of a run stopped before its last step."""
    if not weights.is_file():
        return True
    checkpoint = load_checkpoint(weights)
    steps = (checkpoint.get("recipe") or {}).get("optim", {}).get("steps")
    return steps is not None and int(checkpoint.get("step", steps)) < int(steps)


def ensure_weights(spec: BackboneSpec) -> None:
    """Pre-train a backbone whose checkpoint is missing or unfinished with its registered trainer (resuming)."""
    if spec.weights is None or not unfinished(spec.weights):
        return
    if not spec.trainer or not spec.recipe:
        raise CatlipBenchError(f"backbone {spec.name!r}: weights {spec.weights} are missing and no trainer is set")
    trainer = registries().trainers.get(spec.trainer)
    try:
        config = yaml.safe_load(Path(spec.recipe).read_text()) or {}
    except OSError as error:
        raise CatlipBenchError(f"backbone {spec.name!r}: recipe {spec.recipe} cannot be read: {error}") from error
    for dotted, value in spec.overrides.items():
        _set_dotted(config, dotted, value, f"backbone {spec.name!r} overrides")
    print(f"pre-training {spec.name} with trainer {spec.trainer!r} from {spec.recipe}", file=sys.stderr)
    written = trainer.train(config, spec.weights.parent, True)
    if Path(written) != spec.weights:
        raise CatlipBenchError(f"trainer {spec.trainer!r} wrote {written}, expected {spec.weights}")


def _set_dotted(tree: dict[str, Any], dotted: str, value: Any, where: str) -> None:
    """Set `a.b.c` in a nested mapping; a path through a non-mapping is an error naming the key."""
    *parents, leaf = dotted.split(".")
    for part in parents:
        tree = tree.setdefault(part, {})
        if not isinstance(tree, dict):
            raise CatlipBenchError(f"{where}: {dotted!r} goes through {part!r}, which is not a mapping")
    tree[leaf] = value


def _progress(desc: str, total: int | None) -> tqdm:
    return tqdm(total=total, desc=f"  {desc}", leave=False, dynamic_ncols=True, file=sys.stderr)


def run_suite(plan: SuitePlan, output_dir: Path, *, store_path: Path | None = None, force: bool = False,
              device: str | None = None) -> tuple[Store, list[str]]:
    """Run every unit not already in the store; returns the store and a list of failures (one line each)."""
    store = Store(store_path or output_dir / "results.sqlite")
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    found = registries()
    pending = [u for u in plan.units if force or not store.is_done(u)]
    skipped = len(plan.units) - len(pending)
    print(f"suite {plan.name} v{plan.version}: {len(plan.units)} units, {skipped} already in {store.path}, "
          f"{len(pending)} to run on {device}", file=sys.stderr)
    failures: list[str] = []
    by_backbone = {spec.name: spec for spec in plan.backbones}
    bar = tqdm(total=len(pending), desc="units", dynamic_ncols=True, file=sys.stderr)
    for backbone_name in dict.fromkeys(u.backbone for u in pending):
        spec = by_backbone[backbone_name]
        units = [u for u in pending if u.backbone == backbone_name]
        try:
            ensure_weights(spec)
            backbone = spec.build().to(device).eval()
            if backbone.card.pretraining == "none":
                backbone.card.pretraining = spec.pretraining
        except CatlipBenchError as error:
            failures += [f"{u.unit_id}: {error}" for u in units]
            bar.update(len(units))
            continue
        for unit in units:
            bar.set_postfix_str(f"{unit.backbone} {unit.task} {unit.dataset} seed={unit.seed}")
            ctx = TaskContext(
                backbone=backbone, backbone_name=backbone_name, dataset=found.datasets.get(unit.dataset),
                params=dict(unit.params), seed=unit.seed, device=device,
                work_dir=output_dir / "work" / config_hash(unit.unit_id), progress=_progress,
            )
            ctx.work_dir.mkdir(parents=True, exist_ok=True)
            started = time.perf_counter()
            try:
                torch.manual_seed(unit.seed)
                metrics = found.tasks.get(unit.task).run(ctx)
                store.record(unit, metrics, checkpoint_sha256=backbone.card.weights_sha256,
                             wall_seconds=time.perf_counter() - started)
            except CatlipBenchError as error:
                failures.append(f"{unit.unit_id}: {error}")
            except Exception as error:  # noqa: BLE001 - one broken unit must not stop the suite
                where = traceback.extract_tb(error.__traceback__)[-1]
                failures.append(f"{unit.unit_id}: {type(error).__name__}: {error} ({where.filename}:{where.lineno})")
            bar.update(1)
        del backbone
    bar.close()
    return store, failures


def write_reports(plan: SuitePlan, store: Store, output_dir: Path) -> list[Path]:
    """leaderboard.csv / .md, plots and summary.md into the output folder."""
    from catlip_bench import summary

    frame = leaderboard.build(store, plan.name)
    written = []
    for fmt in ("csv", "md"):
        path = output_dir / f"leaderboard.{fmt}"
        path.write_text(registries().exporters.get(fmt).export(frame))
        written.append(path)
    written += summary.plots(store.frame(plan.name), output_dir)
    path = output_dir / "summary.md"
    path.write_text(summary.render(plan, store.frame(plan.name)))
    written.append(path)
    return written


def _run(args: argparse.Namespace) -> int:
    plan = load_suite(args.suite, args.backbone)
    output_dir = Path(args.output_dir or Path("outputs") / plan.name)
    output_dir.mkdir(parents=True, exist_ok=True)
    store, failures = run_suite(plan, output_dir, store_path=args.store, force=args.force, device=args.device)
    written = write_reports(plan, store, output_dir)
    print((output_dir / "summary.md").read_text())
    for failure in failures:
        print(f"catlip-bench: unit failed: {failure}", file=sys.stderr)
    print("wrote " + ", ".join(str(p) for p in [store.path, *written]), file=sys.stderr)
    return 1 if failures else 0


@hookimpl
def register_suites(register) -> None:
    for path in sorted((configs_dir() / "suites").glob("*.yaml")):
        meta = yaml.safe_load(path.read_text()) or {}
        register(SuiteSpec(path.stem, path, str(meta.get("description", ""))))


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Add `run`."""
    p = sub.add_parser("run", help="run a suite: pre-train missing backbones, evaluate, write the leaderboard")
    p.add_argument("--suite", required=True, help="a registered suite name or a suite YAML file")
    p.add_argument("--backbone", action="append", default=[], metavar="NAME",
                   help="also evaluate this registered backbone or checkpoint path (repeatable)")
    p.add_argument("--output-dir", default=None, help="where the store, leaderboard and plots go (outputs/SUITE)")
    p.add_argument("--store", type=Path, default=None, help="results store (default: OUTPUT_DIR/results.sqlite)")
    p.add_argument("--force", action="store_true", help="re-run units already in the store")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: cuda when available)")
    p.set_defaults(func=_run)

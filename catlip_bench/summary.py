"""The end-of-run summary: our main metrics, and the paper's claims beside what this run measured."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from catlip_bench.plugins import registries

if TYPE_CHECKING:
    from catlip_bench.suites import SuitePlan


def _main_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows of each task's main metric, averaged over seeds, with `shots` kept."""
    tasks = registries().tasks
    main = {name: tasks.get(name).main_metric for name in frame.task.unique() if name in tasks}
    rows = frame[[main.get(t) == m for t, m in zip(frame.task, frame.metric, strict=True)]].copy()
    rows["variant"] = rows["variant"].fillna("")
    rows["shots"] = rows["shots"].fillna(-1)
    keys = ["task", "variant", "dataset", "metric", "shots", "backbone"]
    return rows.groupby(keys, as_index=False).agg(value=("value", "mean"), std=("value", "std"), n=("value", "size"))


def _fmt(value: float | None, std: float | None = None) -> str:
    if value is None or pd.isna(value):
        return "—"
    text = f"{value:.4g}"
    return text + (f" ± {std:.2g}" if std is not None and not pd.isna(std) and std > 0 else "")


def _table(main: pd.DataFrame, backbones: list[str], paper: dict[str, dict[str, Any]]) -> list[str]:
    lines = ["| unit | " + " | ".join(backbones) + " | paper (full scale) |",
             "| --- | " + " | ".join("---" for _ in backbones) + " | --- |"]
    for (task, variant, dataset, metric, shots), group in main.groupby(["task", "variant", "dataset", "metric", "shots"]):
        by = group.set_index("backbone")
        label = f"{task}[{variant}]" if variant else task
        unit = f"{label} / {dataset} / {metric}" + (f" @ k={int(shots)}" if shots >= 0 else "")
        cells = [_fmt(by.value.get(b), by["std"].get(b)) for b in backbones]
        ref = paper.get(label, {})
        ref_text = f"{ref['value']} {ref.get('metric', '')} ({ref.get('where', '')})".strip() if ref else ""
        lines.append(f"| {unit} | " + " | ".join(cells) + f" | {ref_text} |")
    return lines


def _pretrain_speed(plan: SuitePlan, claim: dict[str, Any]) -> str:
    """images/s of two pre-training runs from their JSONL logs (the trainers write log.jsonl beside the checkpoint)."""
    speeds = {}
    for name in (claim["catlip"], claim["clip"]):
        spec = next((b for b in plan.backbones if b.name == name), None)
        log = spec.weights.parent / "log.jsonl" if spec and spec.weights else None
        if log is None or not log.is_file():
            return f"not measured (no pre-training log for {name})"
        records = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
        rates = [r["images_per_s"] for r in records if "images_per_s" in r][1:]  # the first includes warm-up
        if not rates:
            return f"not measured (no images_per_s in {log})"
        speeds[name] = sum(rates) / len(rates)
    cat, clip = speeds[claim["catlip"]], speeds[claim["clip"]]
    return f"CatLIP {cat:.1f} img/s vs CLIP {clip:.1f} img/s: CatLIP costs {clip / cat:.2f}x CLIP's time per image"


def _compare(main: pd.DataFrame, claim: dict[str, Any]) -> str:
    a, b = claim["a"], claim["b"]
    pairs = main[main.backbone.isin([a, b])].pivot_table(
        index=["task", "variant", "dataset", "metric", "shots"], columns="backbone", values="value")
    if a not in pairs or b not in pairs:
        return f"not measured ({a} or {b} has no results)"
    pairs = pairs.dropna()
    wins = int((pairs[a] > pairs[b]).sum())
    mean_gap = float((pairs[a] - pairs[b]).mean()) if len(pairs) else float("nan")
    return f"{a} beats {b} on {wins} of {len(pairs)} main metrics; mean difference {mean_gap:+.3g}"


def _transfer_init(main: pd.DataFrame, claim: dict[str, Any]) -> str:
    rows = main[(main.task == claim.get("task", "fewshot")) & (main.dataset == claim["dataset"])
                & (main.backbone == claim["backbone"]) & (main.shots >= 0)]
    by = rows.pivot_table(index="shots", columns="variant", values="value")
    if "transfer_init" not in by or "random" not in by or by.empty:
        return "not measured (needs fewshot units with variants random and transfer_init)"
    gains = [f"k={int(k)}: {by.loc[k, 'random']:.3f} -> {by.loc[k, 'transfer_init']:.3f}" for k in by.index]
    return "; ".join(gains)


CLAIMS = {"pretrain_speed": _pretrain_speed, "compare": _compare, "transfer_init": _transfer_init}


def render(plan: SuitePlan, frame: pd.DataFrame) -> str:
    """Markdown: the main-metric table (paper column where the suite has a reference) and the claims."""
    lines = [f"# {plan.name} (suite v{plan.version})", ""]
    if frame.empty:
        return "\n".join([*lines, "No results yet."]) + "\n"
    main = _main_rows(frame)
    backbones = [b.name for b in plan.backbones if b.name in set(main.backbone)]
    lines += _table(main, backbones, plan.paper)
    if plan.claims:
        lines += ["", "## The paper's claims beside this run", ""]
    for claim in plan.claims:
        measure = CLAIMS[claim["kind"]]
        ours = measure(plan, claim) if claim["kind"] == "pretrain_speed" else measure(main, claim)
        lines += [f"- **{claim['title']}**", f"  - paper: {claim['paper']}", f"  - this run: {ours}",
                  f"  - scale: {claim['scale']}"]
    return "\n".join(lines) + "\n"


def plots(frame: pd.DataFrame, output_dir: Path) -> list[Path]:
    """Accuracy-vs-shots PNGs (one per dataset) when the suite has few-shot rows."""
    from catlip_bench.plots import plot_shots

    return plot_shots(frame, output_dir) if "fewshot" in set(frame.task) else []

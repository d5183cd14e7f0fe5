"""PNG plots from the results store's rows (matplotlib's object API with the Agg canvas: no global state)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure


def _fewshot_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """The fewshot task's top-1 rows with `init`, `x` (images per class; `all` at n_train / classes), `chance`."""
    rows = frame[(frame.task == "fewshot") & (frame.metric == "top1")].copy()
    extra = [json.loads(text) if isinstance(text, str) and text else {} for text in rows.extra]
    rows["init"] = [e.get("init", "random") for e in extra]
    rows["chance"] = [e.get("chance") for e in extra]
    rows["x"] = [
        shots if not pd.isna(shots) else n_train / e["classes"] if "classes" in e and not pd.isna(n_train) else None
        for shots, n_train, e in zip(rows.shots, rows.n_train, extra, strict=True)
    ]
    if "variant" not in rows:
        rows["variant"] = ""
    rows["variant"] = rows["variant"].fillna("")
    return rows.dropna(subset=["x", "value"])


def shots_figures(frame: pd.DataFrame) -> dict[str, Figure]:
    """One figure per dataset of top-1 vs training images per class: a line per backbone (and variant),
    dashed for `init: transfer_init`, a band of ±1 std over seeds, chance dotted."""
    rows = _fewshot_rows(frame)
    colours = {name: f"C{i % 10}" for i, name in enumerate(sorted(set(rows.backbone)))}
    figures = {}
    for dataset, group in rows.groupby("dataset", sort=True):
        figure = Figure(figsize=(6.4, 4.2))
        FigureCanvasAgg(figure)
        axes = figure.add_subplot()
        for (backbone, variant, init), line in group.groupby(["backbone", "variant", "init"], sort=True):
            stats = line.groupby("x").value.agg(["mean", "std"]).sort_index()
            colour = colours[backbone]
            axes.plot(stats.index, stats["mean"], marker="o", color=colour,
                      linestyle="--" if init == "transfer_init" else "-",
                      label=" · ".join(dict.fromkeys(filter(None, [backbone, variant or init]))))
            spread = stats["std"].fillna(0)
            axes.fill_between(stats.index, stats["mean"] - spread, stats["mean"] + spread, color=colour, alpha=0.12)
        chance = group.chance.dropna()
        if len(chance):
            axes.axhline(float(chance.iloc[0]), color="grey", linestyle=":", linewidth=1, label="chance")
        axes.set_xscale("log")
        ticks = sorted(set(group.x))
        axes.set_xticks(ticks, [f"{x:g}" for x in ticks])
        axes.minorticks_off()
        axes.set_xlabel("training images per class (k; 'all' at its mean)")
        axes.set_ylabel("top-1 accuracy")
        axes.set_title(f"{dataset}: accuracy vs shots")
        axes.grid(True, which="both", alpha=0.3)
        axes.legend(fontsize="small")
        figure.tight_layout()
        figures[str(dataset)] = figure
    return figures


def plot_shots(frame: pd.DataFrame, out_dir: Path | str) -> list[Path]:
    """Write `shots_<dataset>.png` for every dataset with fewshot rows (see `shots_figures`); returns the files."""
    out_dir = Path(out_dir)
    written = []
    for dataset, figure in shots_figures(frame).items():
        out_dir.mkdir(parents=True, exist_ok=True)
        path = out_dir / f"shots_{''.join(c if c.isalnum() or c in '-_.' else '_' for c in dataset)}.png"
        figure.savefig(path, dpi=120)
        written.append(path)
    return written

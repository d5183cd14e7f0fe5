"""Leaderboards from the results store: one row per backbone, one column per (task, dataset, metric)."""

from __future__ import annotations

import json

import pandas as pd

from catlip_bench.hookspecs import hookimpl
from catlip_bench.results import Store
from catlip_bench.specs import ExporterSpec

PROVENANCE = ("checkpoint_sha256", "git_revision", "protocol_versions", "seeds", "timestamp")


def column_name(task: str, variant: str | None, dataset: str, metric: str, shots: float | None) -> str:
    """`task[variant]/dataset/metric`, with `@k=N` when the metric was measured at N shots."""
    base = f"{task}[{variant}]/{dataset}/{metric}" if variant else f"{task}/{dataset}/{metric}"
    return base if pd.isna(shots) else f"{base}@k={int(shots)}"


def build(store: Store, suite: str | None = None) -> pd.DataFrame:
    """The leaderboard table: values are means over seeds; provenance columns follow the metrics."""
    rows = store.frame(suite)
    if rows.empty:
        return pd.DataFrame(columns=["backbone", *PROVENANCE])
    rows["column"] = [
        column_name(*key) for key in zip(rows.task, rows.variant, rows.dataset, rows.metric, rows.shots, strict=True)
    ]
    table = rows.pivot_table(index="backbone", columns="column", values="value", aggfunc="mean", sort=True)
    table.columns.name = None
    provenance = rows.groupby("backbone").agg(
        checkpoint_sha256=("checkpoint_sha256", lambda s: ";".join(sorted({str(v)[:12] for v in s.dropna()}))),
        git_revision=("git_revision", lambda s: ";".join(sorted(set(s.dropna())))),
        protocol_versions=(
            "protocol_version",
            lambda s: ";".join(sorted({f"{t}={v}" for t, v in zip(rows.loc[s.index, "task"], s, strict=True)})),
        ),
        seeds=("seed", lambda s: len(set(s.dropna()))),
        timestamp=("timestamp", "max"),
    )
    return table.join(provenance).reset_index()


def _csv(frame: pd.DataFrame) -> str:
    return frame.to_csv(index=False, float_format="%.6g")


def _markdown(frame: pd.DataFrame) -> str:
    header = "| " + " | ".join(frame.columns) + " |"
    rule = "| " + " | ".join("---" for _ in frame.columns) + " |"
    body = [
        "| " + " | ".join(_cell(v) for v in row) + " |" for row in frame.itertuples(index=False, name=None)
    ]
    return "\n".join([header, rule, *body]) + "\n"


def _cell(value: object) -> str:
    if isinstance(value, float):
        return "" if pd.isna(value) else f"{value:.4g}"
    return str(value).replace("|", "\\|")


def _json(frame: pd.DataFrame) -> str:
    return json.dumps(json.loads(frame.to_json(orient="records")), indent=2) + "\n"


@hookimpl
def register_exporters(register) -> None:
    register(ExporterSpec("csv", _csv, "comma-separated, one row per backbone", ".csv"))
    register(ExporterSpec("md", _markdown, "a Markdown table", ".md"))
    register(ExporterSpec("json", _json, "a JSON list of rows", ".json"))

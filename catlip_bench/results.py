"""The results store: SQLite, one row per metric with provenance, one transaction per unit."""

from __future__ import annotations

import json
import sqlite3
import subprocess
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

from catlip_bench.errors import CatlipBenchError
from catlip_bench.paths import repo_root
from catlip_bench.specs import Metric

SCHEMA = """
CREATE TABLE IF NOT EXISTS units (
    unit_id TEXT PRIMARY KEY,
    suite TEXT, task TEXT, variant TEXT, dataset TEXT, backbone TEXT, seed INTEGER,
    wall_seconds REAL, finished_at TEXT
);
CREATE TABLE IF NOT EXISTS results (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    unit_id TEXT NOT NULL REFERENCES units(unit_id) ON DELETE CASCADE,
    suite TEXT, task TEXT, variant TEXT, dataset TEXT, backbone TEXT,
    checkpoint_sha256 TEXT,
    metric TEXT NOT NULL, value REAL,
    shots INTEGER, n_train INTEGER, seed INTEGER,
    protocol_version TEXT, package_versions TEXT, git_revision TEXT, config_hash TEXT,
    wall_seconds REAL, timestamp TEXT, extra TEXT
);
CREATE INDEX IF NOT EXISTS results_unit ON results(unit_id);
"""
COLUMNS = (
    "suite", "task", "variant", "dataset", "backbone", "checkpoint_sha256", "metric", "value", "shots", "n_train", "seed",
    "protocol_version", "package_versions", "git_revision", "config_hash", "wall_seconds", "timestamp", "extra",
)
TRACKED_PACKAGES = ("catlip-bench", "torch", "timm", "mmengine", "mmcv", "mmdet", "mmsegmentation", "open_clip_torch")


@dataclass(frozen=True)
class Unit:
    """One evaluation: a backbone on a task and dataset with one seed and one parameter set.

    `variant` tells apart units of one task and dataset run with different parameters (e.g. the head
    initialisation); it is part of the leaderboard column.
    """

    suite: str
    task: str
    dataset: str
    backbone: str
    seed: int = 0
    variant: str = ""
    params: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)
    protocol_version: str = "1"
    config_hash: str = ""

    @property
    def unit_id(self) -> str:
        task = f"{self.task}[{self.variant}]" if self.variant else self.task
        return f"{self.suite}/{task}/{self.dataset}/{self.backbone}/seed={self.seed}/{self.config_hash}"


def package_versions() -> dict[str, str]:
    """Installed versions of the packages that shape a number."""
    found = {}
    for name in TRACKED_PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found


def git_revision() -> str:
    """The checkout's commit (with +dirty when it has changes), or 'unknown'."""
    try:
        rev = subprocess.run(
            ["git", "-C", str(repo_root()), "rev-parse", "--short=12", "HEAD"],
            capture_output=True, text=True, timeout=5, check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(repo_root()), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True, text=True, timeout=5,
        ).stdout.strip()
        return rev + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


class Store:
    """A SQLite results file; safe for several writer processes (WAL, busy timeout)."""

    def __init__(self, path: Path | str, *, readonly: bool = False) -> None:
        """Open (creating it unless `readonly`) a store; a read-only open never changes the file."""
        self.path = Path(path)
        self.readonly = readonly
        try:
            if readonly:
                with self._connect() as db:
                    tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
                if not {"units", "results"} <= tables:
                    raise CatlipBenchError(f"{self.path} is not a catlip-bench results store (no results table)")
                return
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self._connect() as db:
                db.executescript(SCHEMA)
        except sqlite3.DatabaseError as error:
            raise CatlipBenchError(f"results store {self.path} is not a usable SQLite file: {error}") from error

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        if self.readonly:
            db = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True, timeout=60)
        else:
            db = sqlite3.connect(self.path, timeout=60, isolation_level=None)
        try:
            if not self.readonly:
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA foreign_keys=ON")
            db.execute("PRAGMA busy_timeout=60000")
            yield db
        finally:
            db.close()

    def record(
        self,
        unit: Unit,
        metrics: Iterable[Metric],
        *,
        checkpoint_sha256: str | None,
        wall_seconds: float,
        versions: dict[str, str] | None = None,
        revision: str | None = None,
    ) -> None:
        """Write a finished unit and all its metric rows in one transaction (replacing an earlier run)."""
        now = datetime.now(timezone.utc).isoformat(timespec="seconds")
        versions_json = json.dumps(versions if versions is not None else package_versions(), sort_keys=True)
        revision = revision if revision is not None else git_revision()
        rows = [
            (
                unit.suite, unit.task, unit.variant, unit.dataset, unit.backbone, checkpoint_sha256, m.name, float(m.value),
                m.shots, m.n_train, unit.seed, unit.protocol_version, versions_json, revision, unit.config_hash,
                wall_seconds, now, json.dumps(dict(m.extra), sort_keys=True, default=str),
            )
            for m in metrics
        ]
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                db.execute("DELETE FROM units WHERE unit_id = ?", (unit.unit_id,))
                db.execute(
                    "INSERT INTO units VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (unit.unit_id, unit.suite, unit.task, unit.variant, unit.dataset, unit.backbone, unit.seed,
                     wall_seconds, now),
                )
                db.executemany(
                    f"INSERT INTO results (unit_id, {', '.join(COLUMNS)}) VALUES ({', '.join('?' * (len(COLUMNS) + 1))})",
                    [(unit.unit_id, *row) for row in rows],
                )
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    def is_done(self, unit: Unit) -> bool:
        with self._connect() as db:
            return db.execute("SELECT 1 FROM units WHERE unit_id = ?", (unit.unit_id,)).fetchone() is not None

    def frame(self, suite: str | None = None) -> pd.DataFrame:
        """All metric rows (optionally of one suite) as a DataFrame."""
        query = f"SELECT unit_id, {', '.join(COLUMNS)} FROM results"
        params: tuple[Any, ...] = ()
        if suite:
            query += " WHERE suite = ?"
            params = (suite,)
        with self._connect() as db:
            return pd.read_sql_query(query + " ORDER BY id", db, params=params)

"""Accuracy-vs-shots plots from real results-store rows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from catlip_bench.plots import plot_shots, shots_figures
from catlip_bench.results import Store, Unit
from catlip_bench.specs import Metric


def _record(store: Store, backbone: str, variant: str, seed: int, accuracies: dict[object, float]) -> None:
    init = "transfer_init" if variant == "transfer_init" else "random"
    extra = {"init": init, "chance": 0.1, "classes": 10}
    rows = [
        Metric("top1", value, shots=None if k == "all" else k, n_train=300 if k == "all" else 10 * k,
               extra={**extra, "shots": k})
        for k, value in accuracies.items()
    ]
    if init == "transfer_init":
        rows.append(Metric("coverage", 0.1, extra={"matched": 1, "classes": 10}))
    store.record(Unit("s", "fewshot", "fashion-mnist", backbone, seed, variant), rows,
                 checkpoint_sha256=None, wall_seconds=1.0, versions={}, revision="test")


def test_one_png_per_dataset_with_mean_lines_and_dashed_transfer_init(tmp_path: Path):
    store = Store(tmp_path / "results.sqlite")
    _record(store, "catlip", "random", 0, {1: 0.30, 5: 0.60, "all": 0.80})
    _record(store, "catlip", "random", 1, {1: 0.40, 5: 0.70, "all": 0.80})
    _record(store, "catlip", "transfer_init", 0, {1: 0.50, 5: 0.65, "all": 0.81})
    _record(store, "clip", "random", 0, {1: 0.20, 5: 0.50, "all": 0.75})
    store.record(Unit("s", "linear_probe", "fashion-mnist", "catlip"), [Metric("top1", 0.9, n_train=300)],
                 checkpoint_sha256=None, wall_seconds=1.0, versions={}, revision="test")
    frame = store.frame()

    (figure,) = shots_figures(frame).values()
    lines = {line.get_label(): line for line in figure.axes[0].get_lines()}
    assert set(lines) == {"catlip · random", "catlip · transfer_init", "clip · random", "chance"}
    assert lines["catlip · transfer_init"].get_linestyle() == "--" and lines["catlip · random"].get_linestyle() == "-"
    # x: k, and "all" at n_train / classes = 30; y: the mean over the two seeds
    assert list(lines["catlip · random"].get_xdata()) == [1, 5, 30]
    assert np.allclose(lines["catlip · random"].get_ydata(), [0.35, 0.65, 0.80])
    assert lines["catlip · random"].get_color() != lines["clip · random"].get_color()
    assert lines["catlip · random"].get_color() == lines["catlip · transfer_init"].get_color()
    assert list(lines["chance"].get_ydata()) == [0.1, 0.1]

    (path,) = plot_shots(frame, tmp_path / "plots")
    assert path == tmp_path / "plots" / "shots_fashion-mnist.png"
    with Image.open(path) as png:
        assert png.format == "PNG" and png.size == (768, 504)  # 6.4 x 4.2 in at 120 dpi


def test_no_fewshot_rows_no_plot(tmp_path: Path):
    store = Store(tmp_path / "results.sqlite")
    assert plot_shots(store.frame(), tmp_path / "plots") == [] and not (tmp_path / "plots").exists()

"""A table with thousands of rows (checkpoints logged along training) still shows its laws in the report."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
from matplotlib.colors import to_rgba

from evosld.report.collect import collect
from evosld.report.figures import (
    DENSE_ROWS,
    FIT_COLOR,
    extrapolation_figure,
    marker_area,
    spread_sample,
)


def test_markers_shrink_and_the_law_is_marked_at_a_spread_sample_only_where_a_panel_is_dense():
    assert marker_area(18, 40) == marker_area(18, DENSE_ROWS) == 18
    assert 2 <= marker_area(18, 16 * DENSE_ROWS) < marker_area(18, 4 * DENSE_ROWS) < 18
    x = np.random.default_rng(0).permutation(np.arange(5000.0))
    picked = spread_sample(x)
    assert len(picked) == DENSE_ROWS and len(set(picked)) == DENSE_ROWS
    assert x[picked].min() == 0 and x[picked].max() == 4999  # both ends of the axis, evenly between
    assert np.ptp(np.diff(np.sort(x[picked]))) <= 1
    assert sorted(spread_sample(x[:50])) == list(range(50))


def test_a_learning_curve_table_draws_its_laws_above_thousands_of_rows(tmp_path):
    rng = np.random.default_rng(3)
    parts = []
    for n in (3e7, 1e8, 3e8, 1e9):
        tokens = np.logspace(8, 10.5, 500) * (1 + 1e-3 * rng.uniform(-1, 1, 500))
        loss = 1.7 + 400 / n**0.34 + 410 / tokens**0.28 + rng.normal(0, 0.01, 500)
        parts.append(pd.DataFrame({"params": n, "tokens": tokens, "loss": loss}))
    path = tmp_path / "curves.csv"
    pd.concat(parts).to_csv(path, index=False)
    out = subprocess.run([sys.executable, "-m", "evosld.cli", "discover", "--csv", str(path), "--features",
                          "params,tokens", "--target", "loss", "--test", "tokens >= 1.5e10", "--iterations", "3",
                          "--seed", "0", "--output", str(tmp_path / "run"), "--quiet"],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    fig = extrapolation_figure(collect(tmp_path / "run"))
    ax = fig.axes[0]
    marks = [c for c in ax.collections if c.get_paths() and len(c.get_offsets()) and
             np.allclose(c.get_facecolor()[0][:3], to_rgba("black")[:3]) and c.get_alpha() == 0.55]
    assert len(marks) == 1 and len(marks[0].get_offsets()) == DENSE_ROWS  # of 2000 rows
    fit = next(c for c in ax.collections if len(c.get_facecolor()) and
               np.allclose(c.get_facecolor()[0][:3], to_rgba(FIT_COLOR)[:3]))
    assert fit.get_sizes()[0] < 18
    labels = [t.get_text() for leg in fig.legends for t in leg.get_texts()]
    assert f"best law at each row ({DENSE_ROWS} per panel where more)" in labels

"""The runs' scatter around the pick, and the R² ceiling it puts on validation and test.

A table read off a figure often holds a handful of test runs that vary little
more than the runs scatter (here: 10 runs at the largest compute, noise sd
0.03). Every law, the true one included, scores a low test R² there; the run
must say so instead of leaving the user to blame the law.
"""

from __future__ import annotations

import json
import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_rgba

from evosld.evaluation.scatter import (
    off_trend_runs,
    off_trend_warning,
    r2_ceiling,
    residual_sd,
    scatter_warning,
    slice_scatter,
)
from evosld.report.collect import collect
from evosld.report.figures import OFF_TREND_COLOR, extrapolation_figure
from evosld.tasks.task import Task


def test_the_residual_sd_estimates_the_noise_and_ignores_a_few_diverged_runs():
    rng = np.random.default_rng(0)
    truth = {g: np.linspace(2, 3, 200) for g in ("a", "b")}
    pred = {g: y + 0.05 * rng.standard_normal(len(y)) for g, y in truth.items()}
    pred["a"][:6] += 5.0  # six diverged runs
    sd = residual_sd(pred, truth, params_per_group=3)
    assert sd.shape == (1,) and sd[0] == pytest.approx(0.05, rel=0.15)


def test_the_residual_sd_counts_the_fitted_parameters_and_skips_missing_targets():
    rng = np.random.default_rng(1)
    y = np.column_stack([np.zeros(40), np.full(40, np.nan)])
    y[:30, 1] = 0.0
    pred = {"g": y + rng.standard_normal((40, 2)) * np.array([1.0, 2.0])}
    pred["g"][30:, 1] = 7.0  # predictions where the second output has no target: not residuals
    few, many = residual_sd(pred, {"g": y}, 1), residual_sd(pred, {"g": y}, 20)
    assert few.shape == (2,) and np.all(many > few)  # more parameters: residuals understate the noise more
    assert residual_sd(pred, {"g": y}, 40) is None  # no more rows than parameters


def test_the_ceiling_is_one_minus_the_scatter_over_the_slice_variance():
    y = np.array([1.0, 2.0, 3.0, 4.0])
    assert r2_ceiling(np.array([0.5]), y) == pytest.approx(1 - 0.25 / np.var(y))
    assert r2_ceiling(np.array([0.5]), y[:1]) is None
    assert r2_ceiling(np.array([0.5]), np.full(4, 2.0)) is None


def test_only_a_slice_dominated_by_scatter_is_warned_about():
    sd = np.array([0.02])
    wide, narrow = np.linspace(2.0, 2.6, 30), 2.3 + 0.02 * np.random.default_rng(2).standard_normal(12)
    assert scatter_warning(slice_scatter(sd, wide, wide)) is None
    line = scatter_warning(slice_scatter(sd, wide, narrow))
    assert line is not None and "test rows" in line and "validation rows" not in line


def _figure_table(seed: int = 0, n: int = 200) -> tuple[pd.DataFrame, str]:
    """Chinchilla-like runs read off a figure (Hoffmann et al. 2022, eq. 2 constants), loss noise sd 0.03;
    test: the top 5% by compute C = 6ND (about ten runs that vary little more than the noise)."""
    rng = np.random.default_rng(seed)
    N = rng.choice(np.logspace(7.8, 10.2, 9), n) * (1 + 0.03 * rng.uniform(-1, 1, n))
    D = np.exp(rng.uniform(np.log(5e9), np.log(5e11), n))
    loss = 1.69 + 406.4 / N**0.34 + 410.7 / D**0.28 + 0.03 * rng.standard_normal(n)
    df = pd.DataFrame({"N": N, "D": D, "C": 6 * N * D, "loss": loss})
    return df, f"C > {np.quantile(df.C, 0.95):.6g}"


def test_a_run_whose_test_rows_are_mostly_scatter_says_so(tmp_path):
    df, rule = _figure_table()
    path = tmp_path / "figure.csv"
    df.to_csv(path, index=False)
    out = subprocess.run([sys.executable, "-m", "evosld.cli", "discover", "--csv", str(path), "--features", "N,D",
                          "--target", "loss", "--test", rule, "--iterations", "3", "--seed", "0",
                          "--output", str(tmp_path / "run"), "--quiet"], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    scatter = json.loads((tmp_path / "run" / "best.json").read_text())["scatter"]
    assert scatter["residual_sd"][0] == pytest.approx(0.03, rel=0.35)
    assert scatter["test_ceiling"] < 0.5
    line = next(ln for ln in out.stdout.splitlines() if ln.strip().startswith("scatter:"))
    assert "test rows spread" in line
    # a resumed (re-finished) run reads the scatter kept beside the stored test score
    again = subprocess.run([sys.executable, "-m", "evosld.cli", "discover", "--resume", str(tmp_path / "run"),
                            "--quiet"], capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr
    assert json.loads((tmp_path / "run" / "best.json").read_text())["scatter"] == scatter


def test_a_run_on_a_clean_wide_test_slice_records_the_scatter_without_a_warning(tmp_path):
    import evosld

    rng = np.random.default_rng(3)
    N = np.logspace(7, 10, 16)
    loss = 1.7 + 400 / N**0.34 + 0.003 * rng.standard_normal(len(N))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = evosld.discover(pd.DataFrame({"N": N, "loss": loss}), features=["N"], target="loss",
                                 iterations=2, budget_seconds=None, seed=0, output=tmp_path / "run", progress=False)
    assert result.scatter is not None and result.scatter.test_ceiling > 0.9
    assert scatter_warning(result.scatter) is None
    assert json.loads((tmp_path / "run" / "best.json").read_text())["scatter"]["residual_sd"]


def _diverged_table(seed: int = 0) -> tuple[pd.DataFrame, list[int]]:
    """A 7 N x 6 D Chinchilla grid, 0.5% noise, where two runs diverged (loss + 0.4 and + 0.6)."""
    rng = np.random.default_rng(seed)
    N, D = (a.ravel() for a in np.meshgrid(np.logspace(7, 9.5, 7), np.logspace(9, 11, 6), indexing="ij"))
    loss = 1.69 + 406.4 / N**0.34 + 410.7 / D**0.28 + 0.005 * rng.standard_normal(len(N))
    bad = [9, 20]
    loss[bad] += [0.4, 0.6]
    return pd.DataFrame({"N": N, "D": D, "loss": loss}), bad


def test_the_runs_the_law_misses_grossly_are_named_worst_first():
    df, bad = _diverged_table()
    task = Task(name="t", features=("N", "D"), targets=("loss",), train=df.assign(group="all"), test=df.iloc[:0].assign(group="all"),
                val_mask=np.zeros(len(df), dtype=bool))
    truth = (1.69 + 406.4 / df.N**0.34 + 410.7 / df.D**0.28).to_numpy()
    off = off_trend_runs(task, {"all": truth})
    assert [(r["inputs"]["N"], r["inputs"]["D"]) for r in off] == [(df.N[i], df.D[i]) for i in (20, 9)]
    assert off[0]["target"]["loss"] == pytest.approx(df.loss[20]) and off[0]["predicted"]["loss"] == pytest.approx(truth[20])
    assert off[0]["sigmas"] > off[1]["sigmas"] > 5
    clean = df.assign(loss=truth + 0.005 * np.random.default_rng(1).standard_normal(len(df)))
    assert off_trend_runs(replace_train(task, clean), {"all": truth}) == []  # noise alone is never off-trend
    missing = df.assign(loss=np.where(np.arange(len(df)) == 3, np.nan, df.loss))  # a run without its target
    assert len(off_trend_runs(replace_train(task, missing), {"all": truth})) == 2


def replace_train(task: Task, df: pd.DataFrame) -> Task:
    return Task(name=task.name, features=task.features, targets=task.targets, train=df.assign(group="all"),
                test=task.test, val_mask=task.val_mask)


def test_a_discovery_names_the_runs_that_diverged(tmp_path):
    df, bad = _diverged_table()
    path = tmp_path / "runs.csv"
    df.to_csv(path, index=False)
    out = subprocess.run([sys.executable, "-m", "evosld.cli", "discover", "--csv", str(path), "--features", "N,D",
                          "--target", "loss", "--test", "N >= 3e9", "--iterations", "4", "--seed", "0",
                          "--output", str(tmp_path / "run"), "--quiet"], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    off = json.loads((tmp_path / "run" / "best.json").read_text())["scatter"]["off_trend"]
    assert sorted(round(r["target"]["loss"], 6) for r in off) == sorted(round(df.loss[i], 6) for i in bad)
    line = next(ln for ln in out.stdout.splitlines() if ln.strip().startswith("off-trend runs:"))
    assert line.strip().startswith("off-trend runs: 2 of 36 train runs lie more than 5 robust sds off this law: loss ")
    assert f"N={df.N[20]:.3g}, D={df.D[20]:.3g}" in line and "Runs that went wrong (a diverged seed" in line
    assert off_trend_warning(None, 36, False) is None
    report = subprocess.run([sys.executable, "-m", "evosld.cli", "report", str(tmp_path / "run")],
                            capture_output=True, text=True, timeout=600)
    assert report.returncode == 0, report.stderr
    page = (tmp_path / "run" / "report.html").read_text()
    assert "2 of 36 train runs lie more than 5 robust sds off this law" in page
    assert "Ringed: the 2 train run(s) the best law misses by more than 5 robust standard deviations" in page
    # the extrapolation figure rings those two runs, at their own coordinates
    data = collect(tmp_path / "run")
    fig = extrapolation_figure(data)
    rings = [c for ax in fig.axes for c in ax.collections
             if len(c.get_edgecolor()) and np.allclose(c.get_edgecolor()[0], to_rgba(OFF_TREND_COLOR))]
    assert len(rings) == 1
    drawn = sorted(map(tuple, np.round(rings[0].get_offsets(), 6)))
    assert drawn == sorted((round(df.N[i], 6), round(df.loss[i], 6)) for i in bad)
    assert "off-trend run (see warnings)" in [t.get_text() for leg in fig.legends for t in leg.get_texts()]

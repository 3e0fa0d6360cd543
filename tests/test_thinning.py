"""A dense table (learning curves logged at every step): the search fits on an even share of the rows.

The choice of rows is a pure function (``tasks.thinning.thinned``); the task
applies it to the search's splits only; a real discovery (real sandbox, real
sqlite store) on a table over the cap fits its search on the share and its
test score on every train row.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

import evosld
from evosld.tasks import task_from_frame, thinning
from evosld.tasks.task import GROUP_COLUMN, SEARCH_TRAIN


def curves(sizes=(2e7, 5e7, 1e8, 2e8, 4e8), steps: int = 400, seed: int = 0, group: str | None = None) -> pd.DataFrame:
    """Loss curves L = E + A/N^a + B/D^b of several model sizes, one row per logged step."""
    rng = np.random.default_rng(seed)
    frames = []
    for N in sizes:
        D = np.arange(1, steps + 1) * 2.5e7
        loss = 1.7 + 400 / N**0.34 + 410 / D**0.28 + rng.normal(0, 0.005, steps)
        frames.append(pd.DataFrame({"N": N, "D": D, "loss": loss}))
    df = pd.concat(frames, ignore_index=True)
    if group is not None:
        df[GROUP_COLUMN] = group
    return df


def test_a_table_under_the_cap_is_returned_as_it_is():
    df = curves(steps=10, group="all_data")
    assert thinning.thinned(df, ("N", "D"), GROUP_COLUMN, cap=len(df)) is df


def test_each_group_keeps_its_share_evenly_along_its_curves_and_every_level():
    big = curves(sizes=(2e7, 5e7, 1e8, 2e8), steps=1000, group="a")
    small = curves(sizes=(3e7, 6e7), steps=500, seed=1, group="b")
    lone = pd.DataFrame({"N": [9e8] * 3, "D": [1e9, 2e9, 3e9], "loss": [3.0, 2.9, 2.8], GROUP_COLUMN: "a"})
    df = pd.concat([big, small, lone], ignore_index=True).sample(frac=1.0, random_state=0)  # rows in no order
    out = thinning.thinned(df, ("N", "D"), GROUP_COLUMN, cap=500)
    assert 500 <= len(out) <= 520  # the cap, give or take one row per level
    assert list(out.index) == [i for i in df.index if i in set(out.index)]  # in the table's order
    share = len(out) / len(df)
    for g in ("a", "b"):
        kept, all_rows = (out[GROUP_COLUMN] == g).sum(), (df[GROUP_COLUMN] == g).sum()
        assert abs(kept / all_rows - share) < 0.02  # the groups keep their weights
    assert set(out["N"]) == set(df["N"])  # every model size is kept, the one with three steps too
    for N in (2e7, 1e8, 2e8):
        steps = np.sort(out.loc[(out["N"] == N) & (out[GROUP_COLUMN] == "a"), "D"].to_numpy()) / 2.5e7
        gap = 1000 / len(steps)
        assert steps[0] <= 1 + gap and steps[-1] >= 1000 - gap  # each curve from about its first step to its last,
        assert np.ptp(np.diff(steps)) <= 1  # at even intervals


def test_the_search_splits_are_thinned_and_test_and_the_returned_law_are_not(monkeypatch):
    monkeypatch.setattr(thinning, "SEARCH_FIT_ROWS", 300)
    task = task_from_frame(curves(), ["N", "D"], "loss")
    fit, val = task.frames("val")
    assert len(fit) <= 320 and len(val) == int(task.val_mask.sum())
    assert set(fit.index) <= set(task.fit_df.index) and set(fit["N"]) == set(task.fit_df["N"])
    for fold in task.inner_folds():
        assert len(task.frames(fold.name)[0]) <= 320
    assert len(task.frames(SEARCH_TRAIN)[0]) <= 320 and len(task.frames(SEARCH_TRAIN)[1]) == len(task.train)
    assert len(task.frames("test")[0]) == len(task.train) == len(task.frames("train")[0])
    assert task.split_summary()["search_fit_rows"] == len(fit)


def test_a_discovery_on_a_dense_table_searches_on_the_share_and_tests_on_all(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(thinning, "SEARCH_FIT_ROWS", 300)
    result = evosld.discover(curves(), ["N", "D"], "loss", iterations=4, progress=False, output=tmp_path / "run")
    best = json.loads((tmp_path / "run" / "best.json").read_text())
    fit_rows = int((~result.task.val_mask).sum())
    assert best["split"]["search_fit_rows"] < 320 < fit_rows
    assert result.test["r2"] > 0.9
    # the returned law is the one fitted on every train row: refit it there, the parameters agree
    refit = evosld.evaluate(result.source, result.task, split="test")
    for group, params in result.params.items():
        np.testing.assert_allclose(refit.params[group], params, rtol=1e-6)


def test_the_start_of_a_run_says_the_search_fits_on_a_share(tmp_path, capsys, monkeypatch):
    from tests.conftest import run_cli

    monkeypatch.setattr(thinning, "SEARCH_FIT_ROWS", 300)
    curves().to_csv(tmp_path / "curves.csv", index=False)
    code, out, err = run_cli(capsys, "tasks", "--csv", str(tmp_path / "curves.csv"), "--features", "N,D",
                             "--target", "loss")
    assert code == 0, err
    line = next(s for s in out.splitlines() if "search fits:" in s)
    assert "search fits: 300 of the 1,200 fit rows" in line and "the test score and the returned law" in line

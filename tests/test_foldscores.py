"""Fold scores for the final pick: each directed fold's fit is scored on its band and, further out, on validation."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from evosld.evaluation import Evaluator, Sandbox
from evosld.evaluation.evaluator import Evaluation
from evosld.evaluation.foldscores import HORIZON, fold_names, horizon_r2, score_folds
from evosld.evaluation.metrics import failure, score
from evosld.tasks import task_from_frame

#: The generating form with its exponents known: a linear fit, which carries the trend anywhere.
FORM = '''
import numpy as np
def _basis(X):
    X = np.atleast_2d(np.asarray(X, dtype=float))
    return np.column_stack([np.ones(len(X)), X[:, 0] ** -0.34, X[:, 1] ** -0.28])
def scaling_law_func(data_points, params):
    return _basis(data_points) @ np.asarray(params, dtype=float)
def fit_scaling_law(data_points, loss_values):
    return np.linalg.lstsq(_basis(data_points), np.asarray(loss_values, dtype=float), rcond=None)[0]
'''

#: A parabola in ln N: bends through the rows it is fitted on and the next band, then turns away from the trend.
BOWL = FORM.replace("X[:, 0] ** -0.34, X[:, 1] ** -0.28", "np.log(X[:, 0]), np.log(X[:, 0]) ** 2, X[:, 1] ** -0.28")


def _grid(seed: int = 0) -> pd.DataFrame:
    """Model sizes x data sizes, loss of the Chinchilla form with 0.5% noise; the sizes jittered as if read off a figure."""
    rng = np.random.default_rng(seed)
    N = np.repeat(np.logspace(7, 10.5, 10), 6) * (1 + 1e-6 * rng.uniform(-1, 1, 60))
    D = np.tile(np.logspace(9, 12, 6), 10)
    loss = (1.7 + 400 / N**0.34 + 410 / D**0.28) * (1 + 0.005 * rng.standard_normal(len(N)))
    return pd.DataFrame({"N": N, "D": D, "loss": loss})


@pytest.fixture(scope="module")
def task():
    return task_from_frame(_grid(), ["N", "D"], "loss", test="N > 1.5e10", name="grid")


def test_directed_folds_are_named_with_their_horizon(task):
    assert fold_names(task, 2) == ("inner1", "inner1" + HORIZON, "inner2", "inner2" + HORIZON)
    assert all(f.directed for f in task.inner_folds(2))
    assert fold_names(task, 1) == ("inner1", "inner1" + HORIZON)


def test_random_folds_of_a_held_out_mixture_have_no_horizon():
    df = _grid().assign(p=np.linspace(0.1, 0.9, 60))
    mixed = task_from_frame(df, ["p"], "loss", test="random:3", val="random:3", name="mix")
    assert len(mixed.inner_folds(2)) == 2
    assert not any(f.directed for f in mixed.inner_folds(2))
    assert fold_names(mixed, 2) == ("inner1", "inner2")


def test_one_refit_per_fold_scores_the_band_and_validation_further_out(task):
    evaluator = Evaluator(task, Sandbox())
    calls: list[str] = []

    def evaluate(source):
        def run(split, extra):
            calls.append(split)
            return evaluator.evaluate(source, split, extra)
        return run

    form = score_folds(evaluate(FORM), task, 2)
    assert calls == ["inner1", "inner2"]  # the horizon comes from the same refit
    bowl = score_folds(evaluate(BOWL), task, 2)
    assert list(form) == list(fold_names(task, 2))
    assert all(v is not None and v > 0.95 for v in form.values()), form
    # the parabola follows the next band, and misses validation further out
    far = "inner2" + HORIZON
    assert bowl["inner1"] > 0.9 and bowl["inner2"] > 0.9, bowl
    assert bowl["inner1" + HORIZON] < form["inner1" + HORIZON] - 0.5 and bowl[far] < form[far] - 0.5, bowl
    # scores already known are not refitted
    calls.clear()
    again = score_folds(evaluate(FORM), task, 2, known={"inner1": 0.5, "inner1" + HORIZON: 0.4})
    assert calls == ["inner2"] and again["inner1"] == 0.5 and again["inner2" + HORIZON] == pytest.approx(form[far])


def test_horizon_leaves_out_groups_the_fold_could_not_fit():
    truth = {"a": np.array([1.0, 2.0, 3.0, 4.0]), "b": np.array([5.0, 6.0, 7.0])}
    pred = {"a": {"horizon": np.array([1.1, 2.0, 2.9, 4.0])}}
    ev = Evaluation("inner1", score(np.zeros(1), np.zeros(1)), extra=pred)
    only_a = horizon_r2(ev, truth)
    assert only_a == pytest.approx(1 - 0.02 / 4 / np.var(truth["a"]))
    assert horizon_r2(Evaluation("inner1", score(np.zeros(1), np.zeros(1))), truth) is None
    broken = Evaluation("inner1", score(np.zeros(1), np.zeros(1)), extra={"a": {"horizon": np.array([1, math.nan, 3, 4])}})
    assert horizon_r2(broken, truth) is None
    assert horizon_r2(Evaluation("inner1", failure("boom"), error_kind="exception"), truth) is None

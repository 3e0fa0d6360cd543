"""A law fitted on its task's train rows, predicting inputs nobody ran (pure apart from the sandbox call)."""

from __future__ import annotations

import warnings

import numpy as np

from evosld.errors import DataError
from evosld.evaluation import Evaluator, Sandbox
from evosld.tasks.task import GROUP_COLUMN, Task

#: Name of the prediction set the sandbox job carries for the user's inputs.
INPUTS = "user"


def predict_law(task: Task, source: str, X: np.ndarray, keys: np.ndarray, sandbox: Sandbox | None = None) -> np.ndarray:
    """The law's predictions at ``X``, fitted per group on the task's train rows (as for its test score).

    Args:
        task: the task the law was found on (its train rows are what it is fitted on).
        source: the law's program source (``scaling_law_func`` and ``fit_scaling_law``).
        X: (M, F) inputs, columns in ``task.features`` order.
        keys: (M,) the group of each input (one of ``task.groups``).
        sandbox: where the program runs (default: a new ``Sandbox``).
    Returns:
        (M,) predictions for one target, (M, T) for T targets; NaN where the law gives no finite value.
    Raises:
        DataError: the law failed to fit or run.
    """
    out, message = _predict_on(task, source, X, keys, "test", sandbox)
    if out is None:
        raise DataError(f"the law failed to run: {message}")
    return out if len(task.targets) > 1 else out[:, 0]


def refit_splits(task: Task) -> list[str]:
    """The fits ``refit_range`` makes: train less validation, then each inner fold's fit rows (nearest first)."""
    return (["val"] if task.val_mask.any() else []) + [f.name for f in task.inner_folds()]


def refit_range(task: Task, source: str, X: np.ndarray, keys: np.ndarray, sandbox: Sandbox | None = None,
                full: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """How far the law's predictions at ``X`` move when it is fitted on fewer runs.

    The law is refitted without the validation runs, and without each inner fold's band and what lies beyond
    it (``refit_splits``: the refits the final pick checked it with), and predicts ``X`` each time: the
    runs nearest an extrapolation are the ones that pin it, and a prediction that swings when they are left
    out is one the data do not hold in place.

    Args:
        X: (M, F) inputs in ``task.features`` order.
        keys: (M,) their groups.
        full: the law's predictions at ``X`` fitted on all train rows (``predict_law``'s (M,) or (M, T)), when
            the caller has them; else they are fitted here.
    Returns:
        (lo, hi), each (M, T): the lowest and highest finite prediction over those refits and the fit on all
        train rows (the prediction itself, so the range holds it); NaN where no refit gave one (no refit, or a
        group the refit has no rows of).
    """
    sandbox = sandbox or Sandbox()  # one for every refit
    runs = [out for split in refit_splits(task)
            if (out := _predict_on(task, source, X, keys, split, sandbox)[0]) is not None]
    if runs and full is None:
        full = _predict_on(task, source, X, keys, "test", sandbox)[0]
    if runs and full is not None:
        full = np.asarray(full, dtype=float).reshape(len(keys), len(task.targets))
        runs.append(np.where(np.isnan(np.nanmin(np.stack(runs), axis=0)), np.nan, full))
    if not runs:
        nan = np.full((len(keys), len(task.targets)), np.nan)
        return nan, nan.copy()
    stack = np.stack(runs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an input no refit predicted stays NaN
        return np.nanmin(stack, axis=0), np.nanmax(stack, axis=0)


def _predict_on(task: Task, source: str, X: np.ndarray, keys: np.ndarray, split: str,
                sandbox: Sandbox | None) -> tuple[np.ndarray | None, str]:
    """((M, T) predictions at ``X`` of the law fitted on ``split``'s fit rows, NaN where none; or None), message."""
    X = np.asarray(X, dtype=float).reshape(len(keys), len(task.features))
    extra = {g: {INPUTS: X[keys == g]} for g in dict.fromkeys(keys)}
    ev = Evaluator(task, sandbox or Sandbox()).evaluate(source, split, extra_predict=extra)
    done = [g for g in extra if g in ev.extra and INPUTS in ev.extra[g]]
    if not done:
        return None, ev.message or str(ev.error_kind)
    T = len(task.targets)
    out = np.full((len(keys), T), np.nan)
    for g in done:
        out[keys == g] = np.asarray(ev.extra[g][INPUTS], dtype=float).reshape(-1, T)
    out[~np.isfinite(out)] = np.nan
    return out, ""


def outside_train(task: Task, X: np.ndarray, keys: np.ndarray) -> list[str]:
    """For each input, the features on which it lies outside its group's train runs, and how far.

    ``N ×10`` is ten times the largest train value of N; ``lr ×0.1`` a tenth of the smallest; a
    feature whose train values are not all positive is given as ``x > 3`` (its largest) or
    ``x < 0`` (its smallest). Values within ``task.scale_rtol`` of the range count as inside.

    Args:
        X: (M, F) inputs in ``task.features`` order.
        keys: (M,) their groups.
    Returns:
        M strings, ``""`` for an input inside the train range on every feature.
    """
    X = np.asarray(X, dtype=float).reshape(len(keys), len(task.features))
    groups = task.train[GROUP_COLUMN].astype(str).to_numpy()
    out = []
    for x, g in zip(X, keys):
        rows = task.train.loc[groups == g]
        parts = []
        for f, v in zip(task.features, x):
            tr = rows[f].to_numpy(dtype=float)
            top, bottom = float(tr.max()), float(tr.min())
            tol = task.scale_rtol
            if v > top + tol * abs(top):
                parts.append(f"{f} ×{v / top:.3g}" if bottom > 0 else f"{f} > {top:.4g}")
            elif v < bottom - tol * abs(bottom):
                parts.append(f"{f} ×{v / bottom:.3g}" if bottom > 0 and v > 0 else f"{f} < {bottom:.4g}")
        out.append(", ".join(parts))
    return out

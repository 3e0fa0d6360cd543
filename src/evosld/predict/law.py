"""A law fitted on its task's train rows, predicting inputs nobody ran (pure apart from the sandbox call)."""

from __future__ import annotations

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
    X = np.asarray(X, dtype=float).reshape(len(keys), len(task.features))
    extra = {g: {INPUTS: X[keys == g]} for g in dict.fromkeys(keys)}
    ev = Evaluator(task, sandbox or Sandbox()).evaluate(source, "test", extra_predict=extra)
    if not all(g in ev.extra and INPUTS in ev.extra[g] for g in extra):
        raise DataError(f"the law failed to run: {ev.message or ev.error_kind}")
    T = len(task.targets)
    out = np.full((len(keys), T), np.nan)
    for g in extra:
        out[keys == g] = np.asarray(ev.extra[g][INPUTS], dtype=float).reshape(-1, T)
    out[~np.isfinite(out)] = np.nan
    return out if T > 1 else out[:, 0]


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

"""How much of a slice's spread is the runs' own scatter: the R² ceiling of a slice.

R² on a slice is 1 - MSE / Var(y_slice). Runs scatter around any smooth law
(seeds, evaluation noise, sizes read off a figure), so even a law right up to
that scatter keeps an MSE of about ``sd²`` and scores about
``1 - sd² / Var(y_slice)``. On a slice that varies little beyond the scatter
(a handful of the largest runs, close in size) that ceiling is low or even
negative, and a low test R² then says more about the slice than about the law.

The scatter is estimated from the law itself: its residuals on the rows it was
fitted on (all of train, as for the test score), pooled over groups, by the
median absolute deviation (1.4826 x MAD estimates a normal sd and is not
thrown by a few diverged runs), inflated by ``sqrt(n / (n - k))`` for the
``k`` parameters fitted per group (the residuals of a fit are smaller than the
noise by about that factor). A law that misses the trend leaves larger
residuals, so the estimate errs towards a lower ceiling: read it as "the
scatter of the runs around this law", not as the noise of the experiments.

Pure functions on arrays.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from evosld.evaluation.evaluator import Evaluation
    from evosld.tasks.task import Task

#: Below this R² ceiling the run warns that a slice is dominated by scatter: its spread is
#: less than sqrt(2) times the runs' scatter. Lower than one might set it, because the
#: estimate errs low (residuals include misfit, and small runs often scatter more than the
#: largest: on SLDBench's moe the pick's train residuals give 0.66 for a test it scores 0.79).
LOW_CEILING = 0.5

#: 1 / Phi^-1(3/4): the median absolute deviation times this estimates a normal sd.
MAD_TO_SD = 1.4826


def _columns(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a, dtype=float)
    return a.reshape(len(a), -1)


def residual_sd(predictions: dict[str, np.ndarray], truth: dict[str, np.ndarray],
                params_per_group: int | None) -> np.ndarray | None:
    """Robust sd of the residuals, per output, pooled over groups.

    Args:
        predictions: group -> (N_g,) or (N_g, T) predictions on the rows fitted.
        truth: group -> the targets of the same rows, same shapes.
        params_per_group: parameters fitted per group and output (None: not counted).
    Returns:
        (T,) sd per output, or None when there are no rows or no more rows than parameters.
    """
    pairs = [(_columns(predictions[g]), _columns(truth[g])) for g in truth if g in predictions]
    pairs = [(p, y) for p, y in pairs if p.shape == y.shape and len(y)]
    if not pairs:
        return None
    resid = np.vstack([p - y for p, y in pairs])
    k = (params_per_group or 0) * len(pairs)
    out = []
    for col in resid.T:  # an output may lack targets on some rows (NaN): use the rows it has
        r = col[np.isfinite(col)]
        if len(r) <= k:
            return None
        sd = MAD_TO_SD * np.median(np.abs(r - np.median(r)))
        out.append(sd * np.sqrt(len(r) / (len(r) - k)))
    return np.array(out)


def r2_ceiling(sd: np.ndarray, y_slice: np.ndarray) -> float | None:
    """About the R² a law exact up to scatter ``sd`` scores on ``y_slice`` (mean over outputs).

    Args:
        sd: (T,) scatter per output.
        y_slice: (M,) or (M, T) targets of the slice, all groups together (as R² pools them).
    Returns:
        ``mean_t(1 - sd_t² / Var(y_t))``, or None for a slice with fewer than two rows or no spread.
    """
    y = _columns(y_slice)
    if len(y) < 2 or y.shape[1] != len(sd):
        return None
    var = np.nanvar(y, axis=0)
    if not np.all(var > 0):
        return None
    return float(np.mean(1.0 - np.asarray(sd) ** 2 / var))


@dataclass(frozen=True)
class Scatter:
    """The runs' scatter around the pick, and what it allows on validation and test.

    ``residual_sd`` and ``test_sd`` / ``val_sd`` are per output (lists of T);
    the ceilings are R² figures averaged over outputs (None: not computable).
    """

    residual_sd: list[float]
    val_sd: list[float] | None
    test_sd: list[float] | None
    val_ceiling: float | None
    test_ceiling: float | None

    def to_json(self) -> dict:
        return asdict(self)


def slice_scatter(sd: np.ndarray, val: np.ndarray | None, test: np.ndarray | None) -> Scatter:
    """``Scatter`` from the residual sd (T,) and the val / test targets ((M,) or (M, T), or None)."""
    def spread(y: np.ndarray | None) -> list[float] | None:
        return None if y is None or len(y) < 2 else np.nanstd(_columns(y), axis=0).tolist()

    return Scatter(
        residual_sd=np.asarray(sd, dtype=float).tolist(),
        val_sd=spread(val),
        test_sd=spread(test),
        val_ceiling=None if val is None else r2_ceiling(sd, val),
        test_ceiling=None if test is None else r2_ceiling(sd, test),
    )


def scatter_of(task: Task, ev: Evaluation, train_set: str = "train") -> Scatter | None:
    """The runs' scatter around a law fitted on all train, and the R² it allows on validation and test.

    Args:
        task: the run's task.
        ev: the law's test evaluation (fit on all train), with its predictions on the
            train rows as the extra set ``train_set`` (``extra_predict``).
    Returns:
        ``Scatter``, or None when the evaluation failed or has too few rows.
    """
    if not ev.ok:
        return None
    preds = {g: sets[train_set] for g, sets in ev.extra.items() if train_set in sets}
    truth = {g: d.y for g, d in task.arrays(task.train).items()}
    sizes = [np.asarray(p, dtype=float).size for p in (ev.params or {}).values() if p is not None]
    per_output = sizes[0] // len(task.targets) if sizes else None
    sd = residual_sd(preds, truth, per_output)
    if sd is None:
        return None
    cols = list(task.targets)
    return slice_scatter(sd, task.val_df[cols].to_numpy(dtype=float), task.test[cols].to_numpy(dtype=float))


def scatter_warning(s: Scatter | None) -> str | None:
    """One line for the user when validation or test is dominated by scatter (ceiling < ``LOW_CEILING``)."""
    if s is None:
        return None
    low = [(name, c, sd) for name, c, sd in (("validation", s.val_ceiling, s.val_sd), ("test", s.test_ceiling, s.test_sd))
           if c is not None and c < LOW_CEILING]
    if not low:
        return None

    def fmt(values: list[float] | None) -> str:
        return "/".join(f"{v:.3g}" for v in values or [])

    spread = " and ".join(f"the {name} rows spread {fmt(sd)} (sd)" for name, _, sd in low)
    caps = " and ".join(f"{name} R² about {c:.2f}" for name, c, _ in low)
    return (f"{spread}, little more than the runs scatter around this law on train ({fmt(s.residual_sd)}): "
            f"R² there says little about the law (one right up to that scatter would score {caps})")

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

The same residuals name the runs the law misses grossly (``off_trend_runs``:
``evaluation.metrics.isolated_misses``, beyond 5 robust sds, at most a tenth
of the runs): a diverged seed or a mistyped loss, which the user should see
by name rather than find in a figure.

Pure functions on arrays.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np

from evosld.evaluation.metrics import TRIM_SHARE, TRIM_SIGMAS, isolated_misses, robust_deviation

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
    the ceilings are R² figures averaged over outputs (None: not computable);
    ``off_trend`` lists the train runs the law misses grossly (``off_trend_runs``).
    """

    residual_sd: list[float]
    val_sd: list[float] | None
    test_sd: list[float] | None
    val_ceiling: float | None
    test_ceiling: float | None
    off_trend: list[dict] = field(default_factory=list)

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
    out = slice_scatter(sd, task.val_df[cols].to_numpy(dtype=float), task.test[cols].to_numpy(dtype=float))
    return replace(out, off_trend=off_trend_runs(task, preds))


def off_trend_runs(task: Task, predictions: dict[str, np.ndarray]) -> list[dict]:
    """The train runs a law fitted on all train misses grossly, worst first.

    Residuals are pooled over groups (as ``residual_sd`` pools them); a run is
    off-trend by ``metrics.isolated_misses`` (more than ``TRIM_SIGMAS`` robust
    sds from the median residual, at most ``TRIM_SHARE`` of the runs). A
    missing target (NaN) is not a miss.

    Args:
        task: the run's task.
        predictions: group -> (N_g,) or (N_g, T) predictions on that group's train rows.
    Returns:
        One record per run: ``group``, ``inputs`` (feature -> value), ``target``
        and ``predicted`` (target -> value) and ``sigmas`` (its distance in robust sds).
    """
    rows, resid = [], []
    for g, d in task.arrays(task.train).items():
        p = predictions.get(g)
        if p is None or _columns(p).shape != _columns(d.y).shape:
            continue
        y, p = _columns(d.y), _columns(p)
        resid.append(p - y)
        rows += [(g, d.X[i], y[i], p[i]) for i in range(len(y))]
    if not rows:
        return []
    r = np.vstack(resid)
    missing = ~np.isfinite(np.vstack([row[2] for row in rows]))
    if missing.any():  # a target the run lacks: its residual is the median, no distance
        med = np.array([np.median(c[np.isfinite(c)]) if np.isfinite(c).any() else 0.0 for c in r.T])
        r = np.where(missing, med, r)
    off = np.flatnonzero(isolated_misses(r, TRIM_SIGMAS, TRIM_SHARE))
    dev = robust_deviation(r)
    out = []
    for i in sorted(off, key=lambda i: -dev[i]):
        g, x, y, p = rows[i]
        out.append({"group": g, "inputs": dict(zip(task.features, map(float, x))),
                    "target": dict(zip(task.targets, map(float, y))),
                    "predicted": dict(zip(task.targets, map(float, p))),
                    "sigmas": float(dev[i]) if np.isfinite(dev[i]) else "inf"})
    return out


def off_trend_warning(s: Scatter | None, n_train: int, grouped: bool, most: int = 5) -> str | None:
    """One line naming the train runs the law misses grossly (at most ``most`` of them), or None."""
    if s is None or not s.off_trend:
        return None

    def run(rec: dict) -> str:
        where = ", ".join(f"{k}={v:.3g}" for k, v in rec["inputs"].items())
        if grouped:
            where = f"group {rec['group']}: {where}"
        seen = ", ".join(f"{k} {v:.4g}, the law {rec['predicted'][k]:.4g}" for k, v in rec["target"].items())
        return f"{seen} ({where})"

    listed = "; ".join(run(rec) for rec in s.off_trend[:most])
    more = f"; and {len(s.off_trend) - most} more" if len(s.off_trend) > most else ""
    n = len(s.off_trend)
    them = "them" if n > 1 else "it"
    return (f"{n} of {n_train} train runs lie{'s' if n == 1 else ''} more than {TRIM_SIGMAS:g} robust sds off "
            f"this law: {listed}{more}. Runs that went wrong (a diverged seed, a mistyped value) or places where "
            f"the law misses the trend: check {them}; the fit gives {them} little weight (Huber loss)")


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

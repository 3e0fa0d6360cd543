"""Does a law stay sane one step beyond the data?

Folds only score a law where the search has runs. A law can pass them all
and still run away just past the largest run: an exponential hiding in the
tail of a logistic, a pole just outside the range, two large terms that
cancel on the data and not beyond. Any researcher would throw such a law
out at a glance at its curve. The check here is that glance, in numbers:
fit the law on all train rows, predict the probe inputs one step beyond
validation (``Task.probe``), and measure how far the predictions leave the
range the group's targets span on train, in units of that span.

A loss that falls, a metric that rises, a U-shape: one step beyond the data
they move by about one band's worth, far less than the whole observed range
(``LIMIT`` = 1 leaves room for a law that keeps going as fast as the data
ever did). Predictions that are not finite count as infinitely far.

A target that is positive and spans decades (GPU-hours, compute-optimal
tokens, a loss in raw nats that grows with the data) moves by ratios: a law
that keeps the data's own power one step further multiplies the largest
value again, which is many linear spans but one band in log. For such a
target (all train values of the group positive, the largest ``LOG_SPAN``
times the smallest or more) the excess is measured on log values, and a
prediction at or below zero counts as infinitely far.

A declared target range (``--target-range``, ``Task.target_range``) is a
second edge of the same check: a prediction outside it is as impossible as
one that is not finite, so it also counts as infinitely far, and the law is
passed over wherever ``plausible`` compares the excess with the limit (one
mechanism, whatever the limit). A small slack is allowed, ``RANGE_SLACK`` of
the group's train target span: a law that levels off at the bound (a
sigmoid heading to an accuracy of 1) may land a rounding error past it. The
folds need no such check: their rows hold real targets, all inside the
range, so a law leaving it there already pays in its fold R².

The same probe inputs also show how much a law's extrapolation depends on
the runs it saw (``drift``): its fits on the inner folds (fewer runs, below a
band) predict them too, and the move from its fit on all train, in the same
spans, tells a law whose step beyond the data holds from one that bends
through the last runs. It is shown beside each law in the running; with
``selection_steady`` set, the final pick also uses it among laws whose
scores are too close to tell apart (``search.selection.steadiest``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from evosld.tasks.targetrange import outside

#: A law whose probe predictions leave the group's train target range by more than this many spans is implausible.
LIMIT = 1.0
#: A group's target, all positive, spanning this factor or more is measured in log (ratios), not in linear spans.
LOG_SPAN = 10.0
#: How far past a declared target range a probe prediction may land, in train target spans. Relative to the span
#: (as the rest of the check) so units do not matter; 1% is a rounding error on a plot of the data, far inside the
#: noise of a bounded metric, and a hundred times tighter than ``LIMIT``: a law that overshoots visibly is refused.
RANGE_SLACK = 0.01


def target_span(y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A group's train targets (N, T) as the check measures them, per output: (lo, hi, varies, logged).

    ``logged``: the output is positive and spans ``LOG_SPAN`` or more, so it is measured on log values
    (``measured``); ``lo`` and ``hi`` are the raw bounds.
    """
    lo, hi = np.nanmin(y, axis=0), np.nanmax(y, axis=0)
    ok = hi > lo
    return lo, hi, ok, ok & (lo > 0) & (hi >= LOG_SPAN * lo)


def measured(values: np.ndarray, logged: np.ndarray) -> np.ndarray | None:
    """Values (M, T) on the check's scale: log values on the ``logged`` outputs (one step beyond a power law
    is one band's worth in log); None when a value there is at or below zero."""
    if np.any(values[:, logged] <= 0):
        return None
    if not logged.any():
        return values
    out = values.copy()
    out[:, logged] = np.log(out[:, logged])
    return out


def runaway(predictions: Mapping[str, np.ndarray], targets: Mapping[str, np.ndarray],
            target_range: tuple[float | None, float | None] | None = None) -> float:
    """How far probe predictions leave the train target range, in spans (0 inside it).

    Args:
        predictions: group -> (M_g,) or (M_g, T) predictions at the probe inputs.
        targets: group -> (N_g,) or (N_g, T) train targets.
        target_range: the declared range of every target, (lo, hi) with None
            for an open side (``tasks.targetrange``); None: none declared.
    Returns:
        The largest excess over groups and outputs, ``max(lo - p, p - hi, 0) /
        (hi - lo)`` (on log values for a positive output spanning ``LOG_SPAN``
        or more); ``inf`` when a prediction is not finite or has the wrong
        shape, or lies outside ``target_range`` by more than ``RANGE_SLACK``
        spans; 0 with no probe. A group whose targets do not vary is skipped.
    """
    worst = 0.0
    for g, pred in predictions.items():
        if g not in targets:
            continue
        y = np.asarray(targets[g], dtype=float)
        y = y.reshape(len(y), -1)
        try:
            p = np.asarray(pred, dtype=float).reshape(-1, y.shape[1])
        except ValueError:
            return math.inf
        if not np.all(np.isfinite(p)):
            return math.inf
        lo, hi, ok, logged = target_span(y)
        if not ok.any():
            continue
        if target_range is not None and outside(p[:, ok], target_range, RANGE_SLACK * (hi - lo)[ok]).any():
            return math.inf
        p = measured(p, logged)
        if p is None:  # a positive target spanning decades, predicted at or below zero
            return math.inf
        lo, hi = measured(lo[None], logged)[0], measured(hi[None], logged)[0]
        excess = np.maximum(np.maximum(lo - p, p - hi), 0.0)[:, ok] / (hi - lo)[ok]
        if excess.size:
            worst = max(worst, float(excess.max()))
    return worst


def drift(full: Mapping[str, np.ndarray], refits: Sequence[Mapping[str, np.ndarray]],
          targets: Mapping[str, np.ndarray]) -> float | None:
    """How far a law's probe predictions move when it is fitted on fewer runs, in spans (0: not at all).

    The law fitted on all train rows predicts the probe inputs (``full``);
    so does each of its fold fits (``refits``: fitted below a band, without
    validation, ``evaluation.foldscores``). Per fit, the root mean square of
    the moves over every group's probe points, each in units of the group's
    train target span (on log values for a positive target spanning
    ``LOG_SPAN`` or more, as ``runaway`` measures); then the mean over fits.

    Args:
        full: group -> (M_g,) or (M_g, T) predictions of the fit on all train.
        refits: per fold fit, group -> (M_g,) or (M_g, T) predictions (None: the fit failed).
        targets: group -> (N_g,) or (N_g, T) train targets.
    Returns:
        The mean move in spans; ``inf`` when a fold fit failed or a prediction is not
        finite (or not positive on a log-measured target); None with no fold fit or no
        group to compare.
    """
    moves = []
    for refit in refits:
        if refit is None:
            return math.inf
        diffs = []
        for g, pred in refit.items():
            if g not in full or g not in targets:
                continue
            y = np.asarray(targets[g], dtype=float)
            y = y.reshape(len(y), -1)
            try:
                a = np.asarray(pred, dtype=float).reshape(-1, y.shape[1])
                b = np.asarray(full[g], dtype=float).reshape(a.shape)
            except ValueError:
                return math.inf
            if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
                return math.inf
            lo, hi, ok, logged = target_span(y)
            a, b = measured(a, logged), measured(b, logged)
            if a is None or b is None:
                return math.inf
            lo, hi = measured(lo[None], logged)[0], measured(hi[None], logged)[0]
            diffs.append(((a - b)[:, ok] / (hi - lo)[ok]).ravel())
        d = np.concatenate(diffs) if diffs else np.empty(0)
        if d.size:
            moves.append(float(np.sqrt(np.mean(d ** 2))))
    return float(np.mean(moves)) if moves else None


def plausible(excess: float | None, limit: float = LIMIT) -> bool:
    """True when the probe excess is known and within ``limit`` spans (None: not checked, counts as plausible)."""
    return excess is None or (math.isfinite(excess) and excess <= limit)

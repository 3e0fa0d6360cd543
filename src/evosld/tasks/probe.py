"""Probe rows: one step beyond validation, where a law will next be asked to predict.

The folds check a law on rows the search holds (``tasks.folds``); none of them
reaches past the largest train run, so a law that fits every band and then
runs away just beyond the data (an exponential hidden in a logistic tail, a
pole just past the range) passes them all. The probe is a set of made-up
inputs one step further along the direction the validation band lies from
the rows before it: per group, each validation row shifted by the step from
the band below validation (the first inner fold) to validation, feature by
feature (the difference of their medians, in log scale for size-like
features). No targets are made up and no test row is read; only inputs are
produced, to see what the law predicts there (``search.plausibility``).

The step is taken along the features the hold-out rule reads (``along``:
``largest:N`` steps N, ``N >= a or D >= b`` steps N and D); the other
features keep the validation rows' values. On an uneven grid, or sizes read
off a figure, the band below validation holds other values of them by chance
(the largest model trained on 1e9 tokens, the next one on 1.6e10), and a step
along them would probe a region the test never reaches: a Chinchilla law
probed at 1/16 of its smallest data size rose two train spans above the data
there and was passed over as running away, on every table of that shape.
When the rule reads no feature (a threshold on compute, with size and data as
features), every feature steps: the runs' own path towards the hold-out.
Nor does a step along them go back from the held-out side: with a compound rule
(``N >= a or D >= b``) on jittered sizes, a group's validation band can be
one run just past the D threshold and its band below one at a larger N, and
the step in N then pointed down, probing ten times below the smallest model.

With no direction (held-out mixtures: random folds) there is no step and no
probe.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from evosld.tasks.splits import group_keys


def _log_scale(values: np.ndarray, declared: bool) -> bool:
    """Treat a feature in log scale: declared so, or all positive and spanning >= 10x."""
    if declared:
        return bool(np.all(values > 0))
    return bool(len(values) and np.all(values > 0) and values.max() >= 10 * values.min())


def probe_rows(train: pd.DataFrame, val_mask: np.ndarray, band_mask: np.ndarray | None,
               features: tuple[str, ...], log_features: tuple[str, ...] = (),
               along: dict[str, int] | None = None) -> dict[str, np.ndarray]:
    """Inputs one step beyond validation, per group.

    Args:
        train: the train table (N rows, with a ``group`` column when grouped).
        val_mask: (N,) bool, the validation rows.
        band_mask: (N,) bool, the band just below validation (first inner
            fold's scored rows); None when folds have no direction (then no probe).
        features: feature columns, in order.
        log_features: features declared on a log scale.
        along: the features to step along (those the hold-out rule reads), each with the way the held-out
            region lies (+1 above, -1 below, 0 either: a step the other way is not taken); empty or None:
            every feature, either way.
    Returns:
        group -> (M_g, F) probe inputs, M_g = the group's validation rows;
        groups with no validation rows, no rows below validation, or no step beyond them are left out.
    """
    if band_mask is None or not np.any(val_mask):
        return {}
    groups = group_keys(train)
    X = train[list(features)].to_numpy(dtype=float)
    logs = [_log_scale(X[:, j][np.isfinite(X[:, j])], f in log_features) for j, f in enumerate(features)]
    along = along or {}
    moved = np.array([not along or f in along for f in features])
    ways = np.array([along.get(f, 0) for f in features], dtype=float)
    T = X.copy()
    for j, use_log in enumerate(logs):
        if use_log:
            T[:, j] = np.log(X[:, j])
    out: dict[str, np.ndarray] = {}
    for g in dict.fromkeys(groups):
        here = groups == g
        val = here & val_mask
        below = here & band_mask
        if not below.any():
            below = here & ~val_mask
        if not val.any() or not below.any():
            continue
        step = np.nanmedian(T[val], axis=0) - np.nanmedian(T[below], axis=0)
        step = np.where(step * ways < 0, 0.0, step)  # a band of one jittered run can point back: no step then
        stepped = np.flatnonzero(moved & (step != 0))
        if not len(stepped):
            continue  # no step beyond validation along the rule's features: nothing past the data to probe
        shifted = X[val].copy()  # the features not stepped keep the validation rows' values exactly
        for j in stepped:
            shifted[:, j] = np.exp(T[val][:, j] + step[j]) if logs[j] else T[val][:, j] + step[j]
        if np.all(np.isfinite(shifted)):
            out[str(g)] = shifted
    return out

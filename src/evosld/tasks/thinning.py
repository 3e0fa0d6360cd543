"""Fewer fit rows for the search's fits on a table of many rows (learning curves logged at every step).

A table is meant to hold one row per training run, but a learning curve
logged at every step gives thousands of rows per run (84,000 in all for
seven model sizes): every candidate then fits on 60,000 rows, about 4 s an
evaluation where a few hundred rows take a tenth of that, and a 60 s search
tries some 25 laws. The search's fits (validation and the inner folds, and
the proposer's screen) therefore use about ``SEARCH_FIT_ROWS`` of the fit
rows (not exactly: each group keeps at least ``MIN_GROUP_ROWS`` and a row per
level, so a table of many small groups keeps more); the test score, the
returned law's parameters, ``evosld predict`` and
the report fit on every train row.

Which rows: the same share of every group's rows (so the groups keep their
weights in the fit), spread evenly along the group's rows sorted by their
features, the feature with the fewest distinct values first (each model
size's curve keeps rows evenly along its steps), and every distinct value of
a feature with at most ``LEVELS`` of them keeps at least one row (a model
size with few logged steps is not lost). Least squares on an even share of
the rows estimates the same fit as on all of them; the scores the search
ranks laws by are those of fits a little noisier, never of other data.
Deterministic (no random draw). No table of SLDBench (at most 1,731 train
rows) or of the generality benchmark reaches the cap, so their runs are
unchanged.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: Fit rows a search-time fit uses, about (the test fit uses all).
SEARCH_FIT_ROWS = 4000
#: A feature with at most this many distinct values in a group keeps at least one row of each.
LEVELS = 64
#: Least rows a group keeps (all of them when it has fewer).
MIN_GROUP_ROWS = 20


def thinned(df: pd.DataFrame, features: tuple[str, ...], group_column: str, cap: int | None = None) -> pd.DataFrame:
    """``df`` itself when it has at most ``cap`` rows, else about ``cap`` of its rows (see the module docstring).

    Args:
        df: (N, ...) fit rows, with the ``features`` columns and ``group_column``.
        features: the feature columns.
        group_column: the column naming each row's group.
        cap: the most rows to keep (roughly: each group keeps at least ``MIN_GROUP_ROWS`` and one row per level);
            default ``SEARCH_FIT_ROWS``.
    Returns:
        The kept rows, in ``df``'s order.
    """
    cap = SEARCH_FIT_ROWS if cap is None else cap
    if len(df) <= cap:
        return df
    share = cap / len(df)
    values = df[list(features)].to_numpy(dtype=float)
    kept = np.zeros(len(df), dtype=bool)
    for rows in df.groupby(df[group_column].astype(str).to_numpy(), sort=False).indices.values():
        kept[rows[_spread(values[rows], share)]] = True
    return df.iloc[np.flatnonzero(kept)]


def _spread(values: np.ndarray, share: float) -> np.ndarray:
    """Positions (sorted) of about ``share`` of one group's rows, (n, F) ``values``, evenly along its sorted features."""
    n = len(values)
    k = min(n, max(MIN_GROUP_ROWS, int(round(n * share))))
    distinct = [len(np.unique(values[:, j])) for j in range(values.shape[1])]
    order_cols = sorted(range(values.shape[1]), key=lambda j: distinct[j])  # fewest distinct values first
    order = np.lexsort([values[:, j] for j in reversed(order_cols)])  # lexsort's last key sorts first
    picks = set(order[np.unique(np.round(np.linspace(0, n - 1, k)).astype(int))].tolist())
    for j in range(values.shape[1]):
        if distinct[j] > LEVELS:
            continue
        for v in np.unique(values[:, j]):
            rows = np.flatnonzero(values[:, j] == v)
            if not picks.intersection(rows.tolist()):
                picks.add(int(rows[len(rows) // 2]))
    return np.array(sorted(picks), dtype=int)

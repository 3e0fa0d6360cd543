"""Distinct scales with a tolerance.

Sizes read off a figure, or logged with rounding, are never exactly equal:
two "1.3e9" models may be stored as 1.2999e9 and 1.3001e9. Everywhere a rule
or the search counts distinct values of a column (``largest:COL``, the
parameter-count guard along a scale feature, the extrapolation folds), values
within a relative ``rtol`` of their neighbour count as one scale. Pure
functions.
"""

from __future__ import annotations

import numpy as np

#: Values closer than this relative difference count as one scale.
DEFAULT_RTOL = 1e-3


def levels(values: np.ndarray, rtol: float = DEFAULT_RTOL) -> np.ndarray:
    """(N,) int level of each value: 0 for the smallest scale, +1 per distinct scale above.

    Sorted values whose gap to the previous one is at most ``rtol`` times the
    larger magnitude share a level (so a chain of near-equal values is one
    scale). NaN values get level -1.
    """
    v = np.asarray(values, dtype=float).ravel()
    out = np.full(len(v), -1, dtype=int)
    ok = np.flatnonzero(np.isfinite(v))
    if not len(ok):
        return out
    order = ok[np.argsort(v[ok], kind="stable")]
    sv = v[order]
    mag = np.maximum(np.abs(sv[1:]), np.abs(sv[:-1]))
    gap = np.diff(sv) > max(float(rtol), 0.0) * mag
    out[order] = np.concatenate([[0], np.cumsum(gap)])
    return out


def n_levels(values: np.ndarray, rtol: float = DEFAULT_RTOL) -> int:
    """Number of distinct scales among ``values`` (see ``levels``)."""
    lv = levels(values, rtol)
    return int(lv.max()) + 1 if len(lv) and lv.max() >= 0 else 0

"""Distinct scales with a tolerance.

Sizes read off a figure, or logged with rounding, are never exactly equal:
two "1.3e9" models may be stored as 1.2999e9 and 1.3001e9. Everywhere a rule
or the search counts distinct values of a column (``largest:COL``, the
parameter-count guard along a scale feature, the extrapolation folds), values
within a relative ``rtol`` of the smallest value of their scale count as one
scale; a continuous feature is many scales, not one chain. Pure functions.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
import pandas as pd

from evosld.errors import OptionValueError, shown

#: Values closer than this relative difference count as one scale.
DEFAULT_RTOL = 1e-3


def tolerance_problem(value: object) -> str | None:
    """Why ``value`` cannot be a scale tolerance, worded to follow its name
    ("must be a relative difference in [0, 0.5), e.g. 1e-3 (got -1)"); None when it can."""
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if number and math.isfinite(value) and 0 <= value < 0.5:
        return None
    return f"must be a relative difference in [0, 0.5), e.g. 1e-3 (got {shown(value) if number else repr(value)})"


def check_tolerance(value: object, given_as: str) -> float:
    """``value`` as a scale tolerance; else OptionValueError naming it as given
    (``--scale-tolerance``, ``scale_tolerance``)."""
    problem = tolerance_problem(value)
    if problem:
        raise OptionValueError(f"{given_as} {problem}")
    return float(value)  # type: ignore[arg-type]


def levels(values: np.ndarray, rtol: float = DEFAULT_RTOL) -> np.ndarray:
    """(N,) int level of each value: 0 for the smallest scale, +1 per distinct scale above.

    Over the sorted values, each level is anchored at its smallest value ``a``
    and holds every value ``v`` with ``v - a`` at most ``rtol`` times the
    larger of ``|a|`` and ``|v|``; the first value beyond starts the next
    level. So a level never spans more than ``rtol`` of its anchor: jittered
    copies of one size are one scale, while a continuous feature (thousands of
    sizes, each within ``rtol`` of its neighbour) has as many levels as its
    range holds steps of ``rtol``, not one. NaN and infinite values get
    level -1.

    Args:
        values: (N,) numbers.
        rtol: relative tolerance in [0, 1) (negative counts as 0).
    """
    r = max(float(rtol), 0.0)
    if not r < 1.0:
        raise ValueError(f"scale tolerance {rtol!r} must be below 1")
    v = np.asarray(values, dtype=float).ravel()
    out = np.full(len(v), -1, dtype=int)
    ok = np.flatnonzero(np.isfinite(v))
    if not len(ok):
        return out
    order = ok[np.argsort(v[ok], kind="stable")]
    sv = v[order]
    lv = np.empty(len(sv), dtype=int)
    start, level = 0, 0
    while start < len(sv):
        a = sv[start]
        # v - a > r * max(|a|, |v|) is monotone in v (r < 1): beyond this bound a value leaves the level
        bound = a / (1.0 - r) if a >= 0 else a * (1.0 - r)
        stop = max(int(np.searchsorted(sv, bound, side="right")), start + 1)
        lv[start:stop] = level
        start, level = stop, level + 1
    out[order] = lv
    return out


def level_columns(values: np.ndarray, rtol: float = DEFAULT_RTOL) -> np.ndarray:
    """(N, F) int scale level of each row along each column (``levels`` per column); (N, 1) zeros when F is 0.

    Rows with equal levels in every column are one setting: jittered copies of a size are one run.

    Args:
        values: (N, F) numbers, one column per feature.
        rtol: relative tolerance, as in ``levels``.
    """
    v = np.asarray(values, dtype=float)
    v = v.reshape(len(v), -1)
    if not v.shape[1]:
        return np.zeros((len(v), 1), dtype=int)
    return np.column_stack([levels(v[:, j], rtol) for j in range(v.shape[1])])


def n_levels(values: np.ndarray, rtol: float = DEFAULT_RTOL) -> int:
    """Number of distinct scales among ``values`` (see ``levels``)."""
    lv = levels(values, rtol)
    return int(lv.max()) + 1 if len(lv) and lv.max() >= 0 else 0


def levels_per_group(values: np.ndarray, groups: np.ndarray, rtol: float = DEFAULT_RTOL) -> dict[str, int]:
    """Each group's number of distinct scales (``n_levels``) of one feature, in order of first appearance.

    Args:
        values: (N,) the feature's values.
        groups: (N,) each row's group.
    """
    return {g: n_levels(values[groups == g], rtol) for g in dict.fromkeys(groups)}


def fewest_levels(columns: Iterable[np.ndarray], rtol: float = DEFAULT_RTOL) -> int:
    """The fewest distinct scales (``n_levels``) of one feature over the groups where it varies (1 when it varies
    in none): a law fitted group by group is only as well pinned along it as its worst-sampled group.

    Args:
        columns: per group, the feature's values (N_g,).
    """
    return min((c for x in columns if (c := n_levels(x, rtol)) >= 2), default=1)


#: Tolerances ``top_cluster_tolerance`` suggests (round values a user can type).
SUGGESTED_TOLERANCES = (0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2)


def top_cluster_tolerance(values: np.ndarray, groups: np.ndarray, want: int, within: float = 0.1,
                          above: float = 0.0) -> float | None:
    """The scale tolerance that would make ``want`` rows the largest scale of their groups, when they lie close.

    A model size read off a figure is a cluster of values a few percent apart, not one value: ``largest:N``
    then holds out one run per group. When at least ``want`` rows lie within ``within`` of their group's largest
    value (relative), this gives the round tolerance (``SUGGESTED_TOLERANCES``) that counts all of them as that
    one size; else None (the largest sizes are distinct, too few rows lie near them, or no such tolerance is
    above ``above``, the one in use).

    Args:
        values: (N,) the column's values.
        groups: (N,) each row's group.
        want: rows the largest scales should hold together (all groups).
        within: largest relative distance from the top still read as one size.
        above: only tolerances above this are suggested.
    """
    v = np.asarray(values, dtype=float)
    v = np.where(np.isfinite(v), v, np.nan)
    top = pd.Series(v).groupby(np.asarray(groups)).transform("max").to_numpy()  # NaN rows: left out below
    with np.errstate(invalid="ignore", divide="ignore"):
        gaps = (top - v) / top
    near = gaps[np.isfinite(gaps) & (top > 0) & (gaps < within)]
    if len(near) < want or not np.any(near > 0):
        return None
    need = float(near.max()) * 1.2  # every row within ``within`` of its top, with a margin
    return next((t for t in SUGGESTED_TOLERANCES if t >= need and t > above), None)

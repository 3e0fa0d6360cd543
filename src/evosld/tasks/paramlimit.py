"""The default parameter limit of a user's table: a third of the runs a law is fitted on.

A built-in task carries its published limit. A user's table often has none,
and on a small table an unlimited search finds laws with as many parameters
as runs: they pass through the fit rows, and among hundreds of them one
passes through the few validation runs as well, by chance. On a synthetic
table of 24 runs (GPU-hours against compute, 10% noise, test the 4 largest)
the pick had 11 parameters and tested R² -1.8, while the generating power law
(2 parameters) tested 0.97. The inner folds fit on fewer runs still.

So without ``--max-params`` a law may have at most one parameter per
``ROWS_PER_PARAM`` fit runs of a typical group (the median over groups), and
never fewer than ``MIN_LIMIT``, per output: a floor, a coefficient and an
exponent, ``L = E + A/N^a``, the smallest law with an irreducible term. Every
published law has one, and the search allows no law without it along a scale
it extrapolates (a bare ``c ln N`` falls forever; ``mutate.valid``). Until
session 31 the least was two (a constant and a slope), which left a released
model suite of 15 sizes (8 fit runs) nothing with a floor: the pick was a
constant and tested R² -251, where ``E + A/N^a`` tests 0.97. A law is still
kept from passing through the runs along one feature by the identifiability
check (``proposers.symbolic.identify``: a curve needs more distinct values of
a feature than its parameters along it), so the third parameter is used
only where the runs can test it. Runs at
the same feature values (a row saved twice, seeds of one setting) count once:
a law passes through their mean as easily as through one run, so repeats
add no room for parameters; sizes within the scale tolerance
(``tasks.scales.levels``, as every count of scales) are one value, so a size
read off a figure twice, or jittered by a millionth, is one run too. Three
runs per parameter keeps at least two residual degrees of freedom per
parameter on the fit rows; it is a rule of thumb, not tuned on any table
(regression texts ask for 10 or more per parameter; scaling-law fits are
smooth, low-noise curves and routinely fit 5 parameters to 15-30 runs).
Large tables are not limited in practice (240 runs allow 70 parameters).
"""

from __future__ import annotations

import numpy as np

from evosld.tasks.scales import DEFAULT_RTOL, level_columns

#: Fit runs per fitted parameter, in a typical group.
ROWS_PER_PARAM = 3
#: The default limit is never below this (per output): a floor, a coefficient and an exponent.
MIN_LIMIT = 3


def default_param_limit(fit_groups: np.ndarray, n_targets: int,
                        points: np.ndarray | None = None, rtol: float = DEFAULT_RTOL) -> tuple[int, str]:
    """The parameter limit (summed over outputs) and how it was chosen, in words.

    Args:
        fit_groups: (N,) group key of every fit row (train minus validation).
        n_targets: number of outputs, each with its own parameters.
        points: (N, F) feature values of the fit rows; rows of a group with equal values
            (within ``rtol`` along every feature) count as one run. None: every row counts.
        rtol: values closer than this relative difference count as one scale.
    """
    groups = np.asarray(fit_groups).astype(str)
    pts = np.arange(len(groups))[:, None] if points is None else \
        level_columns(np.asarray(points, dtype=float).reshape(len(groups), -1), rtol)
    names = list(dict.fromkeys(groups))
    rows = np.array([int(np.sum(groups == g)) for g in names])
    distinct = np.array([len(np.unique(pts[groups == g], axis=0)) for g in names])
    typical = int(np.median(distinct)) if distinct.size else 0
    per_output = max(MIN_LIMIT, typical // ROWS_PER_PARAM)
    per = f"{per_output} per output, " if n_targets > 1 else ""
    where = "a typical group's" if distinct.size > 1 else "the"
    repeated = (distinct < rows).any()
    what = "distinct fit runs" if repeated else "fit runs"
    repeats = (f", rows with the same feature values counted once ({int(rows.sum())} fit rows in all)"
               if repeated else "")
    floor = (f" would give {typical // ROWS_PER_PARAM}; {MIN_LIMIT} is the least, a floor, a coefficient and an "
             "exponent as in E + A/N^a" if typical // ROWS_PER_PARAM < MIN_LIMIT else "")
    how = f"{per}one per {ROWS_PER_PARAM} of {where} {typical} {what}{repeats}{floor}; --max-params to change"
    return per_output * n_targets, how

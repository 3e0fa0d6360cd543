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
never fewer than ``MIN_LIMIT`` (a constant and a slope), per output. Three
runs per parameter keeps at least two residual degrees of freedom per
parameter on the fit rows; it is a rule of thumb, not tuned on any table
(regression texts ask for 10 or more per parameter; scaling-law fits are
smooth, low-noise curves and routinely fit 5 parameters to 15-30 runs).
Large tables are not limited in practice (240 runs allow 70 parameters).
"""

from __future__ import annotations

import numpy as np

#: Fit runs per fitted parameter, in a typical group.
ROWS_PER_PARAM = 3
#: The default limit is never below this (per output).
MIN_LIMIT = 2


def default_param_limit(fit_groups: np.ndarray, n_targets: int) -> tuple[int, str]:
    """The parameter limit (summed over outputs) and how it was chosen, in words.

    Args:
        fit_groups: (N,) group key of every fit row (train minus validation).
        n_targets: number of outputs, each with its own parameters.
    """
    _, counts = np.unique(np.asarray(fit_groups).astype(str), return_counts=True)
    typical = int(np.median(counts)) if counts.size else 0
    per_output = max(MIN_LIMIT, typical // ROWS_PER_PARAM)
    per = f"{per_output} per output, " if n_targets > 1 else ""
    where = "a typical group's" if counts.size > 1 else "the"
    how = (f"{per}one per {ROWS_PER_PARAM} of {where} {typical} fit runs; "
           "--max-params to change")
    return per_output * n_targets, how

"""Inner hold-out: the fit rows that imitate validation, found without targets.

Validation lies in some direction from the fit rows (larger models, more
data); the fit rows furthest in that direction are a second, smaller
extrapolation test that reads neither validation nor test targets. The
symbolic proposer screens structures on it and the final selection breaks
near-ties in validation R² with it (``search.selection``). Pure functions.
"""

from __future__ import annotations

import numpy as np


def feature_kind(col: np.ndarray, declared_log: bool) -> str:
    """How a feature is scaled: ``"log"``, ``"frac"`` or ``"lin"``.

    ``col`` is the (N,) column over the training rows. A feature is log-scale
    when it is positive and declared so, or positive, not a fraction, and
    spanning more than a factor of 20; a feature within [0, 1] is a fraction.
    """
    col = np.asarray(col, dtype=float)
    positive = bool(np.all(col > 0))
    unit = bool(col.min() >= 0 and col.max() <= 1)
    if positive and (declared_log or (not unit and col.max() / col.min() > 20)):
        return "log"
    return "frac" if unit else "lin"


def scaled(X: np.ndarray, kinds: tuple[str, ...]) -> np.ndarray:
    """(N, F) features with the log-scale ones logged (the others as they are)."""
    X = np.asarray(X, dtype=float)
    return np.column_stack([np.log(np.maximum(X[:, i], 1e-300)) if k == "log" else X[:, i]
                            for i, k in enumerate(kinds)]) if X.size else X


def val_direction(fit: np.ndarray, val: np.ndarray) -> np.ndarray | None:
    """The direction validation lies in from the fit rows, or None.

    Args:
        fit: (N, F) scaled features of all fit rows.
        val: (M, F) scaled features of the validation rows.
    Returns:
        (F,) weights ``w``: ``U @ w`` orders rows by how far they lie towards
        validation, each feature measured in units of the fit rows' spread.
        None when validation is displaced by less than half a spread (held-out
        mixtures).
    """
    sd = fit.std(axis=0)
    sd = np.where(sd > 0, sd, 1.0)
    if not len(val):
        return None
    direction = (val.mean(axis=0) - fit.mean(axis=0)) / sd / sd
    return direction if float(np.linalg.norm(direction * sd)) > 0.5 else None


def holdout_rows(U: np.ndarray, direction: np.ndarray | None, rng: np.random.Generator, frac: float = 0.2) -> np.ndarray:
    """Boolean mask (N,) of one group's fit rows that imitate validation.

    The ``frac`` share of the rows (at least one, none below four rows) that
    lie furthest along ``direction`` (see ``val_direction``), or a random
    share drawn from ``rng`` when there is no direction.
    """
    n = len(U)
    k = max(1, int(round(frac * n))) if n >= 4 else 0
    held = np.zeros(n, dtype=bool)
    if not k:
        return held
    if direction is not None:
        held[np.argsort(U @ direction, kind="stable")[n - k:]] = True
    else:
        held[rng.choice(n, size=k, replace=False)] = True
    return held

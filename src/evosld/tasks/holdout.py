"""Feature scales and the direction a held-out slice lies in, found without targets.

Validation (or test) lies in some direction from the rows a law is fitted on
(larger models, more data). ``tasks.folds`` falls back on this direction to
order rows towards a held-out slice when its rule has no threshold shape (a
test table given as a file). Pure functions.
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

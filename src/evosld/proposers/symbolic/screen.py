"""Pre-screening: score a structure on the fit split only, before proposing it.

The fit split (train minus validation) is cut once more, per group, into an
inner fit part and an inner hold-out that imitates the validation slice: the
rows that lie furthest in the direction validation lies from the fit rows (the
largest scales), or a seeded random fifth when validation has no direction
(held-out mixtures). A structure's screen score is the R² of its inner fit on
the inner hold-out, all groups concatenated (SLDBench's R²). Validation targets
are never read; test rows are not in the search view at all.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from evosld.proposers.symbolic.blocks import Space
from evosld.proposers.symbolic.expr import Law
from evosld.proposers.symbolic.model import Model
from evosld.tasks.holdout import holdout_rows, val_direction

#: Fitter settings for screening (cheaper than the programs' own).
SCREEN_FIT = {"n_starts": 12, "n_refine": 1, "max_nfev": 80}


def r2(pred: np.ndarray, truth: np.ndarray) -> float:
    """SLDBench R² (mean over outputs of 1 - MSE/Var); -inf if not finite."""
    p = np.asarray(pred, dtype=float).reshape(len(truth), -1)
    t = np.asarray(truth, dtype=float).reshape(len(truth), -1)
    if not np.all(np.isfinite(p)):
        return -np.inf
    var = np.var(t, axis=0)
    var = np.where(var > 1e-12, var, 1e-12)
    return float(1.0 - np.mean(np.mean((p - t) ** 2, axis=0) / var))


@dataclass
class Split:
    """One group's inner split: (X, y) to fit, (X, y) to score."""

    X_fit: np.ndarray
    y_fit: np.ndarray
    X_out: np.ndarray
    y_out: np.ndarray


def inner_splits(
    fit: dict, val_X: dict, space: Space, frac: float = 0.2, max_rows: int = 400, seed: int = 0
) -> list[Split]:
    """Cut each group's fit rows into an inner fit part and an inner hold-out.

    Args:
        fit: group -> GroupData (X (N, F), y) of the fit split.
        val_X: group -> (M, F) validation features (targets unused).
        space: the feature space.
        frac: share of each group's rows held out.
        max_rows: inner fit rows kept per group (a seeded subsample beyond that).
        seed: seed of the random choices.
    """
    rng = np.random.default_rng(seed)
    all_fit = np.vstack([space.transform(d.X) for d in fit.values()])
    all_val = np.vstack([space.transform(v) for v in val_X.values()]) if val_X else all_fit[:0]
    direction = val_direction(all_fit, all_val)
    out = []
    for d in fit.values():
        held = holdout_rows(space.transform(d.X), direction, rng, frac)
        fit_idx = np.flatnonzero(~held)
        if len(fit_idx) > max_rows:
            fit_idx = np.sort(rng.choice(fit_idx, size=max_rows, replace=False))
        out.append(Split(d.X[fit_idx], d.y[fit_idx], d.X[held], d.y[held]))
    return out


@dataclass
class Screen:
    """Scores structures by inner hold-out R² (cached by structure key)."""

    splits: list[Split]
    space: Space
    settings: dict = field(default_factory=lambda: dict(SCREEN_FIT))
    cache: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0

    def score(self, law: Law) -> float:
        key = law.key
        if key in self.cache:
            return self.cache[key]
        t0 = time.perf_counter()
        model = Model(law, self.space)
        preds, truth = [], []
        try:
            for s in self.splits:
                if len(s.X_out) == 0:
                    continue
                params = model.fit(s.X_fit, s.y_fit, **self.settings)
                preds.append(model.predict(s.X_out, params))
                truth.append(s.y_out)
            value = r2(np.concatenate(preds), np.concatenate(truth)) if preds else -np.inf
        except (ValueError, np.linalg.LinAlgError, FloatingPointError):
            value = -np.inf
        self.seconds += time.perf_counter() - t0
        self.cache[key] = value
        return value

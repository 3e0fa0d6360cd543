"""Pre-screening: score a structure on the fit split only, before proposing it.

The screen uses the task's first inner extrapolation fold (``Task.inner_folds``,
the same folds the final pick uses): fit on the fit rows beyond the band next
in line below validation, predict that band (random bands for held-out
mixtures). A structure's screen score is the R² of that fit on the band, all
groups concatenated (SLDBench's R²). Validation targets are never read; test
rows are not in the search view at all.

A table with few scales has no inner fold: three model sizes in the fit rows,
and a band below validation would leave two to fit a curve on, too few for
the final pick to judge a law's shape by (``tasks.folds.MIN_FIT_LEVELS_ALONG``).
The screen only orders structures, so it takes that fold all the same (two
scales to fit, the band above them scored: ``SCREEN_LEVELS_ALONG``), and
where even that cannot be carved it holds out a seeded fifth of each group's
fit rows at random (``random_splits``): how a structure fits runs within
their range. Until session 47 the screen scored nothing there: every
structure screened -inf, proposals were the smallest law of each batch, and
on a learning-rate table with three model sizes in its fit rows
(benchmarks/realtables.py, lr_bsz_largest_model) no law proposed in 60 s used
the learning rate or the batch size well: the pick ignored both. The fold on
two scales was preferred to the random hold-out alone because it screens
along the direction validation and test lie in: on synthetic tables with
three sizes and a simple true law, the random hold-out favoured laws that
bend through the runs within range, and tested worse.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from evosld.evaluation.metrics import SPREAD_REL
from evosld.proposers.symbolic.expr import Law
from evosld.proposers.symbolic.model import Model
from evosld.proposers.symbolic.space import Space

#: Fewest scales along a feature the screen's fold fits on when the task has no inner fold (the folds' own least
#: is ``tasks.folds.MIN_FIT_LEVELS_ALONG``).
SCREEN_LEVELS_ALONG = 2
#: Share of a group's fit rows the screen holds out at random when it has no fold at all.
RANDOM_SHARE = 0.2
#: Least fit rows of a group for that random hold-out (fewer: the group is not screened).
RANDOM_MIN_ROWS = 10

#: Fitter settings for screening (cheaper than the programs' own). Least
#: squares only: the programs' final Huber polish was 45% of the screen's time
#: and changes a structure's rank little (the screen only orders structures;
#: the stored program fits robustly). Chosen from a profile, not from test R².
SCREEN_FIT = {"n_starts": 12, "n_refine": 1, "max_nfev": 80, "huber": 0.0}


def r2(pred: np.ndarray, truth: np.ndarray) -> float:
    """SLDBench R² (mean over outputs of 1 - MSE/Var); -inf if not finite.

    A variance below 1e-12 is raised to it, or to float precision relative to the targets when that is
    smaller (``SPREAD_REL``, the scores' own relative floor): a target in small units (variance 1e-14 at an
    optimal learning rate ~1e-5) keeps its R².
    """
    p = np.asarray(pred, dtype=float).reshape(len(truth), -1)
    t = np.asarray(truth, dtype=float).reshape(len(truth), -1)
    if not np.all(np.isfinite(p)):
        return -np.inf
    var = np.var(t, axis=0)
    floor = np.minimum(1e-12, (SPREAD_REL * np.sqrt(np.mean(t * t, axis=0))) ** 2)
    var = np.where(var > floor, var, np.maximum(floor, 1e-300))
    return float(1.0 - np.mean(np.mean((p - t) ** 2, axis=0) / var))


@dataclass
class Split:
    """One group's inner split: (X, y) to fit, (X, y) to score."""

    X_fit: np.ndarray
    y_fit: np.ndarray
    X_out: np.ndarray
    y_out: np.ndarray


def fold_splits(task, fold_name: str = "inner1", max_rows: int = 400, seed: int = 0) -> list[Split]:
    """Per group, the (X, y) an inner fold fits on and the (X, y) it scores.

    Args:
        task: the task's search view (``Task``).
        fold_name: which inner fold (``"inner1"``: next in line below validation).
        max_rows: fit rows kept per group (a seeded subsample beyond that).
        seed: seed of the subsample.
    Returns:
        One Split per group that has scored rows. When the task has no inner
        fold (too few scales below validation), the first fold that fits on
        ``SCREEN_LEVELS_ALONG`` scales; without that either, the random
        hold-out of ``random_splits``.
    """
    rng = np.random.default_rng(seed)
    if task.inner_folds(1):
        fit, scored = task.split_arrays(fold_name)
    elif few := task.inner_folds(1, min_levels_along=SCREEN_LEVELS_ALONG):
        fit, scored = task.arrays(task.train.loc[few[0].fit]), task.arrays(task.train.loc[few[0].scored])
    else:
        return random_splits(task, max_rows=max_rows, seed=seed)
    out = []
    for g, d in fit.items():
        if g not in scored:
            continue
        keep = np.arange(len(d.X))
        if len(keep) > max_rows:
            keep = np.sort(rng.choice(keep, size=max_rows, replace=False))
        out.append(Split(d.X[keep], d.y[keep], scored[g].X, scored[g].y))
    return out


def random_splits(task, share: float = RANDOM_SHARE, max_rows: int = 400, seed: int = 0) -> list[Split]:
    """Per group, a seeded random ``share`` of the fit rows (train less validation) to score, the rest to fit.

    Args:
        task: the task's search view (``Task``).
        share: share of each group's fit rows held out (at least one).
        max_rows: fit rows kept per group (a seeded subsample beyond that).
        seed: seed of the hold-out and the subsample.
    Returns:
        One Split per group with at least ``RANDOM_MIN_ROWS`` fit rows; empty when none has.
    """
    rng = np.random.default_rng(seed)
    fit, _ = task.split_arrays("val")
    out = []
    for d in fit.values():
        n = len(d.X)
        if n < RANDOM_MIN_ROWS:
            continue
        held = np.zeros(n, dtype=bool)
        held[rng.choice(n, size=max(1, int(round(share * n))), replace=False)] = True
        keep = np.flatnonzero(~held)
        if len(keep) > max_rows:
            keep = np.sort(rng.choice(keep, size=max_rows, replace=False))
        out.append(Split(d.X[keep], d.y[keep], d.X[held], d.y[held]))
    return out


@dataclass
class Screen:
    """Scores structures by their R² on the first inner fold, or the fallbacks of ``fold_splits`` (cached by key)."""

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

"""The Chinchilla form as a reference law for users' own tables.

    L(N, D) = E + A / N**alpha + B / D**beta        (Hoffmann et al. 2022, eq. 2)

When a table's features look like model size N and training data D (or the
user says which they are, ``--baseline chinchilla:N_COL,D_COL``), the run
refits this form and shows it beside the law it found, so the user sees
whether the search beat the textbook law on their own data.

The program is fitted as its authors fit it (Hoffmann et al. 2022, App. D.2;
Besiroglu et al. 2024, "Chinchilla scaling: a replication attempt"): a Huber
loss (delta = 1e-3) on log loss, the law written as a log-sum-exp of log E, log
A - alpha log N and log B - beta log D, minimised by L-BFGS-B from several
starts. Their grid of starts is replaced by a cheaper one: for each (alpha,
beta) of an 8 x 8 grid, (E, A, B) by non-negative least squares, and the five
best starts (by the Huber loss on log loss, the loss minimised) are refined,
with the exact gradient, in logs centred on the group's mean (so the fit is the
same in any unit of N and D). Each start's least squares leaves out the runs it
misses by more than five robust sds (1.4826 x the median absolute deviation)
and is solved again: one diverged run (loss 55 among losses near 3) pulled
every start towards it, the refinement set B to zero and never recovered it,
and the reference tested R² 0.00 on a table where it tests 0.99 without that
run.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence

import numpy as np

from evosld.errors import DataError
from evosld.program import source_text
from evosld.tasks.baselines.mixing import MIXING
from evosld.tasks.tables import joined_names, split_names

#: Name tokens that mark a column as model size N or as training data D.
N_TOKENS = {"n", "param", "params", "parameter", "parameters", "nparams", "model", "size"}
D_TOKENS = {"d", "token", "tokens", "data", "dataset", "examples", "samples", "ntokens"}
#: Name tokens that mark a column as a ratio (tokens per parameter), neither N nor D.
RATIO_TOKENS = {"per", "ratio"}

_TEMPLATE = '''"""Chinchilla form (Hoffmann et al. 2022), refit robustly.

    L(N, D) = E + A / N**alpha + B / D**beta

N is column {n_idx} ({n_name}) and D is column {d_idx} ({d_name}) of data_points.
5 fitted parameters per group and target: [E, A, alpha, B, beta]. Fitted as Hoffmann et al.
(2022, App. D.2) fit it: Huber loss (delta = 1e-3) on log loss, L-BFGS-B from the
best starts of a grid ((E, A, B) by non-negative least squares for each (alpha, beta)),
in logs centred on the group's mean: the same fit whatever the units of N and D.
"""

# EVOLVE-BLOCK-START
import numpy as np
from scipy.optimize import minimize, nnls

N_COL, D_COL = {n_idx}, {d_idx}
DELTA = 1e-3


def scaling_law_func(data_points, params):
    """Predict the loss.

    Args:
        data_points: (M, F) array; columns N_COL and D_COL are N and D.
        params: (5,) array [E, A, alpha, B, beta] for one target, or (T, 5), one row per target.
    Returns:
        (M,) predicted loss for one target, (M, T) for T targets.
    """
    X = np.atleast_2d(np.asarray(data_points, dtype=float))
    P = np.atleast_2d(np.asarray(params, dtype=float))[:, :5]  # (T, 5)
    E, A, alpha, B, beta = (P[None, :, k] for k in range(5))  # each (1, T)
    pred = E + A * X[:, N_COL, None] ** (-alpha) + B * X[:, D_COL, None] ** (-beta)  # (M, T)
    return pred[:, 0] if pred.shape[1] == 1 else pred


def _huber(r):
    a = np.abs(r)
    return np.where(a <= DELTA, 0.5 * r * r, DELTA * (a - 0.5 * DELTA))


def fit_scaling_law(data_points, loss_values):
    """Fit [E, A, alpha, B, beta] to one group, target by target (losses must be positive).

    Args:
        data_points: (M, F) array of runs.
        loss_values: (M,) array of losses, or (M, T) for T targets.
    Returns:
        (5,) array [E, A, alpha, B, beta] for one target, (T, 5) for T targets.
    """
    X = np.atleast_2d(np.asarray(data_points, dtype=float))
    Y = np.asarray(loss_values, dtype=float).reshape(len(X), -1)  # (M, T)
    rows = [_fit_one(X, y) for y in Y.T]
    return rows[0] if len(rows) == 1 else np.vstack(rows)


def _fit_one(X, y):
    """[E, A, alpha, B, beta] for one target: X (M, F), y (M,)."""
    logN, logD = np.log(X[:, N_COL]), np.log(X[:, D_COL])
    logy = np.log(np.maximum(y, 1e-12))
    starts = []
    for alpha in np.linspace(0.05, 1.2, 8):
        for beta in np.linspace(0.05, 1.2, 8):
            G = np.column_stack([np.ones_like(y), np.exp(-alpha * logN), np.exp(-beta * logD)])
            scale = np.abs(G).max(axis=0)
            coef, _ = nnls(G / scale, y)
            # Without the runs this start misses by more than 5 robust sds (a diverged run): least squares
            # bends every start towards such a run, and from there the Huber fit, which ignores it, cannot
            # bring back a term the start had set to zero (its gradient vanishes in the log-sum-exp).
            r = G @ (coef / scale) - y
            dev = np.abs(r - np.median(r))
            keep = dev <= 5 * 1.4826 * np.median(dev)
            if 3 <= keep.sum() < len(y):
                coef, _ = nnls(G[keep] / scale, y[keep])
            coef = coef / scale
            # ranked by the loss the refinement minimises: a sum of squares over every run was decided by the
            # diverged one (the five starts kept all sat at the grid's edge, alpha = 1.2, nearest to it)
            loss = float(np.sum(_huber(np.log(np.maximum(G @ coef, 1e-12)) - logy)))
            starts.append((loss, alpha, beta, coef))
    starts.sort(key=lambda s: s[0])

    # Minimised in logs centred on the group's own scale, log A - alpha log N = a_c - alpha (log N - mN):
    # the same law and optimum in any unit, where raw logs (~23 for tokens) tie each coefficient to its
    # exponent so tightly that L-BFGS-B stopped early when D was given in tokens and not in billions.
    mN, mD = float(np.mean(logN)), float(np.mean(logD))
    cN, cD = logN - mN, logD - mD

    def objective(theta):  # (value, gradient (5,)) of the Huber loss in log space
        e, a_c, alpha, b_c, beta = theta
        terms = np.stack([np.full_like(cN, e), a_c - alpha * cN, b_c - beta * cD])  # (3, M)
        top = terms.max(axis=0)
        weights = np.exp(terms - top)
        total = weights.sum(axis=0)
        r = top + np.log(total) - logy
        slope = np.clip(r, -DELTA, DELTA)  # the Huber loss's derivative
        w = slope * weights / total  # (3, M): d loss / d term
        grad = np.array([w[0].sum(), w[1].sum(), -(w[1] * cN).sum(), w[2].sum(), -(w[2] * cD).sum()])
        return float(np.sum(_huber(r))), grad

    best = None
    for _, alpha, beta, coef in starts[:5]:
        E, A, B = np.maximum(coef, 1e-8 * max(float(np.median(y)), 1e-12))
        theta0 = np.array([np.log(E), np.log(A) - alpha * mN, alpha, np.log(B) - beta * mD, beta])
        res = minimize(objective, theta0, jac=True, method="L-BFGS-B", options=dict(ftol=1e-15, gtol=1e-12),
                       bounds=[(None, None), (None, None), (0.0, 3.0), (None, None), (0.0, 3.0)])
        if best is None or res.fun < best.fun:
            best = res
    e, a_c, alpha, b_c, beta = best.x
    return np.array([np.exp(e), np.exp(a_c + alpha * mN), alpha, np.exp(b_c + beta * mD), beta])
# EVOLVE-BLOCK-END
'''


def _tokens(name: str) -> set[str]:
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name)
    return {t for t in re.split(r"[^a-z0-9]+", spaced.lower()) if t}


def guess_size_and_data(features: Sequence[str], log_features: Sequence[str]) -> tuple[str, str] | None:
    """(N column, D column) when exactly one log-scale feature looks like model size and one like data.

    A ratio (``tokens/param``, ``tokens_per_parameter``, ``data_ratio``: a ``/`` or the word per or ratio in its
    name) is neither: taken as data, the reference fitted tokens per parameter as D and tested R² 0.24 beside
    a pick at 0.99 (a fuzzed user table, session 55).
    """
    both = {f for f in features if "/" in f or _tokens(f) & RATIO_TOKENS}
    data = [f for f in features if f in log_features and _tokens(f) & D_TOKENS and f not in both]
    size = [f for f in features if f in log_features and _tokens(f) & N_TOKENS and f not in data and f not in both]
    return (size[0], data[0]) if len(size) == 1 and len(data) == 1 else None


def size_and_data(baseline: str, features: Sequence[str]) -> tuple[str, str]:
    """The (N column, D column) of a resolved ``"chinchilla:N,D"``; names may hold commas ("size (params, M)").

    Read as ``resolve`` writes it (``tables.joined_names``: such a name in double quotes); a run stored before
    names were quoted is split at the comma at which both sides are feature names.
    Raises:
        ValueError: no comma splits it into two features.
    """
    cols = baseline.split(":", 1)[1]
    try:
        pair = split_names(cols)
    except DataError:
        pair = []
    if len(pair) == 2 and all(c in features for c in pair):
        return pair[0], pair[1]
    for at in [i for i, ch in enumerate(cols) if ch == ","]:
        size, data = cols[:at], cols[at + 1:]
        if size in features and data in features:
            return size, data
    raise ValueError(f"{baseline!r} does not name two of the features {list(features)}")


def rises_with(y: np.ndarray, x: np.ndarray, groups: np.ndarray) -> bool:
    """Whether ``y`` (N,) rises as ``x`` (N,) grows: a positive Spearman correlation within the groups (N,).

    The mean of the groups' correlations, each weighted by its rows; groups in
    which ``x`` or ``y`` takes one value say nothing and are left out (False
    when none is left).
    """
    from scipy.stats import spearmanr

    total = weight = 0.0
    for g in np.unique(groups):
        at = groups == g
        if at.sum() < 3 or np.ptp(x[at]) == 0 or np.ptp(y[at]) == 0:
            continue
        rho = float(spearmanr(x[at], y[at]).statistic)
        if np.isfinite(rho):
            total, weight = total + rho * at.sum(), weight + at.sum()
    return weight > 0 and total / weight > 0


def resolve(baseline: str | None, features: Sequence[str], log_features: Sequence[str]) -> str:
    """The reference law asked for, as ``"chinchilla:N,D"`` or ``""`` (none).

    ``baseline``: ``"auto"``/None (the Chinchilla form when the features look
    like model size and data), ``"chinchilla"`` (the same, but an error when
    they do not), ``"chinchilla:N_COL,D_COL"``, ``"mixing"`` (the data mixing
    law, returned as is: whether the features are a mixture's shares is read
    from the data, ``baselines.mixing.is_mixture``), or ``"none"``.
    """
    text = (baseline or "auto").strip()
    if text == "none":
        return ""
    if text == MIXING:  # checked against the data by the loader (``baselines.mixing.is_mixture``)
        return MIXING
    if text in ("auto", "chinchilla"):
        pair = guess_size_and_data(features, log_features)
        if pair is None:
            if text == "auto":
                return ""
            raise DataError(f"cannot tell which features are model size and data; name them, e.g. "
                            f"{_example(features)}")
        return f"chinchilla:{joined_names(pair)}"
    if text.startswith("chinchilla:"):
        cols = split_names(text.split(":", 1)[1])  # a name holding a comma in double quotes, as in --features
        unknown = [c for c in cols if c not in features]
        if len(cols) != 2 or unknown or cols[0] == cols[1]:
            what = (f"{unknown[0]!r} is not a feature" if unknown else
                    "give two different feature columns" if len(cols) == 2 else
                    f"give two feature columns, not {len(cols)}")
            raise DataError(f"--baseline {text!r}: {what}; name model size then data, as in {_example(features)} "
                            f"(features: {joined_names(features)})")
        return f"chinchilla:{joined_names(cols)}"
    raise DataError(f"unknown baseline {text!r}; use auto, none, chinchilla, chinchilla:N_COL,D_COL or {MIXING}")


def _example(features: Sequence[str]) -> str:
    """A ``--baseline chinchilla:N,D`` option naming the first and last of ``features``, quoted so that it reads
    back: a name holding a comma in double quotes, the whole in shell quotes when it needs them."""
    return f"--baseline {shlex.quote('chinchilla:' + joined_names([features[0], features[-1]]))}"


def chinchilla_source(features: Sequence[str], size: str, data: str) -> str:
    """Source of the Chinchilla-form program for a task whose features are ``features``."""
    features = list(features)
    return _TEMPLATE.format(n_idx=features.index(size), d_idx=features.index(data), n_name=source_text(size),
                            d_name=source_text(data))

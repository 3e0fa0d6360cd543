"""Parallel scaling law (ParScale, Chen et al. 2025).

    L(N, P) = E + (A * 1e9 / (N * (k * ln P + 1)))**alpha

N is the number of non-embedding parameters (``num_params``) and P the number
of parallel streams (``parallel_size``). Running P streams through one model
acts like multiplying its size by (k ln P + 1). 4 fitted params per group
(corpus): [E, A, alpha, k].

Reference: M. Chen et al., "Parallel Scaling Law for Language Models",
2025 (arXiv:2505.10475), eq. (5); fitted in its repository's parametric_fit.py
(github.com/QwenLM/ParScale at cd6acb4).

Fit: as the authors fit it: a Huber loss (delta = 1e-3) on the residuals of
log L, minimised by L-BFGS-B with every parameter bounded below by 1e-8, from
the authors' grid of starts (E in e^{-1, -0.5, 0}, A in e^{-4, -2, 0, 2, 4},
alpha in {0, 0.5, 1, 1.5, 2}, k in {0.2, 0.4, 0.6, 0.8}); the lowest objective
wins. Starts that cannot be evaluated (an overflowing power) are skipped.
"""

# EVOLVE-BLOCK-START
import itertools

import numpy as np
from scipy.optimize import minimize

_DELTA = 1e-3
_FLOOR = 1e-8


def scaling_law_func(data_points, params):
    """Predict the loss.

    Args:
        data_points: (N, 2) array, columns [num_params, parallel_size].
        params: (4,) array [E, A, alpha, k].
    Returns:
        (N,) predicted loss.
    """
    X = np.atleast_2d(np.asarray(data_points, dtype=float))
    E, A, alpha, k = np.asarray(params, dtype=float).ravel()[:4]
    size = X[:, 0] * (k * np.log(X[:, 1]) + 1.0)
    return E + (A * 1e9 / size) ** alpha


def _huber(r):
    """Summed Huber loss of (N,) residuals with threshold _DELTA."""
    a = np.abs(r)
    return float(np.sum(np.where(a <= _DELTA, 0.5 * r * r, _DELTA * (a - 0.5 * _DELTA))))


def fit_scaling_law(data_points, loss_values):
    """Fit [E, A, alpha, k] to one group.

    Args:
        data_points: (N, 2) array [num_params, parallel_size].
        loss_values: (N,) array of losses (> 0).
    Returns:
        (4,) array [E, A, alpha, k].
    """
    X = np.atleast_2d(np.asarray(data_points, dtype=float))
    log_y = np.log(np.asarray(loss_values, dtype=float).ravel())

    def objective(theta):
        with np.errstate(all="ignore"):
            pred = scaling_law_func(X, theta)
            value = _huber(np.log(pred) - log_y)
        return value if np.isfinite(value) else 1e30

    bounds = [(_FLOOR, None)] * 4
    best_value, best = np.inf, np.array([np.exp(-0.5), 1.0, 0.5, 0.4])
    starts = itertools.product((-1.0, -0.5, 0.0), (-4, -2, 0, 2, 4), (0, 0.5, 1, 1.5, 2), (0.2, 0.4, 0.6, 0.8))
    for log_e, log_a, alpha, k in starts:
        theta0 = np.array([np.exp(log_e), np.exp(log_a), max(alpha, _FLOOR), k])
        if objective(theta0) >= 1e30:
            continue
        try:
            r = minimize(objective, theta0, method="L-BFGS-B", bounds=bounds)
        except (ValueError, FloatingPointError):
            continue
        if np.isfinite(r.fun) and r.fun < best_value:
            best_value, best = r.fun, r.x
    return np.asarray(best, dtype=float)


# EVOLVE-BLOCK-END

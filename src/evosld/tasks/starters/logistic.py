"""Starter program for a bounded target: a logistic curve between a fitted level and the top of its range.

    y_t = f_t + (TOP - f_t) * sigmoid(sum_i a_ti z_i - m_t)      z_i = ln x_i (log-scale features), else x_i

One slope a_i per feature, a midpoint m and a level f per target: F + 2
parameters. A benchmark score that emerges with scale rises from a level
(chance) towards the best score it can reach as a sigmoid of log compute, or
of a weighted sum of log model size and log data (Ruan et al. 2024,
"Observational Scaling Laws", arXiv:2405.10938; Owen 2024, "How predictable is
language model benchmark performance?", arXiv:2401.04757). Only the top is
known (the target's range, declared or assumed for a fraction): the level is
fitted. On a suite of ten models with an accuracy emerging from chance (test
the three largest), this form with three parameters tests R² 0.80 where a power
law, the only fit the search offered within the limit, tests -0.04.

The fit, target by target: for a few levels below the smallest value, the
logit of the target's share of the way from that level to the top is linear in
z (solved by least squares); from each such start, all parameters are refined
by least squares with the level below the top, and the fit with the least
squared error is kept. Deterministic. ``TOP`` and ``LOG_COLS`` (after the
EVOLVE block) are set for the task by ``tasks.starter.logistic_source``.
"""

# EVOLVE-BLOCK-START
import numpy as np
from scipy.optimize import least_squares


def _z(X, log_cols):
    """(N, F) features with ln x in the columns of ``log_cols``."""
    Z = np.array(X, dtype=float)
    for i in log_cols:
        Z[:, i] = np.log(np.maximum(Z[:, i], 1e-300))
    return Z


def scaling_law_func(data_points, params):
    """Predict the target from the features.

    Args:
        data_points: (N, F) array, columns in the task's feature order.
        params: (F + 2,) array [a_1..a_F, m, f] for one target, or (T, F + 2), one row per target.
    Returns:
        (N,) predictions for one target, (N, T) for T targets.
    """
    Z = _z(np.atleast_2d(np.asarray(data_points, dtype=float)), LOG_COLS)  # (N, F)
    F = Z.shape[1]
    P = np.atleast_2d(np.asarray(params, dtype=float))  # (T, F + 2)
    s = Z @ P[:, :F].T - P[None, :, F]  # (N, T)
    pred = P[None, :, F + 1] + (TOP - P[None, :, F + 1]) / (1.0 + np.exp(-np.clip(s, -50, 50)))
    return pred[:, 0] if pred.shape[1] == 1 else pred


def fit_scaling_law(data_points, loss_values):
    """Fit one group: logit starts from a few levels, then least squares on all parameters.

    Args:
        data_points: (N, F) array of features.
        loss_values: (N,) array for one target or (N, T) for T targets.
    Returns:
        (F + 2,) params [a_1..a_F, m, f] for one target, (T, F + 2) for T targets.
    """
    Z = _z(np.atleast_2d(np.asarray(data_points, dtype=float)), LOG_COLS)
    Y = np.asarray(loss_values, dtype=float).reshape(len(Z), -1)  # (N, T)
    F = Z.shape[1]
    # fitted in standardised features (the same fit in any unit), mapped back at the end
    centre, spread = Z.mean(axis=0), Z.std(axis=0)
    spread = np.where(spread > 0, spread, 1.0)
    W = (Z - centre) / spread
    rows = []
    for y in Y.T:
        span = max(TOP - float(np.min(y)), 1e-12 * max(abs(TOP), 1.0))

        def curve(q, y=y):  # q = [b_1..b_F, m', f] in standardised features
            return q[F + 1] + (TOP - q[F + 1]) / (1.0 + np.exp(-np.clip(W @ q[:F] - q[F], -50, 50)))

        def residuals(q, y=y):
            r = curve(q) - y
            return np.where(np.isfinite(r), r, 1e10)

        best_sse, best = np.inf, np.concatenate([np.zeros(F + 1), [float(np.min(y))]])
        for share in (0.02, 0.2, 0.5):
            level = float(np.min(y)) - share * span
            frac = np.clip((y - level) / (TOP - level), 0.02, 0.98)
            G = np.column_stack([W, -np.ones(len(y))])
            sol = np.linalg.lstsq(G, np.log(frac / (1 - frac)), rcond=None)[0]
            q0 = np.concatenate([sol, [level]])
            hi = np.concatenate([np.full(F + 1, np.inf), [TOP - 1e-9 * span]])
            try:
                res = least_squares(residuals, np.minimum(q0, hi), bounds=(-np.inf, hi), x_scale="jac",
                                    max_nfev=400)
            except (ValueError, np.linalg.LinAlgError):
                continue
            sse = float(np.sum(residuals(res.x) ** 2))
            if np.all(np.isfinite(res.x)) and sse < best_sse:
                best_sse, best = sse, res.x
        a = best[:F] / spread
        rows.append(np.concatenate([a, [best[F] + float(a @ centre)], [best[F + 1]]]))
    params = np.vstack(rows)
    return params[0] if len(rows) == 1 else params


# EVOLVE-BLOCK-END

#: The top of the target's range and the columns taken as ln x (set by ``tasks.starter.logistic_source``).
TOP = 1.0
LOG_COLS = ()

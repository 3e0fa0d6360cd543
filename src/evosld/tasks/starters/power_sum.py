"""Starter program: a plain sum of power laws, for any task.

    L_t = b_t + sum_i c_ti * x_i**e_ti      (one row of params per target t)

One coefficient c_i and one exponent e_i per feature plus a floor b per
target, fitted target by target. The form is deliberately plain: it is the
seed the evolutionary search improves on, in the style of the seed programs
shipped with SLDBench / OpenEvolve (arXiv:2507.21184). Its fit is not: for a
grid of exponents the coefficients and floor are solved exactly (they enter
linearly), and the best starts are refined by bounded least squares, so the
law fits every group of a table as well as its form allows. (Until session
36 it was fitted by BFGS from one fixed guess; on a table of 60 groups that
fit left two groups flat when refit on all of train, and a pick of this form
tested R² -0.77 where the same form fitted from several starts tests 0.99.)

With ``FLOOR`` set to a number, b is that number and not fitted: the law is
the target's distance to a bound it cannot pass (the top of an accuracy's
range), falling as a sum of powers, as an error rate 1 - accuracy falls as a
power of scale (Hestness et al. 2017, arXiv:1712.00409).
"""

# EVOLVE-BLOCK-START
import numpy as np
from scipy.optimize import least_squares

#: None: the floor b is fitted; a number: b is fixed there (a bound the target approaches).
FLOOR = None


def scaling_law_func(data_points, params):
    """Predict the loss from the features.

    Args:
        data_points: (N, F) array, columns in the task's feature order.
        params: (2F + 1,) array [c_1..c_F, e_1..e_F, b] for one target, or a
            (T, 2F + 1) array, one row per target.
    Returns:
        (N,) predictions for one target, (N, T) for T targets.
    """
    X = np.atleast_2d(np.asarray(data_points, dtype=float))  # (N, F)
    F = X.shape[1]
    P = np.atleast_2d(np.asarray(params, dtype=float))  # (T, 2F + 1)
    coeffs, exponents, bias = P[:, :F], P[:, F : 2 * F], P[:, -1]
    with np.errstate(all="ignore"):
        terms = coeffs[None, :, :] * X[:, None, :] ** exponents[None, :, :]  # (N, T, F)
    pred = terms.sum(axis=2) + bias[None, :]  # (N, T)
    return pred[:, 0] if pred.shape[1] == 1 else pred


def _exponent_grid(X):
    """Exponent vectors (K, F) to start from: every combination of a few per feature (at most 256, seeded).

    A positive feature gets falling and rising powers; one with zeros only
    non-negative ones (a negative power of zero is infinite); one with
    negative values only whole ones (a fractional power of a negative is not real).
    """
    import itertools

    per = []
    for x in X.T:
        if np.all(x > 0):
            per.append((-1.0, -0.5, -0.3, -0.1, 0.3, 1.0))
        elif np.all(x >= 0):
            per.append((0.5, 1.0, 2.0))
        else:
            per.append((1.0, 2.0))
    if np.prod([len(v) for v in per]) <= 256:
        return np.array(list(itertools.product(*per)), dtype=float)
    rng = np.random.default_rng(0)  # many features: 256 combinations drawn evenly from all of them
    draws = np.column_stack([np.asarray(v)[rng.integers(len(v), size=256)] for v in per])
    return np.unique(draws, axis=0)


def _linear_part(X, y, e):
    """For exponents ``e`` (F,): the least-squares coefficients (F,), floor and squared error, or None.

    With ``FLOOR`` set the floor is that number and only the coefficients are solved (on y - FLOOR).
    """
    with np.errstate(all="ignore"):
        G = X ** e[None, :] if FLOOR is not None else np.column_stack([X ** e[None, :], np.ones(len(X))])
    if not np.all(np.isfinite(G)):
        return None
    z = y - FLOOR if FLOOR is not None else y
    scale = np.maximum(np.abs(G).max(axis=0), 1e-300)
    sol = np.linalg.lstsq(G / scale, z, rcond=None)[0] / scale
    sse = float(np.sum((G @ sol - z) ** 2))
    if not np.isfinite(sse):
        return None
    return (sol, float(FLOOR), sse) if FLOOR is not None else (sol[:-1], sol[-1], sse)


def fit_scaling_law(data_points, loss_values):
    """Fit one group: the best exponents of a grid, then all parameters refined by least squares.

    For each exponent vector of ``_exponent_grid`` the coefficients and the
    floor are linear (solved exactly); the three best starts are refined
    together with the exponents (bounded to [-3, 3]) by
    ``scipy.optimize.least_squares``, and the fit with the least squared
    error is kept (a ``FLOOR`` set is held, not refined). Deterministic: the
    same data give the same parameters.

    Args:
        data_points: (N, F) array of features.
        loss_values: (N,) array for one target or (N, T) for T targets.
    Returns:
        (2F + 1,) params for one target, (T, 2F + 1) for T targets.
    """
    X = np.atleast_2d(np.asarray(data_points, dtype=float))
    y = np.asarray(loss_values, dtype=float)
    Y = y.reshape(len(X), -1)  # (N, T)
    F = X.shape[1]
    grid = _exponent_grid(X)
    logs = np.where(X > 0, np.log(np.where(X > 0, X, 1.0)), 0.0)  # ln x where defined, for the Jacobian
    rows = []
    for t in range(Y.shape[1]):  # targets are independent: fit one at a time
        yt = Y[:, t]
        starts = []
        for e in grid:
            part = _linear_part(X, yt, e)
            if part is not None:
                starts.append((part[2], np.concatenate([part[0], e, [part[1]]])))
        starts.sort(key=lambda s: s[0])
        best_sse, best = (starts[0] if starts else
                          (np.inf, np.concatenate([np.zeros(F), np.full(F, 1.0),
                                                   [float(np.mean(yt)) if FLOOR is None else float(FLOOR)]])))

        def residuals(p, yt=yt):
            r = scaling_law_func(X, p) - yt
            return np.where(np.isfinite(r), r, 1e10)

        def jacobian(p):  # d/dc_i = x_i^e_i, d/de_i = c_i x_i^e_i ln x_i, d/db = 1; (N, 2F + 1)
            with np.errstate(all="ignore"):
                powers = X ** p[F : 2 * F][None, :]
                J = np.column_stack([powers, p[:F][None, :] * powers * logs, np.ones(len(X))])
            return np.where(np.isfinite(J), J, 0.0)

        free = 2 * F + (FLOOR is None)  # the parameters refined: the floor only when it is fitted
        lo = np.concatenate([np.full(F, -np.inf), np.full(F, -3.0), [-np.inf]])[:free]
        hi = np.concatenate([np.full(F, np.inf), np.full(F, 3.0), [np.inf]])[:free]
        for _, p0 in starts[:3]:
            tail = p0[free:]  # the fixed floor, or nothing

            def res_free(q, tail=tail):
                return residuals(np.concatenate([q, tail]))

            def jac_free(q, tail=tail, free=free):
                return jacobian(np.concatenate([q, tail]))[:, :free]

            try:
                res = least_squares(res_free, np.clip(p0[:free], lo, hi), jac=jac_free, bounds=(lo, hi),
                                    x_scale="jac", max_nfev=200)
            except (ValueError, np.linalg.LinAlgError):
                continue
            sse = float(np.sum(res_free(res.x) ** 2))
            if np.all(np.isfinite(res.x)) and sse < best_sse:
                best_sse, best = sse, np.concatenate([res.x, tail])
        rows.append(best)
    params = np.vstack(rows)
    return params[0] if len(rows) == 1 else params


# EVOLVE-BLOCK-END

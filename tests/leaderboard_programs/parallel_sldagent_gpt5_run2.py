# SLDAgent + GPT-5, parallel_scaling_law, run 2 (leaderboard test R² 0.999912).
# Source: the SLDBench leaderboard, linhaowei1.github.io/scaling_law_discovery/
# sld_parallel_scaling_law_sldagent_gpt_5.html (repository linhaowei1/linhaowei1.github.io,
# commit 638f0d67ca71e20a5ee8ef936a18253aaf046138), written by SLDAgent for
# "Can Language Models Discover Scaling Laws?" (Lin et al., arXiv:2507.21184;
# code github.com/linhaowei1/SLD, MIT licence). Kept verbatim between the EVOLVE
# markers as a test fixture (tests/test_leaderboard_programs.py): a published
# program must run unchanged in evosld and give its leaderboard R².
# EVOLVE-BLOCK-START
"""
Parallel scaling law for LLM loss with 4 parameters:
loss = L_inf + A * (n * (1 + gamma * log(k)))^(-alpha)
- L_inf: irreducible loss floor
- A: amplitude
- alpha: parameter scaling exponent (>0)
- gamma: parallel efficiency coefficient (>=0), diminishing returns via log(k)
Robust, simple fitting with Huber loss, bounded L-BFGS-B, and log-linear initialization.
"""
import numpy as np
from scipy.optimize import minimize

def scaling_law_func(data_points, params):
    X = np.atleast_2d(np.asarray(data_points, dtype=float))
    n_raw = X[:, 0]
    k_raw = X[:, 1]
    P = np.atleast_2d(np.asarray(params, dtype=float))
    T = P.shape[0]
    K = min(P.shape[1], 4)

    L_inf = P[:, 0]
    A     = P[:, 1] if K >= 2 else np.ones(T)
    alpha = P[:, 2] if K >= 3 else np.full(T, 0.1)
    gamma = P[:, 3] if K >= 4 else np.zeros(T)

    # Stabilize and normalize scales
    N0 = 1e9
    n = np.clip(n_raw, 1e-12, None) / N0
    k = np.clip(k_raw, 1.0, None)

    # Log-coupled parallel gain; clamp to avoid division by zero and enforce >=1
    gk = 1.0 + np.maximum(gamma[None, :], 0.0) * np.log(k)[:, None]
    gk = np.maximum(gk, 1e-12)

    eff = (n[:, None] * gk) ** (-np.maximum(alpha[None, :], 1e-12))
    pred = L_inf[None, :] + A[None, :] * eff
    return pred[:, 0] if pred.shape[1] == 1 else pred


def fit_scaling_law(data_points, loss_values):
    X = np.atleast_2d(np.asarray(data_points, dtype=float))
    y = np.asarray(loss_values, dtype=float)
    y2d = y[:, None] if y.ndim == 1 else y
    N, T = y2d.shape

    # Robust Huber loss
    def huber(res, delta):
        a = np.abs(res)
        m = np.minimum(a, delta)
        return 0.5 * m**2 + delta * (a - m)

    # Log features
    ln_n = np.log(np.clip(X[:, 0], 1e-12, None)) - np.log(1e9)
    ln_k = np.log(np.clip(X[:, 1], 1.0, None))

    params_all = np.zeros((T, 4))
    rng = np.random.default_rng(19)

    for t in range(T):
        yt = y2d[:, t]
        y_min = float(np.min(yt))
        med = float(np.median(yt))
        mad = float(np.median(np.abs(yt - med)))
        delta = 1.345 * mad if mad > 1e-8 else 0.01
        lam = 1e-4

        # Grid over L_inf near minimum loss for stable initialization
        L_candidates = np.linspace(max(y_min - 0.08, 0.0), max(y_min - 0.005, 0.0), 6)
        best_sse, init = np.inf, None

        A_mat = np.column_stack([np.ones(N), ln_n, ln_k])
        for Lc in L_candidates:
            diff = yt - Lc
            if np.any(diff <= 1e-12):
                continue
            z = np.log(diff)
            try:
                b, *_ = np.linalg.lstsq(A_mat, z, rcond=None)
            except np.linalg.LinAlgError:
                continue
            b0, b1, b2 = b
            alpha0 = max(-b1, 1e-8)
            # Map k-slope to gamma via small-gamma approximation
            gamma0 = max((-b2 / alpha0), 0.0)
            A0 = float(np.exp(b0))
            p0 = np.array([[Lc, A0, alpha0, gamma0]])
            sse = float(np.mean((scaling_law_func(X, p0) - yt) ** 2))
            if np.isfinite(sse) and sse < best_sse:
                best_sse, init = sse, (Lc, A0, alpha0, gamma0)

        if init is None:
            init = (max(y_min - 0.02, 0.0), max(np.max(yt) - max(y_min - 0.02, 0.0), 0.05), 0.1, 0.2)

        L0, A0, alpha0, gamma0 = init
        theta0 = np.array([L0, A0, alpha0, gamma0])

        # Bounds: positivity, moderate upper caps to avoid degeneracy
        bounds = [(0.0, None), (1e-10, None), (1e-10, 5.0), (0.0, 2.0)]

        def objective(theta):
            pred = scaling_law_func(X, theta[None, :])
            res = pred - yt
            return np.mean(huber(res, delta)) + lam * (theta[2]**2 + theta[3]**2)

        best_val = np.inf
        best_theta = theta0.copy()
        for r in range(4):
            noise = np.array([0.01, 0.02, 0.02, 0.02]) * rng.normal(size=4)
            start = np.clip(theta0 + (noise if r > 0 else 0.0),
                            [b[0] if b[0] is not None else -np.inf for b in bounds],
                            [b[1] if b[1] is not None else np.inf for b in bounds])
            res = minimize(objective, start, method='L-BFGS-B', bounds=bounds, options={'maxiter': 400})
            val = res.fun if res.success else np.inf
            if val < best_val:
                best_val = val
                best_theta = res.x if res.success else start

        params_all[t] = best_theta

    return params_all[0] if T == 1 else params_all
# EVOLVE-BLOCK-END

# SLDAgent + GPT-5, easy_question_scaling_law, run 4 (leaderboard test R² 0.670530).
# Source: the SLDBench leaderboard, linhaowei1.github.io/scaling_law_discovery/
# sld_easy_question_scaling_law_sldagent_gpt_5.html (repository
# linhaowei1/linhaowei1.github.io, commit 638f0d67ca71e20a5ee8ef936a18253aaf046138),
# written by SLDAgent for "Can Language Models Discover Scaling Laws?" (Lin et al.,
# arXiv:2507.21184; code github.com/linhaowei1/SLD, MIT licence). Kept verbatim
# between the EVOLVE markers as a test fixture (tests/test_leaderboard_programs.py).
# EVOLVE-BLOCK-START
import numpy as np
from scipy.optimize import minimize

def _sp(z):  # softplus
    return np.maximum(z, 0.0) + np.log1p(np.exp(-np.abs(z)))

def _isp(u):  # inverse softplus
    u = np.maximum(u, 1e-12)
    return np.log(np.expm1(u))

def _sig(z):  # stable 1/(1+exp(z))
    return np.where(z >= 0, np.exp(-z)/(1+np.exp(-z)), 1/(1+np.exp(z)))

def scaling_law_func(data_points, params):
    # 6-param model: logistic base + Gaussian bump (U-shape)
    # y = y_inf + (y0-y_inf)/(1+exp((x-x0)/s)) + h*exp(-0.5*((x-x0)/w)^2)
    X = np.atleast_2d(np.asarray(data_points))
    x = X[:, 0]
    p = np.asarray(params)
    if p.ndim == 1: p = p[None, :]
    if p.shape[1] < 6: p = np.concatenate([p, np.zeros((p.shape[0], 6-p.shape[1]))], 1)
    p = p[:, :6]
    y = np.empty((x.size, p.shape[0]))
    eps = 1e-6
    for i in range(p.shape[0]):
        y_inf, y0, x0, s_r, h_r, w_r = p[i]
        s = _sp(s_r) + eps
        w = _sp(w_r) + eps
        h = _sp(h_r)  # positive bump ensures initial worsening then improvement
        base = y_inf + (y0 - y_inf) * _sig((x - x0) / s)
        bump = h * np.exp(-0.5 * ((x - x0) / w) ** 2)
        y[:, i] = base + bump
    return y[:, 0] if y.shape[1] == 1 else y

def fit_scaling_law(data_points, loss_values):
    X = np.atleast_2d(np.asarray(data_points))
    x = X[:, 0]
    y = np.asarray(loss_values)
    if y.ndim == 1: Y = y[:, None]
    else: Y = y
    T = Y.shape[1]
    xmin, xmax = float(np.min(x)), float(np.max(x))
    xr = max(1e-6, xmax - xmin)

    def init_params(yc):
        q5, q95 = np.percentile(yc, [5, 95])
        y_inf0, y00 = q5, q95
        x0 = np.median(x)
        x10, x90 = np.percentile(x, [10, 90])
        s0 = max(0.05, 0.25 * (x90 - x10) + 1e-3)
        w0 = max(0.1, 0.4 * (x90 - x10) + 1e-3)
        h0 = max(0.0, q95 - q5) * 0.5
        return np.array([y_inf0, y00, x0, _isp(s0), _isp(h0), _isp(w0)], float)

    def objective(p, yc):
        pred = scaling_law_func(X, p)
        r = pred - yc
        mse = np.mean(r * r)
        s = _sp(p[3]) + 1e-6
        h = _sp(p[4])
        w = _sp(p[5]) + 1e-6
        reg = 1e-6 * np.sum(p * p) + 1e-4 * (s*s + w*w + 1/(s*s+1e-12) + 1/(w*w+1e-12)) + 1e-5 * h * h
        return mse + reg

    rng = np.random.default_rng(1234)
    params_all = np.zeros((T, 6), float)
    for t in range(T):
        yc = Y[:, t]
        p0 = init_params(yc)
        best_v, best_p = np.inf, p0.copy()
        starts = [p0]
        for dx in (-0.3 * xr, 0.3 * xr):
            pp = p0.copy()
            pp[2] += dx
            pp[3] += rng.normal(0, 0.2)
            pp[4] += rng.normal(0, 0.2)
            pp[5] += rng.normal(0, 0.2)
            starts.append(pp)
        for _ in range(4):
            starts.append(p0 + rng.normal(0, [0.3,0.3,0.3,0.4,0.4,0.4]))
        for s in starts:
            res = minimize(objective, s, args=(yc,), method='L-BFGS-B', options={'maxiter': 1000})
            if res.success and res.fun < best_v:
                best_v, best_p = res.fun, res.x
        params_all[t] = best_p
    return params_all[0] if T == 1 else params_all
# EVOLVE-BLOCK-END

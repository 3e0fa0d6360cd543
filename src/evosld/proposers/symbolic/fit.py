"""Variable-projection least squares: the fitter every emitted program carries.

A law is ``y ≈ Phi(X, theta) @ c``: for fixed nonlinear parameters ``theta`` the
linear coefficients ``c`` have a closed form (a lightly ridged least-squares
solve on column-normalised ``Phi``), so the search runs over ``theta`` only
(Golub & Pereyra 1973, "variable projection"). ``theta`` is fitted by bounded
trust-region least squares (``scipy.optimize.least_squares``) from the best few
of many random starts drawn in a start box, with a fixed seed.

The least-squares fit is then polished jointly over ``(c, theta)`` under a Huber
loss (Huber 1964): residuals beyond a threshold count linearly, so a few noisy or
off-trend runs (often the many small, high-loss ones) do not pull the law away
from the rest. Published laws are fitted this way (Chinchilla: Huber on log loss,
Hoffmann et al. 2022; Muennighoff et al. 2023). The threshold is set from the
data: ``huber`` (default 2) times the median absolute residual of the
least-squares fit, i.e. about 1.35 robust standard deviations, the usual tuning
that keeps ~95% of least squares' efficiency under Gaussian noise. On the six
SLDBench tasks this raised held-out R² most where laws extrapolate furthest.

The polish is local: it refines the least-squares fit, and a few runs that
went wrong (diverged, mislogged: 30 to 100 noise levels off) can pull that
fit into another basin first, where the polish stays. On an 8 x 8 Chinchilla
grid with three such runs least squares traded the floor against the data
term (E = 3015, B = -3013, D^0) and the law extrapolated to R² 0.96 where
its fit without them reaches 0.998. So when the least-squares fit misses a
few rows grossly (``isolated_misses``: beyond 5 robust sigmas, at most a
tenth of the rows, the rule of the final pick's trimmed R²), it is refined
once more from there without them (``refine_projected``), that second start
is polished on all rows under the same Huber threshold, and it replaces
the first when its Huber loss (``huber_cost``) is lower by more than a
thousandth (``basin``): a better optimum of the same objective, in another
basin. The same optimum reached twice differs by the solvers' tolerance
(at most 2e-5 of the loss over the 10 best laws of stored lr_bsz, moe and
data_constrained runs, where every second start landed there); the basin
change above lowers it by 10%. A margin, not the lower loss alone: a second
start that wins by 1e-5 moves every fit of such tables a hair, and a search's
path with it (on lr_bsz, three seeds of 300 s tested 0.45 / -0.51 / 0.23
where they test 0.79 / 0.72 / 0.76 with the first fit kept).

A positive target spanning a decade or more (GPU-hours, compute, an optimal
learning rate across sizes) usually carries multiplicative noise: its runs
scatter by a few percent, not by a fixed amount. Absolute residuals would then
let the largest runs decide the fit and treat the smallest as exact, and the
Huber threshold, set from the median residual (a small run's), would count
every large run as an outlier. Such a target is fitted on relative residuals
``(fit - y) / y`` (``relative_weights``: rows weighted by ``1 / y``; a weighted
least-squares problem, so the linear coefficients keep their closed form).
Targets that span less (a loss, an accuracy, anything crossing zero) keep
absolute residuals.

A target with a declared range (``--target-range``: an accuracy in [0, 1])
is fitted within it past the data (``fit_in_range``): where the plain fit
leaves the range at inputs beyond the largest runs (``Space.with_range``),
the fit is redone with the amounts it leaves the range by as residuals
beside the data's, in every stage. Runs that show only the early part of a
rise look exponential, and least squares then lets a logistic's tail stand
in for the exponential, ending far above 1 just past the data; the guard
leaves it the rise that ends in range. Programs for a table without a range
carry only ``fit_varpro`` (their text, and so the search's path, does not
change with this).

Both least-squares stages get their Jacobian from here rather than from
scipy's finite differences over the whole residual: the basis is
differenced in ``theta`` only (``basis_derivatives``, one basis evaluation
per nonlinear parameter), the linear coefficients' columns are the basis
itself, and the projected residual's Jacobian is Golub & Pereyra's exact
formula (1973, eq. 5.4; Kaufman 1975 drops its second term)
``J_j = P⊥ dPhi_j c - (Phi⁺)ᵀ dPhi_jᵀ r``, with ``P⊥`` and ``Phi⁺`` from one
SVD of ``Phi``. That replaces one least-squares solve per parameter per
Jacobian with one SVD, and scipy's bookkeeping with three array operations.
``jacobian=False`` restores scipy's finite differences (the benchmark
``benchmarks/fit_speed.py`` compares the two).

The functions here use only numpy and scipy and no module state, so emitted
programs embed their source verbatim (see ``emit.py``; with them
``evaluation.metrics.isolated_misses``, the one rule for a gross miss). Pure
functions.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import least_squares

from evosld.evaluation.metrics import isolated_misses


def solve_linear(Phi, y, ridge=1e-9):
    """Ridged least squares for the linear coefficients.

    Args:
        Phi: (N, K) basis matrix.
        y: (N,) targets.
        ridge: ridge strength relative to the (unit) column scale.
    Returns:
        (K,) coefficients.
    """
    n, k = Phi.shape
    scale = np.sqrt(np.mean(Phi * Phi, axis=0))
    scale = np.where(np.isfinite(scale) & (scale > 1e-300), scale, 1.0)
    A = np.vstack([Phi / scale, np.sqrt(ridge * n) * np.eye(k)])
    b = np.concatenate([y, np.zeros(k)])
    coef = np.linalg.lstsq(A, b, rcond=None)[0]
    return coef / scale


def projected_residual(theta, basis, X, y):
    """Residuals (N,) of the best linear fit for nonlinear parameters ``theta``."""
    with np.errstate(all="ignore"):
        Phi = basis(X, theta)
        if not np.all(np.isfinite(Phi)):
            return np.full(len(y), 1e6)
        try:
            coef = solve_linear(Phi, y)
        except np.linalg.LinAlgError:
            return np.full(len(y), 1e6)
        r = Phi @ coef - y
    return np.where(np.isfinite(r), r, 1e6)


def basis_derivatives(basis, X, theta, lo, hi, Phi):
    """Forward differences of the basis in each nonlinear parameter.

    Args:
        basis: callable (X, theta) -> (N, K) basis matrix.
        X: (N, F) features.
        theta: (P,) nonlinear parameters, inside ``[lo, hi]``.
        lo, hi: (P,) bounds; a step that would leave them is taken backwards.
        Phi: (N, K) the basis at ``theta``.
    Returns:
        (N, K, P) derivatives; entries that are not finite are 0.
    """
    theta = np.asarray(theta, dtype=float)
    D = np.zeros(Phi.shape + (theta.size,))
    for j in range(theta.size):
        h = 1.49e-8 * max(1.0, abs(theta[j]))  # sqrt(machine epsilon), as scipy's 2-point rule
        if theta[j] + h > hi[j]:
            h = -h
        step = theta.copy()
        step[j] += h
        with np.errstate(all="ignore"):
            D[:, :, j] = (basis(X, step) - Phi) / (step[j] - theta[j])
    return np.where(np.isfinite(D), D, 0.0)


def projected_jacobian(theta, basis, X, y, lo, hi):
    """(N, P) Jacobian of ``projected_residual`` in ``theta`` (Golub & Pereyra's formula)."""
    with np.errstate(all="ignore"):
        Phi = basis(X, theta)
    if not np.all(np.isfinite(Phi)):
        return np.zeros((len(y), np.size(theta)))
    D = basis_derivatives(basis, X, theta, lo, hi, Phi)
    try:
        U, s, Vt = np.linalg.svd(Phi, full_matrices=False)
    except np.linalg.LinAlgError:
        return np.zeros((len(y), np.size(theta)))
    keep = s > s[0] * 1e-10 if s.size and s[0] > 0 else np.zeros(s.shape, dtype=bool)
    U, s, Vt = U[:, keep], s[keep], Vt[keep]
    coef = Vt.T @ ((U.T @ y) / s)
    r = Phi @ coef - y
    A = np.einsum("nkp,k->np", D, coef)
    A = A - U @ (U.T @ A)
    B = U @ ((Vt @ np.einsum("nkp,n->kp", D, r)) / s[:, None])
    J = A - B
    return np.where(np.isfinite(J), J, 0.0)


def robust_polish(basis, X, y, coef, theta, lo, hi, huber=2.0, max_nfev=300, jacobian=True, delta=None):
    """Refine ``(coef, theta)`` jointly under a Huber loss.

    Args:
        basis: callable (X, theta) -> (N, K) basis matrix.
        X: (N, F) features.
        y: (N,) targets.
        coef: (K,) starting linear coefficients (unbounded).
        theta: (P,) starting nonlinear parameters, inside ``[lo, hi]``.
        lo, hi: (P,) bounds of ``theta``.
        huber: Huber threshold in units of the median absolute residual at the start.
        max_nfev: evaluation budget.
        jacobian: differentiate the basis in ``theta`` only (``basis_derivatives``);
            False: scipy's finite differences over all parameters.
        delta: the threshold itself, in target units (overrides ``huber``).
    Returns:
        (coef (K,), theta (P,)); the start unchanged if the polish fails.
    """
    k = len(coef)

    def resid(p):
        with np.errstate(all="ignore"):
            r = basis(X, p[k:]) @ p[:k] - y
        return np.where(np.isfinite(r), r, 1e6)

    def jac(p):
        with np.errstate(all="ignore"):
            Phi = basis(X, p[k:])
        Phi = np.where(np.isfinite(Phi), Phi, 0.0)
        D = basis_derivatives(basis, X, p[k:], lo, hi, Phi)
        return np.hstack([Phi, np.einsum("nkp,k->np", D, p[:k])])

    if delta is None:
        delta = huber * float(np.median(np.abs(resid(np.concatenate([coef, theta])))))
    if not (np.isfinite(delta) and delta > 1e-12 * (1.0 + float(np.mean(np.abs(y))))):
        return coef, theta

    lo2 = np.concatenate([np.full(k, -np.inf), lo])
    hi2 = np.concatenate([np.full(k, np.inf), hi])
    start = np.concatenate([coef, np.clip(theta, lo, hi)])
    try:
        res = least_squares(resid, start, jac=jac if jacobian else "2-point", bounds=(lo2, hi2), method="trf",
                            loss="huber", f_scale=delta, x_scale="jac", max_nfev=max_nfev)
    except (ValueError, np.linalg.LinAlgError):
        return coef, theta
    if not np.all(np.isfinite(res.x)):
        return coef, theta
    return res.x[:k], res.x[k:]


def relative_weights(y, span=10.0):  # span: as search.plausibility.LOG_SPAN
    """Row weights ``1 / y`` (N,) when the targets are all positive and the largest is at least
    ``span`` times the smallest (fit relative residuals); None otherwise (absolute residuals)."""
    y = np.asarray(y, dtype=float)
    if y.size == 0 or not np.all(np.isfinite(y)) or np.min(y) <= 0 or np.max(y) < span * np.min(y):
        return None
    return 1.0 / y


def fit_varpro(basis, X, y, lo, hi, init_lo, init_hi, n_starts=48, n_refine=3, max_nfev=300, seed=0, huber=2.0,
               jacobian=True, basin=1e-3):
    """Fit ``y ≈ basis(X, theta) @ coef``.

    Args:
        basis: callable (X, theta) -> (N, K) basis matrix.
        X: (N, F) features.
        y: (N,) targets.
        lo, hi: (P,) bounds of the nonlinear parameters ``theta``.
        init_lo, init_hi: (P,) box the random starts are drawn from.
        n_starts: random starts screened by their projected residual.
        n_refine: best starts refined by bounded least squares.
        max_nfev: evaluation budget of each refinement.
        seed: seed of the random starts (fixed: fits are deterministic).
        huber: threshold of the final Huber polish in units of the median
            absolute least-squares residual (see ``robust_polish``); 0 keeps the
            plain least-squares fit.
        jacobian: analytic Jacobians (``projected_jacobian``, and in the polish
            ``basis_derivatives``); False: scipy's finite differences.
        basin: the second start (without the rows least squares misses grossly)
            replaces the first only when its Huber loss is lower by more than
            this share: a fit in another basin, not the same optimum again.
    Returns:
        (coef (K,), theta (P,)). Residuals are relative for a positive target
        spanning a decade (``relative_weights``), else absolute.
    """
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    w = relative_weights(y)
    if w is not None:  # weighted least squares: rows of the basis and the targets scaled by 1 / y
        basis = _row_weighted(basis, w)
        y = y * w
    lo, hi = np.asarray(lo, dtype=float), np.asarray(hi, dtype=float)
    theta = projected_fit(basis, X, y, lo, hi, init_lo, init_hi, n_starts, n_refine, max_nfev, seed, jacobian)
    coef = _linear_part(basis, X, y, theta)
    if huber <= 0:
        return coef, theta
    with np.errstate(all="ignore"):
        resid = basis(X, theta) @ coef - y
    resid = np.where(np.isfinite(resid), resid, 1e6)  # as robust_polish counts a row it cannot predict
    delta = huber * float(np.median(np.abs(resid)))
    fits = [robust_polish(basis, X, y, coef, theta, lo, hi, huber, max_nfev, jacobian, delta)]
    kept = ~isolated_misses(resid)
    if not np.all(kept):  # a few runs far off: a second start, fitted without them, for the same Huber loss
        fewer = basis if w is None else _row_weighted(basis.unweighted, w[kept])  # the basis of the kept rows
        theta2 = theta
        if lo.size:
            out = refine_projected(theta, fewer, X[kept], y[kept], lo, hi, max_nfev, jacobian)
            theta2 = theta if out is None else out[0]
        coef2 = _linear_part(fewer, X[kept], y[kept], theta2)
        fits.append(robust_polish(basis, X, y, coef2, theta2, lo, hi, huber, max_nfev, jacobian, delta))
        with np.errstate(all="ignore"):
            first, second = (huber_cost(basis(X, t) @ c - y, delta) for c, t in fits)
        if second < (1.0 - basin) * first:  # another basin, not the same optimum polished a hair further
            return fits[1]
    return fits[0]


def _linear_part(basis, X, y, theta):
    """(K,) linear coefficients for ``theta`` on the rows X (N, F), y (N,)."""
    with np.errstate(all="ignore"):
        Phi = basis(X, theta)
    return solve_linear(np.where(np.isfinite(Phi), Phi, 0.0), y)


def _row_weighted(basis, w):
    """``basis`` with its (N,) rows scaled by ``w`` (N,): for exactly those N rows; ``.unweighted`` is ``basis``."""
    def weighted(X, theta):
        return basis(X, theta) * w[:, None]

    weighted.unweighted = basis
    return weighted


def refine_projected(theta, basis, X, y, lo, hi, max_nfev=300, jacobian=True):
    """Bounded least squares over ``theta`` (P,) from a start, the linear part projected out.

    Returns:
        (theta (P,), sum of squared residuals), or None when the solver fails.
    """
    try:
        res = least_squares(
            projected_residual,
            theta,
            jac=(lambda t, *_: projected_jacobian(t, basis, X, y, lo, hi)) if jacobian else "2-point",
            bounds=(lo, hi),
            args=(basis, X, y),
            method="trf",
            x_scale="jac",
            max_nfev=max_nfev,
        )
    except (ValueError, np.linalg.LinAlgError):
        return None
    return res.x, float(np.sum(res.fun**2))


def projected_fit(basis, X, y, lo, hi, init_lo, init_hi, n_starts=48, n_refine=3, max_nfev=300, seed=0,
                  jacobian=True):
    """The least-squares stage of ``fit_varpro``: ``theta`` (P,).

    ``n_starts`` random starts in ``[init_lo, init_hi]`` (the box's centre
    first) are screened by their projected residual and the best ``n_refine``
    refined (``refine_projected``).
    """
    best_theta = np.zeros(0)  # no nonlinear parameters: the linear solve is the whole fit
    if lo.size:
        rng = np.random.default_rng(seed)
        ilo, ihi = np.asarray(init_lo, dtype=float), np.asarray(init_hi, dtype=float)
        starts = np.vstack([(ilo + ihi) / 2, ilo + (ihi - ilo) * rng.random((max(n_starts - 1, 0), lo.size))])
        starts = np.clip(starts, lo, hi)
        sse = np.array([np.sum(projected_residual(t, basis, X, y) ** 2) for t in starts])
        best_theta, best_sse = starts[int(np.argmin(sse))], float(np.min(sse))
        for idx in np.argsort(sse)[:n_refine]:
            out = refine_projected(starts[idx], basis, X, y, lo, hi, max_nfev, jacobian)
            if out is not None and np.isfinite(out[1]) and out[1] < best_sse:
                best_theta, best_sse = out
    return np.asarray(best_theta, dtype=float)


def huber_cost(resid, delta):
    """Huber's loss summed over the (N,) residuals at threshold ``delta`` (quadratic inside, linear beyond)."""
    a = np.abs(np.where(np.isfinite(resid), resid, 1e6))
    return float(np.sum(np.where(a <= delta, 0.5 * a * a, delta * (a - 0.5 * delta))))


def range_guard(basis, beyond, y_range):
    """How far a law leaves a declared target range at inputs past the data.

    Args:
        basis: callable (X, theta) -> (M, K) basis matrix (unweighted).
        beyond: (M, F) inputs past the data where the law must stay in range.
        y_range: (lo, hi), either None for an open side.
    Returns:
        A function (coef (K,), theta (P,)) -> (2M,) violations in target units
        (0 inside the range), or None when there is nothing to guard.
    """
    if beyond is None or y_range is None:
        return None
    lo = -np.inf if y_range[0] is None else float(y_range[0])
    hi = np.inf if y_range[1] is None else float(y_range[1])
    B = np.atleast_2d(np.asarray(beyond, dtype=float))
    if B.size == 0 or not (np.isfinite(lo) or np.isfinite(hi)):
        return None

    def guard(coef, theta):
        with np.errstate(all="ignore"):
            pred = basis(B, theta) @ coef
            v = np.concatenate([np.maximum(pred - hi, 0.0), np.maximum(lo - pred, 0.0)])
        return np.where(np.isfinite(v), v, 1e6)

    return guard


def fit_in_range(basis, X, y, lo, hi, init_lo, init_hi, beyond, y_range, tol=0.01, n_starts=48, n_refine=3,
                 max_nfev=300, seed=0, huber=2.0):
    """``fit_varpro``, kept within a declared target range at the inputs ``beyond`` the data.

    The plain fit is returned when it stays in range there (to ``tol`` times the
    targets' span). Otherwise the fit is redone with the amounts the law leaves
    the range by (``range_guard``) as residuals beside the data's, in every
    stage: the random starts are screened on both, the best refined on both
    (variable projection, scipy's finite differences), and the Huber polish
    counts both. The bound is a limit, not a target: inside the range the
    guard adds nothing.

    Args:
        basis, X, y, lo, hi, init_lo, init_hi, n_starts, n_refine, max_nfev,
            seed, huber: as ``fit_varpro``.
        beyond: (M, F) inputs past the data; y_range: (lo, hi), None for an open side.
        tol: violations up to ``tol`` times the targets' span are let pass.
    Returns:
        (coef (K,), theta (P,)).
    """
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    plain = fit_varpro(basis, X, y, lo, hi, init_lo, init_hi, n_starts=n_starts, n_refine=n_refine,
                       max_nfev=max_nfev, seed=seed, huber=huber)
    guard = range_guard(basis, beyond, y_range)
    if guard is None or float(np.max(guard(*plain))) <= tol * float(np.ptp(y)):
        return plain
    w = relative_weights(y)
    w, scale = (np.ones_like(y), 1.0) if w is None else (w, float(np.mean(np.abs(y))))

    def weighted(theta):
        with np.errstate(all="ignore"):
            Phi = basis(X, theta) * w[:, None]
        return np.where(np.isfinite(Phi), Phi, 0.0)

    def joint(coef, theta):  # (N + 2M,) data residuals, then range violations
        with np.errstate(all="ignore"):
            r = np.concatenate([weighted(theta) @ coef - y * w, guard(coef, theta) / scale])
        return np.where(np.isfinite(r), r, 1e6)

    def projected(theta):  # the same, with the linear coefficients solved for theta
        try:
            return joint(solve_linear(weighted(theta), y * w), theta)
        except np.linalg.LinAlgError:
            return np.full(len(y) + 2 * len(np.atleast_2d(beyond)), 1e6)

    lo, hi = np.asarray(lo, dtype=float), np.asarray(hi, dtype=float)
    theta = np.zeros(0)
    if lo.size:
        rng = np.random.default_rng(seed)
        box_lo, box_hi = np.asarray(init_lo, dtype=float), np.asarray(init_hi, dtype=float)
        draws = box_lo + (box_hi - box_lo) * rng.random((max(n_starts - 1, 0), lo.size))
        candidates = np.clip(np.vstack([(box_lo + box_hi) / 2, draws, [np.clip(plain[1], lo, hi)]]), lo, hi)
        costs = [float(np.sum(projected(t) ** 2)) for t in candidates]
        theta, best = candidates[int(np.argmin(costs))], min(costs)
        for j in np.argsort(costs)[:n_refine]:
            try:
                res = least_squares(projected, candidates[j], bounds=(lo, hi), method="trf", x_scale="jac",
                                    max_nfev=max_nfev)
            except (ValueError, np.linalg.LinAlgError):
                continue
            if np.isfinite(res.cost) and 2 * res.cost < best:
                theta, best = res.x, 2 * res.cost
    coef = solve_linear(weighted(theta), y * w)
    k = len(coef)
    delta = huber * float(np.median(np.abs(joint(coef, theta)[: len(y)])))
    if huber > 0 and np.isfinite(delta) and delta > 1e-12 * (1.0 + float(np.mean(np.abs(y * w)))):
        try:
            res = least_squares(lambda p: joint(p[:k], p[k:]), np.concatenate([coef, theta]),
                                bounds=(np.concatenate([np.full(k, -np.inf), lo]), np.concatenate([np.full(k, np.inf), hi])),
                                method="trf", loss="huber", f_scale=delta, x_scale="jac", max_nfev=max_nfev)
            if np.all(np.isfinite(res.x)):
                coef, theta = res.x[:k], res.x[k:]
        except (ValueError, np.linalg.LinAlgError):
            pass
    return coef, theta

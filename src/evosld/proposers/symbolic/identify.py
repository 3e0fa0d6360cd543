"""Identifiability: does the data pin a law down along each scale feature?

Along one feature ``x_i`` (every other feature held fixed) a law is a curve
with some number of free parameters: its degrees of freedom along ``x_i``.
Terms that do not involve ``x_i`` merge into one constant; a coefficient times
``x_i^a`` is two; ``c (x_i + e^k)^a`` three, and so on. When that number reaches
the number of distinct values ``x_i`` takes in the rows the law is fitted on,
the curve can pass through any sequence of mean targets at those values: the
data no longer test its shape along ``x_i``, and where it goes beyond them is
set by the formula alone. Such laws fit validation by accident and extrapolate
at random (moe: four model sizes in the fit rows, and five-parameter curves in
N that scored best on validation and worst beyond it).

The count is the rank of the Jacobian of the law's prediction with respect to
all its parameters on points spanning every feature, less its rank with
``x_i`` held fixed, plus one: parameters the other features already pin (a
coefficient, an exponent a size shares with what scales it, as in
``c + A (N (1 + k ln P))^a``) are not free along ``x_i``. It is computed
numerically, so it holds for every building block without per-block rules.
A feature with only two values may still carry a one-parameter effect
(``allowed_dof``): ignoring a feature validation lies along is worse.
Only log-scale features are checked: they are the scale axes a law
extrapolates along, and they are swept one at a time in scaling studies.
Mixture fractions move together, so a count of their distinct values bounds
nothing.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from evosld.proposers.symbolic.expr import Law
from evosld.proposers.symbolic.model import Model
from evosld.proposers.symbolic.space import Space

#: random points in the feature box, random parameter draws, relative rank tolerance
_POINTS, _DRAWS, _TOL = 60, 2, 1e-7


def _rank(model: Model, U: np.ndarray, theta: np.ndarray, coef: np.ndarray) -> int:
    """Rank of d prediction / d (coef, theta) on the rows ``U`` (N, F); -1 if not finite."""
    cols = [model.basis_u(U, theta)]  # d y / d coef: the basis itself, (N, K)
    for p in range(len(theta)):
        h = 1e-5 * max(1.0, abs(theta[p]))
        up, down = theta.copy(), theta.copy()
        up[p] += h
        down[p] -= h
        cols.append(((model.basis_u(U, up) - model.basis_u(U, down)) @ coef / (2 * h))[:, None])
    J = np.column_stack(cols)
    if not np.all(np.isfinite(J)):
        return -1
    norms = np.linalg.norm(J, axis=0)
    J = J[:, norms > 0] / norms[norms > 0]
    if J.size == 0:
        return 0
    s = np.linalg.svd(J, compute_uv=False)
    return int(np.sum(s > _TOL * s[0]))


def dof_along(law: Law, space: Space, i: int) -> int:
    """Free parameters of ``law`` along feature ``i``, given the other features.

    The rank of the law's Jacobian on random points spanning every feature's
    range, minus its rank on the same points with ``x_i`` held at one value,
    plus one (the level the curve along ``x_i`` starts from): parameters the
    other features already pin (a coefficient, an exponent shared between a
    size and what scales it) are not free along ``x_i``. With one feature this
    is the number of parameters of the curve. The generic rank: the largest
    over a few parameter draws from the blocks' initial boxes (a parameter
    whose starts are all one value is drawn from a tenth of its bounds), with
    coefficients away from zero, and ``x_i`` held at two values. The draws are
    seeded, so the answer is the same on every call.
    """
    model = Model(law, space)
    lo, hi, ilo, ihi = model.boxes()
    ihi = np.where(ihi > ilo, ihi, np.minimum(ilo + 0.1 * (hi - lo), hi))
    rng = np.random.default_rng(0)
    umin, umax = np.asarray(space.umin), np.asarray(space.umax)
    U = umin + (umax - umin) * rng.random((_POINTS, space.n_features))
    dof = 1
    for _ in range(_DRAWS):
        theta = rng.uniform(ilo, ihi)
        coef = rng.uniform(0.5, 1.5, law.n_linear) * rng.choice([-1.0, 1.0], law.n_linear)
        full = _rank(model, U, theta, coef)
        fixed = []
        for at in (0.3, 0.8):
            Ui = U.copy()
            Ui[:, i] = umin[i] + at * (umax[i] - umin[i])
            fixed.append(_rank(model, Ui, theta, coef))
        if full < 0 or min(fixed) < 0:
            continue
        dof = max(dof, full - max(fixed) + 1)
    return dof


def allowed_dof(levels: int) -> int:
    """Most free parameters along a feature with ``levels`` distinct values in the fit rows.

    Fewer than the levels (more and the curve passes through any sequence of
    level means), except that two levels may carry a one-parameter effect:
    forbidding it would make every law ignore the feature, which is worse than
    the simplest dependence when validation lies further along it. A law
    constant along the feature (one free parameter: its level) is always
    allowed, so one value in the fit rows rules out any dependence, not every law.
    """
    return 2 if levels == 2 else max(1, levels - 1)


@lru_cache(maxsize=65536)
def identifiable(law: Law, space: Space) -> bool:
    """True when, along every log-scale feature, ``law`` has no more free
    parameters than ``allowed_dof`` of the distinct values that feature takes
    in the fit rows (``space.levels``; always True when the levels are not known)."""
    if not space.levels:
        return True
    for i, n in enumerate(space.levels):
        if space.kinds[i] == "log" and dof_along(law, space, i) > allowed_dof(n):
            return False
    return True

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
all its parameters, on a line of points along ``x_i``. It is computed
numerically, so it holds for every building block without per-block rules.
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

#: points on the line along a feature, random parameter draws, relative rank tolerance
_POINTS, _DRAWS, _TOL = 40, 2, 1e-7


def dof_along(law: Law, space: Space, i: int) -> int:
    """Free parameters of ``law`` along feature ``i`` (others at the centre of their range).

    The generic rank: the largest Jacobian rank over a few parameter draws
    from the blocks' initial boxes, with coefficients away from zero. The
    draws are seeded, so the answer is the same on every call.
    """
    model = Model(law, space)
    _, _, ilo, ihi = model.boxes()
    centre = (np.asarray(space.umin) + np.asarray(space.umax)) / 2.0
    U = np.tile(centre, (_POINTS, 1))
    U[:, i] = np.linspace(space.umin[i], space.umax[i], _POINTS)
    rng = np.random.default_rng(0)
    rank = 0
    for _ in range(_DRAWS):
        theta = rng.uniform(ilo, ihi)
        coef = rng.uniform(0.5, 1.5, law.n_linear) * rng.choice([-1.0, 1.0], law.n_linear)
        cols = [model.basis_u(U, theta)]  # d y / d coef: the basis itself, (POINTS, K)
        for p in range(len(theta)):
            h = 1e-5 * max(1.0, abs(theta[p]))
            up, down = theta.copy(), theta.copy()
            up[p] += h
            down[p] -= h
            cols.append(((model.basis_u(U, up) - model.basis_u(U, down)) @ coef / (2 * h))[:, None])
        J = np.column_stack(cols)
        if not np.all(np.isfinite(J)):
            continue
        norms = np.linalg.norm(J, axis=0)
        J = J[:, norms > 0] / norms[norms > 0]
        if J.size == 0:
            continue
        s = np.linalg.svd(J, compute_uv=False)
        rank = max(rank, int(np.sum(s > _TOL * s[0])))
    return rank


@lru_cache(maxsize=65536)
def identifiable(law: Law, space: Space) -> bool:
    """True when, along every log-scale feature, ``law`` has fewer free
    parameters than that feature has distinct values in the fit rows
    (``space.levels``; always True when the levels are not known)."""
    if not space.levels:
        return True
    for i, n in enumerate(space.levels):
        if space.kinds[i] == "log" and dof_along(law, space, i) >= n:
            return False
    return True

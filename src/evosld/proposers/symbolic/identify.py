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

The count is the number of distinct values of ``x_i`` it takes to pin every
parameter: the rank of the Jacobian of the law's prediction with respect to
all its parameters, on a grid of 1, 2, ... values of ``x_i`` times points of
the other features, stops growing there. Parameters the other features
already pin (a coefficient, an exponent a size shares with what scales it,
as in ``c + A (N (1 + k ln P))^a``) are not free along ``x_i``, and a law
whose curve at one value of ``x_i`` has several parameters of its own (a
level and the position of an optimum) is counted by the longest of their
curves along ``x_i``, not by their sum: each is checked by the values beyond
its own count. (Until session 26 the count was that sum: the rank on points
spanning every feature less the rank with ``x_i`` fixed, plus one. It
rejected ``c + A N^-a + k (ln lr - m0 - m1 ln N)^2``, the law of an optimal
learning rate moving with model size, on four model sizes.) It is computed
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

from evosld.proposers.symbolic.expr import Factor, Law, Term
from evosld.proposers.symbolic.model import Model
from evosld.proposers.symbolic.space import Space

#: parameter draws, relative rank tolerance
_DRAWS, _TOL = 2, 1e-7


def _jacobian(model: Model, U: np.ndarray, theta: np.ndarray, coef: np.ndarray) -> np.ndarray:
    """d prediction / d (coef, theta) on the rows ``U`` (N, F): (N, K + P)."""
    cols = [model.basis_u(U, theta)]  # d y / d coef: the basis itself, (N, K)
    for p in range(len(theta)):
        h = 1e-5 * max(1.0, abs(theta[p]))
        up, down = theta.copy(), theta.copy()
        up[p] += h
        down[p] -= h
        cols.append(((model.basis_u(U, up) - model.basis_u(U, down)) @ coef / (2 * h))[:, None])
    return np.column_stack(cols)


def _rank(J: np.ndarray) -> int:
    """Numerical rank of a Jacobian (N, K + P), its columns scaled to unit length; -1 if not finite."""
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

    The law is looked at level by level: at one value of ``x_i`` its curve in
    the other features has some parameters of its own (a level, an optimum's
    position, an amplitude...), and along ``x_i`` each of those moves on a
    curve of its own. The count is the number of distinct values of ``x_i``
    at which every parameter is pinned: the rank of the law's Jacobian (with
    respect to all its parameters) on a grid of ``L`` values of ``x_i`` times
    random points of the other features stops growing at ``L``. With one
    feature this is the number of parameters of the curve; ``c + A N^-a +
    k (ln lr - m0 - m1 ln N)^2`` counts 3 along N (the level's c, A, a; the
    optimum's m0, m1; k is the same at every N), not the 4 parameters that
    do not appear at one N alone: its level and its optimum are two curves
    in N, each checked by a fourth model size. The generic rank: the largest
    count over a few parameter draws from the blocks' initial boxes (a
    parameter whose starts are all one value is drawn from a tenth of its
    bounds), with coefficients away from zero: the rank at each number of
    values is the largest over the draws. The draws and the grid are
    seeded, so the answer is the same on every call.
    """
    model = Model(law, space)
    lo, hi, ilo, ihi = model.boxes()
    ihi = np.where(ihi > ilo, ihi, np.minimum(ilo + 0.1 * (hi - lo), hi))
    rng = np.random.default_rng(0)
    umin, umax = np.asarray(space.umin), np.asarray(space.umax)
    per_level = law.n_params + 4 if space.n_features > 1 else 1  # points of the other features at each x_i
    levels = law.n_params + 1  # enough values of x_i for every parameter to be pinned
    U = umin + (umax - umin) * rng.random((per_level, space.n_features))
    at = umin[i] + (umax[i] - umin[i]) * (0.05 + 0.9 * rng.permutation(levels) / max(levels - 1, 1))
    grid = np.concatenate([np.column_stack([U[:, :i], np.full(per_level, a), U[:, i + 1:]]) for a in at])
    generic = np.full(levels, -1)  # rank on the first 1, 2, ... values of x_i, the largest over the draws
    for _ in range(_DRAWS):
        theta = rng.uniform(ilo, ihi)
        coef = rng.uniform(0.5, 1.5, law.n_linear) * rng.choice([-1.0, 1.0], law.n_linear)
        J = _jacobian(model, grid, theta, coef)  # rows level by level: a prefix is the first k + 1 values
        ranks = np.array([_rank(J[: (k + 1) * per_level]) for k in range(levels)])
        if ranks.min() >= 0:
            generic = np.maximum(generic, ranks)
    if generic.min() < 0:
        return 1
    return int(np.argmax(generic == generic[-1])) + 1


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
    in the fit rows (``space.levels``; always True when the levels are not known),
    and it leaves alone every feature the fit rows hold at one value (of any kind: a
    learning rate the user never varied, a column of units). No fit can learn an
    effect of such a feature, and a law that has one anyway predicts from its
    parameters' starts and bounds wherever the feature takes another value."""
    if not space.levels:
        return True
    used = {i for term in law.terms for factor in term.factors for i in factor.feats}
    for i, n in enumerate(space.levels):
        if n <= 1 and i in used:
            return False
        if space.kinds[i] == "log" and dof_along(law, space, i) > allowed_dof(n):
            return False
    return True


@lru_cache(maxsize=1024)
def tie_pairs(space: Space) -> tuple[tuple[int, int], ...]:
    """Pairs (i, j), i < j, of log-scale features whose exponents the fit rows cannot pin apart.

    A pair is one when ``c + A x_i^a + B x_j^b`` is not ``identifiable``: with
    three model sizes it has three free parameters along N, more than two. A
    researcher then ties the exponents (``c + A x_i^a + B x_j^a``, the
    ``tpow`` block: two along each), as Gadre et al. 2024 did on four model
    sizes; where the runs pin two exponents, the untied law is the standard
    form and a tie only crowds the search. Empty when the levels are not
    known (``identifiable`` is then always true).
    """
    logs = [i for i, k in enumerate(space.kinds) if k == "log"]
    c = Term()
    return tuple((i, j) for i in logs for j in logs if i < j and not identifiable(
        Law.of(c, Term.of(Factor("pow", (i,))), Term.of(Factor("pow", (j,)))), space))

"""Random structures, mutations and crossover over laws.

Every operator takes a ``numpy.random.Generator`` and returns a new canonical
``Law`` (or None when it does not apply); ``valid`` says whether a law is well
formed on a feature space and within a per-output parameter limit. The proposer
retries until it finds a valid law whose key it has not proposed before.
"""

from __future__ import annotations

import numpy as np

from evosld.proposers.symbolic.blocks import KINDS
from evosld.proposers.symbolic.expr import Factor, Law, Term
from evosld.proposers.symbolic.identify import tie_pairs
from evosld.proposers.symbolic.space import Space


def feats_of(space: Space, *kinds: str) -> list[int]:
    return [i for i, k in enumerate(space.kinds) if k in kinds]


def available_kinds(space: Space) -> dict[str, float]:
    """Block kinds that apply to ``space``, with their sampling weights."""
    w: dict[str, float] = {}
    logs, fracs, lins = feats_of(space, "log"), feats_of(space, "frac"), feats_of(space, "lin")
    if logs:
        w.update(pow=4.0, sat=1.5, shift=1.0, lin=1.0, bowl=1.0, logsh=0.3)
    if fracs or lins:
        w.update(expmix=3.0 if space.mixture else 1.5, lin=w.get("lin", 0) + 1.5, sat=w.get("sat", 0) + 0.7,
                 bowl=w.get("bowl", 0) + 0.7)
    if fracs:
        w.update(shift=w.get("shift", 0) + 1.0, logsh=w.get("logsh", 0) + 1.0)
    if space.dominates:
        w["eff"] = 1.0
    if len(logs) >= 2:
        w["escale"] = 1.0
        if tie_pairs(space):
            w["tpow"] = 1.0
    # bumps: rarer along log-scale (size) axes, where most scaling data is monotone
    bump = sum(0.5 if space.kinds[i] == "log" else 1.0 for i in range(space.n_features) if i not in space.monotone)
    if bump:
        w["bump"] = min(bump, 1.5)
    if "bowl" in w and not any(space.bowl_axis(i) for i in feats_of(space, *KINDS["bowl"].accepts)):
        del w["bowl"]
    return w


def _pick(rng: np.random.Generator, weights: dict[str, float]) -> str:
    names = list(weights)
    p = np.array([weights[n] for n in names], dtype=float)
    return names[int(rng.choice(len(names), p=p / p.sum()))]


def random_factor(rng: np.random.Generator, space: Space, kind: str | None = None, feat: int | None = None) -> Factor | None:
    """A random factor (of ``kind`` and on ``feat`` if given), or None if impossible."""
    kind = kind or _pick(rng, available_kinds(space))
    block = KINDS[kind]
    allowed = feats_of(space, *block.accepts)
    if kind == "eff":
        pairs = [p for p in space.dominates if feat is None or feat in p]
        return Factor("eff", pairs[int(rng.integers(len(pairs)))]) if pairs else None
    if kind == "escale":  # (size, feature whose log scales it): any ordered pair of log features
        pairs = [(i, j) for i in allowed for j in allowed if i != j and (feat is None or feat in (i, j))]
        return Factor("escale", pairs[int(rng.integers(len(pairs)))]) if pairs else None
    if kind == "tpow":  # two sizes under one exponent: the pairs the fit rows cannot pin two exponents of
        pairs = [p for p in tie_pairs(space) if feat is None or feat in p]
        return Factor("tpow", pairs[int(rng.integers(len(pairs)))]) if pairs else None
    if feat is not None and feat not in allowed:
        return None
    if not allowed:
        return None
    i = feat if feat is not None else int(rng.choice(allowed))
    if kind == "expmix":
        if space.mixture and rng.random() < 0.5:
            return Factor("expmix", tuple(allowed))
        k = int(rng.integers(1, len(allowed) + 1))
        chosen = set(rng.choice(allowed, size=k, replace=False).tolist()) | {i}
        return Factor("expmix", tuple(sorted(chosen)))
    if kind == "bump" and i in space.monotone:
        free = [j for j in allowed if j not in space.monotone]
        if not free or feat is not None:
            return None
        i = int(rng.choice(free))
    if kind == "bowl":
        if not space.bowl_axis(i):
            free = [j for j in allowed if space.bowl_axis(j)]
            if not free or feat is not None:
                return None
            i = int(rng.choice(free))
        others = [j for j in range(space.n_features) if j != i]
        k = int(rng.integers(0, min(len(others), 2) + 1))
        centre = sorted(rng.choice(others, size=k, replace=False).tolist()) if k else []
        return Factor("bowl", (i, *centre))
    return Factor(kind, (i,))


def random_term(rng: np.random.Generator, space: Space) -> Term | None:
    n = 1 if rng.random() < 0.7 else (2 if rng.random() < 0.85 else 3)
    factors = [random_factor(rng, space) for _ in range(n)]
    if any(f is None for f in factors):
        return None
    return Term.of(*factors)  # type: ignore[arg-type]


#: Factors that grow without bound in ln x (a logarithm), and those that decay as a power of x.
_LOG_GROWTH = ("lin", "logsh")
_POWER = ("pow", "shift")


def _bounded_along_extrapolated(term: Term, space: Space) -> bool:
    """False when ``term`` grows like ln x along a feature validation extrapolates.

    Loss-like targets approach a floor as scale grows (the irreducible term of
    every published law, e.g. Hoffmann et al. 2022, Clark et al. 2022), so a bare
    ``c ln N`` term, which keeps falling (or rising) forever, fits the seen range
    and then drifts away from it. A logarithm multiplied by a power of the same
    feature (``ln N * N^a``) is allowed: it has a limit. Bowls whose centre moves
    with N are kept: a moving optimum (learning rate, batch size) is physics.
    """
    for i in space.extrapolated:
        grows = any(f.kind in _LOG_GROWTH and f.feats[0] == i for f in term.factors)
        damped = any(f.kind in _POWER and f.feats[0] == i for f in term.factors)
        if grows and not damped:
            return False
    return True


def valid(law: Law, space: Space, max_params: int | None) -> bool:
    """Well formed on ``space`` and within ``max_params`` per output."""
    if not law.terms or (max_params is not None and law.n_params > max_params):
        return False
    seen_fixed = set()
    for t in law.terms:
        if len(t.factors) > 3:
            return False
        pow_feats = [f.feats[0] for f in t.factors if f.kind == "pow"]
        if len(pow_feats) != len(set(pow_feats)):
            return False
        if sum(f.kind == "expmix" for f in t.factors) > 1:
            return False
        lin_feats = [f.feats[0] for f in t.factors if f.kind == "lin"]
        if any(lin_feats.count(i) > 1 for i in space.extrapolated):
            return False  # no curvature in u along a feature validation extrapolates
        if not _bounded_along_extrapolated(t, space):
            return False
        for f in t.factors:
            if f.kind not in KINDS or not KINDS[f.kind].valid(f.feats, space):
                return False
        if sum(f.n_params for f in t.factors) == 0:  # parameter-free terms: no duplicates
            if t in seen_fixed:
                return False
            seen_fixed.add(t)
    return True


def random_law(rng: np.random.Generator, space: Space, max_params: int | None, tries: int = 50) -> Law:
    """A small random law: a constant plus one to three random terms."""
    for _ in range(tries):
        terms = [Term()] if rng.random() < 0.85 else []
        for _ in range(int(rng.integers(1, 4))):
            t = random_term(rng, space)
            if t is not None:
                terms.append(t)
        if terms:
            law = Law.of(*terms)
            if valid(law, space, max_params):
                return law
    return Law.of(Term())


# ---- mutations ---------------------------------------------------------------

def _replace_term(law: Law, k: int, new: Term | None) -> Law:
    terms = list(law.terms)
    if new is None:
        del terms[k]
    else:
        terms[k] = new
    return Law.of(*terms) if terms else law


def _swap_factor(law: Law, k: int, j: int, new: Factor | None) -> Law | None:
    """``law`` with factor ``j`` of term ``k`` replaced by ``new`` (None when there is no replacement)."""
    if new is None:
        return None
    fs = list(law.terms[k].factors)
    fs[j] = new
    return _replace_term(law, k, Term.of(*fs))


def m_add_term(rng, law, space):
    t = random_term(rng, space)
    return Law.of(*law.terms, t) if t is not None else None


def m_remove_term(rng, law, space):
    if len(law.terms) < 2:
        return None
    return _replace_term(law, int(rng.integers(len(law.terms))), None)


def m_add_factor(rng, law, space):
    """Couple a term multiplicatively with a new factor."""
    k = int(rng.integers(len(law.terms)))
    f = random_factor(rng, space, kind=_pick(rng, {"pow": 3.0, "lin": 1.0, "sat": 1.0, "expmix": 1.0,
                                                   "shift": 0.5, "bowl": 0.5, "bump": 0.3}))
    if f is None:
        return None
    return _replace_term(law, k, Term.of(*law.terms[k].factors, f))


def m_remove_factor(rng, law, space):
    cands = [k for k, t in enumerate(law.terms) if t.factors]
    if not cands:
        return None
    k = cands[int(rng.integers(len(cands)))]
    fs = list(law.terms[k].factors)
    del fs[int(rng.integers(len(fs)))]
    return _replace_term(law, k, Term.of(*fs))


def _pick_factor(rng, law):
    cands = [(k, j) for k, t in enumerate(law.terms) for j in range(len(t.factors))]
    if not cands:
        return None
    return cands[int(rng.integers(len(cands)))]


def m_change_kind(rng, law, space):
    """Swap a factor's block for another on the same feature (pow -> sat, ...)."""
    at = _pick_factor(rng, law)
    if at is None:
        return None
    k, j = at
    old = law.terms[k].factors[j]
    kind = _pick(rng, {n: w for n, w in available_kinds(space).items() if n != old.kind})
    return _swap_factor(law, k, j, random_factor(rng, space, kind=kind, feat=old.feats[0]))


def m_change_feature(rng, law, space):
    at = _pick_factor(rng, law)
    if at is None:
        return None
    k, j = at
    return _swap_factor(law, k, j, random_factor(rng, space, kind=law.terms[k].factors[j].kind))


def m_toggle_constant(rng, law, space):
    if law.has_constant:
        terms = [t for t in law.terms if t.factors]
        return Law.of(*terms) if terms else None
    return Law.of(*law.terms, Term())


def m_centre(rng, law, space):
    """Add or drop a feature the centre of a bowl (or the mix of an expmix) depends on."""
    cands = [(k, j) for k, t in enumerate(law.terms) for j, f in enumerate(t.factors) if f.kind in ("bowl", "expmix")]
    if not cands:
        return None
    k, j = cands[int(rng.integers(len(cands)))]
    f = law.terms[k].factors[j]
    head, rest = (f.feats[:1], list(f.feats[1:])) if f.kind == "bowl" else ((), list(f.feats))
    pool = [i for i in range(space.n_features) if i not in head and i not in rest and space.kinds[i] in KINDS[f.kind].accepts]
    if pool and (rng.random() < 0.5 or len(rest) <= (0 if f.kind == "bowl" else 1)):
        rest.append(int(rng.choice(pool)))
    elif len(rest) > (0 if f.kind == "bowl" else 1):
        rest.pop(int(rng.integers(len(rest))))
    else:
        return None
    fs = list(law.terms[k].factors)
    fs[j] = Factor(f.kind, (*head, *sorted(rest)))
    return _replace_term(law, k, Term.of(*fs))


def m_split_merge(rng, law, space):
    """Split a product term into two terms, or merge two terms into one product."""
    prods = [k for k, t in enumerate(law.terms) if len(t.factors) >= 2]
    if prods and rng.random() < 0.5:
        k = prods[int(rng.integers(len(prods)))]
        fs = list(law.terms[k].factors)
        j = int(rng.integers(len(fs)))
        one = fs.pop(j)
        terms = [t for i, t in enumerate(law.terms) if i != k] + [Term.of(one), Term.of(*fs)]
        return Law.of(*terms)
    nonconst = [k for k, t in enumerate(law.terms) if t.factors]
    if len(nonconst) < 2:
        return None
    a, b = rng.choice(nonconst, size=2, replace=False)
    merged = Term.of(*law.terms[a].factors, *law.terms[b].factors)
    terms = [t for i, t in enumerate(law.terms) if i not in (a, b)] + [merged]
    return Law.of(*terms)


MUTATIONS = {
    "add_term": (m_add_term, 2.0),
    "remove_term": (m_remove_term, 1.5),
    "add_factor": (m_add_factor, 2.0),
    "remove_factor": (m_remove_factor, 1.0),
    "change_kind": (m_change_kind, 2.0),
    "change_feature": (m_change_feature, 1.5),
    "toggle_constant": (m_toggle_constant, 0.5),
    "centre": (m_centre, 1.0),
    "split_merge": (m_split_merge, 1.0),
}


def mutate(rng: np.random.Generator, law: Law, space: Space, max_params: int | None) -> tuple[Law, str] | None:
    """One random valid mutation of ``law`` (and its name), or None after a few tries."""
    names = list(MUTATIONS)
    w = np.array([MUTATIONS[n][1] for n in names])
    for _ in range(20):
        name = names[int(rng.choice(len(names), p=w / w.sum()))]
        new = MUTATIONS[name][0](rng, law, space)
        if new is not None and new.key != law.key and valid(new, space, max_params):
            return new, name
    return None


def crossover(rng: np.random.Generator, a: Law, b: Law, space: Space, max_params: int | None) -> Law | None:
    """A child taking a random subset of the union of both parents' terms."""
    pool = list(a.terms) + [t for t in b.terms if t not in a.terms]
    for _ in range(20):
        keep = [t for t in pool if rng.random() < 0.5]
        if not keep:
            continue
        child = Law.of(*keep)
        if child.key not in (a.key, b.key) and valid(child, space, max_params):
            return child
    return None

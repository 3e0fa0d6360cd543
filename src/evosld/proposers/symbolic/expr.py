"""Law structures: a sum of terms, each a fitted coefficient times a product of factors.

A law predicts every output ``t`` as

    y_t = sum_k c_tk * prod_{f in term_k} f(x; theta_tkf)

The coefficients ``c`` enter linearly (solved in closed form when fitting); the
factors carry the nonlinear parameters ``theta`` (exponents, offsets, centres).
An empty term is the irreducible constant. Every output shares the structure and
gets its own parameters, so a law with ``P`` parameters per output has ``T * P``
in total.

Structures are frozen dataclasses with a canonical order, so two spellings of the
same law compare equal and share one ``key``. They round-trip through plain JSON
(``to_json`` / ``from_json``) so a parent's ``meta["structure"]`` can be parsed back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from evosld.proposers.symbolic import blocks


@dataclass(frozen=True, order=True)
class Factor:
    """One building block applied to some features.

    Attributes:
        kind: a name in ``blocks.KINDS`` (``"pow"``, ``"sat"``, ``"bowl"``...).
        feats: feature indices (0-based, task order). Their meaning is per kind:
            ``bowl`` is ``(axis, *centre_features)``, ``eff`` is ``(total, unique)``.
    """

    kind: str
    feats: tuple[int, ...]

    @property
    def n_params(self) -> int:
        return blocks.KINDS[self.kind].n_params(self.feats)

    @property
    def key(self) -> str:
        return f"{self.kind}({','.join(map(str, self.feats))})"


@dataclass(frozen=True, order=True)
class Term:
    """A fitted coefficient times the product of ``factors`` (empty: a constant)."""

    factors: tuple[Factor, ...] = ()

    @staticmethod
    def of(*factors: Factor) -> Term:
        return Term(tuple(sorted(factors)))

    @property
    def n_params(self) -> int:
        return 1 + sum(f.n_params for f in self.factors)

    @property
    def key(self) -> str:
        return "*".join(f.key for f in self.factors) or "1"


@dataclass(frozen=True)
class Law:
    """A law structure: canonical (sorted) terms shared by every output."""

    terms: tuple[Term, ...]

    @staticmethod
    def of(*terms: Term) -> Law:
        return Law(tuple(sorted(terms)))

    def canonical(self) -> Law:
        return Law(tuple(sorted(Term.of(*t.factors) for t in self.terms)))

    @property
    def n_params(self) -> int:
        """Fitted parameters per output."""
        return sum(t.n_params for t in self.terms)

    @property
    def n_linear(self) -> int:
        return len(self.terms)

    @property
    def n_nonlinear(self) -> int:
        return self.n_params - self.n_linear

    @property
    def key(self) -> str:
        """Canonical structure key: equal for equal structures, whatever the order."""
        return " + ".join(t.key for t in self.canonical().terms)

    @property
    def complexity(self) -> int:
        """Size of the expression: number of terms plus number of factors."""
        return len(self.terms) + sum(len(t.factors) for t in self.terms)

    @property
    def has_constant(self) -> bool:
        return any(not t.factors for t in self.terms)

    # ---- JSON -----------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        return {"terms": [[[f.kind, list(f.feats)] for f in t.factors] for t in self.canonical().terms]}

    @staticmethod
    def from_json(data: dict[str, Any]) -> Law:
        """Parse ``to_json`` output; raises ValueError on anything else."""
        try:
            terms = []
            for t in data["terms"]:
                factors = []
                for kind, feats in t:
                    if kind not in blocks.KINDS:
                        raise ValueError(f"unknown block kind {kind!r}")
                    factors.append(Factor(str(kind), tuple(int(i) for i in feats)))
                terms.append(Term.of(*factors))
        except (KeyError, TypeError) as exc:
            raise ValueError(f"not a law structure: {exc}") from None
        if not terms:
            raise ValueError("a law needs at least one term")
        return Law.of(*terms)

"""A law made numeric: its basis matrix and its parameter boxes.

``Model(law, space)`` lays the nonlinear parameters out term by term, factor by
factor; ``basis(X, theta)`` is the (N, K) matrix whose columns are the terms
(one per linear coefficient). Fitting and prediction go through
``fit.fit_varpro``; params are ``[coef (K), theta (P)]`` per output.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from evosld.proposers.symbolic.blocks import KINDS
from evosld.proposers.symbolic.expr import Law
from evosld.proposers.symbolic.fit import fit_in_range, fit_varpro
from evosld.proposers.symbolic.space import Space


@dataclass(frozen=True)
class Model:
    """Numeric model of ``law`` on ``space``."""

    law: Law
    space: Space

    @property
    def slices(self) -> list[list[tuple[str, tuple[int, ...], slice]]]:
        """Per term, per factor: (kind, feats, slice of theta)."""
        out, at = [], 0
        for term in self.law.terms:
            row = []
            for f in term.factors:
                n = f.n_params
                row.append((f.kind, f.feats, slice(at, at + n)))
                at += n
            out.append(row)
        return out

    def boxes(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(lo, hi, init_lo, init_hi), each (P,)."""
        lo, hi, ilo, ihi = [], [], [], []
        for term in self.law.terms:
            for f in term.factors:
                b = KINDS[f.kind].box(f.feats, self.space)
                lo += b.lo
                hi += b.hi
                ilo += b.init_lo
                ihi += b.init_hi
        return tuple(np.asarray(v, dtype=float) for v in (lo, hi, ilo, ihi))  # type: ignore[return-value]

    def param_names(self) -> tuple[list[str], list[list[list[str]]]]:
        """Symbols for coefficients (K,) and per term, per factor, its parameters."""
        coef = [f"c_{k}" for k in range(len(self.law.terms))]
        counter: dict[str, int] = {}
        names = []
        for term in self.law.terms:
            row = []
            for f in term.factors:
                labels = []
                for base in KINDS[f.kind].box(f.feats, self.space).names:
                    counter[base] = counter.get(base, 0) + 1
                    labels.append(f"{base}_{counter[base]}")
                row.append(labels)
            names.append(row)
        return coef, names

    def basis_u(self, U: np.ndarray, theta: np.ndarray) -> np.ndarray:
        """(N, F) transformed features, (P,) params -> (N, K) basis."""
        cols = []
        for row in self.slices:
            col = np.ones(len(U))
            for kind, feats, sl in row:
                col = col * KINDS[kind].evaluate(U, feats, theta[sl], self.space)
            cols.append(col)
        return np.column_stack(cols)

    def basis(self, X: np.ndarray, theta: np.ndarray, t: int = 0) -> np.ndarray:
        """(N, F) raw features, (P,) params -> (N, K) basis (for output t)."""
        return self.basis_u(self.space.transform(X, t), theta)

    def fit(self, X: np.ndarray, y: np.ndarray, **settings) -> np.ndarray:
        """Fit on raw X (N, F), y (N,) or (N, T) -> params (P_total,) or (T, P_total)."""
        lo, hi, ilo, ihi = self.boxes()
        Y = np.asarray(y, dtype=float).reshape(len(X), -1)
        rows = []
        for t in range(Y.shape[1]):
            U = self.space.transform(X, t if self.space.own else 0)
            if self.space.keeps_range:
                coef, theta = fit_in_range(self.basis_u, U, Y[:, t], lo, hi, ilo, ihi, np.array(self.space.beyond),
                                           self.space.y_range, **settings)
            else:
                coef, theta = fit_varpro(self.basis_u, U, Y[:, t], lo, hi, ilo, ihi, **settings)
            rows.append(np.concatenate([coef, theta]))
        P = np.array(rows)
        return P[0] if np.ndim(y) == 1 else P

    def predict(self, X: np.ndarray, params: np.ndarray) -> np.ndarray:
        """Raw X (N, F), params (P_total,) or (T, P_total) -> (N,) or (N, T)."""
        P = np.asarray(params, dtype=float)
        K = self.law.n_linear
        own = bool(self.space.own)
        with np.errstate(all="ignore"):
            out = np.column_stack([
                self.basis_u(self.space.transform(X, t if own else 0), p[K:]) @ p[:K]
                for t, p in enumerate(np.atleast_2d(P))
            ])
        return out[:, 0] if P.ndim == 1 else out

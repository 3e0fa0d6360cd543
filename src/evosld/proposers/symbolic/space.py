"""The feature space a law is searched in: how each feature is transformed, and what the data says about it.

``Space.from_data`` decides per feature its kind (log scale, fraction, linear),
its reference value and range on the training rows; the ``with_*`` steps add
what the mutations and the identifiability check need to know (the
extrapolation direction, interior optima, how many distinct levels each scale
has per group, a per-output feature for several targets). The building blocks
(``blocks``) evaluate on the transformed features ``u`` it defines.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from evosld.tasks.holdout import feature_kind
from evosld.tasks.scales import DEFAULT_RTOL, fewest_levels


def _nice(x: float) -> float:
    """A round reference value (two significant digits)."""
    return float(f"{x:.2g}")

#: |correlation| of two log features' logs beyond which they are entangled (share over a quarter of
#: their variance). Crossed designs (ParScale's N x P, experts x size, lr x batch) sit at 0.0-0.41 on
#: the built-in tables; data grown with model size (Chinchilla-like tables, vocab's N and characters,
#: data-constrained's N and tokens) at 0.66-0.85; any limit in between gives the same pairs.
ENTANGLED = 0.5
#: Quantile bins of a binned sweep (``Space.with_optima``) for a feature never swept exactly.
OPTIMA_BINS = 5
#: Inputs past the data where a law must stay within a declared target range (``with_range``).
BEYOND_POINTS = 24


@dataclass(frozen=True)
class Space:
    """How each feature is transformed, and its range on the training rows.

    Attributes:
        names: feature names, task order.
        kinds: per feature ``"log"`` (positive, log scale), ``"frac"`` (in [0, 1],
            used raw) or ``"lin"`` (standardised).
        ref: per feature the reference ``x_ref`` (log), 0 (frac) or the mean (lin).
        scale: per feature 1 (log, frac) or the standard deviation (lin).
        umin, umax: per feature the range of ``u`` on the training rows.
        dominates: pairs (i, j) of log features with x_i >= x_j on every row and
            x_i ≈ x_j on some (a total and a unique count, equal at one epoch:
            where the effective-data block applies).
        mixture: True when the fractions sum to one on every row.
        own: for a mixture with one output per component, output t's own
            component (feature index); the space then ends with a virtual
            fraction ``x_own`` that stands for it (see ``with_own``).
        extrapolated: features validation lies beyond (``with_extrapolation``), on
            either side of the fit rows.
        below: the extrapolated features along which validation lies *below*
            the fit rows (accuracy against a falling loss, test at the lowest
            losses); the others in ``extrapolated`` lie above.
        monotone: features along which the data shows no optimum (``with_optima``).
        Bowls curve along neither.
        levels: per raw feature, the fewest distinct values it takes in one
            group's fit rows, among groups where it varies (``with_levels``);
            empty when not known.
        entangled: pairs (i, j), i < j, of log features whose logs correlate
            beyond ``ENTANGLED`` on the training rows (data grown with model
            size): a factor of one that modifies the other cannot be told
            from a change of the other's exponent, so ``escale`` is not
            offered for them.
        y_range: the declared range of the targets (lo, hi; None for an open
            side), or None (``with_range``).
        beyond: transformed inputs ``u`` (M, n_features) past the training rows
            where a law must stay within ``y_range`` (``with_range``).
    """

    names: tuple[str, ...]
    kinds: tuple[str, ...]
    ref: tuple[float, ...]
    scale: tuple[float, ...]
    umin: tuple[float, ...]
    umax: tuple[float, ...]
    dominates: tuple[tuple[int, int], ...] = ()
    mixture: bool = False
    short: tuple[str, ...] = field(default=())
    extrapolated: tuple[int, ...] = ()
    below: tuple[int, ...] = ()
    own: tuple[int, ...] = ()
    monotone: tuple[int, ...] = ()
    levels: tuple[int, ...] = ()
    entangled: tuple[tuple[int, int], ...] = ()
    y_range: tuple[float | None, float | None] | None = None
    beyond: tuple[tuple[float, ...], ...] = ()

    @staticmethod
    def from_data(X: np.ndarray, names: tuple[str, ...] | list[str], log_features=()) -> Space:
        """Build from training rows ``X`` (N, F) and the names of log-scale features.

        ``extrapolated`` (features validation lies beyond) is set later with
        ``with_extrapolation``. A feature not declared log-scale is still treated as one when it is
        positive and spans more than a factor of 20; features within [0, 1]
        are fractions.
        """
        X = np.asarray(X, dtype=float)
        names = tuple(names)
        kinds, ref, scale = [], [], []
        for i, name in enumerate(names):
            col = X[:, i]
            kind = feature_kind(col, name in log_features)
            if kind == "log":
                kinds.append("log")
                ref.append(_nice(float(np.exp(np.mean(np.log(col))))))
                scale.append(1.0)
            elif kind == "frac":
                kinds.append("frac")
                ref.append(0.0)
                scale.append(1.0)
            else:
                kinds.append("lin")
                ref.append(_nice(float(col.mean())))
                sd = float(col.std())
                scale.append(_nice(sd) if sd > 0 else 1.0)
        space = Space(names, tuple(kinds), tuple(ref), tuple(scale), (), ())
        U = space.transform(X)
        dom = tuple(
            (i, j)
            for i in range(len(names))
            for j in range(len(names))
            if i != j and kinds[i] == kinds[j] == "log" and np.all(X[:, i] >= X[:, j])
            and np.any(X[:, i] > X[:, j]) and np.min(X[:, i] / X[:, j]) < 1.05
        )
        logs = [i for i, k in enumerate(kinds) if k == "log"]
        tangled = tuple((i, j) for i in logs for j in logs if i < j and _entangled(U[:, i], U[:, j]))
        fr = [i for i, k in enumerate(kinds) if k == "frac"]
        mixture = len(fr) >= 2 and bool(np.allclose(X[:, fr].sum(axis=1), 1.0, atol=1e-3))
        return Space(
            names,
            tuple(kinds),
            tuple(ref),
            tuple(scale),
            tuple(float(v) for v in U.min(axis=0)),
            tuple(float(v) for v in U.max(axis=0)),
            dom,
            mixture,
            short_names(names),
            entangled=tangled,
        )

    def with_extrapolation(self, X_fit: np.ndarray, X_val: np.ndarray) -> Space:
        """Mark the features along which validation rows lie beyond the fit rows.

        A feature is extrapolated when the validation rows' mean sits more than
        0.8 standard deviations above the fit rows' mean, or more than a fifth of
        them lie above the fit rows' maximum; or the same below (``below``: a
        test rule such as ``loss <= 2.2`` asks for the lowest values). Bowls do
        not curve along these.
        Args: X_fit (N, F), X_val (M, F) raw features.
        """
        if len(X_val) == 0 or len(X_fit) == 0:
            return self
        Uf, Uv = self.transform(X_fit), self.transform(X_val)
        sd = np.where(Uf.std(axis=0) > 0, Uf.std(axis=0), 1.0)
        shift = (Uv.mean(axis=0) - Uf.mean(axis=0)) / sd
        above = (Uv > Uf.max(axis=0) + 1e-12).mean(axis=0)
        under = (Uv < Uf.min(axis=0) - 1e-12).mean(axis=0)
        up = [i for i in range(self.n_raw) if shift[i] > 0.8 or above[i] > 0.2]
        down = [i for i in range(self.n_raw) if i not in up and (shift[i] < -0.8 or under[i] > 0.2)]
        return replace(self, extrapolated=tuple(sorted(up + down)), below=tuple(down))

    def with_optima(self, groups: list[tuple[np.ndarray, np.ndarray]], share: float = 0.2,
                    bins: int = OPTIMA_BINS) -> Space:
        """Mark the features along which the data never turns back up.

        For each raw feature, the rows that vary it alone (same group, every
        other feature equal) and take at least three of its values form a
        sweep; the sweep has an interior optimum when its smallest mean target
        lies strictly inside. A feature swept at least twice with interior
        optima in fewer than ``share`` of its sweeps is ``monotone``: bowls and
        bumps do not curve along it (a learning rate has an optimum; experts,
        data and model size, in the data given, do not).

        Most users' tables have no such sweeps: sizes read off a figure, or
        runs whose data and model size both vary continuously, never repeat
        the other features exactly. A feature never swept is judged on its
        ``bins`` quantile bins instead, one binned sweep per group with at
        least ``3 * bins`` rows and ``bins`` distinct values (the mean target
        per bin; as the other features vary inside a bin, an interior optimum
        counts only when it lies clearly below both ends, see
        ``_binned_turn``): monotone when at least one group gives such a sweep
        and fewer than ``share`` of them turn. A feature with neither stays
        free.

        Args:
            groups: per group (X (N, F) raw features, Y (N,) or (N, T) targets);
                pass fit rows only.
            share: least share of sweeps with an interior optimum that keeps a
                feature free.
            bins: quantile bins of a binned sweep.
        """
        mono = []
        for i in range(self.n_raw):
            sweeps = interior = 0
            for X, Y in groups:
                y = np.asarray(Y, dtype=float).reshape(len(X), -1).mean(axis=1)
                rest = np.delete(np.asarray(X, dtype=float), i, axis=1)
                _, which = np.unique(rest, axis=0, return_inverse=True)
                for w in np.unique(which):
                    rows = np.flatnonzero(which.ravel() == w)
                    values, at = np.unique(X[rows, i], return_inverse=True)
                    if len(values) < 3:
                        continue
                    means = np.bincount(at.ravel(), weights=y[rows]) / np.bincount(at.ravel())
                    sweeps += 1
                    interior += _turns(means)
            if sweeps >= 2 and interior < share * sweeps:
                mono.append(i)
            elif sweeps == 0:
                binned = [t for X, Y in groups if (t := _binned_turn(X[:, i], Y, bins)) is not None]
                if binned and sum(binned) < share * len(binned):
                    mono.append(i)
        return replace(self, monotone=tuple(mono))

    def with_levels(self, groups: list[np.ndarray], rtol: float = DEFAULT_RTOL) -> Space:
        """Record how many distinct values each raw feature takes in the fit rows.

        Args:
            groups: per group, the fit rows' raw features X (N, F).
            rtol: values closer than this relative difference count as one
                (``tasks.scales``: sizes read off a figure are never equal).
        Per feature the fewest over groups: a law fitted group by group is only
        as well pinned along a feature as its worst-sampled group. Groups that
        hold the feature at one value do not count (1 when every group does):
        a law never moves along it there, so they say nothing about its shape
        (a model family run at one size beside families run at several).
        """
        if not groups:
            return self
        counts = [fewest_levels((np.asarray(X, dtype=float)[:, i] for X in groups), rtol) for i in range(self.n_raw)]
        return replace(self, levels=tuple(int(c) for c in counts))

    def with_range(self, y_range: tuple[float | None, float | None] | None, n: int = BEYOND_POINTS) -> Space:
        """Keep laws within the declared target range past the data (``fit.range_guard``).

        ``n`` inputs, seeded: along each extrapolated feature beyond the
        training rows' largest value by up to half their span (a step further
        than validation lies; below the smallest for the features in
        ``below``), every other feature within its training range.
        A user who declares an accuracy in [0, 1] knows that a logistic rise
        seen only up to its midpoint ends at most at 1; least squares on those
        runs alone prefers an exponential that passes 1 just past them. Not
        for mixtures with one output per component, nor without a direction.
        """
        if y_range is None or self.own or not self.extrapolated or not self.umin:
            return self
        rng = np.random.default_rng(0)
        lo, hi = np.array(self.umin), np.array(self.umax)
        up = [i for i in self.extrapolated if i not in self.below]
        down = list(self.below)
        bottom, top = lo.copy(), hi.copy()  # within the training range, except along the extrapolated features
        bottom[up], top[up] = hi[up], hi[up] + 0.5 * (hi[up] - lo[up])
        bottom[down], top[down] = lo[down] - 0.5 * (hi[down] - lo[down]), lo[down]
        U = bottom + (top - bottom) * rng.random((n, self.n_features))
        return replace(self, y_range=(y_range[0], y_range[1]), beyond=tuple(tuple(float(v) for v in row) for row in U))

    @property
    def keeps_range(self) -> bool:
        """Whether laws are fitted within a declared target range past the data (``with_range``, ``fit.fit_in_range``)."""
        return bool(self.beyond) and self.y_range is not None

    def untransform(self, U: np.ndarray) -> np.ndarray:
        """(M, n_raw) transformed features ``u`` -> raw features (the inverse of ``transform``, no ``x_own``)."""
        U = np.atleast_2d(np.asarray(U, dtype=float))
        X = np.empty((len(U), self.n_raw))
        for i in range(self.n_raw):
            k = self.kinds[i]
            X[:, i] = self.ref[i] * np.exp(U[:, i]) if k == "log" else U[:, i] if k == "frac" else \
                U[:, i] * self.scale[i] + self.ref[i]
        return X

    def entangles(self, i: int, j: int) -> bool:
        """Whether the data entangles features ``i`` and ``j`` (either order; see ``entangled``)."""
        return (min(i, j), max(i, j)) in self.entangled

    def bowl_axis(self, i: int) -> bool:
        """Whether a bowl may curve along feature ``i`` (not extrapolated, not monotone)."""
        return i not in self.extrapolated and i not in self.monotone

    def with_own(self, n_outputs: int) -> Space:
        """Add the virtual feature ``x_own`` when each output is one mixture component.

        Applies when the fractions form a mixture and there are as many outputs
        as components (output t <-> the t-th fraction, in order).
        """
        fr = [i for i, k in enumerate(self.kinds) if k == "frac"]
        if self.own or not self.mixture or n_outputs < 2 or len(fr) != n_outputs:
            return self
        return replace(
            self,
            names=(*self.names, "x_own"),
            kinds=(*self.kinds, "frac"),
            ref=(*self.ref, 0.0),
            scale=(*self.scale, 1.0),
            umin=(*self.umin, min(self.umin[i] for i in fr)),
            umax=(*self.umax, max(self.umax[i] for i in fr)),
            short=(*self.short, "x_own"),
            own=tuple(fr),
        )

    @property
    def n_features(self) -> int:
        """Features a block may use (the raw ones, plus ``x_own`` if present)."""
        return len(self.names)

    @property
    def n_raw(self) -> int:
        """Columns of the raw data."""
        return len(self.names) - (1 if self.own else 0)

    def transform(self, X: np.ndarray, t: int = 0) -> np.ndarray:
        """(N, F) raw features -> (N, n_features) transformed features ``u`` (for output t)."""
        X = np.atleast_2d(np.asarray(X, dtype=float))
        U = np.empty((len(X), self.n_features))
        for i, k in enumerate(self.kinds):
            if i >= self.n_raw:
                U[:, i] = X[:, self.own[t]]
            elif k == "log":
                U[:, i] = np.log(np.maximum(X[:, i], 1e-300)) - np.log(self.ref[i])
            elif k == "frac":
                U[:, i] = X[:, i]
            else:
                U[:, i] = (X[:, i] - self.ref[i]) / self.scale[i]
        return U

    def u_source(self, i: int) -> str:
        """numpy source computing ``u_i`` from ``X``."""
        k = self.kinds[i]
        if i >= self.n_raw:
            return f"X[:, {list(self.own)!r}[t]]"
        if k == "log":
            return f"np.log(np.maximum(X[:, {i}], 1e-300) / {self.ref[i]!r})"
        if k == "frac":
            return f"X[:, {i}]"
        return f"(X[:, {i}] - {self.ref[i]!r}) / {self.scale[i]!r}"

    def u_text(self, i: int) -> str:
        """Readable definition of ``u_i``."""
        n = self.short[i]
        k = self.kinds[i]
        if k == "log":
            return f"ln({n}/{self.ref[i]:.3g})"
        if k == "frac":
            return n
        return f"({n} - {self.ref[i]:.3g})/{self.scale[i]:.3g}"

    def span(self, i: int) -> float:
        return max(self.umax[i] - self.umin[i], 1e-6)


def short_names(names: tuple[str, ...]) -> tuple[str, ...]:
    """Identifier-safe names for formulas (the feature names themselves, sanitised), distinct as the names are.

    Two names that sanitise alike (``model size`` and ``model_size``) get ``_2``, ``_3``... on the later ones,
    so a formula never shows two features under one name.
    """
    out: list[str] = []
    for n in names:
        s = "".join(ch if ch.isalnum() else "_" for ch in str(n)).strip("_") or "x"
        if s[0].isdigit():
            s = "x_" + s
        base, k = s, 1
        while s in out:
            k += 1
            s = f"{base}_{k}"
        out.append(s)
    return tuple(out)


def _turns(means: np.ndarray) -> bool:
    """Whether the smallest of ``means`` (ordered along a feature) lies strictly inside."""
    return 0 < int(np.argmin(means)) < len(means) - 1


def _binned_turn(x: np.ndarray, Y: np.ndarray, bins: int) -> bool | None:
    """Interior optimum of the mean target over ``bins`` quantile bins of ``x`` (N,); None: too few rows or values.

    The other features vary within a bin, so its mean is noisy: the optimum
    counts only when both end bins lie above it by more than two standard
    errors of the difference (within-bin spread over the square root of the
    bin's rows).
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(Y, dtype=float).reshape(len(x), -1).mean(axis=1)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    if len(x) < 3 * bins or len(np.unique(x)) < bins:
        return None
    edges = np.quantile(x, np.linspace(0.0, 1.0, bins + 1))
    at = np.clip(np.searchsorted(edges, x, side="right") - 1, 0, bins - 1)
    parts = [y[at == b] for b in range(bins) if np.sum(at == b) >= 2]
    if len(parts) < 3:
        return None
    means = np.array([v.mean() for v in parts])
    sq_se = np.array([v.var(ddof=1) / len(v) for v in parts])
    m = int(np.argmin(means))
    if not 0 < m < len(means) - 1:
        return False
    return all(means[e] - means[m] > 2.0 * np.sqrt(sq_se[e] + sq_se[m]) for e in (0, len(means) - 1))


def _entangled(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two transformed features (N,) correlate beyond ``ENTANGLED``."""
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 3 or np.std(a[ok]) == 0 or np.std(b[ok]) == 0:
        return False
    return bool(abs(np.corrcoef(a[ok], b[ok])[0, 1]) > ENTANGLED)

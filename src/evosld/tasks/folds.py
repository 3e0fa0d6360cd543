"""Extrapolation folds: validation derived from the test rule, and nested folds below it.

A careful scientist checks a law the way it will be used: fit on the smaller
runs, predict the next larger ones, and repeat one step further down. This
module gives every remaining row a *distance* from a held-out region (how far
it lies from it, in rows or in scales), then cuts bands of rows by distance:

- from the test rule, the band nearest the test region is validation
  (``derive_val_rule``), written back as a rule of the same kind;
- from the validation rule, the next bands are the inner folds
  (``inner_folds``): fold k fits on the rows beyond band k and scores band k.

Distances (``distance_from``):

- a threshold rule (``C > t``, ``N >= a or D >= b``, ``and``/``or``, chains
  such as ``a < N <= b``, arithmetic on columns): per comparison, the share of
  the rows lying between the row and the threshold (whole scales at a time);
  ``and`` takes the largest, ``or`` the smallest. Relaxing every threshold by
  the same share of rows gives a rule of the same shape (``relaxed_rule``).
- ``largest:COL[:K]``: per group, how many distinct scales of COL lie above
  the row.
- ``random:K`` (held-out mixtures): none; folds are random.
- anything else (a test table given as a file, a rule comparing two
  columns): the direction the held-out rows lie in from the others, in log
  scale for size-like features; none when they are not displaced, and then
  folds are random.

Pure functions of tables; no targets are read here except to refuse a band
whose targets do not vary.
"""

from __future__ import annotations

import ast
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from evosld.errors import DataError
from evosld.tasks.checks import read_apart_tolerance
from evosld.tasks.holdout import feature_kind, scaled, val_direction
from evosld.tasks.scales import DEFAULT_RTOL, level_columns, levels, levels_per_group, n_levels
from evosld.tasks.splits import (
    _CMP,
    column_of,
    eval_node,
    group_keys,
    largest_rule,
    parse_largest,
    parse_rule,
    quoted,
    rule_mask,
    scales_above,
    unparse_rule,
)

#: Validation holds at least this share of the train rows, when derived.
MIN_VAL_SHARE = 0.10
#: A derived validation band never takes more than this share of the train rows.
MAX_VAL_SHARE = 0.35
#: An inner fold scores at most this share of the fit rows.
INNER_SHARE = 0.20
#: Fewest rows a scored band needs (R² on fewer says nothing).
MIN_BAND_ROWS = 3
#: Fewest distinct values (scales) of a feature a directed fold's fit needs in a group whose scored
#: rows lie beyond them along it: a coefficient and an exponent, the least any law has along a scale,
#: pass through the runs' means at two values exactly, so beyond them the fold tests nothing.
MIN_FIT_LEVELS_ALONG = 3


class _NoDirection(Exception):
    """The rule has no threshold shape a distance can be read from."""


@dataclass(frozen=True)
class Direction:
    """How far each row lies from a held-out region.

    Attributes:
        kind: ``"threshold"``, ``"largest"``, ``"features"`` or ``"random"``.
        distance: (N,) float, 0 for the nearest rows, larger further away;
            None for ``"random"`` (no direction).
    """

    kind: str
    distance: np.ndarray | None


@dataclass(frozen=True)
class Fold:
    """One extrapolation check: fit on some train rows, score others.

    Attributes:
        name: ``"val"`` or ``"inner1"``, ``"inner2"``, ... (1 = next below validation).
        fit: (N_train,) bool mask of the train rows fitted.
        scored: (N_train,) bool mask of the train rows scored.
        rule: what the scored rows are, in words.
        directed: the band lies next in line towards validation (False for
            the random bands of held-out mixtures): the fold's fit may also be
            scored further out, on validation (``evaluation.foldscores``).
    """

    name: str
    fit: np.ndarray
    scored: np.ndarray
    rule: str
    directed: bool = False


# ---------------------------------------------------------------- distances
_NEGATE = {ast.Gt: ast.LtE, ast.GtE: ast.Lt, ast.Lt: ast.GtE, ast.LtE: ast.Gt, ast.Eq: ast.NotEq, ast.NotEq: ast.Eq}


class _PushNot(ast.NodeTransformer):
    """Move ``not`` inside: ``not (N < a)`` -> ``N >= a``; De Morgan for ``and``/``or``."""

    def visit_UnaryOp(self, node: ast.UnaryOp) -> ast.AST:
        if not isinstance(node.op, ast.Not):
            return self.generic_visit(node)
        inner = node.operand
        if isinstance(inner, ast.UnaryOp) and isinstance(inner.op, ast.Not):
            return self.visit(inner.operand)
        if isinstance(inner, ast.Compare) and len(inner.ops) == 1:
            op = _NEGATE[type(inner.ops[0])]()
            return ast.Compare(left=inner.left, ops=[op], comparators=inner.comparators)
        if isinstance(inner, ast.BoolOp):
            flipped = ast.Or() if isinstance(inner.op, ast.And) else ast.And()
            return ast.BoolOp(op=flipped, values=[self.visit(ast.UnaryOp(op=ast.Not(), operand=v)) for v in inner.values])
        return self.generic_visit(node)


def _parse(rule: str, columns=()) -> ast.Expression:
    """The rule's syntax tree with ``not`` pushed inside the comparisons (``columns``: see ``splits.rule_source``)."""
    return ast.fix_missing_locations(_PushNot().visit(parse_rule(rule, columns)))


def rule_directions(rule: str, columns) -> dict[str, int]:
    """The way the held-out region lies along each column a rule reads: +1 above (``N >= a``, ``largest:N``),
    -1 below (``loss <= 2.1``), 0 both or neither (a chain ``a < N <= b``, a column inside arithmetic, a text
    selector). Columns the rule does not read are left out; a rule that does not parse reads none."""
    rule = (rule or "").strip()
    if rule.startswith("largest:"):
        try:
            return {parse_largest(rule, list(columns))[0]: 1}
        except DataError:
            return {}
    if rule.startswith("random:"):
        return {}
    try:
        tree = _parse(rule, columns)
    except (SyntaxError, DataError, KeyError):
        return {}
    known = set(columns)
    seen: dict[str, set[int]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and column_of(node.id) in known:
            seen.setdefault(column_of(node.id), set())
        if not isinstance(node, ast.Compare):
            continue
        sides = [node.left, *node.comparators]
        for a, op, b in zip(sides[:-1], node.ops, sides[1:]):
            up = {ast.Gt: 1, ast.GtE: 1, ast.Lt: -1, ast.LtE: -1}.get(type(op))
            if up is None:
                continue
            if isinstance(a, ast.Name) and _is_const(b):
                seen.setdefault(column_of(a.id), set()).add(up)
            elif isinstance(b, ast.Name) and _is_const(a):
                seen.setdefault(column_of(b.id), set()).add(-up)
    return {c: (next(iter(ways)) if len(ways) == 1 else 0) for c, ways in seen.items() if c in known}


def _is_const(node: ast.AST) -> bool:
    return not any(isinstance(n, ast.Name) for n in ast.walk(node))


def _pairs(node: ast.Compare, df: pd.DataFrame, rule: str) -> list[tuple[ast.AST, np.ndarray, float, type]]:
    """A comparison chain as (column side, its values (N,), constant, op) pairs, op read left to right."""
    flip = {ast.Gt: ast.Lt, ast.GtE: ast.LtE, ast.Lt: ast.Gt, ast.LtE: ast.GtE, ast.Eq: ast.Eq, ast.NotEq: ast.NotEq}
    out = []
    sides = [node.left, *node.comparators]
    for a, op, b in zip(sides[:-1], node.ops, sides[1:]):
        kind = type(op)
        if kind not in flip:
            raise _NoDirection
        if _is_const(b) and not _is_const(a):
            expr, const = a, b
        elif _is_const(a) and not _is_const(b):
            expr, const, kind = b, a, flip[kind]
        else:
            raise _NoDirection
        c = eval_node(const, df, rule)
        values = np.asarray(eval_node(expr, df, rule), dtype=float)
        if not isinstance(c, (int, float)) or values.shape != (len(df),):
            raise _NoDirection
        out.append((expr, values, float(c), kind))
    return out


def _selector(node: ast.Compare, df: pd.DataFrame, rule: str) -> np.ndarray | None:
    """(N,) bool rows a comparison with a text constant picks (``group == 'mmlu'``), else None.

    Such a comparison selects rows and has no scale: it is kept as it is when
    thresholds are relaxed, and rows it excludes are at infinite distance.
    """
    if len(node.ops) != 1 or type(node.ops[0]) not in (ast.Eq, ast.NotEq):
        return None
    a, b = node.left, node.comparators[0]
    const = b if _is_const(b) else a if _is_const(a) else None
    if const is None or not isinstance(eval_node(const, df, rule), str):
        return None
    return np.asarray(eval_node(node, df, rule), dtype=bool)


def _upper(values: np.ndarray, c: float, kind: type, inside: np.ndarray) -> bool:
    """Whether the comparison holds out large values (True) or small ones (False)."""
    if kind in (ast.Gt, ast.GtE):
        return True
    if kind in (ast.Lt, ast.LtE):
        return False
    if kind is ast.Eq:
        rest = values[~inside]
        if not len(rest) or np.all(rest < c):
            return True
        if np.all(rest > c):
            return False
    raise _NoDirection


def _share_distance(values: np.ndarray, inside: np.ndarray, upper: bool, rtol: float,
                    scope: np.ndarray | None = None) -> np.ndarray:
    """(N,) share of the ``scope`` rows outside the comparison that lie at the row's scale or nearer the threshold.

    Rows inside the comparison are at 0; rows outside ``scope`` (excluded by a
    selector such as ``group == 'a'`` next to it) at infinity.
    """
    scope = np.ones(len(values), dtype=bool) if scope is None else scope
    out = np.where(scope, 0.0, np.inf)
    outside = ~inside & scope
    if outside.any():
        lv = levels(np.where(scope, values, np.nan), rtol)
        if not upper:
            lv = np.where(lv >= 0, lv.max() - lv, -1)
        counts = np.bincount(lv[outside], minlength=int(lv.max()) + 1)
        beyond = np.cumsum(counts[::-1])[::-1]
        out[outside] = beyond[lv[outside]] / int(scope.sum())
    return out


def _selected(parts: list[ast.AST], df: pd.DataFrame, rule: str, scope: np.ndarray) -> np.ndarray:
    """``scope`` narrowed by the selectors among the operands of an ``and``."""
    for v in parts:
        picked = _selector(v, df, rule) if isinstance(v, ast.Compare) else None
        if picked is not None:
            scope = scope & picked
    return scope


def _threshold_distance(node: ast.AST, df: pd.DataFrame, rule: str, rtol: float,
                        scope: np.ndarray | None = None) -> np.ndarray:
    scope = np.ones(len(df), dtype=bool) if scope is None else scope
    if isinstance(node, ast.Expression):
        return _threshold_distance(node.body, df, rule, rtol, scope)
    if isinstance(node, ast.BoolOp) or (isinstance(node, ast.BinOp) and isinstance(node.op, (ast.BitAnd, ast.BitOr))):
        parts = node.values if isinstance(node, ast.BoolOp) else [node.left, node.right]
        both = isinstance(node.op, (ast.And, ast.BitAnd))
        inner = _selected(parts, df, rule, scope) if both else scope
        ds = [_threshold_distance(v, df, rule, rtol, inner) for v in parts]
        return np.maximum.reduce(ds) if both else np.minimum.reduce(ds)
    if isinstance(node, ast.Compare):
        picked = _selector(node, df, rule)
        if picked is not None:
            return np.where(picked, 0.0, np.inf)
        ds = []
        for _, values, c, kind in _pairs(node, df, rule):
            inside = _CMP[kind](values, c)
            ds.append(_share_distance(values, inside, _upper(values, c, kind, inside), rtol, scope))
        return np.maximum.reduce(ds)
    raise _NoDirection


def _feature_distance(rows: pd.DataFrame, held: pd.DataFrame, features: tuple[str, ...],
                      log_features: tuple[str, ...], rtol: float) -> np.ndarray | None:
    cols = list(features)
    if held is None or not len(held) or not len(rows):
        return None
    both = pd.concat([rows[cols], held[cols]])
    kinds = tuple(feature_kind(both[c].to_numpy(dtype=float), c in log_features) for c in cols)
    U = scaled(rows[cols].to_numpy(dtype=float), kinds)
    w = val_direction(U, scaled(held[cols].to_numpy(dtype=float), kinds))
    if w is None:
        return None
    proj = -(U @ w)
    span = float(np.ptp(proj)) or 1.0
    groups = group_keys(rows)
    out = np.zeros(len(rows))
    for g in dict.fromkeys(groups):
        idx = groups == g
        lv = levels(proj[idx] - proj[idx].min() + span, rtol)
        out[idx] = lv
    return out


def distance_from(rows: pd.DataFrame, rule: str, held: pd.DataFrame | None = None,
                  features: tuple[str, ...] = (), log_features: tuple[str, ...] = (),
                  rtol: float = DEFAULT_RTOL) -> Direction:
    """How far each of ``rows`` lies from the region ``rule`` holds out (see the module docstring).

    Args:
        rows: the rows left after the hold-out (N rows).
        rule: the hold-out rule (any text; descriptions of a test file are fine).
        held: the held-out rows (features only are read), for the fallback
            by feature direction.
        features, log_features: the task's features and its log-scale ones.
        rtol: values closer than this relative difference count as one scale.
    """
    rule = (rule or "").strip()
    if rule.startswith("largest:"):
        col, _ = parse_largest(rule, rows.columns)
        return Direction("largest", scales_above(rows, col, rtol).astype(float))
    if rule.startswith("random:"):
        return Direction("random", None)
    if rule:
        try:
            tree = _parse(rule, rows.columns)
            d = _threshold_distance(tree, rows, rule, rtol)
            if d.shape == (len(rows),):
                return Direction("threshold", d)
        except (SyntaxError, _NoDirection, ValueError, TypeError, DataError):
            pass  # no threshold shape (or a description of a test file): read the feature direction
    d = _feature_distance(rows, held, tuple(features), tuple(log_features), rtol) if features else None
    return Direction("features", d) if d is not None else Direction("random", None)


# ---------------------------------------------------------------- bands
def next_band(distance: np.ndarray, pool: np.ndarray, target: int, cap: int, min_levels: int = 2) -> np.ndarray:
    """(N,) bool: the ``pool`` rows nearest the held-out region, whole distances at a time.

    The band grows distance by distance until it holds ``target`` rows and
    ``min_levels`` distinct distances (or all the pool has), but never past
    ``cap`` rows once it holds ``MIN_BAND_ROWS`` (a band of fewer says
    nothing: with two runs per model size the first size alone is too few,
    and without the second the fold was dropped). Rows at infinite distance
    (not in line at all) are never taken.
    """
    d = distance[pool]
    steps = np.unique(d[np.isfinite(d)])
    chosen, held = None, 0
    for k, lam in enumerate(steps):
        count = int(np.count_nonzero(d <= lam))
        if chosen is not None and count > cap and held >= MIN_BAND_ROWS:
            break
        chosen, held = lam, count
        if count >= target and k + 1 >= min(min_levels, len(steps)):
            break
    if chosen is None:
        return np.zeros(len(distance), dtype=bool)
    return pool & (distance <= chosen)


def _random_bands(groups: np.ndarray, pool: np.ndarray, share: float, n_bands: int, seed: int) -> list[np.ndarray]:
    """``n_bands`` disjoint random bands of the pool, each about ``share`` of every group's rows."""
    rng = np.random.default_rng(seed)
    bands = [np.zeros(len(pool), dtype=bool) for _ in range(n_bands)]
    for g in dict.fromkeys(groups[pool]):
        idx = np.flatnonzero(pool & (groups == g))
        k = max(1, int(round(share * len(idx)))) if len(idx) >= 4 else 0
        order = rng.permutation(idx)
        for b in range(n_bands):
            part = order[b * k:(b + 1) * k]
            bands[b][part] = True
    return bands


# ---------------------------------------------------------------- relaxed rules
class _Number(float):
    """A threshold that prints in its short form (``6.71e8``, not ``671000000.0``)."""

    def __new__(cls, value: float, digits: int) -> _Number:
        self = super().__new__(cls, float(f"{value:.{digits}g}"))
        self.text = f"{value:.{digits}g}".replace("e+0", "e").replace("e+", "e").replace("e-0", "e-")
        return self

    def __repr__(self) -> str:
        return self.text


def _mid(lo: float, hi: float) -> float:
    return math.sqrt(lo * hi) if lo > 0 and hi > 0 else (lo + hi) / 2


class _Relax(ast.NodeTransformer):
    """Rewrite each threshold so it admits the rows within distance ``lam``."""

    def __init__(self, df: pd.DataFrame, rule: str, lam: float, rtol: float, digits: int) -> None:
        self.df, self.rule, self.lam, self.rtol, self.digits = df, rule, lam, rtol, digits
        self.scope = np.ones(len(df), dtype=bool)

    def visit_BoolOp(self, node: ast.BoolOp) -> ast.AST:
        outer = self.scope
        if isinstance(node.op, ast.And):
            self.scope = _selected(node.values, self.df, self.rule, outer)
        node = self.generic_visit(node)
        self.scope = outer
        return node

    def visit_Compare(self, node: ast.Compare) -> ast.AST:
        if _selector(node, self.df, self.rule) is not None:
            return node
        out = []
        for expr, values, c, kind in _pairs(node, self.df, self.rule):
            inside = _CMP[kind](values, c)
            upper = _upper(values, c, kind, inside)
            d = _share_distance(values, inside, upper, self.rtol, self.scope)
            admitted = ~inside & self.scope & (d <= self.lam + 1e-12)
            if not admitted.any():
                out.append(ast.Compare(left=expr, ops=[kind()], comparators=[ast.Constant(c)]))
                continue
            rest = values[~inside & self.scope & ~admitted]
            if upper:
                edge = float(values[admitted].min())
                below = rest[rest < edge]
                t = _mid(float(below.max()), edge) if len(below) else edge
                op: ast.cmpop = ast.GtE()
            else:
                edge = float(values[admitted].max())
                above = rest[rest > edge]
                t = _mid(edge, float(above.min())) if len(above) else edge
                op = ast.LtE()
            const = ast.Constant(_Number(t, self.digits))
            out.append(ast.Compare(left=expr, ops=[op], comparators=[const]))
        return out[0] if len(out) == 1 else ast.BoolOp(op=ast.And(), values=out)


def relaxed_rule(rows: pd.DataFrame, rule: str, lam: float, rtol: float = DEFAULT_RTOL) -> str | None:
    """A rule of the same shape as threshold ``rule`` that holds out the rows within distance ``lam``.

    Returns None when the rule has no threshold shape. The thresholds are put
    half-way (geometrically, for positive values) between the last scale
    admitted and the next, rounded to the fewest digits that keep the rows.
    """
    try:
        tree = _parse(rule, rows.columns)
        want = _threshold_distance(tree, rows, rule, rtol) <= lam + 1e-12
    except (SyntaxError, _NoDirection, ValueError, TypeError, DataError):
        return None
    for digits in (3, 4, 6, 9, 17):
        new = _Relax(rows, rule, lam, rtol, digits).visit(_parse(rule, rows.columns))
        text = unparse_rule(ast.fix_missing_locations(new))
        if np.array_equal(rule_mask(rows, text, rtol=rtol), want):
            return text
    return None


# ---------------------------------------------------------------- validation and folds
@dataclass(frozen=True)
class DerivedRule:
    """A validation rule derived from the test rule, and how."""

    rule: str
    how: str


def _targets_vary(df: pd.DataFrame, targets: tuple[str, ...]) -> bool:
    return all(float(np.var(df[t].to_numpy(dtype=float))) > 0 for t in targets) if len(df) else False


def derive_val_rule(train: pd.DataFrame, test: pd.DataFrame, test_rule: str, features: tuple[str, ...],
                    log_features: tuple[str, ...] = (), rtol: float = DEFAULT_RTOL, seed: int = 0) -> DerivedRule:
    """The validation rule for ``train``, carved the way ``test_rule`` carved the test rows.

    Threshold rules give the band next in line towards the test region,
    about as many rows as test (at least ``MIN_VAL_SHARE`` of train, at
    most ``MAX_VAL_SHARE``, at least two distinct scales where the data has
    them) as a rule of the same shape; ``largest:COL`` gives the next-largest
    scale (more scales if one holds fewer than ``MIN_BAND_ROWS`` rows);
    ``random:K`` stays random; any other rule gives random held-out settings.
    So do the first two when they would leave some group's fit rows with a
    single value of a feature the rule cuts along (three model sizes, test
    the largest): no law could be fitted along it, so extrapolating to the
    band would test nothing but the formula's guess; or with no rows at all
    (two model sizes, test the larger: the next-largest is all of train).
    """
    n = len(train)
    target = max(len(test), math.ceil(MIN_VAL_SHARE * n), MIN_BAND_ROWS)
    cap = max(MIN_BAND_ROWS, int(MAX_VAL_SHARE * n))
    rule = (test_rule or "").strip()
    k = max(1, math.ceil(min(target, cap) / max(1, len(set(group_keys(train))))))
    if rule.startswith("random:"):
        return DerivedRule(rule, "random held-out settings, as the test rule")
    derived: DerivedRule | None = None
    columns: list[str] = []
    if rule.startswith("largest:"):
        col, k_test = parse_largest(rule, train.columns)
        whole = pd.concat([train, test], ignore_index=True)  # a curve as the default test rule judged it
        start = k_test if _is_curve(whole, col, rtol) else 1  # on a curve, as many checkpoints as test holds
        for depth in range(start, start + 50):
            text = largest_rule(col, depth, train.columns)
            if rule_mask(train, text, rtol=rtol).sum() >= MIN_BAND_ROWS:
                break
        derived = DerivedRule(text, f"the next-largest {col} in train, as the test rule holds out the largest"
                              if start == 1 else f"the next {depth} largest values of {col} in each group of train, "
                              f"as the test rule holds out the {k_test} largest (a curve)")
        columns = [col]
    else:
        direction = distance_from(train, rule, test, features, log_features, rtol)
        if direction.kind == "threshold":
            band = next_band(direction.distance, np.ones(n, dtype=bool), target, cap)
            lam = float(direction.distance[band].max()) if band.any() else 0.0
            text = relaxed_rule(train, rule, lam, rtol) if band.any() else None  # no train row is in line
            if text is not None:
                derived = DerivedRule(text, f"the train rows next in line towards the test rule {rule!r}")
                columns = _threshold_columns(rule, train)
    if derived is None:
        return DerivedRule(f"random:{k}", f"random held-out settings (no direction could be read from the test rule "
                                          f"{rule!r}; give --val to choose)")
    mask = rule_mask(train, derived.rule, rtol=rtol)
    groups = group_keys(train)
    if any(not np.any(~mask & (groups == g)) for g in dict.fromkeys(groups)):  # one size left in train: all of it
        return DerivedRule(f"random:{k}", f"random held-out settings: validating on {derived.rule!r} would leave no "
                                          "train rows to fit on; give --val to choose")
    stuck = _left_with_one_scale(train, mask, [c for c in columns if c in features], rtol)
    if stuck is not None:
        return DerivedRule(f"random:{k}", f"random held-out settings: validating on {derived.rule!r} would leave the "
                                          f"fit rows with a single {stuck}, along which no law could then be fitted; "
                                          "give --val to choose")
    return derived


def _threshold_columns(rule: str, rows: pd.DataFrame) -> list[str]:
    """Names of the plain columns a threshold rule compares (``N`` in ``N >= 1e9``)."""
    out = []
    for node in ast.walk(_parse(rule, rows.columns)):
        if isinstance(node, ast.Compare) and _selector(node, rows, rule) is None:
            names = [column_of(n.id) for n in [node.left, *node.comparators] if isinstance(n, ast.Name)]
            out += [c for c in names if c in rows.columns]
    return list(dict.fromkeys(out))


def _left_with_one_scale(train: pd.DataFrame, val_mask: np.ndarray, columns: list[str], rtol: float) -> str | None:
    """A column that has several scales in some group's train rows but one in its fit rows, if any."""
    groups = group_keys(train)
    for col in columns:
        vals = train[col].to_numpy(dtype=float)
        for g in dict.fromkeys(groups):
            idx = groups == g
            if n_levels(vals[idx], rtol) >= 2 and n_levels(vals[idx & ~val_mask], rtol) < 2:
                return col
    return None


def default_test_rule(df: pd.DataFrame, column: str, rtol: float = DEFAULT_RTOL) -> str:
    """The test rule when the user gives none: the largest scale of ``column``.

    ``largest:COL`` when that holds at least ``MIN_BAND_ROWS`` runs (on a curve, the last tenth of each
    group's values: ``_curve_rule``); otherwise
    (sizes that are all different, as when read off a figure) a threshold
    holding out about the largest tenth of the runs, at least two scales, or
    down to the first clear gap between sizes when one comes before a third
    of the runs (``natural_break``). In a grouped table where ``largest:COL``
    holds only part of each group's largest size, a cluster of runs read a
    few percent apart (``checks.read_apart_tolerance``), that gap's threshold
    too, when there is one.
    """
    rule = largest_rule(column)
    if "`" in column:
        return rule
    held = rule_mask(df, rule, rtol=rtol)
    if held.sum() >= MIN_BAND_ROWS:
        return _common_break(df, column, held, rtol) or _curve_rule(df, column, rtol) or rule
    values, start, d, fewest, most = _from_the_top(df, column, rtol)
    band = next_band(d, np.ones(len(df), dtype=bool), fewest, most)
    lam = natural_break(values, d, fewest, most)
    return relaxed_rule(df, start, float(d[band].max()) if lam is None else lam, rtol) or rule


#: A column of which every group holds at least this many distinct values is a curve (checkpoints of a run, steps
#: of a sweep), not a set of sizes: nobody trains fifty model sizes per group.
CURVE_LEVELS = 50


def _curve_rule(df: pd.DataFrame, column: str, rtol: float) -> str | None:
    """``largest:COL:K`` holding out the last values of ``column`` in each group, a tenth (``MIN_VAL_SHARE``) of the
    shortest group's, when it is a curve in every group (``CURVE_LEVELS``), else None (a run stopped early,
    with a dozen checkpoints, would lose them all to test and validation).

    On learning curves (3000 checkpoints per run) ``largest:tokens`` held out the last checkpoint of each run, a
    step of 0.1% along the curve: its test R² said nothing about a forecast. A researcher forecasts the end of
    training from its start; the last tenth of the checkpoints is that test, and it is still a rule per group.
    """
    fewest = _fewest_levels(df, column, rtol)
    return largest_rule(column, math.ceil(MIN_VAL_SHARE * fewest), df.columns) if fewest >= CURVE_LEVELS else None


def _fewest_levels(df: pd.DataFrame, column: str, rtol: float) -> int:
    """The fewest distinct values (``n_levels``) ``column`` takes in any group of ``df``."""
    counts = levels_per_group(df[column].to_numpy(dtype=float), group_keys(df), rtol)
    return min(counts.values(), default=0)


def _is_curve(df: pd.DataFrame, column: str, rtol: float) -> bool:
    """Whether ``column`` is a curve in every group of ``df`` (``CURVE_LEVELS`` distinct values or more)."""
    return _fewest_levels(df, column, rtol) >= CURVE_LEVELS


def _from_the_top(df: pd.DataFrame, column: str, rtol: float) -> tuple[np.ndarray, str, np.ndarray, int, int]:
    """What a default threshold on ``column`` is cut from: its (N,) values, the rule ``COL > max`` to relax, each
    row's (N,) distance from the top, and the fewest and most rows test may hold."""
    values = df[column].to_numpy(dtype=float)
    start = f"{quoted(column)} > {float(np.nanmax(values))!r}"
    d = _share_distance(values, np.zeros(len(df), dtype=bool), True, rtol)
    return values, start, d, max(MIN_BAND_ROWS, math.ceil(MIN_VAL_SHARE * len(df))), \
        max(MIN_BAND_ROWS, int(MAX_VAL_SHARE * len(df)))


def _common_break(df: pd.DataFrame, column: str, held: np.ndarray, rtol: float) -> str | None:
    """In a grouped table where each group's largest size is a cluster of runs read a few percent apart and
    ``largest:COL`` (``held``, (N,) bool) holds only part of one (a run or two per group of five at ~7e9): the
    threshold at the sizes' common break (``natural_break``), when it holds out part of every group and at most
    ``MAX_VAL_SHARE`` of any; else None."""
    groups = group_keys(df)
    per_group = pd.Series(held).groupby(groups).sum()
    values = df[column].to_numpy(dtype=float)
    if len(per_group) < 2 or read_apart_tolerance(df, column, max(int(held.sum()), 2 * len(per_group) - 1),
                                                    rtol) is None:
        return None
    _, start, d, fewest, most = _from_the_top(df, column, rtol)
    lam = natural_break(values, d, fewest, most)
    broken = None if lam is None else relaxed_rule(df, start, lam, rtol)
    if broken is None:
        return None
    share = pd.Series(rule_mask(df, broken, rtol=rtol)).groupby(groups).mean()
    return broken if share.gt(0).all() and share.le(MAX_VAL_SHARE).all() else None


#: A gap below the largest values is a natural break when it is at least this many times every gap among them.
BREAK_RATIO = 3.0


def natural_break(values: np.ndarray, distance: np.ndarray, fewest: int, most: int) -> float | None:
    """The distance at which the largest values part from the rest by a clear gap, holding ``fewest`` to ``most`` rows.

    Sizes read off a figure are clusters a few percent wide (four runs near 3e9, four near 1e9): a threshold
    placed by row count alone cuts through one (three of the four runs near 3e9). Going down the distinct
    distances (``_share_distance``: one per scale) from the cut holding ``fewest`` rows to the one holding
    ``most``, this takes the first cut whose gap (between the smallest value it holds and the largest it leaves,
    in log for positive values) is at least ``BREAK_RATIO`` times every gap among the values it holds: the
    bottom edge of a tight cluster. Spread-out sizes rarely pass (about one table in five of 40 log-uniform
    sizes, and then a cut next to the count's own), so their threshold stays where the count put it. None when
    no cut passes.

    Args:
        values: (N,) the column.
        distance: (N,) each row's distance from the top (0 at the largest scale).
        fewest, most: rows the held-out part may hold.
    """
    ok = np.isfinite(values) & np.isfinite(distance)
    v, d = values[ok], distance[ok]
    if len(np.unique(v)) < 3:
        return None
    t = np.log(v) if np.all(v > 0) else v
    for lam in np.unique(d):
        inside = d <= lam
        if inside.sum() < fewest:
            continue
        if inside.sum() > most or inside.all():
            return None
        held = np.unique(t[inside])
        gap = float(held.min() - t[~inside].max())
        spread = float(np.max(np.diff(held))) if len(held) > 1 else 0.0
        if gap > 0 and gap >= BREAK_RATIO * spread:
            return float(lam)
    return None


def blind_feature(fit: pd.DataFrame, scored: pd.DataFrame, features: tuple[str, ...],
                  rtol: float = DEFAULT_RTOL) -> str | None:
    """A feature the fit rows cannot teach: one value in some group's fit rows, another in its scored rows.

    Such a fold scores every law as if it ignored the feature (a law cannot
    fit an effect it never sees vary), so it cannot tell laws apart along it.
    Returns the first such feature, or None.
    """
    fit_groups, scored_groups = group_keys(fit), group_keys(scored)
    for g in dict.fromkeys(scored_groups):
        f_rows, s_rows = fit.loc[fit_groups == g], scored.loc[scored_groups == g]
        for col in features:
            f_vals = f_rows[col].to_numpy(dtype=float)
            if len(f_vals) == 0 or n_levels(f_vals, rtol) != 1:
                continue
            both = np.concatenate([f_vals, s_rows[col].to_numpy(dtype=float)])
            if n_levels(both, rtol) > 1:
                return col
    return None


def _thin_along(fit: np.ndarray, scored: np.ndarray, need: int = MIN_FIT_LEVELS_ALONG) -> bool:
    """Whether the scored rows lie beyond the fit rows along a feature the fit holds fewer than ``need`` scales of.

    Such a fold does not test a law's extrapolation along that feature: a
    law's curve along it is drawn through the few fitted scales (two scales
    pin a coefficient and an exponent exactly, and leave a floor free), so
    its score beyond them says how that draw happened to land, and it favours
    laws with fewer parameters along the feature whatever the data say.
    Found on a table of 7 model sizes x 6 data sizes (train and validation
    loss, both E + A/N^a + B/D^b): the second fold fitted 2 model sizes, the
    generating form scored R² -4.1 there and the pick became a law without
    a floor in N, test R² 0.72 where the generating form tests 0.99.

    Args:
        fit: (F, D) int scale levels (``tasks.scales.levels``) of one group's fit rows along each feature.
        scored: (S, D) the same for the group's scored rows.
    """
    for j in range(fit.shape[1]):
        lo, hi = fit[:, j].min(), fit[:, j].max()
        if (scored[:, j].max() > hi or scored[:, j].min() < lo) and len(np.unique(fit[:, j])) < need:
            return True
    return False


def inner_folds(train: pd.DataFrame, val_mask: np.ndarray, val_rule: str, features: tuple[str, ...],
                targets: tuple[str, ...], log_features: tuple[str, ...] = (), n_folds: int = 2,
                rtol: float = DEFAULT_RTOL, seed: int = 0, min_fit_rows: int = 3,
                min_levels_along: int = MIN_FIT_LEVELS_ALONG) -> list[Fold]:
    """Nested extrapolation folds below validation, nearest first.

    Fold k scores the k-th band of fit rows counted from validation (each
    about as many rows as validation, at most ``INNER_SHARE`` of the fit rows,
    at least two scales where there are) and fits on the fit rows beyond it;
    with no direction (held-out mixtures) the bands are random and each fold
    fits on all other fit rows. A fold is dropped when its scored rows are
    fewer than ``MIN_BAND_ROWS`` or a target does not vary on them, or when
    it is blind (``blind_feature``: some group's fit rows hold one value of a
    feature its scored rows change, so no law's dependence on that feature can
    be fitted, and every law scores as if it ignored it); a group's scored
    rows are dropped when it has fewer than ``min_fit_rows`` distinct
    settings of the features to fit on (rows at the same values, within
    ``rtol``, count once: a law passes through their mean as easily as
    through one run), and, in a directed fold, when its scored rows lie
    beyond its fit rows along a feature the fit rows hold fewer than
    ``min_levels_along`` scales of (``_thin_along``).

    With no fold left, validation alone picks (``search.selection`` then
    says how sure the pick is). Cutting the folds along another feature
    instead, the one with the most scales in the fit rows (fit on the runs
    with fewer tokens, score the runs with the most), was tried in session
    39 on real over-training runs with four model sizes (Gadre et al. 2024,
    eight losses, two searches each): mean clipped test R² of the 16 picks
    0.482 -> 0.467 (6 better, 7 worse; one search 0.566 -> 0.364, the other
    0.398 -> 0.570).
    Such a fold tells laws apart along the other feature, not along the one
    test lies beyond.

    Args:
        train: the train table (N rows); ``val_mask`` (N,) marks validation.
        val_rule: the validation rule (its shape gives the direction).
        n_folds: number of inner folds wanted.
        min_fit_rows: distinct fit settings a group needs for its band rows to be scored
            (``Task.fold_min_fit_rows``: more than a law may have parameters).
        min_levels_along: scales of a feature a directed fold's fit needs in a group it
            scores beyond them along that feature (1: no such need).
    Returns:
        Up to ``n_folds`` Folds with masks over ``train``.
    """
    fit_idx = np.flatnonzero(~val_mask)
    fit_rows = train.iloc[fit_idx]
    n_fit = len(fit_rows)
    if n_folds <= 0 or n_fit < 2 * MIN_BAND_ROWS:
        return []
    direction = distance_from(fit_rows, val_rule, train.loc[val_mask], features, log_features, rtol)
    target = max(MIN_BAND_ROWS, min(int(val_mask.sum()), int(round(INNER_SHARE * n_fit))))
    cap = max(MIN_BAND_ROWS, int(round(INNER_SHARE * n_fit)))
    groups = group_keys(fit_rows)
    # each fit row's scale along every feature (``tasks.scales.levels``): jittered copies of a size are one run
    points = level_columns(fit_rows[list(features)].to_numpy(dtype=float), rtol)
    bands: list[np.ndarray] = []
    fits: list[np.ndarray] = []
    if direction.distance is None:
        share = target / n_fit
        bands = _random_bands(groups, np.ones(n_fit, dtype=bool), share, n_folds, seed)
        fits = [~b for b in bands]
        how = "random fit rows"
    else:
        pool = np.ones(n_fit, dtype=bool)
        for _ in range(n_folds):
            if pool.sum() < 2 * MIN_BAND_ROWS:
                break
            band = next_band(direction.distance, pool, target, cap, min_levels=2 if direction.kind == "threshold" else 1)
            if not band.any():
                break
            pool = pool & ~band
            bands.append(band)
            fits.append(pool.copy())
        how = "fit rows next in line towards validation"
    folds = []
    for k, (band, fit) in enumerate(zip(bands, fits), start=1):
        scored = band.copy()
        for g in dict.fromkeys(groups[band]):
            here = fit & (groups == g)
            if len(np.unique(points[here], axis=0)) < min_fit_rows or (
                    direction.distance is not None and _thin_along(points[here], points[band & (groups == g)], min_levels_along)):
                scored &= groups != g
        if scored.sum() < MIN_BAND_ROWS or not _targets_vary(fit_rows.loc[scored], targets):
            continue
        if blind_feature(fit_rows.loc[fit], fit_rows.loc[scored], features, rtol) is not None:
            continue
        full_fit = np.zeros(len(train), dtype=bool)
        full_scored = np.zeros(len(train), dtype=bool)
        full_fit[fit_idx[fit]] = True
        full_scored[fit_idx[scored]] = True
        folds.append(Fold(f"inner{len(folds) + 1}", full_fit, full_scored, f"{how} (band {k})",
                          directed=direction.distance is not None))
    return folds

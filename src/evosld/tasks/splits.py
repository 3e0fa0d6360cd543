"""Split rules: which rows are held out as validation or test.

A rule is a short string, so it fits on a command line and in a task file:

- ``"N >= 1e9"``, ``"params >= 2.8e9 or tokens >= 2.5e11"``: a boolean
  expression over column names (comparisons, ``and``/``or``/``not``,
  arithmetic); evaluated without ``eval``.
- ``"largest:COL"``: in each group, the rows at that group's largest value of
  ``COL`` (the scaling regime the law must extrapolate to); ``"largest:COL:K"``
  the K largest values (a name holding a colon as it is, or in backticks:
  ``largest:`size:params`:2``). Values within a relative ``rtol`` (default 1e-3) count
  as one value (``tasks.scales``): sizes read off a figure are never equal.
- ``"random:K"``: in each group, K distinct feature settings chosen with a
  fixed seed (held-out mixtures, as in domain mixture).

As in pandas' ``query``, ``&``, ``|`` and ``~`` mean ``and``, ``or`` and ``not``.
Numbers may be spelt as a table spells them (``tasks.numbers``): ``N >= 1.3B``,
``N >= 1,300,000`` (outside quotes: ``model == '1B'`` compares text).
A column whose name is not a Python name (``model size``, ``tokens-seen``)
or is a Python keyword (``lambda``) may be written in backticks, ```model
size` >= 1e9``, or as it is when the table has such a column
(``tokens-seen >= 1e11``, ``lambda >= 1e9``); a column named like a word
rules use themselves (``in``, ``and``, ``not``) only in backticks.
"""

from __future__ import annotations

import ast
import keyword
import operator
import re
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
import pandas as pd

from evosld.errors import DataError
from evosld.program import parse_python
from evosld.tasks.numbers import SUFFIXES
from evosld.tasks.scales import DEFAULT_RTOL, levels
from evosld.tasks.task import GROUP_COLUMN, NO_GROUP

_CMP = {
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
}
_BIN = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Pow: operator.pow,
    ast.BitAnd: operator.and_,
    ast.BitOr: operator.or_,
}


_PLACEHOLDER = re.compile(r"__col_([0-9a-f]+)__")


#: Python words a rule itself uses: a column so named must be written in backticks (```in` > 3``).
_RULE_WORDS = frozenset({"and", "or", "not", "in", "is", "if", "else", "True", "False", "None"})


def is_plain_name(column: str) -> bool:
    """True when ``column`` can stand bare in a rule: a Python name that is not a keyword (``lambda``, ``in``)."""
    return column.isidentifier() and not keyword.iskeyword(column)


def quoted(column: str) -> str:
    """``column`` as written in a rule: bare when it is a plain name, else in backticks."""
    return column if is_plain_name(column) else f"`{column}`"


def column_of(name: str) -> str:
    """The column a parsed rule name stands for (names in backticks are parsed as placeholders)."""
    m = _PLACEHOLDER.fullmatch(name)
    return bytes.fromhex(m.group(1)).decode("utf-8") if m else name


def _placeholder(column: str) -> str:
    return f"__col_{column.encode('utf-8').hex()}__"


#: A number with a size suffix (``1.3B``, ``70M``) or thousands separators (``1,000,000``), standing alone in a rule.
_SUFFIXED_NUMBER = re.compile(r"(?<![\w.])(\d+\.?\d*|\.\d+)([kKmMbBtT])(?!\w)")
_GROUPED_NUMBER = re.compile(r"(?<![\w.,])(\d{1,3}(?:,\d{3})+)(?![\w,])")


def _spelt_numbers(text: str) -> str:
    """``text`` (outside quotes) with ``1.3B`` as ``1300000000.0`` and ``1,000,000`` as ``1000000``: the
    spellings the table may use (``tasks.numbers.SUFFIXES``), so ``--test "N >= 1B"`` means what it says."""
    text = _SUFFIXED_NUMBER.sub(lambda m: repr(float(m.group(1)) * SUFFIXES[m.group(2).lower()]), text)
    return _GROUPED_NUMBER.sub(lambda m: m.group(1).replace(",", ""), text)


def rule_source(rule: str, columns: Iterable = ()) -> str:
    """``rule`` as Python source: names in backticks, and ``columns`` that are not Python names, as placeholders.

    ``parse_rule`` parses it; ``column_of`` maps a placeholder back to its column.
    """
    # & | ~ (pandas' query spelling) mean and / or / not, outside quotes: 'N >= 1e9 & D >= 1e11' as pandas reads it;
    # numbers written as in the table (1.3B, 70M, 1,000,000) are numbers there too (tasks.numbers)
    parts = re.split(r"('[^']*'|\"[^\"]*\"|`[^`]*`)", rule)
    rule = "".join(part if i % 2 else _spelt_numbers(part.replace("&", " and ").replace("|", " or ")
                                                     .replace("~", " not "))
                   for i, part in enumerate(parts)).strip()
    text = re.sub(r"`([^`]+)`", lambda m: _placeholder(m.group(1).strip()), rule)
    # a keyword that rules use themselves (and, or, in, ...) stays that keyword unless in backticks
    odd = sorted({str(c) for c in columns if not is_plain_name(str(c)) and str(c).strip() and str(c) not in _RULE_WORDS},
                 key=len, reverse=True)
    if odd:
        pattern = "|".join(re.escape(c) for c in odd)
        text = re.sub(rf"(?<![\w`])({pattern})(?![\w`])", lambda m: _placeholder(m.group(1)), text)
    return text


def parse_rule(rule: str, columns: Iterable = ()) -> ast.Expression:
    """The syntax tree of a rule (see ``rule_source``); raises SyntaxError."""
    return parse_python(rule_source(rule, columns), mode="eval")


def unparse_rule(tree: ast.AST) -> str:
    """A parsed rule back as text, placeholders as names in backticks (or bare, when they are Python names)."""
    def name(m: re.Match) -> str:
        return quoted(column_of(m.group(0)))

    return _PLACEHOLDER.sub(name, _unparsed(tree.body if isinstance(tree, ast.Expression) else tree))


def _unparsed(node: ast.AST) -> str:
    """``ast.unparse``, with every ``and``/``or`` inside another one in brackets, the first as the rest
    (``ast.unparse`` leaves the first bare: ``a and b or (c and d)``)."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not) and isinstance(node.operand, ast.BoolOp):
        return f"not ({_unparsed(node.operand)})"
    if not isinstance(node, ast.BoolOp):
        return ast.unparse(node)
    op = " and " if isinstance(node.op, ast.And) else " or "
    return op.join(f"({_unparsed(v)})" if isinstance(v, ast.BoolOp) else _unparsed(v) for v in node.values)


def eval_node(node: ast.AST, df: pd.DataFrame, rule: str):
    """Value of a parsed rule (sub)expression on ``df``: a (len(df),) array or a scalar."""
    if isinstance(node, ast.Expression):
        return eval_node(node.body, df, rule)
    if isinstance(node, ast.BoolOp):
        vals = [np.asarray(eval_node(v, df, rule), dtype=bool) for v in node.values]
        fn = np.logical_and if isinstance(node.op, ast.And) else np.logical_or
        out = vals[0]
        for v in vals[1:]:
            out = fn(out, v)
        return out
    if isinstance(node, ast.UnaryOp):
        val = eval_node(node.operand, df, rule)
        if isinstance(node.op, ast.Not):
            return ~np.asarray(val, dtype=bool)
        if isinstance(node.op, ast.USub):
            return -val
        if isinstance(node.op, ast.UAdd):
            return val
    if isinstance(node, ast.Compare):
        left = eval_node(node.left, df, rule)
        out = None
        for op, comp in zip(node.ops, node.comparators):
            right = eval_node(comp, df, rule)
            if type(op) not in _CMP:
                break
            try:
                res = np.asarray(_CMP[type(op)](left, right), dtype=bool)
            except TypeError:
                raise DataError(f"split rule {rule!r} compares text with a number; compare a numeric column with a number (N >= 1e9, no "
                                "quotes around it), or a text column with a quoted value (model == 'big')") from None
            out = res if out is None else out & res
            left = right
        else:
            return out
    if isinstance(node, ast.BinOp) and type(node.op) in _BIN:
        try:
            return _BIN[type(node.op)](eval_node(node.left, df, rule), eval_node(node.right, df, rule))
        except (TypeError, ValueError):
            raise DataError(f"split rule {rule!r}: {ast.unparse(node)!r} cannot be computed; join comparisons "
                            "with and / or, as in 'N >= 1e9 and D >= 1e11'") from None
    if isinstance(node, ast.Name):
        col = column_of(node.id)
        if col not in df.columns:
            cols = ", ".join(map(str, user_columns(df)))
            hint = ("; write a name with spaces or dashes in backticks, as in `model size` >= 1e9"
                    if any(not is_plain_name(str(c)) for c in df.columns) else "")
            raise DataError(f"split rule {rule!r} names column {col!r}, which is not in the data (columns: {cols}){hint}")
        return df[col].to_numpy()
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float, str)):
        return node.value
    raise DataError(
        f"split rule {rule!r} is not understood; write a comparison such as 'N >= 1e9', "
        "'largest:COLUMN' or 'random:K'"
    )


def _text_comparisons(tree: ast.AST) -> Iterator[tuple[ast.cmpop, str, str]]:
    """Each comparison of a column with quoted text in a parsed rule: the operator, the column and the text."""
    for node in ast.walk(tree):
        if not isinstance(node, ast.Compare):
            continue
        sides = [node.left, *node.comparators]
        for op, a, b in zip(node.ops, sides, sides[1:]):
            for name, text in ((a, b), (b, a)):
                if isinstance(name, ast.Name) and isinstance(text, ast.Constant) and isinstance(text.value, str):
                    yield op, column_of(name.id), text.value


def check_rule_values(rule: str, df: pd.DataFrame, option: str) -> None:
    """Refuse a rule whose quoted text can match no run, before it silently selects the wrong rows.

    ``model == '1'`` on a column of numbers is False on every row (no number
    equals a text), and so is ``model == 'A'`` when the labels are ``a``, ``b``:
    alone such a rule holds out nothing, but inside ``or`` it quietly gives
    that group the other branch's rows. Each comparison of a column with quoted
    text must compare a text column, and ``==`` / ``!=`` a value the column
    holds somewhere in ``df`` (the whole table: the rule is checked before any
    row is held out). Raises DataError naming the column, the text and the fix.
    """
    rule = rule.strip()
    if not rule or rule.startswith(("largest:", "random:")):
        return
    try:
        tree = parse_rule(rule, df.columns)
    except SyntaxError:
        return  # rule_mask says what is wrong with it
    for op, col, text in _text_comparisons(tree):
        if col not in df.columns:
            continue  # eval_node names the missing column
        values = df[col]
        if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            try:
                fix = f"the number without quotes, as in {quoted(col)} == {float(text):g}"
            except ValueError:
                fix = f"a number without quotes, as in {quoted(col)} >= 1e9"
            raise DataError(f"{option} {rule!r} compares text with a number: {col!r} holds numbers and {text!r} "
                            f"is quoted, so no run equals it; write {fix}")
        if not isinstance(op, (ast.Eq, ast.NotEq)):
            continue
        labels = list(dict.fromkeys(str(v) for v in values if not pd.isna(v)))
        if text in labels:
            continue
        near = [v for v in labels if v.strip().lower() == text.strip().lower()]
        hint = f"did you mean {near[0]!r}? " if near else ""
        shown = ", ".join(repr(v) for v in labels[:8]) + (", ..." if len(labels) > 8 else "")
        raise DataError(f"{option} {rule!r}: no run has {col} == {text!r} ({hint}its values: {shown}); "
                        "write a value the column holds, with the same case and spaces")


def _number(node: ast.AST) -> float | None:
    """The value of a numeric constant in a parsed rule (``1e10``, ``-3``), else None."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        inner = _number(node.operand)
        return None if inner is None else (-inner if isinstance(node.op, ast.USub) else inner)
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
        return float(node.value)
    return None


def short_number(x: float, digits: int = 3) -> str:
    """``x`` to ``digits`` significant digits as a rule would write it: 9.9e9, 1.01e10, 0.5."""
    return re.sub(r"e\+?0*(\d)", r"e\1", f"{x:.{digits}g}").replace("e-0", "e-")


def _equalities(tree: ast.AST, columns) -> Iterator[tuple[ast.Compare, str, float]]:
    """Each ``COLUMN == NUMBER`` (either way round) in a parsed rule: the node, the column and the number."""
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Compare) and len(node.ops) == 1 and isinstance(node.ops[0], ast.Eq)):
            continue
        sides = (node.left, node.comparators[0])
        names = [column_of(x.id) for x in sides if isinstance(x, ast.Name)]
        numbers = [v for v in map(_number, sides) if v is not None]
        if len(names) == 1 and len(numbers) == 1 and names[0] in columns:
            yield node, names[0], numbers[0]


def _numbers(df: pd.DataFrame, column: str) -> np.ndarray:
    """(len(df),) float values of ``column`` (NaN where not a number)."""
    return pd.to_numeric(df[column], errors="coerce").to_numpy(dtype=float)


def exact_equality_hint(rule: str, df: pd.DataFrame, option: str) -> str:
    """Why a rule that holds out no row may hold out none: an ``==`` on a number that no value equals exactly.

    Rules compare exactly (a tolerance applies only where sizes are counted,
    ``largest:``), so ``N == 1e10`` misses sizes read off a figure as
    1.0002e10. Returns "" when no such comparison is in ``rule``, else the end
    of a message: the comparison, the nearest value, and a threshold rule
    (or a band, when runs lie above it) for ``option`` that catches it.
    """
    try:
        tree = parse_rule(rule, df.columns)
    except SyntaxError:
        return ""
    for _, col, value in _equalities(tree, df.columns):
        if value == 0:
            continue
        vals = _numbers(df, col)
        vals = vals[np.isfinite(vals)]
        if not len(vals) or (vals == value).any():
            continue
        near = vals[np.argmin(np.abs(vals - value))]
        bounds = (0.99 * value, 1.01 * value, 0.99 * near, 1.01 * near)  # the band holds the nearest value too
        lo, hi = min(bounds), max(bounds)
        name = quoted(col)
        suggestion = f"{name} >= {short_number(lo)}" + (f" and {name} <= {short_number(hi)}" if (vals > hi).any() else "")
        return (f"; == compares exactly, and no {col} equals {value:g} (the nearest is {near:.6g}; sizes read off "
                f"a figure or rounded are rarely exact): give {option} a threshold rule such as \"{suggestion}\"")
    return ""


def _plain(x: float) -> str:
    """``x`` with every digit it needs and none more, as a rule would write it: 1e10, 1.0000012e10, 256, 0.5."""
    if x == 0 or 1e-4 <= abs(x) < 1e6:
        return np.format_float_positional(x, trim="-")
    return re.sub(r"e\+?(-?)0*(\d)", r"e\1\2", np.format_float_scientific(x, trim="-"))


def _shortest_within(target: float, lo: float, hi: float) -> str:
    """``target`` to the fewest digits (at least three) that keep it within [lo, hi]."""
    for digits in range(3, 18):
        text = short_number(target) if digits == 3 else _plain(float(f"{target:.{digits}g}"))
        if lo <= float(text) <= hi:
            return text
    return _plain(target)


def _band_rule(values: np.ndarray, near: np.ndarray, value: float, column: str, rtol: float) -> str:
    """A threshold rule holding ``values[near]`` (the size ``value``, within ``rtol``) and no smaller value:
    ``N >= 9.99e9``, or a band ``N >= 2.997e9 and N <= 3.003e9`` when larger values are in the table."""
    first, last = values[near].min(), values[near].max()
    below, above = values[values < first], values[values > last]
    edge_lo, edge_hi = sorted((value * (1 - rtol), value / (1 - rtol)))
    floor = np.nextafter(below.max(), np.inf) if len(below) else -np.inf
    name = quoted(column)
    rule = f"{name} >= {_shortest_within(min(edge_lo, first), floor, first)}"
    if len(above):
        rule += f" and {name} <= {_shortest_within(max(edge_hi, last), last, np.nextafter(above.min(), -np.inf))}"
    return rule


def _spliced(rule: str, columns, node: ast.Compare, text: str) -> str:
    """``rule`` with the comparison ``node`` (parsed from ``rule_source(rule, columns)``) written as ``text``."""
    source = rule_source(rule, columns)
    if node.lineno != 1 or node.end_lineno != 1 or node.end_col_offset is None:
        return text
    raw = source.encode("utf-8")  # ast offsets count UTF-8 bytes
    if raw[node.col_offset:node.end_col_offset].decode("utf-8").strip() == source.strip():
        return text  # the comparison is the whole rule
    if " and " in text:
        text = f"({text})"
    out = (raw[:node.col_offset] + text.encode("utf-8") + raw[node.end_col_offset:]).decode("utf-8")
    parts = re.split(r"('[^']*'|\"[^\"]*\")", out)  # the spaces " and " put in, collapsed outside quotes
    out = "".join(part if i % 2 else re.sub(r"\s+", " ", part) for i, part in enumerate(parts)).strip()
    return _PLACEHOLDER.sub(lambda m: quoted(column_of(m.group(0))), out)


def _tree_with_tolerance(rule: str, df: pd.DataFrame, rtol: float) -> ast.Expression | None:
    """``rule`` parsed on ``df``'s columns, for the warnings about sizes it splits; None with no tolerance (every
    value its own size: nothing to split) or when it does not parse (``rule_mask`` says what is wrong)."""
    if not rtol > 0:
        return None
    try:
        return parse_rule(rule, df.columns)
    except SyntaxError:
        return None


def near_equality_warnings(rule: str, df: pd.DataFrame, mask: np.ndarray, *, which: str, option: str, stays: str,
                           rtol: float = DEFAULT_RTOL) -> list[str]:
    """Where an ``==`` in ``rule`` splits one size: rows equal to the number are held out, and rows within the scale
    tolerance of it (the same size, read off a figure as 1.0000012e10) are not.

    Which rows ``rule`` holds out (``mask``) stays as it is: comparisons are
    exact. For each ``COLUMN == NUMBER`` in it, the rule is evaluated again with
    that comparison true within ``rtol``; the rows this adds are the near copies
    left on the other side. Returns one message per such comparison (none when
    there is none): the column, the number, the rows held out at it and left
    out near it, one such value, and a threshold rule for ``option`` (``--test``)
    holding the whole size. ``which`` names the rule ("test"), ``stays`` the
    other side ("train").
    """
    tree = _tree_with_tolerance(rule, df, rtol)
    out: list[str] = []
    for node, col, value in _equalities(tree, df.columns) if tree is not None else ():
        vals = _numbers(df, col)
        with np.errstate(invalid="ignore"):
            near = np.abs(vals - value) <= rtol * np.maximum(np.abs(vals), abs(value))
        if not (near & (vals != value)).any():
            continue
        flag = next(f"evosld near {i}" for i in range(len(df.columns) + 1) if f"evosld near {i}" not in df.columns)
        tolerant = _Substituted(node, _placeholder(flag)).visit(parse_rule(rule, df.columns))
        widened = np.asarray(eval_node(tolerant, df.assign(**{flag: near}), rule), dtype=bool)
        left = widened & ~np.asarray(mask, dtype=bool)
        if not left.any():
            continue
        exact = int((np.asarray(mask, dtype=bool) & (vals == value)).sum())
        suggestion = _spliced(rule, df.columns, node, _band_rule(vals, near, value, col, rtol))
        out.append(f"the {which} rule {rule!r} holds out {exact} run(s) with "
                   f"{col} exactly {_plain(value)}, but {int(left.sum())} more within the scale tolerance "
                   f"({rtol:g}) of it stay in {stays} (e.g. {col} = {_plain(float(vals[left][0]))}): == compares "
                   f"exactly; to keep that size on one side, give {option} a threshold rule such as \"{suggestion}\"")
    return out


def _thresholds(tree: ast.AST, columns) -> Iterator[tuple[ast.Compare, str, float, bool]]:
    """Each ``COLUMN > NUMBER`` / ``>=`` / ``<`` / ``<=`` (either way round, not chained) in a parsed rule: the node,
    the column, the number, and whether the comparison holds the values above the number."""
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Compare) and len(node.ops) == 1
                and isinstance(node.ops[0], (ast.Gt, ast.GtE, ast.Lt, ast.LtE))):
            continue
        left, right = node.left, node.comparators[0]
        up = isinstance(node.ops[0], (ast.Gt, ast.GtE))
        if isinstance(left, ast.Name) and _number(right) is not None and column_of(left.id) in columns:
            yield node, column_of(left.id), float(_number(right)), up
        elif isinstance(right, ast.Name) and _number(left) is not None and column_of(right.id) in columns:
            yield node, column_of(right.id), float(_number(left)), not up


#: A size cut by a threshold is warned about when its neighbouring values lie at least this many times its own
#: width away: a cluster of one size's runs, not a stretch of a continuous column.
ISOLATED = 5.0


def threshold_cut_warnings(rule: str, df: pd.DataFrame, mask: np.ndarray, *, which: str, option: str, stays: str,
                           rtol: float = DEFAULT_RTOL) -> list[str]:
    """Where a threshold in ``rule`` cuts one size in two: ``N >= 1e9`` on sizes read off a figure as 0.9994e9 and
    1.0003e9 holds out some runs of that size and leaves the others on the other side.

    A size is a scale of the column (``scales.levels``: values within ``rtol`` of each other). Which rows the rule
    holds out (``mask``, (len(df),) bool) stays as it is (comparisons are exact); for each comparison of a column
    with a number that falls inside a size standing apart from the column's other values (``ISOLATED``), where
    the rule holds out some of that size's runs in a group and not the others, this returns one message naming
    the size, how many of its runs the rule holds out, and a threshold for ``option`` that keeps it whole.
    Comparisons under a ``not`` are left alone (the threshold to suggest would point the other way). ``which``
    names the rule ("test"), ``stays`` the other side.
    """
    tree = _tree_with_tolerance(rule, df, rtol)
    if tree is None:
        return []
    mask, groups = np.asarray(mask, dtype=bool), group_keys(df)
    negated = {id(n) for u in ast.walk(tree) if isinstance(u, ast.UnaryOp) and isinstance(u.op, ast.Not)
               for n in ast.walk(u.operand)}
    out: list[str] = []
    for node, col, value, up in _thresholds(tree, df.columns):
        if id(node) in negated:
            continue
        vals = _numbers(df, col)
        lv = levels(vals, rtol)
        straddled = sorted(set(lv[vals < value]) & set(lv[vals >= value]) - {-1})
        if not straddled:
            continue
        size = lv == straddled[0]
        per_group = pd.Series(mask[size]).groupby(groups[size])
        if not (per_group.any() & ~per_group.all()).any():
            continue  # the rule keeps each group's runs of this size together
        first, last = vals[size].min(), vals[size].max()
        below, above = vals[np.isfinite(vals) & (vals < first)], vals[np.isfinite(vals) & (vals > last)]
        apart = [first - below.max()] if len(below) else []
        apart += [above.min() - last] if len(above) else []
        if min(apart, default=np.inf) < ISOLATED * (last - first):
            continue  # a continuous column (the next values as close as these): no size to keep whole
        name = quoted(col)
        if up:
            floor = np.nextafter(below.max(), np.inf) if len(below) else -np.inf
            whole = f"{name} >= {_shortest_within(first, floor, first)}"
        else:
            ceiling = np.nextafter(above.min(), -np.inf) if len(above) else np.inf
            whole = f"{name} <= {_shortest_within(last, last, ceiling)}"
        n_held, n_size = int((size & mask).sum()), int(size.sum())
        out.append(f"the {which} rule {rule!r} cuts one size of {col} in two: its runs from "
                   f"{short_number(first, 6)} to {short_number(last, 6)} count as one size (scale tolerance "
                   f"{rtol:g}), and the rule, with its threshold at {_plain(value)}, holds out {n_held} of its "
                   f"{n_size} runs while the others stay in {stays}; to keep that size on one side, give {option} a "
                   f"rule such as \"{_spliced(rule, df.columns, node, whole)}\"")
    return out


class _Substituted(ast.NodeTransformer):
    """A parsed rule with one comparison (matched by position) replaced by a column name."""

    def __init__(self, node: ast.Compare, name: str) -> None:
        self._where = (node.lineno, node.col_offset, node.end_lineno, node.end_col_offset)
        self._name = name

    def visit_Compare(self, node: ast.Compare) -> ast.AST:
        if (node.lineno, node.col_offset, node.end_lineno, node.end_col_offset) == self._where:
            return ast.copy_location(ast.Name(id=self._name, ctx=ast.Load()), node)
        return self.generic_visit(node)


def largest_rule(column: str, k: int = 1, columns: Iterable[Any] = ()) -> str:
    """The ``largest:COL[:K]`` rule for ``column``: its name in backticks when it holds a colon
    (``largest:`size:params```), or when ``COL:K`` is itself one of ``columns``, so ``parse_largest`` reads back
    this column and this K."""
    clash = ":" in column or (k != 1 and f"{column}:{k}" in set(map(str, columns)))
    name = f"`{column}`" if clash and "`" not in column else column
    return f"largest:{name}" if k == 1 else f"largest:{name}:{k}"


def parse_largest(rule: str, columns) -> tuple[str, int]:
    """(column, K) of a ``largest:COL`` or ``largest:COL:K`` rule.

    A name holding a colon may be written in backticks (``largest:`size:params`:2``) or as it is: the whole text
    after ``largest:`` is a column when the table has one so named, else the text before its last colon, with
    K after it.
    """
    body = rule.strip().split(":", 1)[1].strip()
    names = {c for c in columns if isinstance(c, str)}
    quoted_name = re.fullmatch(r"`([^`]+)`\s*(?::(.*))?", body, re.DOTALL)
    if body in names:
        col, k_text = body, None
    elif quoted_name:
        col, k_text = quoted_name.group(1).strip(), quoted_name.group(2)
    else:
        head, colon, tail = body.rpartition(":")
        col, k_text = (head.strip(), tail) if colon and (head.strip() in names or tail.strip().isdigit()) else (body, None)
    if col not in names:
        raise DataError(f"split rule {rule!r}: column {col!r} not found (columns: {', '.join(map(str, columns))})")
    if k_text is None:
        return col, 1
    try:
        k = int(k_text.strip())
    except ValueError:
        k = 0
    if k < 1:
        raise DataError(f"split rule {rule!r}: write 'largest:COLUMN' or 'largest:COLUMN:K' with K a whole number >= 1 "
                        "(a column name holding ':' in backticks, as in largest:`size:params`:2)")
    return col, k


def group_keys(df: pd.DataFrame) -> np.ndarray:
    """(len(df),) group name of each row ('' when the table has no group column)."""
    return df[GROUP_COLUMN].astype(str).to_numpy() if GROUP_COLUMN in df.columns else np.zeros(len(df), dtype=str)


def scales_above(df: pd.DataFrame, column: str, rtol: float = DEFAULT_RTOL, below: bool = False) -> np.ndarray:
    """(len(df),) int: per group, how many distinct scales of ``column`` lie above the row's (0 at the top);
    with ``below``, how many lie below it (0 at the bottom)."""
    vals = df[column].to_numpy(dtype=float)
    groups = group_keys(df)
    out = np.zeros(len(df), dtype=int)
    for g in dict.fromkeys(groups):
        idx = groups == g
        lv = levels(vals[idx], rtol)
        out[idx] = lv - lv.min() if below else lv.max() - lv
    return out


def user_columns(df: pd.DataFrame) -> list:
    """The columns of ``df`` as the user's table has them: without the group column evosld adds to a table that
    has none (every value ``NO_GROUP``), which a rule cannot usefully name."""
    added = GROUP_COLUMN in df.columns and bool((df[GROUP_COLUMN] == NO_GROUP).all())
    return [c for c in df.columns if not (added and c == GROUP_COLUMN)]


def rule_columns(rule: str, columns) -> list[str]:
    """The columns among ``columns`` that ``rule`` reads (none for ``random:K``; a rule that does not parse reads
    none here: ``rule_mask`` says what is wrong with it)."""
    rule = rule.strip()
    try:
        if rule.startswith("largest:"):
            return [parse_largest(rule, list(columns))[0]]
        if rule.startswith("random:"):
            return []
        tree = parse_rule(rule, columns)
    except (SyntaxError, DataError):
        return []
    known = set(columns)
    names = [column_of(n.id) for n in ast.walk(tree) if isinstance(n, ast.Name)]
    return [c for c in dict.fromkeys(names) if c in known]


def rule_mask(df: pd.DataFrame, rule: str, features: tuple[str, ...] = (), seed: int = 0,
              rtol: float = DEFAULT_RTOL) -> np.ndarray:
    """Boolean mask (len(df),) of the rows ``rule`` holds out.

    ``rtol``: values of a ``largest:`` column closer than this relative
    difference count as one value.
    """
    rule = rule.strip()
    if not rule:
        raise DataError("empty split rule; give a comparison such as 'N >= 1e9' or 'largest:N'")
    groups = group_keys(df)
    if rule.startswith("largest:"):
        col, k = parse_largest(rule, user_columns(df))
        return scales_above(df, col, rtol) < k
    if rule.startswith("random:"):
        try:
            k = int(rule.split(":", 1)[1])
        except ValueError:
            raise DataError(f"split rule {rule!r}: K must be a whole number, as in 'random:4'") from None
        if k < 0:
            raise DataError(f"split rule {rule!r}: K is how many feature settings per group to hold out, at least 0, "
                            "as in 'random:4'")
        cols = list(features) or [c for c in df.columns if c != GROUP_COLUMN]
        rng = np.random.default_rng(seed)
        mask = np.zeros(len(df), dtype=bool)
        for g in dict.fromkeys(groups):
            idx = np.flatnonzero(groups == g)
            keys = [tuple(r) for r in df.iloc[idx][cols].to_numpy(dtype=float)]
            distinct = list(dict.fromkeys(keys))
            chosen = {distinct[i] for i in rng.choice(len(distinct), size=min(k, len(distinct)), replace=False)}
            mask[idx] = [key in chosen for key in keys]
        return mask
    try:
        tree = parse_rule(rule, df.columns)
    except SyntaxError:
        if re.search(r"(?<![<>=!])=(?!=)", rule):
            raise DataError(f"split rule {rule!r} is not a valid expression: compare with == (or >=, <=), "
                            "as in 'N == 6.9e9'") from None
        raise DataError(f"split rule {rule!r} is not a valid expression; write e.g. 'N >= 1e9' (a column name "
                        "with spaces or dashes, or a Python keyword such as lambda, in backticks: "
                        "`model size` >= 1e9)") from None
    out = np.asarray(eval_node(tree, df, rule))
    if out.dtype != bool or out.shape != (len(df),):
        raise DataError(f"split rule {rule!r} does not select rows; write a comparison such as 'N >= 1e9'")
    return out

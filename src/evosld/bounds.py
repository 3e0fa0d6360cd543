"""Search bounds a program's fit declares, and fitted parameters that sit on them.

A fitted parameter on a bound of its search box is a warning sign: the fit
wanted to go further, so the law may be mis-specified for that group, or the
bound too tight. The symbolic proposer's programs declare their boxes as
module constants (``emit.py``)::

    N_LINEAR = 2                                   # linear coefficients, unbounded
    LO = np.array([-8.0, -19.07])                  # bounds of the nonlinear parameters
    HI = np.array([8.0, 19.06])

so a program's parameters are ``[c_0 .. c_{N_LINEAR-1}, theta...]`` and the box
is read from the program itself, the one that was fitted (runs made before
this module existed included). A program that declares no such constants (an
LLM's, say) has no known bounds: nothing is flagged for it.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np

from evosld.program import parse_python

#: A parameter within this share of its box's width (or, for a one-sided box,
#: of max(1, |bound|)) from a bound counts as on it.
AT_BOUND_RTOL = 1e-3


@dataclass(frozen=True)
class ParamBounds:
    """The search box of one output's parameters.

    Attributes:
        names: (P,) parameter names (``c_0``, ``alpha_1``... or ``p[i]``).
        lo, hi: (P,) bounds; ``-inf`` / ``inf`` where a parameter is unbounded.
    """

    names: tuple[str, ...]
    lo: tuple[float, ...]
    hi: tuple[float, ...]

    @property
    def size(self) -> int:
        return len(self.names)

    def describe(self, i: int) -> str:
        """``[-8, 8]`` or ``unbounded`` for parameter ``i``."""
        lo, hi = self.lo[i], self.hi[i]
        if math.isinf(lo) and math.isinf(hi):
            return "unbounded"
        return f"[{_num(lo)}, {_num(hi)}]"


@dataclass(frozen=True)
class AtBound:
    """One fitted parameter on a bound of its search box."""

    group: str
    output: int | None  # which output of a multi-output law (None: one output)
    index: int
    name: str
    value: float
    bound: float
    side: Literal["lower", "upper"]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> str:
        """``mu_1 = 19.06 at its upper bound 19.06``."""
        return f"{self.name} = {_num(self.value)} at its {self.side} bound {_num(self.bound)}"


def _num(v: float) -> str:
    return f"{v:.4g}"


def _numbers(node: ast.expr) -> list[float] | None:
    """The numbers of ``np.array([...])``, ``[...]`` or ``(...)``, else None."""
    if isinstance(node, ast.Call) and len(node.args) == 1 and not node.keywords:
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
        if name not in ("array", "asarray"):
            return None
        node = node.args[0]
    try:
        values = ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None
    if not isinstance(values, (list, tuple)):
        return None
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return None
    return [float(v) for v in values]


def declared_bounds(source: str, names: Sequence[str] | None = None) -> ParamBounds | None:
    """The search box a program declares (``N_LINEAR``, ``LO``, ``HI`` at module level), or None.

    Args:
        source: the program's source.
        names: (P,) parameter names, e.g. a symbolic program's ``meta["param_names"]``;
            ``p[i]`` when not given or of the wrong length.
    """
    try:
        tree = parse_python(source)
    except (SyntaxError, ValueError):
        return None
    found: dict[str, Any] = {}
    for stmt in getattr(tree, "body", []):
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
            key = stmt.targets[0].id
            if key == "N_LINEAR" and isinstance(stmt.value, ast.Constant) and type(stmt.value.value) is int:
                found[key] = stmt.value.value
            elif key in ("LO", "HI"):
                found[key] = _numbers(stmt.value)
    k, lo, hi = found.get("N_LINEAR"), found.get("LO"), found.get("HI")
    if k is None or k < 0 or lo is None or hi is None or len(lo) != len(hi):
        return None
    size = k + len(lo)
    labels = tuple(names) if names is not None and len(names) == size else tuple(f"p[{i}]" for i in range(size))
    return ParamBounds(labels, (-math.inf,) * k + tuple(lo), (math.inf,) * k + tuple(hi))


def _tolerance(lo: float, hi: float, bound: float, rtol: float) -> float:
    if math.isfinite(lo) and math.isfinite(hi):
        return rtol * max(hi - lo, 1e-12)
    return rtol * max(1.0, abs(bound))


def params_at_bounds(params: Mapping[str, Any] | None, bounds: ParamBounds | None,
                     rtol: float = AT_BOUND_RTOL) -> list[AtBound]:
    """Every fitted parameter on a bound of ``bounds``, group by group.

    Args:
        params: group -> fitted parameters, (P,) or (T, P) for T outputs (as
            ``Evaluation.params`` and ``best.json`` hold them).
        bounds: the program's box (``declared_bounds``); None flags nothing.
        rtol: how near a bound counts as on it (``AT_BOUND_RTOL``).
    Returns:
        The parameters on a bound, in group order, then output, then parameter.
    """
    if not params or bounds is None:
        return []
    out: list[AtBound] = []
    for group, values in params.items():
        try:
            arr = np.asarray(values, dtype=float)
        except (TypeError, ValueError):
            continue
        if arr.ndim not in (1, 2) or arr.shape[-1] != bounds.size:
            continue
        rows = [(None, arr)] if arr.ndim == 1 else list(enumerate(arr))
        for t, row in rows:
            for i, v in enumerate(row):
                lo, hi = bounds.lo[i], bounds.hi[i]
                if not math.isfinite(v):
                    continue
                for side, b in (("lower", lo), ("upper", hi)):
                    if math.isfinite(b) and abs(v - b) <= _tolerance(lo, hi, b, rtol):
                        out.append(AtBound(str(group), t, i, bounds.names[i], float(v), float(b), side))
                        break
    return out


def summarize(flags: Sequence[AtBound], n_groups: int) -> list[str]:
    """One line per parameter on a bound: ``mu_1 at its upper bound 19.06 in 7 of 42 groups``."""
    seen: dict[tuple[str, str, float], set[str]] = {}
    for f in flags:
        seen.setdefault((f.name, f.side, f.bound), set()).add(f.group)
    lines = []
    for (name, side, bound), groups in seen.items():
        where = "in the only group" if n_groups == 1 else f"in {len(groups)} of {n_groups} groups"
        lines.append(f"{name} at its {side} bound {_num(bound)} {where}")
    return lines


def program_bounds(source: str, meta: Mapping[str, Any] | None) -> ParamBounds | None:
    """The box of a stored program: ``declared_bounds`` named by its meta's ``param_names``."""
    names = (meta or {}).get("param_names")
    ok = isinstance(names, list) and all(isinstance(n, str) for n in names)
    return declared_bounds(source, names if ok else None)


def bounds_record(source: str, meta: Mapping[str, Any] | None, params: Mapping[str, Any] | None) -> dict[str, Any]:
    """What ``best.json`` says about the box: names, bounds (null: unbounded) and the parameters on a bound.

    ``params_at_bounds`` is null until the law is fitted on all of train
    (``params`` None), a list (maybe empty) after; all three are null for a
    program that declares no box.
    """
    box = program_bounds(source, meta)
    if box is None:
        return {"param_names": None, "param_bounds": None, "params_at_bounds": None}

    def finite(v: float) -> float | None:
        return v if math.isfinite(v) else None

    return {
        "param_names": list(box.names),
        "param_bounds": [[finite(lo), finite(hi)] for lo, hi in zip(box.lo, box.hi)],
        "params_at_bounds": None if params is None else [f.to_json() for f in params_at_bounds(params, box)],
    }

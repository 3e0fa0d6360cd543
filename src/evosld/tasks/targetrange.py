"""The range a target can take, as the user declares it (``--target-range LO,HI``).

Many targets are bounded: an accuracy lies in [0, 1], a Brier score in
[-1, 0], a loss never falls below 0. A law that predicts outside that range
just beyond the data is wrong whatever its fit says; the final pick refuses
it (``search.plausibility.runaway``). Either side may be open. The range
applies to every target of the task. Built-in tasks declare none.

A range is a pair ``(lo, hi)`` of floats or None (an open side); "no range"
is ``None`` for the whole.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from evosld.errors import DataError

TargetRange = tuple[float | None, float | None]

#: How a range is written, for error messages.
FORM = "LO,HI with LO < HI, either side may be empty (0,1 or 0, or ,1; a negative LO as --target-range=-1,0)"


def parse_target_range(value: str | Sequence[float | None] | None, label: str = "target range") -> TargetRange | None:
    """``"LO,HI"`` (either side empty), a pair ``[lo, hi]`` (None for an open side), or None -> a range or None.

    ``label`` names the setting in error messages (``"--target-range"``).

    Raises:
        DataError: not two numbers (or empties), a side not finite, LO >= HI, or both sides open.
    """
    if value is None:
        return None
    if isinstance(value, str):
        parts = [p.strip() for p in value.split(",")]
        shown = value
    elif isinstance(value, Sequence):
        parts = ["" if v is None else v for v in value]
        shown = ",".join("" if v is None else str(v) for v in value)
    else:
        raise DataError(f"{label} {value!r}: give it as {FORM}")
    if len(parts) != 2:
        raise DataError(f"{label} {shown!r} is not two values: give it as {FORM}")
    sides: list[float | None] = []
    for p in parts:
        if isinstance(p, str) and p == "":
            sides.append(None)
            continue
        try:
            x = float(p)
        except (TypeError, ValueError):
            raise DataError(f"{label} {shown!r}: {p!r} is not a number; give it as {FORM}") from None
        if not math.isfinite(x):
            raise DataError(f"{label} {shown!r}: {p!r} is not finite (leave that side empty); give it as {FORM}")
        sides.append(x)
    lo, hi = sides
    if lo is None and hi is None:
        raise DataError(f"{label} {shown!r} bounds neither side: give it as {FORM}")
    if lo is not None and hi is not None and lo >= hi:
        raise DataError(f"{label} {shown!r} has LO >= HI: give it as {FORM}")
    return lo, hi


def describe(bounds: TargetRange) -> str:
    """``"0..1"``; an open side as ``-inf`` / ``inf`` (``"0..inf"``)."""
    lo, hi = bounds
    return f"{'-inf' if lo is None else format(lo, 'g')}..{'inf' if hi is None else format(hi, 'g')}"


def outside(values: np.ndarray, bounds: TargetRange, tolerance: float | np.ndarray = 0.0) -> np.ndarray:
    """Which values lie outside ``bounds`` by more than ``tolerance`` (bool, the shape of ``values``).

    Args:
        values: any shape; NaN counts as outside.
        bounds: the declared range.
        tolerance: slack on each side, a scalar or broadcastable to ``values``.
    """
    v = np.asarray(values, dtype=float)
    lo, hi = bounds
    out = ~np.isfinite(v)
    with np.errstate(invalid="ignore"):
        if lo is not None:
            out |= v < lo - tolerance
        if hi is not None:
            out |= v > hi + tolerance
    return out


def check_targets_within(df: pd.DataFrame, targets: Sequence[str], bounds: TargetRange | None, where: str) -> None:
    """Every target value lies in ``bounds`` (no slack: the data define what the range may hold).

    Raises:
        DataError: how many rows leave it, the first offending value and where it is, and the range.
    """
    if bounds is None:
        return
    from evosld.tasks.checks import _rows

    for t in targets:
        bad = np.flatnonzero(outside(df[t].to_numpy(dtype=float), bounds))
        if bad.size:
            first = float(df[t].to_numpy(dtype=float)[bad[0]])
            raise DataError(f"{where}: {bad.size} row(s) of {t!r} lie outside the declared target range "
                            f"{describe(bounds)} (first: {first:g}, at {_rows(df, bad[:1])}); fix the table or "
                            "widen the range (--target-range, or target_range in a task file)")

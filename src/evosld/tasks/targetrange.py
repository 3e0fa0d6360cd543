"""The range a target can take, as the user declares it (``--target-range LO,HI``).

Many targets are bounded: an accuracy lies in [0, 1], a Brier score in
[-1, 0], a loss never falls below 0. A law that predicts outside that range
just beyond the data is wrong whatever its fit says; the final pick refuses
it (``search.plausibility.runaway``). Either side may be open. The range
applies to every target of the task. Built-in tasks declare none.

A user table whose every target value lies in [0, 1] is taken to be a
fraction (an accuracy, an error rate, a win rate, a share) unless the user
says otherwise (``assumed_range``): most people do not know the option
exists, and a rising accuracy fitted without its bound ends above 1 just past
the data. On a public table of benchmark scores of open models (Ruan et al.
2024, "Observational Scaling Laws", arXiv:2405.10938: HellaSwag against model
size, one group per model family with five or more models, test = each
family's largest), the power law, the one law with a trend the search had,
was fitted running far past 1 beyond the data and passed over, and the pick
was a constant, test R² -16; with the range, the power law kept below 1,
-0.35 (a straight line in ln N scores -2.7 there).
``--target-range none`` fits without any range.

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
FORM = ("LO,HI with LO < HI, either side may be empty (0,1 or 0, or ,1; a negative LO as --target-range=-1,0), "
        "or none")
#: The spelling of "no range at all" (not even the assumed one).
NO_RANGE = "none"
#: The range a user table is assumed to have when every target value lies in it (``assumed_range``).
FRACTION: TargetRange = (0.0, 1.0)


def parse_target_range(value: str | Sequence[float | None] | None, label: str = "target range") -> TargetRange | None:
    """``"LO,HI"`` (either side empty), a pair ``[lo, hi]`` (None for an open side), or None -> a range or None.

    ``label`` names the setting in error messages (``"--target-range"``). ``"none"`` (any case) is no
    range: None, as for no value.

    Raises:
        DataError: not two numbers (or empties), a side not finite, LO >= HI, or both sides open.
    """
    if value is None:
        return None
    if isinstance(value, str) and value.strip().lower() == NO_RANGE:
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


def assumed_range(df: pd.DataFrame, targets: Sequence[str]) -> TargetRange | None:
    """[0, 1] when every value of every target in ``df`` lies in it (a fraction), else None.

    Used for a user table that declares no range (``tasks.loaders.task_from_frame``); the data can only
    hold values the range holds, so it never refuses a row. A loss below 1 (bits per byte) is in it too:
    it lies there anyway.
    """
    values = df[list(targets)].to_numpy(dtype=float)
    if not values.size or not np.isfinite(values).all():
        return None
    return FRACTION if bool((values >= FRACTION[0]).all() and (values <= FRACTION[1]).all()) else None


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

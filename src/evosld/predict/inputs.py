"""The inputs a user asks a law about: ``--at N=7e10,D=1.4e12`` points, or a table of them, and their groups.

Values are read as a table's cells are (``tasks.numbers``): ``7e10``, ``70B``,
``1.4T``, ``45%``. Pure functions apart from reading the table file.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from pathlib import Path

import numpy as np
import pandas as pd

from evosld.errors import DataError
from evosld.tasks import checks
from evosld.tasks.numbers import read_numbers
from evosld.tasks.splits import short_number
from evosld.tasks.tables import read_table, split_names
from evosld.tasks.task import GROUP_COLUMN, Task


def _value(text: str, where: str) -> float:
    vals = read_numbers(pd.Series([text.strip()]))
    if vals is None or not np.isfinite(vals.iloc[0]):
        raise DataError(f"{where}: {text.strip()!r} is not a number; write it as 7e10, 70B or 0.003")
    return float(vals.iloc[0])


def parse_at(points: Sequence[str], features: Sequence[str]) -> pd.DataFrame:
    """One row per ``--at`` text (``"N=7e10, D=1.4e12"``), columns ``features`` (in their order).

    Raises:
        DataError: a pair without ``=``, a name that is not a feature or given twice, a feature left out, a value
            that is no number.
    """
    rows = []
    for text in points:
        where = f"--at {text!r}"
        row: dict[str, float] = {}
        for part in split_names(_thousands_joined(text)):
            name, eq, value = part.rpartition("=")
            name = name.strip().strip("`")
            if not eq or not name:
                raise DataError(f"{where}: write each feature as NAME=VALUE, separated by commas, as in "
                                f"{', '.join(f'{at_name(f)}=...' for f in features)!r}")
            if name not in features:
                raise DataError(f"{where}: {name!r} is not a feature of this law (its features: {', '.join(features)})")
            if name in row:
                raise DataError(f"{where}: {name} is given twice; give each feature once")
            row[name] = _value(value, where)
        missing = [f for f in features if f not in row]
        if missing:
            raise DataError(f"{where}: give every feature of the law ({', '.join(features)}); missing: "
                            f"{', '.join(missing)}")
        rows.append(row)
    return pd.DataFrame(rows, columns=list(features))


def _thousands_joined(text: str) -> str:
    """``text`` with the commas of thousands groups taken out (``N=7,000,000,000`` -> ``N=7000000000``), as a
    table's cell ``7,000,000,000`` is read (``tasks.numbers``): a comma between a digit and exactly three
    digits, with no space, that do not name a feature (``=`` after them). ``N=100, 200`` keeps its comma (a
    cell never writes thousands with a space) and is refused as a pair without ``=``."""
    return re.sub(r"(?<=\d),(?=\d{3}(?![\d=]))", "", text)


def at_name(feature: str) -> str:
    """``feature`` as an ``--at`` text names it: in double quotes when it holds a comma (``"size (params, M)"``),
    which would otherwise split the pair in two; bare otherwise."""
    return f'"{feature}"' if "," in feature else feature


def example_point(task: Task) -> tuple[str, str]:
    """An ``--at`` text for ``task``'s law and the group it is in: each feature at its value in the held-out
    run furthest out (the test row largest on the first feature, then on the next ones), as a first question
    to ask it."""
    rows = task.test if len(task.test) else task.train
    # the largest on the first feature, ties broken by the next ones: the last step of a learning curve
    order = np.lexsort([rows[f].to_numpy(dtype=float) for f in reversed(task.features)])
    far = rows.iloc[int(order[-1])]
    return ", ".join(f"{at_name(f)}={short_number(float(far[f]))}" for f in task.features), str(far[GROUP_COLUMN])


def read_inputs(path: str | Path, task: Task, group_column: str | None = None) -> pd.DataFrame:
    """The rows of a table file (CSV, TSV... as ``--csv`` reads them) with ``task``'s features as numbers
    (``checked_inputs``); its group column (``group_column``, as the run was grouped by, or ``group``) read as
    labels, as ``--csv`` reads it."""
    labels = [c for c in (group_column, GROUP_COLUMN) if c]
    return checked_inputs(read_table(Path(path), labels), task, str(path))


def checked_inputs(df: object, task: Task, where: str) -> pd.DataFrame:
    """``df`` (the inputs to predict, one row each) with ``task``'s features as numbers, index reset.

    Other columns (a group column, labels) are kept. Raises one ``DataError`` for what the law cannot be asked
    about: not a table, no rows, a missing or repeated feature column, a cell that is no number, a missing or
    infinite value, or a value <= 0 of a feature the law takes on a log scale (its prediction there is no number).
    """
    features = list(task.features)
    if not isinstance(df, pd.DataFrame):
        raise DataError(f"{where}: give the inputs as a table (a pandas DataFrame) with the law's features as "
                        f"columns ({', '.join(features)}), one row per input")
    if len(df) == 0:
        raise DataError(f"{where}: the table has no rows to predict")
    checks.check_columns(df, list(features), where)
    twice = sorted({str(c) for c in df.columns[df.columns.duplicated()] if c in features})
    if twice:
        raise DataError(f"{where}: column(s) {', '.join(map(repr, twice))} appear more than once; keep one of each")
    df = checks.as_numbers(df, list(features), where)
    checks.check_cells_numeric(df, list(features), where)
    checks.check_numeric(df, list(features), where)
    for col in (f for f in task.log_features if f in features):
        bad = np.flatnonzero(df[col].to_numpy(dtype=float) <= 0)
        if len(bad):
            rows = ", ".join(str(i + 1) for i in bad[:5]) + (" ..." if len(bad) > 5 else "")
            raise DataError(f"{where}: the law takes {col!r} on a log scale, so it must be positive; input row(s) "
                            f"{rows} have {col} <= 0")
    return df.reset_index(drop=True)


def group_keys(task: Task, df: pd.DataFrame, group: str | None = None, group_column: str | None = None,
               option: str | None = "--group", table: bool = True) -> np.ndarray:
    """(M,) the group of each row of ``df``, one of ``task.groups``.

    Taken from the user's group column (``group_column``, as the run was grouped by), else a ``group``
    column, else ``group`` for every row, else the task's only group. ``option`` is how the caller's user
    names ``group`` (None: they cannot, only by a column), for the error message; ``table``: the inputs
    came as a table the user can add a column to (not ``--at`` points).

    Raises:
        DataError: several groups and none given, a group the law was not fitted on, or ``group`` given
            beside a group column that names another group.
    """
    groups = task.groups
    if group is not None:
        group = _known_label(str(group).strip(), groups)
    column = next((c for c in (group_column, GROUP_COLUMN) if c and c in df.columns), None)
    if column is not None:
        keys = df[column].astype(str).str.strip().to_numpy()  # as the run read its labels (tables.stripped_text)
        keys = np.array([_known_label(k, groups) for k in keys], dtype=object)
        other = np.flatnonzero(keys != str(group).strip()) if group is not None else []
        if len(other):
            raise DataError(f"{option or 'group'} {str(group).strip()!r}, but the inputs' {column!r} column names "
                            f"{keys[other[0]]!r} (row {other[0] + 1} of the inputs): drop {option or 'the group'} "
                            f"to predict each row for its column's group, or drop the column")
    elif group is not None:
        keys = np.full(len(df), str(group).strip(), dtype=object)
    elif len(groups) == 1:
        keys = np.full(len(df), groups[0], dtype=object)
    else:
        named = group_column or GROUP_COLUMN
        say = (f"say which with {option} NAME" + (f", or give the table a {named!r} column" if table else "")
               if option else f"give the table a {named!r} column")
        raise DataError(f"this law has {len(groups)} groups ({_listed(groups)}), fitted separately: {say}")
    unknown = sorted(set(keys) - set(groups))
    if unknown:
        raise DataError(f"no group {_listed(unknown)} in the run: the law was fitted on {_listed(groups)}")
    return keys


def _known_label(label: str, groups: Sequence[str]) -> str:
    """``label`` as the run spells it: a numeric group label the run stored as ``0.0001`` or ``10`` is the same
    group when typed ``1e-4``, ``.1`` or ``10.0`` (compared exactly, as decimals: two long integer ids that one
    float would hold alike stay apart); anything else is returned as it is."""
    if label in groups:
        return label
    value = _decimal(label)
    if value is None:
        return label
    same = [g for g in groups if _decimal(g) == value]
    return same[0] if len(same) == 1 else label


def _decimal(text: str) -> Decimal | None:
    """``text`` as an exact finite decimal number (``1e-4``, ``10.0``), or None (a name, ``1_000``, ``inf``)."""
    if "_" in text:
        return None
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def _listed(names: Sequence[str], most: int = 6) -> str:
    shown = ", ".join(map(str, names[:most]))
    return shown + (f" and {len(names) - most} more" if len(names) > most else "")

"""User tables that cannot make a task: too big, duplicated column names, targets that never vary.

A scaling-law table has one row per training run, so it is small (SLDBench's
largest has under two thousand rows). A file far beyond that is almost
always the wrong file (per-step logs, a token dump); it is refused after
reading at most ``MAX_ROWS + 1`` rows, so memory and time stay bounded
whatever its size. Each problem is one DataError line that says what to do.
"""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

from evosld.errors import DataError

#: Most rows a user table may have (one row per training run).
MAX_ROWS = 200_000
#: Largest CSV file read at all (bytes); a bigger file is refused before parsing.
MAX_CSV_BYTES = 256 * 1024 * 1024


def _too_many_rows(where: str, what: str) -> DataError:
    return DataError(
        f"{where} has {what} rows; evosld expects one row per training run (at most {MAX_ROWS:,}): "
        "keep one row per run (e.g. its final loss) or sample the runs"
    )


def check_frame(df: pd.DataFrame, where: str) -> None:
    """Column names are unique and the table is within ``MAX_ROWS``."""
    dup = sorted({str(c) for c in df.columns[df.columns.duplicated()]})
    if dup:
        raise DataError(f"{where}: column name(s) {', '.join(map(repr, dup))} appear more than once; "
                        "rename or drop the copies so each column is named once")
    if len(df) > MAX_ROWS:
        raise _too_many_rows(where, f"{len(df):,}")


def read_csv_bounded(path: Path) -> pd.DataFrame:
    """Read a user CSV, refusing duplicated header names and tables beyond ``MAX_ROWS`` / ``MAX_CSV_BYTES``.

    Raises DataError; lets pandas' own read errors through (the caller words them).
    """
    size = path.stat().st_size
    if size > MAX_CSV_BYTES:
        raise DataError(f"{path} is {size / 2**20:,.0f} MB, more than the {MAX_CSV_BYTES // 2**20} MB a table of "
                        "runs needs; keep one row per training run (e.g. its final loss)")
    with open(path, newline="", encoding="utf-8", errors="replace") as f:
        header = next(csv.reader(f), [])
    dup = sorted(name for name, n in Counter(h.strip() for h in header).items() if n > 1)
    if dup:
        raise DataError(f"{path}: column name(s) {', '.join(map(repr, dup))} appear more than once in the header; "
                        "rename or drop the copies so each column is named once")
    df = pd.read_csv(path, nrows=MAX_ROWS + 1)
    if len(df) > MAX_ROWS:
        raise _too_many_rows(str(path), f"more than {MAX_ROWS:,}")
    return df


def check_targets_vary(name: str, targets: tuple[str, ...], splits: dict[str, pd.DataFrame]) -> None:
    """Each target takes more than one value in each of ``splits`` (label -> rows; "" for the whole table).

    A target that never varies cannot be scored: R² = 1 - MSE/Var.
    """
    for split, df in splits.items():
        for t in targets:
            values = df[t].to_numpy(dtype=float)
            if len(values) and np.ptp(values) == 0:
                where = f"{split} row" if split else "row"
                raise DataError(
                    f"{name}: target {t!r} has the same value ({values[0]:g}) in every {where}, so no law can "
                    "be scored on it (R² divides by its variance); check that it is the right column, or hold "
                    "out rows where it varies"
                )

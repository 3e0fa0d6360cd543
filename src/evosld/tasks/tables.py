"""User tables that cannot make a task: too big, duplicated column names, targets that never vary.

A scaling-law table has one row per training run, so it is small (SLDBench's
largest has under two thousand rows). A file far beyond that is almost
always the wrong file (per-step logs, a token dump); it is refused after
reading at most ``MAX_ROWS + 1`` rows, so memory and time stay bounded
whatever its size. Each problem is one DataError line that says what to do.

Tables saved by spreadsheets are read as they come: a semicolon- or
tab-separated file (with decimal commas after semicolons, as European Excel
writes them), a byte-order mark, Windows line endings, a Windows-1252 file
(Excel's "CSV"), spaces around header names, rows left entirely empty,
columns with no name and no value (the ``N,D,loss,,`` Excel writes after
columns once formatted) and comment lines (``# ...``) above the header.
A workbook (.xlsx, .xls), a Parquet file or JSON records are refused with
what to do (for the last two, the line of pandas that writes them as CSV).
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from evosld.errors import DataError
from evosld.tasks.numbers import DECIMAL_COMMA, is_blank

#: Most rows a user table may have (one row per training run).
MAX_ROWS = 200_000
#: Largest CSV file read at all (bytes); a bigger file is refused before parsing.
MAX_CSV_BYTES = 256 * 1024 * 1024


def stripped_text(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with the spaces around its text cells removed: a group label typed ``'a '`` on some lines and
    ``'a'`` on others is one group, and a rule's ``model == 'a'`` matches both."""
    text = [c for c in df.columns if df[c].dtype == object or pd.api.types.is_string_dtype(df[c].dtype)]
    if not text:
        return df
    out = df.copy()
    for c in text:  # assigned one by one: column names need not be text (``assign`` takes keywords)
        out[c] = df[c].map(lambda v: v.strip() if isinstance(v, str) else v)
    return out


def split_names(text: str) -> list[str]:
    """Column names from a comma-separated text (an option, a task file's ``features: N, D``); a name holding a
    comma goes in double quotes (``'"size (params, M)",tokens'``), as in a CSV line."""
    try:
        parts = next(csv.reader([text], skipinitialspace=True), [])
    except csv.Error:  # a line break outside quotes (a header cell wrapped in a spreadsheet)
        raise DataError(f"the list {text!r} holds a line break outside quotes: put a name that holds a line "
                        "break (or a comma) in double quotes, as in a CSV line, or rename that column") from None
    if any(not x.strip() for x in parts[:-1]):  # a comma at the end is harmless; one at the start drops a name
        raise DataError(f"the list {text!r} has an empty name (a comma at its start, or two in a row): a column "
                        "is missing from it; give each name once, separated by commas")
    return [x.strip() for x in parts if x.strip()]


def joined_names(names: Sequence[str]) -> str:
    """``names`` as one comma-separated text that ``split_names`` reads back: a name holding a comma or a double
    quote in double quotes (its own quotes doubled), as in a CSV line; the others bare."""
    return ",".join('"' + n.replace('"', '""') + '"' if "," in n or '"' in n else n for n in names)


def _too_many_rows(where: str, what: str) -> DataError:
    return DataError(
        f"{where} has {what} rows; evosld expects one row per training run (at most {MAX_ROWS:,}): "
        "keep one row per run (e.g. its final loss) or sample the runs"
    )


def check_frame(df: pd.DataFrame, where: str) -> None:
    """Column names are unique and the table has rows, at most ``MAX_ROWS``."""
    dup = sorted({str(c) for c in df.columns[df.columns.duplicated()]})
    if dup:
        raise DataError(f"{where}: column name(s) {', '.join(map(repr, dup))} appear more than once; "
                        "rename or drop the copies so each column is named once")
    if len(df) > MAX_ROWS:
        raise _too_many_rows(where, f"{len(df):,}")
    if len(df) == 0:
        raise DataError(f"{where}: the table has no rows (columns: {', '.join(map(str, df.columns))}); "
                        "give it one row per training run")


_EXCEL = "save the sheet as CSV (in Excel: File > Save As > CSV UTF-8) and give that file"
#: Leading bytes of files that are not CSV tables: (magic, what they are, how to make a CSV of them).
_NOT_CSV = ((b"PK\x03\x04", "an Excel workbook (.xlsx) or a zip archive", _EXCEL),
            (b"\xd0\xcf\x11\xe0", "an Excel workbook (.xls)", _EXCEL),
            (b"PAR1", "a Parquet file", "write it as CSV, e.g. pandas.read_parquet(PATH).to_csv('runs.csv', index=False)"))


def _json_advice(path: Path, encoding: str) -> str | None:
    """How to turn ``path`` into a CSV when it holds JSON (records, or one record per line), else None."""
    with open(path, encoding=encoding, errors="replace") as f:
        if not f.read(64).lstrip().startswith(("{", "[")):
            return None
        f.seek(0)
        text = f.read().strip()
    lines = text.splitlines()
    for doc, flag in ((text, ""), (lines[0], ", lines=True")):
        try:
            json.loads(doc)
        except ValueError:
            continue
        return f"write it as CSV, e.g. pandas.read_json({str(path)!r}{flag}).to_csv('runs.csv', index=False)"
    return None


#: Field separators tried, in order of preference on a tie.
_SEPARATORS = (",", ";", "\t", "|")


def _encoding(path: Path) -> str:
    """``utf-16`` when the file starts with a UTF-16 byte-order mark (Excel's "Unicode text", PowerShell 5's
    ``>``), else ``utf-8-sig`` (UTF-8, with or without a byte-order mark) when the file decodes so, else
    ``cp1252`` (what Excel's "CSV" writes on Windows), else ``latin-1`` (which decodes any bytes)."""
    with open(path, "rb") as f:
        if f.read(2) in (b"\xff\xfe", b"\xfe\xff"):
            return "utf-16"
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            with open(path, encoding=encoding) as f:
                while f.read(1 << 20):
                    pass
            return encoding
        except UnicodeDecodeError:
            continue
    return "latin-1"


#: Most comment lines (``# ...``) read above the header.
MAX_COMMENT_LINES = 100


def _comment_lines(path: Path, encoding: str) -> int:
    """How many lines starting with ``#`` (a note on where the runs come from) stand above the header."""
    n = 0
    with open(path, newline="", encoding=encoding) as f:
        for line in f:
            if n >= MAX_COMMENT_LINES or not line.lstrip().startswith("#"):
                break
            n += 1
    return n


def _dialect(path: Path, encoding: str, skip: int = 0) -> tuple[str, str]:
    """(separator, decimal mark) of a CSV, read from its first lines after ``skip`` comment lines.

    The separator is the one that splits the header into the most fields
    (a comma on a tie); after semicolons, numbers written ``1,5`` mean a
    decimal comma.
    """
    with open(path, newline="", encoding=encoding) as f:
        lines = [line for _, line in zip(range(50 + skip), f)][skip:]
    header = lines[0] if lines else ""
    sep = max(_SEPARATORS, key=lambda c: (len(next(csv.reader([header], delimiter=c), [])), -_SEPARATORS.index(c)))
    decimal = "."
    if sep == ";":
        cells = [cell for row in csv.reader(lines[1:], delimiter=";") for cell in row]
        if any(DECIMAL_COMMA.match(c) for c in cells):
            decimal = ","
    return sep, decimal


def read_csv_bounded(path: Path, labels: Sequence[str] = ()) -> pd.DataFrame:
    """Read a user CSV, refusing duplicated header names and tables beyond ``MAX_ROWS`` / ``MAX_CSV_BYTES``.

    ``labels``: columns of labels (the group column), whose text (``None``, ``NA``, ``null``) is a label, not a
    missing value (``_labels_as_text``); only their empty cells are missing.
    Raises DataError; lets pandas' own read errors through (the caller words them).
    """
    size = path.stat().st_size
    if size > MAX_CSV_BYTES:
        raise DataError(f"{path} is {size / 2**20:,.0f} MB, more than the {MAX_CSV_BYTES // 2**20} MB a table of "
                        "runs needs; keep one row per training run (e.g. its final loss)")
    if size == 0:
        raise DataError(f"{path} is empty; give a CSV with a header line and one row per training run")
    with open(path, "rb") as f:
        head = f.read(8)
    for magic, what, how in _NOT_CSV:
        if head.startswith(magic):
            raise DataError(f"{path} is {what}, not a CSV text file; {how.replace('PATH', repr(str(path)))}")
    encoding = _encoding(path)
    advice = _json_advice(path, encoding)
    if advice is not None:
        raise DataError(f"{path} is JSON, not a CSV text file; {advice}")
    skip = _comment_lines(path, encoding)
    sep, decimal = _dialect(path, encoding, skip)
    with open(path, newline="", encoding=encoding) as f:
        for _ in range(skip):
            f.readline()
        header = next(csv.reader(f, delimiter=sep), [])
    dup = sorted(name for name, n in Counter(h.strip() for h in header).items() if n > 1 and name)
    if dup:
        raise DataError(f"{path}: column name(s) {', '.join(map(repr, dup))} appear more than once in the header; "
                        "rename or drop the copies so each column is named once")
    # blank lines are kept while reading, so row i stays line i + 2 of the file in messages, then dropped
    read = dict(nrows=MAX_ROWS + 1, sep=sep, decimal=decimal, encoding=encoding, skip_blank_lines=False,
                skiprows=skip)
    df = pd.read_csv(path, **read)
    if len(df) > MAX_ROWS:
        raise _too_many_rows(str(path), f"more than {MAX_ROWS:,}")
    if labels:
        df = _labels_as_text(df, path, {str(c).strip() for c in labels}, read)
    if skip:
        df.index = df.index + skip  # row i stays line i + 2 of the file
    df = _without_unnamed_empty_columns(df, header, path)
    df.columns = [c.strip() if isinstance(c, str) else c for c in df.columns]
    return df.dropna(how="all")


def _labels_as_text(df: pd.DataFrame, path: Path, labels: set[str], read: dict[str, Any]) -> pd.DataFrame:
    """``df`` with each column named in ``labels`` as the file's text wherever pandas read a cell holding text as
    missing (its default missing marks: ``None``, ``NA``, ``null``, ``n/a``...): in a group column these are
    labels (no regulariser: ``None``). A column with no such cell is left as read (numbers stay numbers).

    ``read``: the keywords ``df`` was read with (``pd.read_csv``), so the rows line up.
    """
    wanted = [c for c in df.columns if isinstance(c, str) and c.strip() in labels and df[c].isna().any()]
    if not wanted:  # no label read as missing: the file is not read a second time
        return df
    text = pd.read_csv(path, **read, usecols=lambda c: c in wanted, dtype=str, keep_default_na=False,
                       na_values=[""])
    if len(text) != len(df):
        return df
    out = df
    for c in wanted:  # by position: pandas may give the two reads different indexes (a header one cell short)
        raw = text[c].to_numpy(dtype=object)
        blank = np.array([is_blank(v) for v in raw], dtype=bool)
        if (df[c].isna().to_numpy() & ~blank).any():
            out = out.copy() if out is df else out
            out[c] = pd.Series(np.where(blank, None, raw), index=df.index, dtype=object)
    return out


def _without_unnamed_empty_columns(df: pd.DataFrame, header: list[str], path: Path) -> pd.DataFrame:
    """``df`` without the columns whose header cell is empty and that hold no value in any row: the trailing
    ``,,`` a spreadsheet writes after columns once formatted. One unnamed column holding values stays (a pandas
    index column, which pandas names ``Unnamed: 0``); several cannot be told apart and are refused.

    ``header``: the header's cells as the file spells them, one per column of ``df``.
    Raises:
        DataError: two or more columns without a name hold values.
    """
    if len(header) != len(df.columns):  # pandas took a column as the index: positions do not match
        return df
    unnamed = [i for i, h in enumerate(header) if not h.strip()]
    empty = [i for i in unnamed if df.iloc[:, i].map(is_blank).all()]
    filled = [i for i in unnamed if i not in empty]
    if len(filled) > 1:
        raise DataError(f"{path}: columns {', '.join(str(i + 1) for i in filled)} of the header have no name but "
                        "hold values; give each of them a name in the header, or delete those columns")
    return df.iloc[:, [i for i in range(len(df.columns)) if i not in empty]]


def read_table(path: Path, labels: Sequence[str] = ()) -> pd.DataFrame:
    """A user's table file (``read_csv_bounded``, ``labels`` its columns of labels), its read errors worded as
    one ``DataError`` line."""
    try:
        return read_csv_bounded(path, labels)
    except FileNotFoundError:
        raise DataError(f"file not found: {path}") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read {path} as CSV: {str(exc).splitlines()[0]}") from None


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

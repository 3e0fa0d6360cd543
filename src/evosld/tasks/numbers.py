"""Numbers a spreadsheet wrote as text: size suffixes, thousands separators, missing-value marks.

A column is read only when every one of its cells is written the same safe
way, so no cell is guessed on its own:

- a size suffix on every cell: ``70M``, ``1.3B``, ``400B tokens``, ``1.4b``
  (K = 1e3, M = 1e6, B = 1e9, T = 1e12, either case; one optional unit word
  after it, the same on every cell), or a number in scientific notation
  (``6.7e9``), which is a whole value whatever its neighbours; a plain
  ``400`` beside ``1.3B`` could be in any unit, so such a column is refused;
- percentages: ``45%``, ``28.3 %`` on every cell, read as fractions (0.45):
  an accuracy written as a percentage is the same accuracy, and a fraction
  gets the range a fraction has (``targetrange.assumed_range``);
- thousands separators: ``1,300,000`` (groups of three digits after each
  comma, every number of 1000 or more written so; only when the file's
  decimal mark is a point, which ``tables`` has already decided: a comma
  inside a quoted cell of a comma-separated file). A column whose cells
  have at most one comma and no point (``"4,611"``) could as well hold
  decimal commas; it is read with thousands separators, as the file's
  separator says, and ``thousands_guess`` names a cell for a warning;
- digit groups joined by underscores, as Python writes them: ``10_000_000``.

Cells that mark a value as missing (empty, ``NaN``, ``N/A``, ``-``, ``?``,
``null``, ...) are missing whatever the rest of the column holds. Anything
else (``~4e8``, ``3.1±0.01``, a mix of ``70M`` and ``6.7e9``, or of ``45%`` and ``0.45``) is left
as text for ``checks.check_numeric`` to refuse with the cell it is on.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import pandas as pd

#: Cell texts (stripped, lower case) that mean "no value".
MISSING = frozenset({"", "-", "--", "\u2013", "\u2014", "?", "na", "n/a", "#n/a", "nan", "none", "null", "missing"})
#: Size suffixes and what they multiply by.
SUFFIXES = {"k": 1e3, "m": 1e6, "b": 1e9, "t": 1e12}

_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_SUFFIXED = re.compile(rf"^({_NUMBER})\s*([kKmMbBtT])(?:\s+([A-Za-z][\w-]*))?$")
_SCIENTIFIC = re.compile(r"^[-+]?(?:\d+\.?\d*|\.\d+)[eE][-+]?\d+$")
# no thousands group after a lone 0: "0,611" is a decimal comma, not 611
_THOUSANDS = re.compile(r"^[-+]?(?:0|[1-9]\d{0,2}(?:,\d{3})*)(?:\.\d+)?$")
_PERCENT = re.compile(rf"^({_NUMBER})\s*%$")
_UNDERSCORED = re.compile(r"^[-+]?\d+(?:_\d+)*(?:\.\d+(?:_\d+)*)?(?:[eE][-+]?\d+)?$")
#: A number written with a decimal comma (``1,5``, ``0,611``, ``2,5e-3``).
DECIMAL_COMMA = re.compile(r"^\s*[-+]?\d+,\d+([eE][-+]?\d+)?\s*$")


def is_missing(cell: object) -> bool:
    """True for a cell that holds no value: None, NaN, or a missing-value mark (``MISSING``)."""
    if cell is None or (isinstance(cell, float) and np.isnan(cell)):
        return True
    return isinstance(cell, str) and cell.strip().lower() in MISSING


#: A number written in a form not read: digits and separators (thousands marked with '.', a space, an apostrophe),
#: then at most a short unit.
_NUMBER_IN_ANOTHER_FORM = re.compile(r"^[+-]?\d[\d\s.,'’_\u00a0\u202f]*([A-Za-zµ%]{0,4})$")


def numbers_in_another_form(cells: Sequence[str]) -> bool:
    """Whether every one of ``cells`` (text) is a number in a form no spelling here reads, all with one unit or
    none: ``10.000.000`` (European thousands), ``3.2Btok``, ``31MM``; not labels that start with a digit and
    differ after it (``1st``/``2nd``, ``1a``/``1b``), which are names of settings."""
    units = set()
    for cell in cells:
        m = _NUMBER_IN_ANOTHER_FORM.match(str(cell).strip())
        if m is None:
            return False
        units.add(m.group(1).lower())
    return len(cells) > 0 and len(units) == 1


def is_blank(cell: object) -> bool:
    """True for a cell that holds nothing at all: None, NaN, or text of spaces only (``NA`` is text here: in a
    group column it is a label, unlike ``is_missing``)."""
    return bool(pd.isna(cell)) if not isinstance(cell, str) else not cell.strip()


def spelled_as_number(cell: object) -> bool:
    """True for a cell some spelling this module reads would read as a number on its own (``1.3B``, ``45%``,
    ``1,300,000``, ``6.7e9``): a cell that is not (``~4e8``) is the one to name when a column is refused."""
    text = str(cell).strip()
    try:
        float(text)
        return True
    except ValueError:
        return any(p.match(text) for p in (_SUFFIXED, _THOUSANDS, _PERCENT, _UNDERSCORED))


def _suffixed(cells: list[str]) -> list[float] | None:
    # a number in scientific notation is a whole value whatever its neighbours (6.7e9 beside 1.3B)
    matches = [None if _SCIENTIFIC.match(c) else _SUFFIXED.match(c) for c in cells]
    words = {(m.group(3) or "").lower() for m in matches if m}
    if len(words) != 1 or not all(m or _SCIENTIFIC.match(c) for m, c in zip(matches, cells)):
        return None
    return [float(m.group(1)) * SUFFIXES[m.group(2).lower()] if m else float(c) for m, c in zip(matches, cells)]


def mixed_spelling(column: pd.Series) -> tuple[int, int] | None:
    """(position of a size with a suffix, position of a plain number) when ``column`` (N,) mixes the two.

    A plain number beside sizes such as 1.3B may be in any unit (400 for
    400M?), so such a column is refused; scientific notation (6.7e9) is not
    counted as plain.
    """
    cells = [str(c).strip() for c in column]
    suffixed = [i for i, c in enumerate(cells) if _SUFFIXED.match(c)]
    plain = [i for i, c in enumerate(cells) if re.fullmatch(_NUMBER, c) and not _SCIENTIFIC.match(c)]
    return (suffixed[0], plain[0]) if suffixed and plain else None


def _thousands(cells: list[str]) -> list[float] | None:
    if not any("," in c for c in cells) or not all(_THOUSANDS.match(c) for c in cells):
        return None
    return [float(c.replace(",", "")) for c in cells]


def _underscored(cells: list[str]) -> list[float] | None:
    if not any("_" in c for c in cells) or not all(_UNDERSCORED.match(c) for c in cells):
        return None
    return [float(c) for c in cells]  # Python's own reading of 10_000_000


def _percent(cells: list[str]) -> list[float] | None:
    matches = [_PERCENT.match(c) for c in cells]
    if not matches or not all(matches):
        return None
    return [float(m.group(1)) / 100.0 for m in matches]  # type: ignore[union-attr]


def percentages(column: pd.Series) -> tuple[str, float] | None:
    """(a cell, the fraction it is read as) when ``read_numbers`` reads ``column`` (N,) as percentages (every value
    written ``45%``), else None."""
    cells = [str(c).strip() for c in column if not is_missing(c)]
    values = _percent(cells)
    return (cells[0], values[0]) if values else None


def thousands_guess(column: pd.Series) -> tuple[str, float] | None:
    """(a cell, the value it is read as) when ``read_numbers`` reads ``column`` (N,) with thousands separators
    that could as well be decimal commas, else None.

    ``4,611`` is 4611 with a thousands separator or 4.611 with a decimal
    comma. It is plainly a thousands separator when a cell has two
    (``1,300,000``) or a decimal point as well (``1,300.5``), or when another
    cell has a decimal point; otherwise it is a guess the user should hear of.
    """
    cells = [str(c).strip() for c in column if not is_missing(c)]
    if not cells or _thousands(cells) is None or not pd.to_numeric(pd.Series(cells), errors="coerce").isna().any():
        return None
    if any("." in c or c.count(",") > 1 for c in cells):
        return None
    cell = next(c for c in cells if "," in c)
    return cell, float(cell.replace(",", ""))


def read_numbers(column: pd.Series) -> pd.Series | None:
    """``column`` (N,) as floats (NaN where a value is missing), or None when it is not all numbers.

    Plain numbers, numbers written as text, and the safe spellings of the
    module docstring are read; a column that mixes spellings is not.
    """
    missing = column.map(is_missing).to_numpy(dtype=bool)
    present = column[~missing]
    plain = pd.to_numeric(present, errors="coerce")
    out = pd.Series(np.nan, index=column.index, dtype=float)
    if not plain.isna().any():
        out[~missing] = plain.astype(float).to_numpy()
        return out
    cells = [str(c).strip() for c in present]
    values = _suffixed(cells) or _thousands(cells) or _percent(cells) or _underscored(cells)
    if values is None:
        return None
    out[~missing] = values
    return out

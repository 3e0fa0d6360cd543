"""What an SQLite error on a run store means for the user, as one line that says what to do.

The store's own methods turn every ``sqlite3.DatabaseError`` into one of:

- :class:`~evosld.errors.OutputError` when a write could not be made (disk
  full, read-only file or directory, an I/O error): everything committed
  before stays readable and ``--resume`` continues once the cause is fixed;
- :class:`~evosld.errors.StoreError` when the file is damaged (truncated,
  overwritten, a table missing) or is no SQLite database at all. The file is
  never written to after that.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from evosld.errors import EvosldError, OutputError, StoreError

# Primary SQLite result codes (the low byte of an extended code).
SQLITE_READONLY, SQLITE_IOERR, SQLITE_CORRUPT, SQLITE_FULL = 8, 10, 11, 13
SQLITE_CANTOPEN, SQLITE_NOTADB = 14, 26


def _code(exc: sqlite3.Error) -> int | None:
    code = getattr(exc, "sqlite_errorcode", None)
    return None if code is None else int(code) & 0xFF


def explain(exc: sqlite3.Error, path: Path) -> EvosldError:
    """The user-facing error for ``exc``, raised while using the run store at ``path``."""
    run_dir = path.parent
    code = _code(exc)
    text = str(exc)
    resume = f"everything evaluated so far is kept in {path}; fix this, then continue with evosld discover --resume {run_dir}"
    if code == SQLITE_FULL or "disk is full" in text:
        return OutputError(f"cannot write {path}: the disk is full; {resume}")
    if code == SQLITE_READONLY or "readonly" in text:
        return OutputError(f"cannot write {path}: the file or its directory is read-only; {resume}")
    if code in (SQLITE_IOERR, SQLITE_CANTOPEN):
        return OutputError(f"cannot read or write {path} ({text}); check the disk and its free space; {resume}")
    if code == SQLITE_NOTADB or "not a database" in text:
        return StoreError(f"{path} is not an evosld run store (not an SQLite database)")
    return StoreError(
        f"{path} is damaged ({text}); it was left as it is. Start a new run with another --output, or try "
        f"`sqlite3 {path} .recover` to save what it holds"
    )

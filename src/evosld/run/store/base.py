"""The connection a run store's parts share: one SQLite connection, one re-entrant lock, transactions."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from evosld.errors import DataError
from evosld.run.store.errors import explain
from evosld.run.store.records import RunInfo, _loads

_Store = TypeVar("_Store", bound="StoreBase")


class StoreBase:
    """The connection, its lock and the transaction helpers every table group writes and reads through."""

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        """Wrap an open, validated connection; use :meth:`create` or :meth:`open` instead."""
        self._conn: sqlite3.Connection | None = conn
        self._path = path
        self._lock = threading.RLock()
        self._depth = 0
        self._run: RunInfo | None = None

    # -- lifecycle ---------------------------------------------------------------

    @property
    def path(self) -> Path:
        """The SQLite file."""
        return self._path

    def close(self) -> None:
        """Close the connection (idempotent). Pending batches are rolled back."""
        with self._lock:
            if self._conn is not None:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                self._conn.close()
                self._conn = None

    def __enter__(self: _Store) -> _Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"RunStore({str(self._path)!r})"

    @property
    def conn(self) -> sqlite3.Connection:
        """The underlying connection (raises if the store is closed)."""
        if self._conn is None:
            raise ValueError(f"run store {self._path} is closed")
        return self._conn

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Group writes into one transaction, committed when the block exits.

        Nothing written inside is visible after a crash unless the whole block
        completed; on an exception everything is rolled back. Nested batches
        join the outermost one. Other threads wait until the block exits.
        """
        with self._lock, self._explained():
            conn = self.conn
            outer = self._depth == 0
            if outer:
                conn.execute("BEGIN IMMEDIATE")
            self._depth += 1
            try:
                yield
            except BaseException:
                self._depth -= 1
                if outer and conn.in_transaction:
                    try:
                        conn.execute("ROLLBACK")
                    except sqlite3.DatabaseError:
                        pass  # SQLite already rolled back (e.g. after a full disk)
                raise
            self._depth -= 1
            if outer:
                conn.execute("COMMIT")

    @contextmanager
    def _explained(self) -> Iterator[None]:
        """Turn SQLite failures (disk full, read-only, damaged file) into one-line user errors."""
        try:
            yield
        except (sqlite3.IntegrityError, sqlite3.ProgrammingError):
            raise
        except sqlite3.DatabaseError as exc:
            raise explain(exc, self._path) from None

    def _write(self, sql: str, params: tuple[Any, ...]) -> int:
        """Execute one write in its own (or the current) transaction; the new rowid."""
        with self.batch():
            try:
                cur = self.conn.execute(sql, params)
            except sqlite3.IntegrityError as exc:
                raise ValueError(f"cannot store row: {exc}") from None
            return int(cur.lastrowid or 0)

    def _query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock, self._explained():
            return self.conn.execute(sql, params).fetchall()

    # -- the run -----------------------------------------------------------------

    def run(self) -> RunInfo:
        """The run's task, seed, configuration and creation time."""
        if self._run is None:
            rows = self._query("SELECT task, seed, config, created, evosld_version FROM run WHERE id = 1")
            if not rows:
                raise DataError(f"{self._path} is not an evosld run store (no run row)")
            task, seed, config, created, ver = rows[0]
            schema = self._query("PRAGMA user_version")[0][0]
            self._run = RunInfo(self._path, task, seed, _loads(config), created, ver, schema)
        return self._run

    def journal_mode(self) -> str:
        """The SQLite journal mode in use (``"wal"``)."""
        return str(self._query("PRAGMA journal_mode")[0][0])

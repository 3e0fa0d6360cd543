"""The run store: one SQLite file per discovery run (``RunStore``, made of its table groups).

Everything a run produces is written here as soon as it exists — programs,
their validation evaluations, LLM calls, failed proposals, events and the
loop's resumable state — one committed transaction per write, in WAL mode. A
row whose ``add_*`` call has returned survives a ``kill -9`` of the process
(and, with the default ``synchronous="FULL"``, a power cut).

Test-split results live in their own table, ``test_evaluations``, and only
``add_test_evaluation`` / ``test_evaluation(s)`` / ``best(split="test")`` touch
it: nothing the search reads (``programs``, ``unevaluated_programs``,
``best()``, ``history``...) ever joins it.

Typical use::

    with RunStore.create("run.sqlite", task="vocab_scaling_law", seed=0, config=cfg) as store:
        pid = store.add_program(source, parent_id=None, island=0, iteration=0, proposer="symbolic")
        store.add_evaluation(pid, evaluation.metrics())

    store = RunStore.open("run.sqlite")           # resume
    for row in store.unevaluated_programs(): ...  # in flight when the run was killed

The connection is shared by all threads and guarded by a lock, so a worker
thread may write while the event loop thread does too.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from evosld.errors import ConfigError, DataError
from evosld.run.store.errors import explain
from evosld.run.store.events import EventTables
from evosld.run.store.llm import LLMTables
from evosld.run.store.programs import ProgramTables
from evosld.run.store.records import _dumps, _version
from evosld.run.store.schema import _SCHEMA, APPLICATION_ID, SCHEMA_VERSION, _check_tables


class RunStore(ProgramTables, LLMTables, EventTables):
    """One run's SQLite file. Create with :meth:`create`, reopen with :meth:`open`.

    Every ``add_*`` / ``set_state`` call is committed before it returns (group
    several writes into one transaction with :meth:`batch`). All methods are
    thread-safe: one connection, one re-entrant lock.
    """

    # -- opening -----------------------------------------------------------------

    @staticmethod
    def _connect(path: Path, *, create: bool, synchronous: str) -> sqlite3.Connection:
        mode = "rwc" if create else "rw"
        uri = f"{path.resolve().as_uri()}?mode={mode}"
        conn = sqlite3.connect(uri, uri=True, check_same_thread=False, isolation_level=None, timeout=10.0)
        try:
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("PRAGMA busy_timeout = 10000")
            if create:
                conn.execute("PRAGMA journal_mode = WAL")
            conn.execute(f"PRAGMA synchronous = {synchronous}")
        except sqlite3.DatabaseError:
            conn.close()
            raise
        return conn

    @staticmethod
    def _check_synchronous(synchronous: str) -> str:
        value = synchronous.upper()
        if value not in ("NORMAL", "FULL"):
            raise ConfigError(f"synchronous must be 'NORMAL' or 'FULL', got {synchronous!r}")
        return value

    @classmethod
    def create(
        cls,
        path: str | Path,
        task: str,
        seed: int,
        config: Mapping[str, Any] | Any,
        *,
        synchronous: Literal["NORMAL", "FULL"] = "FULL",
    ) -> RunStore:
        """Create a new run store at ``path`` (its folder is created if needed).

        Args:
            path: the SQLite file to create; it must not exist yet.
            task: the task name.
            seed: the run's seed.
            config: the run configuration (a mapping or a pydantic model), stored as JSON.
            synchronous: SQLite ``synchronous`` level. ``FULL`` (default) also
                survives power loss; ``NORMAL`` survives a killed process only.
        Raises:
            ConfigError: the file exists already, or ``synchronous`` is invalid.
        """
        sync = cls._check_synchronous(synchronous)
        p = Path(path)
        if p.exists():
            raise ConfigError(f"run store already exists: {p} (resume it, or choose another path)")
        p.parent.mkdir(parents=True, exist_ok=True)
        if hasattr(config, "model_dump"):
            config = config.model_dump(mode="json")
        config_json = _dumps(dict(config or {}))
        conn = cls._connect(p, create=True, synchronous=sync)
        try:
            conn.execute("BEGIN IMMEDIATE")
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(
                "INSERT INTO run (id, task, seed, config, created, evosld_version) VALUES (1, ?, ?, ?, ?, ?)",
                (task, int(seed), config_json, time.time(), _version()),
            )
            conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            conn.execute("COMMIT")
        except BaseException:
            conn.close()
            raise
        return cls(conn, p)

    @classmethod
    def open(cls, path: str | Path, *, synchronous: Literal["NORMAL", "FULL"] = "FULL") -> RunStore:
        """Open an existing run store (to resume a run or report on it).

        Raises:
            ConfigError: the file does not exist.
            DataError: the file is not an evosld run store, or was written by a
                newer evosld.
        """
        sync = cls._check_synchronous(synchronous)
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"run store not found: {p}")
        conn: sqlite3.Connection | None = None
        try:
            conn = cls._connect(p, create=False, synchronous=sync)
            app_id = conn.execute("PRAGMA application_id").fetchone()[0]
            version = conn.execute("PRAGMA user_version").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            if conn is not None:
                conn.close()
            raise explain(exc, p) from None
        if app_id != APPLICATION_ID:
            conn.close()
            raise DataError(f"{p} is not an evosld run store")
        if version > SCHEMA_VERSION:
            conn.close()
            raise DataError(
                f"{p} was written by a newer evosld (store schema {version}; this version reads "
                f"up to {SCHEMA_VERSION}): upgrade evosld"
            )
        if version < 1:
            conn.close()
            raise DataError(f"{p} has an unknown run store schema version {version}")
        try:
            conn.execute("PRAGMA journal_mode = WAL")
        except sqlite3.OperationalError:  # read-only media: reading still works
            pass
        try:
            _check_tables(conn, p)
        except BaseException:
            conn.close()
            raise
        return cls(conn, p)

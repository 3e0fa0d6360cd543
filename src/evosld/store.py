"""The run store: one SQLite file per discovery run.

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

import bisect
import dataclasses
import json
import math
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from evosld.errors import ConfigError, DataError, StoreError
from evosld.program import Program
from evosld.storeerrors import explain

#: Version of the table layout written by this module (``PRAGMA user_version``).
SCHEMA_VERSION = 1
#: Event stored as each session of a run (the first, and every resume) starts; data
#: ``{"elapsed_before": searched seconds before it, "resumed": bool}``.
SESSION_EVENT = "session"
#: ``PRAGMA application_id`` marking a file as an evosld run store ("ESLD").
APPLICATION_ID = 0x45534C44

_SCHEMA = """
CREATE TABLE run (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    task TEXT NOT NULL,
    seed INTEGER NOT NULL,
    config TEXT NOT NULL,
    created REAL NOT NULL,
    evosld_version TEXT NOT NULL
);
CREATE TABLE programs (
    id INTEGER PRIMARY KEY,
    source TEXT NOT NULL,
    digest TEXT NOT NULL,
    parent_id INTEGER REFERENCES programs(id),
    island INTEGER NOT NULL,
    iteration INTEGER NOT NULL,
    proposer TEXT NOT NULL,
    meta TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE INDEX programs_digest ON programs(digest);
CREATE TABLE evaluations (
    seq INTEGER PRIMARY KEY,
    program_id INTEGER NOT NULL UNIQUE REFERENCES programs(id),
    split TEXT NOT NULL CHECK (split = 'val'),
    metrics TEXT NOT NULL,
    r2 REAL,
    error_kind TEXT,
    error TEXT,
    duration REAL,
    created REAL NOT NULL
);
CREATE TABLE test_evaluations (
    program_id INTEGER PRIMARY KEY REFERENCES programs(id),
    metrics TEXT NOT NULL,
    params TEXT,
    r2 REAL,
    created REAL NOT NULL
);
CREATE TABLE llm_calls (
    id INTEGER PRIMARY KEY,
    iteration INTEGER NOT NULL,
    program_id INTEGER REFERENCES programs(id),
    model TEXT NOT NULL,
    prompt_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    reasoning_tokens INTEGER NOT NULL,
    cost_usd REAL NOT NULL,
    latency_s REAL NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    error TEXT,
    created REAL NOT NULL
);
CREATE TABLE failed_proposals (
    id INTEGER PRIMARY KEY,
    iteration INTEGER NOT NULL,
    proposer TEXT NOT NULL,
    error_kind TEXT,
    error TEXT,
    created REAL NOT NULL
);
CREATE TABLE events (
    id INTEGER PRIMARY KEY,
    time REAL NOT NULL,
    kind TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE TABLE state (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""


def _expected_columns() -> dict[str, list[str]]:
    """Table -> column names of the layout this version writes (read from ``_SCHEMA`` itself)."""
    conn = sqlite3.connect(":memory:")
    try:
        conn.executescript(_SCHEMA)
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {t: [r[1] for r in conn.execute(f"PRAGMA table_info({t})")] for t in tables}
    finally:
        conn.close()


def _check_tables(conn: sqlite3.Connection, path: Path) -> None:
    """Every table and column this version reads is there (a store with the right version but a damaged layout)."""
    try:
        for table, columns in _expected_columns().items():
            have = {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}
            missing = [c for c in columns if c not in have]
            if missing:
                what = f"table {table!r} is missing" if not have else f"table {table!r} lacks {', '.join(missing)}"
                raise StoreError(f"{path} is damaged or from another program ({what}); it was left as it is. "
                                 "Start a new run with another --output")
    except sqlite3.DatabaseError as exc:
        raise explain(exc, path) from None


# --------------------------------------------------------------------------- records


@dataclass(frozen=True)
class RunInfo:
    """The ``run`` row: what was run, with which seed and configuration."""

    path: Path
    task: str
    seed: int
    config: dict[str, Any]
    created: float
    evosld_version: str
    schema_version: int


@dataclass(frozen=True)
class StoredEvaluation:
    """A program's validation evaluation (``metrics`` is the evaluator's flat record)."""

    program_id: int
    split: str
    metrics: dict[str, Any]
    r2: float | None
    error_kind: str | None
    error: str | None
    duration: float | None
    created: float

    @property
    def ok(self) -> bool:
        """True when the program ran and was scored (no error kind recorded)."""
        return self.error_kind is None


@dataclass(frozen=True)
class StoredProgram:
    """A stored program, with its validation evaluation if it has one."""

    id: int
    source: str
    digest: str
    parent_id: int | None
    island: int
    iteration: int
    proposer: str
    meta: dict[str, Any]
    created: float
    evaluation: StoredEvaluation | None = None


@dataclass(frozen=True)
class StoredTestEvaluation:
    """A program's test-split result, computed once for the report."""

    program_id: int
    metrics: dict[str, Any]
    params: Any
    r2: float | None
    created: float


@dataclass(frozen=True)
class StoredLLMCall:
    """One LLM request (after retries) and what it cost."""

    id: int
    iteration: int
    program_id: int | None
    model: str
    prompt_tokens: int
    completion_tokens: int
    reasoning_tokens: int
    cost_usd: float
    latency_s: float
    status: str
    attempts: int
    error: str | None
    created: float


@dataclass(frozen=True)
class FailedProposal:
    """A proposal that produced no program (bad answer, unparsable edit...)."""

    id: int
    iteration: int
    proposer: str
    error_kind: str | None
    error: str | None
    created: float


@dataclass(frozen=True)
class Event:
    """A timestamped loop event (start, resume, new best, migration...)."""

    id: int
    time: float
    kind: str
    data: Any


@dataclass(frozen=True)
class LLMTotals:
    """Sums over all LLM calls of a run."""

    calls: int
    failed_calls: int
    prompt_tokens: int
    completion_tokens: int
    reasoning_tokens: int
    cost_usd: float
    latency_s: float

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True)
class FailureCounts:
    """Failures by error kind: failed evaluations and failed proposals."""

    evaluations: dict[str, int]
    proposals: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.evaluations.values()) + sum(self.proposals.values())


@dataclass(frozen=True)
class HistoryPoint:
    """One validation evaluation, in the order evaluations were stored.

    ``elapsed_s`` is the time since the run was created (it includes the time
    a killed run spent down before it was resumed); ``searched_s`` is the
    time on the run's searched-time clock (state ``elapsed_seconds``: the
    sessions' time only, down time left out), read from the ``session``
    events a run stores as each session starts (``elapsed_s`` for a run
    stored before those events existed); ``best_r2`` is the best validation
    R² of a successful evaluation so far (None until there is one).
    """

    program_id: int
    iteration: int
    elapsed_s: float
    r2: float | None
    ok: bool
    best_r2: float | None
    searched_s: float = 0.0


# --------------------------------------------------------------------------- helpers


def _json_default(obj: Any) -> Any:
    """Make numpy values, paths, sets, dataclasses and pydantic models JSON-able."""
    if hasattr(obj, "model_dump"):
        return obj.model_dump(mode="json")
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return dataclasses.asdict(obj)
    if hasattr(obj, "tolist"):  # numpy arrays and scalars
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, (set, frozenset)):
        return sorted(obj, key=repr)
    raise TypeError(f"cannot store a {type(obj).__name__} as JSON")


def _dumps(obj: Any) -> str:
    """JSON text for ``obj`` (NaN and infinities are kept, as Python's json writes them)."""
    try:
        return json.dumps(obj, default=_json_default)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"value is not JSON-serialisable: {exc}") from None


def _loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _float_or_none(value: Any) -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _version() -> str:
    from evosld import __version__

    return __version__


_PROGRAM_COLUMNS = "p.id, p.source, p.digest, p.parent_id, p.island, p.iteration, p.proposer, p.meta, p.created"
_EVAL_COLUMNS = "e.program_id, e.split, e.metrics, e.r2, e.error_kind, e.error, e.duration, e.created"


def _program_from_row(row: tuple[Any, ...]) -> StoredProgram:
    """Build a ``StoredProgram`` from ``_PROGRAM_COLUMNS`` (+ ``_EVAL_COLUMNS``)."""
    evaluation = None
    if len(row) > 9 and row[9] is not None:
        evaluation = _evaluation_from_row(row[9:])
    return StoredProgram(
        id=row[0],
        source=row[1],
        digest=row[2],
        parent_id=row[3],
        island=row[4],
        iteration=row[5],
        proposer=row[6],
        meta=_loads(row[7]),
        created=row[8],
        evaluation=evaluation,
    )


def _evaluation_from_row(row: tuple[Any, ...]) -> StoredEvaluation:
    return StoredEvaluation(
        program_id=row[0],
        split=row[1],
        metrics=_loads(row[2]),
        r2=row[3],
        error_kind=row[4],
        error=row[5],
        duration=row[6],
        created=row[7],
    )


# --------------------------------------------------------------------------- the store


class RunStore:
    """One run's SQLite file. Create with :meth:`create`, reopen with :meth:`open`.

    Every ``add_*`` / ``set_state`` call is committed before it returns (group
    several writes into one transaction with :meth:`batch`). All methods are
    thread-safe: one connection, one re-entrant lock.
    """

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        """Wrap an open, validated connection; use :meth:`create` or :meth:`open` instead."""
        self._conn: sqlite3.Connection | None = conn
        self._path = path
        self._lock = threading.RLock()
        self._depth = 0
        self._run: RunInfo | None = None

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

    def __enter__(self) -> RunStore:
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

    # -- writes ------------------------------------------------------------------

    def add_program(
        self,
        source: str,
        *,
        parent_id: int | None = None,
        island: int = 0,
        iteration: int = 0,
        proposer: str = "",
        meta: Mapping[str, Any] | None = None,
        digest: str | None = None,
    ) -> int:
        """Store a new program (before it is evaluated); returns its id (1, 2, ...).

        ``digest`` defaults to ``Program(source).digest``.
        """
        return self._write(
            "INSERT INTO programs (source, digest, parent_id, island, iteration, proposer, meta, created)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                source,
                digest or Program(source).digest,
                parent_id,
                int(island),
                int(iteration),
                proposer,
                _dumps(dict(meta or {})),
                time.time(),
            ),
        )

    def add_evaluation(
        self,
        program_id: int,
        metrics: Mapping[str, Any],
        *,
        r2: float | None = None,
        error_kind: str | None = None,
        error: str | None = None,
        duration: float | None = None,
    ) -> None:
        """Store a program's validation evaluation (one per program).

        ``metrics`` is the evaluator's flat record (``Evaluation.metrics()``);
        ``r2``, ``error_kind``, ``error`` and ``duration`` are read from it
        unless given. A failed evaluation is stored like any other, with its
        ``error_kind``.

        Raises:
            ValueError: ``metrics["split"]`` is not ``"val"`` (test results go
                to :meth:`add_test_evaluation`), the program does not exist or
                already has an evaluation.
        """
        split = metrics.get("split", "val")
        if split != "val":
            raise ValueError(
                f"add_evaluation stores validation results only (got split {split!r}); "
                "use add_test_evaluation for test results"
            )
        self._write(
            "INSERT INTO evaluations (program_id, split, metrics, r2, error_kind, error, duration, created)"
            " VALUES (?, 'val', ?, ?, ?, ?, ?, ?)",
            (
                int(program_id),
                _dumps(dict(metrics)),
                _float_or_none(r2 if r2 is not None else metrics.get("r2")),
                error_kind if error_kind is not None else metrics.get("error_kind"),
                error if error is not None else metrics.get("error"),
                _float_or_none(duration if duration is not None else metrics.get("duration")),
                time.time(),
            ),
        )

    def add_test_evaluation(self, program_id: int, metrics: Mapping[str, Any], params: Any = None) -> None:
        """Store (or replace) a program's test-split result and fitted parameters.

        Kept apart from validation: no query the search uses reads it.
        """
        self._write(
            "INSERT INTO test_evaluations (program_id, metrics, params, r2, created) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (program_id) DO UPDATE SET metrics = excluded.metrics,"
            " params = excluded.params, r2 = excluded.r2, created = excluded.created",
            (
                int(program_id),
                _dumps(dict(metrics)),
                None if params is None else _dumps(params),
                _float_or_none(metrics.get("r2")),
                time.time(),
            ),
        )

    def add_llm_call(
        self,
        iteration: int,
        model: str,
        *,
        program_id: int | None = None,
        prompt_tokens: int = 0,
        completion_tokens: int = 0,
        reasoning_tokens: int = 0,
        cost_usd: float = 0.0,
        latency_s: float = 0.0,
        status: str = "ok",
        attempts: int = 1,
        error: str | None = None,
    ) -> int:
        """Store one LLM call; returns its id.

        The keyword names match ``LLMUsage``, so
        ``store.add_llm_call(it, **dataclasses.asdict(usage), program_id=pid)`` works.
        """
        return self._write(
            "INSERT INTO llm_calls (iteration, program_id, model, prompt_tokens, completion_tokens,"
            " reasoning_tokens, cost_usd, latency_s, status, attempts, error, created)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                int(iteration),
                program_id,
                model,
                int(prompt_tokens),
                int(completion_tokens),
                int(reasoning_tokens),
                float(cost_usd),
                float(latency_s),
                status,
                int(attempts),
                error,
                time.time(),
            ),
        )

    def add_failed_proposal(
        self, iteration: int, proposer: str, error_kind: str | None, error: str | None
    ) -> int:
        """Store a proposal that produced no program; returns its id."""
        return self._write(
            "INSERT INTO failed_proposals (iteration, proposer, error_kind, error, created) VALUES (?, ?, ?, ?, ?)",
            (int(iteration), proposer, error_kind, error, time.time()),
        )

    def add_event(self, kind: str, data: Any = None) -> int:
        """Store a timestamped event (``data``: anything JSON-able); returns its id."""
        return self._write(
            "INSERT INTO events (time, kind, data) VALUES (?, ?, ?)", (time.time(), kind, _dumps(data))
        )

    def set_state(self, key: str, value: Any) -> None:
        """Set one state entry (``value``: anything JSON-able)."""
        self._write(
            "INSERT INTO state (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, _dumps(value)),
        )

    def update_state(self, values: Mapping[str, Any]) -> None:
        """Set several state entries in one transaction."""
        with self.batch():
            for key, value in values.items():
                self.set_state(key, value)

    # -- reads -------------------------------------------------------------------

    def get_state(self, key: str, default: Any = None) -> Any:
        """A state entry, or ``default`` when it was never set."""
        rows = self._query("SELECT value FROM state WHERE key = ?", (key,))
        return _loads(rows[0][0]) if rows else default

    def state(self) -> dict[str, Any]:
        """All state entries."""
        return {k: _loads(v) for k, v in self._query("SELECT key, value FROM state ORDER BY key")}

    def program(self, program_id: int) -> StoredProgram:
        """One program with its validation evaluation (KeyError if unknown)."""
        rows = self._query(
            f"SELECT {_PROGRAM_COLUMNS}, {_EVAL_COLUMNS} FROM programs p"
            " LEFT JOIN evaluations e ON e.program_id = p.id WHERE p.id = ?",
            (int(program_id),),
        )
        if not rows:
            raise KeyError(program_id)
        return _program_from_row(rows[0])

    def programs(self, order: Literal["id", "evaluated"] = "id") -> list[StoredProgram]:
        """Stored programs with their validation evaluation joined (None if not evaluated).

        Args:
            order: ``"id"`` — all programs, in insertion order; ``"evaluated"``
                — only evaluated programs, in the order their evaluations were
                stored (the order to replay them into a ``ProgramDatabase``).
        """
        if order == "id":
            sql = (
                f"SELECT {_PROGRAM_COLUMNS}, {_EVAL_COLUMNS} FROM programs p"
                " LEFT JOIN evaluations e ON e.program_id = p.id ORDER BY p.id"
            )
        elif order == "evaluated":
            sql = (
                f"SELECT {_PROGRAM_COLUMNS}, {_EVAL_COLUMNS} FROM evaluations e"
                " JOIN programs p ON p.id = e.program_id ORDER BY e.seq"
            )
        else:
            raise ValueError(f"order must be 'id' or 'evaluated', got {order!r}")
        return [_program_from_row(r) for r in self._query(sql)]

    def unevaluated_programs(self) -> list[StoredProgram]:
        """Programs stored without an evaluation (in flight when the run stopped), by id."""
        rows = self._query(
            f"SELECT {_PROGRAM_COLUMNS} FROM programs p"
            " WHERE NOT EXISTS (SELECT 1 FROM evaluations e WHERE e.program_id = p.id) ORDER BY p.id"
        )
        return [_program_from_row(r) for r in rows]

    def find_digest(self, digest: str) -> list[int]:
        """Ids of the programs whose source has this digest (duplicates), oldest first."""
        return [r[0] for r in self._query("SELECT id FROM programs WHERE digest = ? ORDER BY id", (digest,))]

    def program_count(self) -> int:
        """Number of stored programs."""
        return int(self._query("SELECT COUNT(*) FROM programs")[0][0])

    def evaluation_count(self, *, ok_only: bool = False) -> int:
        """Number of validation evaluations (only successful ones with ``ok_only``)."""
        where = " WHERE error_kind IS NULL" if ok_only else ""
        return int(self._query(f"SELECT COUNT(*) FROM evaluations{where}")[0][0])

    def test_evaluation(self, program_id: int) -> StoredTestEvaluation | None:
        """A program's test result, or None. For reports only."""
        rows = self._query(
            "SELECT program_id, metrics, params, r2, created FROM test_evaluations WHERE program_id = ?",
            (int(program_id),),
        )
        return self._test_from_row(rows[0]) if rows else None

    def test_evaluations(self) -> list[StoredTestEvaluation]:
        """All test results, by program id. For reports only."""
        rows = self._query(
            "SELECT program_id, metrics, params, r2, created FROM test_evaluations ORDER BY program_id"
        )
        return [self._test_from_row(r) for r in rows]

    @staticmethod
    def _test_from_row(row: tuple[Any, ...]) -> StoredTestEvaluation:
        return StoredTestEvaluation(row[0], _loads(row[1]), _loads(row[2]), row[3], row[4])

    def llm_calls(self) -> list[StoredLLMCall]:
        """All LLM calls, in order."""
        rows = self._query(
            "SELECT id, iteration, program_id, model, prompt_tokens, completion_tokens, reasoning_tokens,"
            " cost_usd, latency_s, status, attempts, error, created FROM llm_calls ORDER BY id"
        )
        return [StoredLLMCall(*r) for r in rows]

    def llm_totals(self) -> LLMTotals:
        """Number of LLM calls, tokens, cost and latency summed over the run."""
        row = self._query(
            "SELECT COUNT(*), COALESCE(SUM(status != 'ok'), 0), COALESCE(SUM(prompt_tokens), 0),"
            " COALESCE(SUM(completion_tokens), 0), COALESCE(SUM(reasoning_tokens), 0),"
            " COALESCE(SUM(cost_usd), 0.0), COALESCE(SUM(latency_s), 0.0) FROM llm_calls"
        )[0]
        return LLMTotals(int(row[0]), int(row[1]), int(row[2]), int(row[3]), int(row[4]), float(row[5]), float(row[6]))

    def failed_proposals(self) -> list[FailedProposal]:
        """All failed proposals, in order."""
        rows = self._query(
            "SELECT id, iteration, proposer, error_kind, error, created FROM failed_proposals ORDER BY id"
        )
        return [FailedProposal(*r) for r in rows]

    def failure_counts(self) -> FailureCounts:
        """Failed evaluations and failed proposals counted by error kind."""
        evals = self._query(
            "SELECT error_kind, COUNT(*) FROM evaluations WHERE error_kind IS NOT NULL"
            " GROUP BY error_kind ORDER BY error_kind"
        )
        props = self._query(
            "SELECT COALESCE(error_kind, 'unknown'), COUNT(*) FROM failed_proposals"
            " GROUP BY 1 ORDER BY 1"
        )
        return FailureCounts({k: int(n) for k, n in evals}, {k: int(n) for k, n in props})

    def best(self, split: Literal["val", "test"] = "val", metric: str = "r2") -> StoredProgram | None:
        """The program with the highest ``metric`` on ``split`` (ties: oldest), or None.

        Only successful evaluations count. ``split="val"`` is what the search
        may use; ``split="test"`` ranks by the stored test results and is for
        reports only. ``metric`` is ``"r2"`` or any numeric key of the metrics.
        """
        if split == "val":
            rows = self._query(
                "SELECT program_id, metrics, r2 FROM evaluations WHERE error_kind IS NULL ORDER BY program_id"
            )
        elif split == "test":
            rows = self._query("SELECT program_id, metrics, r2 FROM test_evaluations ORDER BY program_id")
            rows = [r for r in rows if not (_loads(r[1]) or {}).get("error_kind")]
        else:
            raise ValueError(f"split must be 'val' or 'test', got {split!r}")
        best_id, best_value = None, -math.inf
        for pid, metrics_json, r2 in rows:
            value = r2 if metric == "r2" else _float_or_none((_loads(metrics_json) or {}).get(metric))
            if value is not None and math.isfinite(value) and value > best_value:
                best_id, best_value = pid, value
        return None if best_id is None else self.program(best_id)

    def final(self) -> StoredProgram | None:
        """The run's chosen law: the one recorded as ``final_program_id`` when the
        run finished (parsimony-aware pick), else the best on validation."""
        pid = self.get_state("final_program_id")
        if pid is not None:
            return self.program(int(pid))
        return self.best("val")

    def history(self) -> list[HistoryPoint]:
        """Every validation evaluation in the order stored: iteration, time, R², best so far."""
        start = self.run().created
        rows = self._query(
            "SELECT e.program_id, p.iteration, e.created, e.r2, e.error_kind FROM evaluations e"
            " JOIN programs p ON p.id = e.program_id ORDER BY e.seq"
        )
        sessions = self.sessions()
        starts = [t for t, _, _ in sessions]
        points: list[HistoryPoint] = []
        best: float | None = None
        for pid, iteration, created, r2, kind in rows:
            ok = kind is None
            if ok and r2 is not None and math.isfinite(r2) and (best is None or r2 > best):
                best = r2
            at = bisect.bisect_right(starts, created) - 1
            searched = created - start if at < 0 else sessions[at][1] + created - sessions[at][0]
            points.append(HistoryPoint(pid, iteration, created - start, r2, ok, best, max(0.0, searched)))
        return points

    def sessions(self) -> list[tuple[float, float, bool]]:
        """(clock time, searched seconds before it, resumed?) of each session's start, in order (``SESSION_EVENT``)."""
        out = []
        for e in self.events(SESSION_EVENT):
            data = e.data if isinstance(e.data, dict) else {}
            before = data.get("elapsed_before")
            if isinstance(before, (int, float)) and not isinstance(before, bool) and math.isfinite(before):
                out.append((e.time, float(before), bool(data.get("resumed"))))
        return sorted(out)

    def events(self, kind: str | None = None) -> list[Event]:
        """Stored events (of one ``kind`` if given), in order."""
        if kind is None:
            rows = self._query("SELECT id, time, kind, data FROM events ORDER BY id")
        else:
            rows = self._query("SELECT id, time, kind, data FROM events WHERE kind = ? ORDER BY id", (kind,))
        return [Event(r[0], r[1], r[2], _loads(r[3])) for r in rows]

    def journal_mode(self) -> str:
        """The SQLite journal mode in use (``"wal"``)."""
        return str(self._query("PRAGMA journal_mode")[0][0])

"""The run store's table layout, its version and the check that a file has it.

A store written by a newer evosld (a higher ``SCHEMA_VERSION``) is refused;
there are no migrations yet (version 1 is the only layout), so an older store
is one of this version.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from evosld.errors import StoreError
from evosld.run.store.errors import explain

#: Version of the table layout written by this module (``PRAGMA user_version``).
SCHEMA_VERSION = 1
#: Event stored as each session of a run (the first, and every resume) starts; data
#: ``{"elapsed_before": searched seconds before it, "resumed": bool}``.
SESSION_EVENT = "session"

#: Proposer names of the programs a run's final pick stores after its search: a comparison law kept over the
#: pick (``run.runner.weigh_prior``) and fit-scale twins (``run.twins``). They are not proposals: the search's
#: history, a resumed search's population and its counts leave them out.
PRIOR_PROPOSER = "reference"
TWIN_PROPOSER = "twin"
FINISH_PROPOSERS = (PRIOR_PROPOSER, TWIN_PROPOSER)
#: State keys of the run's law: the final pick (set when a run finishes, cleared when a resumed session starts),
#: and the search's best so far, the law its best files name meanwhile.
FINAL_STATE = "final_program_id"
SEARCH_BEST = "search_best_id"

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

"""The run store, split by what it stores.

- ``schema.py``: the table layout, its version, the layout check (no migrations yet);
- ``records.py``: the rows read back (``RunInfo``, ``StoredProgram``...) and their codecs;
- ``programs.py``: programs, validation and test evaluations, best, final, history;
- ``llm.py``: LLM calls and failed proposals;
- ``events.py``: events, resumable state, sessions;
- ``base.py``: the shared connection, lock and transactions; ``errors.py``: SQLite errors as one line;
- ``store.py``: ``RunStore`` (create / open), made of the table groups above.
"""

from evosld.run.store.records import (
    Event,
    FailedProposal,
    FailureCounts,
    HistoryPoint,
    LLMTotals,
    RunInfo,
    StoredEvaluation,
    StoredLLMCall,
    StoredProgram,
    StoredTestEvaluation,
)
from evosld.run.store.schema import (
    APPLICATION_ID,
    FINISH_PROPOSERS,
    PRIOR_PROPOSER,
    SCHEMA_VERSION,
    SESSION_EVENT,
    TWIN_PROPOSER,
)
from evosld.run.store.store import RunStore

__all__ = [
    "APPLICATION_ID", "FINISH_PROPOSERS", "PRIOR_PROPOSER", "SCHEMA_VERSION", "SESSION_EVENT", "TWIN_PROPOSER",
    "Event", "FailedProposal", "FailureCounts", "HistoryPoint", "LLMTotals", "RunInfo", "RunStore",
    "StoredEvaluation", "StoredLLMCall", "StoredProgram", "StoredTestEvaluation",
]

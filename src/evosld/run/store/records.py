"""The rows a run store gives back (frozen dataclasses) and the JSON and row codecs they are read with."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any


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
    """Failures by error kind: failed evaluations and failed proposals.

    ``unchanged`` counts, by kind, the proposals that found nothing new (a
    duplicate of a program already evaluated, an answer that gives its parent
    back unchanged, nothing left to try: ``proposers.base.NOTHING_NEW``). The
    store keeps them with the failed proposals, but they are not failures:
    ``proposals`` and ``total`` leave them out.
    """

    evaluations: dict[str, int]
    proposals: dict[str, int]
    unchanged: dict[str, int] = dataclasses.field(default_factory=dict)
    #: the error most failed evaluations gave, ``(kind, first line of the message, count)``; None if none failed
    common_error: tuple[str, str, int] | None = None

    @property
    def total(self) -> int:
        return sum(self.evaluations.values()) + sum(self.proposals.values())

    def common_line(self) -> str:
        """``the most frequent failure (static ×297), first seen: syntax error at line 24: ...``, or ``""``."""
        if not self.common_error or not self.common_error[1]:
            return ""
        kind, text, n = self.common_error
        return f"the most frequent failure ({kind} ×{n}), first seen: {text}"


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

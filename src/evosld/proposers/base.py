"""The proposer interface shared by the LLM and symbolic proposers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

#: ``Proposal.error_kind`` of a proposer with nothing new left to propose (every
#: structure within the limits already tried); a long streak of these ends a run.
EXHAUSTED = "exhausted"
#: ``error_kind`` of a proposal the loop drops because the same program was already evaluated.
DUPLICATE = "duplicate"
#: ``error_kind`` of an LLM answer that gives back its parent unchanged (``proposers.llm.edits``).
NO_CHANGE = "no_change"
#: Proposals that found nothing new: not failures (the proposer worked), counted apart from them.
NOTHING_NEW = frozenset({EXHAUSTED, DUPLICATE, NO_CHANGE})
#: Prefix of ``Proposal.error_kind`` when the model's server failed (after its
#: retries): ``llm_timeout``, ``llm_malformed_response``, ``llm_auth_error``...
#: A generation in which every proposal failed this way ends a run.
SERVICE_FAILURE = "llm_"


def is_service_failure(kind: str | None) -> bool:
    """True when a proposal failed because the model's server did (not because of its answer)."""
    return kind is not None and kind.startswith(SERVICE_FAILURE)


@dataclass(frozen=True)
class ParentInfo:
    """What a proposer may know about an existing program (never test scores).

    ``metrics`` holds validation metrics only (``r2``, ``nmse``, ``nmae``...),
    ``error`` the failure message if the program failed, ``meta`` whatever the
    proposer that wrote it recorded (e.g. the symbolic structure).
    """

    program_id: int
    source: str
    metrics: dict[str, float] = field(default_factory=dict)
    error: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ProposalRequest:
    """One request for a new program.

    Attributes:
        iteration: the loop iteration this proposal is for.
        parent: the program to improve (None for a fresh start).
        inspirations: top and diverse programs to show alongside.
        seed: a per-request seed; the same seed and inputs give the same proposal
            for deterministic proposers.
        feedback: an error message about this proposer's previous attempt for
            the same parent (one retry), or None.
    """

    iteration: int
    parent: ParentInfo | None
    inspirations: tuple[ParentInfo, ...] = ()
    seed: int = 0
    feedback: str | None = None


@dataclass
class LLMUsage:
    """Token and cost accounting for one LLM call."""

    model: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    reasoning_tokens: int = 0
    cost_usd: float = 0.0
    latency_s: float = 0.0
    status: str = "ok"
    attempts: int = 1
    error: str | None = None


@dataclass
class Proposal:
    """A proposer's answer: new source, or the reason there is none.

    ``meta`` is stored with the program (formula, structure key, number of
    parameters, LaTeX...); ``usage`` lists the LLM calls it took.
    """

    source: str | None
    proposer: str
    meta: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    error_kind: str | None = None
    usage: list[LLMUsage] = field(default_factory=list)


@runtime_checkable
class Proposer(Protocol):
    """Anything that turns a request into a proposal."""

    name: str

    async def propose(self, request: ProposalRequest) -> Proposal:  # pragma: no cover - protocol
        ...


@runtime_checkable
class Resumable(Protocol):
    """A proposer with state of its own that a resumed run rebuilds from the store.

    ``journal()`` returns, and forgets, JSON records of what the proposer
    learned since the last call; the loop stores them in the same transaction
    as the generation they belong to. On resume, ``replay`` is given the records
    of every stored generation, in order, on a proposer built like the original.
    """

    def journal(self) -> list[dict[str, Any]]:  # pragma: no cover - protocol
        ...

    def replay(self, records: list[dict[str, Any]]) -> None:  # pragma: no cover - protocol
        ...

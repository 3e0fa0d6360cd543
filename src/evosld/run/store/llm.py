"""LLM calls and failed proposals: what the proposers spent and where they failed."""

from __future__ import annotations

import time

from evosld.proposers.base import NOTHING_NEW
from evosld.run.store.base import StoreBase
from evosld.run.store.records import (
    FailedProposal,
    FailureCounts,
    LLMTotals,
    StoredLLMCall,
)


class LLMTables(StoreBase):
    """LLM calls and failed proposals: what the proposers spent and where they failed (a part of :class:`~evosld.run.store.RunStore`)."""

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
        """Failed evaluations and failed proposals counted by error kind, and the proposals that found nothing new."""
        evals = self._query(
            "SELECT error_kind, COUNT(*) FROM evaluations WHERE error_kind IS NOT NULL"
            " GROUP BY error_kind ORDER BY error_kind"
        )
        props = self._query(
            "SELECT COALESCE(error_kind, 'unknown'), COUNT(*) FROM failed_proposals"
            " GROUP BY 1 ORDER BY 1"
        )
        failed = {k: int(n) for k, n in props if k not in NOTHING_NEW}
        unchanged = {k: int(n) for k, n in props if k in NOTHING_NEW}
        top = None
        if evals:  # the most frequent kind, and its first message (messages differ in their line numbers)
            kind, n = max(evals, key=lambda kn: kn[1])
            text = self._query("SELECT COALESCE(error, '') FROM evaluations WHERE error_kind = ? ORDER BY seq LIMIT 1",
                               (kind,))
            first = next((line.strip() for line in str(text[0][0] if text else "").splitlines() if line.strip()), "")
            top = (str(kind), first[:300], int(n))
        return FailureCounts({k: int(n) for k, n in evals}, failed, unchanged, top)

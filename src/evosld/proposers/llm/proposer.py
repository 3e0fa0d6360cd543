"""The LLM proposer: prompt -> model -> edit -> new program source.

One ``propose`` call picks a model from the ensemble, builds the prompt from the
task's search view and the request, asks the model, and turns the answer into
a source (full rewrite or SEARCH/REPLACE diff). An unusable answer (no code,
a diff that does not apply, truncated code, a failed static check) is sent back
once with the reason, in a follow-up turn of the same conversation. Every call
is recorded as an ``LLMUsage`` in ``Proposal.usage`` and counted by the shared
``CostMeter``; once its budget is spent, ``propose`` returns at once with
``error_kind="budget"``.
"""

from __future__ import annotations

import logging

from evosld.proposers.base import SERVICE_FAILURE, LLMUsage, Proposal, ProposalRequest
from evosld.proposers.llm.client import ChatClient, ChatResult
from evosld.proposers.llm.config import LLMConfig
from evosld.proposers.llm.edits import outside_code, parse_response
from evosld.proposers.llm.ensemble import ModelEnsemble
from evosld.proposers.llm.pricing import CostMeter, PriceTable
from evosld.proposers.llm.prompts import Message, build_messages, feedback_messages
from evosld.tasks.task import Task

#: ``Proposal.error_kind`` when the budget is spent / the API call failed
#: (``llm_<status>`` when the status is known: llm_timeout, llm_malformed_response...).
BUDGET = "budget"
LLM_ERROR = "llm_error"

log = logging.getLogger("evosld.llm")


def _failure_kind(status: str | None) -> str:
    """``llm_timeout`` etc. for a failed call's status; ``llm_error`` when unknown."""
    return f"{SERVICE_FAILURE}{status}" if status and status not in ("ok", "error") else LLM_ERROR
#: Longest model commentary kept in ``Proposal.meta["rationale"]``.
MAX_RATIONALE_CHARS = 2000


class LLMProposer:
    """Proposes programs with any model behind an OpenAI-compatible API.

    Args:
        task: the task; only its search view (no test rows) is kept.
        config: models, endpoint, retries, sampling, edit format, prices.
        seed: seeds the model choice and the backoff jitter.
        client: a ``ChatClient`` to use (default: built from ``config``, and
            closed by ``aclose``).
        meter: the run's shared ``CostMeter`` (default: a private unlimited one).
        prices: a ``PriceTable`` (default: built-in prices plus ``config.prices``).
        system_message: replaces the built-in system message (the contract and
            rules) when given.
    """

    name = "llm"

    def __init__(
        self,
        task: Task,
        config: LLMConfig | None = None,
        *,
        seed: int = 0,
        client: ChatClient | None = None,
        meter: CostMeter | None = None,
        prices: PriceTable | None = None,
        system_message: str | None = None,
    ) -> None:
        self.task = task.search_view()
        self.config = config if config is not None else LLMConfig()
        self.seed = seed
        self.ensemble = ModelEnsemble(self.config.weighted_models(), seed=seed)
        self.prices = prices if prices is not None else PriceTable(self.config.price_overrides())
        self.meter = meter if meter is not None else CostMeter()
        self.system_message = system_message
        self._owns_client = client is None
        self.client = client if client is not None else ChatClient.from_config(self.config, seed=seed)

    def activity(self) -> str | None:
        """What the model calls in flight are doing (for the progress line), or None."""
        describe = getattr(self.client, "describe_activity", None)
        return describe() if callable(describe) else None

    async def aclose(self) -> None:
        """Close the HTTP client if this proposer built it."""
        if self._owns_client:
            await self.client.aclose()

    async def __aenter__(self) -> LLMProposer:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def _call(self, model: str, messages: list[Message], usage: list[LLMUsage]) -> ChatResult:
        result = await self.client.chat(
            model, messages, temperature=self.config.temperature, max_tokens=self.config.max_tokens
        )
        cost = self.prices.cost(model, result.prompt_tokens, result.completion_tokens)
        record = LLMUsage(
            model=model,
            prompt_tokens=result.prompt_tokens,
            completion_tokens=result.completion_tokens,
            reasoning_tokens=result.reasoning_tokens,
            cost_usd=cost.usd,
            latency_s=result.latency_s,
            status=result.status,
            attempts=result.attempts,
            error=result.error,
        )
        usage.append(record)
        self.meter.add(record, priced=cost.priced)
        return result

    def _budget_error(self) -> str:
        return f"LLM budget spent: ${self.meter.spent:.4f} of max_cost ${self.meter.max_cost:.4f}"

    async def propose(self, request: ProposalRequest) -> Proposal:
        """One new program for ``request`` (or the reason there is none)."""
        if self.meter.exhausted:
            return Proposal(None, self.name, error=self._budget_error(), error_kind=BUDGET)
        model = self.ensemble.pick(request.seed)
        parent = request.parent.source if request.parent is not None else None
        diff_mode = self.config.diff_based_evolution and parent is not None
        messages = build_messages(self.task, request, diff_mode=diff_mode, system=self.system_message)
        usage: list[LLMUsage] = []
        meta: dict = {"model": model, "format": "diff" if diff_mode else "full", "rounds": 1}

        result = await self._call(model, messages, usage)
        if not result.ok:
            meta["llm_status"] = result.status
            kind = _failure_kind(result.status)
            log.warning("iteration %d: %s: LLM call to %s failed: %s", request.iteration, kind, model, result.error)
            return Proposal(None, self.name, meta, f"LLM call failed: {result.error}", kind, usage)
        edit = parse_response(result.content, parent, diff_mode=diff_mode, finish_reason=result.finish_reason)

        if not edit.ok and self.config.feedback and not self.meter.exhausted:
            meta["rounds"] = 2
            meta["first_error"] = edit.reason
            followup = messages + feedback_messages(result.content or "", edit.reason or "", diff_mode=diff_mode)
            result = await self._call(model, followup, usage)
            if not result.ok:
                meta["llm_status"] = result.status
                error = f"{edit.reason}; the follow-up call failed: {result.error}"
                kind = _failure_kind(result.status)
                log.warning("iteration %d: %s: %s", request.iteration, kind, error)
                return Proposal(None, self.name, meta, error, kind, usage)
            edit = parse_response(
                result.content, parent, diff_mode=diff_mode, finish_reason=result.finish_reason
            )

        meta["edit"] = edit.mode
        if edit.blocks:
            meta["diff_blocks"] = edit.blocks
        rationale = outside_code(result.content or "")
        if rationale:
            meta["rationale"] = rationale[:MAX_RATIONALE_CHARS]
        if edit.ok:
            return Proposal(edit.source, self.name, meta, usage=usage)
        log.warning("iteration %d: %s: the answer of %s gave no program: %s", request.iteration, edit.kind, model,
                    edit.reason)
        return Proposal(None, self.name, meta, edit.reason, edit.kind, usage)

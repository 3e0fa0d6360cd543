"""What went wrong in a run, said in one line a user can act on.

The run store counts failures by kind (:class:`~evosld.run.store.FailureCounts`);
this module turns those counts into the closing lines of ``evosld discover``:
why no LLM proposal succeeded, and why candidates timed out.
"""

from __future__ import annotations

from dataclasses import dataclass

from evosld.run.store import FailureCounts

#: What each kind of failed proposal usually means, for the closing line.
PROPOSAL_HINTS = {
    "no_code": "the answers held no code block",
    "llm_not_found": "HTTP 404: unknown model or wrong base URL",
    "llm_malformed_response": "the answers were not chat completions",
    "llm_timeout": "the server did not answer in time",
    "llm_connection_error": "no server answered at the base URL",
    "llm_auth_error": "the API key was refused",
    "llm_bad_request": "the server refused the request",
    "llm_rate_limited": "rate limited",
    "llm_server_error": "server errors",
}


def _kinds(by_kind: dict[str, int]) -> str:
    ranked = sorted(by_kind.items(), key=lambda kv: -kv[1])
    return ", ".join(f"{k} {n}" + (f": {PROPOSAL_HINTS[k]}" if k in PROPOSAL_HINTS else "") for k, n in ranked)


@dataclass(frozen=True)
class LLMTarget:
    """Where the run's proposals came from: the model names and the endpoint."""

    models: tuple[str, ...]
    api_base: str | None


def no_proposal_line(counts: FailureCounts, target: LLMTarget) -> str:
    """Why a run in which no LLM proposal gave a program failed, and what to check."""
    failed = sum(counts.proposals.values())
    where = target.api_base or "$OPENAI_BASE_URL or api.openai.com"
    models = ", ".join(target.models) or "?"
    return (f"no LLM proposal succeeded: all {failed} failed ({_kinds(counts.proposals)}); check the model name "
            f"({models}), --api-base ({where}) and that the server speaks the OpenAI chat-completions protocol "
            "(evosld.log has one line per failure)")


def timeout_line(counts: FailureCounts, timeout: float, rows: int, groups: int) -> str | None:
    """How many candidates hit the per-candidate time limit and what to do, or None if none did."""
    n = counts.evaluations.get("timeout", 0)
    if not n:
        return None
    grouped = f" in {groups} groups" if groups > 1 else ""
    fewer = ", or fit fewer groups (--group-by)" if groups > 1 else ""
    return (f"{n} candidate(s) timed out (limit {timeout:g} s each; the table has {rows:,} rows"
            f"{grouped}): subsample the rows (one row per training run), raise --timeout{fewer}")

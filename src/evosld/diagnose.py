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


def ranked_kinds(by_kind: dict[str, int], hints: dict[str, str] | None = None) -> str:
    """``kind ×count: hint, ...``, most frequent first.

    The count follows a ×, so that a kind named like a number's label (``exit ×2``: two programs
    exited) is not read as a code (``exit 2``).
    """
    ranked = sorted(by_kind.items(), key=lambda kv: -kv[1])
    hints = hints or {}
    return ", ".join(f"{k} ×{n}" + (f": {hints[k]}" if k in hints else "") for k, n in ranked)


def _kinds(by_kind: dict[str, int]) -> str:
    return ranked_kinds(by_kind, PROPOSAL_HINTS)


@dataclass(frozen=True)
class LLMTarget:
    """Where the run's proposals came from: the model names, the endpoint and whether an API key was set
    (``llm.api_key`` or ``OPENAI_API_KEY``; without one a dummy key is sent, which only a local server takes)."""

    models: tuple[str, ...]
    api_base: str | None
    has_key: bool = True


#: What each kind of proposal that found nothing new means.
UNCHANGED_HINTS = {
    "duplicate": "a program already evaluated",
    "no_change": "the answer gave its parent back unchanged",
    "exhausted": "nothing left to try within the limits",
}


def unchanged_kinds(by_kind: dict[str, int]) -> str:
    """``duplicate ×3: a program already evaluated, exhausted ×1: ...`` (most frequent first)."""
    return ranked_kinds(by_kind, UNCHANGED_HINTS)


def no_proposal_line(counts: FailureCounts, target: LLMTarget) -> str:
    """Why a run in which no LLM proposal gave a new program failed, and what to check.

    Proposals fail (the server, or an answer without usable code) or find
    nothing new (the starter or another program already evaluated, given
    back): a run of only the latter has a server that works and a model that
    does not change the law, and is told so.
    """
    failed, same = sum(counts.proposals.values()), sum(counts.unchanged.values())
    where = target.api_base or "$OPENAI_BASE_URL or api.openai.com"
    models = ", ".join(target.models) or "?"
    check = (f"check the model name ({models}), --api-base ({where}) and that the server speaks the OpenAI "
             "chat-completions protocol (evosld.log has one line per failure)")
    if not target.has_key:
        check += ("; no API key was set: a hosted API needs one in OPENAI_API_KEY (or llm.api_key in --config), "
                  "or leave out --proposer llm for the offline search")
    if not same:
        return f"no LLM proposal succeeded: all {failed} failed ({_kinds(counts.proposals)}); {check}"
    if not failed:
        return (f"no LLM proposal gave a new program: all {same} repeated a program already evaluated "
                f"({unchanged_kinds(counts.unchanged)}); the server answers but the model ({models}) did not change the "
                "law: try another model or a higher llm.temperature (--config)")
    return (f"no LLM proposal gave a new program: {failed} failed ({_kinds(counts.proposals)}) and {same} repeated "
            f"a program already evaluated ({unchanged_kinds(counts.unchanged)}); {check}")


def timeout_line(counts: FailureCounts, timeout: float, rows: int, groups: int) -> str | None:
    """How many candidates hit the per-candidate time limit and what to do, or None if none did."""
    n = counts.evaluations.get("timeout", 0)
    if not n:
        return None
    grouped = f" in {groups} groups" if groups > 1 else ""
    fewer = ", or fit fewer groups (--group-by)" if groups > 1 else ""
    return (f"{n} candidate(s) timed out (limit {timeout:g} s each; the table has {rows:,} rows"
            f"{grouped}): subsample the rows (one row per training run), raise --timeout{fewer}")

"""LLMProposer end to end against a real local OpenAI-compatible server."""

from __future__ import annotations

import asyncio

import pytest

from evosld.program import Program
from evosld.proposers.base import ProposalRequest, Proposer
from evosld.proposers.llm import ChatClient, CostMeter, LLMConfig, LLMProposer
from tests.fakes.openai_server import FakeOpenAIServer, Reply
from tests.fakes.programs import (
    CHILD,
    CHILD_BLOCK,
    NO_FIT,
    PARENT,
    TEST_MARKER_N,
    parent_info,
    toy_task,
)

pytest_plugins = ["tests.fakes.openai_server"]

#: USD per 1M tokens: 100 prompt + 50 completion tokens cost 0.1 + 0.1.
PRICES = {"test-model": (1000.0, 2000.0), "other-model": (1000.0, 2000.0)}


async def _no_sleep(seconds: float) -> None:
    await asyncio.sleep(0)


def run(server: FakeOpenAIServer, *requests: ProposalRequest, meter: CostMeter | None = None, **config):
    """Propose for each request in turn (one event loop); returns (proposals, proposer)."""
    options = {
        "models": ["test-model"],
        "api_base": server.base_url,
        "api_key": "sk-test",
        "timeout": 2.0,
        "retries": 2,
        "prices": PRICES,
        **config,
    }
    cfg = LLMConfig(**options)

    async def main():
        async with ChatClient.from_config(cfg, sleep=_no_sleep) as client:
            proposer = LLMProposer(toy_task(), cfg, seed=0, client=client, meter=meter)
            return [await proposer.propose(r) for r in requests], proposer

    return asyncio.run(main())


def improve(seed: int = 0, **kwargs) -> ProposalRequest:
    return ProposalRequest(iteration=1, parent=parent_info(), seed=seed, **kwargs)


# ---- success ---------------------------------------------------------------------
def test_full_rewrite_with_usage_and_cost(fake_openai):
    fake_openai.script(Reply.program(CHILD, prompt_tokens=100, completion_tokens=50, reasoning_tokens=10))
    meter = CostMeter()
    [proposal], proposer = run(fake_openai, improve(), meter=meter)
    assert isinstance(proposer, Proposer) and proposer.name == "llm"
    assert proposal.error is None and proposal.proposer == "llm"
    assert proposal.source.strip() == CHILD.strip()
    Program(proposal.source).check()
    [usage] = proposal.usage
    assert (usage.model, usage.prompt_tokens, usage.completion_tokens, usage.reasoning_tokens) == (
        "test-model",
        100,
        50,
        10,
    )
    assert usage.cost_usd == pytest.approx(0.2) and usage.status == "ok" and usage.attempts == 1
    assert usage.latency_s > 0
    assert meter.spent == pytest.approx(0.2) and meter.calls == 1
    assert proposal.meta["model"] == "test-model" and proposal.meta["edit"] == "full"
    assert proposal.meta["rounds"] == 1 and proposal.meta["rationale"] == "Here is the improved program."
    body = fake_openai.chat_requests[0].body
    assert body["model"] == "test-model" and body["max_tokens"] == 8192 and body["temperature"] == 0.7


def test_prompt_has_val_metrics_but_never_test_data(fake_openai):
    fake_openai.script(Reply.program(CHILD))
    run(fake_openai, improve())
    sent = fake_openai.chat_requests[0].text()
    assert "r2=0.9123, nmse=0.0877, nmae=0.2468" in sent
    assert "0.5555" not in sent and "0.6666" not in sent and "test_r2" not in sent
    assert f"{TEST_MARKER_N:.4g}" not in sent
    assert PARENT.strip() in sent


def test_retried_fault_is_counted_in_the_usage(fake_openai):
    fake_openai.script(Reply.server_error(), Reply.malformed(), Reply.program(CHILD))
    [proposal], _ = run(fake_openai, improve())
    assert proposal.source is not None
    [usage] = proposal.usage
    assert usage.attempts == 3 and usage.status == "ok"


def test_block_only_answer_is_spliced(fake_openai):
    fake_openai.script(Reply.program(CHILD_BLOCK))
    [proposal], _ = run(fake_openai, improve())
    assert proposal.meta["edit"] == "splice"
    assert "def helper_outside_block" in proposal.source and "beta = params" in proposal.source


def test_fresh_start_asks_for_a_full_program_even_in_diff_mode(fake_openai):
    fake_openai.script(Reply.program(CHILD))
    [proposal], _ = run(fake_openai, ProposalRequest(0, None), diff_based_evolution=True)
    assert proposal.source is not None and proposal.meta["format"] == "full"
    assert "There is none yet" in fake_openai.chat_requests[0].text()


# ---- feedback once ------------------------------------------------------------------
def test_unusable_answer_gets_one_feedback_turn(fake_openai):
    fake_openai.script(Reply.no_code("Looks fine."), Reply.program(CHILD))
    [proposal], _ = run(fake_openai, improve())
    assert proposal.source is not None and proposal.error is None
    assert len(proposal.usage) == 2 and proposal.meta["rounds"] == 2
    assert proposal.meta["first_error"].startswith("no code block")
    first, second = fake_openai.chat_requests
    assert [m["role"] for m in second.messages] == ["system", "user", "assistant", "user"]
    assert second.messages[:2] == first.messages
    assert second.messages[2]["content"] == "Looks fine."
    assert "could not be used: no code block" in second.messages[3]["content"]


@pytest.mark.parametrize(
    "bad, kind",
    [
        (lambda: Reply.no_code(), "no_code"),
        (lambda: Reply.truncated(CHILD), "truncated"),
        (lambda: Reply.program(NO_FIT), "static_check"),
    ],
)
def test_feedback_happens_only_once(fake_openai, bad, kind):
    fake_openai.script(bad(), bad(), Reply.program(CHILD))
    [proposal], _ = run(fake_openai, improve())
    assert proposal.source is None and proposal.error_kind == kind
    assert len(fake_openai.chat_requests) == 2 and fake_openai.pending == 1
    assert len(proposal.usage) == 2 and all(u.status == "ok" for u in proposal.usage)


def test_truncated_then_fixed(fake_openai):
    fake_openai.script(Reply.truncated(CHILD), Reply.program(CHILD))
    [proposal], _ = run(fake_openai, improve())
    assert proposal.source is not None
    assert "truncated code" in fake_openai.chat_requests[1].messages[-1]["content"]


def test_feedback_can_be_turned_off(fake_openai):
    fake_openai.script(Reply.no_code(), Reply.program(CHILD))
    [proposal], _ = run(fake_openai, improve(), feedback=False)
    assert proposal.error_kind == "no_code" and len(fake_openai.chat_requests) == 1


# ---- diffs -----------------------------------------------------------------------------
GOOD_DIFF = [("    return least_squares(residuals, x0=[1.0, 10.0, 0.3]).x", "    return least_squares(residuals, x0=[2.0, 40.0, 0.3]).x")]
BAD_DIFF = [("    return least_squares(residuals, x0=[9, 9, 9]).x", "    return None")]


def test_valid_diff(fake_openai):
    fake_openai.script(Reply.diff(GOOD_DIFF))
    [proposal], _ = run(fake_openai, improve(), diff_based_evolution=True)
    assert proposal.source == PARENT.replace("x0=[1.0, 10.0, 0.3]", "x0=[2.0, 40.0, 0.3]")
    assert proposal.meta["edit"] == "diff" and proposal.meta["diff_blocks"] == 1
    assert "<<<<<<< SEARCH" in fake_openai.chat_requests[0].text()


def test_diff_that_fails_then_applies(fake_openai):
    fake_openai.script(Reply.diff(BAD_DIFF), Reply.diff(GOOD_DIFF))
    [proposal], _ = run(fake_openai, improve(), diff_based_evolution=True)
    assert proposal.source is not None and proposal.meta["first_error"].startswith("diff does not apply")
    assert "diff does not apply: block 1 of 1" in fake_openai.chat_requests[1].messages[-1]["content"]


def test_diff_that_never_applies(fake_openai):
    fake_openai.script(Reply.diff(BAD_DIFF), Reply.diff(BAD_DIFF))
    [proposal], _ = run(fake_openai, improve(), diff_based_evolution=True)
    assert proposal.source is None and proposal.error_kind == "diff_failed"
    assert proposal.error.startswith("diff does not apply")


# ---- API failures and budget --------------------------------------------------------------
def test_api_failure_is_recorded_without_feedback(fake_openai):
    fake_openai.script(Reply.error(401, "Incorrect API key provided"), Reply.program(CHILD))
    [proposal], _ = run(fake_openai, improve())
    assert proposal.source is None and proposal.error_kind == "llm_auth_error"
    assert "authentication failed" in proposal.error
    [usage] = proposal.usage
    assert usage.status == "auth_error" and usage.cost_usd == 0 and usage.error
    assert proposal.meta["llm_status"] == "auth_error" and len(fake_openai.chat_requests) == 1


def test_retries_exhausted_are_recorded(fake_openai):
    fake_openai.script(*[Reply.rate_limited("0")] * 3)
    [proposal], _ = run(fake_openai, improve(), retries=2)
    assert proposal.error_kind == "llm_rate_limited"
    assert proposal.usage[0].status == "rate_limited" and proposal.usage[0].attempts == 3


def test_failed_follow_up_call(fake_openai):
    fake_openai.script(Reply.no_code(), Reply.error(403, "quota"))
    [proposal], _ = run(fake_openai, improve())
    assert proposal.error_kind == "llm_auth_error"
    assert proposal.error.startswith("no code block") and "follow-up call failed" in proposal.error
    assert [u.status for u in proposal.usage] == ["ok", "auth_error"]


def test_max_cost_stops_proposals(fake_openai):
    fake_openai.script(Reply.no_code(), Reply.program(CHILD), Reply.program(CHILD))
    meter = CostMeter(max_cost=0.3)
    [first, second], _ = run(fake_openai, improve(0), improve(1), meter=meter)
    assert first.source is not None and len(first.usage) == 2
    assert meter.spent == pytest.approx(0.4) and meter.exhausted
    assert second.source is None and second.error_kind == "budget" and second.usage == []
    assert "max_cost" in second.error
    assert len(fake_openai.chat_requests) == 2


def test_budget_spent_mid_proposal_skips_the_feedback_turn(fake_openai):
    fake_openai.script(Reply.no_code(), Reply.program(CHILD))
    meter = CostMeter(max_cost=0.15)
    [proposal], _ = run(fake_openai, improve(), meter=meter)
    assert proposal.error_kind == "no_code" and len(fake_openai.chat_requests) == 1


def test_unpriced_model_costs_nothing_and_is_flagged(fake_openai):
    fake_openai.script(Reply.program(CHILD))
    meter = CostMeter(max_cost=0.01)
    [proposal], _ = run(fake_openai, improve(), meter=meter, models=["local-llama"])
    assert proposal.usage[0].cost_usd == 0 and meter.unpriced_models == {"local-llama"}
    assert not meter.exhausted


# ---- models -------------------------------------------------------------------------------------
def test_ensemble_choice_follows_the_request_seed(fake_openai):
    fake_openai.script(*[Reply.program(CHILD)] * 8)
    models = [{"name": "test-model", "weight": 1}, {"name": "other-model", "weight": 1}]
    requests = [improve(seed=s) for s in range(8)]
    proposals, proposer = run(fake_openai, *requests, models=models)
    used = [p.meta["model"] for p in proposals]
    assert used == [proposer.ensemble.pick(s) for s in range(8)]
    assert set(used) == {"test-model", "other-model"}
    assert [r.model for r in fake_openai.chat_requests] == used


def test_reasoning_model_parameters(fake_openai):
    fake_openai.script(Reply.program(CHILD, reasoning_tokens=1234, completion_tokens=2000))
    [proposal], _ = run(fake_openai, improve(), models=["o4-mini"], max_tokens=20000)
    body = fake_openai.chat_requests[0].body
    assert body["max_completion_tokens"] == 20000 and "max_tokens" not in body and "temperature" not in body
    assert proposal.usage[0].reasoning_tokens == 1234
    assert proposal.usage[0].cost_usd == pytest.approx((100 * 1.10 + 2000 * 4.40) / 1e6)


def test_concurrent_proposals_share_the_meter(fake_openai):
    fake_openai.script(*[Reply.program(CHILD)] * 4)
    meter = CostMeter()
    cfg = LLMConfig(models=["test-model"], api_base=fake_openai.base_url, api_key="k", prices=PRICES)

    async def main():
        async with LLMProposer(toy_task(), cfg, meter=meter) as proposer:
            return await asyncio.gather(*[proposer.propose(improve(s)) for s in range(4)])

    proposals = asyncio.run(main())
    assert all(p.source for p in proposals) and meter.calls == 4
    assert meter.spent == pytest.approx(0.8)


def test_proposer_keeps_only_the_search_view():
    cfg = LLMConfig(models=["test-model"], api_base="http://127.0.0.1:9/v1", api_key="k")
    proposer = LLMProposer(toy_task(), cfg)
    assert len(proposer.task.test) == 0 and len(proposer.task.train) == 36
    asyncio.run(proposer.aclose())


def test_custom_system_message(fake_openai):
    fake_openai.script(Reply.program(CHILD))
    cfg = LLMConfig(models=["test-model"], api_base=fake_openai.base_url, api_key="k")

    async def main():
        async with LLMProposer(toy_task(), cfg, system_message="You are terse.") as proposer:
            return await proposer.propose(improve())

    assert asyncio.run(main()).source is not None
    assert fake_openai.chat_requests[0].messages[0] == {"role": "system", "content": "You are terse."}

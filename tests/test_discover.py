"""The discovery loop end to end: symbolic mode, LLM mode against a real local server."""

from __future__ import annotations

import json
import sqlite3
import threading

from evosld.config import RunConfig
from evosld.proposers.llm import LLMConfig
from evosld.run.runner import make_executor, make_proposer, run_discovery
from evosld.run.store import RunStore
from evosld.search import loop
from tests.fakes.openai_server import FakeOpenAIServer, Reply

pytest_plugins = ["tests.fakes.openai_server"]

GOOD = '''
import numpy as np
from scipy.optimize import least_squares
# EVOLVE-BLOCK-START
def scaling_law_func(data_points, params):
    X = np.asarray(data_points, dtype=float)
    E, A, a, B, b = params
    return E + A * X[:, 0] ** (-a) + B * X[:, 1] ** (-b)

def fit_scaling_law(data_points, loss_values):
    X = np.asarray(data_points, dtype=float)
    y = np.asarray(loss_values, dtype=float)
    def res(p):
        return scaling_law_func(X, p) - y
    return least_squares(res, x0=[1.5, 300.0, 0.3, 300.0, 0.3], bounds=([0, 0, 0, 0, 0], [10, 1e6, 2, 1e6, 2])).x
# EVOLVE-BLOCK-END
'''

SNOOP = '''
import os
import numpy as np
# EVOLVE-BLOCK-START
def scaling_law_func(data_points, params):
    seen = repr(dict(os.environ))
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                seen += open(f"/proc/{pid}/environ", "rb").read().decode(errors="replace")
            except OSError:
                pass
    print(seen)
    raise RuntimeError(seen[-300:])

def fit_scaling_law(data_points, loss_values):
    return [1.0]
# EVOLVE-BLOCK-END
'''


def _config(**kw) -> RunConfig:
    base = {"max_iterations": 8, "random_seed": 3, "proposals_in_flight": 4,
            "database": {"num_islands": 2}, "evaluator": {"timeout": 30, "parallel_evaluations": 2}}
    base.update(kw)
    return RunConfig.model_validate(base)


def _trace(store: RunStore) -> list[tuple]:
    """Per program: what it is, where it came from and how validation scored it."""
    rows = []
    for p in store.programs():
        m = p.evaluation.metrics if p.evaluation else {}
        rows.append((p.id, p.digest, p.parent_id, p.meta.get("origin"), p.meta.get("screen_r2"),
                     m.get("r2"), m.get("error_kind"), m.get("error")))
    return rows


def test_symbolic_run_is_reproducible_and_writes_outputs(synthetic_task, tmp_path):
    traces = []
    for name in ("a", "b"):
        out = run_discovery(synthetic_task, _config(), tmp_path / name, write_report=False)
        assert out.best_id is not None
        with RunStore.open(tmp_path / name / "run.sqlite") as store:
            traces.append(_trace(store))
            assert store.test_evaluation(out.best_id) is not None
    # On a mismatch, the message shows the first rows that differ (a flake in
    # CI once changed program 12 of the second run; this says why next time).
    diff = [(a, b) for a, b in zip(*traces) if a != b][:3]
    assert [t[1] for t in traces[0]] == [t[1] for t in traces[1]], diff
    assert [t[5] for t in traces[0]] == [t[5] for t in traces[1]], diff
    best = json.loads((tmp_path / "a" / "best.json").read_text())
    assert best["val"]["r2"] > 0.9 and best["test"]["r2"] > 0.5
    assert best["lineage"][0]["program_id"] == best["program_id"]
    assert (tmp_path / "a" / "best_program.py").read_text().count("def fit_scaling_law") == 1


def test_resume_after_finish_continues_iterations(synthetic_task, tmp_path):
    run_discovery(synthetic_task, _config(max_iterations=4), tmp_path / "r", write_report=False)
    run_discovery(synthetic_task, _config(max_iterations=8), tmp_path / "r", resume=True, write_report=False)
    with RunStore.open(tmp_path / "r" / "run.sqlite") as store:
        progs = store.programs()
        iters = [p.iteration for p in progs if p.iteration > 0]
        assert len(iters) == len(set(iters)) and max(iters) <= 8
        assert store.evaluation_count() == len(progs)
        # each session marks where it starts on the searched-time clock: the report's time axis leaves out time down
        sessions = store.sessions()
        assert [resumed for _, _, resumed in sessions] == [False, True]
        assert sessions[0][1] == 0.0 and sessions[1][1] > 0.0
        searched = [h.searched_s for h in store.history()]
        assert searched == sorted(searched) and searched[-1] <= store.get_state("elapsed_seconds") + 1.0


def test_llm_run_survives_every_fault_and_keeps_the_best(synthetic_task, tmp_path, monkeypatch):
    secret = "sk-evosld-test-secret-0000"
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    server = FakeOpenAIServer(default=Reply.program(GOOD.replace("0.3]", "0.31]")))
    with server:
        server.script(
            Reply.rate_limited("0"),
            Reply.server_error(500),
            Reply.slow(3.0),
            Reply.malformed(),
            Reply.no_code(),
            Reply.truncated(GOOD),
            Reply.diff([("this text is not in the parent", "x = 1")]),
            Reply.program(SNOOP),
            Reply.program(GOOD),
        )
        llm = LLMConfig(models=["gpt-test"], api_base=server.base_url, timeout=1.0, retries=3,
                        backoff_base=0.01, backoff_max=0.05)
        cfg = _config(llm=llm, max_iterations=8, proposals_in_flight=2)
        out = run_discovery(synthetic_task, cfg, tmp_path / "llm", write_report=False)
    assert out.best_id is not None
    with RunStore.open(tmp_path / "llm" / "run.sqlite") as store:
        calls = store.llm_calls()
        assert calls and all(c.model == "gpt-test" for c in calls)
        assert any(c.attempts > 1 for c in calls)  # 429 / 500 / slow / malformed were retried
        assert store.llm_totals().prompt_tokens > 0
        failures = store.failure_counts()
        best = store.best("val")
        assert best.evaluation.r2 > 0.95
        assert "least_squares" in best.source
        assert failures.total >= 1
    # the key is in no file the run wrote
    for path in (tmp_path / "llm").rglob("*"):
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), path
    db = sqlite3.connect(tmp_path / "llm" / "run.sqlite")
    dump = "\n".join(db.iterdump())
    assert secret not in dump


def test_symbolic_run_stops_when_nothing_new_is_left(synthetic_task, tmp_path, monkeypatch):
    # With two parameters over two features the structures run out after a few
    # programs; the run then ends instead of idling out its iteration limit.
    monkeypatch.setattr(loop, "EXHAUSTED_PATIENCE", 20)  # the default 200 only makes the test slower
    out = run_discovery(synthetic_task, _config(max_iterations=100_000, max_params=2), tmp_path / "small",
                        write_report=False)
    assert out.status.stopped == "exhausted"
    with RunStore.open(tmp_path / "small" / "run.sqlite") as store:
        assert [e.data["reason"] for e in store.events("stopped")] == ["exhausted"]
        assert 0 < store.program_count() < 30
        assert store.test_evaluation(out.best_id) is not None


class _CountingExecutor:
    """The real executor, counting the evaluations in the sandboxes at any moment."""

    def __init__(self, inner):
        self.inner, self.in_flight, self.lock = inner, 0, threading.Lock()

    def submit(self, source, split="val"):
        with self.lock:
            self.in_flight += 1
        fut = self.inner.submit(source, split)

        def done(_):
            with self.lock:
                self.in_flight -= 1

        fut.add_done_callback(done)
        return fut

    def close(self):
        self.inner.close()


class _WatchingProposer:
    """The real proposer, noting how many evaluations were running at each request."""

    def __init__(self, inner, executor):
        self.inner, self.executor, self.seen_in_flight = inner, executor, []

    def __getattr__(self, name):
        return getattr(self.inner, name)

    async def propose(self, request):
        self.seen_in_flight.append(self.executor.in_flight)
        return await self.inner.propose(request)


def test_next_generation_is_proposed_while_the_previous_is_evaluated(synthetic_task, tmp_path):
    cfg = _config(max_iterations=16)
    executor = _CountingExecutor(make_executor(synthetic_task, cfg))
    proposer = _WatchingProposer(make_proposer(synthetic_task, cfg), executor)
    try:
        out = run_discovery(synthetic_task, cfg, tmp_path / "overlap", proposer=proposer, executor=executor,
                            write_report=False)
    finally:
        executor.close()
    # Generation 1 is proposed with nothing running; every later one while the
    # one before it is still in the sandboxes (or just finishing).
    assert proposer.seen_in_flight[:4] == [0, 0, 0, 0]
    assert max(proposer.seen_in_flight[4:]) > 0
    assert out.status.stopped == "iterations"
    with RunStore.open(tmp_path / "overlap" / "run.sqlite") as store:
        assert store.evaluation_count() == store.program_count()  # the last generation was not dropped
        assert max(p.iteration for p in store.programs()) == 16


class _BrokenExecutor:
    """An executor whose evaluations fail with an error the run does not expect."""

    workers = 1

    def submit(self, source: str, split: str = "val"):
        raise RuntimeError("the cluster went away")

    def close(self) -> None:
        pass


def test_a_run_that_fails_leaves_no_log_handler_or_open_store_behind(synthetic_task, tmp_path):
    """After an exception (as after Ctrl-C in a notebook), the next run logs into its own file only."""
    import logging

    import pytest

    with pytest.raises(RuntimeError, match="cluster"):
        run_discovery(synthetic_task, _config(max_iterations=4), tmp_path / "broken", executor=_BrokenExecutor(),
                      write_report=False)
    handlers = [h for h in logging.getLogger("evosld").handlers if isinstance(h, logging.FileHandler)]
    assert not any(str(tmp_path / "broken") in h.baseFilename for h in handlers)
    before = (tmp_path / "broken" / "evosld.log").read_text()
    run_discovery(synthetic_task, _config(max_iterations=2), tmp_path / "next", write_report=False)
    assert (tmp_path / "broken" / "evosld.log").read_text() == before  # the old run's log is left alone
    with RunStore.open(tmp_path / "broken" / "run.sqlite") as store:  # and its store was closed, so it reopens
        assert store.run().task == synthetic_task.name


_FAILING_SEED = '''
import numpy as np

def fit_scaling_law(X, y):
    raise SystemExit(1)  # as a sandbox child dies when Ctrl-C reaches it before it leaves the process group

def scaling_law_func(X, params):
    return np.zeros(len(X))
'''


class _SeedsAlso:
    """The real proposer, with one more seed program that fails in its sandbox."""

    def __init__(self, inner):
        self.inner = inner

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def seeds(self):
        from evosld.proposers.base import Proposal

        return [*self.inner.seeds(), Proposal(_FAILING_SEED, "user", meta={"origin": "failing seed"})]


def test_a_failure_after_ctrl_c_is_left_for_resume_not_scored_as_the_laws(synthetic_task, tmp_path):
    """Ctrl-C reaches the whole process group: a sandbox child still starting up dies of it and "exits with
    code 1". A candidate that fails once a stop was asked for is left unevaluated, so --resume runs it again;
    those that succeeded are kept."""
    from evosld.signals import StopRequest

    cfg = _config(max_iterations=4)
    run = tmp_path / "stopped"
    stop = StopRequest()
    stop.request()  # asked before the seeds are evaluated: every failure among them is suspect
    out = run_discovery(synthetic_task, cfg, run, stop=stop, proposer=_SeedsAlso(make_proposer(synthetic_task, cfg)),
                        write_report=False)
    assert out.status.stopped == "interrupted"
    with RunStore.open(run / "run.sqlite") as store:
        failing = next(p for p in store.programs() if p.meta.get("origin") == "failing seed")
        assert failing.evaluation is None  # not scored as the law's own failure
        assert store.evaluation_count() == store.program_count() - 1  # the seeds that succeeded are kept
        assert any(failing.id in e.data["programs"] for e in store.events("not_started"))
    again = run_discovery(synthetic_task, cfg, run, resume=True, write_report=False)
    assert again.status.stopped == "iterations"
    with RunStore.open(run / "run.sqlite") as store:
        failing = store.program(failing.id)
        assert failing.evaluation is not None and not failing.evaluation.ok  # resumed: run again, failing for real


class _RaisingProposer:
    """The real proposer for its first ``good`` proposals, then a bug: every call raises."""

    def __init__(self, inner, good: int):
        self.inner, self.good, self.calls = inner, good, 0

    def __getattr__(self, name):
        return getattr(self.inner, name)

    async def propose(self, request):
        self.calls += 1
        if self.calls > self.good:
            raise ValueError("a bug in the user's proposer")
        return await self.inner.propose(request)


def test_a_proposer_that_keeps_raising_stops_the_run_and_says_why(synthetic_task, tmp_path):
    """A user's proposer raising on every call had the loop spin 17,726 times in 20 s with nothing said."""
    from evosld.search.status import CRASH_PATIENCE

    cfg = _config(max_iterations=100000)
    proposer = _RaisingProposer(make_proposer(synthetic_task, cfg), good=6)
    out = run_discovery(synthetic_task, cfg, tmp_path / "crash", proposer=proposer, write_report=False)
    assert out.status.stopped == "proposer_crash"
    assert out.status.crash == "ValueError: a bug in the user's proposer"
    assert proposer.calls <= 6 + CRASH_PATIENCE + 8  # stopped within a generation of the patience
    assert out.best_source is not None and out.test.get("r2") is not None  # the run still finished
    log = (tmp_path / "crash" / "evosld.log").read_text()
    assert f"the proposer raised on {CRASH_PATIENCE} proposals in a row; the last: ValueError" in log
    # the proposer fixed, --resume continues the search (the streak of crashes is not carried over)
    more = _config(max_iterations=proposer.calls + 8)
    again = run_discovery(synthetic_task, more, tmp_path / "crash", resume=True, write_report=False,
                          proposer=make_proposer(synthetic_task, more))
    assert again.status.stopped == "iterations" and not again.status.crash

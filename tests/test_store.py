"""The run store: a real SQLite file that survives kill -9 and keeps test results apart."""

from __future__ import annotations

import dataclasses
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest

from evosld.errors import ConfigError, DataError
from evosld.proposers.base import LLMUsage
from evosld.run.runner import describe_failures
from evosld.run.store import RunStore

SOURCE = "# EVOLVE-BLOCK-START\ndef f():\n    return {n}\n# EVOLVE-BLOCK-END\n"


def val(r2: float, error_kind: str | None = None) -> dict:
    return {"split": "val", "r2": r2, "r2_clipped": max(r2, -1.0), "error_kind": error_kind,
            "error": "boom" if error_kind else None, "duration": 0.5}


@pytest.fixture
def store(tmp_path):
    s = RunStore.create(tmp_path / "run.sqlite", task="toy", seed=7, config={"iterations": 3})
    yield s
    s.close()


def test_create_reopen_and_read_back(tmp_path):
    path = tmp_path / "runs" / "run.sqlite"
    with RunStore.create(path, task="toy", seed=7, config={"iterations": 3, "model": "m"}) as s:
        p1 = s.add_program(SOURCE.format(n=1), proposer="symbolic", meta={"n_params": np.int64(3)})
        p2 = s.add_program(SOURCE.format(n=2), parent_id=p1, island=1, iteration=1, proposer="llm")
        s.add_evaluation(p1, val(0.5))
        s.add_evaluation(p2, val(-1.0, "timeout"))
        s.add_llm_call(1, **dataclasses.asdict(LLMUsage("m", 10, 5, 2, 0.01, 1.5)), program_id=p2)
        s.add_llm_call(2, "m", prompt_tokens=4, status="error", attempts=3, error="429")
        s.add_failed_proposal(2, "llm", "parse", "no code block")
        s.add_event("start", {"resume": False})
        s.update_state({"next_iteration": 3, "best_program_id": p1})

    with RunStore.open(path) as s:
        assert s.journal_mode() == "wal"
        run = s.run()
        assert (run.task, run.seed, run.config, run.schema_version) == ("toy", 7, {"iterations": 3, "model": "m"}, 1)
        progs = s.programs()
        assert [p.id for p in progs] == [1, 2]
        assert progs[0].meta == {"n_params": 3} and progs[0].proposer == "symbolic"
        assert progs[1].parent_id == 1 and progs[1].island == 1 and progs[1].iteration == 1
        assert progs[0].evaluation.r2 == 0.5 and progs[0].evaluation.ok
        assert progs[1].evaluation.error_kind == "timeout" and progs[1].evaluation.error == "boom"
        assert s.find_digest(progs[0].digest) == [1]
        assert s.evaluation_count() == 2 and s.evaluation_count(ok_only=True) == 1
        totals = s.llm_totals()
        assert (totals.calls, totals.failed_calls, totals.prompt_tokens, totals.completion_tokens) == (2, 1, 14, 5)
        assert totals.reasoning_tokens == 2 and totals.cost_usd == pytest.approx(0.01)
        assert s.llm_calls()[0].program_id == p2
        counts = s.failure_counts()
        assert counts.evaluations == {"timeout": 1} and counts.proposals == {"parse": 1}
        # the closing line: a count follows a ×, never read as a code ("exit 2" looked like an exit status)
        assert describe_failures(counts) == "proposals 1 (parse ×1); evaluations 1 (timeout ×1)"
        assert s.get_state("next_iteration") == 3 and s.get_state("missing", "d") == "d"
        assert s.state() == {"best_program_id": 1, "next_iteration": 3}
        assert [e.data for e in s.events("start")] == [{"resume": False}]
        assert s.best().id == 1
        hist = s.history()
        assert [(h.program_id, h.r2, h.ok, h.best_r2) for h in hist] == [(1, 0.5, True, 0.5), (2, -1.0, False, 0.5)]
        assert hist[0].elapsed_s >= 0


def test_wal_mode_and_pragmas(store):
    assert store.journal_mode() == "wal"
    assert store.conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    store.add_program("x = 1\n")
    assert store.path.with_name("run.sqlite-wal").exists()


def test_open_errors_are_one_liners(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        RunStore.open(tmp_path / "nope.sqlite")
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"this is not a database at all" * 100)
    with pytest.raises(DataError, match="not an evosld run store"):
        RunStore.open(junk)
    other = tmp_path / "other.sqlite"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.close()
    with pytest.raises(DataError, match="not an evosld run store"):
        RunStore.open(other)
    path = tmp_path / "run.sqlite"
    RunStore.create(path, "toy", 0, {}).close()
    with pytest.raises(ConfigError, match="already exists"):
        RunStore.create(path, "toy", 0, {})
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    with pytest.raises(DataError, match="newer evosld"):
        RunStore.open(path)
    for exc in (ConfigError, DataError):
        assert "\n" not in str(exc)


def test_unevaluated_programs_and_evaluated_order(store):
    a, b, c = (store.add_program(SOURCE.format(n=i)) for i in range(3))
    store.add_evaluation(c, val(0.1))
    store.add_evaluation(a, val(0.2))
    assert [p.id for p in store.unevaluated_programs()] == [b]
    assert store.unevaluated_programs()[0].evaluation is None
    assert [p.id for p in store.programs(order="evaluated")] == [c, a]
    assert [p.id for p in store.programs()] == [a, b, c]


def test_bad_writes_raise_value_error(store):
    pid = store.add_program("x = 1\n")
    store.add_evaluation(pid, val(0.3))
    with pytest.raises(ValueError, match="cannot store"):
        store.add_evaluation(pid, val(0.4))  # one validation evaluation per program
    with pytest.raises(ValueError, match="cannot store"):
        store.add_evaluation(999, val(0.4))
    with pytest.raises(ValueError, match="add_test_evaluation"):
        store.add_evaluation(pid, {"split": "test", "r2": 0.9})
    with pytest.raises(ValueError, match="JSON"):
        store.add_event("x", object())
    assert store.evaluation_count() == 1


def test_test_evaluations_never_reach_validation_queries(store):
    a = store.add_program(SOURCE.format(n=1))
    b = store.add_program(SOURCE.format(n=2))
    store.add_evaluation(a, val(0.8))
    store.add_evaluation(b, val(0.6))
    store.add_test_evaluation(b, {"split": "test", "r2": 0.99}, params={"g": np.array([1.0, 2.0])})
    store.add_test_evaluation(b, {"split": "test", "r2": 0.95}, params={"g": [1.0, 2.0]})  # replaces
    store.add_test_evaluation(a, {"split": "test", "r2": 0.1})
    assert store.best().id == a  # by validation only
    assert store.best(split="test").id == b  # reports may rank by test
    assert all(p.evaluation.split == "val" and p.evaluation.r2 < 0.9 for p in store.programs())
    assert [h.r2 for h in store.history()] == [0.8, 0.6]
    assert store.evaluation_count() == 2
    assert store.test_evaluation(b).r2 == 0.95 and store.test_evaluation(b).params == {"g": [1.0, 2.0]}
    assert [t.program_id for t in store.test_evaluations()] == [a, b]
    text = " ".join(repr(x) for x in (store.programs(), store.unevaluated_programs(), store.history(), store.state()))
    assert "0.95" not in text and "0.99" not in text


def test_batch_is_atomic(store):
    with pytest.raises(RuntimeError):
        with store.batch():
            store.add_program("x = 1\n")
            store.set_state("next_iteration", 1)
            raise RuntimeError("killed mid-batch")
    assert store.program_count() == 0 and store.get_state("next_iteration") is None
    with store.batch():
        pid = store.add_program("x = 1\n")
        store.set_state("next_iteration", 1)
    assert store.program(pid).id == pid and store.get_state("next_iteration") == 1


def test_writes_from_a_worker_thread(store):
    def work():
        for i in range(20):
            store.add_event("worker", i)

    t = threading.Thread(target=work)
    t.start()
    for i in range(20):
        store.add_event("main", i)
    t.join()
    assert len(store.events("worker")) == 20 and len(store.events("main")) == 20


CHILD = textwrap.dedent(
    """
    import sys
    from evosld.run.store import RunStore
    store = RunStore.open(sys.argv[1])
    i = 0
    while True:
        pid = store.add_program(f"x = {i}\\n", iteration=i)
        store.add_evaluation(pid, {"split": "val", "r2": i / 1000.0})
        store.set_state("next_iteration", i + 1)
        print(pid, flush=True)
        i += 1
    """
)


def test_rows_committed_before_sigkill_survive(tmp_path):
    path = tmp_path / "run.sqlite"
    RunStore.create(path, "toy", 0, {}).close()
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(path)], stdout=subprocess.PIPE, text=True)
    acknowledged = []
    try:
        for line in proc.stdout:
            acknowledged.append(int(line))
            if len(acknowledged) == 30:
                break
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL
    with RunStore.open(path) as s:
        assert s.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        stored = {p.id: p for p in s.programs()}
        for pid in acknowledged:
            assert stored[pid].evaluation is not None
            assert stored[pid].evaluation.r2 == (pid - 1) / 1000.0
        assert s.get_state("next_iteration") >= len(acknowledged)
        # whatever was in flight is at most one program stored without an evaluation
        assert len(s.unevaluated_programs()) <= 1


def test_the_runs_law_before_its_final_pick_is_the_one_its_best_files_name(store):
    """Before the final pick (a run in progress, aborted while finishing, or resumed), the run's law is the one
    the search's best files name, not a refit of the finish that no pick has checked, nor a law ranked another
    way; a resumed session clears the old pick until it makes its own."""
    from evosld.run.store.schema import FINAL_STATE, SEARCH_BEST, TWIN_PROPOSER

    searched = store.add_program(SOURCE.format(n=1), proposer="symbolic")
    better = store.add_program(SOURCE.format(n=2), proposer="symbolic")
    twin = store.add_program(SOURCE.format(n=3), proposer=TWIN_PROPOSER)
    for pid, r2 in ((searched, 0.8), (better, 0.9), (twin, 0.95)):
        store.add_evaluation(pid, val(r2))
    assert store.final().id == better  # no record: the search's own best, not the unchecked twin
    store.set_state(SEARCH_BEST, searched)  # what the loop wrote into best.json (it ranks by the clipped R²)
    assert store.final().id == searched
    store.set_state(FINAL_STATE, twin)  # the final pick
    assert store.final().id == twin
    store.set_state(FINAL_STATE, None)  # a resumed session started searching
    assert store.final().id == searched

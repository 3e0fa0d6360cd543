"""Candidates that time out: the run says how many and what to do, and starts none once its budget is spent.

A real `evosld discover` runs in a subprocess against the loopback fake LLM
server, which answers every request with a law whose fit sleeps far past the
per-candidate limit (`--timeout 1`).
"""

from __future__ import annotations

import itertools
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from tests.conftest import chinchilla_frame
from tests.fakes.openai_server import FakeOpenAIServer, Reply
from tests.fakes.programs import PARENT

SLEEPER = PARENT.replace("    return least_squares(", "    import time\n    time.sleep(300)\n    return least_squares(")


#: The budget of the timed-out-candidates run: long enough that the starter's own evaluation (seconds on a
#: busy machine) leaves time for candidates to start and time out.
BUDGET = 12


def _discover_with_server(tmp_path: Path, program: str, config: str, args: list[str]) -> subprocess.CompletedProcess:
    """``evosld discover`` on a Chinchilla-like CSV against a fake LLM server that answers variants of ``program``."""
    csv = tmp_path / "runs.csv"
    chinchilla_frame().to_csv(csv, index=False)
    cfg = tmp_path / "llm.yaml"
    cfg.write_text(config)
    n = itertools.count()
    with FakeOpenAIServer(default=lambda _req: Reply.program(f"{program}\n# variant {next(n)}\n")) as server:
        cmd = [sys.executable, "-m", "evosld.cli", "discover", "--csv", str(csv), "--features", "N,D",
               "--target", "loss", "--output", str(tmp_path / "run"), "--llm", "fake-model", "--api-base",
               server.base_url, "--config", str(cfg), *args, "--quiet"]
        return subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ, OPENAI_API_KEY="sk-x"),
                              timeout=300)


def test_timed_out_candidates_are_counted_and_the_budget_holds(tmp_path: Path) -> None:
    run = tmp_path / "run"
    proc = _discover_with_server(tmp_path, SLEEPER, "proposals_in_flight: 3\nllm:\n  timeout: 5\n  retries: 0\n",
                                 ["--iterations", "1000", "--budget-seconds", str(BUDGET), "--timeout", "1", "--workers", "1"])
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    line = next((ln for ln in proc.stdout.splitlines() if "timed out" in ln), None)
    assert line is not None, proc.stdout
    assert "limit 1 s each" in line and "subsample the rows" in line and "--timeout" in line, line
    con = sqlite3.connect(run / "run.sqlite")
    (searched,) = con.execute("SELECT value FROM state WHERE key = 'elapsed_seconds'").fetchone()
    not_started = [json.loads(d) for (d,) in con.execute("SELECT data FROM events WHERE kind = 'not_started'")]
    timed_out = con.execute("SELECT COUNT(*) FROM evaluations WHERE error_kind = 'timeout'").fetchone()[0]
    con.close()
    assert not_started, "candidates queued when the budget ran out were started anyway"
    # one worker: after the budget, only the candidate running finishes (its 1 s limit)
    assert float(searched) < BUDGET + 1 + 3, searched
    assert f"{timed_out} candidate(s) timed out" in line


def test_finishing_time_is_bounded_and_said(tmp_path: Path) -> None:
    """Laws that fit fast in the search but refit slowly: the final pick's refits share one allowance
    (finish_seconds 1 here); the run says the allowance ran out, which laws it did not check, and how to check them."""
    from tests.test_discover import GOOD

    slow = GOOD.replace("    y = np.asarray(loss_values, dtype=float)\n",
                        "    y = np.asarray(loss_values, dtype=float)\n"
                        "    if len(y) != 30:\n        import time\n        time.sleep(3)\n")
    assert "time.sleep(3)" in slow
    run = tmp_path / "run"
    proc = _discover_with_server(tmp_path, slow, "proposals_in_flight: 2\nfinish_seconds: 1\nllm:\n  timeout: 5\n  retries: 0\n",
                                 ["--iterations", "4", "--timeout", "30"])
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    line = next((ln for ln in proc.stdout.splitlines() if ln.strip().startswith("finishing:")), None)
    assert line is not None, proc.stdout
    assert "its 1 s ran out" in line and "not fully checked" in line and f"--resume {run}" in line, line
    best = json.loads((run / "best.json").read_text())
    assert best["finishing"]["seconds"] == 1 and best["finishing"]["cut"] >= 1
    assert best["selection"]["unchecked"]


def test_a_run_where_every_candidate_fails_says_what_the_failure_was(tmp_path: Path) -> None:
    """'no program evaluated successfully' named only the kinds (``static ×297``); the message itself (a syntax
    error and its line, a limit) was in run.sqlite alone, not on the console nor in evosld.log."""
    csv = tmp_path / "runs.csv"
    chinchilla_frame().to_csv(csv, index=False)
    done = subprocess.run([sys.executable, "-m", "evosld.cli", "discover", "--csv", str(csv), "--features", "N,D",
                           "--target", "loss", "--iterations", "2", "--timeout", "0.001", "--quiet",
                           "--output", str(tmp_path / "run")],
                          capture_output=True, text=True, env=dict(os.environ), timeout=300)
    assert done.returncode == 1, done.stdout + done.stderr
    line = next(x for x in done.stdout.splitlines() if "most frequent failure" in x)
    assert "(timeout ×" in line and "first seen: killed after the 0.001 s wall-clock limit" in line, line
    assert "the most frequent failure (timeout ×" in (tmp_path / "run" / "evosld.log").read_text(encoding="utf-8")

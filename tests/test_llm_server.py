"""An LLM server that hangs, answers garbage or answers without code, behind a real `evosld discover`.

The loopback fake server runs in this process; `evosld discover` runs in a
subprocess pointed at it, with a 1 s timeout and one retry per call.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import chinchilla_frame
from tests.fakes.openai_server import FakeOpenAIServer, Reply
from tests.fakes.programs import PARENT

SECRET = "sk-evosld-test-secret-4242"
TIMEOUT, RETRIES = 1.0, 1


def _config(tmp_path: Path, eval_timeout: float = 20) -> Path:
    path = tmp_path / "llm.yaml"
    path.write_text(
        f"proposals_in_flight: 2\n"
        f"evaluator:\n  timeout: {eval_timeout}\n"
        f"llm:\n  timeout: {TIMEOUT}\n  retries: {RETRIES}\n  backoff_base: 0.01\n  backoff_max: 0.05\n"
    )
    return path


def _discover(server: FakeOpenAIServer, tmp_path: Path, iterations: int, eval_timeout: float = 20) -> subprocess.Popen:
    csv = tmp_path / "runs.csv"
    chinchilla_frame().to_csv(csv, index=False)
    env = dict(os.environ, OPENAI_API_KEY=SECRET)
    cmd = [sys.executable, "-m", "evosld.cli", "discover", "--csv", str(csv), "--features", "N,D", "--target", "loss",
           "--output", str(tmp_path / "run"), "--llm", "fake-model", "--api-base", server.base_url,
           "--config", str(_config(tmp_path, eval_timeout)), "--iterations", str(iterations), "--quiet"]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def _no_secret_in(run: Path) -> None:
    for path in run.rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path


@pytest.mark.parametrize(("reply", "kind"), [(Reply.hang(), "llm_timeout"),
                                            (Reply.garbage(), "llm_malformed_response")])
def test_a_dead_server_ends_the_run_within_timeout_times_retries(tmp_path, reply, kind):
    with FakeOpenAIServer(default=reply) as server:
        proc = _discover(server, tmp_path, iterations=50)
        out, err = proc.communicate(timeout=300)
    assert proc.returncode == 1, err
    assert "Traceback" not in err
    assert "stopped: llm_unavailable" in out, out
    assert f"failed: proposals 2 ({kind} ×2)" in out, out
    [line] = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert f"no LLM proposal succeeded: all 2 failed ({kind} ×2" in line and "--api-base" in line, err
    # one generation of two calls in parallel, each 1 + RETRIES attempts of TIMEOUT seconds
    run = tmp_path / "run"
    con = sqlite3.connect(run / "run.sqlite")
    latency = con.execute("SELECT MAX(latency_s), MAX(attempts) FROM llm_calls").fetchone()
    assert latency[0] < TIMEOUT * (RETRIES + 1) + 2 and latency[1] == RETRIES + 1
    kinds = [k for (k,) in con.execute("SELECT error_kind FROM failed_proposals")]
    con.close()
    assert kinds == [kind, kind]
    log = (run / "evosld.log").read_text()
    assert log.count(kind) >= 2 and "failures: proposals 2" in log
    _no_secret_in(run)


def test_answers_without_code_are_counted_and_a_run_with_no_program_fails(tmp_path):
    with FakeOpenAIServer(default=Reply.no_code()) as server:
        proc = _discover(server, tmp_path, iterations=4)
        out, err = proc.communicate(timeout=300)
    assert proc.returncode == 1, err
    assert "stopped: iterations" in out
    assert "failed: proposals 4 (no_code ×4)" in out, out
    errors = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and "all 4 failed (no_code ×4: the answers held no code block)" in errors[0], err
    assert "Traceback" not in err
    assert (tmp_path / "run" / "evosld.log").read_text().count("no_code") >= 4
    _no_secret_in(tmp_path / "run")


def test_sigterm_kills_the_sandboxes_in_flight(tmp_path):
    sleeper = PARENT.replace("    return least_squares(", "    import time\n    time.sleep(300)\n    return least_squares(")
    with FakeOpenAIServer(default=Reply.program(sleeper)) as server:
        proc = _discover(server, tmp_path, iterations=50, eval_timeout=600)
        db = tmp_path / "run" / "run.sqlite"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert proc.poll() is None, proc.communicate()
            if db.exists():
                con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
                try:
                    stuck = con.execute("SELECT COUNT(*) FROM programs WHERE proposer = 'llm'").fetchone()[0]
                except sqlite3.OperationalError:
                    stuck = 0
                con.close()
                if stuck:
                    break
            time.sleep(0.1)
        time.sleep(1.0)  # the sleeper is in its sandbox now
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err
    assert time.monotonic() - t0 < 45, "the run waited for the sandbox instead of killing it"
    assert "stopped: interrupted" in out
    con = sqlite3.connect(db)
    # the killed program was not scored as a failure: it is still pending, for --resume
    pending = con.execute("SELECT COUNT(*) FROM programs p LEFT JOIN evaluations e ON e.program_id = p.id "
                          "WHERE e.program_id IS NULL").fetchone()[0]
    con.close()
    assert pending >= 1


def test_an_unknown_model_fails_the_run_with_one_line_naming_it(tmp_path):
    with FakeOpenAIServer(default=Reply.error(404, "The model `fake-model` does not exist")) as server:
        proc = _discover(server, tmp_path, iterations=20)
        out, err = proc.communicate(timeout=300)
    assert proc.returncode == 1, err
    [line] = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert "llm_not_found ×2: HTTP 404: unknown model or wrong base URL" in line, line
    assert "fake-model" in line and server.base_url in line and "chat-completions" in line
    assert "Traceback" not in err


def test_a_wrong_base_url_fails_the_run_with_one_line(tmp_path):
    with FakeOpenAIServer() as server:
        pass  # stopped: its port now refuses connections
    proc = _discover(server, tmp_path, iterations=20)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 1, err
    [line] = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert "llm_connection_error ×2: no server answered at the base URL" in line, line
    assert "Traceback" not in err


def test_one_good_proposal_among_failures_is_a_success(tmp_path):
    with FakeOpenAIServer(default=Reply.no_code()) as server:
        server.script(Reply.program(PARENT))
        proc = _discover(server, tmp_path, iterations=2)
        out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    assert "error:" not in err


def test_duplicates_are_not_failures(tmp_path):
    """A model that keeps answering a program already evaluated: its answers are duplicates, not failures."""
    with FakeOpenAIServer(default=Reply.program(PARENT)) as server:
        proc = _discover(server, tmp_path, iterations=4)
        out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    assert "error:" not in err and "Traceback" not in err
    # the first answer gave a new program; the three after it repeated it
    assert "failed:" not in out, out
    assert "nothing new: proposals 3 (duplicate ×3: a program already evaluated)" in out, out
    assert "failures: none" in (tmp_path / "run" / "evosld.log").read_text()


def test_a_run_whose_answers_all_repeat_the_starter_fails(tmp_path):
    """Every answer is the starter itself: the run found no program, so it ends as one that got no proposal."""
    from evosld.tasks.starter import starter_text

    with FakeOpenAIServer(default=Reply.program(starter_text("runs", ["N", "D"], ["loss"]))) as server:
        proc = _discover(server, tmp_path, iterations=4)
        out, err = proc.communicate(timeout=300)
    assert proc.returncode == 1, (out, err)
    assert "failed:" not in out, out
    assert "nothing new: proposals 4 (no_change ×4: the answer gave its parent back unchanged)" in out, out
    assert "best law (program 1, the starter: no proposal did better)" in out, out
    [line] = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert "no LLM proposal gave a new program: all 4 repeated a program already evaluated" in line, line
    assert "the server answers" in line and "fake-model" in line
    assert "Traceback" not in err


def test_an_llm_run_without_a_model_name_says_which_model_it_asked(tmp_path):
    """--proposer llm and no --llm asks the default model; when that fails, the error names it and the option
    (a new-user audit saw "check the model name (?)")."""
    csv = tmp_path / "runs.csv"
    chinchilla_frame().to_csv(csv, index=False)
    with FakeOpenAIServer(default=Reply.garbage()) as server:
        env = dict(os.environ, OPENAI_API_KEY=SECRET, OPENAI_BASE_URL=server.base_url)
        cmd = [sys.executable, "-m", "evosld.cli", "discover", "--csv", str(csv), "--features", "N,D", "--target",
               "loss", "--output", str(tmp_path / "run"), "--proposer", "llm", "--config", str(_config(tmp_path, 20)),
               "--iterations", "50", "--quiet"]
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 1, proc.stderr
    [line] = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert "check the model name (gpt-4.1-mini, the default: name yours with --llm)" in line, line


def test_an_llm_run_with_no_model_named_and_no_key_says_so(tmp_path):
    """`--proposer llm` alone (no --llm, no OPENAI_API_KEY): the header named the offline search, and the
    closing error never said that no key was set (a fuzzed user run, session 55)."""
    csv = tmp_path / "runs.csv"
    chinchilla_frame().to_csv(csv, index=False)
    env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "OPENAI_BASE_URL")}
    with FakeOpenAIServer(default=Reply.garbage()) as server:
        cmd = [sys.executable, "-m", "evosld.cli", "discover", "--csv", str(csv), "--features", "N,D",
               "--target", "loss", "--output", str(tmp_path / "run"), "--proposer", "llm",
               "--config", str(_config(tmp_path)), "--iterations", "4"]
        proc = subprocess.run(cmd, capture_output=True, text=True, env=dict(env, OPENAI_BASE_URL=server.base_url),
                              timeout=300)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "with LLM gpt-4.1-mini," in proc.stderr and "offline symbolic search" not in proc.stderr, proc.stderr
    [line] = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert "no API key was set" in line and "OPENAI_API_KEY" in line, line

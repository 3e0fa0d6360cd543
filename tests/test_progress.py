"""The progress line: what a user sees while a run works (and when stderr is a file)."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

from evosld.progress import status_line
from evosld.search.status import LoopStatus
from tests.conftest import chinchilla_frame
from tests.fakes.openai_server import FakeOpenAIServer, Reply


def test_a_run_bounded_by_time_has_no_iteration_denominator_and_says_finishing() -> None:
    s = LoopStatus(iteration=320, max_iterations=100000, evaluations=26, unchanged=294, started=100.0)
    line = status_line(s, budget_seconds=60, max_iterations=None, now=130.0)
    assert "iteration 320 (294 found nothing new)" in line and "/100000" not in line
    assert "30s/60s" in line and "finishing" not in line
    assert "75s/60s, finishing" in status_line(s, 60, None, now=175.0)
    assert "iteration 320/400" in status_line(s, None, 400, now=130.0)


def _csv(tmp_path: Path) -> Path:
    csv = tmp_path / "runs.csv"
    chinchilla_frame().to_csv(csv, index=False)
    return csv


def test_without_a_terminal_the_header_is_one_line_and_the_status_printed_once(tmp_path: Path) -> None:
    run = tmp_path / "a-directory-with-a-long-name-so-the-header-would-fold-at-eighty-columns" / "run"
    cmd = [sys.executable, "-m", "evosld.cli", "discover", "--csv", str(_csv(tmp_path)), "--features", "N,D",
           "--target", "loss", "--output", str(run), "--budget-seconds", "2", "--workers", "1"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.splitlines()
    assert lines[0].startswith("evosld: runs with offline symbolic search") and lines[0].endswith(str(run)), lines
    status = [ln for ln in lines if ln.startswith("iteration ")]
    assert len(status) == 1 and "/100000" not in status[0], lines
    assert proc.stderr.endswith("\n")


def test_the_progress_line_says_the_llm_is_waiting_and_retrying(tmp_path: Path) -> None:
    cfg = tmp_path / "llm.yaml"
    cfg.write_text("proposals_in_flight: 1\nllm:\n  timeout: 1.5\n  retries: 1\n  backoff_base: 0.01\n")
    master, slave = pty.openpty()
    with FakeOpenAIServer(default=Reply.hang()) as server:
        cmd = [sys.executable, "-m", "evosld.cli", "discover", "--csv", str(_csv(tmp_path)), "--features", "N,D",
               "--target", "loss", "--output", str(tmp_path / "run"), "--llm", "fake-model", "--api-base",
               server.base_url, "--config", str(cfg), "--iterations", "5"]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=slave, env=dict(os.environ, COLUMNS="400"))
        os.close(slave)
        seen = b""
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    seen += os.read(master, 65536)
                except OSError:
                    break
        proc.communicate(timeout=120)
        os.close(master)
    text = seen.decode(errors="replace")
    assert "waiting for the LLM: 1 call" in text, text[-2000:]
    assert "retrying (attempt 2 of 2) after: no answer within 1.5 s" in text, text[-2000:]
    assert proc.returncode == 1

"""`--budget-seconds` on `--resume` means one thing whatever stopped the run: the run's total search time.

Each test runs a real `evosld discover` in a subprocess, stops it (SIGINT,
SIGTERM, kill -9 or its budget) and resumes it with a budget.
"""

from __future__ import annotations

import json
import signal
import sqlite3
from pathlib import Path

import pytest

from tests.test_stops import _evaluations, _start, _wait_for, csv  # noqa: F401 - csv is a fixture


def _searched(db: Path) -> float:
    con = sqlite3.connect(db)
    try:
        (value,) = con.execute("SELECT value FROM state WHERE key = 'elapsed_seconds'").fetchone()
    finally:
        con.close()
    return float(json.loads(value))


def _run(csv: Path, out: Path, budget: float) -> list[str]:  # noqa: F811
    return ["discover", "--csv", str(csv), "--features", "N,D", "--target", "loss", "--output", str(out),
            "--budget-seconds", str(budget), "--seed", "3", "--workers", "1", "--quiet"]


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL])
def test_the_budget_on_resume_counts_the_time_already_searched(csv, tmp_path, sig):  # noqa: F811
    run = tmp_path / "run"
    db = run / "run.sqlite"
    proc = _start(_run(csv, run, 120))
    _wait_for(lambda: _evaluations(db) >= 12, proc)
    proc.send_signal(sig)
    proc.communicate(timeout=120)
    before = _searched(db)
    assert before > 0.5  # kept as it grows, so even kill -9 leaves it
    extra = 3.0
    proc = _start(["discover", "--resume", str(run), "--budget-seconds", f"{before + extra:.1f}", "--quiet"])
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    assert "stopped: budget" in out, out
    after = _searched(db)
    assert before + extra - 0.5 <= after <= before + extra + 15, (before, after)


def test_a_resume_whose_budget_is_spent_says_so(csv, tmp_path):  # noqa: F811
    run = tmp_path / "run"
    proc = _start(_run(csv, run, 2))
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    proc = _start(["discover", "--resume", str(run), "--budget-seconds", "1"])
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    said = " ".join(err.split())
    assert "its whole budget of 1 s (--budget-seconds counts the whole run)" in said, err
    assert "evosld: resuming runs (" in said and " s searched already) with offline symbolic search" in said, err
    assert "stopped: budget" in out

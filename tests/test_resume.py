"""Kill -9 a running `evosld discover` at several points and resume it.

A resumed run must also propose what the unbroken run with the same seed
proposes: the runs here are bounded by iterations (not time), and the symbolic
proposer, the selection and the sandboxed fits (seeded, one BLAS thread) are
deterministic, so the stored programs and their validation scores are equal.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from evosld.run.store import FINISH_PROPOSERS
from tests.conftest import chinchilla_frame


def _evaluations(db: Path) -> dict[int, str]:
    if not db.exists():
        return {}
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        return dict(con.execute("SELECT program_id, metrics FROM evaluations").fetchall())
    except sqlite3.OperationalError:
        return {}
    finally:
        con.close()


def _discover(args: list[str]) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items()}
    return subprocess.Popen([sys.executable, "-m", "evosld.cli", "discover", *args, "--quiet"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)


def _kill_when(proc: subprocess.Popen, count: Callable[[], int], at_least: int) -> None:
    """SIGKILL ``proc`` once ``count()`` reaches ``at_least`` (it must still be running)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and count() < at_least and proc.poll() is None:
        time.sleep(0.05)
    assert proc.poll() is None, proc.stderr.read().decode()
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def test_kill_and_resume_loses_and_repeats_nothing(tmp_path):
    csv = tmp_path / "runs.csv"
    chinchilla_frame().to_csv(csv, index=False)
    run = tmp_path / "run"
    db = run / "run.sqlite"
    common = ["--iterations", "60", "--seed", "5"]
    before: dict[int, str] = {}
    for i, kill_at in enumerate((3, 14, 26)):
        args = ["--csv", str(csv), "--features", "N,D", "--target", "loss", "--output", str(run), *common] \
            if i == 0 else ["--resume", str(run), *common]
        _kill_when(_discover(args), lambda: len(_evaluations(db)), kill_at)
        now = _evaluations(db)
        assert all(now.get(pid) == m for pid, m in before.items()), "an evaluation was lost or changed"
        before = now
    proc = _discover(["--resume", str(run), *common])
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err.decode()
    final = _evaluations(db)
    assert all(final.get(pid) == m for pid, m in before.items())
    con = sqlite3.connect(db)
    progs = con.execute("SELECT id, digest, iteration FROM programs").fetchall()
    n_evals = con.execute("SELECT COUNT(*), COUNT(DISTINCT program_id) FROM evaluations").fetchone()
    assert n_evals[0] == n_evals[1] == len(progs)  # every program evaluated exactly once
    assert len({d for _, d, _ in progs}) == len(progs)  # no program proposed twice
    iters = [it for _, _, it in progs if it > 0]
    assert len(iters) == len(set(iters)) and max(iters) <= 60
    assert (run / "best.json").exists()
    # a resume judges the runs a kill left unevaluated against the best already stored: no "new best" worse
    # than an earlier one (the first of them counted as one, and the best files named it, session 55)
    bests = [json.loads(d)["val_r2"] for (d,) in con.execute(
        "SELECT data FROM events WHERE kind = 'new_best' ORDER BY id")]
    assert bests == sorted(bests), bests


SAME = ["--iterations", "40", "--seed", "7"]


def _programs(db: Path) -> list[tuple[int, str, float | None]]:
    """(iteration, source, val R²) of every stored program, in the order stored."""
    if not db.exists():
        return []
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        # the search's programs: those its final pick stores after it (FINISH_PROPOSERS) are not proposals
        return con.execute("SELECT p.iteration, p.source, e.r2 FROM programs p "
                           "LEFT JOIN evaluations e ON e.program_id = p.id "
                           f"WHERE p.proposer NOT IN {FINISH_PROPOSERS!r} ORDER BY p.id").fetchall()
    except sqlite3.OperationalError:
        return []
    finally:
        con.close()


def _new(csv: Path, run: Path, args: list[str]) -> list[str]:
    return ["--csv", str(csv), "--features", "N,D", "--target", "loss", "--output", str(run), *args]


def _finish(args: list[str]) -> None:
    proc = _discover(args)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err.decode()


@pytest.fixture(scope="module")
def unbroken(tmp_path_factory) -> tuple[Path, list[tuple[int, str, float | None]]]:
    """The CSV and the programs of the run never stopped."""
    tmp = tmp_path_factory.mktemp("unbroken")
    csv = tmp / "runs.csv"
    chinchilla_frame().to_csv(csv, index=False)
    _finish(_new(csv, tmp / "run", SAME))
    return csv, _programs(tmp / "run" / "run.sqlite")


def test_kill_and_resume_proposes_what_the_unbroken_run_does(unbroken, tmp_path):
    csv, expected = unbroken
    run = tmp_path / "run"
    db = run / "run.sqlite"
    for i, kill_at in enumerate((14, 30)):
        proc = _discover(_new(csv, run, SAME) if i == 0 else ["--resume", str(run), *SAME])
        _kill_when(proc, lambda: len(_programs(db)), kill_at)
    _finish(["--resume", str(run), *SAME])
    got = _programs(db)
    assert [p[:2] for p in got] == [p[:2] for p in expected]  # same programs, same order, same iterations
    assert [p[2] for p in got] == [p[2] for p in expected]  # and the same validation scores


def test_a_run_extended_by_resume_proposes_what_a_longer_run_does(unbroken, tmp_path):
    csv, expected = unbroken
    run = tmp_path / "run"
    _finish(_new(csv, run, ["--iterations", "20", "--seed", "7"]))  # its last generation is evaluated, not in flight
    _finish(["--resume", str(run), *SAME])
    got = _programs(run / "run.sqlite")
    assert [p[:2] for p in got] == [p[:2] for p in expected]


def test_resume_refuses_a_table_edited_since_the_run_started_and_other_task_options(tmp_path):
    """The stored scores were made on the rows the run started on: a resume on an edited table would report them
    as the new table's. One error line, exit 2, and the run is left as it was."""
    csv, run = tmp_path / "runs.csv", tmp_path / "run"
    df = chinchilla_frame()
    df.to_csv(csv, index=False)
    _finish(_new(csv, run, ["--iterations", "2"]))
    same = subprocess.run([sys.executable, "-m", "evosld.cli", "discover", "--resume", str(run), "--quiet"],
                          capture_output=True, text=True, timeout=600, env=dict(os.environ))
    assert same.returncode == 0, same.stderr  # the same table: resumes
    best = (run / "best.json").read_text()
    df.assign(loss=df["loss"] * 1.5).to_csv(csv, index=False)
    edited = subprocess.run([sys.executable, "-m", "evosld.cli", "discover", "--resume", str(run), "--quiet"],
                            capture_output=True, text=True, timeout=600, env=dict(os.environ))
    assert edited.returncode == 2 and "Traceback" not in edited.stderr
    (line,) = [ln for ln in edited.stderr.splitlines() if ln.startswith("error:")]
    assert "the table this run started on has changed" in line and "another --output" in line
    assert (run / "best.json").read_text() == best
    other = subprocess.run([sys.executable, "-m", "evosld.cli", "discover", "--resume", str(run), "--csv", str(csv),
                            "--target", "loss", "--quiet"], capture_output=True, text=True, timeout=600,
                           env=dict(os.environ))
    assert other.returncode == 2
    assert "on the task it started with; drop --csv, --target" in other.stderr
    elsewhere = subprocess.run([sys.executable, "-m", "evosld.cli", "discover", "--resume", str(run), "--output",
                                str(tmp_path / "elsewhere"), "--quiet"], capture_output=True, text=True, timeout=600,
                               env=dict(os.environ))  # was silently ignored (a new-user audit)
    assert elsewhere.returncode == 2 and "and writes there; drop --output" in elsewhere.stderr
    assert not (tmp_path / "elsewhere").exists()


def test_a_run_whose_table_was_moved_says_to_put_it_back(tmp_path):
    """resume, report and eval rebuild the run's task from the table it was made on; moved away, each says which
    file and where, in one line (a new-user audit saw "file not found" alone)."""
    csv, run = tmp_path / "runs.csv", tmp_path / "run"
    chinchilla_frame().to_csv(csv, index=False)
    _finish(_new(csv, run, ["--iterations", "2"]))
    csv.rename(tmp_path / "moved.csv")
    for args in (["discover", "--resume", str(run), "--quiet"], ["report", str(run)], ["eval", str(run)]):
        proc = _cli(*args)
        assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
        (line,) = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
        assert f"was made on the table {csv}, which is not there any more: put it back at that path" in line


def _limit_state(db: Path) -> str | None:
    con = sqlite3.connect(db)
    try:
        row = con.execute("SELECT value FROM state WHERE key = 'param_limit'").fetchone()
        return row[0] if row else None
    finally:
        con.close()


def _set_limit_state(db: Path, value: str | None) -> None:
    con = sqlite3.connect(db)
    try:
        if value is None:
            con.execute("DELETE FROM state WHERE key = 'param_limit'")
        else:
            con.execute("UPDATE state SET value = ? WHERE key = 'param_limit'", (value,))
        con.commit()
    finally:
        con.close()


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "evosld.cli", *args], capture_output=True, text=True, timeout=600,
                          env=dict(os.environ))


def test_a_resumed_run_keeps_the_parameter_limit_it_started_with(tmp_path):
    """The default limit is computed from the table, and its rule can change between versions (repeated runs came
    to count once): a run started under the old rule keeps its limit on resume, with a note, and a --max-params
    beside --resume other than the run's limit is refused as other task options are."""
    import json

    csv, run = tmp_path / "runs.csv", tmp_path / "run"
    df = chinchilla_frame()
    df.loc[df.index.repeat(2)].to_csv(csv, index=False)  # every run twice: 30 fit runs, 60 fit rows
    _finish(_new(csv, run, ["--iterations", "2"]))
    db = run / "run.sqlite"
    assert json.loads(_limit_state(db)) == {"max_params": 10}
    assert json.loads((run / "best.json").read_text())["max_params"] == 10

    _set_limit_state(db, '{"max_params": 20}')  # a run started when every row counted
    resumed = _cli("discover", "--resume", str(run), "--iterations", "3", "--quiet")
    assert resumed.returncode == 0, resumed.stderr
    notes = [ln for ln in resumed.stderr.splitlines() if ln.startswith("note:")]
    assert notes == ["note: this run keeps the parameter limit it started with, 20, though the table now gives 10 "
                     "(one per 3 of the 30 distinct fit runs, rows with the same feature values counted once (60 fit "
                     "rows in all)); for that limit, start a new run with another --output"], resumed.stderr
    assert json.loads((run / "best.json").read_text())["max_params"] == 20
    assert "(limit 20)" in resumed.stdout
    assert json.loads(_limit_state(db)) == {"max_params": 20}

    best = (run / "best.json").read_text()
    other = _cli("discover", "--resume", str(run), "--iterations", "4", "--max-params", "10", "--quiet")
    assert other.returncode == 2 and "Traceback" not in other.stderr
    assert [ln for ln in other.stderr.splitlines() if ln.startswith("error:")] == [
        f"error: --resume continues the run in {run} with the parameter limit it started with (20); drop "
        "--max-params 10 (for another limit, start a new run with another --output)"]
    assert (run / "best.json").read_text() == best
    same = _cli("discover", "--resume", str(run), "--iterations", "4", "--max-params", "20", "--quiet")
    assert same.returncode == 0, same.stderr
    assert not [ln for ln in same.stderr.splitlines() if ln.startswith("note:")]  # the limit was asked for

    # a run from before the record: the limit its best.json reports, recorded from then on
    _set_limit_state(db, None)
    legacy = _cli("discover", "--resume", str(run), "--iterations", "5", "--quiet")
    assert legacy.returncode == 0, legacy.stderr
    assert "keeps the parameter limit it started with, 20" in legacy.stderr
    assert json.loads(_limit_state(db)) == {"max_params": 20}
    assert json.loads((run / "best.json").read_text())["max_params"] == 20


def test_a_resumed_run_keeps_its_seed(tmp_path):
    """Its proposals so far came from its seed's random stream: a resume under another seed is refused with one
    line and nothing changed; the same seed, or none, continues."""
    csv, run = tmp_path / "runs.csv", tmp_path / "run"
    chinchilla_frame().to_csv(csv, index=False)
    _finish(_new(csv, run, ["--iterations", "2", "--seed", "3"]))
    best = (run / "best.json").read_text()
    other = _cli("discover", "--resume", str(run), "--iterations", "3", "--seed", "4", "--quiet")
    assert other.returncode == 2 and "Traceback" not in other.stderr
    assert [ln for ln in other.stderr.splitlines() if ln.strip()] == [
        f"error: --resume continues the run in {run} with the seed it started with (3); drop --seed 4 (for another "
        "seed, start a new run with another --output)"]
    assert (run / "best.json").read_text() == best
    for seed in (["--seed", "3"], []):
        same = _cli("discover", "--resume", str(run), "--iterations", "3", *seed, "--quiet")
        assert same.returncode == 0, same.stderr

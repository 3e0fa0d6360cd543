"""Stops a person or a scheduler causes: SIGTERM / Ctrl-C mid-run, a second process on the same run.

Every test drives a real ``evosld discover`` (or ``evosld bench``, or a Python
script using the API) in a subprocess and sends it real signals.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tests.conftest import chinchilla_frame

EXIT = {signal.SIGINT: 130, signal.SIGTERM: 143}


def _count(db: Path, sql: str) -> int:
    if not db.exists():
        return 0
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        return int(con.execute(sql).fetchone()[0])
    except sqlite3.OperationalError:
        return 0
    finally:
        con.close()


def _evaluations(db: Path) -> int:
    return _count(db, "SELECT COUNT(*) FROM evaluations")


def _start(args: list[str], **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "evosld.cli", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=dict(os.environ), **kw)


def _wait_for(pred, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not pred():
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    assert pred(), "timed out waiting for the run"


@pytest.fixture
def csv(tmp_path) -> Path:
    path = tmp_path / "runs.csv"
    chinchilla_frame().to_csv(path, index=False)
    return path


def _new_run(csv: Path, out: Path, iterations: int = 100000) -> list[str]:
    return ["discover", "--csv", str(csv), "--features", "N,D", "--target", "loss", "--output", str(out),
            "--iterations", str(iterations), "--seed", "3", "--quiet"]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_finishes_the_run_like_a_budget_stop(csv, tmp_path, sig):
    run = tmp_path / "run"
    db = run / "run.sqlite"
    proc = _start(_new_run(csv, run))
    _wait_for(lambda: _evaluations(db) >= 6, proc)
    before = _evaluations(db)
    t0 = time.monotonic()
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == EXIT[sig], err
    assert time.monotonic() - t0 < 60
    assert "Traceback" not in err
    lines = out.strip().splitlines()
    assert any("stopped: interrupted" in line for line in lines), out
    assert lines[-1].startswith(f"  interrupted by {signal.Signals(sig).name}") and f"--resume {run}" in lines[-1]
    best = json.loads((run / "best.json").read_text())
    assert best["test"] is not None and best["test"]["r2"] is not None
    assert (run / "report.html").is_file()
    con = sqlite3.connect(db)
    reasons = [json.loads(d)["reason"] for (d,) in con.execute("SELECT data FROM events WHERE kind = 'stopped'")]
    assert reasons == ["interrupted"]
    assert con.execute("SELECT COUNT(*) FROM test_evaluations").fetchone()[0] == 1  # test scored once
    assert con.execute("SELECT COUNT(*) FROM evaluations").fetchone()[0] >= before  # nothing lost
    con.close()
    # the search stopped at once: far fewer proposals than the limit, and resume continues it
    proc = _start(["discover", "--resume", str(run), "--iterations", str(_count(db, "SELECT MAX(iteration) FROM programs") + 4),
                   "--quiet"])
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    assert "stopped: iterations" in out


def test_a_second_signal_aborts_and_resume_completes(csv, tmp_path):
    run = tmp_path / "run"
    db = run / "run.sqlite"
    proc = _start(_new_run(csv, run))
    _wait_for(lambda: _evaluations(db) >= 6, proc)
    proc.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, (out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1, err  # one line, nothing from the sandboxes it abandoned
    assert lines[0].startswith("error: aborted by a second SIGINT") and f"--resume {run}" in lines[0], err
    assert "Traceback" not in err
    evaluated = _evaluations(db)
    assert evaluated >= 6
    # before the resume, `eval` answers with the law best.json names, and says it is not a finished run's pick
    proc = _start(["eval", str(run), "--json"])
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    assert f"{run} has not finished" in err and "picked and scored on test" in err
    named = json.loads((run / "best.json").read_text())["program_id"]
    assert f"law {named} is the one its best files name so far" in err
    proc = _start(["discover", "--resume", str(run), "--iterations", "1", "--quiet"])
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    proc = _start(["eval", str(run)])
    assert "has not finished" not in proc.communicate(timeout=300)[1]
    assert _evaluations(db) >= evaluated
    assert json.loads((run / "best.json").read_text())["test"]["r2"] is not None
    assert _count(db, "SELECT COUNT(*) FROM test_evaluations") == 1


def test_one_process_per_run_directory(csv, tmp_path):
    run = tmp_path / "run"
    db = run / "run.sqlite"
    first = _start(_new_run(csv, run))
    try:
        _wait_for(lambda: _evaluations(db) >= 2, first)
        # refused before the plan is printed (without --quiet it was, then the refusal came seconds later)
        for args in (["discover", "--resume", str(run)], _new_run(csv, run)[:-1]):
            second = _start(args)
            out, err = second.communicate(timeout=120)
            assert second.returncode == 2, (out, err)
            lines = err.strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith("error: ") and f"process {first.pid}" in lines[0], err
        # a report of the run in progress would be written over by the run's own: refused, nothing written
        second = _start(["report", str(run)])
        out, err = second.communicate(timeout=120)
        assert second.returncode == 2, (out, err)
        lines = err.strip().splitlines()
        assert len(lines) == 1 and f"in use by process {first.pid}" in lines[0] and "report" in lines[0], err
        assert not (run / "report.html").exists()
        assert first.poll() is None  # the holder was not disturbed
    finally:
        first.send_signal(signal.SIGKILL)  # dies holding the lock, as after kill -9 or a reboot
        first.wait()
    assert json.loads((run / "run.lock").read_text())["pid"] == first.pid
    proc = _start(["discover", "--resume", str(run), "--iterations", "2", "--quiet"])
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err  # a dead holder's lock does not block


def test_python_api_ctrl_c_returns_the_best_so_far_and_says_where(tmp_path):
    script = tmp_path / "notebook.py"
    run = tmp_path / "api-run"
    script.write_text(textwrap.dedent(f"""
        import evosld
        from tests.conftest import chinchilla_frame

        if __name__ == "__main__":  # the sandbox's forkserver imports this script
            result = evosld.discover(chinchilla_frame(), features=["N", "D"], target="loss", budget_seconds=None,
                                     iterations=100000, output={str(run)!r}, progress=False)
            print("RESULT", result.test["r2"], result.run_dir)
    """))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(Path(__file__).parent.parent), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    _wait_for(lambda: _evaluations(run / "run.sqlite") >= 4, proc)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert out.startswith("RESULT ") and str(run) in out
    assert "interrupted by SIGINT" in err and f"resume={str(run)!r}" in err
    assert "Traceback" not in err


def test_bench_stops_its_runs_and_writes_the_leaderboard(tmp_path, data_dir):
    bench = tmp_path / "bench"
    proc = _start(["bench", "--tasks", "moe_scaling_law", "--seeds", "2", "--jobs", "2", "--iterations", "100000",
                   "--output", str(bench), "--data-dir", str(data_dir)])
    dbs = [bench / "moe_scaling_law" / f"seed{k}" / "run.sqlite" for k in (0, 1)]
    _wait_for(lambda: all(_evaluations(db) >= 3 for db in dbs), proc, timeout=180)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 143, (out, err)
    assert "Traceback" not in err
    board = json.loads((bench / "leaderboard.json").read_text())
    assert len(board["runs"]) == 2 and all(r["test_r2"] is not None for r in board["runs"])
    assert all(r["status"] == "unfinished" for r in board["runs"])  # interrupted runs are resumed by the next bench
    for db in dbs:
        con = sqlite3.connect(db)
        assert [json.loads(d)["reason"] for (d,) in con.execute("SELECT data FROM events WHERE kind = 'stopped'")] \
            == ["interrupted"]
        con.close()


def _entry(args: list[str]) -> subprocess.Popen:
    """``evosld ARGS`` as the installed command runs it, in its own process group (a terminal's job)."""
    return subprocess.Popen([sys.executable, "-m", "evosld.entry", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=dict(os.environ), start_new_session=True)


@pytest.mark.parametrize("sig, delay", [(signal.SIGINT, 0.05), (signal.SIGINT, 0.3), (signal.SIGINT, 0.6),
                                        (signal.SIGTERM, 0.3), (signal.SIGTERM, 0.6)])
def test_a_stop_while_the_command_loads_prints_one_line(sig, delay):
    """A Ctrl-C or SIGTERM in the first second (numpy, pandas and scipy loading) ends in one line, whenever it
    lands: SIGTERM had ended every command but a running discovery without a word."""
    proc = _entry(["tasks"])
    time.sleep(delay)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert "Traceback" not in err, err
    if proc.returncode != 0:  # else it had finished
        assert proc.returncode in (EXIT[sig], -sig), (proc.returncode, err)
        assert err.strip() in ("interrupted", f"interrupted by {signal.Signals(sig).name}", ""), err


def test_stops_during_report_and_eval_print_one_line_and_keep_the_report(csv, tmp_path):
    """SIGTERM to `evosld report` / `eval`, or a terminal's Ctrl-C pressed three times, while the report's
    refits run: one line, 143 / 130, and report.html as the run wrote it (the refits in flight are ended,
    not waited for, and the second and third Ctrl-C no longer break Python's exit into a traceback)."""
    run = tmp_path / "run"
    done = _start(_new_run(csv, run, iterations=2))
    assert done.wait(timeout=300) == 0
    page = (run / "report.html").read_bytes()
    for args, sigs in ((["report", str(run)], [signal.SIGTERM]), (["eval", str(run)], [signal.SIGTERM]),
                       (["report", str(run)], [signal.SIGINT] * 3)):
        proc = _entry(args)
        time.sleep(1.8)  # the modules are loaded; the refits are running
        for sig in sigs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, sig)
            time.sleep(0.1)
        _, err = proc.communicate(timeout=60)
        assert "Traceback" not in err and "Exception ignored" not in err, err
        if proc.returncode != 0:  # else it had finished before the signal
            name = "interrupted" if sigs[0] == signal.SIGINT else "interrupted by SIGTERM"
            # -signum: a later signal landed as Python's exit had put the default handlers back (the shell shows 130)
            assert proc.returncode in (EXIT[sigs[0]], -sigs[0]) and err.strip() == name, (args, proc.returncode, err)
            assert (run / "report.html").read_bytes() == page


def test_ctrl_c_during_the_import_is_one_line(monkeypatch, capsys):
    """The entry point turns a KeyboardInterrupt raised while ``evosld.cli`` loads into "interrupted", 130."""
    from evosld import entry

    class Loading:
        def __getattr__(self, name):
            raise KeyboardInterrupt

    monkeypatch.setitem(sys.modules, "evosld.cli", Loading())
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    try:  # the entry point sets the process's handlers (SIGTERM raised, then an immediate exit): put them back
        assert entry.main() == 130
    finally:
        for s, handler in handlers.items():
            signal.signal(s, handler)
    assert capsys.readouterr().err.strip() == "interrupted"

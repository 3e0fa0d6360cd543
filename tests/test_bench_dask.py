"""``evosld bench --dask-local`` / ``--dask-scheduler``: the bench's runs as tasks on a real Dask LocalCluster."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from evosld.bench.runs import run_bench
from evosld.bench.spec import BenchSpec, plan_runs
from evosld.run.store import RunStore
from tests.conftest import SFT_TASK as TASK
from tests.conftest import write_sft_tables

pytest.importorskip("distributed")

SRC = str(Path(__file__).resolve().parents[1] / "src")


def final_programs(spec: BenchSpec) -> dict[int, tuple[str, float]]:
    """Per seed: the run's final law and its test R², from its store."""
    out = {}
    for seed in spec.seeds:
        with RunStore.open(spec.run_dir(TASK, seed) / "run.sqlite") as store:
            best = store.program(store.get_state("final_program_id"))
            out[seed] = (best.source, store.test_evaluation(best.id).metrics["r2"])
    return out


@pytest.mark.slow
def test_bench_on_a_local_cluster_matches_the_thread_pool(tmp_path: Path) -> None:
    data = str(write_sft_tables(tmp_path / "data"))
    threads = BenchSpec((TASK,), (0, 1), tmp_path / "threads", iterations=2, jobs=2, data_dir=data)
    on_dask = BenchSpec((TASK,), (0, 1), tmp_path / "dask", iterations=2, jobs=2, data_dir=data, dask_local=True)
    _, by_threads = run_bench(threads)
    lines: list[str] = []
    board, by_dask = run_bench(on_dask, report=lines.append)

    assert [(o.seed, o.action, o.returncode) for o in by_dask] == [(0, "new", 0), (1, "new", 0)]
    assert [o.returncode for o in by_threads] == [0, 0]
    assert final_programs(on_dask) == final_programs(threads)  # the same runs, wherever they ran
    js = json.loads((on_dask.output / "leaderboard.json").read_text())
    assert [(r["seed"], r["status"]) for r in js["runs"]] == [(0, "finished"), (1, "finished")]
    assert js["tasks"][0]["runs"] == 2 and js["tasks"][0] == board.tasks[0]
    assert f"| {TASK} | 2/2 |" in (on_dask.output / "leaderboard.md").read_text()
    assert sum(line.endswith(" s") and ": done in " in line for line in lines) == 2

    # finished runs are skipped (no cluster is started for nothing)
    _, again = run_bench(on_dask)
    assert [o.action for o in again] == ["skipped", "skipped"]


def _evaluations(store: Path) -> int:
    try:
        with sqlite3.connect(f"file:{store}?mode=ro", uri=True) as conn:
            return conn.execute("SELECT count(*) FROM evaluations").fetchone()[0]
    except sqlite3.Error:
        return 0


def _processes_on(run_dir: Path) -> list[int]:
    """Processes whose command line names ``run_dir``."""
    pids = []
    for proc in Path("/proc").iterdir():
        try:
            cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if proc.name.isdigit() and str(run_dir) in cmd:
            pids.append(int(proc.name))
    return pids


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc").is_dir(), reason="lists processes through /proc")
def test_ctrl_c_stops_the_runs_on_the_cluster_and_leaves_them_resumable(tmp_path: Path) -> None:
    data = write_sft_tables(tmp_path / "data")
    out = tmp_path / "bench"
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    cmd = [sys.executable, "-m", "evosld.cli", "bench", "--tasks", TASK, "--seeds", "1", "--budget-seconds", "600",
           "--dask-local", "--output", str(out), "--data-dir", str(data)]
    # its own process group, so the Ctrl-C below reaches the bench and its Dask workers as a terminal's would
    bench = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             start_new_session=True)
    run_dir = out / TASK / "seed0"
    deadline = time.monotonic() + 300
    while _evaluations(run_dir / "run.sqlite") < 3 and bench.poll() is None and time.monotonic() < deadline:
        time.sleep(0.5)
    os.killpg(bench.pid, signal.SIGINT)
    stdout, stderr = bench.communicate(timeout=300)

    assert bench.returncode == 130, stderr
    assert f"{TASK} seed 0: interrupted (rerun the bench to resume it)" in stderr
    assert "interrupted by SIGINT (Ctrl-C)" in stderr and "Traceback" not in stderr
    assert f"{TASK}" in stdout and "runs 0/1" in stdout
    log = (run_dir / "bench.log").read_text()
    assert "stopped: interrupted" in log and "Traceback" not in log  # the run got one signal and finished cleanly
    assert _processes_on(run_dir) == []  # no discovery left behind
    spec = BenchSpec((TASK,), (0,), out, data_dir=str(data))
    assert [r.state for r in plan_runs(spec)] == ["unfinished"]


def test_an_unreachable_scheduler_is_one_error_line(tmp_path: Path) -> None:
    data = write_sft_tables(tmp_path / "data")
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", ""),
           "DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT": "1s"}
    with socket.socket() as s:  # a local port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    done = subprocess.run([sys.executable, "-m", "evosld.cli", "bench", "--tasks", TASK, "--seeds", "1",
                           "--iterations", "1", "--dask-scheduler", f"tcp://127.0.0.1:{port}",
                           "--output", str(tmp_path / "bench"), "--data-dir", str(data)],
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and f"cannot reach the Dask scheduler at tcp://127.0.0.1:{port}" in errors[0]
    assert "Traceback" not in done.stderr

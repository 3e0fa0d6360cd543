"""``evosld.bench.rankcheck`` and ``benchmarks/discovery.py``: validation-vs-test ranking of a real run."""

from __future__ import annotations

import json
import math
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from evosld.bench.rankcheck import CACHE_FILE, correlations, rank_check, select_candidates
from evosld.run.store import RunStore, StoredEvaluation, StoredProgram

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "discovery.py"
TASK = "sft_scaling_law"


class _NoSandbox:
    """A sandbox that must not be used: everything has to come from the cache."""

    def run(self, *args: object, **kwargs: object) -> None:
        raise AssertionError("the sandbox was used: the cache was not")


def _program(pid: int, digest: str, r2: float | None, *, ok: bool = True, key: str | None = None) -> StoredProgram:
    ev = StoredEvaluation(pid, "val", {}, r2, None if ok else "exception", None, 0.0, 0.0)
    meta = {"structure_key": key} if key else {}
    return StoredProgram(pid, f"# {pid}", digest, None, 0, pid, "symbolic", meta, 0.0, ev)


def test_select_candidates_keeps_the_best_distinct_laws() -> None:
    progs = [
        _program(1, "a", 0.90),
        _program(2, "a", 0.95),              # same source as 1: only the better one stays
        _program(3, "b", 0.97, key="k1"),
        _program(4, "c", 0.99, key="k1"),    # same structure as 3
        _program(5, "d", 0.99, ok=False),    # failed on validation
        _program(6, "e", None),              # no R²
        _program(7, "f", 0.50, key="k2"),
    ]
    chosen, distinct = select_candidates(progs, top=2)
    assert [p.id for p in chosen] == [4, 2] and distinct == 3
    assert correlations([0.1, 0.2], [0.1, 0.2]) == (None, None)
    assert correlations([0.1, 0.2, 0.3], [0.5, 0.5, 0.5]) == (None, None)
    rho, tau = correlations([0.1, 0.2, 0.3, 0.4], [0.2, 0.1, 0.3, 0.4])
    assert rho == pytest.approx(0.8) and tau == pytest.approx(2 / 3)


@pytest.fixture(scope="module")
def bench(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess, Path]:
    """One tiny benchmark: the symbolic proposer on one task, one seed, 10 s."""
    out = tmp_path_factory.mktemp("discovery")
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--seeds", "1", "--budget-seconds", "10", "--tasks", TASK,
         "--output", str(out), "--rank-top", "5", "--peers", "none"],
        capture_output=True, text=True, timeout=240, env={**os.environ, "EVOSLD_DATA": str(data_dir)},
    )
    return proc, out


@pytest.mark.data
@pytest.mark.slow
def test_benchmark_script_prints_and_writes_the_table(bench: tuple[subprocess.CompletedProcess, Path]) -> None:
    proc, out = bench
    assert proc.returncode == 0, proc.stderr
    assert "| task " in proc.stdout and "mean test R²" in proc.stdout and "mean ≥ SLDAgent?" in proc.stdout
    assert "**Summary**" in proc.stdout and "## Law per run" in proc.stdout
    md = (out / "discovery.md").read_text()
    assert md.strip() in proc.stdout
    result = json.loads((out / "discovery.json").read_text())
    (row,) = result["tasks"]
    assert row["task"] == TASK and row["runs"] == 1 and row["max_params"] == 4
    assert row["published_sldagent_r2"] == 0.993 and row["human_refit_r2"] is not None
    (run,) = result["runs"]
    assert run["status"] == "finished" and run["test_r2"] is not None
    assert 1 <= run["rank_n"] <= 5 and (out / TASK / "seed0" / CACHE_FILE).is_file()


@pytest.mark.data
@pytest.mark.slow
def test_rank_check_on_a_real_run(bench: tuple[subprocess.CompletedProcess, Path], data_dir: Path,
                                  tmp_path: Path) -> None:
    proc, out = bench
    assert proc.returncode == 0, proc.stderr
    # A copy of the run's store, without the cache the benchmark wrote.
    run = tmp_path / "run"
    run.mkdir()
    src = sqlite3.connect(out / TASK / "seed0" / "run.sqlite")
    dst = sqlite3.connect(run / "run.sqlite")
    src.backup(dst)
    src.close()
    dst.close()
    with RunStore.open(run / "run.sqlite") as store:
        stored_tests = {t.program_id: t.r2 for t in store.test_evaluations()}
        programs = {p.id: p for p in store.programs()}

    with pytest.raises(AssertionError, match="sandbox was used"):  # nothing cached yet
        rank_check(run, TASK, top=3, sandbox=_NoSandbox(), data_dir=data_dir)
    first = rank_check(run, TASK, top=3, data_dir=data_dir)
    assert 1 <= first.n <= 3 and first.evaluated == first.n and first.task == TASK
    vals = [r.val_r2 for r in first.rows]
    assert vals == sorted(vals, reverse=True)
    assert len({programs[r.program_id].digest for r in first.rows}) == first.n
    assert all(-1.0 <= r.test_r2 <= 1.0 and -1.0 <= r.val_r2 <= 1.0 for r in first.rows)
    assert first.spearman is None or math.isfinite(first.spearman)
    for r in first.rows:  # the run's own test score of its final law is reproduced
        if r.program_id in stored_tests:
            assert r.test_r2 == pytest.approx(max(stored_tests[r.program_id], -1.0), abs=1e-9)

    cache = json.loads((run / CACHE_FILE).read_text())
    assert set(cache["programs"]) == {str(r.program_id) for r in first.rows}
    with RunStore.open(run / "run.sqlite") as store:  # nothing written into the run store
        assert {t.program_id: t.r2 for t in store.test_evaluations()} == stored_tests

    again = rank_check(run, TASK, top=3, sandbox=_NoSandbox(), data_dir=data_dir)
    assert again.rows == first.rows and again.spearman == first.spearman and again.evaluated == 0
    with pytest.raises(AssertionError, match="sandbox was used"):  # cache=False does not read it
        rank_check(run, TASK, top=3, sandbox=_NoSandbox(), cache=False, data_dir=data_dir)


@pytest.mark.data
@pytest.mark.parametrize("args", [["--tasks", "nope"], ["--seeds", "0"], ["--data-dir", "/nonexistent/sld"]])
def test_benchmark_script_bad_input(args: list[str], data_dir: Path, tmp_path: Path) -> None:
    base = {"--tasks": TASK, "--seeds": "1", "--budget-seconds": "5", "--output": str(tmp_path / "out")}
    base.update(dict(zip(args[::2], args[1::2])))
    cmd = [sys.executable, str(SCRIPT), *(x for kv in base.items() for x in kv)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60,
                          env={**os.environ, "EVOSLD_DATA": str(data_dir)})
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "out").exists()


def test_rank_check_uses_the_runs_own_limits(tmp_path: Path) -> None:
    """The stored record is {"config": RunConfig, "task_spec": ...}; its RunConfig gives the limits."""
    from evosld.config import RunConfig
    from evosld.run.store import RunStore
    from evosld.run.summary import stored_limits

    config = RunConfig(evaluator={"timeout": 7, "cpu_seconds": 9, "memory_mb": 1234})
    with RunStore.create(tmp_path / "run.sqlite", "t", 0, {"config": config.model_dump(mode="json"),
                                                            "task_spec": {"name": "t"}}) as store:
        stored = store.run().config
    limits = stored_limits(stored)  # what rank_check gives its evaluator
    assert limits is not None
    assert (limits.wall_seconds, limits.cpu_seconds, limits.memory_mb) == (7, 9, 1234)

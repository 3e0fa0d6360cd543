"""``evosld bench``: runs over tasks × seeds, resumption, and the leaderboard's numbers."""

from __future__ import annotations

import argparse
import json
import math
import os
import sqlite3
import time
from pathlib import Path

import pytest

from evosld.bench.cli import add_bench_parser
from evosld.bench.discoveries import discover_command
from evosld.bench.leaderboard import PUBLISHED
from evosld.bench.runs import run_bench
from evosld.bench.spec import BenchRun, BenchSpec, parse_seeds, parse_tasks, plan_runs
from evosld.errors import ConfigError, DataError
from evosld.run.store import RunStore
from evosld.tasks.builtin import BUILTIN
from tests.conftest import one_error, run_cli

TASKS = ("moe_scaling_law", "data_constrained_scaling_law")


def test_parse_tasks_and_seeds() -> None:
    assert set(parse_tasks("all")) == set(BUILTIN)
    assert parse_tasks("moe_scaling_law, sft_scaling_law") == ("moe_scaling_law", "sft_scaling_law")
    with pytest.raises(DataError, match="unknown task 'nope'"):
        parse_tasks("moe_scaling_law,nope")
    assert parse_seeds("3") == (0, 1, 2)
    assert parse_seeds("1,4,7") == (1, 4, 7)
    with pytest.raises(ConfigError):
        parse_seeds("0")
    with pytest.raises(ConfigError):
        parse_seeds("x")


def test_discover_command(tmp_path: Path) -> None:
    spec = BenchSpec(TASKS, (0,), tmp_path, iterations=3, budget_seconds=5.0, llm=("m1", "m2"), data_dir="/d")
    new = discover_command(spec, BenchRun(TASKS[0], 2, spec.run_dir(TASKS[0], 2), "new"), python="py")
    assert new[:4] == ["py", "-m", "evosld.entry", "discover"]
    assert new[4:9] == [TASKS[0], "--seed", "2", "--output", str(tmp_path / TASKS[0] / "seed2")]
    for flag in (["--iterations", "3"], ["--budget-seconds", "5.0"], ["--llm", "m1"], ["--llm", "m2"], ["--data-dir", "/d"]):
        assert any(new[i:i + 2] == flag for i in range(len(new)))
    assert "--quiet" in new
    resumed = discover_command(spec, BenchRun(TASKS[0], 2, spec.run_dir(TASKS[0], 2), "unfinished"), python="py")
    assert resumed[4:6] == ["--resume", str(tmp_path / TASKS[0] / "seed2")] and "--seed" not in resumed


def _stored(run_dir: Path) -> dict:
    """What the leaderboard should say about a run, read straight from its store."""
    with RunStore.open(run_dir / "run.sqlite") as store:
        best = store.program(store.get_state("final_program_id"))  # the run's final pick (search.selection)
        test = store.test_evaluation(best.id)
        n_params = best.meta.get("n_params")
        if n_params is None:  # e.g. the starter: count the fitted parameters of its (single) group
            n_params = len(next(iter(test.params.values())))
        return {"program": best.id, "val": best.evaluation.r2, "test": test.metrics["r2"],
                "test_clipped": test.metrics["r2_clipped"], "n_params": n_params,
                "programs": store.program_count()}


@pytest.mark.data
@pytest.mark.slow
def test_bench_runs_resumes_and_reports_the_stored_numbers(tmp_path: Path, data_dir: Path) -> None:
    out = tmp_path / "bench"
    spec = BenchSpec(TASKS, (0, 1), out, iterations=1, jobs=2, data_dir=str(data_dir))
    board, outcomes = run_bench(spec)
    assert [o.action for o in outcomes] == ["new"] * 4 and all(o.returncode == 0 for o in outcomes)
    md, js = (out / "leaderboard.md").read_text(), json.loads((out / "leaderboard.json").read_text())

    runs = {(t, s): _stored(spec.run_dir(t, s)) for t in TASKS for s in (0, 1)}
    human_cache = json.loads((out / "human_laws.json").read_text())
    rows = {r["task"]: r for r in js["tasks"]}
    for task in TASKS:
        mine = [runs[(task, s)] for s in (0, 1)]
        row = rows[task]
        assert row["runs"] == 2
        assert math.isclose(row["mean_test_r2_clipped"], sum(r["test_clipped"] for r in mine) / 2)
        assert math.isclose(row["mean_test_r2"], sum(r["test"] for r in mine) / 2)
        best = max(mine, key=lambda r: r["test"])
        assert math.isclose(row["best_test_r2"], best["test"]) and row["best_n_params"] == best["n_params"]
        assert row["published_human_r2"] == PUBLISHED[task]["human"]
        assert row["published_sldagent_r2"] == PUBLISHED[task]["sldagent_gpt5"]
        assert row["human_test_r2"] == human_cache[task]["test_r2"]
        assert f"| {task} | 2/2 | {row['mean_test_r2_clipped']:.3f} | {row['best_test_r2']:.3f} |" in md
        for s in (0, 1):  # each run wrote its report, with the refit human law beside the best
            assert "human law: " in (spec.run_dir(task, s) / "report.html").read_text(encoding="utf-8")
    # the human law really is refit through the evaluator (moe's published figure is 0.703)
    assert abs(rows["moe_scaling_law"]["human_test_r2"] - PUBLISHED["moe_scaling_law"]["human"]) < 0.02
    avg = js["average"]
    assert avg["tasks"] == 2
    assert math.isclose(avg["mean_test_r2_clipped"], sum(rows[t]["mean_test_r2_clipped"] for t in TASKS) / 2)
    assert math.isclose(avg["published_sldagent_r2"], sum(PUBLISHED[t]["sldagent_gpt5"] for t in TASKS) / 2)
    assert "**average** (2 tasks)" in md
    per_run = {(r["task"], r["seed"]): r for r in js["runs"]}
    for key, stored in runs.items():
        assert per_run[key]["status"] == "finished" and per_run[key]["best_program_id"] == stored["program"]
        assert math.isclose(per_run[key]["val_r2"], stored["val"])

    # again, through the command line: everything is finished, so nothing runs
    parser = argparse.ArgumentParser()
    add_bench_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["bench", "--tasks", ",".join(TASKS), "--seeds", "2", "--iterations", "1",
                              "--output", str(out), "--data-dir", str(data_dir)])
    t0 = time.monotonic()
    assert args.func(args) == 0
    assert time.monotonic() - t0 < 10

    # an interrupted run (no test score yet) is resumed, not redone
    victim = spec.run_dir(TASKS[0], 1)
    with sqlite3.connect(victim / "run.sqlite") as conn:
        conn.execute("DELETE FROM test_evaluations")
    states = {(r.task, r.seed): r.state for r in plan_runs(spec)}
    assert states[(TASKS[0], 1)] == "unfinished" and list(states.values()).count("finished") == 3
    _, outcomes = run_bench(spec)
    assert [o.action for o in outcomes].count("skipped") == 3
    assert [o for o in outcomes if o.action == "resumed"][0].run_dir == victim
    after = _stored(victim)
    assert after["programs"] == runs[(TASKS[0], 1)]["programs"]
    assert math.isclose(after["test"], runs[(TASKS[0], 1)]["test"])


@pytest.mark.parametrize("args, message", [
    (["--budget-seconds", "-1"], "--budget-seconds must be a positive number of seconds, not -1"),
    (["--budget-seconds", "0"], "--budget-seconds must be a positive number of seconds, not 0"),
    (["--iterations", "0"], "--iterations must be at least 1, not 0"),
])
def test_bench_limits_are_checked_before_any_run(tmp_path, capsys, args, message):
    code, _, err = run_cli(capsys, "bench", "--tasks", "sft_scaling_law", "--output", str(tmp_path / "b"), *args)
    assert message in one_error(code, err) and not (tmp_path / "b").exists()


def test_bench_output_that_is_a_file_or_a_discovery_run_is_refused(tmp_path, capsys):
    (tmp_path / "a file").write_text("x")
    code, _, err = run_cli(capsys, "bench", "--tasks", "sft_scaling_law", "--output", str(tmp_path / "a file"))
    assert "is a file; give the bench a folder" in one_error(code, err)
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "run.sqlite").write_bytes(b"")
    code, _, err = run_cli(capsys, "bench", "--tasks", "sft_scaling_law", "--output", str(tmp_path / "run"))
    assert "holds a discovery run" in one_error(code, err)


def test_a_second_bench_on_the_same_output_is_refused(tmp_path, capsys):
    """Two benches on one folder ran the same runs side by side (the second called the busy one failed and
    rewrote the leaderboard); the bench holds its folder's lock, as a discovery holds its run's."""
    from evosld.run.runlock import RunLock

    with RunLock.acquire(tmp_path / "b"):
        code, _, err = run_cli(capsys, "bench", "--tasks", "sft_scaling_law", "--output", str(tmp_path / "b"))
    line = one_error(code, err)
    assert f"{tmp_path / 'b'} is in use by another evosld, process {os.getpid()}" in line
    assert not (tmp_path / "b" / "leaderboard.md").exists()

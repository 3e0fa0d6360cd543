"""The command line as a user runs it: real subprocesses, one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from evosld.bench.leaderboard import PUBLISHED
from tests.conftest import chinchilla_frame, one_error, run_cli


def evosld(*args: str, env: dict | None = None, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "evosld.cli", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, cwd=cwd, timeout=600)


def one_error_line(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 2, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    assert "Traceback" not in proc.stderr
    return lines[0]


@pytest.mark.data
def test_baselines_reach_the_leaderboard(data_dir):
    proc = evosld("baselines", "--json", "--data-dir", str(data_dir))
    assert proc.returncode == 0, proc.stderr
    rows = {r["task"]: r for r in json.loads(proc.stdout)}
    assert set(rows) == set(PUBLISHED)
    for task, row in rows.items():
        # clipped, as the leaderboard scores it (easy_question's quintic lands far below -1)
        assert row["test_r2_clipped"] >= PUBLISHED[task]["human"] - 0.03, (task, row)


@pytest.mark.data
def test_tasks_and_eval(data_dir, tmp_path):
    proc = evosld("tasks", "--json", "--data-dir", str(data_dir))
    assert proc.returncode == 0, proc.stderr
    assert {t["name"] for t in json.loads(proc.stdout)} == set(PUBLISHED)
    from evosld.tasks.baselines import baseline_path

    proc = evosld("eval", str(baseline_path("moe_scaling_law")), "--task", "moe_scaling_law", "--split", "test",
                  "--json", "--data-dir", str(data_dir))
    assert proc.returncode == 0, proc.stderr
    # The leaderboard figure of the Clark et al. law, reproduced through the sandbox.
    assert json.loads(proc.stdout)["r2"] == pytest.approx(0.703, abs=0.002)


def test_error_lines(tmp_path):
    prog = tmp_path / "p.py"
    prog.write_text("def scaling_law_func(x, p):\n    return x\n")
    assert "unknown task 'nope'" in one_error_line(evosld("eval", str(prog), "--task", "nope", "--data-dir", str(tmp_path)))
    assert "program file not found" in one_error_line(evosld("eval", str(tmp_path / "missing.py"), "--task", "nope"))
    csv = tmp_path / "runs.csv"
    chinchilla_frame().to_csv(csv, index=False)
    line = one_error_line(evosld("discover", "--csv", str(csv), "--features", "N,X", "--target", "loss"))
    assert "column(s) X not found (columns: N, D, loss)" in line
    line = one_error_line(evosld("discover", "--csv", str(tmp_path / "none.csv"), "--features", "N", "--target", "loss"))
    assert "file not found" in line
    cfg = tmp_path / "c.yaml"
    cfg.write_text("max_iterations: 3\ndatabase:\n  num_islandz: 2\n")
    line = one_error_line(evosld("discover", "--csv", str(csv), "--features", "N,D", "--target", "loss", "--config", str(cfg)))
    assert "database.num_islandz: unknown key" in line
    line = one_error_line(evosld("discover", "--resume", str(tmp_path / "norun")))
    assert "run store not found" in line
    line = one_error_line(evosld("discover", "--csv", str(csv), "--features", "N,D", "--target", "loss", "--seed", "-1",
                                 "--output", str(tmp_path / "neg")))
    assert line == "error: --seed must be at least 0 (got -1)"


@pytest.mark.parametrize("args, expected", [
    (["--max-params", "0"], "error: --max-params must be at least 1 (got 0)"),
    (["--max-params", "-3"], "error: --max-params must be at least 1 (got -3)"),
    (["--timeout", "0"], "error: --timeout must be more than 0 (got 0)"),
    (["--workers", "0"], "error: --workers must be at least 1 (got 0)"),
    (["--budget-seconds", "-5"], "error: --budget-seconds must be more than 0 (got -5)"),
])
def test_a_bad_option_value_is_named_as_typed(tmp_path, args, expected):
    """The option the user typed, not the config key it sets ("config: max_params: Input should be ...")."""
    csv = tmp_path / "runs.csv"
    chinchilla_frame().to_csv(csv, index=False)
    table = ["--csv", str(csv), "--features", "N,D", "--target", "loss"]
    assert one_error_line(evosld("discover", *table, *args, "--output", str(tmp_path / "run"))) == expected
    assert not (tmp_path / "run").exists()
    if args[0] == "--max-params":  # commands that set no config check it too
        assert one_error_line(evosld("tasks", *table, *args)) == expected


TOLERANCE = "must be a relative difference in [0, 0.5), e.g. 1e-3"


@pytest.mark.parametrize("value, shown", [("-1", "-1"), ("0.5", "0.5"), ("nan", "nan"), ("inf", "inf")])
def test_a_bad_scale_tolerance_is_named_as_typed(tmp_path, value, shown):
    """--scale-tolerance, like --max-params: the option typed and the value, for every command that takes it;
    a task file's scale_tolerance is named by its key."""
    csv = tmp_path / "runs.csv"
    chinchilla_frame().to_csv(csv, index=False)
    prog = tmp_path / "p.py"
    prog.write_text("def scaling_law_func(x, p):\n    return x\n")
    table = ["--csv", str(csv), "--features", "N,D", "--target", "loss", "--scale-tolerance", value]
    expected = f"error: --scale-tolerance {TOLERANCE} (got {shown})"
    assert one_error_line(evosld("discover", *table, "--output", str(tmp_path / "run"))) == expected
    assert not (tmp_path / "run").exists()
    assert one_error_line(evosld("tasks", *table)) == expected
    assert one_error_line(evosld("eval", str(prog), *table)) == expected
    (tmp_path / "law.yaml").write_text(f"data: runs.csv\nfeatures: [N, D]\ntarget: loss\nscale_tolerance: {value}\n")
    assert one_error_line(evosld("tasks", str(tmp_path / "law.yaml"))) == \
        f"error: task file {tmp_path / 'law.yaml'}: scale_tolerance {TOLERANCE} (got {shown})"


def test_a_bad_value_in_a_config_file_is_named_by_its_key(tmp_path):
    csv = tmp_path / "runs.csv"
    chinchilla_frame().to_csv(csv, index=False)
    (tmp_path / "c.yaml").write_text("max_params: 0\n")
    line = one_error_line(evosld("discover", "--csv", str(csv), "--features", "N,D", "--target", "loss",
                                 "--config", str(tmp_path / "c.yaml"), "--output", str(tmp_path / "run")))
    assert line.startswith("error: config: max_params: ") and "--max-params" not in line


def test_true_or_false_for_a_number_is_refused(tmp_path):
    """YAML reads `random_seed: true` as a boolean, which pydantic took as seed 1: one error line instead."""
    from evosld.config import load_config
    from evosld.errors import ConfigError, DataError
    from evosld.tasks.taskfile import read_task_file

    cases = {"random_seed: true\n": "config: random_seed: a number is needed, not true",
             "evaluator:\n  timeout: false\n": "config: evaluator.timeout: a number is needed, not false",
             "database:\n  num_islands: true\n": "config: database.num_islands: a number is needed, not true"}
    for text, message in cases.items():
        (tmp_path / "c.yaml").write_text(text)
        with pytest.raises(ConfigError) as exc:
            load_config(tmp_path / "c.yaml")
        assert str(exc.value) == message
    (tmp_path / "c.yaml").write_text("diff_based_evolution: true\nrandom_seed: 3\n")  # booleans where they belong
    config, _ = load_config(tmp_path / "c.yaml")
    assert config.diff_based_evolution is True and config.random_seed == 3
    chinchilla_frame().to_csv(tmp_path / "runs.csv", index=False)
    (tmp_path / "law.yaml").write_text("data: runs.csv\nfeatures: [N, D]\ntarget: loss\nmax_params: true\n")
    with pytest.raises(DataError, match="max_params: a number is needed, not true"):
        read_task_file(tmp_path / "law.yaml")


def test_discover_csv_and_task_file(tmp_path):
    csv = tmp_path / "runs.csv"
    chinchilla_frame().to_csv(csv, index=False)
    (tmp_path / "law.yaml").write_text(
        "name: chin\ndata: runs.csv\nfeatures: [N, D]\ntarget: loss\ntest: \"N >= 1e10\"\n"
    )
    proc = evosld("discover", "law.yaml", "--iterations", "4", "--output", "out", "--quiet", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    best = json.loads((tmp_path / "out" / "best.json").read_text())
    assert best["task"] == "chin" and best["test"]["r2"] > 0.5


def test_eval_on_own_csv(tmp_path):
    csv = tmp_path / "runs.csv"
    chinchilla_frame().to_csv(csv, index=False)
    from evosld.tasks.starter import STARTER_FILE

    proc = evosld("eval", str(STARTER_FILE), "--csv", str(csv), "--features", "N,D", "--target", "loss", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["r2"] > 0.5


def test_offline_budget_alone_decides_when_to_stop(tmp_path):
    """An offline run given only --budget-seconds is not also cut at the LLM default of 200 proposals."""
    from evosld.config import OFFLINE_MAX_ITERATIONS
    from evosld.run.store import RunStore

    csv = tmp_path / "runs.csv"
    chinchilla_frame().to_csv(csv, index=False)
    proc = evosld("discover", "--csv", str(csv), "--features", "N,D", "--target", "loss", "--budget-seconds", "3",
                  "--output", str(tmp_path / "out"), "--quiet")
    assert proc.returncode == 0, proc.stderr
    with RunStore.open(tmp_path / "out" / "run.sqlite") as store:
        config = store.run().config["config"]
        (stopped,) = store.events("stopped")
    assert config["max_iterations"] == OFFLINE_MAX_ITERATIONS and config["budget_seconds"] == 3
    assert stopped.data["reason"] == "budget"
    assert "stopped: budget (time budget spent)" in proc.stdout


def test_a_new_run_is_not_written_among_other_files(tmp_path):
    """--output naming a folder of the user's (here the one holding the table) is refused in one line;
    the folder is left as it was, and a folder holding only an earlier attempt's lock and log is taken."""
    chinchilla_frame().to_csv(tmp_path / "runs.csv", index=False)
    (tmp_path / "notes.txt").write_text("mine")
    args = ("discover", "--csv", str(tmp_path / "runs.csv"), "--features", "N,D", "--target", "loss",
            "--iterations", "1", "--quiet")
    line = one_error_line(evosld(*args, "--output", str(tmp_path)))
    assert "already holds files that are not an evosld run (notes.txt, runs.csv)" in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt", "runs.csv"]
    line = one_error_line(evosld(*args, "--output", str(tmp_path / "notes.txt")))
    assert "notes.txt is a file, not a directory" in line
    earlier = tmp_path / "run"
    earlier.mkdir()
    (earlier / "run.lock").write_text("")
    (earlier / "evosld.log").write_text("")
    (earlier / ".DS_Store").write_text("")
    proc = evosld(*args, "--output", str(earlier))
    assert proc.returncode == 0, proc.stderr
    assert (earlier / "best.json").exists()


def test_a_reader_that_goes_away_early_gets_no_traceback(tmp_path):
    """`evosld discover ... | head -1`: the pipe closes before the summary is printed; the run still finishes
    and stores its law, and the command ends without a Python traceback."""
    csv = tmp_path / "runs.csv"
    chinchilla_frame().to_csv(csv, index=False)
    proc = subprocess.Popen([sys.executable, "-m", "evosld.cli", "discover", "--csv", str(csv), "--features", "N,D",
                             "--target", "loss", "--iterations", "2", "--seed", "0", "--quiet",
                             "--output", str(tmp_path / "run")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=dict(os.environ))
    proc.stdout.close()  # the reader is gone before anything is written
    _, err = proc.communicate(timeout=600)
    assert b"Traceback" not in err and b"BrokenPipeError" not in err, err.decode()
    assert proc.returncode == 1
    assert (tmp_path / "run" / "best.json").exists()


def test_more_local_workers_than_the_sandbox_runs_at_once_is_one_error_before_any_work(capsys, tmp_path):
    csv = tmp_path / "runs.csv"
    chinchilla_frame().to_csv(csv, index=False)
    code, _, err = run_cli(capsys, "discover", "--csv", str(csv), "--features", "N,D", "--target", "loss",
                           "--iterations", "1", "--workers", "100", "--output", str(tmp_path / "run"), "--quiet")
    line = one_error(code, err)
    assert line.startswith("error: --workers (evaluator.parallel_evaluations) 100: at most 60 evaluations run at once on one machine") and \
        "--dask-scheduler" in line
    assert not (tmp_path / "run").exists()

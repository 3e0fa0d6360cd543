"""Table options beside a named task: a task file takes them in place of its keys, a built-in task refuses them.

A built-in task's table and split are fixed; before, ``evosld discover moe_scaling_law --test "..."`` ran on
the built-in split and said nothing, so the user believed a rule had been applied that never was.
"""

from __future__ import annotations

import json

import pytest

from tests.conftest import SFT_TASK, chinchilla_frame, one_error, run_cli, write_sft_tables

LAW = """import numpy as np


def scaling_law_func(data_points, params):
    return np.full(len(data_points), params[0])


def fit_scaling_law(data_points, loss_values):
    return np.array([np.mean(loss_values)])
"""


@pytest.mark.parametrize("command", ["tasks", "discover", "eval"])
def test_a_built_in_task_refuses_table_options_in_one_line(command, tmp_path, capsys):
    (tmp_path / "law.py").write_text(LAW)
    args = {"tasks": ["tasks", SFT_TASK], "discover": ["discover", SFT_TASK, "--output", str(tmp_path / "run")],
            "eval": ["eval", str(tmp_path / "law.py"), "--task", SFT_TASK]}[command]
    code, _, err = run_cli(capsys, *args, "--test", "sft_data_size > 1e5")
    assert one_error(code, err) == (
        f"error: --test is for your own data (--csv or a task file); the built-in task {SFT_TASK} has its own table "
        f"and split (`evosld tasks {SFT_TASK}` shows them): drop --test, or give the table with --csv")
    assert not (tmp_path / "run").exists()
    code, _, err = run_cli(capsys, *args, "--val", "largest:sft_data_size", "--features", "a", "--target-range", "0,")
    assert one_error(code, err).startswith("error: --features, --val, --target-range are for your own data")


def test_a_task_file_takes_the_command_lines_options_in_place_of_its_keys(tmp_path, capsys):
    chinchilla_frame().to_csv(tmp_path / "runs.csv", index=False)
    (tmp_path / "law.yaml").write_text('data: runs.csv\nfeatures: [N, D]\ntarget: loss\ntest: "N >= 1e10"\n'
                                       'name: from_file\n')
    code, out, err = run_cli(capsys, "tasks", str(tmp_path / "law.yaml"), "--json")
    assert code == 0, err
    summary = json.loads(out)
    assert summary["name"] == "from_file" and summary["test_rule"] == "N >= 1e10"

    code, out, err = run_cli(capsys, "tasks", str(tmp_path / "law.yaml"), "--json", "--test", "D >= 1e12",
                             "--val", "largest:D", "--features", "D,N", "--name", "renamed")
    assert code == 0, err
    summary = json.loads(out)
    assert summary["name"] == "renamed" and summary["features"] == ["D", "N"]
    assert summary["test_rule"] == "D >= 1e12" and summary["val_rule"] == "largest:D"
    assert summary["rows"]["test"] == 7  # one D of six, at each of the seven N


def test_eval_of_a_run_directory_takes_table_options_for_its_own_table(tmp_path, capsys):
    """``evosld eval RUN --split test --test RULE``: the run's law on its own table under another test rule."""
    chinchilla_frame().to_csv(tmp_path / "runs.csv", index=False)
    run = tmp_path / "run"
    code, _, err = run_cli(capsys, "discover", "--csv", str(tmp_path / "runs.csv"), "--features", "N,D",
                           "--target", "loss", "--iterations", "2", "--output", str(run), "--quiet")
    assert code == 0, err
    code, out, err = run_cli(capsys, "eval", str(run), "--split", "test", "--json")
    assert code == 0, err
    own = json.loads(out)
    code, out, err = run_cli(capsys, "eval", str(run), "--split", "test", "--json", "--test", "D >= 1e12")
    assert code == 0, err
    other = json.loads(out)
    assert own["r2"] != other["r2"]


def test_eval_of_a_built_in_run_refuses_table_options(tmp_path, capsys):
    data = tmp_path / "data"
    write_sft_tables(data)
    run = tmp_path / "run"
    code, _, err = run_cli(capsys, "discover", SFT_TASK, "--data-dir", str(data), "--iterations", "2",
                           "--output", str(run), "--quiet")
    assert code == 0, err
    code, _, err = run_cli(capsys, "eval", str(run), "--data-dir", str(data), "--test", "sft_data_size > 1e5")
    assert "--test is for your own data" in one_error(code, err)


def test_a_task_file_reads_features_as_text_and_says_where_its_yaml_breaks(tmp_path, capsys):
    """`features: N, D` is the list the command line's --features N,D gives, and broken YAML names its line (a
    new-user audit: "Input should be a valid list", and no line)."""
    chinchilla_frame().to_csv(tmp_path / "runs.csv", index=False)
    (tmp_path / "law.yaml").write_text('data: runs.csv\nfeatures: N, D\ntarget: loss\ntest: "N >= 1e10"\n')
    code, out, err = run_cli(capsys, "tasks", str(tmp_path / "law.yaml"), "--json")
    assert code == 0, err
    assert json.loads(out)["features"] == ["N", "D"]
    (tmp_path / "broken.yaml").write_text("data: runs.csv\nfeatures: [N, D\ntarget: loss\n")
    code, _, err = run_cli(capsys, "tasks", str(tmp_path / "broken.yaml"))
    assert one_error(code, err) == f"error: task file {tmp_path / 'broken.yaml'} is not valid YAML at line 3"


@pytest.mark.parametrize("kind", ["latin-1", "folder"])
def test_a_task_or_config_file_that_is_no_utf8_text_or_a_folder_is_one_line(tmp_path, capsys, kind):
    chinchilla_frame().to_csv(tmp_path / "runs.csv", index=False)
    for name in ("task.yaml", "config.yaml"):
        if kind == "folder":
            (tmp_path / name).mkdir()
        else:
            (tmp_path / name).write_bytes(b"description: Hoffmann \xe9t al.\n")
    what = "is a folder; give the YAML file itself" if kind == "folder" else "is not UTF-8 text"
    code, _, err = run_cli(capsys, "tasks", str(tmp_path / "task.yaml"))
    assert f"task file {tmp_path / 'task.yaml'} {what}" in one_error(code, err)
    code, _, err = run_cli(capsys, "discover", "--csv", str(tmp_path / "runs.csv"), "--features", "N,D", "--target",
                           "loss", "--config", str(tmp_path / "config.yaml"), "--iterations", "1")
    assert f"config file {tmp_path / 'config.yaml'} {what}" in one_error(code, err)


def test_blank_rules_are_no_rules_and_a_device_is_no_table(tmp_path, capsys):
    """`--test "   "` is read as `--test ""` (the default rule), not refused; `--csv /dev/null` is not "not found"."""
    chinchilla_frame().to_csv(tmp_path / "runs.csv", index=False)
    table = ["--csv", str(tmp_path / "runs.csv"), "--features", "N,D", "--target", "loss", "--json"]
    code, blank, err = run_cli(capsys, "tasks", *table, "--test", "   ", "--val", " ")
    assert code == 0, err
    code, empty, err = run_cli(capsys, "tasks", *table, "--test", "")
    assert code == 0, err
    assert json.loads(blank)["test_rule"] == json.loads(empty)["test_rule"] == "largest:N"
    code, _, err = run_cli(capsys, "tasks", "--csv", "/dev/null", "--features", "N,D", "--target", "loss")
    assert one_error(code, err) == "error: /dev/null is not a file of runs (a device or a pipe); give --csv a CSV " \
                                   "file saved on disk"


def test_task_files_repeated_keys_home_folder_and_upper_case_names(tmp_path, capsys, monkeypatch):
    """A key given twice is refused with both lines (YAML loaders keep the last in silence); `~` in `data:` is
    the home folder; `LAW.YAML` is a task file, not a task name."""
    chinchilla_frame().to_csv(tmp_path / "runs.csv", index=False)
    (tmp_path / "twice.yaml").write_text("data: runs.csv\nfeatures: [N, D]\ntarget: loss\ntest: 'N >= 1e9'\n"
                                         "test: 'N >= 1e10'\n")
    code, _, err = run_cli(capsys, "tasks", str(tmp_path / "twice.yaml"))
    assert one_error(code, err) == f"error: task file {tmp_path / 'twice.yaml'}: key 'test' is given twice " \
                                   "(lines 4 and 5); keep one"
    (tmp_path / "c.yaml").write_text("evaluator:\n  timeout: 5\n  timeout: 50\n")
    code, _, err = run_cli(capsys, "discover", "--csv", str(tmp_path / "runs.csv"), "--features", "N,D", "--target",
                           "loss", "--config", str(tmp_path / "c.yaml"), "--output", str(tmp_path / "run"))
    assert "config file" in one_error(code, err) and "key 'timeout' is given twice (lines 2 and 3)" in err
    # YAML's merge key is no repeated key: a mapping merged in and a key of its own overriding it
    (tmp_path / "m.yaml").write_text("base: &b\n  timeout: 5\n  cpu_seconds: 50\nevaluator:\n  <<: *b\n"
                                     "  timeout: 9\n")
    from evosld.errors import ConfigError
    from evosld.yamlfile import read_yaml

    assert read_yaml(tmp_path / "m.yaml", "config file", ConfigError)["evaluator"] == {"timeout": 9, "cpu_seconds": 50}
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "LAW.YAML").write_text("data: ~/runs.csv\nfeatures: [N, D]\ntarget: loss\n")
    code, out, err = run_cli(capsys, "tasks", str(tmp_path / "LAW.YAML"), "--json")
    assert code == 0, err
    assert json.loads(out)["features"] == ["N", "D"]


def test_a_typo_in_a_task_file_key_is_named_as_the_key_it_was_meant_to_be(tmp_path, capsys):
    chinchilla_frame().to_csv(tmp_path / "runs.csv", index=False)
    (tmp_path / "task.yaml").write_text("data: runs.csv\nfeature: [N, D]\ntarget: loss\n")
    code, _, err = run_cli(capsys, "tasks", str(tmp_path / "task.yaml"))
    assert "feature: unknown key (did you mean 'features'?)" in one_error(code, err)
    for typed, meant in (("group-by: family", "group"), ("group_by: family", "group"), ("max-params: 3", "max_params"),
                         ("log_feature: [N]", "log_features"), ("targets: loss", "target")):
        body = "data: runs.csv\nfeatures: [N, D]\n" + ("" if typed.startswith("targets") else "target: loss\n")
        (tmp_path / "task.yaml").write_text(body + typed + "\n")  # the command line's spelling of a key, or a typo
        code, _, err = run_cli(capsys, "tasks", str(tmp_path / "task.yaml"))
        assert f"{typed.split(':')[0]}: unknown key (did you mean {meant!r}?)" in one_error(code, err)


def test_eval_of_a_run_on_a_task_with_other_features_says_so(tmp_path, capsys):
    data = tmp_path / "data"
    write_sft_tables(data)
    chinchilla_frame().to_csv(tmp_path / "runs.csv", index=False)
    run = tmp_path / "run"
    code, _, err = run_cli(capsys, "discover", "--csv", str(tmp_path / "runs.csv"), "--features", "N,D",
                           "--target", "loss", "--iterations", "1", "--output", str(run), "--quiet")
    assert code == 0, err
    code, _, err = run_cli(capsys, "eval", str(run), "--task", SFT_TASK, "--data-dir", str(data))
    assert "law takes 2 feature(s) (N, D), and sft_scaling_law gives 1 (sft_data_size)" in one_error(code, err)

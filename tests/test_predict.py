"""``evosld predict``: a run's law at inputs nobody ran (real discovery, sandbox and CLI subprocesses)."""

from __future__ import annotations

import json
import math
import os
import shlex
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import evosld
from evosld.errors import DataError
from evosld.predict.inputs import _known_label, group_keys, parse_at
from evosld.predict.law import outside_train, refit_splits
from tests.conftest import chinchilla_frame


def _grouped() -> pd.DataFrame:
    """Two labs' runs (a user's 'lab' column), each its own floor, L = E_g + A/N^a + B/D^b."""
    frames = []
    for lab, shift in (("alpha", 0.0), ("beta", 0.3)):
        df = chinchilla_frame(seed=1 if shift else 0, noise=0.002)
        df["loss"] += shift
        frames.append(df.assign(lab=lab))
    return pd.concat(frames, ignore_index=True)


@pytest.fixture(scope="module")
def grouped_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("predict") / "run"
    result = evosld.discover(_grouped(), features=["N", "D"], target="loss", group="lab", iterations=4,
                             budget_seconds=None, seed=0, output=run, progress=False)
    return run, result


def _predict(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "evosld.cli", "predict", *args], capture_output=True, text=True,
                          env={**os.environ, "COLUMNS": "200"}, timeout=300)


def test_predict_gives_the_runs_law_at_new_points_per_group(grouped_run, tmp_path):
    run, result = grouped_run
    out = _predict(str(run), "--at", "N=7e10, D=1.4T", "--at", "N=1e8,D=1e10", "--group", "beta", "--json")
    assert out.returncode == 0, out.stderr
    recs = json.loads(out.stdout)
    points = pd.DataFrame({"N": [7e10, 1e8], "D": [1.4e12, 1e10], "group": ["beta", "beta"]})
    want = result.predict(points)
    assert [r["predicted"]["loss"] for r in recs] == pytest.approx(want, rel=1e-9)
    # the law learnt beta's floor: inside the runs it predicts beta's loss, not alpha's
    truth = 1.7 + 0.3 + 400 / 1e8**0.34 + 410 / 1e10**0.28
    assert recs[1]["predicted"]["loss"] == pytest.approx(truth, rel=0.02)
    top_n = result.task.train["N"].max()  # the largest model is held out as test: train ends below 1e10
    assert recs[0]["outside_train"] == f"N ×{7e10 / top_n:.3g}, D ×1.4" and recs[1]["outside_train"] == ""
    assert recs[0]["group"] == "beta"
    # refits on fewer runs (without validation, without each inner band) bracket how far the prediction moves:
    # a few thousandths inside the runs of a clean table, more 22 times past the largest model
    lo, hi = recs[1]["refit_range"]["loss"]
    assert lo <= hi and hi - lo < 0.01 * truth
    far_lo, far_hi = recs[0]["refit_range"]["loss"]
    assert far_lo <= far_hi and far_hi - far_lo > hi - lo
    assert refit_splits(result.task)[0] == "val" and len(refit_splits(result.task)) >= 2
    low, high = result.refit_range(points)  # the Python result shows the same range
    by_lab = result.predict(points.drop(columns="group").assign(lab="beta"))  # the user's own group column
    assert list(by_lab) == pytest.approx(want, rel=1e-9)
    assert list(low) == pytest.approx([far_lo, lo]) and list(high) == pytest.approx([far_hi, hi])

    # a table of inputs with the user's own group column; the CSV written holds inputs and predictions
    table = tmp_path / "new.csv"
    pd.DataFrame({"lab": ["alpha", "beta"], "N": ["70B", "70B"], "D": [1.4e12, 1.4e12]}).to_csv(table, index=False)
    written = tmp_path / "pred.csv"
    out = _predict(str(run), "--inputs", str(table), "--output", str(written))
    assert out.returncode == 0, out.stderr
    assert "loss (predicted)" in out.stdout and f"N ×{7e10 / top_n:.3g}" in out.stdout
    got = pd.read_csv(written)
    assert list(got.columns) == ["lab", "N", "D", "loss_predicted", "loss_refit_low", "loss_refit_high",
                                 "outside_train"]
    assert got["loss_predicted"].iloc[1] == pytest.approx(recs[0]["predicted"]["loss"], rel=1e-9)
    assert got["loss_predicted"].iloc[1] - got["loss_predicted"].iloc[0] == pytest.approx(0.3, abs=0.05)


@pytest.mark.parametrize("args, message", [
    (["--at", "N=7e10, D=1e12"], "this law has 2 groups (alpha, beta), fitted separately: say which with --group NAME"),
    (["--at", "N=7e10, D=1e12", "--group", "gamma"], "no group gamma in the run: the law was fitted on alpha, beta"),
    (["--at", "N=7e10"], "give every feature of the law (N, D); missing: D"),
    (["--at", "N=7e10, D=lots", "--group", "beta"], "'lots' is not a number"),
    (["--at", "M=1, N=1, D=1"], "'M' is not a feature of this law"),
    (["--at", "N 7e10"], "write each feature as NAME=VALUE"),
    (["--at", "N=1, N=2, D=1"], "N is given twice"),
    ([], "give the inputs to predict"),
    (["--law", "99999", "--at", "N=1,D=1"], "has no law 99999"),
])
def test_bad_predict_input_is_one_error_line(grouped_run, args, message):
    run, _ = grouped_run
    out = _predict(str(run), *args)
    assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr
    [line] = out.stderr.strip().splitlines()
    assert line.startswith("error: ") and message in line, line


def test_at_points_are_not_told_to_add_a_column_and_a_group_beside_a_column_naming_another_is_refused(
        grouped_run, tmp_path):
    """--at points have no table to add a group column to; --group beside an inputs table whose own group column
    names another group predicted each row for its column's group, without a word (a fuzzed run, session 56)."""
    run, _ = grouped_run
    out = _predict(str(run), "--at", "N=7e10, D=1e12")
    assert "column" not in out.stderr, out.stderr
    table = tmp_path / "in.csv"
    table.write_text("lab,N,D\nbeta,7e10,1e12\nalpha,7e10,1e12\n")
    out = _predict(str(run), "--inputs", str(table), "--group", "beta")
    assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr
    [line] = out.stderr.strip().splitlines()
    assert "--group 'beta', but the inputs' 'lab' column names 'alpha' (row 2 of the inputs)" in line, line
    table.write_text("lab,N,D\nbeta,7e10,1e12\n")  # the same group both ways: no conflict
    assert _predict(str(run), "--inputs", str(table), "--group", "beta").returncode == 0


def test_an_inputs_table_saved_with_empty_trailing_columns_is_read(grouped_run, tmp_path):
    """Excel's ``lab,N,D,,`` (columns once formatted, left empty) was refused as a name given twice (session 57)."""
    run, _ = grouped_run
    table = tmp_path / "in.csv"
    table.write_text("lab,N,D,,\nbeta,7e10,1e12,,\nalpha,3B,100B,,\n")
    out = _predict(str(run), "--inputs", str(table), "--json")
    assert out.returncode == 0, out.stderr
    assert [r["group"] for r in json.loads(out.stdout)] == ["beta", "alpha"]


def test_group_labels_pandas_reads_as_missing_are_labels_in_the_runs_and_the_inputs(tmp_path):
    """Groups 'None' and 'NA' (no regulariser, not applicable) were read as missing cells (session 57)."""
    table = tmp_path / "runs.csv"
    _grouped().replace({"lab": {"alpha": "None", "beta": "NA"}}).to_csv(table, index=False)
    run = tmp_path / "run"
    done = subprocess.run([sys.executable, "-m", "evosld.cli", "discover", "--csv", str(table), "--features", "N,D",
                           "--target", "loss", "--group-by", "lab", "--iterations", "2", "--quiet",
                           "--output", str(run)], capture_output=True, text=True, env=dict(os.environ), timeout=300)
    assert done.returncode == 0, done.stderr
    inputs = tmp_path / "in.csv"
    inputs.write_text("lab,N,D\nNA,1e8,1e10\nNone,1e8,1e10\n")
    out = _predict(str(run), "--inputs", str(inputs), "--json")
    assert out.returncode == 0, out.stderr
    recs = json.loads(out.stdout)
    assert [r["group"] for r in recs] == ["NA", "None"]
    assert recs[0]["predicted"]["loss"] - recs[1]["predicted"]["loss"] == pytest.approx(0.3, abs=0.05)


def test_predictions_never_replace_an_input_column_or_a_feature_key(tmp_path):
    """A feature named loss_predicted was overwritten by the prediction in --output, without a word (session 57);
    a feature named outside_train so in --output and --json."""
    table = tmp_path / "runs.csv"
    chinchilla_frame().rename(columns={"D": "outside_train"}).to_csv(table, index=False)
    run = tmp_path / "run"
    done = subprocess.run([sys.executable, "-m", "evosld.cli", "discover", "--csv", str(table), "--features",
                           "N,outside_train", "--target", "loss", "--iterations", "2", "--quiet",
                           "--output", str(run)], capture_output=True, text=True, env=dict(os.environ), timeout=300)
    assert done.returncode == 0, done.stderr
    inputs, written = tmp_path / "in.csv", tmp_path / "out.csv"
    inputs.write_text("N,outside_train,loss_predicted\n1e8,1e10,9.5\n")  # an earlier prediction, given back
    out = _predict(str(run), "--inputs", str(inputs), "--output", str(written))
    assert out.returncode == 0, out.stderr
    [note] = [line for line in out.stderr.splitlines() if line.strip()]
    assert note == ("warning: --output: the inputs have columns named 'loss_predicted', 'outside_train' too, so "
                    "evosld's are named 'loss_predicted_2', 'outside_train_2'"), out.stderr
    got = pd.read_csv(written, keep_default_na=False)
    assert list(got.columns) == ["N", "outside_train", "loss_predicted", "loss_predicted_2", "loss_refit_low",
                                 "loss_refit_high", "outside_train_2"]
    assert got.loc[0, ["outside_train", "loss_predicted"]].tolist() == [1e10, 9.5]
    out = _predict(str(run), "--inputs", str(inputs), "--json")
    assert out.returncode == 0 and "--json: the inputs have a feature named 'outside_train' too" in out.stderr
    [rec] = json.loads(out.stdout)
    assert rec["outside_train"] == 1e10 and rec["outside_train_2"] == ""
    assert rec["predicted"]["loss"] == pytest.approx(got.loc[0, "loss_predicted_2"], rel=1e-9)


def test_an_inputs_table_with_a_cell_that_is_no_number_names_it(grouped_run, tmp_path):
    run, _ = grouped_run
    table = tmp_path / "bad.csv"
    table.write_text("lab,N,D\nbeta,7e10,1e12\nbeta,~4e8,1e12\n")
    out = _predict(str(run), "--inputs", str(table))
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "~4e8" in out.stderr, out.stderr


def test_outside_train_says_how_far_each_input_lies_beyond_its_groups_runs(grouped_run):
    _, result = grouped_run
    task = result.task
    top_n = task.train["N"].max()
    X = np.array([[top_n, 1e12], [10 * top_n, 1e12], [1e6, 1e13], [5e8, 5e10]])
    keys = np.array(["alpha"] * 4, dtype=object)
    assert outside_train(task, X, keys) == ["", "N ×10", "N ×0.1, D ×10", ""]


def test_points_and_groups_are_read_as_a_table_reads_them(grouped_run):
    _, result = grouped_run
    df = parse_at(["D=1.4T, N=70B", "`N`=1e9,D=2e11"], ["N", "D"])
    assert df.to_dict("list") == {"N": [7e10, 1e9], "D": [1.4e12, 2e11]}
    with pytest.raises(DataError, match="give the table a 'group' column"):
        group_keys(result.task, df, option=None)
    assert list(group_keys(result.task, df.assign(lab="beta"), group_column="lab")) == ["beta", "beta"]


def test_discover_ends_with_a_predict_command_that_runs_as_printed(tmp_path):
    table = tmp_path / "runs.csv"
    _grouped().to_csv(table, index=False)
    run = tmp_path / "my run"  # a space: the printed command quotes it
    out = subprocess.run([sys.executable, "-m", "evosld.cli", "discover", "--csv", str(table), "--features", "N,D",
                          "--target", "loss", "--group-by", "lab", "--iterations", "2", "--output", str(run),
                          "--quiet"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    [hint] = [ln for ln in out.stdout.splitlines() if "ask the law about new runs:" in ln]
    argv = shlex.split(hint.split(": ", 1)[1])
    assert argv[:3] == ["evosld", "predict", str(run)] and "--group" in argv  # two labs: the group is named
    again = _predict(*argv[2:], "--json")
    assert again.returncode == 0, again.stderr
    [rec] = json.loads(again.stdout)
    assert rec["N"] == pytest.approx(1e10, rel=1e-2) and math.isfinite(rec["predicted"]["loss"])


def test_an_output_that_cannot_be_written_is_one_line_after_the_predictions_are_shown(grouped_run, tmp_path):
    run, _ = grouped_run
    blocker = tmp_path / "a file"
    blocker.write_text("not a directory")
    out = _predict(str(run), "--at", "N=7e10, D=1e12", "--group", "alpha", "--output", str(blocker / "p.csv"))
    assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr
    assert "loss (predicted)" in out.stdout  # printed before the write failed: nothing computed is lost
    [line] = out.stderr.strip().splitlines()
    assert line.startswith(f"error: cannot write {blocker / 'p.csv'}: {blocker} is a file, not a folder")
    assert "choose another --output" in line


def test_a_table_changed_after_the_run_is_refused_by_predict_eval_and_report(tmp_path):
    """The law was fitted and scored on the old rows: answers on the new ones would mix two tables."""
    table = tmp_path / "runs.csv"
    chinchilla_frame().to_csv(table, index=False)
    run = tmp_path / "run"
    out = subprocess.run([sys.executable, "-m", "evosld.cli", "discover", "--csv", str(table), "--features", "N,D",
                          "--target", "loss", "--iterations", "2", "--output", str(run), "--quiet"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert _predict(str(run), "--at", "N=1e10, D=1e11").returncode == 0
    chinchilla_frame().assign(loss=lambda d: 2 * d.loss).to_csv(table, index=False)
    for argv in (["predict", str(run), "--at", "N=1e10, D=1e11"], ["eval", str(run)], ["report", str(run)]):
        res = subprocess.run([sys.executable, "-m", "evosld.cli", *argv], capture_output=True, text=True, timeout=300)
        assert res.returncode == 2 and "Traceback" not in res.stderr, (argv, res.stderr)
        [line] = res.stderr.strip().splitlines()
        assert "the table this run started on has changed since" in line and "put the original table back" in line


def test_a_feature_name_with_a_comma_is_quoted_in_the_printed_command_and_the_error():
    from evosld.predict.inputs import at_name

    features = ["size (params, M)", "tokens"]
    text = f"{at_name(features[0])}=1e4, {at_name(features[1])}=1e9"
    assert text == '"size (params, M)"=1e4, tokens=1e9'
    assert parse_at([text], features).iloc[0].tolist() == [1e4, 1e9]
    with pytest.raises(DataError, match=r"""as in '"size \(params, M\)"=\.\.\., tokens=\.\.\.'"""):
        parse_at(["size (params, M)=1e4, tokens=1e9"], features)


def test_the_refit_range_holds_the_prediction_itself(grouped_run):
    """With one refit the range was that refit alone, a span of zero printed beside a prediction outside it."""
    _, result = grouped_run
    points = pd.DataFrame({"N": [7e10, 1e8, 3e10], "D": [1.4e12, 1e10, 1e11], "group": ["beta", "alpha", "alpha"]})
    want = result.predict(points)
    low, high = result.refit_range(points)
    assert all(lo <= p <= hi for lo, p, hi in zip(low, want, high))


def test_the_python_predict_checks_its_inputs_as_the_command_does(grouped_run):
    """A NaN or a zero size gave NaN silently, no rows 'the law failed to run: None', a Series an AttributeError."""
    _, result = grouped_run
    good = pd.DataFrame({"N": ["70B"], "D": [1.4e12], "lab": ["beta"]})  # sizes spelt as a table spells them
    assert np.isfinite(result.predict(good)).all()
    for df, message in [
        (good.assign(N=[np.nan]), r"column 'N' has NaN or infinite values in the row\(s\) with index 0;"),
        (good.assign(N=[0.0]), "the law takes 'N' on a log scale, so it must be positive; input row.s. 1"),
        (good.iloc[:0], "the table has no rows to predict"),
        (good["N"], "give the inputs as a table"),
        (pd.concat([good, good[["N"]]], axis=1), "'N' appear more than once"),
    ]:
        with pytest.raises(DataError, match=message):
            result.predict(df)


def test_at_values_may_carry_thousands_separators_as_table_cells_do():
    """`--at "params=7,000,000,000"` was refused (the commas split it into pairs), though a cell written so is
    read; a group of three digits after a value continues it."""
    assert parse_at(["params=7,000,000,000"], ["params"]).iloc[0].tolist() == [7e9]
    df = parse_at(["N=1,500,000, D=2e9", "D=2,000.5,N=3"], ["N", "D"])
    assert df.to_dict("list") == {"N": [1.5e6, 3.0], "D": [2e9, 2000.5]}
    for text in ("N=1e9, 2e9", "N=100, 200"):  # a comma and a space: two pairs, as a cell never writes thousands
        with pytest.raises(DataError, match="write each feature as NAME=VALUE"):
            parse_at([text], ["N"])


def test_the_suggested_question_is_the_run_furthest_out_on_every_feature():
    """A learning curve held out at its largest model: the printed `predict --at` example was that model's
    first step (the first test row largest on N); it is its last step, the run furthest out."""
    from evosld.predict.inputs import example_point
    from evosld.tasks import task_from_frame

    N = np.repeat([1e7, 3e7, 1e8, 3e8, 1e9], 10)
    step = np.tile(np.geomspace(100, 3e4, 10), 5)
    loss = 1.8 + 300 / N**0.3 + 6 / step**0.35 + np.random.default_rng(0).normal(0, 0.002, len(N))
    task = task_from_frame(pd.DataFrame({"N": N, "step": step, "loss": loss}), ["N", "step"], "loss",
                           test="N >= 1e9", name="curves")
    text, _ = example_point(task)
    assert text == "N=1e9, step=3e4", text


def test_a_numeric_group_is_found_however_its_number_is_typed():
    """Groups stored as 0.0001 were refused when typed 1e-4 (`--group 1e-4`: "no group 1e-4 in the run: the law was
    fitted on ..., 0.0001"), and integer groups when typed 10.0; an inputs column read the same way (fuzzed)."""
    from evosld.tasks import task_from_frame

    rows = [(lr, n, 2 + 100 * n ** -0.3 * (1 + lr)) for lr in (1e-3, 1e-4, 3e-5) for n in np.geomspace(1e7, 1e9, 6)]
    task = task_from_frame(pd.DataFrame(rows, columns=["lr", "N", "loss"]), ["N"], "loss", group="lr",
                           baseline="none")
    points = pd.DataFrame({"N": [2e9]})
    assert list(group_keys(task, points, group="1e-4")) == ["0.0001"]
    assert list(group_keys(task, points, group=" 3e-5 ")) == ["3e-05"]
    assert list(group_keys(task, points.assign(lr=["1E-3"]), group_column="lr")) == ["0.001"]
    with pytest.raises(DataError, match=r"no group 2e-4 in the run"):
        group_keys(task, points, group="2e-4")
    ints = [(g, n, 2 + g * n ** -0.3) for g in (10, 20, 30) for n in np.geomspace(1e7, 1e9, 6)]
    task = task_from_frame(pd.DataFrame(ints, columns=["seq", "N", "loss"]), ["N"], "loss", group="seq",
                           baseline="none")
    assert list(group_keys(task, points, group="10.0")) == ["10"]
    # exact: long integer ids one float holds alike stay apart
    assert _known_label("12345678901234567891", ["12345678901234567890", "5"]) == "12345678901234567891"
    assert _known_label("1_000", ["1000"]) == "1_000" and _known_label("1e400", ["inf"]) == "1e400"

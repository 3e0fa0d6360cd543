"""Own tables as spreadsheets and people write them: each one loads, or stops with one `error:` line saying what to do."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evosld.errors import DataError
from evosld.tasks import task_from_csv, task_from_frame
from evosld.tasks.splits import rule_mask
from tests.conftest import chinchilla_frame


def _tasks_csv(path: Path, *args: str) -> subprocess.CompletedProcess:
    """``evosld tasks --csv`` (loads and splits the table, no search)."""
    return subprocess.run([sys.executable, "-m", "evosld.cli", "tasks", "--csv", str(path), *args],
                          capture_output=True, text=True, env=dict(os.environ), timeout=300)


# ---------------------------------------------------------------- how the file is written
@pytest.mark.parametrize("kind", ["semicolon", "semicolon-decimal-comma", "tab", "bom-crlf", "cp1252", "spaced-header",
                                  "quoted-header", "comment-lines", "utf-16-tab"])
def test_spreadsheet_exports_load_as_the_same_table(tmp_path, kind):
    df = chinchilla_frame()
    path = tmp_path / "runs.csv"
    target = "loss"
    if kind == "semicolon":
        df.to_csv(path, index=False, sep=";")
    elif kind == "semicolon-decimal-comma":
        path.write_text(df.to_csv(index=False, sep=";").replace(".", ","))
    elif kind == "tab":
        df.to_csv(path, index=False, sep="\t")
    elif kind == "bom-crlf":
        path.write_bytes(("\ufeff" + df.to_csv(index=False, lineterminator="\r\n")).encode("utf-8"))
    elif kind == "cp1252":
        target = "pérte"
        path.write_bytes(df.rename(columns={"loss": target}).to_csv(index=False).encode("cp1252"))
    elif kind == "spaced-header":
        df.rename(columns={"N": " N", "D": "D ", "loss": " loss "}).to_csv(path, index=False)
    elif kind == "comment-lines":
        path.write_text("# runs of the March sweep\n#   seq len 2048, cosine schedule\n" + df.to_csv(index=False))
    elif kind == "utf-16-tab":  # Excel's "Unicode text" (and PowerShell 5's >): read as garbled names before
        target = "损失"
        path.write_bytes(df.rename(columns={"loss": target}).to_csv(index=False, sep="\t").encode("utf-16"))
    else:
        df.to_csv(path, index=False, quoting=1)
    task = task_from_csv(path, ["N", "D"], target, baseline="none")
    got = pd.concat([task.train, task.test]).sort_values(["N", "D"])
    want = df.sort_values(["N", "D"])
    np.testing.assert_allclose(got[target].to_numpy(), want["loss"].to_numpy(), rtol=1e-12)


def test_a_refused_column_names_the_cell_no_spelling_reads(tmp_path):
    """Sizes with a suffix and one '~4e8': the error names '~4e8' and its line, not the first '2.85B' (which is
    fine on its own; a new-user audit)."""
    df = chinchilla_frame()
    cells = [f"{n * (1 + 1e-3 * i) / 1e6:.6g}M" for i, n in enumerate(df["N"])]  # every size read off a figure
    cells[3] = "~4e8"  # line 5 of the file
    path = tmp_path / "runs.csv"
    df.assign(N=cells).to_csv(path, index=False)
    with pytest.raises(DataError, match=r"column 'N' is not numeric \(e.g. '~4e8' in line 5 of the file"):
        task_from_csv(path, ["N", "D"], "loss", baseline="none")


@pytest.mark.parametrize("column", ["dates", "durations", "periods"])
def test_a_feature_of_dates_is_refused_with_what_to_give_instead(column):
    """A DataFrame column of dates was read as nanoseconds since 1970 and fitted (a law in exp(date / 1.4e12)), and
    the run's own copy of the table, where it is text, could not be read back by report, eval or predict (a fuzzed
    API call, session 56)."""
    df = chinchilla_frame()
    start = pd.Timestamp("2024-01-01")
    df["dates"] = start + pd.to_timedelta(np.arange(len(df)), unit="D")
    df["durations"] = pd.to_timedelta(np.arange(len(df)), unit="h")
    df["periods"] = pd.period_range("2024-01", periods=len(df), freq="M")
    hint = r"\.dt\.total_seconds\(\) / 3600" if column == "durations" else r"\.min\(\)\)\.dt\.days"
    with pytest.raises(DataError, match=rf"column '{column}' holds dates or times, not numbers; .*{hint}") as err:
        task_from_frame(df, ["N", column], "loss", name="dated")
    assert len(task_from_frame(df, ["N", "D"], "loss", name="dated").train)  # beside the features, no matter
    exec(str(err.value).split(": ")[-1], {"df": df})  # noqa: S102 - the line the message suggests, as given
    assert len(task_from_frame(df, ["N", column], "loss", name="dated", linear_features=[column]).train)


def test_empty_rows_are_dropped_and_lines_still_counted_from_the_file(tmp_path):
    df = chinchilla_frame()
    lines = df.to_csv(index=False).splitlines()
    lines.insert(5, "")     # a blank line: line 6 of the file
    lines.insert(9, ",,")   # a row left empty: line 10
    path = tmp_path / "runs.csv"
    path.write_text("\n".join(lines) + "\n")
    task = task_from_csv(path, ["N", "D"], "loss", baseline="none")
    assert len(task.train) + len(task.test) == len(df)
    lines[20] = lines[20].rsplit(",", 1)[0] + ","  # line 21 of the file: no loss
    path.write_text("\n".join(lines) + "\n")
    with pytest.warns(UserWarning, match=r"1 run\(s\) have no value for 'loss' \(line 21 of the file"):
        task = task_from_csv(path, ["N", "D"], "loss", baseline="none")
    assert len(task.train) + len(task.test) == len(df) - 1


@pytest.mark.parametrize("sep, commas", [(",", 2), (",", 3), (";", 2)])
def test_empty_columns_a_spreadsheet_adds_after_the_table_are_dropped(tmp_path, sep, commas):
    """Excel writes ``N,D,loss,,`` after columns once formatted: the unnamed empty columns were taken as one name
    given twice and the table refused (a fuzzed table, session 57)."""
    df = chinchilla_frame()
    path = tmp_path / "runs.csv"
    path.write_text("".join(line + sep * commas + "\n" for line in df.to_csv(index=False, sep=sep).splitlines()))
    done = _tasks_csv(path, "--features", "N,D", "--target", "loss")
    assert done.returncode == 0 and "error" not in done.stderr, done.stderr
    task = task_from_csv(path, ["N", "D"], "loss", baseline="none")
    assert len(task.train) + len(task.test) == len(df)


def test_unnamed_columns_that_hold_values_are_refused_with_what_to_do(tmp_path):
    """One unnamed column with values (a pandas index) loads as before; two cannot be told apart."""
    df = chinchilla_frame()
    path = tmp_path / "runs.csv"
    df.to_csv(path)  # the index as a first, unnamed column
    assert len(task_from_csv(path, ["N", "D"], "loss", baseline="none").train)
    header, *rows = df.to_csv().splitlines()  # and a note in a column left unnamed, then an empty one
    path.write_text(header + ",,\n" + "".join(f"{line},note {i},\n" for i, line in enumerate(rows)))
    done = _tasks_csv(path, "--features", "N,D", "--target", "loss")
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert lines[0].startswith("error: ") and "columns 1, 5 of the header have no name but hold values" in lines[0]


@pytest.mark.parametrize("kind, expected", [
    ("empty", "is empty"),
    ("header-only", "has no rows"),
    ("workbook", "save the sheet as CSV"),
])
def test_files_that_are_no_table_of_runs_get_one_error_line(tmp_path, kind, expected):
    path = tmp_path / "runs.csv"
    if kind == "empty":
        path.write_text("")
    elif kind == "header-only":
        path.write_text("N,D,loss\n")
    else:
        with zipfile.ZipFile(path, "w") as z:
            z.writestr("xl/workbook.xml", "<workbook/>")
    done = _tasks_csv(path, "--features", "N,D", "--target", "loss")
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    assert expected in lines[0]


# ---------------------------------------------------------------- rules
def _odd_names() -> pd.DataFrame:
    """A Chinchilla grid of 13 N x 11 D with names that need quoting (enough sizes each way for inner folds)."""
    N, D = (a.ravel() for a in np.meshgrid(np.logspace(7, 10, 13), np.logspace(9, 12, 11), indexing="ij"))
    loss = 1.7 + 400 / N**0.34 + 410 / D**0.28
    return pd.DataFrame({"model size": N, "tokens-seen": D, "val loss": loss})


@pytest.mark.parametrize("rule", ["`model size` >= 1e9", "model size >= 1e9", "`model size` >= 1e9 or tokens-seen >= 5e11",
                                  "tokens-seen >= 1e11"])
def test_rules_name_columns_with_spaces_or_dashes(rule):
    df = _odd_names()
    task = task_from_frame(df, ["model size", "tokens-seen"], "val loss", test=rule, baseline="none")
    assert len(task.test) and task.val_mask.any()
    # the derived validation rule is itself a rule that reads back
    assert np.array_equal(rule_mask(task.train, task.val_rule, task.features), task.val_mask)
    assert [f.name for f in task.inner_folds()]


def test_default_rule_on_a_column_with_a_space_is_a_threshold_when_every_size_differs():
    x = np.logspace(7, 10, 24)
    df = pd.DataFrame({"model size": x, "loss": 2 + 100 / x**0.3})
    task = task_from_frame(df, ["model size"], "loss", baseline="none")
    assert task.test_rule.startswith("`model size` >")
    assert np.array_equal(rule_mask(task.train, task.val_rule, task.features), task.val_mask)


@pytest.mark.parametrize("name", ["size:params", "Unnamed: 0"])
def test_the_default_split_works_on_a_column_whose_name_holds_a_colon(tmp_path, name):
    """The default rule the tool wrote, largest:size:params, was read as column 'size' and K 'params' (session 57)."""
    path = tmp_path / "runs.csv"
    chinchilla_frame().rename(columns={"N": name}).to_csv(path, index=False)
    done = _tasks_csv(path, "--features", f"{name},D", "--target", "loss")
    assert done.returncode == 0 and "error" not in done.stderr, done.stderr
    task = task_from_csv(path, [name, "D"], "loss", baseline="none")
    assert task.test_rule == f"largest:`{name}`" and len(task.test)
    assert np.array_equal(rule_mask(task.train, task.val_rule, task.features), task.val_mask) and task.val_mask.any()


@pytest.mark.parametrize("rule, k", [("largest:size:params", 1), ("largest:`size:params`", 1),
                                     ("largest:size:params:2", 2), ("largest: `size:params` : 2", 2)])
def test_a_largest_rule_names_a_column_holding_a_colon_as_it_is_or_in_backticks(rule, k):
    df = chinchilla_frame()
    want = rule_mask(df, f"largest:N:{k}")
    assert want.any() and np.array_equal(rule_mask(df.rename(columns={"N": "size:params"}), rule), want)
    # beside a column named like a name and a K, the whole name is the column; backticks give the other reading
    both = df.assign(**{"N:2": df["D"]})
    assert np.array_equal(rule_mask(both, "largest:N:2"), rule_mask(df, "largest:D"))
    assert np.array_equal(rule_mask(both, "largest:`N`:2"), rule_mask(df, "largest:N:2"))
    with pytest.raises(DataError, match="column 'size:param' not found"):
        rule_mask(df.rename(columns={"N": "size:params"}), "largest:size:param")


def test_a_rule_naming_a_misspelt_column_says_how_to_quote_names():
    with pytest.raises(DataError, match="names column 'model', which is not in the data.*backticks"):
        task_from_frame(_odd_names(), ["model size", "tokens-seen"], "val loss", test="model >= 1e9")


@pytest.mark.parametrize("rule", ["Q > 3", "largest:Q"])
def test_a_rule_naming_an_unknown_column_lists_the_tables_own_columns(rule):
    df = chinchilla_frame()  # no group column: evosld's own, added for the one group, is not the user's to name
    with pytest.raises(DataError, match="Q") as err:
        task_from_frame(df, ["N", "D"], "loss", test=rule, baseline="none")
    listed = str(err.value).split("(columns: ")[1].split(")")[0]
    assert listed.split(", ") == [str(c) for c in df.columns]


@pytest.mark.parametrize("pandas_rule, rule", [("N >= 1e9 & D >= 1e11", "N >= 1e9 and D >= 1e11"),
                                               ("N >= 3e9 | D >= 5e11", "N >= 3e9 or D >= 5e11"),
                                               ("~(N < 1e9)", "N >= 1e9")])
def test_rules_in_pandas_query_spelling_mean_what_pandas_means(pandas_rule, rule):
    df = chinchilla_frame()
    assert np.array_equal(rule_mask(df, pandas_rule), rule_mask(df, rule))
    df["model"] = np.where(df["N"] > 3e9, "a|b", "c&d")  # | and & inside quotes are text
    assert rule_mask(df, "model == 'c&d' & N > 3e8").sum() == ((df["model"] == "c&d") & (df["N"] > 3e8)).sum()


@pytest.mark.parametrize("spelt, rule", [("N >= 1B", "N >= 1e9"), ("N>=2.2B and D > 100b", "N >= 2.2e9 and D > 1e11"),
                                         ("N >= 1,000,000,000", "N >= 1e9"), ("N < 46.4m", "N < 4.64e7"),
                                         ("D >= 1T | N > 5e9", "D >= 1e12 or N > 5e9")])
def test_rules_read_numbers_spelt_as_the_table_may_spell_them(spelt, rule):
    """A table read with sizes as 1.3B or 1,300,000 gets rules written the same way."""
    df = chinchilla_frame()
    assert np.array_equal(rule_mask(df, spelt), rule_mask(df, rule)) and rule_mask(df, rule).any()
    df["model"] = np.where(df["N"] > 3e9, "1B", "70M")  # inside quotes a suffix is text
    assert rule_mask(df, "model == '1B'").sum() == (df["N"] > 3e9).sum()
    task = task_from_frame(chinchilla_frame(), ["N", "D"], "loss", test=spelt, baseline="none")
    assert len(task.test) == rule_mask(df, rule).sum() and task.val_mask.any()


@pytest.mark.parametrize("rule, expected", [("model >= 1e9", "compares text with a number"),
                                            ('N >= "1e9"', "compares text with a number"),
                                            ("N + model > 3", "cannot be computed")])
def test_rules_mixing_text_and_numbers_get_one_error_line(rule, expected):
    df = chinchilla_frame().assign(model="m")
    with pytest.raises(DataError, match=expected):
        task_from_frame(df, ["N", "D"], "loss", test=rule)


def _three_models() -> pd.DataFrame:
    return pd.concat([chinchilla_frame(seed=k).assign(model=k + 1) for k in range(3)], ignore_index=True)


def test_quoted_text_that_no_run_holds_is_refused_not_read_as_false():
    """Inside ``or``, a comparison that is False on every row quietly gives its group the other branch's rows."""
    df = _three_models()
    rule = "(model == '1' and N >= 1e9) or (model != '1' and N >= 1e8)"
    with pytest.raises(DataError, match=r"compares text with a number: 'model' holds numbers.*model == 1\b"):
        task_from_frame(df, ["N", "D"], "loss", group="model", test=rule)
    task = task_from_frame(df, ["N", "D"], "loss", group="model", test=rule.replace("'1'", "1"), baseline="none")
    ones = task.test[task.test["model"] == 1]
    assert (ones["N"] >= 1e9).all() and len(ones) == ((df["model"] == 1) & (df["N"] >= 1e9)).sum()
    df["model"] = df["model"].map({1: "a", 2: "b", 3: "c"})
    with pytest.raises(DataError, match=r"no run has model == 'A' \(did you mean 'a'\? its values: 'a', 'b', 'c'\)"):
        task_from_frame(df, ["N", "D"], "loss", group="model", test=rule.replace("'1'", "'A'"))
    with pytest.raises(DataError, match="--val .*no run has model == 'z'"):
        task_from_frame(df, ["N", "D"], "loss", group="model", test="N >= 1e9", val="model == 'z' or N >= 1e8")


def test_runs_a_rule_cannot_place_are_left_out_with_their_lines():
    """A compute column with gaps: the runs without a value are neither test nor train (they were the largest)."""
    df = chinchilla_frame()
    df["C"] = 6 * df["N"] * df["D"]
    df.loc[df.index[-3:], "C"] = np.nan
    with pytest.warns(UserWarning, match=r"3 run\(s\) have no value for 'C', which --test reads \(lines 41, 42, 43"):
        task = task_from_frame(df, ["N", "D"], "loss", test="C >= 1e20", baseline="none")
    assert len(task.train) + len(task.test) == len(df) - 3 and not task.val_rule.startswith("random:")


def test_a_rule_column_spelt_as_the_table_spells_sizes_is_read_as_numbers():
    df = chinchilla_frame()
    df["size"] = [f"{n / 1e6:g}M" for n in df["N"]]
    task = task_from_frame(df, ["N", "D"], "loss", test="size >= 1B", baseline="none")
    assert len(task.test) == (df["N"] >= 1e9).sum()


def test_a_test_rule_that_only_selects_rows_still_gets_validation_rows():
    """A rule with no threshold to relax (tag == 'big') cannot give a band in train: validation is random."""
    df = chinchilla_frame()
    df["tag"] = np.where(df["N"] > 3e9, "big", "small")
    task = task_from_frame(df, ["N", "D"], "loss", test="tag == 'big'", baseline="none")
    assert task.val_rule.startswith("random:") and task.val_mask.sum() >= 3


# ---------------------------------------------------------------- what is in the table
def test_a_group_only_in_test_says_which_and_what_to_do():
    df = pd.concat([chinchilla_frame().assign(model="a"), chinchilla_frame().assign(model="b", N=lambda d: d.N * 1e4)])
    with pytest.raises(DataError, match=r"holds out every row of group\(s\) b.*give --test a rule"):
        task_from_frame(df, ["N", "D"], "loss", group="model", test="N >= 1e10")


def test_a_first_feature_with_one_value_names_the_default_rule():
    df = chinchilla_frame().assign(N=1e9)
    with pytest.raises(DataError, match="the first feature, takes one value.*list a feature that varies first"):
        task_from_frame(df, ["N", "D"], "loss")


def test_a_constant_feature_is_warned_about():
    df = chinchilla_frame().assign(epochs=1.0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        task_from_frame(df, ["N", "D", "epochs"], "loss", baseline="none")
    assert any("feature 'epochs' takes one value (1)" in str(w.message) for w in caught)
    assert not [w for w in caught if "test runs take other values" in str(w.message)]


def test_a_feature_constant_in_train_but_not_in_test_is_named_with_the_test_values():
    """All training runs at one learning rate and the test runs at another: the law cannot know what that does."""
    df = chinchilla_frame()
    df["lr"] = np.where(df["N"] > 2e9, 1e-4, 3e-4)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        task_from_frame(df, ["N", "D", "lr"], "loss", test="N > 2e9", baseline="none")
    said = [str(w.message) for w in caught if "feature 'lr'" in str(w.message)]
    assert len(said) == 1 and "takes one value (0.0003) in every row" in said[0], said
    assert "the test runs take other values (0.0001), which the laws predict as if it were 0.0003" in said[0]




def test_a_feature_constant_within_every_group_is_warned_about():
    """Model size beside --group-by model: each group is fitted alone, so its size is a constant there."""
    df = pd.concat([chinchilla_frame(seed=s).assign(model=m, N=n) for s, (m, n) in
                    enumerate([("a", 1e8), ("b", 3e8), ("c", 1e9)])])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        task_from_frame(df, ["N", "D"], "loss", group="model", test="D >= 1e11", baseline="none")
        task_from_frame(df, ["N", "D"], "loss", test="D >= 1e11", baseline="none")  # one law across them: fine
    said = [str(w.message) for w in caught if "within every group" in str(w.message)]
    assert len(said) == 1 and "feature 'N' takes one value within every group (3 groups)" in said[0]
    assert "drop --group-by" in said[0]


def _suite(ratio_of_test: float = 20.0, groups: tuple[str, ...] = ("all",)) -> pd.DataFrame:
    """A suite trained compute-optimally: D = 20 N on every run (sizes written to three digits), the largest
    four models as test, trained at ``ratio_of_test`` tokens per parameter."""
    rng = np.random.default_rng(0)
    frames = []
    for k, g in enumerate(groups):
        N = np.array([float(f"{v:.3g}") for v in np.geomspace(7e7, 1.2e10, 12) * (1 + 0.1 * k)])
        D = np.array([float(f"{v:.3g}") for v in N * np.where(N >= 2.9e9, ratio_of_test, 20.0) * (1 + k)])
        loss = (1.7 + 400 / N**0.34 + 410 / D**0.28) * (1 + 0.003 * rng.standard_normal(len(N)))
        frames.append(pd.DataFrame({"model": g, "N": N, "D": D, "loss": loss}))
    return pd.concat(frames, ignore_index=True)


@pytest.mark.parametrize("df, group, expected", [
    (_suite(), None, "(D = 20 x N), so no law can tell their effects apart: the law found holds along that line "
                     "only; keep one of them; the test runs lie on it too"),
    (_suite(ratio_of_test=80.0), None, "4 test run(s) leave it (e.g. N=2.95e+09, D=2.36e+11), and their "
                                       "predictions are a guess"),
    (_suite(groups=("a", "b")), "model", "(D follows N within every group)"),
])
def test_features_that_move_together_on_every_run_are_warned_about(df, group, expected):
    """Tokens = 20 x parameters on every run (a compute-optimal suite): the effects of N and D cannot be told apart."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        task_from_frame(df, ["N", "D"], "loss", group=group, test="N >= 2.9e9", baseline="none")
    said = [str(w.message) for w in caught if "move together" in str(w.message)]
    assert len(said) == 1 and "features 'N' and 'D' move together on every train run" in said[0]
    assert expected in said[0]


def test_a_feature_that_is_a_product_of_others_is_warned_about():
    """Compute C = 6 N D listed beside N and D: C adds nothing a law could learn from."""
    df = chinchilla_frame()
    df = df.assign(C=[float(f"{v:.3g}") for v in 6 * df["N"] * df["D"]])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        task_from_frame(df, ["N", "D", "C"], "loss", test="C > 1e21", baseline="none")
    said = [str(w.message) for w in caught if "every train run" in str(w.message)]
    assert len(said) == 1, said
    assert ("feature 'C' follows 'N' and 'D' on every train run (C = 6 x N x D), so no law can tell its effect from "
            "theirs: the law found holds on that surface only; drop 'C' from the features; the test runs lie on it "
            "too") in said[0]


def test_features_that_only_grow_together_are_not_said_to_move_together():
    """Data grown with model size, but with several token counts per size (the usual table), and the shares
    of a mixture: no warning."""
    df = chinchilla_frame()
    df = df.assign(D=df["D"] * df["N"] / 1e7)  # correlated with N, not tied to it
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        task_from_frame(df, ["N", "D"], "loss", baseline="none")
        # the shares of a mixture sum to one by design: the last is no feature that "follows" the others
        rng = np.random.default_rng(0)
        p = rng.dirichlet([1.0, 1.0, 1.0], 40)
        mix = pd.DataFrame({"p1": p[:, 0], "p2": p[:, 1], "p3": p[:, 2], "loss": 3 - p @ [0.3, 0.2, 0.1]})
        task_from_frame(mix, ["p1", "p2", "p3"], "loss", test="random:6", baseline="none")
    assert not [w for w in caught if "every train run" in str(w.message)]


@pytest.mark.parametrize("rule, val, warned", [
    ("loss < 2.6", None, "(validation is derived from the target too)"),
    ("`loss` <= 2.6 and N > 1e8", "N > 3e8", "test R² is biased; a rule on a feature"),
    ("N >= 1e9", None, None),
])
def test_a_test_rule_on_the_target_is_warned_about(rule, val, warned):
    """Picking the test runs by their loss picks them partly by their noise: the user is told, the run goes on."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        task_from_frame(chinchilla_frame(), ["N", "D"], "loss", test=rule, val=val, baseline="none")
    said = [str(w.message) for w in caught if "picks runs by the target" in str(w.message)]
    if warned is None:
        assert not said
    else:
        assert len(said) == 1 and f"the test rule {rule!r} picks runs by the target 'loss' itself" in said[0]
        assert warned in said[0]


@pytest.mark.parametrize("val, warned", [
    ("N < 2e7", "validation ('N < 2e7') lies below the fitted runs in N while test lies above them"),
    ("loss < 2.8", "the validation rule 'loss < 2.8' picks runs by the target 'loss' itself"),
    ("N >= 2e8", None),  # the band below test, written to include it: the usual way, no word
    ("N >= 2e8 and N < 1e9", None),
    ("random:5", None),  # reads no column: no side to be on
    ("D >= 3e10", None),  # another column than test's
])
def test_a_validation_rule_on_the_target_or_on_the_far_side_is_warned_about(val, warned):
    """A --val on the opposite side of the fitted runs from --test (a '<' typed for a '>') or on the target was
    accepted without a word (a fuzzed run, session 56); the run goes on with it."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        task = task_from_frame(chinchilla_frame(), ["N", "D"], "loss", test="N >= 1e9", val=val, baseline="none")
    said = [str(w.message) for w in caught if "validation" in str(w.message)]
    assert task.val_mask.any()
    if warned is None:
        assert not said, said
    else:
        assert len(said) == 1 and warned in said[0], said


def test_largest_k_on_sizes_read_apart_says_it_holds_part_of_a_size_and_which_tolerance_keeps_it_whole():
    """Six sizes x five data sizes, every size read 1% off: ``largest:N:2`` held out the largest readings of the
    largest size (3 runs of 5) without a word (a fuzzed run, session 56); the warning names the tolerance."""
    rng = np.random.default_rng(1)
    N = np.repeat([70e6, 160e6, 410e6, 1e9, 2.8e9, 7e9], 5) * (1 + rng.normal(0, 0.01, 30))
    D = np.tile([2e9, 6e9, 20e9, 60e9, 200e9], 6) * (1 + rng.normal(0, 0.01, 30))
    df = pd.DataFrame({"N": N, "D": D, "loss": 1.7 + 400 / N**0.34 + 410 / D**0.28 + rng.normal(0, 0.01, 30)})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        task = task_from_frame(df, ["N", "D"], "loss", test="largest:N:2", baseline="none")
    [said] = [str(w.message) for w in caught if "part of N's largest size" in str(w.message)]
    tol = float(said.split("--scale-tolerance ")[-1].split()[0])
    assert f"holds out {len(task.test)} run(s)" in said and len(task.test) < 10
    whole = task_from_frame(df, ["N", "D"], "loss", test="largest:N:2", baseline="none", scale_tolerance=tol)
    assert len(whole.test) == 10 and f"and {len(whole.test)} runs are held out" in said
    for sizes in ([70e6, 160e6, 410e6, 1e9, 2.8e9, 7e9], [70e6, 410e6, 1e9, 3e9, 6.6e9, 7e9]):
        with warnings.catch_warnings(record=True) as caught:  # exact sizes, also two 6% apart: nothing to say
            warnings.simplefilter("always")
            for rule in ("largest:N", "largest:N:2", None):
                task_from_frame(df.assign(N=np.repeat(sizes, 5)), ["N", "D"], "loss", test=rule, baseline="none")
        assert not [w for w in caught if "largest size" in str(w.message)]


def test_the_rule_suggested_instead_of_one_on_the_target_is_on_the_tables_own_feature():
    """The warning suggested "N >= 1e9" on a table with no N (a fuzzed run, session 56): it now suggests the
    rule the table gets by default, on its first feature."""
    df = chinchilla_frame().rename(columns={"N": "params", "D": "tokens"})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        task_from_frame(df, ["params", "tokens"], "loss", test="loss < 2.6", baseline="none")
    [said] = [str(w.message) for w in caught if "picks runs by the target" in str(w.message)]
    suggested = said.split('such as "')[1].split('"')[0]
    assert "params" in suggested and "N >=" not in said
    task_from_frame(df, ["params", "tokens"], "loss", test=suggested, baseline="none")  # and it is a rule that works

def test_a_group_whose_target_never_varies_is_warned_about_by_name(tmp_path):
    df = pd.concat([chinchilla_frame(seed=s).assign(model=m) for s, m in enumerate(["a", "b", "c"])])
    df.loc[df.model == "c", "loss"] = 2.5  # a failed export: one value in every run of c
    path = tmp_path / "runs.csv"
    df.to_csv(path, index=False)
    done = _tasks_csv(path, "--features", "N,D", "--target", "loss", "--group-by", "model")
    assert done.returncode == 0, done.stderr
    warned = [line for line in done.stderr.splitlines() if "one value in every run" in line]
    assert warned == ["warning: runs: 'loss' takes one value in every run of group(s) 'c' (2.5); R² within such a "
                      "group is undefined and no law learns a scaling from it: check those rows, or drop the "
                      "group(s)"], done.stderr
    with warnings.catch_warnings():  # groups that vary: no warning
        warnings.simplefilter("error")
        task_from_frame(df[df.model != "c"], ["N", "D"], "loss", group="model", baseline="none")


def test_a_target_listed_as_a_feature_is_refused():
    with pytest.raises(DataError, match="'loss' is both a feature and a target"):
        task_from_frame(chinchilla_frame(), ["N", "D", "loss"], "loss")


def test_a_feature_named_group_is_not_silently_taken_as_the_groups():
    df = chinchilla_frame().assign(group=np.arange(len(chinchilla_frame())) % 3)
    with pytest.raises(DataError, match="rename it in the table.*or give --group-by group"):
        task_from_frame(df, ["N", "D", "group"], "loss")


#: How a spreadsheet may write a model size in every cell (70M, 1.3B, ...).
SPELLINGS = {
    "70M": lambda v: f"{v / 1e6:.6g}M",
    "1.3B": lambda v: f"{v / 1e9:.6g}B",
    "1.4b": lambda v: f"{v / 1e9:.6g}b",
    "1.3 B": lambda v: f"{v / 1e9:.6g} B",
    "400B tokens": lambda v: f"{v / 1e9:.6g}B tokens",
    "6.7e9 beside 1.3B": lambda v: f"{v / 1e9:.6g}B" if v < 1e9 else f"{v:.6e}",
    "1,300,000": lambda v: f"{int(round(v)):,}",
    "1_300_000": lambda v: f"{int(round(v)):_}",
}


@pytest.mark.parametrize("spelling", list(SPELLINGS))
def test_sizes_written_one_way_in_every_cell_are_read(spelling):
    df = chinchilla_frame()
    text = [SPELLINGS[spelling](v) for v in df["N"]]
    task = task_from_frame(df.assign(N=text), ["N", "D"], "loss", baseline="none")
    got = pd.concat([task.train, task.test])["N"].to_numpy()
    np.testing.assert_allclose(np.sort(got), np.sort(df["N"].to_numpy()), rtol=1e-5)


def test_thousands_that_could_be_decimal_commas_are_read_as_thousands_with_one_warning(tmp_path):
    """A comma-separated file has '.' decimals, so a quoted "4,611" is 4611; as it could be 4.611, it is said once."""
    df = chinchilla_frame()
    table = df.assign(loss=[f"{int(round(v * 1000)):,}" for v in df["loss"]])  # 4.611 -> "4,611"
    path = tmp_path / "runs.csv"
    table.to_csv(path, index=False)
    assert '"4,' in path.read_text() or '"3,' in path.read_text()
    done = _tasks_csv(path, "--features", "N,D", "--target", "loss")
    assert done.returncode == 0, done.stderr
    first = table["loss"].iloc[0]
    warned = [line for line in done.stderr.splitlines() if line.startswith("warning:")]
    assert warned == [f"warning: runs: column 'loss': cells like \"{first}\" were read as {first.replace(',', '')} "
                      "(a thousands separator); if the comma is a decimal mark, save the table with ';' as separator "
                      "or '.' decimals"], done.stderr
    # written unmistakably (two separators in a cell, or a decimal point beside them): no warning
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        unmistakable = {"D": [f"{int(round(v)):,}" for v in df["D"]],        # 1,000,000,000
                        "loss": [f"{v * 1000:,.1f}" for v in df["loss"]]}  # 4,611.4
        for col, cells in unmistakable.items():
            task_from_frame(df.assign(**{col: cells}), ["N", "D"], "loss", baseline="none")


def _accuracy_frame() -> pd.DataFrame:
    """An accuracy rising with model size and data (a logistic in log compute), with a little noise."""
    df = chinchilla_frame()
    x = np.log10(df["N"] * df["D"])
    acc = 0.25 + 0.7 / (1 + np.exp(-(x - 19.0))) + 0.005 * np.random.default_rng(1).standard_normal(len(df))
    return df.drop(columns="loss").assign(acc=np.round(acc, 4))


def test_percentages_in_every_cell_are_read_as_fractions_with_one_warning(tmp_path):
    """An accuracy table copied from a paper often says 45.3%; it was refused, now it is the fraction, said once."""
    df = _accuracy_frame()
    path = tmp_path / "runs.csv"
    df.assign(acc=[f"{100 * a:.2f}%" for a in df["acc"]]).to_csv(path, index=False)
    done = _tasks_csv(path, "--features", "N,D", "--target", "acc", "--test", "N > 2e9")
    assert done.returncode == 0, done.stderr
    warned = [line for line in done.stderr.splitlines() if line.startswith("warning:")]
    first = f"{100 * df['acc'].iloc[0]:.2f}%"
    assert warned == [f"warning: runs: column 'acc' holds percentages, read as fractions (\"{first}\" as "
                      f"{float(first[:-1]) / 100:.15g}); laws and scores are in fractions"], done.stderr
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        task = task_from_csv(path, ["N", "D"], "acc", test="N > 2e9")
    got = pd.concat([task.train, task.test])
    np.testing.assert_allclose(np.sort(got["acc"].to_numpy()), np.sort(df["acc"].to_numpy()), rtol=1e-9)
    assert task.target_range == (0.0, 1.0)  # a fraction gets the range of one
    # a spaced percent sign is the same; percentages beside plain fractions are refused with the cell
    spaced = [f"{100 * a:.1f} %" for a in df["acc"]]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        task_from_frame(df.assign(acc=spaced), ["N", "D"], "acc")
    mixed = [f"{100 * a:.1f}%" for a in df["acc"]]
    mixed[3] = "0.5"
    with pytest.raises(DataError, match=r"'acc' is not numeric \(e.g. '\d+\.\d%' in line 2.*percentages \(45%\) "
                                        r"are read only when every cell"):
        task_from_frame(df.assign(acc=mixed), ["N", "D"], "acc")


def test_a_decimal_comma_after_a_lone_zero_is_refused_not_read_as_thousands(tmp_path):
    """ "0,461" has no thousands to separate: it was read as 461; now it is refused with what to do."""
    df = chinchilla_frame()
    path = tmp_path / "runs.csv"
    df.assign(loss=[f"{v / 10:.3f}".replace(".", ",") for v in df["loss"]]).to_csv(path, index=False)
    with pytest.raises(DataError, match=r"'loss' is not numeric \(e.g. '0,\d{3}' in line 2 .*a decimal comma \(0,5\) "
                                        r"is read only in a ';'-separated file: save the table with ';' as separator"):
        task_from_csv(path, ["N", "D"], "loss")


@pytest.mark.parametrize("cells, expected", [
    (["70M", "400"], r"mixes sizes with a suffix \('70M' in line 2.*and plain numbers \('400' in line 3"),
    (["~4e8", "1.3B"], r"'N' is not numeric \(e.g. '~4e8' in line 2.*read only when every cell"),
    (["1,300,000", "1300"], r"'N' is not numeric.*read only when every cell"),
    (["20B tokens", "1.3T params"], r"'N' is not numeric"),
])
def test_sizes_written_two_ways_are_refused_with_the_cells(cells, expected):
    df = chinchilla_frame()
    text = [f"{v:.6e}" for v in df["N"]]
    text[:2] = cells
    with pytest.raises(DataError, match=expected):
        task_from_frame(df.assign(N=text), ["N", "D"], "loss")


@pytest.mark.parametrize("mark", ["", "NaN", "nan", "-", "N/A", "?"])
def test_runs_with_a_missing_value_are_left_out_with_their_lines(tmp_path, mark):
    df = chinchilla_frame().astype(object)
    df.loc[4, "loss"] = mark
    df.loc[9, "D"] = mark
    df.loc[12, "N"] = "  "
    path = tmp_path / "runs.csv"
    df.to_csv(path, index=False)
    with pytest.warns(UserWarning, match=r"3 run\(s\) have no value for 'N', 'D', 'loss' \(lines 6, 11, 14 of the file"):
        task = task_from_csv(path, ["N", "D"], "loss", baseline="none")
    assert len(task.train) + len(task.test) == len(df) - 3


def test_a_column_mostly_empty_is_refused_rather_than_left_with_a_few_runs():
    df = chinchilla_frame()
    df.loc[df.index[: len(df) // 2], "loss"] = np.nan
    with pytest.raises(DataError, match=r"'loss' has NaN or infinite values in lines 2, 3"):
        task_from_frame(df, ["N", "D"], "loss")


def test_a_feature_of_labels_says_to_group_by_it(tmp_path):
    df = chinchilla_frame().assign(opt=["adam", "sgd"] * 21)
    with pytest.raises(DataError, match=r"feature 'opt' holds labels, not numbers \(2 distinct: 'adam', 'sgd'\); "
                                        r".*give --group-by opt and leave it out of --features"):
        task_from_frame(df, ["N", "D", "opt"], "loss")
    with pytest.raises(DataError, match=r"join it and 'model' into one column \(e.g. 'a/adam'\)"):
        task_from_frame(df.assign(model=["a", "b", "c"] * 14), ["N", "D", "opt"], "loss", group="model")
    # a column of names, one per run, is no set of labels: the general advice on numbers stays
    with pytest.raises(DataError, match=r"'opt' is not numeric .*write plain numbers"):
        task_from_frame(df.assign(opt=[f"run{i}" for i in range(len(df))]), ["N", "D", "opt"], "loss")
    path = tmp_path / "runs.csv"
    df.to_csv(path, index=False)
    out = subprocess.run([sys.executable, "-m", "evosld.cli", "discover", "--csv", str(path), "--features", "N,D,opt",
                          "--target", "loss", "--output", str(tmp_path / "run")],
                         capture_output=True, text=True, env=dict(os.environ), timeout=300)
    assert out.returncode == 2 and out.stderr.count("\n") == 1 and "Traceback" not in out.stderr
    assert out.stderr.startswith("error: runs: feature 'opt' holds labels") and not (tmp_path / "run").exists()


def test_a_run_without_a_group_is_refused():
    df = chinchilla_frame().astype({"N": float}).assign(model=["a", "b", ""] * 14)
    df.loc[5, "model"] = np.nan
    with pytest.raises(DataError, match=r"the group column 'model' is empty in lines 4, 7, 10"):
        task_from_frame(df, ["N", "D"], "loss", group="model")


def test_group_labels_pandas_would_read_as_missing_are_labels(tmp_path):
    """A regulariser column of None, dropout, NA, wd was refused as 'empty in lines 2, 3, ...' (session 57);
    only an empty cell is missing there, and missing marks in a number column stay missing."""
    labels = ["None", "NA", "null", "n/a", "dropout"]
    df = chinchilla_frame().astype({"loss": object})
    df["reg"] = [labels[i % len(labels)] for i in range(len(df))]
    df.loc[4, "loss"] = "NA"
    path = tmp_path / "runs.csv"
    df.to_csv(path, index=False)
    done = _tasks_csv(path, "--features", "N,D", "--target", "loss", "--group-by", "reg")
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    with pytest.warns(UserWarning, match=r"1 run\(s\) have no value for 'loss' \(line 6 of the file"):
        task = task_from_csv(path, ["N", "D"], "loss", group="reg", baseline="none")
    assert sorted(task.groups) == sorted(labels)
    df.loc[[2, 7], "reg"] = ""  # empty cells: no group
    df.to_csv(path, index=False)
    done = _tasks_csv(path, "--features", "N,D", "--target", "loss", "--group-by", "reg")
    [line] = done.stderr.strip().splitlines()
    assert done.returncode == 2 and "the group column 'reg' is empty in lines 4, 9" in line, done.stderr


def test_group_labels_read_as_missing_are_kept_when_the_header_is_one_cell_short(tmp_path):
    """R's write.table leaves the header one cell short, so pandas takes the first column as the index: the
    labels re-read as text had another index than the table, and every group label became missing."""
    df = chinchilla_frame()
    df["reg"] = [["None", "a", "b"][i % 3] for i in range(len(df))]
    path = tmp_path / "runs.csv"
    path.write_text(",".join(df.columns) + "\n" + df.to_csv(header=False))  # each row starts with its index
    task = task_from_csv(path, ["N", "D"], "loss", group="reg", baseline="none")
    assert sorted(task.groups) == ["None", "a", "b"]


@pytest.mark.parametrize("columns, test", [
    (("lambda", "exp", "np"), "lambda >= 1e9"),
    (("lambda", "exp", "np"), "`lambda` >= 1e9 and exp > 1e9"),
    (("in", "D", "loss"), "`in` >= 1e9"),
])
def test_columns_named_like_python_words_work_in_given_and_derived_rules(columns, test):
    from evosld.tasks.splits import rule_mask as mask_of

    df = chinchilla_frame().set_axis(columns, axis=1)
    task = task_from_frame(df, list(columns[:2]), columns[2], test=test, baseline="none")
    assert len(task.test) > 0 and task.val_mask.any()
    # the derived validation rule is written so it parses again
    assert mask_of(task.train, task.val_rule, tuple(columns[:2])).sum() == task.val_mask.sum()


def test_a_rule_with_a_single_equals_says_to_write_two():
    with pytest.raises(DataError, match="compare with =="):
        rule_mask(chinchilla_frame(), "N = 1e9")


def test_a_column_listed_twice_is_refused():
    with pytest.raises(DataError, match=r"'N' listed more than once"):
        task_from_frame(chinchilla_frame(), ["N", "N"], "loss")


def test_the_group_column_as_a_feature_is_refused():
    with pytest.raises(DataError, match=r"'D' is both the group column and a feature"):
        task_from_frame(chinchilla_frame(), ["N", "D"], "loss", group="D")


def test_a_column_named_in_another_case_is_suggested():
    with pytest.raises(DataError, match=r"column\(s\) n, Loss not found .*did you mean 'N', 'loss'\?"):
        task_from_frame(chinchilla_frame(), ["n", "D"], "Loss")


def test_duplicate_runs_are_named_by_their_lines_in_the_file(tmp_path):
    df = chinchilla_frame()
    path = tmp_path / "runs.csv"
    pd.concat([df, df.iloc[:2]]).to_csv(path, index=False)  # the copies are lines 44 and 45
    with pytest.warns(UserWarning, match=r"2 duplicate row\(s\) \(e.g. lines 44, 45 of the file"):
        task_from_csv(path, ["N", "D"], "loss", test="N > 1e9", baseline="none")


def test_three_model_sizes_with_the_largest_as_test_warn_that_extrapolation_is_a_guess():
    N = np.repeat([1e7, 3e8, 1e10], 8)
    D = np.tile(np.logspace(9, 12, 8), 3)
    df = pd.DataFrame({"N": N, "D": D, "loss": 1.7 + 400 / N**0.34 + 410 / D**0.28})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        task_from_frame(df, ["N", "D"], "loss", baseline="none")
    assert any("train holds at only 2 value(s)" in str(w.message) for w in caught)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        task_from_frame(chinchilla_frame(), ["N", "D"], "loss", baseline="none")
    assert not [w for w in caught if "value(s)" in str(w.message)]


def test_eight_runs_are_refused_with_how_many_are_needed():
    N = np.logspace(7, 10, 8)
    with pytest.raises(DataError, match="8 runs are too few.*9 in all"):
        task_from_frame(pd.DataFrame({"N": N, "loss": 1.7 + 400 / N**0.34}), ["N"], "loss")
    N = np.logspace(7, 10, 10)
    task_from_frame(pd.DataFrame({"N": N, "loss": 1.7 + 400 / N**0.34}), ["N"], "loss")
    # six runs at two sizes: the default rules leave nothing to fit on, but the runs are what is missing
    N, D = np.repeat([1e7, 3e7], 3), np.tile([1e9, 1e10, 1e11], 2)
    with pytest.raises(DataError, match=r"6 runs are too few.*9 in all\); add runs"):
        task_from_frame(pd.DataFrame({"N": N, "D": D, "loss": 1.7 + 400 / N**0.34 + 410 / D**0.28}), ["N", "D"], "loss")


def test_with_random_validation_the_search_still_extrapolates_along_the_test_rule():
    """Three model sizes, the largest as test: validation falls back to random settings, and shows no direction;
    the search must still not curve a bowl along N (a parabola in ln N through two sizes scored test R² -3938)."""
    from evosld.proposers.symbolic.proposer import SymbolicProposer

    N = np.repeat([1e7, 3e8, 1e10], 8)
    D = np.tile(np.logspace(9, 12, 8), 3)
    df = pd.DataFrame({"N": N, "D": D, "loss": 1.7 + 400 / N**0.34 + 410 / D**0.28})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        task = task_from_frame(df, ["N", "D"], "loss", baseline="none")
    assert task.val_rule.startswith("random:") and task.test_beyond == ("N",)
    space = SymbolicProposer(task.search_view()).space
    assert 0 in space.extrapolated and not space.bowl_axis(0)
    # the final pick probes one step beyond train along N (3e8 -> 1e10 by the step 1e7 -> 3e8): a law that runs away
    # there (c N^4 through two sizes: test R² -1.2e13) is passed over
    probe = task.probe()["all_data"]
    np.testing.assert_allclose(probe[:, 0], 3e8 * 30.0, rtol=1e-9)
    np.testing.assert_allclose(sorted(probe[:, 1]), sorted(D[:8]), rtol=1e-9)


def test_with_random_validation_a_test_rule_below_train_is_extrapolated_downwards():
    """The mirror image: three data sizes, the smallest held out as test (``D <= 1e9``). Validation falls back to
    random rows; the search must know D is extrapolated *downwards* (no bowl along it, its range checks below the
    smallest runs), the final pick probes one step below the smallest train size, and the user is warned that two
    sizes say little about a third below them."""
    from evosld.proposers.symbolic.proposer import SymbolicProposer

    N = np.tile(np.logspace(7, 10, 8), 3)
    D = np.repeat([3e8, 1e10, 3e11], 8)
    df = pd.DataFrame({"N": N, "D": D, "loss": 1.7 + 400 / N**0.34 + 410 / D**0.28})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        task = task_from_frame(df, ["N", "D"], "loss", test="D <= 3e8", baseline="none")
    assert any("test lies beyond train along 'D', which train holds at only 2 value(s)" in str(w.message)
               for w in caught)
    assert task.val_rule.startswith("random:") and task.test_beyond == ("D",) and task.test_below == ("D",)
    space = SymbolicProposer(task.search_view()).space
    assert 1 in space.extrapolated and 1 in space.below and not space.bowl_axis(1)
    probe = task.probe()["all_data"]  # 1e10 -> 3e11 is a step of 30x: one such step below 1e10
    np.testing.assert_allclose(probe[:, 1], 1e10 / 30.0, rtol=1e-9)
    np.testing.assert_allclose(sorted(probe[:, 0]), sorted(N[:8]), rtol=1e-9)


def test_flop_counts_written_as_long_integers_are_numbers(tmp_path):
    """Integers beyond 64 bits (6 N D written out in full) are read by pandas as text; they said 'not numeric'."""
    df = chinchilla_frame()
    flops = [str(6 * int(n) * int(d)) for n, d in zip(df["N"], df["D"])]
    path = tmp_path / "runs.csv"
    path.write_text("C,N,loss\n" + "".join(f"{c},{n!r},{y!r}\n" for c, n, y in zip(flops, df["N"], df["loss"])))
    task = task_from_csv(path, ["C", "N"], "loss", test="C >= 1e21", baseline="none")
    got = pd.concat([task.train, task.test])["C"].to_numpy()
    assert got.dtype == float
    np.testing.assert_allclose(np.sort(got), np.sort(6 * df["N"].to_numpy() * df["D"].to_numpy()), rtol=1e-6)


def test_features_whose_names_sanitise_alike_keep_distinct_names_in_formulas():
    from evosld.proposers.symbolic.space import short_names

    assert short_names(("model size", "model_size", "model-size", "N")) == ("model_size", "model_size_2",
                                                                           "model_size_3", "N")


def test_targets_and_group_are_accepted_spellings():
    from evosld.cli import build_parser

    args = build_parser().parse_args(["discover", "--csv", "x.csv", "--features", "N", "--targets", "a,b",
                                      "--group", "model"])
    assert args.target == "a,b" and args.group_by == "model"


def test_a_test_rule_that_holds_out_nothing_shows_the_ranges():
    with pytest.raises(DataError, match=r"holds out no run \(the features span N 1e\+07 to 1e\+10, D 1e\+09 to 1e\+12\)"):
        task_from_frame(chinchilla_frame(), ["N", "D"], "loss", test="N > 1e12")


def test_an_equality_no_size_meets_exactly_says_so_and_gives_a_rule_that_works():
    """Sizes read off a figure (1.0002e10) never equal 1e10: the error says == is exact and suggests a threshold."""
    df = chinchilla_frame()
    df["N"] = df["N"] * (1 + 3e-4 * np.random.default_rng(0).standard_normal(len(df)))
    with pytest.raises(DataError, match=r"test rule 'N == 1e10' holds out no run .*; == compares exactly, and no N "
                                        r"equals 1e\+10 \(the nearest is .*\): give --test a threshold rule such as "
                                        r'"N >= 9.9e9"$'):
        task_from_frame(df, ["N", "D"], "loss", test="N == 1e10")
    with pytest.raises(DataError, match=r'holds out no run .*such as "N >= 9.9e8 and N <= 1.01e9"$') as seen:
        task_from_frame(df, ["N", "D"], "loss", test="N == 1e9")  # runs lie above: a band
    band = str(seen.value).split('such as "')[1].rstrip('"')
    task = task_from_frame(df, ["N", "D"], "loss", test=band, baseline="none")
    assert len(task.test) == 6  # the six runs at 1e9
    with pytest.raises(DataError, match=r"validation rule '1e9 == N' holds out no run of train; == compares exactly.*"
                                        r"give --val a threshold rule"):
        task_from_frame(df, ["N", "D"], "loss", test="N >= 9.9e9", val="1e9 == N")
    with pytest.raises(DataError, match=r"holds out no run \(the features span [^)]*\); give --test a rule that holds "
                                        r"out the largest runs"):  # no == in it: as before
        task_from_frame(df, ["N", "D"], "loss", test="N > 1e12")


def test_split_errors_suggest_rules_that_work_on_the_users_own_table():
    """Found by a new-user audit: the suggested band missed a size 1.6% off, the example rule named a column N the
    table did not have, a too-small random test blamed --val the user never gave, and random:-3 raised."""
    df = chinchilla_frame()
    df["N"] = np.where(np.isclose(df["N"], 1e9), 1.016e9, df["N"])
    with pytest.raises(DataError, match=r"no N equals 1e\+09 \(the nearest is 1.016e\+09") as seen:
        task_from_frame(df, ["N", "D"], "loss", test="N == 1e9")
    band = str(seen.value).split('such as "')[1].rstrip('"')
    assert len(task_from_frame(df, ["N", "D"], "loss", test=band, baseline="none").test) == 6  # the runs meant
    renamed = chinchilla_frame().rename(columns={"N": "params", "D": "tokens"})
    for rule, what in (("params > 1e12", "holds out no run"), ("params > 0", "holds out every row")):
        with pytest.raises(DataError, match=what) as seen:
            task_from_frame(renamed, ["params", "tokens"], "loss", test=rule)
        example = str(seen.value).split('such as "')[1].split('"')[0]
        task_from_frame(renamed, ["params", "tokens"], "loss", test=example, baseline="none")  # a rule that works
    with pytest.raises(DataError, match=r"validation rule 'random:1' holds out only .* give --test \(validation is "
                                        r"derived from it\) or --val a rule"):
        task_from_frame(chinchilla_frame(), ["N", "D"], "loss", test="random:1")
    with pytest.raises(DataError, match=r"split rule 'random:-3': K is how many feature settings per group"):
        task_from_frame(chinchilla_frame(), ["N", "D"], "loss", test="random:-3")


def _part_jittered() -> pd.DataFrame:
    """chinchilla_frame with two of the six runs at N = 1e10 and one at 1e9 read off a figure as slightly off."""
    df = chinchilla_frame()
    at_top, at_1e9 = np.flatnonzero(df["N"] == 1e10), np.flatnonzero(np.isclose(df["N"], 1e9))
    df["N"] = np.where(np.isclose(df["N"], 1e9), 1e9, df["N"])  # logspace gives 999999999.9999998
    df.loc[at_top[[1, 4]], "N"] = 1.0000012e10
    df.loc[at_1e9[2], "N"] = 9.9995e8
    return df


def _split_warnings(marker: str = "== compares exactly", **kwargs) -> tuple[list[str], object]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        task = task_from_frame(_part_jittered(), ["N", "D"], "loss", baseline="none", **kwargs)
    return [str(w.message) for w in caught if marker in str(w.message)], task


def test_an_equality_that_splits_one_size_warns_and_names_a_rule_that_keeps_it_whole():
    """N == 1e10 holds out the four exact runs; the two read as 1.0000012e10 (within the scale tolerance: the same
    size) would leak into train. Rows stay as the rule says, and one warning says so and gives a threshold."""
    said, task = _split_warnings(test="N == 1e10")
    assert said == ["my_law: the test rule 'N == 1e10' holds out 4 run(s) with N exactly 1e10, but 2 more within the "
                    "scale tolerance (0.001) of it stay in train (e.g. N = 1.0000012e10): == compares exactly; to keep "
                    "that size on one side, give --test a threshold rule such as \"N >= 9.99e9\""]
    assert len(task.test) == 4 and (task.test["N"] == 1e10).all()  # comparisons stay exact
    assert (task.train["N"] == 1.0000012e10).sum() == 2
    said, task = _split_warnings(test="N >= 9.99e9")  # the rule suggested: the whole size, no warning
    assert said == [] and len(task.test) == 6
    # compound rules: the other clauses are kept in the rule suggested
    said, task = _split_warnings(test="N == 1e10 and D >= 1e10")
    assert len(said) == 1 and "holds out 3 run(s) with N exactly 1e10, but 1 more" in said[0], said
    assert said[0].endswith('such as "N >= 9.99e9 and D >= 1e10"')
    said, _ = _split_warnings(test="D >= 2e11 or N == 1e10")  # one near copy has the largest D: held out anyway
    assert len(said) == 1 and "holds out 4 run(s) with N exactly 1e10, but 1 more" in said[0], said
    assert said[0].endswith('such as "D >= 2e11 or N >= 9.99e9"')
    said, _ = _split_warnings(test="N == 1e10 or N == 1.0000012e10")  # both copies named: nothing left behind
    assert said == []
    said, _ = _split_warnings(test="N == 1e10", scale_tolerance=1e-7)  # 1.2e-7 apart: two sizes at this tolerance
    assert said == []


def test_an_equality_that_splits_one_size_in_the_validation_rule_warns_too():
    said, task = _split_warnings(test="N >= 9.99e9", val="1e9 == N")
    assert said == ["my_law: the validation rule '1e9 == N' holds out 5 run(s) with N exactly 1e9, but 1 more within "
                    "the scale tolerance (0.001) of it stay in the rows fitted (e.g. N = 9.9995e8): == compares "
                    "exactly; to keep that size on one side, give --val a threshold rule such as "
                    "\"N >= 9.99e8 and N <= 1e9\""]
    assert int(task.val_mask.sum()) == 5
    said, task = _split_warnings(test="N >= 9.99e9", val="N >= 9.99e8 and N <= 1e9")
    assert said == [] and int(task.val_mask.sum()) == 6
    said, _ = _split_warnings(test="N >= 9.99e9")  # a derived validation rule is not the user's: no warning
    assert said == []


def _cut_warnings(**kwargs) -> tuple[list[str], object]:
    return _split_warnings("cuts one size", **kwargs)


def test_a_threshold_that_cuts_one_size_in_two_warns_and_names_a_rule_that_keeps_it_whole():
    """N >= 1e9 holds out the runs at 1e9 and leaves the one read as 9.9995e8 (the same size) in train; the rows
    stay as the rule says, and one warning names the size and a threshold that keeps it whole."""
    said, task = _cut_warnings(test="N >= 1e9")
    assert said == ["my_law: the test rule 'N >= 1e9' cuts one size of N in two: its runs from 9.9995e8 to 1e9 count as "
                    "one size (scale tolerance 0.001), and the rule, with its threshold at 1e9, holds out 5 of its 6 runs "
                    "while the others stay in train; to keep that size on one side, give --test a rule such as "
                    "\"N >= 9.9995e8\""], said
    assert (task.train["N"] == 9.9995e8).sum() == 1  # comparisons stay exact
    assert _cut_warnings(test="N >= 9.9995e8")[0] == []  # the rule suggested: the whole size, no warning
    said, _ = _cut_warnings(test="D >= 2e11 or 1e9 <= N")  # either way round, the other clause kept
    assert len(said) == 1 and said[0].endswith('such as "D >= 2e11 or N >= 9.9995e8"'), said
    said, _ = _cut_warnings(test="N >= 9.99e9", val="N < 1e9")  # a rule holding the values below: the size's top
    assert len(said) == 1 and "validation rule 'N < 1e9'" in said[0] and 'such as "N <= 1e9"' in said[0], said
    assert _cut_warnings(test="N >= 1e9", scale_tolerance=1e-5)[0] == []  # 5e-5 apart: two sizes at this tolerance
    # what the whole rule holds out counts, not the comparison alone
    assert _cut_warnings(test="N >= 1e9 and N >= 2e9")[0] == []  # no run of the size held out: nothing cut
    said, task = _cut_warnings(test="N >= 1e9 and D >= 1e11")
    assert all("holds out" not in w or f"holds out {int((task.test.N == 1e9).sum())} of" in w for w in said), said
    assert _cut_warnings(test="not (N < 1e9)")[0] == []  # under a not: a suggestion would point the other way
    steps = np.logspace(9, 10, 20_000)  # a continuous column: runs within the tolerance of each other all along it
    dense = pd.DataFrame({"tokens": steps, "loss": 2 + 1e3 / steps**0.3})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        task_from_frame(dense, ["tokens"], "loss", test="tokens >= 5e9", name="dense")
    assert not [w for w in caught if "cuts one size" in str(w.message)]


def test_an_equality_that_splits_one_size_is_one_warning_line_on_the_command_line(tmp_path):
    path = tmp_path / "runs.csv"
    _part_jittered().to_csv(path, index=False)
    done = _tasks_csv(path, "--features", "N,D", "--target", "loss", "--test", "N == 1e10")
    assert done.returncode == 0, done.stderr
    warned = [line for line in done.stderr.splitlines() if line.startswith("warning:")]
    assert warned == ["warning: runs: the test rule 'N == 1e10' holds out 4 run(s) with N exactly 1e10, but 2 more "
                      "within the scale tolerance (0.001) of it stay in train (e.g. N = 1.0000012e10): == compares "
                      "exactly; to keep that size on one side, give --test a threshold rule such as \"N >= 9.99e9\""]


def test_a_spreadsheet_with_sizes_as_text_gaps_and_python_word_names_runs_end_to_end(tmp_path):
    """`evosld discover --csv` on a semicolon file with a BOM, CRLF, sizes as 70M / 1.3B, token counts with
    thousands separators, runs marked N/A and columns named lambda / exp: it runs, warns once about the gaps."""
    df = chinchilla_frame()
    table = pd.DataFrame({"lambda": [f"{v / 1e6:.6g}M" for v in df["N"]],
                          "exp": [f"{int(round(v)):,}" for v in df["D"]],
                          "Loss (nats)": [f"{v:.6f}" for v in df["loss"]]})
    table.loc[3, "Loss (nats)"] = "N/A"
    path = tmp_path / "runs.csv"
    path.write_bytes(("\ufeff" + table.to_csv(index=False, sep=";", lineterminator="\r\n")).encode("utf-8"))
    done = subprocess.run(
        [sys.executable, "-m", "evosld.cli", "discover", "--csv", str(path), "--features", "lambda,exp",
         "--target", "Loss (nats)", "--test", "lambda >= 1e9", "--iterations", "2", "--quiet",
         "--output", str(tmp_path / "run")],
        capture_output=True, text=True, env=dict(os.environ), timeout=300)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert "1 run(s) have no value for 'Loss (nats)' (line 5 of the file" in done.stderr
    assert (tmp_path / "run" / "best.json").exists()


def test_lines_are_counted_in_the_file_below_comment_lines(tmp_path):
    df = chinchilla_frame()
    df.loc[3, "loss"] = np.nan  # line 2 + 2 comment lines + 3 = line 7
    path = tmp_path / "runs.csv"
    path.write_text("# my sweep\n# lr 3e-4\n" + df.to_csv(index=False))
    with pytest.warns(UserWarning, match=r"have no value for 'loss' \(line 7 of the file") as seen:
        task_from_csv(path, ["N", "D"], "loss", baseline="none")
    assert not any("line 1 is the header" in str(w.message) for w in seen)  # it is line 3 here


def test_a_comment_line_inside_the_data_is_named_by_its_line(tmp_path):
    """`# rerun below` halfway down is a row of text and gaps: it was dropped as a run with gaps, and then the
    column was "not numeric" without a cell; now the error names the line and says where comments may go."""
    lines = chinchilla_frame().to_csv(index=False).splitlines()
    path = tmp_path / "runs.csv"
    path.write_text("\n".join([*lines[:6], "# rerun below", *lines[6:]]) + "\n")  # line 7
    done = _tasks_csv(path, "--features", "N,D", "--target", "loss")
    assert done.returncode == 2 and done.stderr.splitlines() == [
        "error: runs: column 'N' is not numeric (e.g. '# rerun below' in line 7 of the file (counting every line, "
        "the header too)); that line is a comment, and comment lines ('# ...') are skipped only above the header: "
        "delete it, or move it above the header"], done.stderr


def test_a_text_cell_on_a_row_with_gaps_is_still_named():
    df = chinchilla_frame().astype(object)
    df.loc[5, "D"] = "~3e9"
    df.loc[5, "loss"] = ""
    with pytest.raises(DataError, match=r"column 'D' is not numeric \(e.g. '~3e9' in line 7 of the file.*write plain"):
        task_from_frame(df, ["N", "D"], "loss")


def test_a_column_name_with_a_comma_is_given_in_double_quotes(tmp_path):
    path = tmp_path / "runs.csv"
    chinchilla_frame().rename(columns={"N": "size (params, M)"}).to_csv(path, index=False)
    done = _tasks_csv(path, "--features", '"size (params, M)",D', "--target", "loss", "--test", "D >= 1e11")
    assert done.returncode == 0, done.stderr
    done = _tasks_csv(path, "--features", "size (params, M),D", "--target", "loss")
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1, done.stderr
    assert "column(s) 'size (params', 'M)' not found" in lines[0] and "goes in double quotes" in lines[0]


def test_column_names_in_a_script_the_figures_font_lacks_print_no_glyph_warnings(tmp_path):
    """损失 against Nüm and Δ tokens: the run and its report work, and matplotlib's one warning per missing glyph
    (four lines of noise in a new-user audit) is not printed; the page's text names the columns in full."""
    import warnings

    import evosld

    df = chinchilla_frame().rename(columns={"N": "Nüm", "D": "Δ tokens", "loss": "损失"})
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        result = evosld.discover(df, features=["Nüm", "Δ tokens"], target="损失", test="`Nüm` >= 1e9",
                                 iterations=2, budget_seconds=None, output=str(tmp_path / "run"), progress=False)
    assert not [w for w in seen if "Glyph" in str(w.message)]
    assert "损失" in (tmp_path / "run" / "report.html").read_text(encoding="utf-8")
    assert result.test["r2"] is not None


def test_group_labels_typed_with_spaces_around_them_are_one_group():
    df = _three_models()
    df["model"] = [f"m{m}" + (" " if i % 2 else "") for i, m in enumerate(df["model"])]
    task = task_from_frame(df, ["N", "D"], "loss", group="model", test="N >= 1e9 and model != 'm3'", baseline="none")
    assert sorted(task.groups) == ["m1", "m2", "m3"] and set(task.test["model"]) == {"m1", "m2"}


def test_a_list_of_names_with_an_empty_one_is_refused():
    from evosld.tasks.tables import split_names

    assert split_names("N, D,") == ["N", "D"]
    for text in (",D", "N,,D"):
        with pytest.raises(DataError, match="has an empty name .*a column is missing from it"):
            split_names(text)


def test_a_table_given_as_a_task_name_gets_the_csv_hint(tmp_path):
    from evosld.tasks import load_task

    with pytest.raises(DataError, match="unknown task 'runs.csv'.*give it with --csv runs.csv --features"):
        load_task("runs.csv")
    with pytest.raises(DataError) as err:
        load_task("moe_law")
    assert "--csv" not in str(err.value)


def test_groups_of_one_run_each_say_so_instead_of_suggesting_the_rule_that_failed():
    df = chinchilla_frame().assign(model=lambda d: [f"m{i}" for i in range(len(d))])
    with pytest.raises(DataError, match=r"each of its 42 groups holds one run.*group the runs more coarsely"):
        task_from_frame(df, ["N", "D"], "loss", group="model")


def test_columns_passed_by_something_other_than_their_name_get_one_line():
    df = chinchilla_frame()
    with pytest.raises(DataError, match=r"take the names \(text\) of the table's columns, and 0, 1, 2 are not one"):
        task_from_frame(df.set_axis([0, 1, 2], axis=1), [0, 1], 2)
    with pytest.raises(DataError, match=r"\['model'\] is not one: pass names"):
        task_from_frame(df.assign(model="a"), ["N", "D"], "loss", group=["model"])
    task = task_from_frame(df.assign(**{"7": "x"}).rename(columns={"7": 7}), ["N", "D"], "loss", baseline="none")
    assert len(task.train) > 0  # an unnamed column the law does not use is no obstacle


# ---------------------------------------------------------------- names written into the programs
_SOURCE_NAMES = ["$\\xi$", "C:\\runs\\N", 'N"""x', "N\nparams", "tok\\ens\r", "nul\x00name", "a\u2028b", 'end"']


@pytest.mark.parametrize("name", _SOURCE_NAMES)
def test_a_name_written_into_a_docstring_or_comment_reads_back_and_compiles_cleanly(name):
    """A LaTeX header ($\\xi$), a Windows path or three quotes pasted into an emitted program's docstring made
    every candidate a syntax error ('malformed \\N character escape'): the run found no law. A line break ended
    the ``# name`` comment in the basis, so every candidate failed with 'unexpected indent'."""
    import ast

    from evosld.program import source_text

    module = f'"""Features, in order: {source_text(name)}."""\nx = 1  # {source_text(name)}\n'
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an invalid escape ('\\e') is a warning today, an error in a later Python
        tree = ast.parse(module)
    assert ast.get_docstring(tree, clean=False) == f"Features, in order: {name}."
    assert len(module.splitlines()) == 2


@pytest.mark.parametrize("name", ["$\\xi$", 'N"""x', "N\nparams"])
def test_a_run_on_a_column_whose_name_breaks_python_source_finds_its_law(tmp_path, name):
    """Every program evosld writes (symbolic candidates, the starter, the Chinchilla reference) compiles with
    such a name, so the search evaluates laws, and the run's own program predicts through `evosld predict`."""
    import sqlite3

    import evosld

    target = f"loss {name}"  # the target's name goes into the formula line of the docstring
    df = chinchilla_frame().rename(columns={"D": name, "loss": target})
    result = evosld.discover(df, features=["N", name], target=target, test="N >= 1e9", iterations=6,
                             budget_seconds=None, output=str(tmp_path / "run"), progress=False)
    with sqlite3.connect(tmp_path / "run" / "run.sqlite") as db:
        kinds = dict(db.execute("select coalesce(error_kind, 'ok'), count(*) from evaluations group by 1").fetchall())
    assert kinds.get("ok", 0) > 2 and "static" not in kinds, kinds
    best = json.loads((tmp_path / "run" / "best.json").read_text(encoding="utf-8"))
    assert best["reference"]["test"]["r2"] is not None  # the law beside it (starter or Chinchilla) compiled too
    source = (tmp_path / "run" / "best_program.py").read_text(encoding="utf-8")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        compile(source, "best_program.py", "exec")
    assert result.predict(df.head(3)).shape[0] == 3


def test_a_list_of_names_with_a_line_break_outside_quotes_is_one_error_line(tmp_path):
    path = tmp_path / "runs.csv"
    chinchilla_frame().rename(columns={"N": "N\nparams"}).to_csv(path, index=False)
    done = _tasks_csv(path, "--features", "N\nparams,D", "--target", "loss")
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert "holds a line break outside quotes" in lines[0]
    assert _tasks_csv(path, "--features", '"N\nparams",D', "--target", "loss", "--test", "D >= 1e11").returncode == 0


def test_a_few_groups_with_fewer_sizes_than_most_are_named_as_what_limits_every_groups_law():
    """35 learning-rate groups, 4 of them with two fewer model sizes: the law of every group lost its floor (test
    R² 0.973 against 0.9996 without those groups) and only evosld.log said why (fuzzed). The warning names the
    groups, their sizes against the median group's and what to do; evenly sampled groups get no warning."""
    rng = np.random.default_rng(0)
    rows = []
    for g in range(12):
        sizes = np.geomspace(1e7, 3e9, 8 if g >= 2 else 5)
        for n in sizes:
            rows.append((f"lr{g}", n, 1.7 + 400 * n ** -0.34 * (1 + 0.01 * rng.standard_normal())))
    df = pd.DataFrame(rows, columns=["lr", "N", "loss"])
    with pytest.warns(UserWarning, match=r"2 of 12 groups \('lr0', 'lr1'\) hold 'N' at only 3 distinct values in the "
                                         r"fit rows \(the median group: 6\).*at most 2 free parameter\(s\) in all "
                                         r"groups.*give those groups more runs, or leave them out"):
        task_from_frame(df, ["N"], "loss", group="lr", baseline="none")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        task_from_frame(df[~df["lr"].isin(["lr0", "lr1"])], ["N"], "loss", group="lr", baseline="none")


@pytest.mark.parametrize("spell", [lambda v: f"{int(v):,}".replace(",", "."), lambda v: f"{v / 1e9:g}Btok",
                                   lambda v: f"{int(v):,}".replace(",", "\u00a0")])
def test_numbers_in_a_form_not_read_are_not_called_labels(spell):
    """'10.000.000' (European thousands), '3.2Btok' or non-breaking-space thousands repeated across runs were
    refused as labels with the advice to fit one law per label (--group-by N); they are numbers, and the error
    says how to write them."""
    df = chinchilla_frame().astype({"N": object})
    df["N"] = [spell(v) for v in chinchilla_frame()["N"]]
    with pytest.raises(DataError, match=r"column 'N' is not numeric .*write plain numbers") as err:
        task_from_frame(df, ["N", "D"], "loss")
    assert "group-by" not in str(err.value)


def test_labels_that_start_with_a_digit_are_still_labels():
    df = chinchilla_frame().astype({"N": object})
    df["N"] = [["1st", "2nd", "3rd"][i % 3] for i in range(len(df))]
    with pytest.raises(DataError, match=r"feature 'N' holds labels, not numbers.*--group-by N"):
        task_from_frame(df, ["N", "D"], "loss")


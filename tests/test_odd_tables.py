"""Own tables as spreadsheets and people write them: each one loads, or stops with one `error:` line saying what to do."""

from __future__ import annotations

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
                                  "quoted-header"])
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
    else:
        df.to_csv(path, index=False, quoting=1)
    task = task_from_csv(path, ["N", "D"], target, baseline="none")
    got = pd.concat([task.train, task.test]).sort_values(["N", "D"])
    want = df.sort_values(["N", "D"])
    np.testing.assert_allclose(got[target].to_numpy(), want["loss"].to_numpy(), rtol=1e-12)


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
    with pytest.raises(DataError, match=r"'loss' has NaN or infinite values in line 21 of the file"):
        task_from_csv(path, ["N", "D"], "loss")


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
    return chinchilla_frame().rename(columns={"N": "model size", "D": "tokens-seen", "loss": "val loss"})


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


def test_a_rule_naming_a_misspelt_column_says_how_to_quote_names():
    with pytest.raises(DataError, match="names column 'model', which is not in the data.*backticks"):
        task_from_frame(_odd_names(), ["model size", "tokens-seen"], "val loss", test="model >= 1e9")


@pytest.mark.parametrize("pandas_rule, rule", [("N >= 1e9 & D >= 1e11", "N >= 1e9 and D >= 1e11"),
                                               ("N >= 3e9 | D >= 5e11", "N >= 3e9 or D >= 5e11"),
                                               ("~(N < 1e9)", "N >= 1e9")])
def test_rules_in_pandas_query_spelling_mean_what_pandas_means(pandas_rule, rule):
    df = chinchilla_frame()
    assert np.array_equal(rule_mask(df, pandas_rule), rule_mask(df, rule))
    df["model"] = np.where(df["N"] > 3e9, "a|b", "c&d")  # | and & inside quotes are text
    assert rule_mask(df, "model == 'c&d' & N > 3e8").sum() == ((df["model"] == "c&d") & (df["N"] > 3e8)).sum()


@pytest.mark.parametrize("rule, expected", [("model >= 1e9", "compares text with a number"),
                                            ('N >= "1e9"', "compares text with a number"),
                                            ("N + model > 3", "cannot be computed")])
def test_rules_mixing_text_and_numbers_get_one_error_line(rule, expected):
    df = chinchilla_frame().assign(model="m")
    with pytest.raises(DataError, match=expected):
        task_from_frame(df, ["N", "D"], "loss", test=rule)


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


def test_a_target_listed_as_a_feature_is_refused():
    with pytest.raises(DataError, match="'loss' is both a feature and a target"):
        task_from_frame(chinchilla_frame(), ["N", "D", "loss"], "loss")


def test_a_feature_named_group_is_not_silently_taken_as_the_groups():
    df = chinchilla_frame().assign(group=np.arange(len(chinchilla_frame())) % 3)
    with pytest.raises(DataError, match="rename it in the table.*or give --group-by group"):
        task_from_frame(df, ["N", "D", "group"], "loss")


def test_sizes_written_with_units_say_how_to_write_numbers():
    df = chinchilla_frame().astype({"N": object})
    df["N"] = [f"{v / 1e9:.3g}B" for v in chinchilla_frame()["N"]]
    with pytest.raises(DataError, match="'N' is not numeric.*write plain numbers"):
        task_from_frame(df, ["N", "D"], "loss")


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

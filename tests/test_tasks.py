"""Loaders, split rules and every bad-input error."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from evosld.errors import DataError
from evosld.tasks import load_task, task_from_csv, task_from_frame, task_names
from evosld.tasks.splits import rule_mask
from tests.conftest import chinchilla_frame


@pytest.mark.data
@pytest.mark.parametrize("name", task_names())
def test_builtin_tasks_load_with_disjoint_splits(name, data_dir):
    t = load_task(name, data_dir=data_dir)
    s = t.summary()
    assert s["rows"]["val"] > 0 and s["rows"]["test"] > 0 and s["rows"]["fit"] > 0
    assert s["rows"]["fit"] + s["rows"]["val"] == s["rows"]["train"]
    fit, scored = t.split_arrays("val")
    assert set(scored) <= set(fit)
    for g in scored.values():
        assert g.X.shape[1] == len(t.features)
    assert t.search_view().test.empty


@pytest.mark.data
def test_validation_mimics_test_regime(data_dir):
    t = load_task("sft_scaling_law", data_dir=data_dir)
    assert (t.val_df["sft_data_size"] == t.fit_df["sft_data_size"].max() * 2).all()
    m = load_task("moe_scaling_law", data_dir=data_dir)
    assert m.val_df["dense_parameter_count"].min() > m.fit_df["dense_parameter_count"].max()


@pytest.mark.data
def test_data_dir_from_environment(data_dir, monkeypatch):
    monkeypatch.setenv("EVOSLD_DATA", str(data_dir))
    assert load_task("moe_scaling_law").name == "moe_scaling_law"


def test_unknown_task_lists_known_ones(tmp_path):
    with pytest.raises(DataError, match="known tasks: data_constrained_scaling_law"):
        load_task("nope", data_dir=tmp_path)


def test_missing_task_folder(tmp_path):
    with pytest.raises(DataError, match="no folder"):
        load_task("sft_scaling_law", data_dir=tmp_path)


def write_sft(tmp_path, train: pd.DataFrame, test: pd.DataFrame):
    d = tmp_path / "sft_scaling_law"
    d.mkdir()
    train.to_csv(d / "train.csv", index=False)
    test.to_csv(d / "test.csv", index=False)


def sft_frames():
    sizes = [200, 400, 800, 1600, 3200]
    train = pd.DataFrame({"group": "m|d", "sft_data_size": sizes, "sft_loss": [3.0, 2.8, 2.5, 2.2, 2.0]})
    test = pd.DataFrame({"group": ["m|d"], "sft_data_size": [6400], "sft_loss": [1.9]})
    return train, test


def test_missing_column(tmp_path):
    train, test = sft_frames()
    write_sft(tmp_path, train.drop(columns="sft_loss"), test)
    with pytest.raises(DataError, match=r"column\(s\) sft_loss not found \(columns: group, sft_data_size\)"):
        load_task("sft_scaling_law", data_dir=tmp_path)


def test_nan_values(tmp_path):
    train, test = sft_frames()
    train.loc[2, "sft_loss"] = np.nan
    write_sft(tmp_path, train, test)
    with pytest.raises(DataError, match=r"NaN or infinite values in line 4 of the file \(counting every line, the header too\)"):
        load_task("sft_scaling_law", data_dir=tmp_path)


def test_non_positive_log_feature(tmp_path):
    train, test = sft_frames()
    train.loc[0, "sft_data_size"] = 0
    write_sft(tmp_path, train, test)
    with pytest.raises(DataError, match="log scale but has values <= 0 in line 2 of the file"):
        load_task("sft_scaling_law", data_dir=tmp_path)


def test_group_too_small(tmp_path):
    train, test = sft_frames()
    other = pd.DataFrame({"group": "n|d", "sft_data_size": 100.0 * 2.0 ** np.arange(12),
                          "sft_loss": 3.0 - 0.1 * np.arange(12)})  # a second group with runs enough
    write_sft(tmp_path, pd.concat([train.iloc[-2:], other.iloc[:-3]]), pd.concat([test, other.iloc[-3:]]))
    with pytest.raises(DataError, match="fewer than 3 rows left to fit"):
        load_task("sft_scaling_law", data_dir=tmp_path)


def test_non_numeric_target():
    df = chinchilla_frame()
    df["loss"] = df["loss"].astype(str)
    df.loc[3, "loss"] = "oops"
    with pytest.raises(DataError, match="'loss' is not numeric"):
        task_from_frame(df, ["N", "D"], "loss")


def test_empty_test_split():
    with pytest.raises(DataError, match="holds out no run"):
        task_from_frame(chinchilla_frame(), ["N", "D"], "loss", test="N > 1e20")


def test_test_rule_holding_out_everything():
    with pytest.raises(DataError, match="holds out every row"):
        task_from_frame(chinchilla_frame(), ["N", "D"], "loss", test="N > 0")


def test_bad_rule_and_unknown_column():
    df = chinchilla_frame()
    with pytest.raises(DataError, match="not a valid expression"):
        task_from_frame(df, ["N", "D"], "loss", test="N >>> 3")
    with pytest.raises(DataError, match="names column 'M'"):
        task_from_frame(df, ["N", "D"], "loss", test="M > 3")
    with pytest.raises(DataError, match="not understood"):
        task_from_frame(df, ["N", "D"], "loss", test="__import__('os')")


def test_default_split_holds_out_largest_first_feature(synthetic_task):
    t = synthetic_task
    assert (t.test["N"] == 1e10).all()
    assert (t.val_df["N"] == t.fit_df["N"].max() * 10**0.5).all()
    assert set(t.log_features) == {"N", "D"}


def test_rule_expressions():
    df = pd.DataFrame({"group": ["a"] * 4, "N": [1.0, 2.0, 3.0, 4.0], "D": [4.0, 3.0, 2.0, 1.0]})
    assert rule_mask(df, "N >= 3").tolist() == [False, False, True, True]
    assert rule_mask(df, "N >= 3 or D >= 4").tolist() == [True, False, True, True]
    assert rule_mask(df, "not (N * D > 5)").tolist() == [True, False, False, True]
    assert rule_mask(df, "1 < N <= 3").tolist() == [False, True, True, False]
    assert rule_mask(df, "largest:D").tolist() == [True, False, False, False]
    assert rule_mask(df, "random:2", ("N",)).sum() == 2


def test_csv_file_not_found(tmp_path):
    with pytest.raises(DataError, match="file not found"):
        task_from_csv(tmp_path / "runs.csv", ["N"], "loss")


def test_duplicate_rows_warn(tmp_path):
    df = chinchilla_frame()
    df = pd.concat([df, df.iloc[:3]])
    with pytest.warns(UserWarning, match="duplicate row"):
        task_from_frame(df, ["N", "D"], "loss")


@pytest.mark.parametrize("features, targets", [(["N", "D"], "loss"), (["D"], "loss"), (["N", "D"], ["loss", "acc"])])
def test_group_arrays_are_each_groups_rows_in_table_order(features, targets):
    """Task.arrays takes the rows of all groups in one pass; each group's arrays are its rows in table order, in the
    memory order its own slice of the table gives (what a law's fit received before), groups in train order.
    split_counts counts them in one pass too."""
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"model": rng.choice(["b", "a", "c", "d"], 96), "N": np.repeat(np.arange(1, 13) * 10**7, 8),
                       "D": np.tile(np.logspace(9, 11, 8), 12), "loss": 2 + rng.random(96), "acc": rng.random(96)})
    task = task_from_frame(df, features, targets, group="model", test="N >= 1.2e8", baseline="none")
    cols = [targets] if isinstance(targets, str) else targets
    for frame in (task.train, task.test, task.fit_df, task.val_df, task.test.iloc[:0]):
        got = task.arrays(frame)
        keys = frame["group"].astype(str)
        assert list(got) == [g for g in task.groups if (keys == g).any()]
        for g, data in got.items():
            rows = frame.loc[keys == g]
            X, y = rows[features].to_numpy(dtype=float), rows[cols].to_numpy(dtype=float)
            y = y[:, 0] if isinstance(targets, str) else y
            for mine, theirs in ((data.X, X), (data.y, y)):
                assert mine.shape == theirs.shape and np.array_equal(mine, theirs)
                assert (mine.flags.c_contiguous, mine.flags.f_contiguous) == (theirs.flags.c_contiguous,
                                                                              theirs.flags.f_contiguous)
    keys, test_keys = task.train["group"].astype(str), task.test["group"].astype(str)
    assert task.split_counts() == {g: {"fit": int(((keys == g) & ~task.val_mask).sum()),
                                       "val": int(((keys == g) & task.val_mask).sum()),
                                       "test": int((test_keys == g).sum())} for g in task.groups}


def test_a_small_group_with_nothing_held_out_is_warned_about():
    """A group of two runs, both below every threshold: no score reads it, so the run goes on, but its law
    is fitted on two runs (a fuzzed user table of session 55 fitted four parameters to them, and `predict
    --group` answered with a range of zero width): the user is told, once, which group."""
    df = chinchilla_frame().assign(family="main")
    tiny = pd.DataFrame({"N": [1e8, 2e8], "D": [2e9, 4e9], "loss": [3.0, 2.9], "family": "tiny"})
    both = pd.concat([df, tiny], ignore_index=True)
    with pytest.warns(UserWarning, match=r"group\(s\) 'tiny' \(2 runs\) have fewer than 3 runs and none held out"):
        task_from_frame(both, ["N", "D"], "loss", group="family", test="N >= 1e9", val="N >= 3e8", name="t")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        task_from_frame(df, ["N", "D"], "loss", group="family", test="N >= 1e9", val="N >= 3e8", name="t")
    assert not any("none held out" in str(w.message) for w in caught)

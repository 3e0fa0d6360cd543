"""Validation for anyone's table: derived from the test rule, sizes with a tolerance, degenerate splits refused."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from evosld.errors import DataError
from evosld.proposers.symbolic.space import Space
from evosld.tasks import task_from_frame
from evosld.tasks.folds import (
    blind_feature,
    derive_val_rule,
    natural_break,
    relaxed_rule,
    rule_directions,
)
from evosld.tasks.probe import probe_rows
from evosld.tasks.scales import levels, n_levels, top_cluster_tolerance
from evosld.tasks.splits import rule_mask


def chinchilla_like(n: int = 245, seed: int = 0, jitter: float = 1e-6, grid: bool = True) -> pd.DataFrame:
    """Runs on a grid of model sizes whose values were read off a figure (each size jittered by 1 + jitter·u)."""
    rng = np.random.default_rng(seed)
    if grid:
        sizes = np.logspace(7.5, 10.3, 9)
        N = rng.choice(sizes, n) * (1 + jitter * rng.uniform(-1, 1, n))
    else:
        N = np.exp(rng.uniform(np.log(3e7), np.log(2e10), n))
    D = 20 * N * np.exp(rng.normal(0, 1.0, n))
    loss = (1.69 + 406.4 / N**0.34 + 410.7 / D**0.28) * (1 + 0.01 * rng.standard_normal(n))
    loss[rng.choice(n, 3, replace=False)] += 0.5  # a few runs that went wrong
    return pd.DataFrame({"N_params": N, "D_tokens": D, "C_flop": 6 * N * D, "loss": loss})


# ------------------------------------------------------------------ scales
def test_sizes_within_the_tolerance_are_one_scale():
    v = np.array([1e9 * (1 + 1e-6), 1e9, 2e9, 2e9 * (1 - 4e-4), 3e9, np.nan])
    assert levels(v).tolist() == [0, 0, 1, 1, 2, -1]
    assert n_levels(v) == 3 and n_levels(v, rtol=0.0) == 5


def log_uniform(n: int, lo: float = 1e7, hi: float = 1e9, seed: int = 0) -> np.ndarray:
    return np.exp(np.random.default_rng(seed).uniform(np.log(lo), np.log(hi), n))


@pytest.mark.parametrize("n", [2_000, 60_000])
def test_a_continuous_feature_is_many_scales_not_one_chain(n):
    """Thousands of sizes, each within the tolerance of its neighbour, span two decades: not one scale."""
    v = log_uniform(n)
    lv = levels(v)
    assert n_levels(v) > 1000  # chained, 60,000 log-uniform sizes were one level
    for k in range(lv.max() + 1):  # no level grows beyond the tolerance of its smallest value
        lo, hi = v[lv == k].min(), v[lv == k].max()
        assert hi - lo <= 1e-3 * hi * (1 + 1e-9)
    assert n_levels(v, rtol=0.03) > 100


@pytest.mark.parametrize("jitter", [1e-6, 4e-4])
def test_jittered_grid_sizes_are_one_scale_each(jitter):
    N = chinchilla_like(n=2_000, jitter=jitter)["N_params"].to_numpy()
    assert n_levels(N) == 9


def test_largest_counts_jittered_sizes_as_one_value():
    df = chinchilla_like()
    top = rule_mask(df, "largest:N_params")
    assert top.sum() > 10  # every run of the largest size, not the one whose jitter happened to be largest
    assert rule_mask(df, "largest:N_params", rtol=0.0).sum() == 1
    assert rule_mask(df, "largest:N_params:2").sum() > top.sum()


def test_parameter_guard_counts_jittered_sizes_once():
    X = chinchilla_like()[["N_params", "D_tokens"]].to_numpy()
    space = Space.from_data(X, ("N_params", "D_tokens"), ("N_params", "D_tokens")).with_levels([X])
    assert space.levels[0] == 9
    assert Space.from_data(X, ("N_params", "D_tokens"), ()).with_levels([X], rtol=0.0).levels[0] > 100


# ------------------------------------------------------------------ derived validation
@pytest.mark.parametrize("rule", ["C_flop > 1.1e20", "N_params >= 5e9 or D_tokens >= 4e11",
                                  "N_params >= 1e9 and D_tokens >= 2e10", "not (C_flop <= 1.1e20)", "N_params*D_tokens > 2e19"])
def test_validation_is_derived_from_a_threshold_test_rule(rule):
    df = chinchilla_like()
    task = task_from_frame(df, ["N_params", "D_tokens"], "loss", test=rule, name="c")
    n_train, n_val = len(task.train), int(task.val_mask.sum())
    assert task.val_how.startswith("the train rows next in line")
    assert n_val >= 0.1 * n_train and n_val >= min(len(task.test), 0.35 * n_train) - 40
    val, fit = task.val_df, task.fit_df
    assert n_levels(val["N_params"]) >= 2 or n_levels(val["D_tokens"]) >= 2
    # the validation rule has the test rule's shape and applied to train gives the validation rows
    assert np.array_equal(rule_mask(task.train, task.val_rule), task.val_mask)
    if rule.startswith("C_flop") or rule.startswith("not"):
        assert val["C_flop"].min() > fit["C_flop"].max()  # next in line towards the test region
        assert task.val_rule.startswith("C_flop >=")


def test_largest_and_random_test_rules_keep_their_kind():
    df = chinchilla_like()
    task = task_from_frame(df, ["N_params", "D_tokens"], "loss", test="largest:N_params", name="c")
    assert task.val_rule == "largest:N_params"
    assert task.val_df["N_params"].min() > task.fit_df["N_params"].max() * 1.01
    mixed = df.assign(p=np.linspace(0.05, 0.95, len(df)))
    assert task_from_frame(mixed, ["p"], "loss", test="random:20", name="m").val_rule == "random:20"


def test_default_test_rule_on_sizes_that_are_all_different():
    df = chinchilla_like(grid=False)
    task = task_from_frame(df, ["N_params", "D_tokens"], "loss", name="c")
    assert task.test_rule.startswith("N_params >=")  # not 'largest:' (one run)
    assert len(task.test) >= 0.1 * len(df) and task.val_mask.sum() >= 3


def test_default_test_rule_holds_out_the_whole_largest_size_when_sizes_were_read_a_few_percent_apart():
    """Five model sizes x four data sizes, each run's size read 3% off: a threshold placed by row count took three
    of the four runs near 3e9; at the clear gap below them it takes all four, and validation the four near 1e9."""
    rng = np.random.default_rng(1)
    N = np.repeat([3e7, 1e8, 3e8, 1e9, 3e9], 4) * (1 + 0.03 * rng.uniform(-1, 1, 20))
    D = np.tile([1e9, 4e9, 1.6e10, 6.4e10], 5)
    df = pd.DataFrame({"N": N, "D": D, "loss": 1.69 + 406.4 / N**0.34 + 410.7 / D**0.28})
    task = task_from_frame(df, ["N", "D"], "loss", name="c")
    assert sorted(task.test.N) == sorted(N[-4:]) and sorted(task.val_df.N) == sorted(N[12:16]), task.test_rule
    fired = 0  # spread-out sizes: rarely a break, and then next to the count's own cut
    for seed in range(50):
        v = np.exp(np.random.default_rng(seed).uniform(np.log(1e7), np.log(1e10), 40))
        lam = natural_break(v, (v.max() - v) / v.max(), 4, 14)
        if lam is not None:
            fired += 1
            assert int(((v.max() - v) / v.max() <= lam).sum()) <= 9
    assert fired <= 15


def test_default_test_rule_in_a_grouped_table_holds_out_each_groups_largest_size_read_apart():
    """Twelve groups on one grid, every run's sizes read 5% off: ``largest:N`` held out one run per group (the
    largest reading); the default now holds out every group's whole largest size, as on exact sizes."""
    df = uneven_grid()
    task = task_from_frame(df, ["N", "D"], "loss", group="grp", name="uneven")
    assert task.test_rule.startswith("N >= ") and len(task.test) == 12 * 4 and task.test.N.min() > 7e8
    exact = df.assign(N=np.tile(np.repeat([3e7, 1e8, 3e8, 1e9], 4), 12))  # exact sizes: largest:N as before
    assert task_from_frame(exact, ["N", "D"], "loss", group="grp", name="exact").test_rule == "largest:N"
    apart = df.assign(N=np.where(df.grp.isin(["g0", "g1"]), df.N * 30, df.N))  # two groups on another grid:
    assert task_from_frame(apart, ["N", "D"], "loss", group="grp", name="apart").test_rule == "largest:N"  # no break


def test_default_test_rule_holds_out_a_whole_largest_size_also_when_largest_takes_two_runs_of_it():
    """Two families, six sizes x five data sizes, every run's sizes read 1% apart: ``largest:N`` held out the two
    largest readings of one family's five runs at ~7e9 and one of the other's (a fuzzed user table, session 56),
    so test scored mostly the spread in D. The default now holds out all ten runs at ~7e9."""
    rng = np.random.default_rng(1)
    rows = []
    for fam, floor in (("dense", 1.7), ("moe", 1.6)):
        for n in (70e6, 160e6, 410e6, 1e9, 2.8e9, 7e9):
            for d in (2e9, 6e9, 20e9, 60e9, 200e9):
                nj, dj = n * (1 + rng.normal(0, 0.01)), d * (1 + rng.normal(0, 0.01))
                rows.append((fam, nj, dj, floor + 400 / nj**0.34 + 410 / dj**0.28 + rng.normal(0, 0.01)))
    df = pd.DataFrame(rows, columns=["family", "N", "D", "loss"])
    held = rule_mask(df, "largest:N")
    assert 1 < held.sum() < 10  # the old default: part of the largest size
    task = task_from_frame(df, ["N", "D"], "loss", group="family", name="families")
    assert task.test_rule.startswith("N >= ") and len(task.test) == 10 and task.test.N.min() > 6e9
    assert set(task.test.family) == {"dense", "moe"}
    exact = pd.DataFrame([(fam, n, d, 2.0) for fam in ("dense", "moe") for n in (1e8, 3e8, 1e9, 2.8e9, 3e9, 6.6e9, 7e9)
                          for d in (2e9, 6e9, 20e9, 60e9, 200e9)], columns=["family", "N", "D", "loss"])
    exact["loss"] = 1.7 + 400 / exact.N**0.34 + 410 / exact.D**0.28
    # two exact sizes 6% apart are two sizes, not one read apart: the largest is held out, as before
    assert task_from_frame(exact, ["N", "D"], "loss", group="family", name="exact").test_rule == "largest:N"


def test_a_rule_with_no_threshold_shape_falls_back_to_random_settings():
    df = chinchilla_like()
    d = derive_val_rule(df.iloc[:200], df.iloc[200:], "N_params > D_tokens / 20", ("N_params", "D_tokens"))
    assert d.rule.startswith("random:") and "--val" in d.how


def test_validation_that_would_leave_one_size_to_fit_on_is_random_instead():
    rng = np.random.default_rng(0)
    N = np.repeat([1e8, 4e8, 1.6e9], 10)
    D = np.tile(np.logspace(9, 11, 10), 3)
    df = pd.DataFrame({"N": N, "D": D, "loss": 2 + 300 / N**0.3 + 300 / D**0.3 + 0.01 * rng.standard_normal(30)})
    task = task_from_frame(df, ["N", "D"], "loss", test="N > 1e9", name="three_sizes")
    assert task.val_rule.startswith("random:") and "single N" in task.val_how
    assert n_levels(task.fit_df["N"]) == 2  # the law can still be fitted along N
    along_d = task_from_frame(df, ["N", "D"], "loss", test="D > 5e10", name="three_sizes")
    assert along_d.val_rule.startswith("D >=")  # D has ten values: validation along it is fine


def test_discover_on_a_continuous_size_feature_proposes_and_evaluates_laws(tmp_path):
    """3,000 runs of log-uniform N and D: validation is next in line along N, and the search runs.

    With a scale tolerance of 3% every neighbouring pair of sizes is within it; counted as one
    chain, N was a single scale, validation took every train row and discover stopped with
    'the rules leave no rows to fit on' (the same happens at the default 1e-3 from ~60,000 rows).
    """
    from evosld.run.store import RunStore

    rng = np.random.default_rng(0)
    N, D = log_uniform(3_000, seed=1), log_uniform(3_000, 1e9, 1e12, seed=2)
    loss = 1.7 + 400 / N**0.34 + 410 / D**0.28 + 0.01 * rng.standard_normal(len(N))
    csv = tmp_path / "runs.csv"
    pd.DataFrame({"N": N, "D": D, "loss": loss}).to_csv(csv, index=False)
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "evosld.cli", "discover", "--csv", str(csv), "--features", "N,D",
                           "--target", "loss", "--test", "N > 5e8", "--iterations", "20", "--scale-tolerance",
                           "0.03", "--output", str(out), "--quiet"], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    with RunStore.open(out / "run.sqlite") as store:
        laws = [p for p in store.programs() if p.proposer == "symbolic" and p.evaluation and p.evaluation.ok]
    assert len(laws) >= 5 and max(p.evaluation.r2 for p in laws) > 0.99
    best = json.loads((out / "best.json").read_text())
    assert best["split"]["val_rule"].startswith("N >=")


def test_relaxed_rule_is_written_short_and_keeps_the_rows():
    df = pd.DataFrame({"N": [1e8, 2e8, 4e8, 8e8, 1.6e9], "D": [1, 2, 3, 4, 5]})
    assert relaxed_rule(df, "N > 2e9", 0.4) == "N >= 5.66e8"
    assert relaxed_rule(df, "N < 1e7", 0.2) == "N <= 1.41e8"
    assert relaxed_rule(df, "N > D", 0.2) is None


def test_grouped_table_gets_one_band_for_all_groups():
    df = pd.concat([chinchilla_like(seed=1).assign(model="a"), chinchilla_like(seed=2).assign(model="b")])
    task = task_from_frame(df, ["N_params", "D_tokens"], "loss", group="model", test="C_flop > 1e20", name="g")
    counts = task.split_counts()
    assert set(counts) == {"a", "b"} and all(c["val"] >= 3 and c["fit"] >= 3 for c in counts.values())


# ------------------------------------------------------------------ refusals
def test_a_one_row_validation_slice_is_refused_before_any_work():
    df = chinchilla_like(grid=False)
    big = float(np.sort(df["N_params"])[-2])
    with pytest.raises(DataError, match=r"validation rule .* holds out only 1 row.*--val"):
        task_from_frame(df, ["N_params", "D_tokens"], "loss", test=f"N_params > {big * 1.0001:.6g}",
                        val=f"N_params > {big * 0.9999:.6g}", name="c")


@pytest.mark.parametrize("rule, ways", [
    ("largest:N", {"N": 1}), ("N >= 1e9 or D >= 1e11", {"N": 1, "D": 1}), ("1e9 <= N", {"N": 1}),
    ("not (N < 1e9)", {"N": 1}), ("loss <= 2.1", {"loss": -1}), ("1 < N <= 5", {"N": 0}),
    ("6 * N * D >= 1e21", {"N": 0, "D": 0}), ("random:4", {}), ("N >=", {}),
])
def test_the_way_a_rule_holds_out_along_each_column(rule, ways):
    assert rule_directions(rule, ["N", "D", "loss"]) == ways


def test_the_probe_never_steps_back_from_the_held_out_side():
    """``N >= a or D >= b`` on jittered sizes: a group's validation band can be one run just past the D threshold
    (small N) with the band below it at a larger N; the step in N would then point ten times below the data."""
    train = pd.DataFrame({"N": [1e9, 1e8, 3e8, 1e8], "D": [1e10, 5e10, 1e10, 1e10], "group": "g"})
    val, band = np.array([False, True, False, False]), np.array([True, False, False, False])
    X = probe_rows(train, val, band, ("N", "D"), ("N", "D"), along={"N": 1, "D": 1})["g"]
    assert X[0, 0] == 1e8 and X[0, 1] == pytest.approx(2.5e11)  # N stays; D steps on, 5x as from 1e10 to 5e10
    X = probe_rows(train, val, band, ("N", "D"), ("N", "D"), along={"N": 0, "D": 1})["g"]
    assert X[0, 0] == pytest.approx(1e7)  # a column read both ways steps as the bands lie


def test_largest_size_read_with_some_error_is_refused_with_the_tolerance_that_makes_it_one():
    """Each run's size read off a figure, 3% apart: ``largest:N`` holds out one run; the refusal names the
    tolerance that counts the largest size's runs as one, and with it they are held out together."""
    rng = np.random.default_rng(1)
    N = np.repeat([3e7, 1e8, 3e8, 1e9, 3e9], 4) * (1 + 0.03 * rng.uniform(-1, 1, 20))
    D = np.tile([1e9, 4e9, 1.6e10, 6.4e10], 5)
    df = pd.DataFrame({"N": N, "D": D, "loss": 1.69 + 406.4 / N**0.34 + 410.7 / D**0.28})
    with pytest.raises(DataError, match=r"holds out only 1 row.*--scale-tolerance \S+ counts them as one") as refused:
        task_from_frame(df, ["N", "D"], "loss", test="largest:N", name="c")
    tol = float(str(refused.value).split("--scale-tolerance ")[1].split()[0])
    assert tol in (0.02, 0.05)  # the four largest lie within 3% of each other
    task = task_from_frame(df, ["N", "D"], "loss", test="largest:N", scale_tolerance=tol, name="c")
    assert len(task.test) == 4 and task.test.N.min() > 2e9
    assert top_cluster_tolerance(np.logspace(7, 10, 20), np.zeros(20), 3) is None  # distinct sizes: no hint
    with pytest.raises(DataError) as refused:  # sizes exactly distinct by far: the threshold, and no tolerance
        task_from_frame(pd.DataFrame({"N": np.logspace(7, 10, 20), "loss": np.linspace(3, 2, 20)}), ["N"], "loss",
                        test="largest:N", name="d")
    assert "scale-tolerance" not in str(refused.value)


def test_a_slice_whose_target_does_not_vary_is_refused():
    df = chinchilla_like()
    df.loc[df["N_params"] > 1e10, "loss"] = 2.0
    with pytest.raises(DataError, match=r"loss takes one value \(2\) on all .* test rows.*--test"):
        task_from_frame(df, ["N_params", "D_tokens"], "loss", test="N_params > 1e10", name="c")


def test_a_group_left_with_too_few_fit_rows_is_named():
    df = chinchilla_like().assign(model="a")
    small = pd.concat([df.nsmallest(2, "N_params"), df.nlargest(3, "N_params")]).assign(model="b")
    with pytest.raises(DataError, match=r"group\(s\) 'b' \(\d rows\).*--test / --val"):
        task_from_frame(pd.concat([df, small]), ["N_params", "D_tokens"], "loss", group="model",
                        test="N_params > 1e10", val="N_params > 5e9", name="c")


# ------------------------------------------------------------------ the command line
def _cli(*args: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "evosld.cli", *args], capture_output=True, text=True, cwd=cwd, timeout=600)


def test_cli_tasks_shows_the_derived_rule_and_counts(tmp_path):
    chinchilla_like().to_csv(tmp_path / "runs.csv", index=False)
    out = _cli("tasks", "--csv", "runs.csv", "--features", "N_params,D_tokens", "--target", "loss",
               "--test", "C_flop > 1.1e20", "--json", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    info = json.loads(out.stdout)
    assert info["val_rule"].startswith("C_flop >=") and "next in line" in info["val_how"]
    assert info["split_counts"]["all_data"]["val"] == info["rows"]["val"] >= 3


def test_cli_refuses_a_degenerate_validation_in_one_line(tmp_path):
    df = chinchilla_like(grid=False)
    df.to_csv(tmp_path / "runs.csv", index=False)
    big = float(np.sort(df["N_params"])[-2])
    out = _cli("discover", "--csv", "runs.csv", "--features", "N_params,D_tokens", "--target", "loss",
               "--test", f"N_params > {big * 1.0001:.6g}", "--val", f"N_params > {big * 0.9999:.6g}",
               "--budget-seconds", "5", cwd=tmp_path)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and "--val" in lines[0], out.stderr
    assert not (tmp_path / "runs").exists()  # refused before any work


def test_discovery_succeeds_on_a_jittered_table_with_a_threshold_test(tmp_path):
    chinchilla_like().to_csv(tmp_path / "runs.csv", index=False)
    out = _cli("discover", "--csv", "runs.csv", "--features", "N_params,D_tokens", "--target", "loss",
               "--test", "C_flop > 1.1e20", "--iterations", "80", "--budget-seconds", "900", "--seed", "0",  # proposals, not seconds, bound it: the same search on a busy machine
               "--output", "run", cwd=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    best = json.loads((tmp_path / "run" / "best.json").read_text())
    assert best["split"]["val_rule"].startswith("C_flop >=") and best["split"]["rows_per_group"]["all_data"]["val"] >= 3
    assert "validation: C_flop >=" in (tmp_path / "run" / "evosld.log").read_text()
    assert "validation: C_flop >=" in out.stderr and "rows fit/val/test" in out.stderr  # printed at the start
    ref = best["reference"]  # the Chinchilla form, refit beside the found law
    assert ref["name"].startswith("Chinchilla form") and ref["test"]["r2"] is not None
    assert "beside it, Chinchilla form" in out.stdout
    assert best["val"]["r2"] > 0.9 and best["test"]["r2"] > 0.8
    sel = best["selection"]
    assert sel["folds"] == ["inner1", "inner1->val", "inner2", "inner2->val"]  # each fold's fit also scored on validation
    assert sel["rule"] in ("extrapolation folds", "validation")
    if sel["rule"] == "extrapolation folds":
        assert all(set(c["folds"]) == set(sel["folds"]) for c in sel["candidates"])


def test_per_group_thresholds_are_relaxed_within_their_group():
    rng = np.random.default_rng(0)
    df = pd.concat([pd.DataFrame({"group": g, "x": np.linspace(-1, 3, 40), "y": rng.normal(size=40)}) for g in ("a", "b")])
    rule = "(group == 'a' and x >= 2.0) or (group == 'b' and x >= 1.0)"
    held = rule_mask(df, rule)
    d = derive_val_rule(df[~held], df[held], rule, ("x",))
    assert "group == 'a' and x >=" in d.rule and "group == 'b' and x >=" in d.rule
    assert d.rule.startswith("(group == 'a' and x >=") and d.rule.count("(") == 2  # each group's clause in brackets
    val = df[~held][rule_mask(df[~held], d.rule)]
    for g, top in (("a", 2.0), ("b", 1.0)):
        xs = val.loc[val.group == g, "x"]
        assert len(xs) >= 3 and xs.max() < top and xs.min() > top - 1.5  # each group's band lies just below its own test


def test_a_fold_whose_fit_rows_hold_one_value_of_a_feature_it_scores_is_dropped_but_the_probe_stays():
    rng = np.random.default_rng(3)
    N = np.tile(np.logspace(8, 10, 6), 8) * (1 + 1e-6 * rng.random(48))
    P = np.repeat([1.0, 2.0, 4.0, 8.0], 12)
    group = np.tile(np.repeat(["stack", "pile"], 6), 4)
    loss = 1.5 + (3e8 / (N * (0.4 * np.log(P) + 1))) ** 0.3
    df = pd.DataFrame({"N": N, "P": P, "loss": loss, "g": group})
    task = task_from_frame(df, ["N", "P"], "loss", group="g", test="P >= 8", name="par")
    assert set(task.train.loc[task.val_mask, "P"]) == {4.0}
    # the next band (P = 2) would be fitted on P = 1 alone: every law would score as if it ignored P
    assert blind_feature(task.train.loc[task.train.P == 1], task.train.loc[task.train.P == 2], ("N", "P")) == "P"
    assert task.inner_folds(2) == []
    probe = task.probe()  # still one step beyond validation, from the fit rows below it
    assert set(probe) == {"stack", "pile"} and all((X[:, 1] > 4.0).all() for X in probe.values())
    flat = pd.DataFrame({"N": np.logspace(8, 10, 24), "P": 1.0, "loss": 1.5 + (3e8 / np.logspace(8, 10, 24)) ** 0.3})
    one = task_from_frame(flat, ["N", "P"], "loss", test="N > 4e9", name="one")
    assert one.inner_folds(1)  # a feature that never varies is no reason to drop a fold


def uneven_grid(groups: int = 12, seed: int = 0) -> pd.DataFrame:
    """Per group, 4 model sizes x 4 data sizes, each run's sizes read off a figure (5% apart): Chinchilla's law."""
    rng = np.random.default_rng(seed)
    rows = []
    for g in range(groups):
        for n in (3e7, 1e8, 3e8, 1e9):
            for d in (1e9, 4e9, 1.6e10, 6.4e10):
                N, D = n * (1 + 0.05 * rng.standard_normal()), d * (1 + 0.05 * rng.standard_normal())
                rows.append((f"g{g}", N, D, 1.69 + 406.4 / N**0.34 + 410.7 / D**0.28))
    return pd.DataFrame(rows, columns=["grp", "N", "D", "loss"]).assign(C=lambda t: 6 * t.N * t.D)


def test_the_probe_steps_only_along_the_features_the_rule_reads():
    """On sizes read off a figure the largest model's run and the next one's hold other data sizes by chance
    (1e9 tokens against 1.6e10): a step along D would probe 16x below the data, where the true law rises two spans
    above the train losses and was passed over as running away. ``largest:N`` steps N alone."""
    df = uneven_grid()
    task = task_from_frame(df, ["N", "D"], "loss", group="grp", test="largest:N", name="uneven")
    train, probe = task.train, task.probe()
    assert len(probe) == 12
    for g, X in probe.items():
        val = train.loc[task.val_mask & (train.group == g).to_numpy(), ["N", "D"]].to_numpy()
        np.testing.assert_array_equal(X[:, 1], val[:, 1])  # D as in the validation rows
        assert (X[:, 0] > val[:, 0]).all()  # one step beyond them in N
        rows = train.loc[(train.group == g).to_numpy()]
        span = rows.loss.max() - rows.loss.min()
        law = 1.69 + 406.4 / X[:, 0] ** 0.34 + 410.7 / X[:, 1] ** 0.28
        assert (law >= rows.loss.min() - span).all()  # the true law stays within a span of the data there
    both = task_from_frame(df, ["N", "D"], "loss", group="grp", test="N >= 8e8 or D >= 5e10", name="both")
    moved = [(X != both.train.loc[both.val_mask & (both.train.group == g).to_numpy(), ["N", "D"]].to_numpy())
             for g, X in both.probe().items()]
    assert any(m[:, 0].any() for m in moved) and any(m[:, 1].any() for m in moved)  # a rule on N and D steps both
    for g, X in both.probe().items():  # and never back below the validation runs, whatever the bands hold
        V = both.train.loc[both.val_mask & (both.train.group == g).to_numpy(), ["N", "D"]].to_numpy()
        assert (X >= V).all()
    compute = task_from_frame(df, ["N", "D"], "loss", group="grp", test="C >= 2e20", name="compute")
    X = np.vstack(list(compute.probe().values()))
    V = compute.train.loc[compute.val_mask, ["N", "D"]].to_numpy()
    assert np.median(np.log(X[:, 0] * X[:, 1])) > np.median(np.log(V[:, 0] * V[:, 1]))  # no feature read: the runs' path


def _two_losses(n_sizes: int = 7, seed: int = 1) -> pd.DataFrame:
    """n_sizes model sizes x 6 data sizes, train and validation loss (E + A/N^a + B/D^b, shared exponents)."""
    rng = np.random.default_rng(seed)
    N, D = (a.ravel() for a in np.meshgrid(np.logspace(np.log10(5e7), np.log10(5e9), n_sizes),
                                           np.logspace(np.log10(5e9), np.log10(2e11), 6), indexing="ij"))
    n, d = 400 / N**0.34, 410 / D**0.28
    return pd.DataFrame({"N": N, "D": D, "train_loss": 1.7 + n + d + rng.normal(0, 0.01, len(N)),
                         "val_loss": 1.95 + n + 1.3 * d + rng.normal(0, 0.01, len(N))})


def test_a_fold_fitting_two_sizes_of_the_feature_it_predicts_beyond_is_not_used():
    """Two model sizes pin a coefficient and an exponent along N exactly, whatever the data sizes: the fold
    predicting the next size from them scored the generating law R² -4 and picked a law without a floor."""
    df = _two_losses()
    task = task_from_frame(df, ["N", "D"], ["train_loss", "val_loss"], test="N >= 4e9")
    loose = task.inner_folds(min_levels_along=1)
    assert [task.train.N[f.fit].nunique() for f in loose] == [3, 2]  # 12 runs each way: enough distinct runs
    folds = task.inner_folds()
    assert [f.name for f in folds] == ["inner1"]
    assert np.array_equal(folds[0].fit, loose[0].fit) and np.array_equal(folds[0].scored, loose[0].scored)
    assert (task.train.N[folds[0].scored] > task.train.N[folds[0].fit].max()).all()


def test_folds_along_a_feature_with_few_values_stay_when_they_predict_along_another():
    """The rule reads the features a fold predicts beyond: data sizes it fits all of are no reason to drop it."""
    df = _two_losses(n_sizes=12)
    task = task_from_frame(df, ["N", "D"], ["train_loss", "val_loss"], test="N >= 4e9")
    assert len(task.inner_folds()) == 2
    assert all(task.train.N[f.fit].nunique() >= 3 for f in task.inner_folds())


def test_tasks_says_why_a_table_of_three_sizes_to_fit_on_has_no_inner_folds():
    from evosld.cli import split_lines

    df = _two_losses(n_sizes=5).drop(columns="val_loss")
    task = task_from_frame(df, ["N", "D"], "train_loss", test="N >= 2e9")
    assert task.inner_folds() == [] and task.inner_folds(min_levels_along=1)
    line = next(x for x in split_lines(task) if x.startswith("inner folds"))
    assert line == ("inner folds for the final pick: none, so validation alone picks (a fold below it would fit on "
                    "fewer than 3 values of a feature it predicts beyond, and a coefficient and an exponent pass "
                    "through two exactly)"), line


def test_the_default_test_of_learning_curves_is_the_last_tenth_of_each_curve_and_validation_the_tenth_before():
    """Dense checkpoints (a column with hundreds of values per group): `largest:tokens` held out the last
    checkpoint of each run, 0.1% of the curve, and validated on the one before, so both scores said nothing
    about a forecast (fuzzed: 40 runs x 3000 checkpoints). Tables of sizes keep `largest:COL`."""
    from evosld.tasks import task_from_frame

    rng = np.random.default_rng(0)
    rows = []
    for run, n in (("a", 200), ("b", 200), ("c", 240)):
        tokens = np.linspace(1e8, 5e10, n)
        rows += [(run, t, 2.0 + 30 * t ** -0.2 + 0.001 * rng.standard_normal()) for t in tokens]
    df = pd.DataFrame(rows, columns=["run", "tokens", "loss"])
    task = task_from_frame(df, ["tokens"], "loss", group="run", baseline="none")
    assert task.test_rule == "largest:tokens:20" and task.val_rule == "largest:tokens:20"
    held = task.test.groupby("run").size()
    assert held.to_dict() == {"a": 20, "b": 20, "c": 20}
    assert (task.train.loc[task.val_mask].groupby("run").size() == 20).all()
    short = pd.DataFrame({"run": "d", "tokens": np.linspace(1e8, 5e9, 12), "loss": 3.0 + np.linspace(1, 0, 12)})
    stopped = task_from_frame(pd.concat([df, short]), ["tokens"], "loss", group="run", baseline="none")
    assert stopped.test_rule == "largest:tokens"  # a run stopped early is no curve: it would lose every run
    sizes = pd.DataFrame({"N": np.repeat(np.geomspace(1e7, 1e10, 12), 3), "D": np.tile([1e9, 1e10, 1e11], 12),
                          "loss": np.linspace(4, 2, 36)})
    assert task_from_frame(sizes, ["N", "D"], "loss", baseline="none").test_rule == "largest:N"

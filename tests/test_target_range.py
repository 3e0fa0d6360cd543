"""A declared target range (--target-range LO,HI): parsed, checked against the data, and used to refuse laws
whose predictions one step beyond the data leave it."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evosld.config import RunConfig
from evosld.errors import DataError
from evosld.evaluation import Evaluator
from evosld.evaluation.sandbox import Sandbox
from evosld.report import write_report
from evosld.run.runner import finish, probe_law
from evosld.run.store import RunStore
from evosld.search.plausibility import RANGE_SLACK, plausible, runaway
from evosld.search.selection import Candidate, choose
from evosld.search.status import LoopStatus
from evosld.tasks import task_from_frame
from evosld.tasks.targetrange import parse_target_range
from tests.conftest import one_error, run_cli, store_with_laws

# A straight line in log C: on a rising accuracy that levels off near 1 it overshoots 1 just past the data.
LINE = '''
import numpy as np
# EVOLVE-BLOCK-START
def scaling_law_func(data_points, params):
    X = np.asarray(data_points, dtype=float)
    return params[0] + params[1] * np.log10(X[:, 0])

def fit_scaling_law(data_points, loss_values):
    X = np.asarray(data_points, dtype=float)
    A = np.column_stack([np.ones(len(X)), np.log10(X[:, 0])])
    return np.linalg.lstsq(A, np.asarray(loss_values, dtype=float), rcond=None)[0]
# EVOLVE-BLOCK-END
'''
# The same line, capped at 1: it stays in the range (reaching the bound is not leaving it).
CAPPED = LINE.replace("return params[0] + params[1] * np.log10(X[:, 0])",
                      "return np.minimum(params[0] + params[1] * np.log10(X[:, 0]), 1.0)")
assert CAPPED != LINE


def accuracy_frame(n: int = 40, seed: int = 0) -> pd.DataFrame:
    """A rising accuracy: a sigmoid in log compute from 0.25 towards 0.99, with a little noise (n rows)."""
    C = np.logspace(18, 24, n)
    acc = 0.25 + 0.74 / (1 + np.exp(-(np.log10(C) - 21.0) * 1.5))
    acc = acc + 0.005 * np.random.default_rng(seed).standard_normal(n)
    return pd.DataFrame({"C": C, "acc": acc})


# ---------------------------------------------------------------- spelling
@pytest.mark.parametrize("text, want", [("0,1", (0.0, 1.0)), ("0,", (0.0, None)), (",1", (None, 1.0)),
                                        (" -1 , 0 ", (-1.0, 0.0)), ("1e-3,0.5", (0.001, 0.5))])
def test_the_range_is_two_numbers_either_side_may_be_open(text, want):
    assert parse_target_range(text) == want
    assert parse_target_range(list(want)) == want
    assert parse_target_range(None) is None


@pytest.mark.parametrize("text", ["1,0", "0,0", "a,1", "0,1,2", "1", ",", "0,inf", "nan,1"])
def test_bad_spellings_are_one_error_line_that_gives_the_form(tmp_path, capsys, text):
    with pytest.raises(DataError, match="LO,HI"):
        parse_target_range(text)
    csv = tmp_path / "acc.csv"
    accuracy_frame().to_csv(csv, index=False)
    for command in ("tasks", "discover"):
        code, _, err = run_cli(capsys, command, "--csv", str(csv), "--features", "C", "--target", "acc",
                               f"--target-range={text}")
        line = one_error(code, err)
        assert line.startswith("error: --target-range") and "LO,HI" in line


def test_the_option_through_the_entry_point_and_a_task_file(tmp_path):
    accuracy_frame().to_csv(tmp_path / "acc.csv", index=False)

    def evosld(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "evosld.cli", *args], capture_output=True, text=True,
                              env=dict(os.environ), cwd=tmp_path, timeout=300)

    proc = evosld("tasks", "--csv", "acc.csv", "--features", "C", "--target", "acc", "--target-range", "0,1")
    assert proc.returncode == 0, proc.stderr
    assert "target range: 0..1" in proc.stdout
    proc = evosld("tasks", "--csv", "acc.csv", "--features", "C", "--target", "acc", "--target-range", ",1", "--json")
    assert json.loads(proc.stdout)["target_range"] == [None, 1.0]
    proc = evosld("tasks", "--csv", "acc.csv", "--features", "C", "--target", "acc", "--target-range", "-1,1")
    assert proc.returncode == 0 and "target range: -1..1" in proc.stdout, proc.stderr  # a negative LO, no "="
    proc = evosld("tasks", "--csv", "acc.csv", "--features", "C", "--target", "acc", "--target-range", "none")
    assert "target range" not in proc.stdout and "target_range" not in proc.stdout  # no range: nothing shown
    proc = evosld("tasks", "--csv", "acc.csv", "--features", "C", "--target", "acc")  # none given: assumed 0..1
    assert proc.returncode == 0 and "target range: 0..1 (assumed: every train value of acc lies in it" in proc.stdout

    (tmp_path / "acc.yaml").write_text("data: acc.csv\nfeatures: [C]\ntarget: acc\ntarget_range: [0, null]\n")
    proc = evosld("tasks", "acc.yaml")
    assert proc.returncode == 0 and "target range: 0..inf" in proc.stdout, proc.stderr
    proc = evosld("tasks", "acc.yaml", "--target-range", "0,1")  # the command line overrides the file
    assert "target range: 0..1 (laws" in proc.stdout
    (tmp_path / "none.yaml").write_text("data: acc.csv\nfeatures: [C]\ntarget: acc\ntarget_range: none\n")
    proc = evosld("tasks", "none.yaml")
    assert proc.returncode == 0 and "target range" not in proc.stdout, proc.stderr
    (tmp_path / "bad.yaml").write_text("data: acc.csv\nfeatures: [C]\ntarget: acc\ntarget_range: [1, 0]\n")
    lines = [ln for ln in evosld("tasks", "bad.yaml").stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: task file") and "target_range" in lines[0]
    assert "LO,HI" in lines[0]


def test_a_built_in_task_declares_no_range(capsys):
    code, _, err = run_cli(capsys, "tasks", "sft_scaling_law", "--target-range", "0,1")
    assert one_error(code, err).startswith("error: --target-range is for your own data (--csv or a task file); the "
                                           "built-in task sft_scaling_law has its own table and split")


# ---------------------------------------------------------------- the data
def test_targets_outside_the_declared_range_are_one_error_line(tmp_path, capsys):
    df = accuracy_frame()
    df.loc[[7, 30, 31], "acc"] = [1.2, 1.3, -0.1]
    with pytest.raises(DataError, match=r"3 row\(s\) of 'acc' lie outside the declared target range 0\.\.1 "
                                        r"\(first: 1\.2, at line 9 of the file"):
        task_from_frame(df, ["C"], "acc", target_range="0,1")
    csv = tmp_path / "acc.csv"
    df.to_csv(csv, index=False)
    code, _, err = run_cli(capsys, "discover", "--csv", str(csv), "--features", "C", "--target", "acc",
                           "--target-range", "0,1", "--output", str(tmp_path / "run"))
    line = one_error(code, err)
    assert "3 row(s)" in line and "1.2" in line and "0..1" in line
    assert not (tmp_path / "run").exists()
    assert task_from_frame(df, ["C"], "acc", target_range="-0.5,").target_range == (-0.5, None)  # open side


def test_a_table_without_a_range_is_unchanged():
    task = task_from_frame(accuracy_frame(), ["C"], "acc", name="acc", target_range="none")
    assert task.target_range is None and "target_range" not in task.summary()
    loss = accuracy_frame().assign(acc=lambda d: 3.5 - 2 * d["acc"])  # a loss of 1.5 to 3: no range assumed
    task = task_from_frame(loss, ["C"], "acc", name="loss")
    assert task.target_range is None and task.target_range_how == ""


def test_a_target_whose_train_values_all_lie_in_0_1_is_taken_for_a_fraction():
    """No range given and every train value of every target in [0, 1]: the range 0..1 is assumed, said so,
    and kept out of a resumed run's say; test rows are not read to decide it, and "none" turns it off."""
    df = accuracy_frame()
    task = task_from_frame(df, ["C"], "acc", name="acc")
    assert task.target_range == (0.0, 1.0) and task.target_range_how == "assumed"
    assert task.summary()["target_range"] == [0.0, 1.0] and task.summary()["target_range_how"] == "assumed"
    declared = task_from_frame(df, ["C"], "acc", name="acc", target_range="0,1")
    assert declared.target_range == (0.0, 1.0) and declared.target_range_how == ""
    for off in ("none", "None", " NONE "):
        assert task_from_frame(df, ["C"], "acc", target_range=off).target_range is None
    two = df.assign(err=1 - df["acc"])  # every target must lie in it
    assert task_from_frame(two, ["C"], ["acc", "err"]).target_range == (0.0, 1.0)
    assert task_from_frame(two.assign(err=2 - df["acc"]), ["C"], ["acc", "err"]).target_range is None
    # a test row above 1 is not read to decide (nor refused: only a declared range refuses rows)
    above = df.copy()
    above.loc[above["C"] >= 1e23, "acc"] = 1.02
    task = task_from_frame(above, ["C"], "acc", test="C >= 1e23")
    assert task.target_range == (0.0, 1.0) and (task.test["acc"] > 1).all()
    with pytest.raises(DataError, match="outside the declared target range"):
        task_from_frame(above, ["C"], "acc", test="C >= 1e23", target_range="0,1")
    assert parse_target_range("none") is None


def test_discover_keeps_the_assumed_range_and_the_none_through_a_resume(tmp_path, capsys):
    csv = tmp_path / "acc.csv"
    accuracy_frame(n=30, seed=3).to_csv(csv, index=False)
    for given, want in (((), [0.0, 1.0]), (("--target-range", "none"), None)):
        out = tmp_path / f"run{len(given)}"
        code, text, err = run_cli(capsys, "discover", "--csv", str(csv), "--features", "C", "--target", "acc",
                                  "--test", "C >= 1e23", "--iterations", "3", "--output", str(out), *given)
        assert code == 0, err
        assert ("target range: 0..1 (assumed" in text + err) == (want is not None)
        best = json.loads((out / "best.json").read_text())
        assert best.get("target_range") == want
        assert best.get("target_range_how") == ("assumed" if want else None)
        code, text, err = run_cli(capsys, "discover", "--resume", str(out), "--iterations", "5", "--quiet")
        assert code == 0, err
        best = json.loads((out / "best.json").read_text())
        assert best.get("target_range") == want and best.get("target_range_how") == ("assumed" if want else None)
        page = (out / "report.html").read_text()
        assert ("0..1 (assumed: every train target lies in it" in page) == (want is not None)


# ---------------------------------------------------------------- the pick
def test_runaway_counts_leaving_the_declared_range_as_running_away():
    y = {"a": np.array([0.2, 0.5, 0.9])}  # span 0.7: slack 0.007
    over = {"a": np.array([0.95, 1.05])}
    assert runaway(over, y) == pytest.approx(0.15 / 0.7)  # inside the limit of one span
    assert plausible(runaway(over, y))
    assert runaway(over, y, (0.0, 1.0)) == math.inf
    assert not plausible(runaway(over, y, (0.0, 1.0)), limit=100.0)  # whatever the limit
    assert runaway({"a": np.array([1.0 + 0.5 * RANGE_SLACK * 0.7])}, y, (0.0, 1.0)) < 1  # a rounding error past it
    assert runaway({"a": np.array([-0.05])}, y, (0.0, None)) == math.inf  # an open side never binds
    assert runaway({"a": np.array([5.0])}, y, (None, 6.0)) == pytest.approx(4.1 / 0.7)
    two = {"a": np.array([[0.2, -0.9], [0.9, -0.1]])}
    assert runaway({"a": np.array([[0.5, 0.01]])}, two, (-1.0, 1.0)) < 1
    assert runaway({"a": np.array([[0.5, -1.2]])}, two, (-1.0, 1.0)) == math.inf  # every output


def test_a_law_overshooting_the_range_is_passed_over_and_kept_without_it():
    y = {"a": np.array([0.2, 0.5, 0.9])}
    probes = {1: {"a": np.array([0.97, 1.08])}, 2: {"a": np.array([0.95, 0.99])}}  # law 1 leads on validation
    cands = [Candidate(1, 0.97, 3), Candidate(2, 0.965, 3)]
    folds = {1: {"inner1": 0.9}, 2: {"inner1": 0.9}}
    for bounds, want in ((None, 1), ((0.0, 1.0), 2)):
        sel = choose(cands, 0.3, 0.0, folds.__getitem__, folds=("inner1",),
                     probe=lambda pid, b=bounds: runaway(probes[pid], y, b))
        assert sel is not None and sel.program_id == want
    assert {c.program_id: c.score for c in sel.candidates}[1] == -1.0


@pytest.fixture
def accuracy_store(tmp_path):
    """Two stores of the same run: the line law leads the capped one on validation."""
    def make(name: str) -> tuple[RunStore, dict[str, int]]:
        (tmp_path / name).mkdir()
        return store_with_laws(tmp_path / name / "run.sqlite", "acc", [("line", LINE, 0.96), ("capped", CAPPED, 0.95)], 2)

    return make


def test_finish_passes_over_the_law_that_leaves_the_range_and_records_it(tmp_path, accuracy_store):
    df = accuracy_frame()
    config = RunConfig(evaluator={"timeout": 30}, selection_folds=0)  # validation alone decides, then the probe
    plain = task_from_frame(df, ["C"], "acc", name="acc", target_range="none")
    bounded = task_from_frame(df, ["C"], "acc", name="acc", target_range="0,1")
    evaluator = Evaluator(bounded, Sandbox())
    assert probe_law(evaluator, LINE) == math.inf  # it predicts above 1 one step beyond the data ...
    assert probe_law(Evaluator(plain, Sandbox()), LINE) < 1  # ... well within one span of the train targets
    assert probe_law(evaluator, CAPPED) < 1

    store, ids = accuracy_store("plain")
    with store:
        out = finish(store, plain, tmp_path / "plain", config, LoopStatus())
    assert out.best_id == ids["line"]
    assert "target_range" not in json.loads((tmp_path / "plain" / "best.json").read_text())

    store, ids = accuracy_store("bounded")
    with store:
        out = finish(store, bounded, tmp_path / "bounded", config, LoopStatus())
    assert out.best_id == ids["capped"]
    best = json.loads((tmp_path / "bounded" / "best.json").read_text())
    assert best["target_range"] == [0.0, 1.0]
    cands = {c["program_id"]: c for c in best["selection"]["candidates"]}
    assert cands[ids["line"]]["beyond"] == "inf"
    page = write_report(tmp_path / "bounded", task=bounded).read_text()
    assert "leaves the declared range 0..1: runs away" in page


# ---------------------------------------------------------------- the fit keeps the law in range
def _logistic(U, th):
    """c_0 + c_1 / (1 + exp(a (u - m))) as the ``sat`` block: (N, 1) u, th = (a, m) -> (N, 2) basis."""
    return np.column_stack([np.ones(len(U)), 1.0 / (1.0 + np.exp(th[0] * (U[:, 0] - th[1])))])


def test_a_declared_range_keeps_a_rise_seen_only_in_its_early_part_below_the_bound():
    """An accuracy that has so far risen exponentially from chance (0.25 -> 0.48): least squares alone lets the
    logistic's tail stand in for that exponential and passes 1 just past the data; with the range guarded
    past the data the fit stays at most 1, as an accuracy must, and still fits the runs."""
    from evosld.proposers.symbolic.fit import fit_in_range, fit_varpro, range_guard

    u = np.linspace(-3.5, 0.0, 20)
    y = 0.25 + 0.01 * np.exp(0.9 * (u + 3.5))
    U, beyond = u[:, None], np.linspace(0.0, 1.75, 24)[:, None]  # up to half the data's span past it
    lo, hi, ilo, ihi = np.array([-8.0, -23.7]), np.array([8.0, 23.7]), np.array([0.2, -7.1]), np.array([2.0, 7.1])
    free = fit_varpro(_logistic, U, y, lo, hi, ilo, ihi)
    kept = fit_in_range(_logistic, U, y, lo, hi, ilo, ihi, beyond, (0.0, 1.0))
    top = {name: float(np.max(_logistic(beyond, th) @ c)) for name, (c, th) in (("free", free), ("kept", kept))}
    assert top["free"] > 1.2 and top["kept"] <= 1.0 + 1e-3
    resid = _logistic(U, kept[1]) @ kept[0] - y
    assert np.sqrt(np.mean(resid**2)) < 0.005  # still a fit to the runs
    assert range_guard(_logistic, beyond, None) is None and range_guard(_logistic, beyond, (None, None)) is None
    for y_range in (None, (0.0, 5.0)):  # no range, or one the plain fit keeps: the plain fit, bit for bit
        same = fit_in_range(_logistic, U, y, lo, hi, ilo, ihi, beyond, y_range)
        assert np.array_equal(same[1], free[1]) and np.array_equal(same[0], free[0])


def test_the_symbolic_search_writes_the_range_into_its_programs_and_only_with_a_range():
    from evosld.proposers.symbolic.proposer import SymbolicProposer

    df = accuracy_frame(n=30, seed=2)
    plain = task_from_frame(df, ["C"], "acc", test="C >= 1e23", target_range="none")
    bounded = task_from_frame(df, ["C"], "acc", test="C >= 1e23", target_range="0,1")
    p_plain, p_bounded = SymbolicProposer(plain.search_view()), SymbolicProposer(bounded.search_view())
    assert p_plain.space.beyond == () and p_plain.space.y_range is None
    space = p_bounded.space
    assert space.y_range == (0.0, 1.0) and len(space.beyond) == 24
    assert min(row[0] for row in space.beyond) >= space.umax[0]  # past the largest run, up to half the span
    assert max(row[0] for row in space.beyond) <= space.umax[0] + 0.5 * (space.umax[0] - space.umin[0]) + 1e-9
    from evosld.proposers.symbolic.expr import Factor, Law, Term

    logistic = Law.of(Term(), Term.of(Factor("sat", (0,))))
    a, b = p_plain.proposal(logistic, "test"), p_bounded.proposal(logistic, "test")
    assert "Y_RANGE" not in a.source and "fit_in_range" not in a.source
    assert "INIT_LO, INIT_HI, BEYOND, Y_RANGE," in b.source and "def fit_in_range(" in b.source
    assert "Kept within the declared target range [0, 1]" in b.source
    fit_rows = df[df["C"] < 1e21]  # up to the rise's midpoint
    ns: dict = {}
    exec(compile(b.source, "law.py", "exec"), ns)  # a standalone program: numpy and scipy only
    params = ns["fit_scaling_law"](fit_rows[["C"]].to_numpy(dtype=float), fit_rows["acc"].to_numpy(dtype=float))
    assert np.max(ns["scaling_law_func"](ns["BEYOND"], params)) <= 1.0 + 1e-3



def test_a_test_rule_below_the_runs_is_extrapolated_downwards_and_kept_in_range_there():
    """Accuracy against the model's loss, the test at the lowest losses (``loss <= t``): validation lies below
    the fit rows, so the feature is extrapolated *downwards*: no bowl along it, and the range is guarded below
    the smallest loss, where the law must next predict (above the largest there is nothing to ask)."""
    from evosld.proposers.symbolic.expr import Factor, Law, Term
    from evosld.proposers.symbolic.proposer import SymbolicProposer

    L = np.linspace(2.0, 3.6, 30)
    acc = 0.25 + 0.65 / (1 + np.exp(5.0 * (L - 2.4))) + 0.005 * np.random.default_rng(0).standard_normal(30)
    df = pd.DataFrame({"loss": L, "acc": acc})
    task = task_from_frame(df, ["loss"], "acc", test="loss <= 2.3", target_range="0,1")
    assert task.val_rule.startswith("loss <=")
    space = SymbolicProposer(task.search_view()).space
    assert space.extrapolated == (0,) and space.below == (0,) and not space.bowl_axis(0)
    assert len(space.beyond) == 24
    assert max(row[0] for row in space.beyond) <= space.umin[0]  # below the smallest run, up to half the span
    assert min(row[0] for row in space.beyond) >= space.umin[0] - 0.5 * (space.umax[0] - space.umin[0]) - 1e-9
    up = SymbolicProposer(task_from_frame(df, ["loss"], "acc", test="loss >= 3.3").search_view()).space
    assert up.extrapolated == (0,) and up.below == ()
    logistic = Law.of(Term(), Term.of(Factor("sat", (0,))))
    program = SymbolicProposer(task.search_view()).proposal(logistic, "test").source
    assert "def fit_in_range(" in program
    fit_rows = df[df["loss"] > 2.6]  # the rise seen only from chance up to about half way
    ns: dict = {}
    exec(compile(program, "law.py", "exec"), ns)
    params = ns["fit_scaling_law"](fit_rows[["loss"]].to_numpy(dtype=float), fit_rows["acc"].to_numpy(dtype=float))
    pred = ns["scaling_law_func"](ns["BEYOND"], params)
    assert np.max(pred) <= 1.0 + 1e-3 and np.min(pred) >= -1e-3


# ---------------------------------------------------------------- end to end
def test_discover_with_a_range_finishes_and_records_it(tmp_path):
    csv = tmp_path / "acc.csv"
    accuracy_frame(n=24, seed=1).to_csv(csv, index=False)
    proc = subprocess.run([sys.executable, "-m", "evosld.cli", "discover", "--csv", str(csv), "--features", "C",
                           "--target", "acc", "--target-range", "0,1", "--budget-seconds", "4", "--seed", "0",
                           "--output", str(tmp_path / "run")],
                          capture_output=True, text=True, env=dict(os.environ), timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert "target range: 0..1" in proc.stderr
    best = json.loads((tmp_path / "run" / "best.json").read_text())
    assert best["target_range"] == [0.0, 1.0]
    with RunStore.open(Path(tmp_path / "run" / "run.sqlite")) as store:  # kept for --resume
        assert store.run().config["task_spec"]["csv"]["target_range"] == [0.0, 1.0]

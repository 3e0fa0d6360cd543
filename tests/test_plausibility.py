"""A law must stay sane one step beyond the data: the probe inputs and the runaway check."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from evosld.config import RunConfig
from evosld.report import write_report
from evosld.run.runner import finish
from evosld.search.plausibility import drift, plausible, runaway
from evosld.search.selection import Candidate, choose
from evosld.search.status import LoopStatus
from evosld.tasks import task_from_frame
from tests.conftest import chinchilla_frame, store_with_laws
from tests.test_discover import GOOD

# Matches the data up to the largest train runs, then runs away: N**4 is 0.1 at 3e9 and 10 at 1e10.
RUNAWAY = GOOD.replace("return E + A * X[:, 0] ** (-a) + B * X[:, 1] ** (-b)",
                       "return E + A * X[:, 0] ** (-a) + B * X[:, 1] ** (-b) + 1e-39 * X[:, 0] ** 4")
assert RUNAWAY != GOOD


def test_runaway_is_the_excess_over_the_train_range_in_spans():
    y = {"a": np.array([1.0, 2.0, 3.0]), "b": np.array([5.0, 5.0])}
    assert runaway({"a": np.array([1.5, 2.5])}, y) == 0.0
    assert runaway({"a": np.array([0.0, 3.5])}, y) == pytest.approx(0.5)  # 1 below the range of span 2
    assert runaway({"a": np.array([7.0])}, y) == pytest.approx(2.0)
    assert runaway({"a": np.array([np.nan])}, y) == math.inf
    assert runaway({"b": np.array([99.0])}, y) == 0.0  # targets that do not vary say nothing
    two = {"a": np.array([[1.0, 10.0], [2.0, 20.0]])}
    assert runaway({"a": np.array([[1.5, 40.0]])}, two) == pytest.approx(2.0)  # per output
    assert runaway({}, y) == 0.0
    assert plausible(None) and plausible(0.9) and not plausible(1.1) and not plausible(math.inf)


def test_a_positive_target_spanning_decades_is_measured_in_ratios():
    N = np.logspace(9, 10, 6)
    y = {"g": 3e6 * (N / 1e9) ** 1.1}  # GPU-hours: 3e6 to 38e6
    step = 3e6 * (np.array([10 ** 10.5]) / 1e9) ** 1.1  # the same power half a decade further
    assert (step[0] - y["g"].max()) / np.ptp(y["g"]) > 2  # in linear spans it would count as running away
    assert runaway({"g": step}, y) == pytest.approx(0.5)  # half of the span in log
    assert runaway({"g": step * 100}, y) > 1  # a hundredfold jump still runs away
    assert runaway({"g": np.array([-1.0])}, y) == math.inf  # below zero: impossible for such a target
    narrow = {"g": np.array([2.0, 3.0, 4.0])}  # a loss spanning 2x keeps linear spans
    assert runaway({"g": np.array([0.5])}, narrow) == pytest.approx(0.75)


def test_drift_is_how_far_the_fold_fits_move_the_probe_predictions_in_spans():
    y = {"a": np.array([1.0, 2.0, 3.0]), "b": np.array([10.0, 30.0]), "flat": np.array([4.0, 4.0])}
    full = {"a": np.array([0.5, 0.5]), "b": np.array([8.0]), "flat": np.array([4.0])}
    assert drift(full, [full, full], y) == 0.0
    moved = {"a": np.array([1.5, -0.5]), "b": np.array([8.0]), "flat": np.array([9.0])}
    # a moves by half a span at both points, b not at all; a target that does not vary says nothing
    assert drift(full, [moved], y) == pytest.approx(math.sqrt((0.25 + 0.25 + 0) / 3))
    assert drift(full, [moved, full], y) == pytest.approx(math.sqrt(0.5 / 3) / 2)  # the mean over fold fits
    assert drift(full, [None], y) == math.inf  # a fold fit that failed
    assert drift(full, [{"a": np.array([np.nan, 0.5])}], y) == math.inf
    assert drift(full, [], y) is None and drift(full, [{"other": np.array([1.0])}], y) is None
    decades = {"g": np.array([1.0, 10.0, 100.0])}  # positive, spanning decades: moves in ratios
    assert drift({"g": np.array([1000.0])}, [{"g": np.array([100.0])}], decades) == pytest.approx(0.5)
    assert drift({"g": np.array([1000.0])}, [{"g": np.array([-1.0])}], decades) == math.inf


def test_close_selection_scores_go_to_the_law_whose_extrapolation_moves_least_when_refit():
    cands = [Candidate(1, 0.93, 6), Candidate(2, 0.928, 6), Candidate(3, 0.926, 6)]
    folds = ("inner1",)
    scores = {1: {"inner1": 0.800}, 2: {"inner1": 0.795}, 3: {"inner1": 0.70}}
    moves = {1: 0.20, 2: 0.05, 3: 0.01}

    def pick(steady: float, how=moves.get):
        return choose(cands, band=0.3, tolerance=0.0005, fold_r2=lambda pid: scores[pid], folds=folds,
                      val_weight=0.5, drift=how, steady=steady)

    sel = pick(0.01)
    # 2 scores within 0.01 of 1 and moves least; 3 moves less still but scores far below
    assert sel is not None and sel.program_id == 2 and sel.steady == 0.01
    assert {c.program_id: c.drift for c in sel.candidates} == moves
    from evosld.cli import selection_lines
    assert "too close to rank: refit on the folds, the pick's prediction one step beyond the data moves 0.05 " \
        "spans, the runner-up's 0.2" in selection_lines(sel)[0]
    assert pick(0.0).program_id == 1 and pick(0.0).steady == 0.0  # off: the best score wins
    assert pick(0.01, lambda pid: None).program_id == 1  # nothing measured: the best score wins
    assert pick(0.01, lambda pid: math.inf if pid == 2 else moves[pid]).program_id == 1  # its fold fit failed
    cands.append(Candidate(4, 0.927, 4))  # fewer parameters, close in score, moving more than law 2
    scores[4], moves[4] = {"inner1": 0.7972}, 0.09
    assert pick(0.01).program_id == 2
    moves[4] = 0.0503  # moving as law 2 moves, within the tolerance: a tie that fewer parameters win
    assert pick(0.01).program_id == 4
    record = json.loads(json.dumps(pick(0.01, lambda pid: math.inf if pid == 3 else moves[pid]).to_json()))
    assert {c["program_id"]: c["drift"] for c in record["candidates"]}[3] == "inf" and record["steady"] == 0.01


def _jittered(seed: int = 0):
    df = chinchilla_frame(seed)
    rng = np.random.default_rng(seed)
    df["N"] = df["N"] * (1 + 1e-6 * rng.random(len(df)))  # sizes read off a figure: never exactly equal
    df["model"] = np.where(df["D"] > 3e10, "long", "short")
    return df


def test_probe_steps_one_band_beyond_validation_per_group_and_not_for_random_folds():
    task = task_from_frame(_jittered(), ["N", "D"], "loss", group="model", test="N > 5e9", name="jit")
    probe = task.probe()
    assert set(probe) == {"long", "short"}
    keys = task.train["group"].to_numpy()
    N = task.train["N"].to_numpy()
    for g, X in probe.items():
        val_n = N[task.val_mask & (keys == g)]
        assert X.shape == (len(val_n), 2)
        assert X[:, 0].min() > val_n.max()  # beyond validation along the rule's column
        assert X[:, 0].max() < 10 * val_n.max()  # by about one band (half a decade here), not without bound
    assert np.allclose(np.sort(probe["long"][:, 1]),
                       np.sort(task.train.loc[task.val_mask & (keys == "long"), "D"].to_numpy()))  # D unmoved
    mixed = task_from_frame(_jittered().assign(p=lambda d: np.linspace(0.1, 0.9, len(d))), ["p"], "loss",
                            test="random:4", name="mix")
    assert mixed.probe() == {}


def test_a_law_that_runs_away_beyond_the_data_loses_whatever_its_folds_say():
    cands = [Candidate(1, 0.96, 5), Candidate(2, 0.95, 5), Candidate(3, 0.50, 2)]
    folds = {1: {"inner1": 0.99, "inner2": 0.99}, 2: {"inner1": 0.9, "inner2": 0.9}, 3: {"inner1": 0.5, "inner2": 0.5}}
    beyond = {1: 7.0, 2: 0.1, 3: 0.0}
    sel = choose(cands, 0.3, 0.0, folds.__getitem__, folds=("inner1", "inner2"), probe=beyond.__getitem__)
    assert sel is not None and sel.program_id == 2
    by_id = {c.program_id: c for c in sel.candidates}
    assert by_id[1].score == -1.0 and by_id[1].beyond == 7.0 and by_id[2].beyond == 0.1
    assert by_id[3].score == pytest.approx(0.5) and by_id[3].beyond == 0.0  # simpler: it joins, sane, and loses
    sel = choose(cands, 0.3, 0.0, folds.__getitem__, folds=("inner1", "inner2"), probe={1: 7.0, 2: math.inf, 3: 0.0}.get)
    assert sel.program_id == 3  # nothing in the running is sane: the next law down that is joins it
    sel = choose(cands, 0.3, 0.0, folds.__getitem__, folds=("inner1", "inner2"), probe={1: 7.0, 2: 3.0, 3: 2.0}.get)
    assert sel.program_id in (1, 2)  # nothing sane anywhere: the folds decide among the running as before
    assert sel.simpler_from is None  # the simpler law 3 runs away as well: it is no way out and does not join
    sel = choose(cands, 0.3, 0.0, folds.__getitem__, folds=(), probe=beyond.__getitem__)
    assert sel.program_id == 2  # no inner folds: still the sane law


@pytest.fixture
def runaway_store(synthetic_task, tmp_path):
    store, ids = store_with_laws(tmp_path / "run.sqlite", synthetic_task.name,
                                 [("runaway", RUNAWAY, 0.96), ("good", GOOD, 0.95)], 5)
    yield store, ids
    store.close()


def test_finish_refuses_the_law_that_runs_away_and_says_so(synthetic_task, tmp_path, runaway_store):
    store, ids = runaway_store
    out = finish(store, synthetic_task, tmp_path, RunConfig(evaluator={"timeout": 30}), LoopStatus())
    assert out.best_id == ids["good"]
    cands = {c["program_id"]: c for c in json.loads((tmp_path / "best.json").read_text())["selection"]["candidates"]}
    assert cands[ids["runaway"]]["beyond"] > 1.0 > cands[ids["good"]]["beyond"]
    assert cands[ids["runaway"]]["score"] == -1.0
    assert set(store.get_state("probe_excess")) == {str(ids["runaway"]), str(ids["good"])}  # kept for a re-finish
    page = write_report(tmp_path, task=synthetic_task).read_text()
    assert "Beyond the data" in page and "spans: runs away" in page
    off = finish(store, synthetic_task, tmp_path, RunConfig(evaluator={"timeout": 30}, selection_probe=None),
                 LoopStatus())
    assert off.best_id == ids["runaway"]  # without the check the folds cannot tell: it fits every band

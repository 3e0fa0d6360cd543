"""The final pick: laws close on validation told apart by nested extrapolation folds."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from evosld.config import RunConfig
from evosld.evaluation.evaluator import Evaluator
from evosld.report import write_report
from evosld.run.runner import finish
from evosld.run.store import RunStore
from evosld.search.selection import Candidate, OutOfTime, choose, fold_score, tied
from evosld.search.status import LoopStatus
from evosld.tasks import task_from_frame
from tests.conftest import chinchilla_frame
from tests.test_discover import GOOD

# A law that ignores the data: the mean of the fit rows.
MEAN = '''
import numpy as np
# EVOLVE-BLOCK-START
def scaling_law_func(data_points, params):
    return np.full(len(np.atleast_2d(data_points)), params[0])

def fit_scaling_law(data_points, loss_values):
    return np.array([float(np.mean(loss_values))])
# EVOLVE-BLOCK-END
'''


def _c(pid: int, val: float, n: int | None = 5) -> Candidate:
    return Candidate(pid, val, n)


def test_tie_width_is_a_share_of_the_remaining_error():
    cands = [_c(1, 0.90), _c(2, 0.895), _c(3, 0.889), _c(4, 0.5)]
    assert [c.program_id for c in tied(cands, band=0.1, tolerance=0.0)] == [1, 2]  # 0.90 - 0.1 * 0.10
    assert [c.program_id for c in tied(cands, band=0.0, tolerance=0.02)] == [1, 2, 3]
    assert [c.program_id for c in tied(cands, band=1.0, tolerance=0.0, pool=2)] == [1, 2]
    assert tied([], band=0.1, tolerance=0.0) == []


def test_laws_in_the_running_are_told_apart_by_their_fold_scores():
    cands = [_c(1, 0.95, 6), _c(2, 0.949, 7), _c(3, 0.948, 7), _c(4, 0.80, 3)]
    asked: list[int] = []

    def folds(pid: int) -> dict[str, float | None]:
        asked.append(pid)
        return {1: {"inner1": 0.2, "inner2": 0.9}, 2: {"inner1": None, "inner2": 0.99},
                3: {"inner1": 0.96, "inner2": 0.97}, 4: {"inner1": 0.5, "inner2": 0.4}}[pid]

    sel = choose(cands, band=0.3, tolerance=0.0005, fold_r2=folds, folds=("inner1", "inner2"))
    assert sel is not None and sel.program_id == 3 and sel.rule == "extrapolation folds"
    assert sorted(asked) == [1, 2, 3, 4]  # law 4 is not close on validation, but simpler: it joins, and loses
    assert sel.simpler_from == 3
    by_id = {c.program_id: c for c in sel.candidates}
    assert by_id[3].score == pytest.approx((0.948 + 0.96 + 0.97) / 3)  # mean of validation and the folds
    assert by_id[1].score == pytest.approx((0.95 + 0.2 + 0.9) / 3)  # one fold that suits a law cannot carry it
    assert by_id[2].score == pytest.approx((0.949 - 1 + 0.99) / 3)  # a failed fold counts -1
    assert [c.program_id for c in sel.candidates] == [3, 1, 4, 2]  # ranked by score
    json.dumps(sel.to_json())


def test_fold_score_is_a_weighted_mean_of_clipped_r2():
    assert fold_score(0.9, {}, 1 / 3) == pytest.approx(0.9)
    assert fold_score(0.5, {"inner1": 0.9, "inner2": 0.1}, 1 / 3) == pytest.approx(0.5)
    assert fold_score(0.9, {"inner1": -50.0}, 1 / 3) == pytest.approx((0.9 - 2.0) / 3)  # clipped at -1
    assert fold_score(0.9, {"inner1": -50.0}, 0.5) == pytest.approx(-0.05)
    assert fold_score(0.9, {"inner1": None, "inner2": 0.2}, 0.6) == pytest.approx(0.54 + 0.2 * (-1 + 0.2))


def test_equal_fold_scores_prefer_fewer_parameters_then_validation():
    cands = [_c(1, 0.95, 7), _c(2, 0.949, 5), _c(3, 0.949, 5)]
    sel = choose(cands, band=0.1, tolerance=0.0, fold_r2=lambda pid: {}, folds=("inner1",))
    assert sel is not None and sel.program_id == 1  # no fold scores: validation decides
    sel = choose(cands[1:], band=0.1, tolerance=0.0, fold_r2=lambda pid: {"inner1": 0.5}, val_weight=0.0,
                 folds=("inner1",))
    assert sel is not None and sel.program_id == 2  # equal scores and parameters: the older program


def test_band_zero_is_parsimony_and_a_lone_leader_is_the_pick_with_its_fold_scores_on_record():
    cands = [_c(1, 0.95, 7), _c(2, 0.9498, 4), _c(3, 0.90, 2)]

    def never(pid: int) -> dict:
        raise AssertionError("no refit expected")

    sel = choose(cands, band=0.0, tolerance=0.0005, fold_r2=never, folds=("inner1",))
    assert sel is not None and sel.program_id == 2 and sel.rule == "parsimony"
    sel = choose([_c(1, 0.95), _c(2, 0.80)], band=0.1, tolerance=0.0005, fold_r2=never, folds=("inner1",),
                 check_alone=False)
    assert sel is not None and sel.program_id == 1 and sel.rule == "validation"
    # alone in the running it is the pick whatever its folds say, and they are recorded: here it fails one
    asked: list[int] = []

    def poor(pid: int) -> dict[str, float | None]:
        asked.append(pid)
        return {"inner1": 0.9, "inner1->val": None}

    sel = choose([_c(1, 0.95), _c(2, 0.80)], band=0.1, tolerance=0.0005, fold_r2=poor,
                 folds=("inner1", "inner1->val"))
    assert sel is not None and sel.program_id == 1 and sel.rule == "validation" and asked == [1]
    (alone,) = sel.candidates
    assert alone.folds == {"inner1": 0.9, "inner1->val": None}
    assert alone.score == pytest.approx((0.95 + 0.9 - 1.0) / 3) and json.dumps(sel.to_json())

    def no_time(pid: int) -> dict:
        raise OutOfTime("the time to finish ran out")

    sel = choose([_c(1, 0.95), _c(2, 0.80)], band=0.1, tolerance=0.0005, fold_r2=no_time, folds=("inner1",))
    assert sel.program_id == 1 and sel.candidates[0].folds == {} and sel.unchecked == ()  # still the pick
    sel = choose(cands, band=0.1, tolerance=0.0005, fold_r2=never, folds=())
    assert sel is not None and sel.program_id == 1 and sel.rule == "validation"  # a task without inner folds
    assert choose([], band=0.1, tolerance=0.0, fold_r2=never) is None


def _grid(seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    N = np.repeat(np.logspace(7, 10, 8), 5)
    D = np.tile(np.logspace(9, 12, 5), 8)
    loss = (1.7 + 400 / N**0.34 + 410 / D**0.28) * (1 + 0.01 * rng.standard_normal(len(N)))
    return pd.DataFrame({"N": N, "D": D, "loss": loss, "model": np.where(N > 3e8, "big", "small")})


def test_inner_folds_are_nested_bands_below_validation():
    task = task_from_frame(_grid(), ["N", "D"], "loss", test="N >= 1e10", val="N >= 3.7e9", name="grid")
    folds = task.inner_folds(2)
    assert [f.name for f in folds] == ["inner1", "inner2"]
    N = task.train["N"]
    val_min = N[task.val_mask].min()
    prev_low = val_min
    for f in folds:
        assert not (f.fit & f.scored).any() and not ((f.fit | f.scored) & task.val_mask).any()
        assert N[f.scored].max() < prev_low and N[f.fit].max() < N[f.scored].min()  # fit below, predict the band
        assert f.scored.sum() >= 3
        prev_low = N[f.scored].min()
    assert folds[1].fit.sum() < folds[0].fit.sum()
    fit_part, scored = task.frames("inner")
    assert len(scored) == folds[0].scored.sum() and len(fit_part) == folds[0].fit.sum()
    blind = task_from_frame(_grid().assign(loss=lambda d: np.where(d.N >= 3.7e9, 99.0 + d.D / 1e12, d.loss)),
                            ["N", "D"], "loss", test="N >= 1e10", val="N >= 3.7e9", name="grid")
    for a, b in zip(blind.inner_folds(2), folds):  # validation targets are never read
        assert np.array_equal(a.fit, b.fit) and np.array_equal(a.scored, b.scored)


def test_inner_folds_are_per_group_for_largest_and_random_without_a_direction():
    df = _grid()
    grouped = task_from_frame(df, ["N", "D"], "loss", group="model", test="largest:D", name="g")
    assert grouped.val_rule == "largest:D"
    keys = grouped.train["group"].to_numpy()
    D = grouped.train["D"].to_numpy()
    for f in grouped.inner_folds(2):
        for g in ("big", "small"):
            band = f.scored & (keys == g)
            assert len(set(D[band])) == 1 and D[band][0] > D[f.fit & (keys == g)].max()
    mixed = task_from_frame(df.assign(p=np.linspace(0.1, 0.9, len(df))), ["p"], "loss", test="random:3", val="random:3",
                            name="r")
    folds = mixed.inner_folds(2)
    assert len(folds) == 2 and not (folds[0].scored & folds[1].scored).any()
    assert all((f.fit | f.scored).sum() == (~mixed.val_mask).sum() for f in folds)  # fit on all other fit rows
    again = mixed.inner_folds(2)
    assert all(np.array_equal(a.scored, b.scored) for a, b in zip(folds, again))  # seeded


def record_reference(run_dir) -> dict:
    return json.loads((run_dir / "best.json").read_text())["reference"]


@pytest.fixture
def tied_store(synthetic_task, tmp_path):
    """A run whose two best laws tie on validation: the top one ignores the data."""
    store = RunStore.create(tmp_path / "run.sqlite", synthetic_task.name, 0, {})
    ids = {}
    for name, src, val in (("mean", MEAN, 0.951), ("good", GOOD, 0.950), ("far", GOOD.replace("1.5, 300.0", "1.6, 300.0"), 0.7)):
        pid = store.add_program(src, meta={"n_params": 1 if name == "mean" else 5})
        store.add_evaluation(pid, {"split": "val", "r2": val}, r2=val)
        ids[name] = pid
    yield store, ids
    store.close()


@pytest.fixture
def evaluated_splits(monkeypatch) -> list[str]:
    """The split of every evaluation made while the test runs, in order (the evaluations still run)."""
    calls: list[str] = []
    real = Evaluator.evaluate

    def counting(self, program, split="val", extra_predict=None, **kwargs):
        calls.append(split)
        return real(self, program, split, extra_predict, **kwargs)

    monkeypatch.setattr(Evaluator, "evaluate", counting)
    return calls


def test_finish_returns_the_tied_law_that_extrapolates_and_keeps_its_scores(synthetic_task, tmp_path, tied_store,
                                                                               evaluated_splits):
    store, ids = tied_store
    calls = evaluated_splits
    config = RunConfig(evaluator={"timeout": 30})
    out = finish(store, synthetic_task, tmp_path, config, LoopStatus())
    assert out.best_id == ids["good"] and out.selection is not None
    n_folds = len(synthetic_task.inner_folds(2))
    assert n_folds == 2
    # the far law is never refitted; both laws are probed beyond the data (refit on train: the split the pick's
    # checks use, thinned on a dense table); the Chinchilla reference is refit once on val and test beside the pick
    assert sorted(calls) == ["inner1", "inner1", "inner2", "inner2", "search_train", "search_train", "test", "test",
                             "val"]
    assert record_reference(tmp_path)["name"].startswith("Chinchilla form")
    record = json.loads((tmp_path / "best.json").read_text())
    assert record["selection"]["folds"] == ["inner1", "inner1->val", "inner2", "inner2->val"]  # one refit per fold
    cands = {c["program_id"]: c for c in record["selection"]["candidates"]}
    assert set(cands) == {ids["mean"], ids["good"]}
    assert cands[ids["good"]]["folds"]["inner1"] > 0.9 > cands[ids["mean"]]["folds"]["inner1"]
    assert cands[ids["good"]]["score"] > cands[ids["mean"]]["score"]
    assert store.get_state("final_program_id") == ids["good"]
    # each law's probe predictions, refit on all train and on each fold, are kept: how far they move
    from evosld.run.runner import FOLD_PROBE_STATE, PROBE_POINTS_STATE
    assert set(store.get_state(PROBE_POINTS_STATE)) == set(store.get_state(FOLD_PROBE_STATE)) == \
        {str(ids["good"]), str(ids["mean"])}
    assert set(store.get_state(FOLD_PROBE_STATE)[str(ids["good"])]) == {"inner1", "inner2"}
    assert 0 <= cands[ids["good"]]["drift"] < 0.2 and record["selection"]["steady"] == 0  # shown, not picking

    calls.clear()
    again = finish(store, synthetic_task, tmp_path, config, LoopStatus())
    assert again.best_id == ids["good"] and calls == []  # fold and test scores are kept in the store

    page = write_report(tmp_path, task=synthetic_task).read_text()
    assert "How the law was chosen" in page and f"program {ids['good']} <span" in page
    assert "moves when refit" in page

    plain = finish(store, synthetic_task, tmp_path, RunConfig(selection_band=0.0), LoopStatus())
    assert plain.best_id == ids["mean"]  # band 0: the best validation R² (fewest parameters within tolerance)


def test_fold_scores_stored_on_other_folds_are_rescored(synthetic_task, tmp_path, tied_store, evaluated_splits):
    """A newer evosld can build other folds for the same table (one dropped, the next taking its name):
    scores stored under ``inner1`` then belong to other rows, and a resumed finish refits them."""
    from evosld.evaluation.foldscores import folds_digest
    from evosld.run.runner import FOLD_ROWS_STATE, FOLD_STATE

    store, ids = tied_store
    config = RunConfig(evaluator={"timeout": 30})
    assert finish(store, synthetic_task, tmp_path, config, LoopStatus()).best_id == ids["good"]
    assert store.get_state(FOLD_ROWS_STATE) == folds_digest(synthetic_task, 2) != folds_digest(synthetic_task, 1)
    # scores that favour the law ignoring the data, as if made on other rows
    made_elsewhere = {key: {name: (0.99 if key == str(ids["mean"]) else -1.0) for name in scores}
                      for key, scores in store.get_state(FOLD_STATE).items()}
    store.set_state(FOLD_STATE, made_elsewhere)
    calls = evaluated_splits
    calls.clear()
    store.set_state(FOLD_ROWS_STATE, "folds of an older version")
    again = finish(store, synthetic_task, tmp_path, config, LoopStatus())
    assert again.best_id == ids["good"] and sorted(c for c in calls if c.startswith("inner")) == \
        ["inner1", "inner1", "inner2", "inner2"]
    assert store.get_state(FOLD_STATE)[str(ids["good"])]["inner1"] > 0.9
    # the same rows as recorded: the stored scores are used as they are
    store.set_state(FOLD_STATE, made_elsewhere)
    calls.clear()
    assert finish(store, synthetic_task, tmp_path, config, LoopStatus()).best_id == ids["mean"]
    assert not [c for c in calls if c.startswith("inner")]


def test_a_lone_leader_its_folds_score_below_a_constant_is_weighed_against_the_next_laws(synthetic_task, tmp_path):
    """A law far ahead on validation is alone in the running; refit on the folds it does worse than a constant
    (a mean), so the next laws by validation join the running and the folds pick among them. Its refits are
    recorded in best.json, shown in the report and said on the command line."""
    from evosld.cli import selection_lines

    with RunStore.create(tmp_path / "run.sqlite", synthetic_task.name, 0, {}) as store:
        lone = store.add_program(MEAN, meta={"n_params": 1})
        store.add_evaluation(lone, {"split": "val", "r2": 0.99}, r2=0.99)
        other = store.add_program(GOOD, meta={"n_params": 5})
        store.add_evaluation(other, {"split": "val", "r2": 0.5}, r2=0.5)
        out = finish(store, synthetic_task, tmp_path, RunConfig(evaluator={"timeout": 30}), LoopStatus())
    assert out.best_id == other and out.selection.rule == "extrapolation folds"
    assert out.selection.widened_from == lone
    lead = next(c for c in out.selection.candidates if c.program_id == lone)
    assert set(lead.folds) == {"inner1", "inner1->val", "inner2", "inner2->val"}
    assert lead.folds["inner1"] < 0.5 and lead.score < 0  # the mean of the fit rows misses each band
    record = json.loads((tmp_path / "best.json").read_text())["selection"]
    assert record["widened_from"] == lone and {c["program_id"] for c in record["candidates"]} == {lone, other}
    page = write_report(tmp_path, task=synthetic_task).read_text()
    assert "How the law was chosen" in page and f"the best on validation (program {lone})" in page
    (line,) = selection_lines(out.selection)
    assert f"the best on validation (program {lone})" in line and "worse than a constant" in line


def test_laws_close_on_validation_all_worse_than_a_constant_make_room_for_simpler_ones(synthetic_task, tmp_path):
    """Two laws lead validation together and both do worse than a constant on their folds (they ignore the data):
    the best law at each smaller parameter count joins, and the folds pick it. Recorded in best.json, shown in
    the report and said on the command line."""
    from evosld.cli import selection_lines

    with RunStore.create(tmp_path / "run.sqlite", synthetic_task.name, 0, {}) as store:
        first = store.add_program(MEAN, meta={"n_params": 6})
        store.add_evaluation(first, {"split": "val", "r2": 0.99}, r2=0.99)
        second = store.add_program(MEAN + "# the same law again\n", meta={"n_params": 6})
        store.add_evaluation(second, {"split": "val", "r2": 0.989}, r2=0.989)
        simple = store.add_program(GOOD, meta={"n_params": 5})
        store.add_evaluation(simple, {"split": "val", "r2": 0.5}, r2=0.5)
        out = finish(store, synthetic_task, tmp_path, RunConfig(evaluator={"timeout": 30}), LoopStatus())
    assert out.best_id == simple and out.selection.simpler_from in (first, second)
    assert out.selection.widened_from is None
    record = json.loads((tmp_path / "best.json").read_text())["selection"]
    assert record["simpler_from"] == out.selection.simpler_from
    assert {c["program_id"] for c in record["candidates"]} == {first, second, simple}
    page = write_report(tmp_path, task=synthetic_task).read_text()
    assert "at each smaller parameter count joined them" in page
    assert "A simpler law won over the best of the laws close on validation" in page
    (line,) = selection_lines(out.selection)
    assert "a simpler law beat the best of the laws close on validation" in line


def test_a_lone_leader_is_weighed_against_the_next_laws_only_when_its_folds_score_below_zero():
    cands = [_c(1, 0.95, 7), _c(2, 0.60, 3), _c(3, 0.55, 2)]
    folds = ("inner1", "inner2")
    scores = {1: {"inner1": -0.5, "inner2": -1.0}, 2: {"inner1": 0.8, "inner2": 0.7}, 3: {"inner1": 0.9, "inner2": 0.1}}
    sel = choose(cands, band=0.1, tolerance=0.0005, fold_r2=lambda pid: scores[pid], folds=folds, val_weight=1 / 3)
    assert sel is not None and sel.program_id == 2 and sel.widened_from == 1
    assert [c.program_id for c in sel.candidates] == [2, 3, 1]
    sel = choose(cands, band=0.1, tolerance=0.0005, fold_r2=lambda pid: scores[pid], folds=folds, widen=False)
    assert sel is not None and sel.program_id == 1 and sel.rule == "validation" and sel.widened_from is None
    scores[1] = {"inner1": 0.2, "inner2": -1.0}  # (0.95 + 0.2 - 1) / 3 >= 0: it stays the pick
    sel = choose(cands, band=0.1, tolerance=0.0005, fold_r2=lambda pid: scores[pid], folds=folds)
    assert sel is not None and sel.program_id == 1 and sel.rule == "validation"


def test_the_simpler_laws_join_and_the_folds_pick_among_them_all():
    """Several laws close on validation, all worse than a constant over their folds (they bend through noise):
    the best law on validation at each smaller parameter count joins, and the folds pick among them all. They
    join a running that does well too, and win only by their folds."""
    cands = [_c(1, 0.92, 5), _c(2, 0.915, 5), _c(3, 0.86, 4), _c(4, 0.84, 4), _c(5, 0.71, 2), _c(6, 0.70, 2),
             _c(7, 0.65, 3), _c(8, 0.30, 1)]
    folds = ("inner1", "inner2")
    bad = {"inner1": -0.9, "inner2": -1.0}
    scores = {1: bad, 2: bad, 3: bad, 4: bad, 5: {"inner1": 0.7, "inner2": 0.6}, 6: bad,
              7: {"inner1": 0.5, "inner2": 0.4}, 8: {"inner1": -1.0, "inner2": -1.0}}
    asked: list[int] = []

    def fold_r2(pid):
        asked.append(pid)
        return scores[pid]

    sel = choose(cands, band=0.3, tolerance=0.0005, fold_r2=fold_r2, folds=folds, val_weight=1 / 3)
    assert sel is not None and sel.program_id == 5 and sel.simpler_from == 1
    assert sorted(asked) == [1, 2, 3, 5, 7, 8]  # the running (1-3: within the band), then 4 and fewer parameters
    assert sel.to_json()["simpler_from"] == 1
    from evosld.cli import selection_lines
    (line,) = selection_lines(sel)
    assert "a simpler law beat the best of the laws close on validation (program 1, -0.3267;" in line
    assert "smaller parameter count joins them); chosen among 6 by its score" in line
    scores[1] = {"inner1": 0.9, "inner2": 0.85}  # (0.92 + 0.9 + 0.85) / 3 beats the simpler law 5's 0.67
    sel = choose(cands, band=0.3, tolerance=0.0005, fold_r2=lambda pid: scores[pid], folds=folds)
    assert sel is not None and sel.program_id == 1 and sel.simpler_from == 1
    (line,) = selection_lines(sel)
    assert "simpler law beat" not in line and "chosen among 6 laws close on validation and the best at each smaller" in line
    scores[1] = {"inner1": 0.1, "inner2": 0.0}  # (0.92 + 0.1 + 0) / 3 >= 0 but below law 5: law 5 wins
    sel = choose(cands, band=0.3, tolerance=0.0005, fold_r2=lambda pid: scores[pid], folds=folds)
    assert sel is not None and sel.program_id == 5 and sel.simpler_from == 1
    scores[1] = bad
    sel = choose(cands, band=0.3, tolerance=0.0005, fold_r2=lambda pid: scores[pid], folds=folds, widen=False)
    assert sel is not None and sel.simpler_from is None and sel.program_id in (1, 2, 3)


def test_selection_scores_within_the_tolerance_are_a_tie_that_fewer_parameters_win():
    # a power law times a sigmoid that sleeps on the data scores what the power law scores, to 1e-5
    cands = [_c(1, 0.93, 4), _c(2, 0.9299, 2), _c(3, 0.928, 3)]
    folds = ("inner1",)
    scores = {1: {"inner1": 0.80002}, 2: {"inner1": 0.80000}, 3: {"inner1": 0.79}}
    sel = choose(cands, band=0.3, tolerance=0.0005, fold_r2=lambda pid: scores[pid], folds=folds, val_weight=0.5)
    assert sel is not None and sel.program_id == 2 and [c.program_id for c in sel.candidates] == [2, 1, 3]
    scores[1] = {"inner1": 0.802}  # ahead by more than the tolerance: its lead stands
    sel = choose(cands, band=0.3, tolerance=0.0005, fold_r2=lambda pid: scores[pid], folds=folds, val_weight=0.5)
    assert sel is not None and sel.program_id == 1


def test_laws_the_finishing_time_did_not_reach_leave_the_running():
    cands = [_c(1, 0.95), _c(2, 0.949), _c(3, 0.948), _c(4, 0.80)]
    scores = {1: {"inner1": 0.5, "inner2": 0.5}, 2: {"inner1": 0.99, "inner2": 0.99}}

    def folds(pid: int) -> dict[str, float | None]:
        if pid not in scores:
            raise OutOfTime("the time to finish ran out")
        return scores[pid]

    sel = choose(cands, band=0.3, tolerance=0.0005, fold_r2=folds, folds=("inner1", "inner2"))
    assert sel is not None and sel.program_id == 2 and sel.rule == "extrapolation folds"
    assert [c.program_id for c in sel.candidates] == [2, 1] and sel.unchecked == (3,)
    assert sel.to_json()["unchecked"] == [3]

    def no_time(pid: int) -> dict[str, float | None]:
        raise OutOfTime("the time to finish ran out")

    sel = choose(cands, band=0.3, tolerance=0.0005, fold_r2=no_time, folds=("inner1", "inner2"))
    assert sel.program_id == 1 and sel.rule == "validation" and sel.unchecked == (1, 2, 3)  # the best on validation
    # the probe ran out after the first law: the others leave; the first, sane and alone, is the pick
    probe = {1: 0.1}
    sel = choose(cands, band=0.3, tolerance=0.0005, fold_r2=no_time, folds=("inner1", "inner2"),
                 probe=lambda pid: probe[pid] if pid in probe else no_time(pid))
    assert sel.program_id == 1 and sel.unchecked == (2, 3)
    # it ran out before any law was probed: the best on validation, unprobed
    sel = choose(cands, band=0.3, tolerance=0.0005, fold_r2=folds, folds=("inner1", "inner2"), probe=no_time)
    assert sel.program_id == 1 and sel.rule == "validation" and 1 in sel.unchecked


def _laws_store(path, task_name: str, laws=None, simpler: str | None = None) -> tuple[RunStore, dict[str, int]]:
    """A run store of laws (name, source, val R²) with 5 parameters, and a simpler one (1 parameter) below
    them. Default: three close on validation (two extrapolate), the mean as the simpler one, one far behind."""
    store = RunStore.create(path, task_name, 0, {})
    ids = {}
    laws = laws or [("good", GOOD, 0.951), ("good2", GOOD.replace("1.5, 300.0", "1.6, 300.0"), 0.950),
                    ("mean5", MEAN + "\n# five parameters\n", 0.949),
                    ("far", GOOD.replace("1.5, 300.0", "1.7, 300.0"), 0.5)]
    for name, src, val, n in [*((*law, 5) for law in laws), ("simpler", simpler or MEAN, 0.90, 1)]:
        pid = store.add_program(src, meta={"n_params": n})
        store.add_evaluation(pid, {"split": "val", "r2": val}, r2=val)
        ids[name] = pid
    return store, ids


def test_finishing_with_several_workers_checks_the_same_laws_and_picks_the_same_one(synthetic_task, tmp_path,
                                                                                     evaluated_splits):
    """With --workers 2 the pick's checks and the reference's refits start together (``run.finishing.Ahead``):
    the same evaluations as with one worker, the same scores and the same pick, and nothing else refitted."""
    from evosld.run.runner import FOLD_STATE

    outcomes, calls = {}, {}
    for workers in (1, 2):
        evaluated_splits.clear()
        store, ids = _laws_store(tmp_path / f"w{workers}.sqlite", synthetic_task.name)
        run_dir = tmp_path / f"w{workers}"
        run_dir.mkdir()
        with store:
            config = RunConfig(evaluator={"timeout": 30, "parallel_evaluations": workers})
            out = finish(store, synthetic_task, run_dir, config, LoopStatus())
            outcomes[workers] = (out.best_id, out.selection.to_json(), store.get_state(FOLD_STATE),
                                 store.get_state("probe_excess"), out.reference, out.finishing["cut"])
        calls[workers] = sorted(evaluated_splits)
    assert outcomes[1] == outcomes[2]
    assert calls[1] == calls[2]
    best, selection, folds, probes, reference, cut = outcomes[2]
    assert best == ids["good"] and cut == 0 and reference["val"]["r2"] is not None
    # the three close laws and the simpler one are checked; the far one is not
    checked = ("good", "good2", "mean5", "simpler")
    assert {c["program_id"] for c in selection["candidates"]} == {ids[k] for k in checked}
    assert set(folds) == set(probes) == {str(ids[k]) for k in checked}


# Fits fast on the 30 fit rows the search uses; sleeps on any other rows (fold refits, probe, test).
SLOW_REFIT = GOOD.replace("    y = np.asarray(loss_values, dtype=float)\n",
                          "    y = np.asarray(loss_values, dtype=float)\n"
                          "    if len(y) != 30:\n        import time\n        time.sleep(2)\n")


def test_many_workers_finish_within_the_sandbox_s_concurrent_runs(synthetic_task, tmp_path, monkeypatch):
    """A machine with many cores and --workers to match: the finishing runs more checks at once than the
    sandbox's default 16 concurrent runs (each with its own user id when run as root), and still finishes."""
    import os

    from evosld.run.runner import finish_workers

    monkeypatch.setattr(os, "cpu_count", lambda: 24)
    config = RunConfig(evaluator={"timeout": 60, "parallel_evaluations": 24})
    assert finish_workers(config) == 24
    assert finish_workers(RunConfig(evaluator={"parallel_evaluations": 500})) == 24
    with RunStore.create(tmp_path / "run.sqlite", synthetic_task.name, 0, {}) as store:
        for k in range(10):  # ten laws tie: 10 probes, 20 fold refits and the reference's 2, all started at once
            pid = store.add_program(f"{MEAN}\n# variant {k}\n", meta={"n_params": 1})
            store.add_evaluation(pid, {"split": "val", "r2": 0.95}, r2=0.95)
        out = finish(store, synthetic_task, tmp_path, config, LoopStatus())
        assert out.best_id is not None and out.finishing["cut"] == 0
        assert len(out.selection.candidates) == 10 and out.reference["val"]["r2"] is not None


def test_a_signal_while_checks_run_together_ends_the_finishing_at_once(synthetic_task, tmp_path):
    """Ctrl-C while two workers refit laws that would each take 90 s: KeyboardInterrupt comes out of
    ``finish`` at once, the sandboxed children are killed and the finishing threads end (no wait)."""
    import os
    import signal
    import threading
    import time

    sleepy = SLOW_REFIT.replace("time.sleep(2)", "time.sleep(90)")
    with RunStore.create(tmp_path / "run.sqlite", synthetic_task.name, 0, {}) as store:
        for k in range(3):
            pid = store.add_program(f"{sleepy}\n# variant {k}\n", meta={"n_params": 5})
            store.add_evaluation(pid, {"split": "val", "r2": 0.95}, r2=0.95)
        config = RunConfig(evaluator={"timeout": 120, "parallel_evaluations": 2})
        timer = threading.Timer(3.0, os.kill, (os.getpid(), signal.SIGINT))
        before = set(threading.enumerate())  # only this finish's threads are checked below
        previous = signal.signal(signal.SIGINT, signal.default_int_handler)  # Ctrl-C as a user's shell sends it,
        try:  # whatever handler an earlier test (or a library it used) left installed
            t0 = time.monotonic()
            timer.start()
            with pytest.raises(KeyboardInterrupt):
                finish(store, synthetic_task, tmp_path, config, LoopStatus())
        finally:
            timer.cancel()
            signal.signal(signal.SIGINT, previous)
        assert time.monotonic() - t0 < 60  # well before any refit could end (bounds against a hang, not a speed)
        for thread in set(threading.enumerate()) - before:
            thread.join(timeout=10)
            assert not thread.is_alive(), thread.name
        assert time.monotonic() - t0 < 80  # the children were killed, not waited for
        assert not store.get_state("probe_excess") and not store.get_state("reference")


def test_checks_started_ahead_that_the_pick_never_reads_are_not_waited_for(synthetic_task, tmp_path):
    """A simpler law joins the running only if it stays sane beyond the data; its fold refits are started
    ahead with its probe. Here the probe fails (it runs away), so nothing reads its folds, which would take
    90 s each: the finish ends without waiting for them, and picks as one worker does."""
    import threading
    import time

    from tests.test_plausibility import RUNAWAY

    slow_folds = RUNAWAY.replace("    y = np.asarray(loss_values, dtype=float)\n",
                                 "    y = np.asarray(loss_values, dtype=float)\n"
                                 "    if len(y) < 30:\n        import time\n        time.sleep(90)\n")
    assert slow_folds != RUNAWAY
    picks = {}
    for workers in (2, 1):
        laws = [("good", GOOD, 0.951), ("good2", GOOD.replace("1.5, 300.0", "1.6, 300.0"), 0.950)]
        store, ids = _laws_store(tmp_path / f"w{workers}.sqlite", synthetic_task.name, laws, simpler=slow_folds)
        run_dir = tmp_path / f"w{workers}"
        run_dir.mkdir()
        with store:
            t0 = time.monotonic()
            before = set(threading.enumerate())  # only this finish's threads are checked below
            out = finish(store, synthetic_task, run_dir,
                         RunConfig(evaluator={"timeout": 120, "parallel_evaluations": workers}), LoopStatus())
            picks[workers] = out.best_id
            assert str(ids["simpler"]) not in (store.get_state("fold_r2_trimmed") or {})
            assert store.get_state("probe_excess")[str(ids["simpler"])] in ("inf",) or \
                store.get_state("probe_excess")[str(ids["simpler"])] > 1
            for thread in set(threading.enumerate()) - before:
                thread.join(timeout=10)
                assert not thread.is_alive(), thread.name
            assert time.monotonic() - t0 < 80  # the unread folds (90 s each) were not waited for
    assert picks[1] == picks[2] == ids["good"]


@pytest.mark.parametrize("workers", [1, 2])
def test_finishing_has_one_bounded_allowance_and_a_later_finish_checks_the_rest(synthetic_task, tmp_path, workers):
    """Three laws tie on validation and each refit takes 2 s: with 1.5 s to finish, the pick's refits are cut
    or not started (no wait of a full timeout each), the test score still comes, nothing is stored for the
    laws cut, and a later finish with time enough checks them all. With two workers the checks start
    together, and only those the pick asked for count as cut; the reference's two quick refits start before
    them, so the law shown beside the pick is scored (with one worker nothing starts ahead, and the
    reference, asked for after the checks, is cut)."""
    from evosld.evaluation import Limits, Sandbox
    from evosld.run.runner import FOLD_STATE

    assert "time.sleep(2)" in SLOW_REFIT
    assert sum(len(a.y) for a in synthetic_task.split_arrays("val")[0].values()) == 30
    evaluator = Evaluator(synthetic_task, Sandbox(Limits(wall_seconds=30)))
    with RunStore.create(tmp_path / "run.sqlite", synthetic_task.name, 0, {}) as store:
        ids = []
        for k in range(3):
            source = f"{SLOW_REFIT}\n# variant {k}\n"
            pid = store.add_program(source, meta={"n_params": 5})
            ev = evaluator.evaluate(source, "val")
            assert ev.ok, ev.message
            store.add_evaluation(pid, ev.metrics())
            ids.append(pid)
        short = RunConfig(evaluator={"timeout": 30, "parallel_evaluations": workers}, finish_seconds=1.5)
        out = finish(store, synthetic_task, tmp_path, short, LoopStatus())
        # one probe cut short by the allowance; two probes and the refits of the one law left not started; with
        # one worker the reference too
        cut = 5 if workers == 1 else 4
        assert out.finishing is not None and out.finishing["seconds"] == 1.5 and out.finishing["cut"] == cut
        assert out.selection is not None and out.selection.rule == "validation"
        assert sorted(out.selection.unchecked) == sorted(ids)
        assert out.best_id in ids and out.test.get("r2") is not None  # the test score has its own limit
        assert out.reference is not None
        if workers == 1:
            assert "not scored" in out.reference["val"]["error"] and store.get_state("reference") is None
        else:
            assert out.reference["val"]["r2"] is not None and out.reference["test"]["r2"] is not None
        assert not store.get_state("probe_excess")
        assert not store.get_state(FOLD_STATE)
        best = json.loads((tmp_path / "best.json").read_text())
        assert best["finishing"]["cut"] == cut and sorted(best["selection"]["unchecked"]) == sorted(ids)
        page = write_report(tmp_path, task=synthetic_task).read_text()
        assert "The time to finish ran out before 3 more law(s)" in page

        ample = RunConfig(evaluator={"timeout": 30, "parallel_evaluations": workers}, finish_seconds=600)
        again = finish(store, synthetic_task, tmp_path, ample, LoopStatus())
        assert again.finishing["cut"] == 0 and again.selection.unchecked == ()
        assert again.selection.rule == "extrapolation folds" and len(again.selection.candidates) == 3
        assert set(store.get_state(FOLD_STATE)) == {str(i) for i in ids}
        assert again.reference["val"]["r2"] is not None


def test_the_default_finishing_allowance_is_the_budget_at_least_the_timeout_and_30_s():
    assert RunConfig().finish_limit() == 60
    assert RunConfig(evaluator={"timeout": 5}).finish_limit() == 30
    assert RunConfig(evaluator={"timeout": 5}, finish_seconds=2).finish_limit() == 2
    assert RunConfig(budget_seconds=300).finish_limit() == 300  # as long as the search, so slow tables finish


def test_a_law_over_the_parameter_limit_is_returned_only_when_nothing_within_it_ran(tmp_path):
    """The starter (2F + 1 parameters) can exceed a small table's limit; proposals never do. A user who has a
    limit gets a law that keeps it, even when the starter leads validation."""

    from evosld.config import RunConfig
    from evosld.run.runner import finish
    from evosld.run.store import RunStore
    from evosld.search.selection import within_limit
    from evosld.search.status import LoopStatus
    from evosld.tasks import task_from_frame
    from tests.test_target_range import CAPPED, LINE, accuracy_frame

    cands = [_c(1, 0.96, 7), _c(2, 0.95, 6), _c(3, 0.9, None)]
    assert [c.program_id for c in within_limit(cands, 6)] == [2, 3]
    assert [c.program_id for c in within_limit(cands[:1], 6)] == [1]  # nothing within it ran: the law there is
    assert within_limit(cands, None) == cands

    task = task_from_frame(accuracy_frame(), ["C"], "acc", name="acc")
    config = RunConfig(evaluator={"timeout": 30}, selection_folds=0, max_params=2)
    store = RunStore.create(tmp_path / "run.sqlite", "acc", 0, {})
    with store:
        starter = store.add_program(LINE, meta={"n_params": 3})  # leads validation, one parameter too many
        store.add_evaluation(starter, {"split": "val", "r2": 0.96}, r2=0.96)
        law = store.add_program(CAPPED, meta={"n_params": 2})
        store.add_evaluation(law, {"split": "val", "r2": 0.95}, r2=0.95)
        out = finish(store, task, tmp_path, config, LoopStatus())
    assert out.best_id == law


def test_with_no_inner_fold_the_pick_says_how_many_laws_validation_cannot_tell_from_it():
    """Validation alone picks (no fold): the pick stays the best on validation that is sane beyond the data; its
    noise, the laws within NOISE_Z of it and the simplest of them are recorded. Nothing is asked with folds."""
    from evosld.search.selection import NOISE_Z

    cands = [_c(1, 0.945, 8), _c(2, 0.930, 6), _c(3, 0.926, 5), _c(4, 0.80, 3), _c(5, 0.94, 9)]
    asked: list[int] = []

    def noise(pid: int) -> float:
        asked.append(pid)
        return 0.01

    def no_folds(pid: int) -> dict:
        raise AssertionError("no inner fold to refit on")

    sel = choose(cands, band=0.3, tolerance=0.0005, fold_r2=no_folds, noise=noise)
    assert NOISE_Z * 0.01 >= 0.945 - 0.926 and sel.program_id == 1 and sel.rule == "validation"
    assert asked == [1] and sel.noise == 0.01 and sel.close_on_val == 3  # laws 2, 3 and 5; not 4
    assert sel.simplest_close.program_id == 3 and sel.to_json()["simplest_close"]["n_params"] == 5
    # the leader runs away beyond the data: the pick is the next law, and the record is about it
    asked.clear()
    sel = choose(cands, band=0.3, tolerance=0.0005, fold_r2=no_folds, noise=noise,
                 probe=lambda pid: 5.0 if pid == 1 else 0.1)
    assert sel.program_id == 5 and asked == [5] and sel.simplest_close.program_id == 3
    assert sel.simplest_close.beyond == 0.1  # probed: the law named stays sane beyond the data
    # the simplest close law runs away: the next simplest is named
    sel = choose(cands, band=0.3, tolerance=0.0005, fold_r2=no_folds, noise=noise,
                 probe=lambda pid: 5.0 if pid == 3 else 0.1)
    assert sel.program_id == 1 and sel.simplest_close.program_id == 2 and sel.close_on_val == 3
    # the simplest close law has no fewer parameters than the pick: none is named
    sel = choose([_c(1, 0.945, 3), _c(2, 0.94, 6)], 0.3, 0.0005, no_folds, noise=noise)
    assert sel.close_on_val == 1 and sel.simplest_close is None
    assert choose(cands, 0.3, 0.0005, no_folds, noise=lambda pid: None).noise is None

    def late(pid: int) -> float:
        raise OutOfTime

    sel = choose(cands, 0.3, 0.0005, no_folds, noise=late)
    assert sel.program_id == 1 and sel.noise is None and sel.close_on_val == 0
    asked.clear()
    sel = choose(cands, 0.3, 0.0005, lambda pid: {"inner1": 0.9}, folds=("inner1",), noise=noise)
    assert sel.rule == "extrapolation folds" and asked == [] and sel.noise is None


def test_a_table_with_too_few_scales_for_a_fold_says_how_sure_its_pick_is(tmp_path):
    """Four model sizes in train (validation the largest): no inner fold can be cut. The finish refits the pick
    once to measure its validation noise (kept in the store), and best.json, the report and the command line
    say how many laws validation cannot tell from it, naming the simplest."""
    from evosld.cli import selection_lines

    df = chinchilla_frame(noise=0.02)
    task = task_from_frame(df[df.N <= 1.1e9], ["N", "D"], "loss", test="N > 5e8", name="four_sizes")
    assert task.inner_folds() == [] and task.fit_df.N.nunique() == 3
    with RunStore.create(tmp_path / "run.sqlite", task.name, 0, {}) as store:
        best = store.add_program(GOOD, meta={"n_params": 6})
        store.add_evaluation(best, {"split": "val", "r2": 0.95}, r2=0.95)
        fewer = store.add_program(GOOD.replace("1.5, 300.0", "1.6, 300.0"), meta={"n_params": 4})
        store.add_evaluation(fewer, {"split": "val", "r2": 0.9499}, r2=0.9499)
        mean = store.add_program(MEAN, meta={"n_params": 1})
        store.add_evaluation(mean, {"split": "val", "r2": -3.0}, r2=-3.0)
        out = finish(store, task, tmp_path, RunConfig(evaluator={"timeout": 30}), LoopStatus())
        assert set(store.get_state("val_noise")) == {str(best)}  # kept: a re-finished run does not refit it
    sel = out.selection
    assert sel.noise is not None and sel.noise > 0
    # the pick is then weighed against the Chinchilla form shown beside it (search.prior), which may replace it
    assert sel.prior is not None and sel.prior["pick"] == best
    assert out.best_id == (sel.prior["program_id"] if sel.prior["kept"] else best)
    assert sel.close_on_val == 1 and sel.simplest_close.program_id == fewer
    record = json.loads((tmp_path / "best.json").read_text())["selection"]
    assert record["noise"] == sel.noise and record["simplest_close"]["program_id"] == fewer
    page = write_report(tmp_path, task=task).read_text()
    assert "validation alone picked" in page and "the simplest close on validation" in page
    line = selection_lines(sel)[0]
    assert "validation alone picked" in line and f"program {fewer} (4 parameters" in line

"""The final pick: ties on validation broken by the inner hold-out of the fit rows."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from evosld.config import RunConfig
from evosld.evaluation.evaluator import Evaluator
from evosld.report import write_report
from evosld.runner import finish
from evosld.search.loop import LoopStatus
from evosld.search.selection import Candidate, choose, tied
from evosld.store import RunStore
from evosld.tasks import task_from_frame
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


def test_tied_laws_are_told_apart_by_the_inner_hold_out():
    cands = [_c(1, 0.95, 6), _c(2, 0.949, 7), _c(3, 0.948, 7), _c(4, 0.90, 3)]
    asked: list[int] = []

    def inner(pid: int) -> float | None:
        asked.append(pid)
        return {1: 0.2, 2: None, 3: 0.3}[pid]

    sel = choose(cands, band=0.1, tolerance=0.0005, inner_r2=inner)
    assert sel is not None and sel.program_id == 3 and sel.rule == "inner hold-out"
    assert sorted(asked) == [1, 2, 3]  # law 4 is not tied and is never refitted
    assert [c.inner_r2 for c in sel.candidates] == [0.2, None, 0.3]
    json.dumps(sel.to_json())


def test_equal_inner_scores_prefer_fewer_parameters_then_validation():
    cands = [_c(1, 0.95, 7), _c(2, 0.949, 5), _c(3, 0.9495, 5)]
    sel = choose(cands, band=0.1, tolerance=0.0, inner_r2=lambda pid: 0.5)
    assert sel is not None and sel.program_id == 3


def test_band_zero_is_parsimony_and_a_lone_leader_needs_no_refit():
    cands = [_c(1, 0.95, 7), _c(2, 0.9498, 4), _c(3, 0.90, 2)]

    def never(pid: int) -> float:
        raise AssertionError("no refit expected")

    sel = choose(cands, band=0.0, tolerance=0.0005, inner_r2=never)
    assert sel is not None and sel.program_id == 2 and sel.rule == "parsimony"
    sel = choose([_c(1, 0.95), _c(2, 0.80)], band=0.1, tolerance=0.0005, inner_r2=never)
    assert sel is not None and sel.program_id == 1 and sel.rule == "validation"
    assert choose([], band=0.1, tolerance=0.0, inner_r2=never) is None


def _grid(seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    N = np.repeat(np.logspace(7, 10, 8), 5)
    D = np.tile(np.logspace(9, 12, 5), 8)
    loss = (1.7 + 400 / N**0.34 + 410 / D**0.28) * (1 + 0.01 * rng.standard_normal(len(N)))
    return pd.DataFrame({"N": N, "D": D, "loss": loss, "model": np.where(N > 3e8, "big", "small")})


def test_inner_hold_out_is_the_fit_rows_nearest_validation():
    task = task_from_frame(_grid(), ["N", "D"], "loss", test="N >= 1e10", val="N >= 3.7e9", name="grid")
    held = task.inner_mask()
    fit = task.fit_df
    assert held.shape == (len(fit),) and held.sum() == round(0.2 * len(fit))
    assert fit.loc[held, "N"].min() >= fit.loc[~held, "N"].max()  # validation lies towards larger N
    fit_part, scored = task.frames("inner")
    assert len(fit_part) + len(scored) == len(fit) and not set(fit_part.index) & set(scored.index)
    blind = task_from_frame(_grid().assign(loss=lambda d: np.where(d.N >= 3.7e9, 99.0, d.loss)),
                            ["N", "D"], "loss", test="N >= 1e10", val="N >= 3.7e9", name="grid")
    assert np.array_equal(blind.inner_mask(), held)  # validation targets are never read


def test_inner_hold_out_is_per_group_and_random_without_a_direction():
    df = _grid()
    grouped = task_from_frame(df, ["N", "D"], "loss", group="model", test="D >= 1e12", val="D >= 1.7e11", name="g")
    held = grouped.inner_mask()
    keys = grouped.fit_df["group"].astype(str).to_numpy()
    for g in ("big", "small"):
        assert held[keys == g].sum() == round(0.2 * (keys == g).sum())
    mixed = task_from_frame(df.assign(p=np.linspace(0.1, 0.9, len(df))), ["p"], "loss", test="random:3", val="random:3",
                            name="r")
    assert np.array_equal(mixed.inner_mask(), mixed.inner_mask())  # seeded


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


def test_finish_returns_the_tied_law_that_extrapolates_and_keeps_its_scores(synthetic_task, tmp_path, tied_store,
                                                                               monkeypatch):
    store, ids = tied_store
    calls: list[str] = []
    real = Evaluator.evaluate

    def counting(self, program, split="val", extra_predict=None):
        calls.append(split)
        return real(self, program, split, extra_predict)

    monkeypatch.setattr(Evaluator, "evaluate", counting)
    config = RunConfig(evaluator={"timeout": 30})
    out = finish(store, synthetic_task, tmp_path, config, LoopStatus())
    assert out.best_id == ids["good"] and out.selection is not None
    assert calls == ["inner", "inner", "test"]  # the far law is not tied: never refitted
    record = json.loads((tmp_path / "best.json").read_text())
    cands = {c["program_id"]: c for c in record["selection"]["candidates"]}
    assert set(cands) == {ids["mean"], ids["good"]}
    assert cands[ids["good"]]["inner_r2"] > 0.9 > cands[ids["mean"]]["inner_r2"]
    assert store.get_state("final_program_id") == ids["good"]

    calls.clear()
    again = finish(store, synthetic_task, tmp_path, config, LoopStatus())
    assert again.best_id == ids["good"] and calls == []  # inner and test scores are kept in the store

    page = write_report(tmp_path, task=synthetic_task).read_text()
    assert "How the law was chosen" in page and f"program {ids['good']} <span" in page

    plain = finish(store, synthetic_task, tmp_path, RunConfig(selection_band=0.0), LoopStatus())
    assert plain.best_id == ids["mean"]  # band 0: the best validation R² (fewest parameters within tolerance)

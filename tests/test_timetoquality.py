"""``evosld.bench.timetoquality``: replaying a run's final pick over time and scoring each pick on test."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from evosld.bench.timetoquality import (
    CACHE_FILE,
    Pick,
    SelectionSettings,
    first_reached,
    replay,
    time_to_quality,
)
from evosld.config import RunConfig
from evosld.evaluation import Evaluator
from evosld.run.store import RunStore
from evosld.search.selection import Candidate
from evosld.tasks import task_from_frame
from tests.conftest import chinchilla_frame

#: A law linear in the logs of the first K features (K = 0: the mean).
LOGLINEAR = '''
# EVOLVE-BLOCK-START
import numpy as np

K = {k}


def scaling_law_func(data_points, params):
    X = np.log(np.asarray(data_points, dtype=float))[:, :K]
    p = np.asarray(params, dtype=float)
    return p[0] + X @ p[1:]


def fit_scaling_law(data_points, loss_values):
    X = np.log(np.asarray(data_points, dtype=float))[:, :K]
    A = np.column_stack([np.ones(len(X)), X])
    return np.linalg.lstsq(A, np.asarray(loss_values, dtype=float), rcond=None)[0]
# EVOLVE-BLOCK-END
'''

#: The law the table was drawn from: L = E + A / N^a + B / D^b.
CHINCHILLA = '''
# EVOLVE-BLOCK-START
import numpy as np
from scipy.optimize import least_squares


def scaling_law_func(data_points, params):
    X = np.asarray(data_points, dtype=float)
    E, lA, a, lB, b = params
    return E + np.exp(lA - a * np.log(X[:, 0])) + np.exp(lB - b * np.log(X[:, 1]))


def fit_scaling_law(data_points, loss_values):
    y = np.asarray(loss_values, dtype=float)
    r = least_squares(lambda p: scaling_law_func(data_points, p) - y, [1.5, 6.0, 0.3, 6.0, 0.3])
    return r.x
# EVOLVE-BLOCK-END
'''


class _NoSandbox:
    def run(self, *args, **kwargs):
        raise AssertionError("the sandbox was used")


def test_replay_follows_the_selection_score_not_validation_alone() -> None:
    s = SelectionSettings(band=0.3, tolerance=0.0, pool=10, val_weight=1 / 3, folds=("inner1", "inner2"))
    history = [(1.0, Candidate(1, 0.90, 3)), (2.0, Candidate(2, 0.95, 5)), (3.0, Candidate(3, 0.945, 4)),
               (4.0, Candidate(4, 0.10, 2))]  # law 4 is far behind: simpler, it joins, and loses
    folds = {1: {"inner1": 0.3, "inner2": 0.2}, 2: {"inner1": 0.5, "inner2": 0.4}, 3: {"inner1": 0.96, "inner2": 0.93},
             4: {"inner1": -1.0, "inner2": -1.0}}
    asked: list[int] = []

    def fold_r2(pid: int) -> dict[str, float | None]:
        asked.append(pid)
        return folds[pid]

    picks = replay(history, s, fold_r2)
    # law 3 is below law 2 on validation but far better on the inner folds: it is picked
    assert [(p.elapsed_s, p.program_id) for p in picks] == [(1.0, 1), (2.0, 2), (3.0, 3)]
    assert picks[-1].score == pytest.approx(0.945) and picks[1].score is None
    assert set(asked) == {1, 2, 3, 4}  # law 1 joins law 2 and 3 as a simpler law (3 parameters), law 4 at 4 s

    scored = [Pick(p.elapsed_s, p.program_id, p.val_r2, p.score, t) for p, t in zip(picks, [0.2, 0.95, 0.8])]
    assert first_reached(scored, 0.9) == 2.0  # the first time a pick reached it, even if a later pick is lower
    assert first_reached(scored, 0.1) == 1.0
    assert first_reached(scored, 0.99) is None and first_reached(scored, None) is None


def test_the_replay_passes_over_a_law_the_fit_rows_do_not_pin_as_the_run_does() -> None:
    """The starter on too few scales (``pinned`` False in its meta) is picked only while it is alone."""
    s = SelectionSettings(band=0.0, tolerance=0.0005, pool=10, val_weight=1 / 3, folds=(), unpinned=frozenset({1}))
    history = [(1.0, Candidate(1, 0.999, 5)), (2.0, Candidate(2, 0.99, 3))]
    picks = replay(history, s, lambda pid: {})
    assert [(p.elapsed_s, p.program_id) for p in picks] == [(1.0, 1), (2.0, 2)]


def test_time_to_quality_on_a_stored_run(tmp_path: Path, sandbox) -> None:
    task = task_from_frame(chinchilla_frame(), ["N", "D"], "loss", name="chinchilla", max_params=5)
    run = tmp_path / "run"
    sources = [LOGLINEAR.format(k=0), LOGLINEAR.format(k=2), CHINCHILLA]
    offsets = [5.0, 10.0, 20.0]
    evaluator = Evaluator(task, sandbox)
    config = {"config": RunConfig().model_dump(mode="json"), "task_spec": {"name": task.name}}
    with RunStore.create(run / "run.sqlite", task=task.name, seed=0, config=config) as store:
        for i, src in enumerate(sources):
            pid = store.add_program(src, iteration=i, proposer="test", meta={"n_params": [1, 3, 5][i]})
            store.add_evaluation(pid, evaluator.evaluate(src, "val").metrics())
        created = store.run().created
        store.set_state("final_program_id", 3)
    con = sqlite3.connect(run / "run.sqlite")  # the evaluations were stored 5, 10 and 20 s into the run
    with con:
        for pid, offset in enumerate(offsets, start=1):
            con.execute("UPDATE evaluations SET created = ? WHERE program_id = ?", (created + offset, pid))
    con.close()

    tests = [max(-1.0, evaluator.evaluate(src, "test").scores.r2) for src in sources]
    assert tests[0] < 0.5 < tests[2]  # the mean is poor on the largest scales, the true law is not
    levels = {"any": -1.0, "good": tests[2] - 1e-9, "none": None, "impossible": 1.5}
    ttq = time_to_quality(run, task, levels=levels, sandbox=sandbox, workers=2)
    assert [p.program_id for p in ttq.picks] == [1, 2, 3]
    assert [p.elapsed_s for p in ttq.picks] == pytest.approx(offsets)
    assert [p.test_r2 for p in ttq.picks] == pytest.approx(tests)
    assert ttq.reached["any"] == pytest.approx(5.0) and ttq.reached["good"] == pytest.approx(20.0)
    assert ttq.reached["none"] is None and ttq.reached["impossible"] is None
    assert ttq.replay_matches_run is True and ttq.evaluated >= 3

    with RunStore.open(run / "run.sqlite") as store:  # test scores stay out of the run store
        assert store.test_evaluations() == []
    assert set(json.loads((run / CACHE_FILE).read_text())["test"]) == {"1", "2", "3"}
    again = time_to_quality(run, task, levels=levels, sandbox=_NoSandbox())
    assert again.picks == ttq.picks and again.reached == ttq.reached and again.evaluated == 0
    json.dumps(again.to_json())


def test_the_replay_refits_laws_the_pick_adds_beyond_the_running(tmp_path: Path, sandbox) -> None:
    """Two laws lead validation and both do worse than a constant on their folds (they predict the mean), so
    ``choose`` lets the simpler laws join: the replay refits their folds when it needs them."""
    task = task_from_frame(chinchilla_frame(), ["N", "D"], "loss", name="chinchilla", max_params=6)
    run = tmp_path / "run"
    mean = LOGLINEAR.format(k=0)
    laws = [(mean, 0.99, 6), (mean + "# the same law again\n", 0.989, 6), (CHINCHILLA, 0.5, 5)]
    config = {"config": RunConfig().model_dump(mode="json"), "task_spec": {"name": task.name}}
    with RunStore.create(run / "run.sqlite", task=task.name, seed=0, config=config) as store:
        for i, (src, val, n) in enumerate(laws):
            pid = store.add_program(src, iteration=i, proposer="test", meta={"n_params": n})
            store.add_evaluation(pid, {"split": "val", "r2": val}, r2=val)
        store.set_state("final_program_id", 3)
    ttq = time_to_quality(run, task, levels={"any": -1.0}, sandbox=sandbox, workers=2)
    assert [p.program_id for p in ttq.picks][-1] == 3 and ttq.replay_matches_run is True

"""RunSummary: one reading of a run's store for the report, the bench, the rank check and the CLI."""

from __future__ import annotations

import math

import pytest

from evosld.config import RunConfig
from evosld.errors import DataError
from evosld.run.store import RunStore
from evosld.run.summary import RunSummary, finite, n_params_of, stored_task
from evosld.tasks import task_from_frame
from tests.conftest import SFT_TASK as TASK
from tests.conftest import chinchilla_frame, write_sft_tables


def test_a_run_read_before_and_after_it_finished(tmp_path):
    config = RunConfig(evaluator={"timeout": 7, "cpu_seconds": 9, "memory_mb": 1234})
    with RunStore.create(tmp_path / "run.sqlite", "t", 3, {"config": config.model_dump(mode="json"),
                                                           "task_spec": {"name": "t"}}) as store:
        a = store.add_program("x = 1\n", meta={"n_params": 4})
        b = store.add_program("x = 2\n", iteration=5, meta={})
        store.add_evaluation(a, {"split": "val", "r2": 0.9})
        store.add_evaluation(b, {"split": "val", "r2": 0.95})
        early = RunSummary.from_store(store)
        assert early.final.id == b and early.test is None and early.iterations == 5  # no counter yet: highest iteration
        assert not early.finished and early.n_params is None and early.stop_reason is None
        store.update_state({"next_iteration": 9, "final_program_id": a, "elapsed_seconds": 12.5})
        store.add_test_evaluation(a, {"r2": 0.8}, {"g": [1.0, 2.0]})
        store.add_event("stopped", {"reason": "interrupted"})
        done = RunSummary.from_store(store)
    assert done.final.id == a and done.iterations == 8 and done.elapsed_seconds == 12.5
    assert done.finished and not done.complete  # a signal stopped it: the bench resumes it
    assert done.n_params == 4 and not done.uses_llm and done.models == []
    assert (done.limits.wall_seconds, done.limits.cpu_seconds, done.limits.memory_mb) == (7, 9, 1234)


def test_guards():
    assert finite("1.5") == 1.5 and finite(math.nan) is None and finite(None) is None and finite("x") is None
    assert n_params_of({"n_params": 3}) == 3 and n_params_of({"n_params": 3.0}) == 3
    assert all(n_params_of(m) is None for m in ({"n_params": True}, {"n_params": -1}, {"n_params": 2.5}, {}, None))


def test_stored_task_uses_the_data_directory_the_run_used(tmp_path, monkeypatch):
    data = write_sft_tables(tmp_path / "data")
    monkeypatch.delenv("EVOSLD_DATA", raising=False)
    with RunStore.create(tmp_path / "run.sqlite", TASK, 0, {"task_spec": {"name": TASK, "data_dir": str(data)}}) as store:
        info = store.run()
    task = stored_task(info, tmp_path)  # as `evosld report DIR` and --resume find it, without EVOSLD_DATA
    assert task.name == TASK and len(task.train) == 36
    assert stored_task(info, tmp_path, TASK, data_dir=data).name == TASK
    other = task_from_frame(chinchilla_frame(), ["N", "D"], "loss", name="chinchilla")
    with pytest.raises(DataError, match=f"is a run on '{TASK}', not on 'chinchilla'"):
        stored_task(info, tmp_path, other)

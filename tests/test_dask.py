"""The distributed path: evaluations on a real Dask LocalCluster."""

from __future__ import annotations

import pytest

from evosld.config import RunConfig
from evosld.evaluation.executors import DaskExecutor
from evosld.run.runner import run_discovery
from evosld.run.store import RunStore
from tests.test_discover import GOOD

pytest.importorskip("distributed")


def test_dask_executor_matches_local(synthetic_task, sandbox):
    from evosld.evaluation import Evaluator, Limits

    local = Evaluator(synthetic_task, sandbox).evaluate(GOOD, "val")
    ex = DaskExecutor(synthetic_task, workers=2, limits=Limits(wall_seconds=3))
    try:
        results = [f.result(timeout=120) for f in [ex.submit(GOOD, "val") for _ in range(4)]]
        bad = ex.submit("def scaling_law_func(x, p):\n    while True: pass\ndef fit_scaling_law(x, y):\n    return 1\n").result(120)
    finally:
        ex.close()
    assert all(r.ok for r in results)
    assert all(r.scores.r2 == pytest.approx(local.scores.r2) for r in results)
    assert bad.error_kind == "timeout"


def test_discover_on_local_cluster(synthetic_task, tmp_path):
    cfg = RunConfig.model_validate({"max_iterations": 4, "random_seed": 1,
                                    "evaluator": {"dask_local_cluster": True, "parallel_evaluations": 2, "timeout": 5}})
    out = run_discovery(synthetic_task, cfg, tmp_path / "dask", write_report=False)
    assert out.best_id is not None
    with RunStore.open(tmp_path / "dask" / "run.sqlite") as store:
        assert store.evaluation_count() == store.program_count()

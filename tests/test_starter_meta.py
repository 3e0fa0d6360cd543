"""The starter's recorded formula and parameter count match what it fits."""

from __future__ import annotations

import numpy as np
import pandas as pd

from evosld.evaluation.evaluator import Evaluator
from evosld.tasks import task_from_frame
from evosld.tasks.starter import starter_meta, starter_source


def _table(targets: int) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    N = np.repeat(np.logspace(7, 10, 6), 3)
    D = np.tile(np.logspace(9, 11, 3), 6)
    df = pd.DataFrame({"model size": N, "tokens": D, "family": np.tile(["a", "b"], 9)})
    for t in range(targets):
        df[f"loss{t}"] = 1.5 + t + 300 / N**0.3 + 900 / D**0.3 + 0.01 * rng.standard_normal(len(N))
    return df


def test_starter_meta_counts_what_the_starter_fits() -> None:
    for targets in (1, 2):
        names = [f"loss{t}" for t in range(targets)]
        task = task_from_frame(_table(targets), ["model size", "tokens"], names, group="family", name="t")
        meta = starter_meta(task)
        ev = Evaluator(task).evaluate(starter_source(task), "val")
        assert ev.ok
        fitted = {g: np.asarray(p).size for g, p in ev.params.items()}
        assert set(fitted.values()) == {meta["n_params"]}  # per group, all outputs
        assert meta["n_params_per_output"] * targets == meta["n_params"] == 5 * targets
        assert meta["origin"] == "starter"
        assert "model size^e_1" in meta["formula"] and "tokens^e_2" in meta["formula"]
        assert meta["formula"].startswith("loss0 = " if targets == 1 else "each of loss0, loss1 = ")

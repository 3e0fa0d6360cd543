"""A pick made by validation alone is weighed against the law shown beside it (``search.prior``).

With four model sizes there is no extrapolation fold below validation, and the best of hundreds of laws on one
slice of runs overstates itself; the Chinchilla form, written before the data, is kept unless the pick beats it
by more than the noise of the validation runs.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest

from evosld.evaluation.metrics import r2_gap_spread
from evosld.search.prior import PriorCheck, keep_prior


def test_the_gap_between_one_law_and_itself_does_not_move():
    y = {"a": np.array([1.0, 2.0, 3.0, 4.0])}
    p = {"a": np.array([1.1, 1.9, 3.2, 3.9])}
    assert r2_gap_spread(p, p, y) == 0.0


def test_two_laws_that_miss_the_same_runs_differ_by_less_than_either_moves():
    rng = np.random.default_rng(0)
    y = {"a": np.linspace(1, 2, 8), "b": np.linspace(3, 4, 6)}
    shared = {g: v + 0.2 * rng.standard_normal(v.size) for g, v in y.items()}
    other = {g: v + 0.01 * rng.standard_normal(v.size) for g, v in shared.items()}
    gap = r2_gap_spread(shared, other, y)
    from evosld.evaluation.metrics import r2_spread

    assert 0 < gap < 0.25 * r2_spread(shared, y)


@pytest.mark.parametrize("preds", [{"a": np.array([1.0, np.nan, 3.0])}, {"a": np.array([1.0, 2.0])}, {}])
def test_the_gap_is_not_measured_on_missing_or_broken_predictions(preds):
    y = {"a": np.array([1.0, 2.0, 3.0])}
    assert r2_gap_spread(preds, {"a": y["a"]}, y) is None


@pytest.mark.parametrize("gap, se, beyond, n, kept, words", [
    (0.01, 0.02, 0.1, 5, True, "within 2 standard errors"),
    (-0.01, 0.02, 0.1, 5, True, "as well as the pick or better"),
    (0.05, 0.02, 0.1, 5, False, "more than 2 standard errors"),
    (0.01, 0.02, 1.5, 5, False, "runs away"),
    (0.01, 0.02, math.inf, 5, False, "runs away"),
    (0.01, 0.02, 0.1, 9, False, "over the limit of 8"),
    (None, None, 0.1, 5, False, "could not be scored"),
])
def test_the_comparison_law_is_kept_only_within_the_noise_sane_and_within_the_limit(gap, se, beyond, n, kept, words):
    ok, why = keep_prior(gap, se, beyond, n, 8)
    assert ok is kept and words in why, why


def test_a_check_reads_back_from_its_json():
    check = PriorCheck("law", 3, 0.9, 0.01, 0.02, math.inf, 5, False, "why", None)
    data = json.loads(json.dumps(check.to_json()))
    assert data["beyond"] == "inf" and PriorCheck.from_json(data) == check


def _four_sizes(seed: int = 0) -> pd.DataFrame:
    """Over-training runs: four model sizes in train (one more as test), six token counts each; Chinchilla, 1%."""
    rng = np.random.default_rng(seed)
    N = np.repeat([2e7, 6e7, 2e8, 7e8, 2.5e9], 6)
    D = N * np.tile([5.0, 10.0, 20.0, 40.0, 80.0, 160.0], 5)
    loss = (1.8 + 420 / N**0.34 + 400 / D**0.28) * (1 + 0.01 * rng.standard_normal(N.size))
    return pd.DataFrame({"params": N, "tokens": D, "loss": loss})


def test_a_pick_made_by_validation_alone_is_weighed_against_the_chinchilla_form(tmp_path):
    import evosld

    run = tmp_path / "run"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = evosld.discover(_four_sizes(), features=["params", "tokens"], target="loss", test="params > 1e9",
                              iterations=30, budget_seconds=None, seed=0, output=run, progress=False)
    best = json.loads((run / "best.json").read_text())
    sel = best["selection"]
    assert sel["rule"] == "validation" and sel["folds"] == []  # three fit sizes: no fold below validation
    prior = sel["prior"]
    assert prior["name"].startswith("Chinchilla form") and prior["se"] is not None
    assert prior["kept"] == keep_prior(prior["gap"], prior["se"], prior["beyond"], prior["n_params"],
                                       res.task.max_params)[0]
    # the truth is the Chinchilla form with 1% noise: a search of 30 laws does not beat it beyond the noise
    assert prior["kept"], prior
    assert best["program_id"] == prior["program_id"] != prior["pick"]
    assert best["proposer"] == "reference" and best["formula"] == prior["name"] and best["n_params"] == 5
    assert "chinchilla" in (run / "best_program.py").read_text().lower()
    assert res.test["r2"] > 0.8, res.test
    # a re-finished run weighs the same pick and keeps the same stored law, not a second copy
    cmd = [sys.executable, "-m", "evosld.cli", "discover", "--resume", str(run), "--quiet"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    assert "kept over the search's pick" in out.stdout and "kept Chinchilla form" in out.stdout, out.stdout
    import sqlite3

    with sqlite3.connect(run / "run.sqlite") as con:
        assert con.execute("SELECT COUNT(*) FROM programs WHERE proposer = 'reference'").fetchone()[0] == 1
    again = json.loads((run / "best.json").read_text())
    assert again["program_id"] == best["program_id"]
    ev = subprocess.run([sys.executable, "-m", "evosld.cli", "eval", str(run), "--json"], capture_output=True,
                        text=True, timeout=600)
    assert ev.returncode == 0 and json.loads(ev.stdout)["r2"] == pytest.approx(best["val"]["r2"])
    rep = subprocess.run([sys.executable, "-m", "evosld.cli", "report", str(run)], capture_output=True, text=True,
                         timeout=600)
    assert rep.returncode == 0, rep.stderr
    assert "Weighed against Chinchilla form" in (run / "report.html").read_text()

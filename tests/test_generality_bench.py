"""``benchmarks/synthtables.py`` (user-like tables with a known law), ``benchmarks/realtables.py`` (real runs
re-split) and ``benchmarks/generality.py``'s runner."""

from __future__ import annotations

import importlib.util
import json
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from evosld.errors import DataError
from evosld.tasks import task_from_frame

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"evosld_bench_{name}", BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


synth = _load("synthtables")
gen = _load("generality")
real = gen.real

#: Families evosld refuses on purpose (too few runs for three fit, validation and test runs each).
REFUSED = {"handful"}


def test_the_tune_and_holdout_seeds_do_not_overlap():
    assert not set(synth.TUNE_SEEDS) & set(synth.HOLDOUT_SEEDS)
    assert set(gen.SETS["all"]) == set(synth.TUNE_SEEDS) | set(synth.HOLDOUT_SEEDS)


@pytest.mark.parametrize("name", sorted(synth.FAMILIES))
def test_every_family_builds_a_table_its_test_rule_splits_as_stated(name):
    t = synth.make(name, 0)
    cols = set(t.df.columns)
    assert set(t.features) <= cols and set(t.targets) <= cols
    assert t.group is None or t.group in cols
    assert t.test_mask.shape == (len(t.df),) and 0 < t.test_mask.sum() < len(t.df)
    pred = np.asarray(t.law(t.df[list(t.features)].to_numpy(float), np.asarray(t.p0)))
    assert pred.shape[0] == len(t.df) and (pred.ndim == 1) == (len(t.targets) == 1)
    assert np.all(np.isfinite(pred)) and np.all(np.isfinite(t.df[list(t.targets)].to_numpy(float)))
    # the same seed gives the same table; another seed another one
    again, other = synth.make(name, 0), synth.make(name, 1)
    assert again.df.equals(t.df) and again.test == t.test
    assert not other.df[list(t.targets)].equals(t.df[list(t.targets)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if name in REFUSED:
            with pytest.raises(DataError, match="too few"):
                task_from_frame(t.df, list(t.features), t.target, group=t.group, test=t.test,
                                target_range=t.target_range)
            return
        task = task_from_frame(t.df, list(t.features), t.target, group=t.group, test=t.test,
                               target_range=t.target_range)
    assert len(task.test) == int(t.test_mask.sum())
    assert len(task.train) == len(t.df) - int(t.test_mask.sum())


def test_the_true_law_refit_reaches_a_high_test_score_on_a_clean_grid():
    t = synth.make("grouped_offsets", 0)
    truth = gen.truth_scores(t)
    assert truth["test_r2"] > 0.99 and set(truth["params"]) == {"web", "code", "books"}
    assert gen.loglinear_scores(t)["test_r2"] < truth["test_r2"]


def test_the_runner_records_a_discovery_and_a_refusal(tmp_path):
    rec = gen.run_one(synth.make("kaplan_n_only", 0), search_seed=0, budget_seconds=6, out_dir=tmp_path / "k")
    ev = rec["evosld"]
    assert ev.get("error") is None and ev["test_r2"] is not None and ev["split_rows_agree"]
    assert ev["stop_reason"] == "budget" and ev["evaluations"] > 0 and ev["formula"]
    assert rec["truth"]["test_r2"] > 0.9
    refused = gen.run_one(synth.make("handful", 0), search_seed=0, budget_seconds=6, out_dir=tmp_path / "h")
    assert refused["evosld"]["error"].startswith("DataError") and refused["evosld"]["test_r2_clipped"] == -1.0
    text = gen.render({**gen.summarize([rec, refused], {}), "settings": {
        "set": "tune", "seeds": [0], "search_seed": 0, "budget_seconds": 6, "jobs": 1}})
    assert "kaplan_n_only" in text and "error" in text and "**Summary** over 2 run(s)" in text


def test_the_summary_counts_the_runs_where_the_peer_beat_evosld():
    def rec(table: str, evo: float | None) -> dict:
        return {"table": table, "seed": 12, "evosld": {"test_r2_clipped": -1.0 if evo is None else evo, "test_r2": evo},
                "truth": {"test_r2_clipped": 0.9}, "loglinear": {"test_r2_clipped": 0.1}}

    records = [rec("a", 0.95), rec("b", 0.40), rec("c", None)]  # c: evosld refused (counts as below the peer)
    operon = {("a", 12): {"test_r2_clipped": 0.90}, ("b", 12): {"test_r2_clipped": 0.80},
              ("c", 12): {"test_r2_clipped": 0.10}}
    result = gen.summarize(records, operon)
    assert result["summary"]["below_operon"] == 2 and result["summary"]["operon_runs"] == 3
    text = gen.render({**result, "settings": {"set": "holdout", "seeds": [12], "search_seed": 0,
                                              "budget_seconds": 60, "jobs": 2}})
    assert "evosld < Operon on 2/3." in text
    no_peer = gen.render({**gen.summarize(records, {}), "settings": {"set": "holdout", "seeds": [12],
                                                                     "search_seed": 0, "budget_seconds": 60, "jobs": 2}})
    assert "Operon on" not in no_peer


def test_every_real_table_is_split_by_its_rule_as_evosld_splits_it(data_dir):
    """The SLDBench runs re-split: each table loads as a user's DataFrame, and evosld holds out the same rows."""
    for name in real.TABLES:
        t = gen.make_table(name, 0)
        assert t.law is None and gen.truth_scores(t)["test_r2"] is None  # no known law
        assert 0 < t.test_mask.sum() < len(t.df) and "group" not in t.df.columns
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            task = task_from_frame(t.df, list(t.features), t.target, group=t.group, test=t.test)
        assert len(task.test) == int(t.test_mask.sum()), name
        assert gen.loglinear_scores(t)["test_r2_clipped"] is not None
    with pytest.raises(KeyError, match="unknown real table"):
        real.make("moe")


def test_the_real_set_runs_and_says_it_has_no_truth(data_dir, tmp_path):
    out = tmp_path / "bench"
    code = gen.main(["--set", "real", "--tables", "parallel_p4_p8", "--budget-seconds", "5", "--jobs", "1",
                     "--peers", "none", "--output", str(out)])
    assert code == 0
    text = (out / gen.MARKDOWN).read_text()
    assert "real tables re-split" in text and "truth: none known" in text and "parallel_p4_p8" in text
    assert "evosld ≥ truth" not in text and ", truth —" not in text  # no truth, so no gap to it
    rec = json.loads((out / gen.JSON_FILE).read_text())["records"][0]
    assert rec["evosld"].get("error") is None and rec["evosld"]["split_rows_agree"]
    assert rec["truth"]["test_r2"] is None and rec["evosld"]["reference"]["name"]
    assert gen.main(["--set", "real", "--tables", "kaplan_n_only", "--peers", "none", "--output", str(out)]) == 2

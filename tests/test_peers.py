"""``benchmarks/peers.py`` (Operon as a peer) and how ``benchmarks/discovery.py`` shows it.

The Operon run needs the optional ``peers`` extra (pyoperon) and is skipped
without it; CI does not install it.
"""

from __future__ import annotations

import importlib.util
import json
import math
import subprocess
import sys
import warnings
from pathlib import Path
from types import ModuleType, SimpleNamespace

import pandas as pd
import pytest

from evosld.bench.spec import BenchSpec
from evosld.tasks import task_from_frame
from tests.conftest import chinchilla_frame

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCHMARKS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_operon_on_a_tiny_grouped_task() -> None:
    pytest.importorskip("pyoperon")
    peers = _load("peers")
    frames = []
    for g, seed in (("a", 0), ("b", 1)):
        df = chinchilla_frame(seed)
        df["loss"] += 0.1 * seed
        frames.append(df.assign(model=g))
    task = task_from_frame(pd.concat(frames, ignore_index=True), ["N", "D"], "loss", group="model",
                           name="chinchilla2", max_params=3)

    result = peers.run_operon(task, seed=0, budget_seconds=2)
    assert result["models"] == 2 and result["seconds_per_model"] == 1  # one model per group, budget split
    assert result["log_features"] == ["N", "D"] and result["limit_per_model"] == 3
    best, within = result["best"], result["within_limit"]
    for variant in (best, within):
        assert -1.0 <= variant["test_r2_clipped"] <= 1.0 and math.isfinite(variant["val_r2"])
        assert variant["n_params"] >= 1 and variant["formula"] is None  # two models: no single formula
        assert set(variant["formulas"]) == {"a", "b"} and all(len(f) == 1 and f[0] for f in variant["formulas"].values())
    assert within["n_params"] <= 3  # per group, the task's limit
    assert best["val_r2"] >= within["val_r2"] - 1e-9  # the restricted pick cannot beat the free one on validation


def _small_run(tmp_path: Path) -> Path:
    """A short evosld run on a synthetic Chinchilla table (test: the largest model), in ``tmp_path/run``."""
    import evosld

    run = tmp_path / "run"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        evosld.discover(chinchilla_frame(), features=["N", "D"], target="loss", test="N >= 1e10", iterations=6,
                        budget_seconds=None, seed=0, output=run, progress=False)
    return run


def test_a_run_directory_gives_the_peer_the_runs_own_table_split_and_law(tmp_path: Path) -> None:
    from evosld.errors import EvosldError

    peers = _load("peers")
    run = _small_run(tmp_path)
    task, run_dir = peers.load_peer_task(str(run), None)
    best = json.loads((run / "best.json").read_text())
    assert run_dir == run and list(task.features) == ["N", "D"] and list(task.targets) == ["loss"]
    assert task.test_rule == best["split"]["test_rule"] and task.val_rule == best["split"]["val_rule"]
    assert task.split_counts() == best["split"]["rows_per_group"]  # the rows the run fitted, validated, tested
    pick = peers.run_pick(run)
    assert pick["test_r2"] == best["test"]["r2"] and pick["val_r2"] == best["val"]["r2"]
    assert pick["n_params"] == best["n_params"] and pick["formula"] == best["formula"]
    lines = peers.side_by_side({"best": {"val_r2": 0.9, "test_r2": 0.8, "n_params": 7}, "within_limit": None,
                                "max_params": 5, "evosld": pick}).splitlines()
    assert lines[0] == "Operon: validation R² 0.9000, test R² 0.8000, 7 constants"
    assert lines[1] == "Operon within the limit (5): —"
    assert lines[2].startswith("evosld (the run's law): validation R² ") and f"{pick['test_r2']:.4f}" in lines[2]
    unlimited = peers.side_by_side({"best": {"val_r2": 0.9, "test_r2": 0.8, "n_params": 7}, "max_params": None})
    assert unlimited == "Operon: validation R² 0.9000, test R² 0.8000, 7 constants"
    empty = tmp_path / "not_a_run"
    empty.mkdir()
    with pytest.raises(EvosldError, match="not_a_run"):
        peers.load_peer_task(str(empty), None)
    with pytest.raises(EvosldError, match="gone does not exist: give an evosld run directory"):
        peers.load_peer_task(str(tmp_path / "gone"), None)


def test_operon_beside_an_evosld_run_on_its_own_table(tmp_path: Path) -> None:
    pytest.importorskip("pyoperon")
    run = _small_run(tmp_path)
    done = subprocess.run([sys.executable, str(BENCHMARKS / "peers.py"), str(run), "--budget-seconds", "2"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    best = json.loads((run / "best.json").read_text())
    assert result["task"] == best["task"] and result["evosld"]["test_r2"] == best["test"]["r2"]
    assert math.isfinite(result["best"]["test_r2"])
    shown = done.stderr.strip().splitlines()[-3:]
    assert shown[0].startswith("Operon: validation R² ") and shown[2].startswith("evosld (the run's law): ")


def _board(task: str) -> SimpleNamespace:
    run = {"task": task, "seed": 0, "status": "finished", "test_r2": 0.9, "n_params": 4, "val_r2": 0.95,
           "formula": "y = a", "evaluations": 10, "run_dir": "x"}
    row = {"task": task, "mean_test_r2_clipped": 0.9, "best_test_r2": 0.9, "best_seed": 0, "best_n_params": 4}
    return SimpleNamespace(runs=[run], tasks=[row])


def test_discovery_table_shows_the_peer_time_to_quality_and_timings(tmp_path: Path) -> None:
    discovery = _load("discovery")
    task = "sft_scaling_law"
    spec = BenchSpec(tasks=(task,), seeds=(0,), output=tmp_path, budget_seconds=30, jobs=1)
    human = {task: {"test_r2_clipped": 0.95}}
    ttq = {(task, 0): {"reached": {"human": 12.0, "sldagent": None}, "picks": []}}
    timings = {(task, 0): {"search": 30.0, "propose": 12.0, "screen": 9.0, "sandbox": 25.0, "fit": 11.0,
                           "evaluations": 60}}
    operon = {(task, 0): {"best": {"test_r2_clipped": 0.97, "n_params": 9},
                          "within_limit": {"test_r2_clipped": 0.93, "n_params": 4, "fallbacks": 0}}}
    result = discovery.summarize(spec, _board(task), human, {}, ttq, timings, operon)
    (row,) = result["tasks"]
    assert row["operon_mean_test_r2"] == 0.97 and row["operon_limit_n_params"] == 4
    assert row["beats_operon"] is False and row["beats_operon_limit"] is False
    assert row["ttq_human_s"] == 12.0 and row["ttq_sldagent_s"] is None and row["ttq_human_reached"] == 1
    text = discovery.render(result)
    assert "0.9700 (9)" in text and "0.9300 (4)" in text and "12 s (1/1)" in text and "— (0/1)" in text
    assert "## Where the time goes" in text and "12 (9)" in text and "25 (11)" in text

    none = discovery.summarize(spec, _board(task), human, {}, peer_note="Operon: skipped, pyoperon is not installed.")
    text = discovery.render(none)
    assert "Operon: skipped, pyoperon is not installed." in text and "Where the time goes" not in text


def test_median_time_counts_a_run_that_never_got_there_as_infinite() -> None:
    discovery = _load("discovery")
    assert discovery._median_time([10.0, None, 30.0]) == 30.0
    assert discovery._median_time([10.0, None, None]) is None
    assert discovery._median_time([]) is None

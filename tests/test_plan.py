"""One front door: ``evosld discover`` and ``evosld.discover`` plan the same run for the same input."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

import evosld
import evosld.run.runner
from evosld.cli import main
from evosld.config import OFFLINE_BUDGET_SECONDS, OFFLINE_MAX_ITERATIONS, RUNS_DIR
from evosld.run.plan import plan_run
from evosld.tasks import task_from_frame
from tests.conftest import chinchilla_frame


class Planned(Exception):
    """Raised by the stand-in runner: what a front door asked for, before anything runs."""

    def __init__(self, config, run_dir: Path) -> None:
        super().__init__("planned")
        self.config, self.run_dir = config, Path(run_dir)


@pytest.fixture
def planned(monkeypatch, tmp_path):
    """Both front doors stop at run_discovery and say what they would run, at a fixed time stamp."""
    def stand_in(task, config, run_dir, **kwargs):
        raise Planned(config, run_dir)

    monkeypatch.setattr(evosld.run.runner, "run_discovery", stand_in)
    monkeypatch.setattr(time, "strftime", lambda fmt, *a: "20250101-000000")
    monkeypatch.chdir(tmp_path)
    csv = tmp_path / "runs.csv"
    chinchilla_frame().to_csv(csv, index=False)
    return csv


def _cli(*args: str) -> Planned:
    with pytest.raises(Planned) as info:
        main(["discover", *args, "--quiet"])
    return info.value


def _api(**kwargs) -> Planned:
    with pytest.raises(Planned) as info:
        evosld.discover(chinchilla_frame(), features=["N", "D"], target="loss", name="runs", progress=False, **kwargs)
    return info.value


@pytest.mark.parametrize("flags, kwargs", [
    ((), {}),
    (("--seed", "3"), {"seed": 3}),
    (("--budget-seconds", "7"), {"budget_seconds": 7}),
    (("--iterations", "5"), {"iterations": 5}),
])
def test_cli_and_api_plan_the_same_budget_and_run_dir(planned, flags, kwargs):
    cli = _cli("--csv", str(planned), "--features", "N,D", "--target", "loss", *flags)
    api = _api(**kwargs)
    for field in ("budget_seconds", "max_iterations", "random_seed"):
        assert getattr(cli.config, field) == getattr(api.config, field), field
    assert cli.run_dir == api.run_dir
    assert cli.run_dir.parent == RUNS_DIR and cli.run_dir.name.startswith("runs-seed")


def test_offline_default_budget_lives_in_run_config(planned):
    api = _api()
    assert api.config.budget_seconds == OFFLINE_BUDGET_SECONDS
    assert api.config.max_iterations == OFFLINE_MAX_ITERATIONS


def test_iterations_in_a_config_file_keep_their_count(tmp_path):
    """A config file that sets max_iterations is read once, by load_config; no second look at the YAML."""
    cfg = tmp_path / "c.yaml"
    cfg.write_text("max_iterations: 7\n")
    task = task_from_frame(chinchilla_frame(), ["N", "D"], "loss")
    plan = plan_run(task, config_file=cfg, output=tmp_path / "out")
    assert plan.config.max_iterations == 7 and plan.config.budget_seconds is None
    assert plan.run_dir == tmp_path / "out" and not plan.resume


def test_resume_plan_reads_the_stored_config_and_time(planned, tmp_path):
    from evosld.run.store import RunStore

    first = plan_run({"csv": {"path": str(planned), "features": ["N", "D"], "target": "loss"}},
                     {"random_seed": 4, "budget_seconds": 9}, output=tmp_path / "run")
    (tmp_path / "run").mkdir()
    with RunStore.create(tmp_path / "run" / "run.sqlite", first.task.name, 4,
                         {"config": first.config.model_dump(mode="json"), "task_spec": first.task_spec}) as store:
        store.set_state("elapsed_seconds", 12.5)
    again = plan_run(None, {"budget_seconds": 20}, resume=tmp_path / "run")
    assert again.resume and again.searched_seconds == 12.5 and not again.budget_spent
    assert again.config.random_seed == 4 and again.config.budget_seconds == 20
    assert again.config.max_iterations == OFFLINE_MAX_ITERATIONS
    assert again.task_spec == first.task_spec and again.task.features == first.task.features
    assert plan_run(None, None, resume=tmp_path / "run").budget_spent


@pytest.mark.parametrize("name, folder", [("../escaped", "escaped"), ("a/b", "a_b"), ("my law 2", "my_law_2"),
                                          ("..", "run"), ("loss_vs_N", "loss_vs_N")])
def test_a_users_name_stays_one_folder_inside_runs(name, folder):
    from evosld.config import RUNS_DIR, RunConfig

    path = RunConfig().default_run_dir(name, stamp="20260101-000000")
    assert path.parent == RUNS_DIR and path.name == f"{folder}-seed{RunConfig().random_seed}-20260101-000000"


def test_the_python_resume_refuses_another_task_or_output_as_the_command_does(tmp_path):
    run = tmp_path / "run"
    evosld.discover(chinchilla_frame(), features=["N", "D"], target="loss", iterations=1, budget_seconds=None,
                    seed=0, output=run, progress=False)
    with pytest.raises(evosld.DataError, match="is a run on 'my_law', not on 'sft_scaling_law'"):
        evosld.discover("sft_scaling_law", resume=run, progress=False)
    with pytest.raises(evosld.DataError, match="resume continues the run in .* and writes there; drop output"):
        evosld.discover(chinchilla_frame(), features=["N", "D"], target="loss", resume=run, output=tmp_path / "zz",
                        progress=False)


def test_an_openevolve_configs_models_are_the_models_called(tmp_path):
    """primary_model / secondary_model were ignored, and the default model ran instead (at its price)."""
    import yaml

    from evosld.config import load_config

    def loaded(llm: dict):
        (tmp_path / "c.yaml").write_text(yaml.safe_dump({"llm": llm}))
        cfg, ignored = load_config(tmp_path / "c.yaml", {})
        return [(m.name, m.weight) for m in cfg.llm.models], ignored

    assert loaded({"primary_model": "gpt-4", "primary_model_weight": 0.8, "secondary_model": "o3-mini",
                   "secondary_model_weight": 0.2}) == ([("gpt-4", 0.8), ("o3-mini", 0.2)], [])
    assert loaded({"primary_model": "gpt-4", "secondary_model": "o3-mini", "secondary_model_weight": 0.0}) == (
        [("gpt-4", 1.0)], [])
    assert loaded({"models": ["m1"], "primary_model": "gpt-4"}) == ([("m1", 1.0)], ["llm.primary_model"])


@pytest.mark.parametrize("kwargs, message", [
    ({"output": 123}, "output takes a path (text or Path), not int 123"),
    ({"config": 5}, "config takes a path (text or Path), not int 5"),
    ({"test": 5}, "test takes text, not int 5"),
    ({"val": ["N >= 1e9"]}, "val takes text, not list ['N >= 1e9']"),
    ({"description": 5}, "description takes text, not int 5"),
])
def test_the_python_api_names_an_argument_of_the_wrong_kind(tmp_path, monkeypatch, kwargs, message):
    """`output=123` raised "expected str, bytes or os.PathLike object, not int" from deep inside; now one line."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(evosld.EvosldError) as exc:
        evosld.discover(chinchilla_frame(), ["N", "D"], "loss", iterations=1, progress=False, **kwargs)
    assert str(exc.value) == message
    assert not (tmp_path / "runs").exists()

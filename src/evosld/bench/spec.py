"""What a bench runs: tasks × seeds, the per-run limits, and each run's state on disk.

    spec = BenchSpec(tasks=parse_tasks("moe_scaling_law,sft_scaling_law"), seeds=parse_seeds("3"),
                     output=Path("bench"), iterations=50, jobs=3)
    plan_runs(spec)   # [BenchRun(task, seed, bench/<task>/seed<k>, "new" | "unfinished" | "finished"), ...]
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from evosld.errors import ConfigError, DataError
from evosld.run.outputs import STORE_FILE
from evosld.run.store import RunStore
from evosld.run.summary import RunSummary

RunState = Literal["finished", "unfinished", "new"]


@dataclass(frozen=True)
class BenchSpec:
    """What to run: tasks × seeds, the per-run limits and where to write.

    ``iterations`` / ``budget_seconds`` / ``llm`` are passed to every
    ``evosld discover``; ``jobs`` runs go at once. With ``dask_scheduler``
    (an address) or ``dask_local``, the runs go to a Dask cluster
    (``bench.daskruns``) instead of a thread pool here.
    """

    tasks: tuple[str, ...]
    seeds: tuple[int, ...]
    output: Path
    iterations: int | None = None
    budget_seconds: float | None = None
    llm: tuple[str, ...] = ()
    jobs: int = 1
    data_dir: str | None = None
    extra_args: tuple[str, ...] = ()
    dask_scheduler: str | None = None
    dask_local: bool = False

    def __post_init__(self) -> None:
        """Limits and the output folder are checked before any run starts (one ``ConfigError`` line each)."""
        import math

        if self.budget_seconds is not None and not (math.isfinite(self.budget_seconds) and self.budget_seconds > 0):
            raise ConfigError(f"--budget-seconds must be a positive number of seconds, not {self.budget_seconds:g}")
        if self.iterations is not None and self.iterations < 1:
            raise ConfigError(f"--iterations must be at least 1, not {self.iterations}")
        out = Path(self.output)
        if out.exists() and not out.is_dir():
            raise ConfigError(f"--output {out} is a file; give the bench a folder (new, or a bench to resume)")
        if (out / STORE_FILE).exists():
            raise ConfigError(f"--output {out} holds a discovery run (evosld discover's); give the bench its own "
                              "folder")

    @property
    def on_dask(self) -> bool:
        """True when the runs go to a Dask cluster."""
        return bool(self.dask_scheduler) or self.dask_local

    def run_dir(self, task: str, seed: int) -> Path:
        """``<output>/<task>/seed<k>``."""
        return Path(self.output) / task / f"seed{seed}"


@dataclass(frozen=True)
class BenchRun:
    """One (task, seed) of a bench and what it needs."""

    task: str
    seed: int
    run_dir: Path
    state: RunState


def parse_tasks(text: str) -> tuple[str, ...]:
    """``all`` or comma-separated built-in task names (validated)."""
    from evosld.tasks.builtin import BUILTIN

    if text.strip() == "all":
        return tuple(BUILTIN)
    names = tuple(dict.fromkeys(t.strip() for t in text.split(",") if t.strip()))
    if not names:
        raise ConfigError("--tasks needs 'all' or comma-separated task names")
    unknown = [t for t in names if t not in BUILTIN]
    if unknown:
        raise DataError(f"unknown task {unknown[0]!r}; known tasks: {', '.join(BUILTIN)}")
    return names


def parse_seeds(text: str | int) -> tuple[int, ...]:
    """``K`` (seeds 0..K-1) or comma-separated seeds such as ``1,4,7``."""
    raw = str(text).strip()
    try:
        if "," in raw:
            seeds = tuple(dict.fromkeys(int(s) for s in raw.split(",") if s.strip()))
        else:
            k = int(raw)
            if k < 1:
                raise ConfigError("--seeds must be at least 1")
            seeds = tuple(range(k))
    except ValueError:
        raise ConfigError(f"--seeds must be a count (3) or a list (1,4,7), got {raw!r}") from None
    if not seeds:
        raise ConfigError("--seeds is empty")
    return seeds


def run_state(run_dir: str | Path) -> RunState:
    """``finished``: stopped and its best scored on test; ``unfinished``: a store without both; else ``new``."""
    path = Path(run_dir) / STORE_FILE
    if not path.is_file():
        return "new"
    with RunStore.open(path) as store:
        # stopped by a limit, not a signal: an interrupted run is resumed by the next bench
        return "finished" if RunSummary.from_store(store).complete else "unfinished"


def plan_runs(spec: BenchSpec) -> list[BenchRun]:
    """Every (task, seed) of ``spec`` with its state, tasks in order then seeds."""
    return [BenchRun(t, s, spec.run_dir(t, s), run_state(spec.run_dir(t, s))) for t in spec.tasks for s in spec.seeds]


__all__ = ["BenchRun", "BenchSpec", "RunState", "parse_seeds", "parse_tasks", "plan_runs", "run_state"]

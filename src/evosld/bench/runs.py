"""Benchmark: discoveries over tasks and seeds, then a leaderboard from their stores.

    spec = BenchSpec(tasks=("moe_scaling_law", "sft_scaling_law"), seeds=(0, 1, 2),
                     output=Path("bench"), iterations=50, jobs=3)
    board = run_bench(spec)           # bench/<task>/seed<k>/, leaderboard.md, leaderboard.json

Each (task, seed) is one ``evosld discover --quiet`` subprocess writing its own
run directory, up to ``jobs`` at a time; a finished run (stopped, with its best
scored on test) is skipped and an unfinished one resumed, so a bench that was
interrupted simply continues. Every number in the leaderboard is read from the
run stores; the human laws are refit once per task through the sandbox and
cached in the bench directory.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from evosld.bench.leaderboard import PUBLISHED
from evosld.errors import ConfigError, DataError
from evosld.run.outputs import STORE_FILE, write_atomic
from evosld.run.store import RunStore
from evosld.run.summary import RunSummary, count_params, finite
from evosld.signals import StopRequest, catch_stop_signals

LEADERBOARD_MD = "leaderboard.md"
LEADERBOARD_JSON = "leaderboard.json"
HUMAN_CACHE = "human_laws.json"
RUN_LOG = "bench.log"

RunState = Literal["finished", "unfinished", "new"]


@dataclass(frozen=True)
class BenchSpec:
    """What to run: tasks × seeds, the per-run limits and where to write.

    ``iterations`` / ``budget_seconds`` / ``llm`` are passed to every
    ``evosld discover``; ``jobs`` runs go at once.
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


@dataclass(frozen=True)
class RunOutcome:
    """How the subprocess of a run ended (``skipped`` when it was already finished)."""

    task: str
    seed: int
    run_dir: Path
    action: Literal["skipped", "new", "resumed"]
    returncode: int
    seconds: float


@dataclass
class Leaderboard:
    """Per-task rows, their average and the per-run rows (JSON-ready dicts)."""

    tasks: list[dict[str, Any]]
    average: dict[str, Any]
    runs: list[dict[str, Any]]
    settings: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"settings": self.settings, "tasks": self.tasks, "average": self.average, "runs": self.runs}


# --------------------------------------------------------------------------- parsing


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


# --------------------------------------------------------------------------- planning


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


def discover_command(spec: BenchSpec, run: BenchRun, python: str = sys.executable) -> list[str]:
    """The ``evosld discover`` command line of a run (``--resume`` for an unfinished one)."""
    cmd = [python, "-m", "evosld.cli", "discover"]
    if run.state == "unfinished":
        cmd += ["--resume", str(run.run_dir)]
    else:
        cmd += [run.task, "--seed", str(run.seed), "--output", str(run.run_dir)]
    if spec.iterations is not None:
        cmd += ["--iterations", str(spec.iterations)]
    if spec.budget_seconds is not None:
        cmd += ["--budget-seconds", str(spec.budget_seconds)]
    for model in spec.llm:
        cmd += ["--llm", model]
    if spec.data_dir:
        cmd += ["--data-dir", str(spec.data_dir)]
    return [*cmd, "--quiet", *spec.extra_args]


class _Children:
    """The discovery subprocesses running now, so a signal can be passed on to them."""

    def __init__(self) -> None:
        self.pids: set[int] = set()
        self.stop = StopRequest()

    def forward(self, signum: int) -> None:
        """Send ``signum`` to every child (each finishes its run, or aborts on a second signal)."""
        for pid in list(self.pids):
            try:
                os.kill(pid, signum)
            except ProcessLookupError:
                pass


def _execute(spec: BenchSpec, run: BenchRun, children: _Children | None = None) -> RunOutcome:
    """Run one discovery subprocess, its output appended to ``<run_dir>/bench.log``."""
    action: Literal["new", "resumed"] = "resumed" if run.state == "unfinished" else "new"
    children = children or _Children()
    if children.stop.requested:  # the bench was stopped before this run began
        return RunOutcome(run.task, run.seed, run.run_dir, action, children.stop.exit_code, 0.0)
    run.run_dir.mkdir(parents=True, exist_ok=True)
    cmd = discover_command(spec, run)
    t0 = time.monotonic()
    with open(run.run_dir / RUN_LOG, "a", encoding="utf-8") as log:
        log.write(f"$ {' '.join(cmd)}\n")
        log.flush()
        # Its own session: a Ctrl-C at the terminal reaches the bench only, which passes it on once.
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
        children.pids.add(proc.pid)
        try:
            if children.stop.requested:
                children.forward(children.stop.signum or signal.SIGTERM)
            code = proc.wait()
        finally:
            children.pids.discard(proc.pid)
    return RunOutcome(run.task, run.seed, run.run_dir, action, code, time.monotonic() - t0)


def execute(spec: BenchSpec, runs: Sequence[BenchRun], report: Callable[[str], None] = lambda s: None,
            children: _Children | None = None) -> list[RunOutcome]:
    """Run every run that is not finished, ``spec.jobs`` at a time; finished ones are skipped."""
    children = children or _Children()
    outcomes: list[RunOutcome] = []
    todo = []
    for run in runs:
        if run.state == "finished":
            outcomes.append(RunOutcome(run.task, run.seed, run.run_dir, "skipped", 0, 0.0))
            report(f"{run.task} seed {run.seed}: finished already, skipped")
        else:
            todo.append(run)
    with concurrent.futures.ThreadPoolExecutor(max(1, spec.jobs)) as pool:
        futures = {}
        for run in todo:
            report(f"{run.task} seed {run.seed}: {'resuming' if run.state == 'unfinished' else 'starting'}")
            futures[pool.submit(_execute, spec, run, children)] = run
        for fut in concurrent.futures.as_completed(futures):
            out = fut.result()
            outcomes.append(out)
            if out.returncode == 0:
                verdict = "done"
            elif children.stop.requested and out.returncode == children.stop.exit_code:
                verdict = "interrupted (rerun the bench to resume it)"
            else:
                verdict = f"failed (exit {out.returncode}; see {out.run_dir / RUN_LOG})"
            report(f"{out.task} seed {out.seed}: {verdict} in {out.seconds:.0f} s")
    order = {(r.task, r.seed): i for i, r in enumerate(runs)}
    return sorted(outcomes, key=lambda o: order[(o.task, o.seed)])


# --------------------------------------------------------------------------- numbers from stores


def run_record(task: str, seed: int, run_dir: str | Path) -> dict[str, Any]:
    """One run's numbers, read from its store (``status`` ``missing`` when there is none)."""
    record: dict[str, Any] = {"task": task, "seed": seed, "run_dir": str(run_dir)}
    path = Path(run_dir) / STORE_FILE
    if not path.is_file():
        return {**record, "status": "missing"}
    with RunStore.open(path) as store:
        summary = RunSummary.from_store(store)
        best, test = summary.final, summary.test
        totals = store.llm_totals()
        meta = (best.meta or {}) if best is not None else {}
        test_metrics = test.metrics if test is not None else {}
        record.update({
            "status": "finished" if summary.complete else "unfinished",
            "best_program_id": best.id if best is not None else None,
            "val_r2": finite(best.evaluation.r2) if best is not None and best.evaluation else None,
            "test_r2": finite(test_metrics.get("r2")),
            "test_r2_clipped": finite(test_metrics.get("r2_clipped")),
            "test_nmse": finite(test_metrics.get("nmse")),
            "test_nmae": finite(test_metrics.get("nmae")),
            "n_params": summary.n_params,
            "formula": meta.get("formula"),
            "best_proposer": best.proposer if best is not None else None,
            "iterations": summary.iterations,
            "evaluations": store.evaluation_count(),
            "wall_seconds": summary.elapsed_seconds,
            "llm_tokens": totals.total_tokens,
            "cost_usd": totals.cost_usd,
        })
    return record


def data_digest(task: Any, salt: str = "") -> str:
    """A short digest of ``salt`` and a task's train and test tables (caches made on other data are ignored)."""
    h = hashlib.sha256(salt.encode())
    for df in (task.train, task.test):
        h.update(df.to_csv(index=False).encode())
    return h.hexdigest()[:16]


def human_scores(spec: BenchSpec, report: Callable[[str], None] = lambda s: None) -> dict[str, dict[str, Any]]:
    """Test (and validation) scores of each task's human law, refit through the sandbox.

    Cached in ``<output>/human_laws.json`` keyed by the law's source and the
    data, so each is computed once per bench directory.
    """
    from evosld.evaluation import Evaluator, Sandbox
    from evosld.tasks import load_task
    from evosld.tasks.baselines import baseline_source

    cache_path = Path(spec.output) / HUMAN_CACHE
    try:
        cache = json.loads(cache_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        cache = {}
    sandbox = Sandbox()
    out: dict[str, dict[str, Any]] = {}

    def one(name: str) -> dict[str, Any]:
        task = load_task(name, data_dir=spec.data_dir)
        src = baseline_source(name)
        key = hashlib.sha256(src.encode()).hexdigest()[:16] + "-" + data_digest(task)
        hit = cache.get(name)
        if isinstance(hit, dict) and hit.get("key") == key:
            return hit
        report(f"{name}: refitting the human law")
        ev = Evaluator(task, sandbox)
        val, test = ev.evaluate(src, "val"), ev.evaluate(src, "test")
        return {"key": key, "val_r2": finite(val.scores.r2), "test_r2": finite(test.scores.r2),
                "test_r2_clipped": finite(test.scores.r2_clipped), "test_nmse": finite(test.scores.nmse),
                "test_nmae": finite(test.scores.nmae), "n_params": count_params(test.params),
                "error": test.message or val.message or None}

    with concurrent.futures.ThreadPoolExecutor(max(1, min(spec.jobs, len(spec.tasks)))) as pool:
        for name, result in zip(spec.tasks, pool.map(one, spec.tasks)):
            out[name] = result
    cache.update(out)
    Path(spec.output).mkdir(parents=True, exist_ok=True)
    write_atomic(cache_path, json.dumps(cache, indent=2) + "\n")
    return out


def _mean(values: Sequence[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return sum(vals) / len(vals) if vals else None


def build_leaderboard(spec: BenchSpec, human: dict[str, dict[str, Any]]) -> Leaderboard:
    """Per-task and average rows from the run stores of ``spec`` and the human-law scores."""
    from evosld.tasks.builtin import BUILTIN

    runs = [run_record(t, s, spec.run_dir(t, s)) for t in spec.tasks for s in spec.seeds]
    rows = []
    for task in spec.tasks:
        mine = [r for r in runs if r["task"] == task and r.get("status") == "finished" and r.get("test_r2") is not None]
        best = max(mine, key=lambda r: r["test_r2"], default=None)
        limit = BUILTIN[task].max_params if task in BUILTIN else None
        published = PUBLISHED.get(task, {})
        h = human.get(task, {})
        rows.append({
            "task": task,
            "runs": len(mine),
            "seeds": len(spec.seeds),
            "mean_test_r2": _mean([r["test_r2"] for r in mine]),
            "mean_test_r2_clipped": _mean([r["test_r2_clipped"] for r in mine]),
            "best_test_r2": best["test_r2"] if best else None,
            "best_seed": best["seed"] if best else None,
            "best_n_params": best["n_params"] if best else None,
            "best_formula": best["formula"] if best else None,
            "max_params": limit,
            "mean_val_r2": _mean([r["val_r2"] for r in mine]),
            # clipped at -1 like the runs' mean and the leaderboard (easy_question's human law is far below)
            "human_test_r2": h.get("test_r2_clipped", h.get("test_r2")),
            "human_n_params": h.get("n_params"),
            "published_human_r2": published.get("human"),
            "published_sldagent_r2": published.get("sldagent_gpt5"),
        })
    scored = [r for r in rows if r["runs"]]
    average = {"tasks": len(scored)}
    for key in ("mean_test_r2", "mean_test_r2_clipped", "best_test_r2", "human_test_r2",
                "published_human_r2", "published_sldagent_r2"):
        average[key] = _mean([r[key] for r in scored])
    settings = {"tasks": list(spec.tasks), "seeds": list(spec.seeds), "iterations": spec.iterations,
                "budget_seconds": spec.budget_seconds, "llm": list(spec.llm), "data_dir": spec.data_dir}
    return Leaderboard(rows, average, runs, settings)


# --------------------------------------------------------------------------- writing


def _cell(value: Any, digits: int = 3) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _law_cell(run: dict[str, Any]) -> str:
    formula = run.get("formula")
    if formula:
        return "`" + str(formula).replace("|", "\\|").replace("`", "'") + "`"
    if run.get("best_proposer"):
        return f"{run['best_proposer']} program (no formula recorded; see best_program.py)"
    return "—"


def leaderboard_markdown(board: Leaderboard) -> str:
    """The leaderboard as a Markdown page (per task, average, per run)."""
    s = board.settings
    limits = []
    if s.get("iterations") is not None:
        limits.append(f"{s['iterations']} iteration{'' if s['iterations'] == 1 else 's'}")
    if s.get("budget_seconds") is not None:
        limits.append(f"{s['budget_seconds']:g} s budget")
    mode = ("LLM " + ", ".join(s["llm"])) if s.get("llm") else "offline symbolic search"
    lines = [
        "# evosld leaderboard",
        "",
        f"{mode}; seeds {', '.join(map(str, s.get('seeds', [])))}; {', '.join(limits) or 'default limits'}.",
        "Test R² on the held-out largest scales (SLDBench split), never seen by the search. "
        "Mean over finished seeds with each run's R² clipped at −1; best over seeds unclipped. "
        "Human law: refit here on the same train rows (clipped at −1); published: the SLDBench leaderboard figures.",
        "",
        "| task | runs | mean test R² | best test R² | params (limit) | human law, refit | human law, published | SLDAgent GPT-5, published |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in board.tasks:
        params = "—" if r["best_n_params"] is None else str(r["best_n_params"])
        if r["max_params"]:
            params += f" ({r['max_params']})"
        lines.append(
            f"| {r['task']} | {r['runs']}/{r['seeds']} | {_cell(r['mean_test_r2_clipped'])} | {_cell(r['best_test_r2'])} "
            f"| {params} | {_cell(r['human_test_r2'])} | {_cell(r['published_human_r2'])} | {_cell(r['published_sldagent_r2'])} |"
        )
    a = board.average
    lines.append(
        f"| **average** ({a['tasks']} tasks) | | **{_cell(a['mean_test_r2_clipped'])}** | **{_cell(a['best_test_r2'])}** | "
        f"| {_cell(a['human_test_r2'])} | {_cell(a['published_human_r2'])} | {_cell(a['published_sldagent_r2'])} |"
    )
    lines += ["", "## Runs", "", "| task | seed | status | val R² | test R² | params | iterations | wall time | cost (USD) | law |",
              "|---|---:|---|---:|---:|---:|---:|---:|---:|---|"]
    for r in board.runs:
        wall = r.get("wall_seconds")
        lines.append(
            f"| {r['task']} | {r['seed']} | {r['status']} | {_cell(r.get('val_r2'), 4)} | {_cell(r.get('test_r2'), 4)} "
            f"| {_cell(r.get('n_params'))} | {_cell(r.get('iterations'))} | {'—' if wall is None else f'{wall:.0f} s'} "
            f"| {_cell(r.get('cost_usd'), 4)} | {_law_cell(r)} |"
        )
    return "\n".join(lines) + "\n"


def write_leaderboard(output: str | Path, board: Leaderboard) -> tuple[Path, Path]:
    """Write ``leaderboard.md`` and ``leaderboard.json`` into ``output``; returns their paths."""
    out = Path(output)
    md, js = out / LEADERBOARD_MD, out / LEADERBOARD_JSON
    write_atomic(md, leaderboard_markdown(board))
    write_atomic(js, json.dumps(board.to_json(), indent=2) + "\n")
    return md, js


def run_bench(spec: BenchSpec, report: Callable[[str], None] = lambda s: None,
              stop: StopRequest | None = None) -> tuple[Leaderboard, list[RunOutcome]]:
    """Run (or resume) every discovery of ``spec``, refit the human laws, write the leaderboard.

    SIGINT / SIGTERM (or ``stop.request()``) are passed on to the running
    discoveries, which finish their runs; runs not started yet are not started,
    and the leaderboard is written from what finished. ``stop.signum`` then
    says which signal; a second signal aborts the runs and the bench at once.
    """
    if spec.jobs < 1:
        raise ConfigError("--jobs must be at least 1")
    Path(spec.output).mkdir(parents=True, exist_ok=True)
    runs = plan_runs(spec)
    children = _Children()
    if stop is not None:
        children.stop = stop
    with catch_stop_signals(children.stop, forward=children.forward):
        outcomes = execute(spec, runs, report, children)
    human = human_scores(spec, report)
    board = build_leaderboard(spec, human)
    write_leaderboard(spec.output, board)
    return board, outcomes


__all__ = [
    "BenchRun", "BenchSpec", "Leaderboard", "RunOutcome", "build_leaderboard", "data_digest", "discover_command", "execute",
    "human_scores", "leaderboard_markdown", "parse_seeds", "parse_tasks", "plan_runs", "run_bench",
    "run_record", "run_state", "write_leaderboard",
]

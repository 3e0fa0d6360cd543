"""The leaderboard of a bench, built from its run stores, and the published figures it is set against.

    board = build_leaderboard(spec, human_scores(spec))   # per task, average, per run
    write_leaderboard(spec.output, board)                 # leaderboard.md, leaderboard.json

``PUBLISHED`` holds the reference figures (test R², SLDBench leaderboard; DESIGN.md):
``human``: the human law of each task (leaderboard figure);
``sldagent_gpt5``: SLDAgent with GPT-5, mean of five runs (arXiv 2507.21184);
``best_agent``: the best run of any agent on the board, where DESIGN.md gives it.
easy_question's human law (a quintic extrapolated past its data) scores far below
-1 and is listed, as on the board, clipped at -1.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evosld.bench.spec import BenchSpec
from evosld.run.outputs import STORE_FILE, write_atomic
from evosld.run.store import RunStore
from evosld.run.summary import RunSummary, finite

LEADERBOARD_MD = "leaderboard.md"
LEADERBOARD_JSON = "leaderboard.json"

PUBLISHED: dict[str, dict[str, float]] = {
    "vocab_scaling_law": {"human": 0.966, "sldagent_gpt5": 0.987},
    "sft_scaling_law": {"human": 0.957, "sldagent_gpt5": 0.993},
    "domain_mixture_scaling_law": {"human": 0.671, "sldagent_gpt5": 0.988},
    "moe_scaling_law": {"human": 0.703, "sldagent_gpt5": 0.773},
    "data_constrained_scaling_law": {"human": 0.911, "sldagent_gpt5": 0.944},
    "lr_bsz_scaling_law": {"human": -0.076, "sldagent_gpt5": 0.604},
    "parallel_scaling_law": {"human": 0.99989, "sldagent_gpt5": 0.99981, "best_agent": 0.99997},
    "easy_question_scaling_law": {"human": -1.0, "sldagent_gpt5": -0.305, "best_agent": 0.381},
}


@dataclass
class Leaderboard:
    """Per-task rows, their average and the per-run rows (JSON-ready dicts)."""

    tasks: list[dict[str, Any]]
    average: dict[str, Any]
    runs: list[dict[str, Any]]
    settings: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"settings": self.settings, "tasks": self.tasks, "average": self.average, "runs": self.runs}


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


def cell(value: Any, digits: int = 3) -> str:
    """A table cell: a float to ``digits`` places, None as a dash, anything else as text."""
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
            f"| {r['task']} | {r['runs']}/{r['seeds']} | {cell(r['mean_test_r2_clipped'])} | {cell(r['best_test_r2'])} "
            f"| {params} | {cell(r['human_test_r2'])} | {cell(r['published_human_r2'])} | {cell(r['published_sldagent_r2'])} |"
        )
    a = board.average
    lines.append(
        f"| **average** ({a['tasks']} tasks) | | **{cell(a['mean_test_r2_clipped'])}** | **{cell(a['best_test_r2'])}** | "
        f"| {cell(a['human_test_r2'])} | {cell(a['published_human_r2'])} | {cell(a['published_sldagent_r2'])} |"
    )
    lines += ["", "## Runs", "", "| task | seed | status | val R² | test R² | params | iterations | wall time | cost (USD) | law |",
              "|---|---:|---|---:|---:|---:|---:|---:|---:|---|"]
    for r in board.runs:
        wall = r.get("wall_seconds")
        lines.append(
            f"| {r['task']} | {r['seed']} | {r['status']} | {cell(r.get('val_r2'), 4)} | {cell(r.get('test_r2'), 4)} "
            f"| {cell(r.get('n_params'))} | {cell(r.get('iterations'))} | {'—' if wall is None else f'{wall:.0f} s'} "
            f"| {cell(r.get('cost_usd'), 4)} | {_law_cell(r)} |"
        )
    return "\n".join(lines) + "\n"


def write_leaderboard(output: str | Path, board: Leaderboard) -> tuple[Path, Path]:
    """Write ``leaderboard.md`` and ``leaderboard.json`` into ``output``; returns their paths."""
    out = Path(output)
    md, js = out / LEADERBOARD_MD, out / LEADERBOARD_JSON
    write_atomic(md, leaderboard_markdown(board))
    write_atomic(js, json.dumps(board.to_json(), indent=2) + "\n")
    return md, js


__all__ = ["LEADERBOARD_JSON", "LEADERBOARD_MD", "PUBLISHED", "Leaderboard", "build_leaderboard", "leaderboard_markdown",
           "run_record", "write_leaderboard"]

"""Does validation R² rank a run's laws the way test R² would?

For one finished run directory, :func:`rank_check` takes the laws the search
scored on validation, fits the best of them on all of train and scores them on
test, then reports the rank correlation between the two columns::

    check = rank_check("runs/sft-seed0", "sft_scaling_law", top=30)
    check.spearman        # e.g. 0.71; None with fewer than 3 laws or a constant column
    check.rows[0]         # RankRow(program_id=12, val_r2=0.995, test_r2=0.993, n_params=4, formula="...")

This is analysis only. The test scores computed here never reach the search or
its selection (the run is over), and they are not written into the run store:
they are cached in ``<run_dir>/rank_check.json``, keyed by program id, so a
second call does not evaluate anything again.
"""

from __future__ import annotations

import concurrent.futures
import json
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from evosld.errors import ConfigError
from evosld.evaluation.evaluator import Evaluator
from evosld.evaluation.sandbox import Sandbox
from evosld.run.outputs import existing_store, write_atomic
from evosld.run.store import RunStore, StoredProgram
from evosld.run.summary import count_params, finite, n_params_of, stored_limits, stored_task
from evosld.tasks.task import Task, data_digest

#: The cache file written into the run directory.
CACHE_FILE = "rank_check.json"
#: Bumped when the cached entries change meaning.
CACHE_VERSION = 1
#: R² floor: below it (and for a failed fit) a law counts as -1, as SLDBench does.
R2_FLOOR = -1.0


class RankRow(NamedTuple):
    """One law: its validation R² (from the store) and its test R² (refit here), both clipped at -1."""

    program_id: int
    val_r2: float
    test_r2: float
    n_params: int | None
    formula: str | None


@dataclass
class RankCheck:
    """How validation R² ranks the top laws of a run compared with test R².

    ``rows`` are sorted by validation R² (best first; ties: oldest program).
    ``spearman`` / ``kendall`` are None with fewer than 3 rows or when either
    column is constant. ``candidates`` counts the distinct laws with a
    successful validation evaluation (before keeping the ``top``);
    ``evaluated`` how many test fits this call ran (0 when all came from the
    cache); ``errors`` maps program id to the message of a failed test fit.
    """

    run_dir: Path
    task: str
    top: int
    candidates: int
    rows: list[RankRow]
    spearman: float | None
    kendall: float | None
    final_program_id: int | None = None
    evaluated: int = 0
    errors: dict[int, str] = field(default_factory=dict)

    @property
    def n(self) -> int:
        """Number of laws compared."""
        return len(self.rows)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (rows as objects)."""
        return {
            "run_dir": str(self.run_dir),
            "task": self.task,
            "top": self.top,
            "candidates": self.candidates,
            "n": self.n,
            "spearman": self.spearman,
            "kendall": self.kendall,
            "final_program_id": self.final_program_id,
            "evaluated": self.evaluated,
            "errors": {str(k): v for k, v in self.errors.items()},
            "rows": [r._asdict() for r in self.rows],
        }


# --------------------------------------------------------------------------- helpers


def _clip(value: Any) -> float:
    """R² clipped at -1; a missing or non-finite value counts as -1 (a failed law)."""
    v = finite(value)
    return v if v is not None and v > R2_FLOOR else R2_FLOOR


def correlations(val: Sequence[float], test: Sequence[float]) -> tuple[float | None, float | None]:
    """(Spearman ρ, Kendall τ) of two columns; None with fewer than 3 values or a constant column."""
    from scipy import stats

    if len(val) < 3 or len(val) != len(test) or len(set(val)) < 2 or len(set(test)) < 2:
        return None, None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rho = float(stats.spearmanr(val, test).statistic)
        tau = float(stats.kendalltau(val, test).statistic)
    return (rho if math.isfinite(rho) else None), (tau if math.isfinite(tau) else None)


def select_candidates(programs: Sequence[StoredProgram], top: int) -> tuple[list[StoredProgram], int]:
    """The ``top`` best distinct laws by validation R², and how many distinct laws there were.

    Only programs with a successful, finite validation R² count. Among
    programs with the same source digest, or the same ``meta["structure_key"]``
    when the proposer recorded one, only the best on validation is kept.
    """
    ok = [p for p in programs if p.evaluation is not None and p.evaluation.ok
          and p.evaluation.r2 is not None and math.isfinite(p.evaluation.r2)]
    ok.sort(key=lambda p: (-float(p.evaluation.r2), p.id))  # type: ignore[union-attr]
    seen: set[str] = set()
    distinct: list[StoredProgram] = []
    for p in ok:
        key = (p.meta or {}).get("structure_key")
        keys = {f"digest:{p.digest}"} | ({f"structure:{key}"} if isinstance(key, str) and key else set())
        if keys & seen:
            continue
        seen |= keys
        distinct.append(p)
    return distinct[:top], len(distinct)


def _read_cache(path: Path, data_key: str) -> dict[str, dict[str, Any]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("version") != CACHE_VERSION or data.get("data") != data_key:
        return {}
    programs = data.get("programs")
    return programs if isinstance(programs, dict) else {}


# --------------------------------------------------------------------------- the check


def rank_check(
    run_dir: str | Path,
    task: Task | str | None = None,
    top: int = 30,
    sandbox: Sandbox | None = None,
    cache: bool = True,
    *,
    workers: int = 2,
    data_dir: str | Path | None = None,
) -> RankCheck:
    """Compare validation and test R² over the ``top`` best distinct laws of a finished run.

    The run store's programs with a successful validation evaluation are
    deduplicated (one per source digest, and one per ``meta["structure_key"]``
    when present), the ``top`` best by validation R² are kept, and each is fit
    on all of train and scored on test through ``Evaluator(task, sandbox)``
    with the run's own per-candidate limits. Both R² columns are clipped at -1
    (a failed test fit counts as -1) before ``scipy.stats.spearmanr`` /
    ``kendalltau``.

    Analysis only: the test scores never feed any selection, and they are not
    written into the run store. With ``cache`` they are kept in
    ``<run_dir>/rank_check.json`` (keyed by program id, checked against the
    program's digest and the task's data) and reused by the next call, which
    then runs no test fit at all; ``cache=False`` neither reads nor writes it.

    Args:
        run_dir: a directory written by ``evosld discover``.
        task: the run's task, or a built-in task name; default: the name stored in the run.
        top: how many laws to compare (best on validation first).
        sandbox: where the test fits run (default: a new ``Sandbox()``); it
            is only used when something is not in the cache.
        cache: read and write ``<run_dir>/rank_check.json``.
        workers: test fits in flight at once (threads; the sandbox is thread-safe).
        data_dir: where to load a built-in task given by name (default ``$EVOSLD_DATA``).
    Raises:
        ConfigError: ``top`` or ``workers`` is below 1, or there is no run store in ``run_dir``.
        DataError: the task does not match the run's, or its data cannot be loaded.
    """
    if top < 1:
        raise ConfigError("top must be at least 1")
    if workers < 1:
        raise ConfigError("workers must be at least 1")
    run_dir = Path(run_dir)
    with RunStore.open(existing_store(run_dir)) as store:
        info = store.run()
        programs = store.programs()
        final = store.get_state("final_program_id")
    task = stored_task(info, run_dir, task, data_dir)

    chosen, n_distinct = select_candidates(programs, top)
    data_key = data_digest(task, salt=task.name)
    cache_path = run_dir / CACHE_FILE
    cached = _read_cache(cache_path, data_key) if cache else {}
    results: dict[int, dict[str, Any]] = {}
    todo: list[StoredProgram] = []
    for p in chosen:
        hit = cached.get(str(p.id))
        if isinstance(hit, dict) and hit.get("digest") == p.digest and "test_r2" in hit:
            results[p.id] = hit
        else:
            todo.append(p)

    if todo:
        evaluator = Evaluator(task, sandbox or Sandbox(), stored_limits(info.config))

        def fit(p: StoredProgram) -> dict[str, Any]:
            ev = evaluator.evaluate(p.source, "test")
            raw = ev.scores.r2
            return {"digest": p.digest,
                    "test_r2": finite(raw),
                    "n_params": count_params(ev.params),
                    "error": (ev.message or ev.error_kind) if not ev.ok else None}

        with concurrent.futures.ThreadPoolExecutor(min(workers, len(todo))) as pool:
            for p, entry in zip(todo, pool.map(fit, todo)):
                results[p.id] = entry
        if cache:
            cached.update({str(pid): entry for pid, entry in results.items()})
            write_atomic(cache_path, json.dumps(
                {"version": CACHE_VERSION, "task": task.name, "data": data_key, "programs": cached}, indent=1) + "\n")

    rows: list[RankRow] = []
    errors: dict[int, str] = {}
    for p in chosen:
        entry = results[p.id]
        meta = p.meta or {}
        n = n_params_of(meta)
        if n is None and isinstance(entry.get("n_params"), int):
            n = entry["n_params"]
        formula = meta.get("formula")
        rows.append(RankRow(p.id, _clip(p.evaluation.r2 if p.evaluation else None), _clip(entry.get("test_r2")),
                            n, formula if isinstance(formula, str) else None))
        if entry.get("error"):
            errors[p.id] = str(entry["error"])
    rho, tau = correlations([r.val_r2 for r in rows], [r.test_r2 for r in rows])
    return RankCheck(run_dir=run_dir, task=task.name, top=top, candidates=n_distinct, rows=rows,
                     spearman=rho, kendall=tau, final_program_id=int(final) if final is not None else None,
                     evaluated=len(todo), errors=errors)


__all__ = ["CACHE_FILE", "RankCheck", "RankRow", "correlations", "rank_check", "select_candidates"]

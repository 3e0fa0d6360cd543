"""Time to quality: when did a finished run's pick first reach a given test level?

For one finished run directory, :func:`time_to_quality` replays the run's
final pick (``search.selection.choose`` with the run's own selection settings)
over the run's history: after each validation evaluation, in the order they
were stored, it asks which law the run would have returned had it stopped
there. Every law the replay returns is then fit on all of train and scored on
test, once, and for each level (for instance the human law's test R² and the
SLDAgent+GPT-5 mean) the answer is the run time at which the pick's test R²
(clipped at -1) first reached it::

    ttq = time_to_quality("bench/moe_scaling_law/seed0", "moe_scaling_law",
                          levels={"human": 0.70, "sldagent": 0.773})
    ttq.reached          # {"human": 41.2, "sldagent": None}  (seconds; None: never)
    ttq.picks[0]         # Pick(elapsed_s=3.1, program_id=2, val_r2=0.81, score=0.77, test_r2=0.64)

The pick is chosen by the selection score only (validation R² and the inner
extrapolation folds), never by test: test scores are computed after the
run, for analysis, and never reach a search. They are not written into the run
store; the inner-fold refits and the test scores are cached in
``<run_dir>/time_to_quality.json`` (keyed by program id and checked against the
program's digest and the task's data), so a second call evaluates nothing. The
fold scores the run stored itself for its final pick (state ``run.runner.FOLD_STATE``, trimmed R²) are
reused when they were made on the task's folds as this version builds them (``FOLD_ROWS_STATE``).

Time is measured from the creation of the run store to the moment an
evaluation was stored (``StoredEvaluation.created``): it includes the seeding
and, for a resumed run, the time it was down.
"""

from __future__ import annotations

import concurrent.futures
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from evosld.errors import ConfigError, DataError
from evosld.evaluation.evaluator import Evaluator
from evosld.evaluation.foldscores import AT_PROBE, fold_names, folds_digest, score_folds
from evosld.evaluation.sandbox import Limits, Sandbox
from evosld.run.keptlimit import LIMIT_STATE
from evosld.run.outputs import existing_store, write_atomic
from evosld.run.runner import FOLD_ROWS_STATE, FOLD_STATE
from evosld.run.store import FINISH_PROPOSERS, RunStore, StoredProgram
from evosld.run.summary import stored_task
from evosld.search.plausibility import drift
from evosld.search.selection import Candidate, choose, pinned_first, simpler, tied, within_limit
from evosld.tasks.task import Task

#: The cache file written into the run directory.
CACHE_FILE = "time_to_quality.json"
#: Bumped when the cached entries change meaning.
CACHE_VERSION = 4  # 2: fold scores are trimmed R²; 3: directed folds add their horizon (inner1->val);
# 4: fold fits and probes keep their predictions at the probe (the pick's drift)
#: R² floor (SLDBench clips at -1; a failed fit counts -1).
FLOOR = -1.0

FoldR2 = dict[str, float | None]


@dataclass(frozen=True)
class Pick:
    """The law a run would have returned at ``elapsed_s`` seconds (until the next pick).

    ``score`` is the selection score (None when the pick needed no refits);
    ``test_r2`` is its test R² clipped at -1 (None until scored).
    """

    elapsed_s: float
    program_id: int
    val_r2: float
    score: float | None = None
    test_r2: float | None = None


@dataclass
class TimeToQuality:
    """When a run's pick first reached each level (seconds since the run started; None: never)."""

    run_dir: Path
    task: str
    picks: list[Pick]
    levels: dict[str, float | None]
    reached: dict[str, float | None]
    final_program_id: int | None = None
    evaluated: int = 0
    errors: dict[int, str] = field(default_factory=dict)

    @property
    def replay_matches_run(self) -> bool | None:
        """Does the replay's last pick equal the run's own final law (None when the run recorded none)?"""
        if self.final_program_id is None or not self.picks:
            return None
        return self.picks[-1].program_id == self.final_program_id

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {"run_dir": str(self.run_dir), "task": self.task, "levels": self.levels, "reached": self.reached,
                "final_program_id": self.final_program_id, "replay_matches_run": self.replay_matches_run,
                "evaluated": self.evaluated, "errors": {str(k): v for k, v in self.errors.items()},
                "picks": [asdict(p) for p in self.picks]}


# --------------------------------------------------------------------------- the pure parts


@dataclass(frozen=True)
class SelectionSettings:
    """The final-pick settings of a run (``RunConfig`` fields of the same names)."""

    band: float
    tolerance: float
    pool: int
    val_weight: float
    folds: tuple[str, ...]  # every score name (``evaluation.foldscores.fold_names``)
    probe: float | None = None  # RunConfig.selection_probe: the runaway limit, None without the check
    n_folds: int = 2  # RunConfig.selection_folds: inner folds refitted
    max_params: int | None = None  # the run's parameter limit (``selection.within_limit``)
    unpinned: frozenset[int] = frozenset()  # programs whose meta says the fit rows do not pin them (``pinned_first``)
    steady: float = 0.0  # RunConfig.selection_steady: close scores the steadiest law wins (``selection.steadiest``)


def _candidates(programs: Sequence[StoredProgram], start: float) -> list[tuple[float, Candidate]]:
    """(elapsed seconds, candidate) per distinct evaluated law, in evaluation order (as ``runner.select_final``).

    The comparison law a finished run kept over its pick (proposer ``reference``) and the fit-scale twins of
    its running (``run.twins``) are stored after the search by its final pick; they are not the search's laws
    and are left out.
    """
    out: list[tuple[float, Candidate]] = []
    seen: set[str] = set()
    for p in programs:
        ev = p.evaluation
        if ev is None or not ev.ok or ev.r2 is None or not math.isfinite(ev.r2) or p.digest in seen \
                or p.proposer in FINISH_PROPOSERS:
            continue
        seen.add(p.digest)
        n = (p.meta or {}).get("n_params")
        out.append((ev.created - start, Candidate(p.id, float(ev.r2), n if isinstance(n, int) else None)))
    return out


def _allowed(cands: Sequence[Candidate], s: SelectionSettings) -> list[Candidate]:
    """The laws the pick may return, as ``runner.final_candidates`` keeps them."""
    return within_limit(pinned_first(cands, s.unpinned), s.max_params)


def _running(cands: Sequence[Candidate], s: SelectionSettings) -> list[Candidate]:
    """The laws ``choose`` would consider (it only refits them when there are several and folds)."""
    if s.band <= 0:
        return tied(cands, 0.0, s.tolerance, pool=len(cands))
    return tied(cands, s.band, s.tolerance, s.pool)


def _replay_key(cands: Sequence[Candidate], s: SelectionSettings) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """What the pick depends on: the laws in the running and the simpler laws that may join them (``choose``);
    ``cands`` already within the parameter limit (``within_limit``)."""
    running = _running(cands, s)
    joining = simpler(cands, running, s.pool) if s.band > 0 and s.folds else []
    return tuple(r.program_id for r in running), tuple(c.program_id for c in joining)


def needs_folds(history: Sequence[tuple[float, Candidate]], s: SelectionSettings) -> list[int]:
    """Program ids the replay will refit on the inner folds (first appearance order)."""
    if s.band <= 0 or not s.folds:
        return []
    out: dict[int, None] = {}
    cands: list[Candidate] = []
    for _, c in history:
        cands.append(c)
        running = _running(_allowed(cands, s), s)
        if len(running) > 1:
            out.update((r.program_id, None) for r in running)
    return list(out)


def replay(history: Sequence[tuple[float, Candidate]], s: SelectionSettings,
           fold_r2: Callable[[int], FoldR2], probe: Callable[[int], float | None] | None = None,
           drift: Callable[[int], float | None] | None = None) -> list[Pick]:
    """The run's pick after each evaluation, kept when it changes.

    Args:
        history: (elapsed seconds, candidate) in evaluation order, one per distinct law.
        s: the run's selection settings.
        fold_r2: program id -> {inner fold: R² or None} (called for laws in a running set of several).
        probe: program id -> probe excess (``runner.probe_law``), when the run checked it.
        drift: program id -> its drift (``search.plausibility.drift``), read after its probe and folds.
    Returns:
        One ``Pick`` per change of the chosen law, in time order (test_r2 still None).
    """
    picks: list[Pick] = []
    cands: list[Candidate] = []
    last: tuple | None = None
    for elapsed, c in history:
        cands.append(c)
        allowed = _allowed(cands, s)
        key = _replay_key(allowed, s)
        if key == last:
            continue  # the laws the pick weighs did not change: neither does the pick
        last = key
        sel = choose(allowed, s.band, s.tolerance, fold_r2, pool=s.pool, val_weight=s.val_weight, folds=s.folds,
                     probe=probe if s.probe is not None else None, limit=s.probe if s.probe is not None else 1.0,
                     check_alone=False,  # a lone law is the pick whatever its folds say: skip its refits
                     drift=drift if probe is not None else None, steady=s.steady)
        if sel is None or (picks and picks[-1].program_id == sel.program_id):
            continue
        chosen = next(x for x in sel.candidates if x.program_id == sel.program_id)
        picks.append(Pick(elapsed, sel.program_id, chosen.val_r2, chosen.score))
    return picks


def first_reached(picks: Sequence[Pick], level: float | None) -> float | None:
    """Seconds at which a pick's test R² first reached ``level`` (None: never, or no level)."""
    if level is None:
        return None
    for p in picks:
        if p.test_r2 is not None and p.test_r2 >= level:
            return p.elapsed_s
    return None


# --------------------------------------------------------------------------- the run


def _clip(value: Any) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return FLOOR
    return v if math.isfinite(v) and v > FLOOR else FLOOR


def _settings(stored: Mapping[str, Any] | None, task: Task) -> tuple[SelectionSettings, Limits]:
    """The run's selection settings and per-candidate limits, from its stored config."""
    from evosld.config import RunConfig
    from evosld.run.runner import limits_from

    try:
        config = RunConfig.model_validate((stored or {}).get("config") or {})
    except ValueError as exc:
        raise DataError(f"the run's stored configuration is not readable here: {exc}") from None
    folds = fold_names(task, config.selection_folds) if config.selection_folds else ()
    return (SelectionSettings(config.selection_band, config.parsimony_tolerance, config.selection_pool,
                              config.selection_val_weight, folds, config.selection_probe, config.selection_folds,
                              config.max_params or task.max_params, steady=config.selection_steady),
            limits_from(config))


def _read_cache(path: Path, data_key: str) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("version") != CACHE_VERSION or data.get("data") != data_key:
        return {}
    return data


def time_to_quality(
    run_dir: str | Path,
    task: Task | str | None = None,
    levels: Mapping[str, float | None] | None = None,
    sandbox: Sandbox | None = None,
    cache: bool = True,
    *,
    workers: int = 2,
    data_dir: str | Path | None = None,
) -> TimeToQuality:
    """Replay a finished run's final pick over time and score each pick on test (see the module docstring).

    Args:
        run_dir: a directory written by ``evosld discover``.
        task: the run's task, or a built-in task name; default: the name stored in the run.
        levels: name -> test R² level to reach (None: not known, never reached).
        sandbox: where the refits run (default: a new ``Sandbox()``; unused when all is cached).
        cache: read and write ``<run_dir>/time_to_quality.json``.
        workers: refits in flight at once (threads; the sandbox is thread-safe).
        data_dir: where to load a built-in task given by name (default ``$EVOSLD_DATA``).
    Raises:
        ConfigError: ``workers`` is below 1, or there is no run store in ``run_dir``.
        DataError: the task does not match the run's, or its data cannot be loaded.
    """
    from evosld.run.runner import FOLD_PROBE_STATE, PROBE_POINTS_STATE, probe_fit
    from evosld.tasks.task import data_digest

    if workers < 1:
        raise ConfigError("workers must be at least 1")
    run_dir = Path(run_dir)
    with RunStore.open(existing_store(run_dir)) as store:
        info = store.run()
        programs = store.programs(order="evaluated")
        final = store.get_state("final_program_id")
        stored_folds = dict(store.get_state(FOLD_STATE, {}) or {})
        stored_rows = store.get_state(FOLD_ROWS_STATE)
        stored_probe = dict(store.get_state("probe_excess", {}) or {})
        stored_points = dict(store.get_state(PROBE_POINTS_STATE, {}) or {})
        stored_at = dict(store.get_state(FOLD_PROBE_STATE, {}) or {})
        stored_tests = {t.program_id: t.r2 for t in store.test_evaluations()
                        if not (t.metrics or {}).get("error_kind")}
        limit = store.get_state(LIMIT_STATE)
    task = stored_task(info, run_dir, task, data_dir, limit)

    settings, limits = _settings(info.config, task)
    settings = replace(settings, unpinned=frozenset(p.id for p in programs if (p.meta or {}).get("pinned") is False))
    by_id = {p.id: p for p in programs}
    history = _candidates(programs, info.created)
    rows = folds_digest(task, settings.n_folds)
    if stored_rows != rows:  # the run's fold scores were made on other folds' rows
        stored_folds, stored_at = {}, {}
    data_key = f"{data_digest(task, salt=task.name)}:{rows}"  # the cache's fold scores are of these folds' rows
    cache_path = run_dir / CACHE_FILE
    cached = _read_cache(cache_path, data_key) if cache else {}
    fold_cache: dict[str, dict[str, Any]] = dict(cached.get("folds") or {})
    test_cache: dict[str, dict[str, Any]] = dict(cached.get("test") or {})
    evaluator = Evaluator(task, sandbox or Sandbox(), limits)
    evaluated = 0
    errors: dict[int, str] = {}
    at_probe: dict[int, dict[str, Any]] = {}  # program id -> fold -> its fold fit's probe predictions

    def known_folds(pid: int) -> FoldR2 | None:
        mine, theirs = fold_cache.get(str(pid)), stored_folds.get(str(pid))
        if isinstance(mine, dict) and mine.get("digest") == by_id[pid].digest and all(f in mine for f in settings.folds):
            at_probe[pid] = dict(mine.get("points") or {})
            return {f: mine[f] for f in settings.folds}
        if isinstance(theirs, dict) and all(f in theirs for f in settings.folds):
            at_probe[pid] = dict(stored_at.get(str(pid)) or {})
            return {f: theirs[f] for f in settings.folds}
        return None

    def refit_folds(pid: int) -> tuple[FoldR2, dict[str, Any]]:
        source = by_id[pid].source
        seen: dict[str, Any] = {}
        r2s = score_folds(lambda split, extra: evaluator.evaluate(source, split, extra), task, settings.n_folds,
                          on_fold=seen.update)
        return r2s, {k[: -len(AT_PROBE)]: v for k, v in seen.items() if k.endswith(AT_PROBE)}

    def test_score(pid: int) -> dict[str, Any]:
        ev = evaluator.evaluate(by_id[pid].source, "test")
        raw = ev.scores.r2
        return {"digest": by_id[pid].digest, "test_r2": float(raw) if math.isfinite(raw) else None,
                "error": (ev.message or ev.error_kind) if not ev.ok else None}

    folds: dict[int, FoldR2] = {}
    todo = []
    for pid in needs_folds(history, settings):
        hit = known_folds(pid)
        if hit is None:
            todo.append(pid)
        else:
            folds[pid] = hit
    if todo:
        with concurrent.futures.ThreadPoolExecutor(min(workers, len(todo))) as pool:
            for pid, (r2s, points) in zip(todo, pool.map(refit_folds, todo)):
                folds[pid], at_probe[pid] = r2s, points
                fold_cache[str(pid)] = {"digest": by_id[pid].digest, **r2s, "points": points}
        evaluated += len(todo) * settings.n_folds

    probe_cache: dict[str, Any] = dict(cached.get("probe") or {})

    def probe(pid: int) -> float | None:
        nonlocal evaluated
        key = str(pid)
        if key in stored_probe and key in stored_points:
            value = stored_probe[key]
        else:
            if key not in probe_cache or probe_cache[key].get("digest") != by_id[pid].digest:
                found, points = probe_fit(evaluator, by_id[pid].source)
                evaluated += 1
                probe_cache[key] = {"digest": by_id[pid].digest, "points": points,
                                    "beyond": found if found is None or math.isfinite(found) else "inf"}
            value = probe_cache[key]["beyond"]
        return math.inf if value == "inf" else value

    targets = {g: d.y for g, d in task.arrays(task.train).items()}

    def moved(pid: int) -> float | None:
        """The law's drift, from its probe and fold fits (both read before it is asked)."""
        key = str(pid)
        full = stored_points.get(key) if key in stored_points else (probe_cache.get(key) or {}).get("points")
        refits = at_probe.get(pid)
        return drift(full, list(refits.values()), targets) if full is not None and refits else None

    def fold_r2(pid: int) -> FoldR2:
        """Folds of a law: precomputed for the running, refit here for the laws ``choose`` adds to it."""
        nonlocal evaluated
        if pid not in folds:
            hit = known_folds(pid)
            if hit is None:
                hit, points = refit_folds(pid)
                at_probe[pid] = points
                fold_cache[str(pid)] = {"digest": by_id[pid].digest, **hit, "points": points}
                evaluated += settings.n_folds
            folds[pid] = hit
        return folds[pid]

    picks = replay(history, settings, fold_r2, probe if task.probe() else None, moved)

    tests: dict[int, float | None] = {}
    todo = []
    for pid in dict.fromkeys(p.program_id for p in picks):
        hit = test_cache.get(str(pid))
        if pid in stored_tests:
            tests[pid] = stored_tests[pid]
        elif isinstance(hit, dict) and hit.get("digest") == by_id[pid].digest and "test_r2" in hit:
            tests[pid] = hit["test_r2"]
            if hit.get("error"):
                errors[pid] = str(hit["error"])
        else:
            todo.append(pid)
    if todo:
        with concurrent.futures.ThreadPoolExecutor(min(workers, len(todo))) as pool:
            for pid, entry in zip(todo, pool.map(test_score, todo)):
                tests[pid] = entry["test_r2"]
                test_cache[str(pid)] = entry
                if entry["error"]:
                    errors[pid] = str(entry["error"])
        evaluated += len(todo)
    if cache and evaluated:
        write_atomic(cache_path, json.dumps({"version": CACHE_VERSION, "task": task.name, "data": data_key,
                                             "folds": fold_cache, "test": test_cache,
                                             "probe": probe_cache}, indent=1) + "\n")

    picks = [Pick(p.elapsed_s, p.program_id, p.val_r2, p.score, _clip(tests.get(p.program_id))) for p in picks]
    wanted = dict(levels or {})
    return TimeToQuality(run_dir=run_dir, task=task.name, picks=picks, levels=wanted,
                         reached={name: first_reached(picks, level) for name, level in wanted.items()},
                         final_program_id=int(final) if final is not None else None,
                         evaluated=evaluated, errors=errors)


__all__ = ["CACHE_FILE", "Pick", "SelectionSettings", "TimeToQuality", "first_reached", "needs_folds", "replay",
           "time_to_quality"]

"""A generic symbolic regressor as a peer in the discovery benchmark: Operon (PyPI ``pyoperon``).

Optional: ``pip install -e '.[peers]'``. Without it, :func:`operon_version`
returns None and the benchmark prints a one-line note instead of the peer's
columns. Run on its own (one task, one seed) it prints its result as JSON::

    EVOSLD_DATA=../shared/sldbench python benchmarks/peers.py moe_scaling_law --seed 0 --budget-seconds 300

The task may also be a task file (``.yaml``) or an evosld run directory: Operon
then runs on that run's own table and split (as ``evosld eval RUN`` rebuilds
them), and the result holds the run's chosen law beside it (``evosld``: its
validation and test R² and parameters, from ``best.json``), so a user compares
the peer with evosld on their own table in one command::

    python benchmarks/peers.py my_run/ --budget-seconds 90

The protocol, the same for every task, mirrors an evosld run:

- **Split**: the task's own. Operon's genetic programming (``SymbolicRegressor``,
  NSGA-II on R² and tree length, Levenberg-Marquardt on the constants, one
  thread) sees only the fit rows (train minus validation, ``Task.fit_df``).
- **Selection**: among the models of Operon's final Pareto front, the one
  with the lowest mean squared error on the validation rows (the same order as
  validation R²; MSE because a group may have a single validation row), ties
  to fewer constants. *Within the limit*: the same, among the front's models
  with at most the task's parameter limit of constants (divided by the number
  of targets when there are several, as the symbolic proposer does); when
  none is that small, the mean of the rows (one constant) stands in and is
  counted in ``fallbacks``.
- **Test**: the chosen model's constants are refitted on all of train (fit +
  validation rows; least squares from Operon's values, kept only when the
  train error drops), as evosld refits its law before test, then scored on
  test with evosld's metrics (R² per output averaged, pooled over groups,
  clipped at -1 for the mean).
- **Groups and targets**: one Operon model per group and per target. evosld's
  laws fit their parameters per group; a per-group model is the nearest a
  generic regressor gets, and with one-hot group columns it could not give
  each of 42 groups its own constants. The budget is split evenly across the
  models (at least 1 s each: Operon counts whole seconds), so a task gets the
  same time in all as one evosld run. Constants are counted per group (summed
  over its targets) and the largest group is reported, as the limit is per group.
- **Inputs**: features the task declares as scales (``Task.log_features``) are
  given as their natural logarithm when positive, as evosld's search also
  knows them; the operators are + - * / exp log pow.
- **Size**: ``Tree.CoefficientsCount``: every constant and every variable
  weight of the tree, the linear-scaling slope and intercept included.

Operon computes in 32-bit floats; the refit and the scores are computed from
its predictions in 64-bit.
"""

from __future__ import annotations

import concurrent.futures
import json
import math
import os
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from evosld.bench.cli import ScriptParser

#: Operators Operon may use.
SYMBOLS = "add,sub,mul,div,exp,log,pow,constant,variable"
#: Local-search (Levenberg-Marquardt) iterations per offspring.
OPTIMIZER_ITERATIONS = 10
#: Objectives of the multi-objective search: its Pareto front is what selection chooses from.
OBJECTIVES = ("r2", "length")
#: Least seconds per model (Operon's time limit is a whole number of seconds).
MIN_SECONDS = 1


def operon_version() -> str | None:
    """pyoperon's version, or None when it is not installed (or does not import)."""
    try:
        import pyoperon.sklearn  # noqa: F401
    except Exception:  # noqa: BLE001 - a broken install counts as absent
        return None
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("pyoperon")
    except PackageNotFoundError:
        return "unknown"


@dataclass(frozen=True)
class Choice:
    """One (group, target) model after selection, for one variant (best, or within the limit).

    ``test`` is the (M,) prediction for the group's test rows after the refit on train;
    ``val`` the (V,) prediction for its validation rows (fit on the fit rows only).
    """

    n_params: int
    val_mse: float
    val: np.ndarray
    test: np.ndarray
    formula: str
    refit: bool
    fallback: bool = False


def _log_columns(task: Any) -> list[int]:
    """Indices of the scale features given as logarithms: declared as such and positive everywhere."""
    out = []
    for i, f in enumerate(task.features):
        if f in task.log_features:
            values = np.concatenate([task.train[f].to_numpy(float), task.test[f].to_numpy(float)])
            if np.all(np.isfinite(values)) and np.all(values > 0):
                out.append(i)
    return out


def _inputs(X: np.ndarray, logs: Sequence[int]) -> np.ndarray:
    """(N, F) features as Operon sees them: logs where chosen, float32."""
    Z = np.array(X, dtype=float, copy=True)
    for i in logs:
        Z[:, i] = np.log(Z[:, i])
    return Z.astype(np.float32)


def _mse(pred: np.ndarray, y: np.ndarray) -> float:
    """Mean squared error of (N,) predictions; inf when they are not finite, 0 for no rows."""
    pred = np.asarray(pred, dtype=float)
    if len(y) == 0:
        return 0.0
    if pred.shape != y.shape or not np.all(np.isfinite(pred)):
        return math.inf
    return float(np.mean((pred - y) ** 2))


def _predict(reg: Any, tree: Any, X: np.ndarray) -> np.ndarray:
    """(N,) float64 predictions of an Operon tree on (N, F) inputs (empty for no rows)."""
    if len(X) == 0:
        return np.zeros(0)
    return np.asarray(reg.evaluate_model(tree, X), dtype=float).reshape(-1)


def _refit(reg: Any, tree: Any, X: np.ndarray, y: np.ndarray) -> bool:
    """Refit ``tree``'s constants on (X, y) by least squares; keep them only if the error drops. True if kept."""
    from scipy.optimize import least_squares

    c0 = np.asarray(tree.GetCoefficients(), dtype=float)
    if c0.size == 0:
        return False

    def predict(c: np.ndarray) -> np.ndarray:
        tree.SetCoefficients(np.asarray(c, dtype=np.float32))
        return _predict(reg, tree, X)

    before = _mse(predict(c0), y)

    def residuals(c: np.ndarray) -> np.ndarray:
        r = predict(c) - y
        return np.where(np.isfinite(r), r, 1e6)

    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            # float32 arithmetic: finite differences need a step far above its resolution
            sol = least_squares(residuals, c0, method="trf", diff_step=1e-3, max_nfev=100 * (c0.size + 1))
        if np.all(np.isfinite(sol.x)) and _mse(predict(sol.x), y) < before:
            tree.SetCoefficients(np.asarray(sol.x, dtype=np.float32))
            return True
    except (ValueError, np.linalg.LinAlgError, FloatingPointError):
        pass
    tree.SetCoefficients(np.asarray(c0, dtype=np.float32))
    return False


def _fit_one(X_fit: np.ndarray, y_fit: np.ndarray, X_val: np.ndarray, y_val: np.ndarray,
             X_train: np.ndarray, y_train: np.ndarray, X_test: np.ndarray, *, seconds: int, seed: int,
             limit: int | None, names: Sequence[str]) -> tuple[Choice, Choice | None, dict[str, Any]]:
    """Run Operon on one (group, target) and select its best model, and its best within ``limit`` constants.

    Arrays: X_* (N, F) float32 as Operon sees them, y_* (N,) float.
    """
    from pyoperon.sklearn import SymbolicRegressor

    reg = SymbolicRegressor(
        allowed_symbols=SYMBOLS, objectives=list(OBJECTIVES), optimizer_iterations=OPTIMIZER_ITERATIONS,
        max_time=seconds, generations=10**9, max_evaluations=10**15, n_threads=1, random_state=seed,
        uncertainty=[float(np.std(y_fit)) or 1.0],
    )
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        reg.fit(X_fit, y_fit.astype(np.float32))
    front = []
    for m in reg.pareto_front_:
        tree = m["tree"]
        val = _predict(reg, tree, X_val)
        front.append((_mse(val, y_val), int(tree.CoefficientsCount), int(m["length"]), tree, val))
    front.sort(key=lambda f: (f[0], f[1], f[2]))
    names_map = list(names)

    def finish(entry: tuple[float, int, int, Any, np.ndarray] | None) -> Choice:
        if entry is None:  # nothing on the front is small enough: the mean of the rows
            mean = float(np.mean(y_train))
            return Choice(1, _mse(np.full(len(y_val), float(np.mean(y_fit))), y_val),
                          np.full(len(y_val), float(np.mean(y_fit))), np.full(len(X_test), mean),
                          f"{mean:.6g}", refit=True, fallback=True)
        mse, n, _, tree, val = entry
        kept = _refit(reg, tree, X_train, y_train)
        test = _predict(reg, tree, X_test)
        return Choice(n, mse, val, test, reg.get_model_string(tree, 4, names_map), refit=kept)

    best = finish(front[0] if front else None)
    within = None
    if limit is not None:
        within = finish(next((f for f in front if f[1] <= limit), None))
    info = {"front": len(front), "generations": int(reg.stats_.get("generations", 0))}
    return best, within, info


@dataclass
class Variant:
    """Pooled scores of one variant over all groups and targets."""

    val_r2: float | None
    test_r2: float | None
    test_r2_clipped: float | None
    n_params: int | None
    fallbacks: int
    refits: int
    formula: str | None
    #: group -> the chosen model of each target (Operon's own spelling, after the refit), so every model is inspectable
    formulas: dict[str, list[str]] = field(default_factory=dict)


def _pool(task: Any, choices: dict[str, list[Choice]]) -> Variant:
    """Stack per-group predictions ((M,) or (M, T)) and score them as evosld scores a law."""
    from evosld.evaluation.metrics import score

    val_truth, test_truth = task.arrays(task.val_df), task.arrays(task.test)
    def stack(arrs: list[np.ndarray]) -> np.ndarray:
        return arrs[0] if len(arrs) == 1 else np.column_stack(arrs)

    vp, vt, tp, tt = [], [], [], []
    for g, cs in choices.items():
        if g in val_truth:
            vp.append(stack([c.val for c in cs]))
            vt.append(val_truth[g].y)
        if g in test_truth:
            tp.append(stack([c.test for c in cs]))
            tt.append(test_truth[g].y)
    val = score(np.concatenate(vp), np.concatenate(vt)) if vp else None
    test = score(np.concatenate(tp), np.concatenate(tt)) if tp else None

    def finite(x: float | None) -> float | None:
        return float(x) if x is not None and math.isfinite(x) else None

    per_group = [sum(c.n_params for c in cs) for cs in choices.values()]
    only = [c for cs in choices.values() for c in cs]
    test_r2 = finite(test.r2) if test else None
    return Variant(
        val_r2=finite(val.r2) if val else None,
        test_r2=test_r2,
        test_r2_clipped=None if test is None else max(-1.0, test_r2 if test_r2 is not None else -1.0),
        n_params=max(per_group) if per_group else None,
        fallbacks=sum(c.fallback for c in only),
        refits=sum(c.refit and not c.fallback for c in only),
        formula=only[0].formula if len(only) == 1 else None,
        formulas={str(g): [c.formula for c in cs] for g, cs in choices.items()},
    )


def _target(d: Any, t: int) -> np.ndarray:
    """(N,) float values of target ``t`` of a group's ``GroupData``."""
    return (d.y if d.y.ndim == 1 else d.y[:, t]).astype(float)


def run_operon(task: Any, seed: int, budget_seconds: float) -> dict[str, Any]:
    """Operon on ``task`` (see the module docstring); a JSON-ready result.

    Raises:
        ImportError: pyoperon is not installed.
    """
    version = operon_version()
    if version is None:
        raise ImportError("pyoperon is not installed: pip install -e '.[peers]'")
    t0 = time.monotonic()
    logs = _log_columns(task)
    fit, val, train, test = (task.arrays(df) for df in (task.fit_df, task.val_df, task.train, task.test))
    n_targets = len(task.targets)
    groups = [g for g in task.groups if g in fit and g in train]
    n_models = len(groups) * n_targets
    seconds = max(MIN_SECONDS, int(budget_seconds // max(1, n_models)))
    limit = None if task.max_params is None else max(1, task.max_params // n_targets)
    names = [f"log({f})" if i in logs else f for i, f in enumerate(task.features)]
    best: dict[str, list[Choice]] = {}
    within: dict[str, list[Choice]] = {}
    fronts = []
    for gi, g in enumerate(groups):
        empty = np.zeros((0, len(task.features)))
        X_val = val[g].X if g in val else empty
        X_test = test[g].X if g in test else empty
        best[g], within[g] = [], []
        for t in range(n_targets):
            y_val = _target(val[g], t) if g in val else np.zeros(0)
            model_seed = int(np.random.SeedSequence([seed, gi, t]).generate_state(1)[0])
            b, w, info = _fit_one(_inputs(fit[g].X, logs), _target(fit[g], t), _inputs(X_val, logs), y_val,
                                  _inputs(train[g].X, logs), _target(train[g], t), _inputs(X_test, logs),
                                  seconds=seconds, seed=model_seed, limit=limit, names=names)
            best[g].append(b)
            if w is not None:
                within[g].append(w)
            fronts.append(info)
    from evosld.bench.humanlaws import data_digest

    return {
        "peer": "operon", "version": version, "task": task.name, "seed": seed, "budget_seconds": budget_seconds,
        "data": data_digest(task, salt=task.name),
        "models": n_models, "seconds_per_model": seconds, "log_features": [task.features[i] for i in logs],
        "symbols": SYMBOLS, "limit_per_model": limit, "max_params": task.max_params,
        "front_sizes": [f["front"] for f in fronts], "generations": [f["generations"] for f in fronts],
        "best": asdict(_pool(task, best)),
        "within_limit": asdict(_pool(task, within)) if limit is not None else None,
        "seconds": time.monotonic() - t0,
    }


def load_peer_task(which: str, data_dir: str | None) -> tuple[Any, Path | None]:
    """The task named by ``which`` and the run directory it came from (None for a task name or file).

    ``which``: a built-in task name, a task file (``.yaml``), or an evosld run directory, whose own
    table and split are rebuilt from its store (``evosld.run.rundir.run_law``), as ``evosld eval RUN`` does.
    """
    from evosld.run.plan import task_spec_for
    from evosld.tasks.taskfile import task_from_spec

    if Path(which).is_dir():
        from evosld.run.rundir import run_law

        return task_from_spec(run_law(which).task_spec, data_dir), Path(which)
    if os.sep in which and not Path(which).exists():
        from evosld.errors import DataError

        raise DataError(f"{which} does not exist: give an evosld run directory, a task file (.yaml) or a "
                        "built-in task name")
    return task_from_spec(task_spec_for(which, data_dir), data_dir), None


def run_pick(run_dir: Path) -> dict[str, Any] | None:
    """The law an evosld run chose, as its ``best.json`` records it (None when the run wrote none yet)."""
    try:
        best = json.loads((run_dir / "best.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    score = lambda split: (best.get(split) or {}).get("r2")  # noqa: E731
    return {"program_id": best.get("program_id"), "val_r2": score("val"), "test_r2": score("test"),
            "n_params": best.get("n_params"), "formula": best.get("formula")}


def side_by_side(result: dict[str, Any]) -> str:
    """One line per law for a person: Operon (free, and within the task's parameter limit when it has one) and
    the evosld run's pick, if any."""
    def line(label: str, r: dict[str, Any] | None, size: str) -> str:
        if not r:
            return f"{label}: —"
        fmt = lambda v: "—" if v is None else f"{v:.4f}"  # noqa: E731
        return f"{label}: validation R² {fmt(r.get('val_r2'))}, test R² {fmt(r.get('test_r2'))}, " \
               f"{r.get('n_params')} {size}"

    lines = [line("Operon", result.get("best"), "constants")]
    if result.get("max_params") is not None:  # a task without a parameter limit has no restricted pick
        lines.append(line(f"Operon within the limit ({result['max_params']})", result.get("within_limit"), "constants"))
    if "evosld" in result:
        lines.append(line("evosld (the run's law)", result["evosld"], "parameters"))
    return "\n".join(lines)


# --------------------------------------------------------------------------- in the benchmark


def result_path(output: Path, task: str, seed: int) -> Path:
    """Where the benchmark keeps one Operon run: ``<output>/<task>/operon-seed<k>.json``."""
    return Path(output) / task / f"operon-seed{seed}.json"


def _cached(path: Path, version: str, budget: float, data: str) -> dict[str, Any] | None:
    try:
        hit = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    ok = isinstance(hit, dict) and hit.get("version") == version and hit.get("data") == data \
        and hit.get("budget_seconds") == budget and isinstance(hit.get("best"), dict)
    return hit if ok else None


def run_all(tasks: dict[str, Any], seeds: Sequence[int], budget_seconds: float, output: Path, data_dir: str,
            jobs: int = 2, report: Callable[[str], None] = lambda s: None) -> dict[tuple[str, int], dict[str, Any]]:
    """Operon on every (task, seed), ``jobs`` subprocesses at once; finished ones are read back, not rerun.

    Each run is ``python benchmarks/peers.py TASK --seed K ...`` writing
    ``<output>/<task>/operon-seed<k>.json`` (reused while the pyoperon version,
    the budget and the data are the same). A failed run gives ``{"error": ...}``.

    Args:
        tasks: task name -> loaded Task (for the data digest and the number of models).
    """
    version = operon_version()
    if version is None:
        raise ImportError("pyoperon is not installed: pip install -e '.[peers]'")
    from evosld.bench.humanlaws import data_digest

    out: dict[tuple[str, int], dict[str, Any]] = {}
    todo = []
    for name, task in tasks.items():
        for seed in seeds:
            hit = _cached(result_path(output, name, seed), version, budget_seconds, data_digest(task, salt=name))
            if hit is not None:
                out[(name, seed)] = hit
            else:
                todo.append((name, seed))

    def one(item: tuple[str, int]) -> dict[str, Any]:
        name, seed = item
        path = result_path(output, name, seed)
        path.parent.mkdir(parents=True, exist_ok=True)
        models = len(tasks[name].groups) * len(tasks[name].targets)
        cmd = [sys.executable, str(Path(__file__).resolve()), name, "--seed", str(seed),
               "--budget-seconds", str(budget_seconds), "--data-dir", str(data_dir), "--output", str(path)]
        report(f"{name} seed {seed}: Operon, {budget_seconds:g} s over {models} model(s)")
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                                  timeout=3 * max(budget_seconds, models * MIN_SECONDS) + 300)
        except subprocess.TimeoutExpired:
            return {"error": "timed out"}
        if proc.returncode != 0:
            last = (proc.stderr.strip().splitlines() or [f"exit {proc.returncode}"])[-1]
            return {"error": last[:300]}
        return json.loads(path.read_text(encoding="utf-8"))

    with concurrent.futures.ThreadPoolExecutor(max(1, jobs)) as pool:
        for item, result in zip(todo, pool.map(one, todo)):
            out[item] = result
            if "error" in result:
                report(f"{item[0]} seed {item[1]}: Operon failed ({result['error']})")
    return out


# --------------------------------------------------------------------------- command line


def main(argv: list[str] | None = None) -> int:
    p = ScriptParser(description=__doc__.splitlines()[0])
    p.add_argument("task", help="a built-in task name, a task file (.yaml), or an evosld run directory (its own "
                                "table and split; its chosen law is shown beside Operon's)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--budget-seconds", dest="budget_seconds", type=float, required=True,
                   help="time for the whole task (split across groups and targets)")
    p.add_argument("--data-dir", dest="data_dir", help="SLDBench tables (default $EVOSLD_DATA)")
    p.add_argument("--output", help="write the JSON result here too")
    args = p.parse_args(argv)
    from evosld.errors import EvosldError
    from evosld.run.outputs import write_atomic

    if operon_version() is None:
        print("error: pyoperon is not installed: pip install -e '.[peers]'", file=sys.stderr)
        return 2
    if not args.budget_seconds > 0:
        print("error: --budget-seconds must be positive", file=sys.stderr)
        return 2
    try:
        task, run_dir = load_peer_task(args.task, args.data_dir or os.environ.get("EVOSLD_DATA"))
        result = run_operon(task, args.seed, args.budget_seconds)
        if run_dir is not None:
            result["evosld"] = run_pick(run_dir)
        text = json.dumps(result, indent=1) + "\n"
        if args.output:
            write_atomic(Path(args.output), text)
    except EvosldError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(text, end="")
    print(side_by_side(result), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

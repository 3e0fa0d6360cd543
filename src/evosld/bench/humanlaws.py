"""The human laws' scores of a bench's tasks: refit once per task through the sandbox, cached.

The cache, ``<output>/human_laws.json``, is keyed by the law's source and the
task's data (``tasks.task.data_digest``), so a law or a table that changed is refit.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from evosld.bench.spec import BenchSpec
from evosld.run.outputs import write_atomic
from evosld.run.summary import count_params, finite
from evosld.tasks.task import data_digest

HUMAN_CACHE = "human_laws.json"


def human_scores(spec: BenchSpec, report: Callable[[str], None] = lambda s: None) -> dict[str, dict[str, Any]]:
    """Test (and validation) scores of each task's human law, refit through the sandbox.

    Cached in ``<output>/human_laws.json`` keyed by the law's source and the
    data, so each is computed once per bench directory.
    """
    from evosld.evaluation import Evaluator, Sandbox
    from evosld.evaluation.executors import refit_pool
    from evosld.evaluation.reference import refit_law
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
        fit = refit_law(Evaluator(task, sandbox), name, src)
        scores = {k: v if k == "error" else finite(v) for k, v in fit.scores().items()}
        return {"key": key, **scores, "n_params": count_params(fit.test.params)}

    with refit_pool(sandbox, min(spec.jobs, len(spec.tasks))) as pool:  # a stop ends the refits in flight
        for name, result in zip(spec.tasks, pool.map(one, spec.tasks)):
            out[name] = result
    cache.update(out)
    Path(spec.output).mkdir(parents=True, exist_ok=True)
    write_atomic(cache_path, json.dumps(cache, indent=2) + "\n")
    return out


__all__ = ["HUMAN_CACHE", "data_digest", "human_scores"]

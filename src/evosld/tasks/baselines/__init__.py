"""Reference human scaling laws and starter programs of the built-in tasks.

Each law is an ordinary contract program (one Python file, numpy + scipy only,
``scaling_law_func`` and ``fit_scaling_law`` between the EVOLVE markers) that
also runs unchanged in SLDBench's own evaluator:

    baselines/<stem>.py   the published human law, refit by a multi-start fit
    ../starters/power_sum.py  the plain seed program the search starts from (all tasks)

``<stem>`` is ``BUILTIN[task].baseline`` (e.g. ``sft`` for ``sft_scaling_law``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from evosld.errors import DataError
from evosld.tasks.baselines.mixing import MIXING, MIXING_LABEL, MIXING_STEM
from evosld.tasks.builtin import BUILTIN

_HERE = Path(__file__).resolve().parent
_STARTERS = _HERE.parent / "starters"


def _stem(task_name: str) -> str:
    """The file stem for a built-in task name (or a stem given directly)."""
    spec = BUILTIN.get(task_name)
    if spec is not None:
        return spec.baseline
    stems = {s.baseline for s in BUILTIN.values()}
    if task_name in stems:
        return task_name
    raise DataError(
        f"no reference law for task {task_name!r}; built-in tasks are: {', '.join(BUILTIN)}"
    )


def baseline_path(task_name: str) -> Path:
    """Path of the human-law program file of a built-in task."""
    return _HERE / f"{_stem(task_name)}.py"


def baseline_source(task_name: str) -> str:
    """Source text of the human-law program of a built-in task."""
    return baseline_path(task_name).read_text(encoding="utf-8")


def starter_path(task_name: str) -> Path:
    """Path of the starter (seed) program file of a built-in task (one file serves all)."""
    _stem(task_name)
    return _STARTERS / "power_sum.py"


def starter_source(task_name: str) -> str:
    """Source text of the starter (seed) program of a built-in task."""
    from evosld.tasks.starter import starter_text

    stem = _stem(task_name)
    spec = next(s for s in BUILTIN.values() if s.baseline == stem)
    return starter_text(spec.name, spec.features, spec.targets)


def reference_law(task) -> tuple[str, str] | None:
    """(label, source) of the law a run is compared with, or None.

    A built-in task's published human law; for a user table, the Chinchilla
    form or the data mixing law when the task asks for it (``Task.baseline``,
    ``baselines.chinchilla``, ``baselines.mixing``).
    """
    if task.name in BUILTIN:
        return f"human law ({BUILTIN[task.name].baseline})", baseline_source(task.name)
    if getattr(task, "baseline", "") == MIXING:
        return MIXING_LABEL, baseline_source(MIXING_STEM)
    if getattr(task, "baseline", "").startswith("chinchilla:"):
        from evosld.tasks.baselines.chinchilla import chinchilla_source, size_and_data

        size, data = size_and_data(task.baseline, task.features)
        return (f"Chinchilla form E + A/{size}^a + B/{data}^b (Hoffmann et al. 2022, Huber on log loss)",
                chinchilla_source(task.features, size, data))
    return None


def comparison_law(task) -> tuple[str, str, Literal["human", "starter"]]:
    """(label, source, kind) of the law a run's pick is shown beside: the reference law (``reference_law``,
    kind ``"human"``), else the plain power law the search starts from (kind ``"starter"``), so that a
    user's table without a published form still shows what the search bought over the law one would
    fit by hand."""
    ref = reference_law(task)
    if ref is not None:
        return ref[0], ref[1], "human"
    from evosld.tasks.starter import starter_formula, starter_source

    return (f"the plain power law {starter_formula(task)} (the search's starter; no published law for this table)",
            starter_source(task), "starter")


__all__ = ["baseline_path", "baseline_source", "comparison_law", "reference_law", "starter_path", "starter_source"]

"""The starting program of a task: a plain sum of power laws, fitted from a grid of exponent starts.

One program (``tasks/starters/power_sum.py``) serves every task, built-in or a
user's table: it works for any number of features and targets. Each task gets
it with a docstring naming its own features and targets. A target range with a
top also gets the same program with its floor held at that top
(``anchored_source``), and a logistic curve rising (or falling) from a fitted
level to that top (``logistic_source``, ``starters/logistic.py``).
"""

from __future__ import annotations

from pathlib import Path

from evosld.program import source_text
from evosld.tasks.task import Task

STARTER_FILE = Path(__file__).resolve().parent / "starters" / "power_sum.py"
LOGISTIC_FILE = Path(__file__).resolve().parent / "starters" / "logistic.py"
#: Free parameters the starter's curve has along one feature, the others held: the floor (with every other
#: feature's term), the feature's coefficient and its exponent.
DOF_ALONG_FEATURE = 3


def starter_text(name: str, features: tuple[str, ...] | list[str], targets: tuple[str, ...] | list[str]) -> str:
    """The starter program with a docstring for task ``name``."""
    source = STARTER_FILE.read_text(encoding="utf-8")
    general = source[: source.index('"""', 3) + 3]
    doc = general.replace("for any task.", f"for {source_text(name)}.", 1)
    doc = doc[:-3] + (f"\nFeatures, in order: {', '.join(map(source_text, features))}. "
                      f"Targets: {', '.join(map(source_text, targets))}.\n") + '"""'
    return doc + source[len(general):]


def starter_source(task: Task) -> str:
    """The starter program for ``task`` (the SLDBench-style seed the search improves on)."""
    return starter_text(task.name, task.features, task.targets)


def anchored_top(task: Task) -> float | None:
    """The top of the task's target range (declared, or assumed for a fraction), or None when it has none."""
    return None if task.target_range is None else task.target_range[1]


def anchored_source(task: Task) -> str | None:
    """The starter with its floor fixed at the top of the target range, or None without such a top.

    ``top + sum_i c_i x_i^e_i`` (the c_i negative): the target's distance to the bound it approaches
    falls as a sum of powers, as an error rate 1 - accuracy falls as a power of scale (Hestness et al.
    2017, arXiv:1712.00409). On one feature it has two parameters, so it is pinned where the starter and
    the symbolic laws with a floor are too free: a benchmark score of model families with a few models
    each (the scores of open models of Ruan et al. 2024, arXiv:2405.10938: HellaSwag against size per
    family, test = each family's largest model: this form fitted per family tests R² 0.73, where the
    search's pick was a power law kept below 1, -0.35).
    """
    top = anchored_top(task)
    if top is None:
        return None
    text = starter_text(task.name, task.features, task.targets)
    fixed = text.replace("\nFLOOR = None\n", f"\nFLOOR = {float(top)!r}\n", 1)
    if fixed == text:
        raise RuntimeError(f"{STARTER_FILE} has no 'FLOOR = None' line to fix the floor with")
    return fixed


def starter_pinned(task: Task, dof: int = DOF_ALONG_FEATURE) -> bool:
    """Whether the fit rows pin the starter's curve along every log-scale feature.

    The symbolic search proposes no law with as many free parameters along a
    scale feature as the distinct values it takes in the fit rows
    (``proposers.symbolic.identify``): such a curve passes through any level
    means, and where it goes beyond them is the formula's guess. The starter,
    with ``DOF_ALONG_FEATURE`` along each feature, is held to the same rule:
    more distinct values than that (within the task's scale tolerance) in
    every group where the feature varies. A feature with three model sizes in
    the fit rows leaves its exponent free; the final pick passes over the
    starter then (``run.runner.final_candidates``). ``dof``: the free parameters
    along one feature (the anchored starter's are fewer, ``anchored_meta``).
    """
    from evosld.tasks.scales import fewest_levels

    fit, _ = task.split_arrays("val")
    for j, name in enumerate(task.features):
        if name not in task.log_features:
            continue
        fewest = fewest_levels((d.X[:, j] for d in fit.values()), task.scale_rtol)  # 1: varies in no group
        if 1 < fewest <= dof:
            return False
    return True


def starter_meta(task: Task) -> dict[str, object]:
    """What the run records about the starter: its origin, formula and parameter count.

    The formula is the one in ``starters/power_sum.py`` written with the task's
    own names (one floor and, per feature, a coefficient and an exponent per
    target), so a run whose pick is the starter shows its law like any other;
    ``pinned``: whether the fit rows pin its curve (``starter_pinned``).
    """
    per_output = 2 * len(task.features) + 1
    return {"origin": "starter", "formula": starter_formula(task),
            "n_params": per_output * len(task.targets), "n_params_per_output": per_output,
            "pinned": starter_pinned(task)}


def starter_formula(task: Task) -> str:
    """The starter's law in the task's own names, e.g. ``loss = b + c_1 * N^e_1 + c_2 * D^e_2``."""
    terms = " + ".join(f"c_{i + 1} * {f}^e_{i + 1}" for i, f in enumerate(task.features))
    lhs = task.targets[0] if len(task.targets) == 1 else "each of " + ", ".join(task.targets)
    return f"{lhs} = b + {terms}"



def anchored_meta(task: Task) -> dict[str, object]:
    """What the run records about the anchored starter (``anchored_source``): its formula, parameter count
    (a coefficient and an exponent per feature and target) and whether the fit rows pin it: along one
    feature it has those two, and the other features' terms as a level when there are several."""
    top = anchored_top(task)
    terms = " + ".join(f"c_{i + 1} * {f}^e_{i + 1}" for i, f in enumerate(task.features))
    per_output = 2 * len(task.features)
    lhs = task.targets[0] if len(task.targets) == 1 else "each of " + ", ".join(task.targets)
    return {"origin": "starter", "anchored": top, "formula": f"{lhs} = {top:g} + {terms}",
            "n_params": per_output * len(task.targets), "n_params_per_output": per_output,
            "pinned": starter_pinned(task, 2 if len(task.features) == 1 else DOF_ALONG_FEATURE)}


#: Free parameters the logistic starter's curve has along one feature: its slope, the midpoint and the level.
LOGISTIC_DOF = 3


def logistic_source(task: Task) -> str | None:
    """The logistic starter (``starters/logistic.py``) with the task's range top and log-scale columns, or None
    without a top.

    ``f + (top - f) sigmoid(sum_i a_i ln x_i - m)``: the shape of a score that emerges with scale, from a
    level (chance) towards the best it can reach; a power law, the only rising form within a small table's
    parameter limit, overshoots it (see the program's docstring).
    """
    top = anchored_top(task)
    if top is None:
        return None
    text = LOGISTIC_FILE.read_text(encoding="utf-8")
    logs = tuple(i for i, f in enumerate(task.features) if f in task.log_features)
    head = text[: text.index('"""', 3) + 3]
    doc = head[:-3] + (f"\nFor {source_text(task.name)}: features, in order: "
                       f"{', '.join(map(source_text, task.features))}; "
                       f"targets: {', '.join(map(source_text, task.targets))}.\n") + '"""'
    fixed = doc + text[len(head):]
    fixed = fixed.replace("\nTOP = 1.0\n", f"\nTOP = {float(top)!r}\n", 1).replace(
        "\nLOG_COLS = ()\n", f"\nLOG_COLS = {logs!r}\n", 1)
    if f"TOP = {float(top)!r}" not in fixed or f"LOG_COLS = {logs!r}" not in fixed:
        raise RuntimeError(f"{LOGISTIC_FILE} has no 'TOP = 1.0' / 'LOG_COLS = ()' lines to set")
    return fixed


def logistic_meta(task: Task) -> dict[str, object]:
    """What the run records about the logistic starter: its formula, parameter count (a slope per feature, a
    midpoint and a level, per target) and whether the fit rows pin it (three parameters along one feature)."""
    top = anchored_top(task)
    z = " + ".join(f"a_{i + 1} * {'ln ' if f in task.log_features else ''}{f}" for i, f in enumerate(task.features))
    per_output = len(task.features) + 2
    lhs = task.targets[0] if len(task.targets) == 1 else "each of " + ", ".join(task.targets)
    return {"origin": "starter", "logistic": top,
            "formula": f"{lhs} = f + ({top:g} - f) / (1 + exp(-({z} - m)))",
            "n_params": per_output * len(task.targets), "n_params_per_output": per_output,
            "pinned": starter_pinned(task, LOGISTIC_DOF)}

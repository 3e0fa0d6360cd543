"""Chat messages that ask a model for one new program.

Pure functions: a task (reduced to its search view, so test rows are never
read), a ``ProposalRequest`` and the output format in; a list of
``{"role": ..., "content": ...}`` messages out. The system message states the
program contract and the rules; the user message gives the task, facts computed
from the data the search may see, the parent program with its validation
metrics (or its error), the inspirations and the requested answer format.

Test metrics never reach a prompt: only ``ParentInfo.metrics`` are shown, and
any key that mentions ``test`` is dropped on the way.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from evosld.program import BLOCK_END, BLOCK_START, Program
from evosld.proposers.base import ParentInfo, ProposalRequest
from evosld.tasks.task import GROUP_COLUMN, Task

Message = dict[str, str]

#: Metrics shown first, in this order; any other numeric metric follows, sorted.
METRIC_ORDER = ("r2", "r2_clipped", "nmse", "nmae", "combined_score")
#: Longest error text shown (the tail is kept: it holds the exception).
MAX_ERROR_CHARS = 1500
#: Groups listed by name when there are at most this many.
MAX_GROUP_NAMES = 8

DIFF_FORMAT = f"""\
Answer with one or more SEARCH/REPLACE blocks that edit the current program:

<<<<<<< SEARCH
lines copied exactly from the current program (same indentation)
=======
the lines that replace them
>>>>>>> REPLACE

Each SEARCH section must match the current program character for character and
be long enough to be unique; blocks are applied in order. Keep the
{BLOCK_START} / {BLOCK_END} markers. To replace most of the program, you may
instead give the complete new program in one ```python block."""

FULL_FORMAT = f"""\
Answer with the complete new program in ONE fenced ```python block (you may
explain your idea briefly before it). Keep the {BLOCK_START} and {BLOCK_END}
markers; if the current program has them, you may give only the code between
them and it will be put back in place."""

TEMPLATE = f"""\
{BLOCK_START}
import numpy as np
from scipy.optimize import least_squares


def scaling_law_func(data_points, params):
    X = np.atleast_2d(np.asarray(data_points, dtype=float))  # (N, F)
    p = np.asarray(params, dtype=float)
    ...  # return (N,) predictions, or (N, T) for T targets


def fit_scaling_law(data_points, loss_values):
    X = np.atleast_2d(np.asarray(data_points, dtype=float))  # (N, F)
    y = np.asarray(loss_values, dtype=float)                 # (N,) or (N, T)
    ...  # return the fitted parameters as a numpy array
{BLOCK_END}"""


# ---------------------------------------------------------------------------
# number and metric formatting
# ---------------------------------------------------------------------------
def fmt(x: Any) -> str:
    """Short human form of a number (4 significant digits)."""
    if isinstance(x, (bool, np.bool_)):
        return str(bool(x))
    if isinstance(x, (int, np.integer)):
        return str(int(x))
    try:
        v = float(x)
    except (TypeError, ValueError):
        return str(x)
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return f"{v:.4g}"


def visible_metrics(metrics: Mapping[str, Any]) -> dict[str, float]:
    """The numeric metrics a prompt may show: never anything about the test split."""
    out: dict[str, float] = {}
    for key, value in metrics.items():
        if "test" in key.lower():
            continue
        try:
            out[key] = float(value)
        except (TypeError, ValueError):
            continue
    return out


def format_metrics(metrics: Mapping[str, Any]) -> str:
    """``r2=0.9712, nmse=0.0288, ...`` from validation metrics ('none' if empty)."""
    shown = visible_metrics(metrics)
    keys = [k for k in METRIC_ORDER if k in shown]
    keys += sorted(k for k in shown if k not in METRIC_ORDER)
    if not keys:
        return "none"
    return ", ".join(f"{k}={fmt(shown[k])}" for k in keys)


def _tail(text: str, limit: int = MAX_ERROR_CHARS) -> str:
    text = text.strip()
    return text if len(text) <= limit else "..." + text[-limit:]


# ---------------------------------------------------------------------------
# data facts (search view only)
# ---------------------------------------------------------------------------
def _range(values: pd.Series) -> list[float] | None:
    vals = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    vals = vals[np.isfinite(vals)]
    if not len(vals):
        return None
    return [float(vals.min()), float(vals.max())]


def task_facts(task: Task) -> dict[str, Any]:
    """Facts about the data a proposer may see, as a JSON-friendly dict.

    Computed from ``task.search_view()``: feature ranges on the fit rows and on
    the validation rows (where extrapolation is scored), target ranges on the
    fit rows only, distinct values, rows and groups. Nothing from the test split.
    """
    view = task.search_view()
    fit, val = view.fit_df, view.val_df
    features = {}
    for col in view.features:
        features[col] = {
            "fit_range": _range(fit[col]),
            "val_range": _range(val[col]),
            "distinct": int(view.train[col].nunique()),
            "log_scale": col in view.log_features,
        }
    targets = {col: {"fit_range": _range(fit[col])} for col in view.targets}
    groups = view.groups
    per_group_fit = fit[GROUP_COLUMN].astype(str).value_counts()
    per_group_val = val[GROUP_COLUMN].astype(str).value_counts()
    return {
        "name": view.name,
        "features": features,
        "targets": targets,
        "groups": len(groups),
        "group_names": groups[:MAX_GROUP_NAMES],
        "rows": {"fit": int(len(fit)), "val": int(len(val))},
        "rows_per_group": {
            "fit": [int(per_group_fit.min()), int(per_group_fit.max())] if len(per_group_fit) else [0, 0],
            "val": [int(per_group_val.min()), int(per_group_val.max())] if len(per_group_val) else [0, 0],
        },
        "max_params": view.max_params,
        "val_rule": view.val_rule,
    }


def _count(r: list[int]) -> str:
    return str(r[0]) if r[0] == r[1] else f"{r[0]}-{r[1]}"


def _span(r: list[float] | None) -> str:
    return "n/a" if r is None else f"[{fmt(r[0])}, {fmt(r[1])}]"


def describe_data(task: Task) -> str:
    """The data facts of ``task_facts`` as a few lines of text."""
    facts = task_facts(task)
    lines = [
        f"Rows: {facts['rows']['fit']} to fit on, {facts['rows']['val']} held out for "
        f"validation (rule: {facts['val_rule'] or 'n/a'}).",
    ]
    n_groups = facts["groups"]
    if n_groups > 1:
        names = ", ".join(facts["group_names"])
        more = "" if n_groups <= MAX_GROUP_NAMES else f", ... ({n_groups - MAX_GROUP_NAMES} more)"
        fr, vr = facts["rows_per_group"]["fit"], facts["rows_per_group"]["val"]
        lines.append(
            f"Groups: {n_groups} ({names}{more}); each is fitted separately with the same law; "
            f"{_count(fr)} fit rows and {_count(vr)} validation rows per group."
        )
    else:
        lines.append("Groups: 1 (all rows are fitted together).")
    lines.append("Features (columns of data_points, in this order):")
    for i, (col, f) in enumerate(facts["features"].items()):
        log = ", spans orders of magnitude (log scale advised)" if f["log_scale"] else ""
        lines.append(
            f"  [{i}] {col}: fit range {_span(f['fit_range'])}, validation range "
            f"{_span(f['val_range'])}, {f['distinct']} distinct values{log}"
        )
    lines.append("Targets (loss_values; predictions must match):")
    for j, (col, t) in enumerate(facts["targets"].items()):
        lines.append(f"  [{j}] {col}: fit range {_span(t['fit_range'])}")
    return "\n".join(lines)


# ---------------------------------------------------------------------------
# messages
# ---------------------------------------------------------------------------
def _param_rule(task: Task) -> str:
    if task.max_params is None:
        return "Use as few fitted parameters as the data needs."
    per_target = ""
    if len(task.targets) > 1 and task.max_params % len(task.targets) == 0:
        per_target = f" (for example {task.max_params // len(task.targets)} per target)"
    return (
        f"Parameter limit: at most {task.max_params} fitted parameters per group in total, "
        f"counting every entry of the array fit_scaling_law returns{per_target}. Laws with "
        "more are flagged as over the limit."
    )


def system_message(task: Task, *, diff_mode: bool = False) -> str:
    """The rules: the program contract, fitting advice, forbidden tricks, the parameter limit."""
    n_features = len(task.features)
    n_targets = len(task.targets)
    shape_out = "(N,)" if n_targets == 1 else f"(N, {n_targets})"
    shape_y = "(N,)" if n_targets == 1 else f"(N, {n_targets})"
    if task.val_rule.startswith("random:"):
        held_out = "held-out settings it was not fitted on, so it must generalise"
    else:
        held_out = (
            "held-out rows at LARGER scales than it was fitted on, so what matters\n"
            "is extrapolation, not interpolation"
        )
    fmt_rule = (
        "You edit programs with SEARCH/REPLACE blocks (a full rewrite is also accepted)."
        if diff_mode
        else "You answer with a complete program in one ```python block."
    )
    return f"""\
You are an expert in scaling laws and numerical optimisation. You improve a
Python program that models how a target ({', '.join(task.targets)}) depends on
{', '.join(task.features)}, and that fits the law's parameters from data.

The program contract. Between {BLOCK_START} and {BLOCK_END} the program defines:

    def scaling_law_func(data_points, params):
        # data_points: (N, {n_features}) float array, columns in the order
        #   {', '.join(task.features)}
        # params: exactly what fit_scaling_law returned: a 1-D array of P
        #   parameters, or a (T, P) array with one row per target
        # returns predictions of shape {shape_out}

    def fit_scaling_law(data_points, loss_values):
        # data_points: (N, {n_features}); loss_values: {shape_y}
        # returns params (a numpy array) for scaling_law_func

fit_scaling_law is called once per group on that group's training rows; the
law is scored on {held_out}.

Rules:
- scaling_law_func must be a fixed formula of data_points and params. It must
  not fit anything, and must not use statistics of its input (no
  data_points.mean/std/min/max, no normalising by the batch it receives): it
  is called on new rows, and its output for a row must not depend on the other
  rows. Fixed numeric constants are fine.
- Fit robustly: work in log space for quantities spanning orders of magnitude,
  use bounded optimisation (e.g. scipy.optimize.least_squares or minimize with
  bounds) from several sensible starting points, guard against overflow
  (np.clip exponents, avoid log of non-positive numbers), and always return
  finite parameters (fall back to a simple fit if optimisation fails).
- Use only numpy and scipy. No file, network or subprocess access, no
  printing, no randomness without a fixed seed. Fitting must take seconds.
- {_param_rule(task)}
- Keep the two function names and signatures; helpers are allowed inside the
  EVOLVE block.

{fmt_rule}"""


def _code(source: str) -> str:
    return f"```python\n{source.rstrip()}\n```"


def _program_section(title: str, info: ParentInfo, *, full_source: bool) -> str:
    parts = [f"## {title}", f"Validation metrics: {format_metrics(info.metrics)}"]
    formula = info.meta.get("formula") if isinstance(info.meta, Mapping) else None
    if isinstance(formula, str) and formula.strip():
        parts.append(f"Formula: {formula.strip()}")
    if info.error:
        parts.append(f"It FAILED with this error:\n{_tail(info.error)}")
    code = info.source
    if not full_source:
        block = Program(info.source).block
        code = block if block is not None and block.strip() else info.source
    parts.append(_code(code))
    return "\n".join(parts)


def user_message(task: Task, request: ProposalRequest, *, diff_mode: bool = False) -> str:
    """The task, the data facts, the parent and inspirations, and the answer format."""
    view = task.search_view()
    parts = [f"# Task: {view.name}"]
    if view.description:
        parts.append(view.description.strip())
    parts.append("## Data the law is fitted on\n" + describe_data(view))
    parts.append(
        "Scores are SLDBench metrics on the validation rows: R2 = 1 - NMSE (higher is "
        "better, 1 is perfect), NMSE = MSE / Var(y), NMAE = MAE / mean|y - mean(y)|, "
        "averaged over targets. A crash, NaN or wrong shape scores R2 = -1."
    )
    for k, insp in enumerate(request.inspirations, start=1):
        parts.append(_program_section(f"Inspiration {k} (for ideas)", insp, full_source=False))
    parent = request.parent
    if parent is None:
        parts.append(
            "## Current program\nThere is none yet: write the first one. It must have this shape:\n"
            + _code(TEMPLATE)
        )
    else:
        parts.append(_program_section("Current program (improve this one)", parent, full_source=True))
    if request.feedback:
        parts.append(f"## Your previous attempt for this program failed\n{_tail(request.feedback)}")
    goal = (
        "## Your answer\nPropose one improvement of the current program that raises validation "
        "R2 (better extrapolation to larger scales), keeping the law simple and within the "
        "parameter limit."
    )
    fmt_text = DIFF_FORMAT if (diff_mode and parent is not None) else FULL_FORMAT
    parts.append(goal + "\n\n" + fmt_text)
    return "\n\n".join(parts)


def build_messages(
    task: Task,
    request: ProposalRequest,
    *,
    diff_mode: bool = False,
    system: str | None = None,
) -> list[Message]:
    """The chat messages for one proposal: ``[system, user]``.

    Args:
        task: the task (only its search view is read).
        request: parent, inspirations and loop feedback.
        diff_mode: ask for SEARCH/REPLACE blocks instead of a full rewrite (only
            when there is a parent to edit).
        system: a system message to use instead of ``system_message(task)``
            (e.g. from an OpenEvolve config); the user message still states the
            answer format.
    """
    if system is None or not system.strip():
        system = system_message(task, diff_mode=diff_mode)
    return [
        {"role": "system", "content": system},
        {"role": "user", "content": user_message(task, request, diff_mode=diff_mode)},
    ]


def feedback_messages(answer: str, reason: str, *, diff_mode: bool = False) -> list[Message]:
    """The follow-up turn after an unusable answer: the answer, then what was wrong."""
    fix = (
        "Answer again with SEARCH/REPLACE blocks whose SEARCH sections are copied exactly "
        "from the current program, or with the complete program in one ```python block."
        if diff_mode
        else "Answer again with the complete program in one ```python block, and make sure "
        "it is complete."
    )
    return [
        {"role": "assistant", "content": answer},
        {"role": "user", "content": f"Your answer could not be used: {reason}\n\n{fix}"},
    ]

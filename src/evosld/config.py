"""Run configuration: a YAML file (OpenEvolve / SLDBench key names) plus flags.

Keys that mean the same thing as in OpenEvolve keep their names
(``max_iterations``, ``random_seed``, ``llm.*``, ``prompt.*``, ``database.*``,
``evaluator.*``, ``diff_based_evolution``). OpenEvolve keys that have no
meaning here are accepted and reported as ignored; anything else is an error.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, ValidationError, model_validator

from evosld.configmodel import ConfigModel
from evosld.errors import ConfigError, first_error, option_error
from evosld.proposers.llm.config import LLMConfig
from evosld.search.database import DatabaseConfig
from evosld.yamlfile import read_yaml

if TYPE_CHECKING:
    from evosld.evaluation.sandbox import Limits

#: An offline run given no iteration count stops on its time budget, this many seconds unless one is given.
OFFLINE_BUDGET_SECONDS = 180.0
#: Such a run is not also cut at the LLM default of 200 proposals.
OFFLINE_MAX_ITERATIONS = 100000
#: Where a new run goes unless an output directory is given: ``runs/<task>-seed<S>-<time>``.
RUNS_DIR = Path("runs")

#: OpenEvolve keys accepted for compatibility but not used by evosld.
IGNORED_KEYS = {
    "": {"checkpoint_interval", "log_level", "log_dir", "language", "file_suffix", "max_code_length",
         "early_stopping_patience", "convergence_threshold", "early_stopping_metric"},
    "llm": {"top_p", "retry_delay", "evaluator_models", "api_key_env"},
    "prompt": {"template_dir", "use_template_stochasticity", "template_variations", "use_meta_prompting",
               "meta_prompt_weight", "include_artifacts", "max_artifact_bytes", "artifact_security_filter",
               "suggest_simplification_after_chars", "include_changes_under_chars",
               "concise_implementation_max_lines", "comprehensive_implementation_min_lines",
               "evaluator_system_message"},
    "database": {"db_path", "in_memory", "log_prompts", "diversity_reference_size", "diversity_metric",
                 "random_seed", "artifacts_base_path", "artifact_size_threshold", "cleanup_old_artifacts",
                 "artifact_retention_days"},
    "evaluator": {"max_retries", "cascade_evaluation", "cascade_thresholds", "use_llm_feedback",
                  "llm_feedback_weight", "enable_artifacts", "max_artifact_storage"},
}


class PromptConfig(ConfigModel):
    """What each LLM prompt shows.

    ``num_top_programs`` / ``num_diverse_programs`` are OpenEvolve's spelling of
    the inspirations shown with the parent; the program database picks them, so
    a value given here is used as ``database.num_top_programs`` /
    ``database.num_diverse_programs`` unless those are given too (None: the
    database's own).
    """

    system_message: str | None = None
    num_top_programs: int | None = Field(default=None, ge=0, description="the island's fittest programs shown")
    num_diverse_programs: int | None = Field(default=None, ge=0, description="random programs of other cells shown")


class EvaluatorConfig(ConfigModel):
    """How candidates are run."""

    timeout: float = Field(default=60.0, gt=0, description="wall-clock seconds per candidate")
    cpu_seconds: int = Field(default=120, gt=0)
    memory_mb: int = Field(default=3072, gt=128)
    parallel_evaluations: int = Field(default=2, ge=1)
    dask_scheduler: str | None = Field(default=None, description="run evaluations on this Dask scheduler")
    dask_local_cluster: bool = Field(default=False, description="start a local Dask cluster for evaluations")

    def limits(self) -> Limits:
        """The sandbox limits of one candidate run."""
        from evosld.evaluation.sandbox import Limits

        return Limits(wall_seconds=self.timeout, cpu_seconds=self.cpu_seconds, memory_mb=self.memory_mb)


#: Least default finishing allowance (s): a short --timeout still leaves the final pick time to refit its laws.
FINISH_FLOOR = 30.0


class RunConfig(ConfigModel):
    """Everything a discovery run needs besides the data."""

    max_iterations: int = Field(default=200, ge=0)
    budget_seconds: float | None = Field(default=None, gt=0)
    random_seed: int = Field(default=0, ge=0)
    proposer: Literal["auto", "symbolic", "llm"] = "auto"
    fitness: Literal["r2", "combined_score"] = "r2"
    diff_based_evolution: bool = False
    max_cost: float | None = Field(default=None, ge=0)
    max_params: int | None = Field(default=None, ge=1)
    seed_with_human_law: bool = False
    parsimony_tolerance: float = Field(
        default=0.0005, ge=0,
        description=("final pick: laws within this much validation R² of the best count as tied, and laws within "
                     "this much selection score of the best are a tie that fewer parameters win"),
    )
    selection_band: float = Field(
        default=0.3, ge=0, le=1,
        description=("final pick: laws within this share of the best law's remaining error (1 - val R²) are in "
                     "the running, and the one with the best score over the extrapolation folds wins; "
                     "0 picks the fewest parameters within parsimony_tolerance"),
    )
    selection_pool: int = Field(default=10, ge=1, description="final pick: most laws refitted on the inner folds")
    selection_folds: int = Field(
        default=2, ge=0, le=5,
        description="final pick: inner extrapolation folds below validation (0: validation alone)",
    )
    selection_val_weight: float = Field(
        default=1 / 3, ge=0, le=1,
        description=("final pick: weight of the validation fold in the weighted mean over folds (the inner folds, "
                     "and each directed fold's fit scored on validation further out, share the rest)"),
    )
    selection_steady: float = Field(
        default=0.0, ge=0,
        description=("final pick: laws whose selection scores lie within this much of the best are close; of "
                     "them the one whose prediction one step beyond the data moves least when refit on the "
                     "inner folds wins (search.plausibility.drift; 0.01 was measured in session 50, see "
                     "search.selection); 0, the default: the best score wins, the moves are only shown"),
    )
    selection_probe: float | None = Field(
        default=1.0, ge=0,
        description=("final pick: a law whose predictions one step beyond the data leave the range its targets "
                     "span on train by more than this many spans, or leave a declared target range, scores -1 "
                     "(search.plausibility); null: no check (a declared range is then only checked against the rows)"),
    )
    finish_seconds: float | None = Field(
        default=None, gt=0,
        description=("finishing: most seconds the final pick's fold refits and probes and the reference law take "
                     "in all once the search stops (run.finishing); null: as long as the search's time budget, and at "
                     "least the per-candidate timeout and 30 s"),
    )
    proposals_in_flight: int = Field(default=4, ge=1)
    llm: LLMConfig | None = None
    prompt: PromptConfig = Field(default_factory=PromptConfig)
    database: DatabaseConfig = Field(default_factory=DatabaseConfig)
    evaluator: EvaluatorConfig = Field(default_factory=EvaluatorConfig)

    def finish_limit(self) -> float:
        """Seconds the finishing evaluations may take in all.

        ``finish_seconds``, else max(budget, timeout, 30 s): finishing may take
        as long as the search did. The allowance stops laws that hang until
        their timeout, one after another, from multiplying the run's time; it
        must not cut the normal finish of a slow-fitting table (sft's 42
        groups: about 6 s per evaluation, 30 for the ten laws in the running).
        """
        if self.finish_seconds is not None:
            return self.finish_seconds
        return max(self.budget_seconds or 0.0, self.evaluator.timeout, FINISH_FLOOR)

    @model_validator(mode="after")
    def _inspirations_from_prompt(self) -> RunConfig:
        """``prompt.num_top_programs`` / ``num_diverse_programs`` set the database's unless it has its own."""
        for name in ("num_top_programs", "num_diverse_programs"):
            value = getattr(self.prompt, name)
            if value is not None and name not in self.database.model_fields_set:
                self.database = self.database.model_copy(update={name: value})
        return self

    def uses_llm(self) -> bool:
        return self.proposer == "llm" or (self.proposer == "auto" and self.llm is not None)

    def for_new_run(self) -> RunConfig:
        """This config with the defaults a new run gets.

        An offline run for which nobody set ``max_iterations`` (in the YAML or
        as an override: pydantic's ``model_fields_set``) stops on its time
        budget alone: ``OFFLINE_BUDGET_SECONDS`` unless ``budget_seconds`` is
        set, and ``OFFLINE_MAX_ITERATIONS`` proposals. An LLM run keeps 200
        proposals and no time budget unless told otherwise.
        """
        if self.uses_llm() or "max_iterations" in self.model_fields_set:
            return self
        return self.model_copy(update={"budget_seconds": self.budget_seconds or OFFLINE_BUDGET_SECONDS,
                                       "max_iterations": OFFLINE_MAX_ITERATIONS})

    @property
    def iteration_bound(self) -> int | None:
        """The iteration limit worth showing (None when the time budget alone decides)."""
        return None if self.max_iterations >= OFFLINE_MAX_ITERATIONS else self.max_iterations

    def default_run_dir(self, task_name: str, stamp: str | None = None) -> Path:
        """``runs/<task>-seed<S>-<YYYYmmdd-HHMMSS>`` (``stamp`` defaults to the local time now).

        The task's name is the user's (``--name``): characters other than letters, digits, ``.``, ``-`` and ``_``
        become ``_``, so a name such as ``../x`` or ``a/b`` stays one folder inside ``runs/``.
        """
        safe = re.sub(r"[^\w.-]+", "_", task_name).strip("._") or "run"
        return RUNS_DIR / f"{safe}-seed{self.random_seed}-{stamp or time.strftime('%Y%m%d-%H%M%S')}"


#: OpenEvolve's two-model spelling of the ensemble: (model key, its weight key), read as ``llm.models``.
OPENEVOLVE_MODELS = (("primary_model", "primary_model_weight"), ("secondary_model", "secondary_model_weight"))


def _openevolve_models(llm: dict[str, Any], ignored: list[str]) -> dict[str, Any]:
    """An ``llm`` section with OpenEvolve's ``primary_model`` / ``secondary_model`` (and their weights) read as
    ``models``: the models the config names are the ones called (they were ignored, and the default model ran
    instead, at its price). Beside an explicit ``models`` list they are ignored, and said to be."""
    keys = [k for pair in OPENEVOLVE_MODELS for k in pair if k in llm]
    if not keys:
        return llm
    rest = {k: v for k, v in llm.items() if k not in keys}
    if "models" in llm:
        ignored.extend(f"llm.{k}" for k in keys)
        return rest
    models = []
    for name, weight in OPENEVOLVE_MODELS:
        w = llm.get(weight)
        if llm.get(name) and not (isinstance(w, (int, float)) and w == 0):  # weight 0: OpenEvolve never calls it
            models.append({"name": llm[name], **({"weight": w} if w is not None else {})})
    return {**rest, "models": models} if models else rest


def _strip_ignored(data: dict[str, Any], ignored: list[str]) -> dict[str, Any]:
    out = {}
    for key, value in data.items():
        if key == "llm" and isinstance(value, dict):
            value = _openevolve_models(value, ignored)
        if key in IGNORED_KEYS[""]:
            ignored.append(key)
            continue
        if key in IGNORED_KEYS and isinstance(value, dict):
            kept = {}
            for sub, v in value.items():
                if sub in IGNORED_KEYS[key]:
                    ignored.append(f"{key}.{sub}")
                else:
                    kept[sub] = v
            value = kept
        out[key] = value
    return out


def _given_as(where: str, overrides: dict[str, Any], options: dict[str, str]) -> str | None:
    """The command-line option that gave the bad value at ``where`` (a dotted key), or None when it came
    from a config file or a stored run: the longest key of ``options`` that ``where`` starts with, given
    a value in ``overrides`` (flat, or inside a section's mapping)."""
    parts = where.split(".")
    for n in range(len(parts), 0, -1):
        key = ".".join(parts[:n])
        if key not in options:
            continue
        section, _, sub = key.partition(".")
        value = overrides.get(key)
        if value is None and sub and isinstance(overrides.get(section), dict):
            value = overrides[section].get(sub)
        return options[key] if value is not None else None
    return None


def load_config(
    path: str | Path | None, overrides: dict[str, Any] | None = None, base: dict[str, Any] | None = None,
    options: dict[str, str] | None = None,
) -> tuple[RunConfig, list[str]]:
    """Read a YAML config (if given; else start from ``base``, e.g. a stored run's
    config), apply command-line overrides, validate.

    Overrides are flat (``"evaluator.timeout"``); a mapping given for a section
    (``"llm": {...}``) is merged into that section. ``options`` names the
    command-line option of each override key (``"max_params": "--max-params"``),
    so a bad value given there is reported under the option the user typed.

    Returns the config and the list of OpenEvolve keys that were ignored.
    Raises ConfigError with one line naming the bad key (or option).
    """
    data: dict[str, Any] = dict(base or {})
    if path is not None:
        p = Path(path)
        data = read_yaml(p, "config file", ConfigError) or {}
        if not isinstance(data, dict):
            raise ConfigError(f"config file {p} must be a mapping of keys to values")
    ignored: list[str] = []
    data = _strip_ignored(data, ignored)
    for key, value in (overrides or {}).items():
        if value is None:
            continue
        section, _, sub = key.partition(".")
        current = data.get(section)
        current = current if isinstance(current, dict) else {}
        if sub:
            data[section] = {**current, sub: value}
        elif isinstance(value, dict):
            data[key] = {**current, **value}
        else:
            data[key] = value
    try:
        return RunConfig.model_validate(data), ignored
    except ValidationError as exc:
        where, what = first_error(exc)
        option = _given_as(where, overrides or {}, options or {})
        if option:
            raise ConfigError(option_error(option, exc.errors()[0])) from None
        raise ConfigError(f"config: {where or '(top level)'}: {what}") from None

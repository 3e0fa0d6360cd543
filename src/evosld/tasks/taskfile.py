"""Task files: a small YAML a team can share instead of a command line.

    name: my_law
    data: runs.csv            # relative to this file
    features: [N, D]
    target: loss              # or a list of targets
    group: model              # optional
    test: "N >= 1e9"          # optional; default: largest first feature held out
    val: "largest:N"          # optional; default: derived from test
    scale_tolerance: 1e-3     # optional; sizes this close (relative) are one scale
    target_range: [0, 1]      # optional; the range every target can take ("0,1"; null or "" for an open side;
                              # none: no range; default: 0,1 when every train target lies in it, else none)
    baseline: auto            # optional; chinchilla[:N_COL,D_COL], mixing or none
    description: what the runs are
    max_params: 5             # optional
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import Field, ValidationError, field_validator

from evosld.configmodel import ConfigModel
from evosld.errors import DataError, first_error
from evosld.tasks.loaders import task_from_csv
from evosld.tasks.scales import tolerance_problem
from evosld.tasks.tables import split_names
from evosld.tasks.targetrange import NO_RANGE, parse_target_range
from evosld.tasks.task import Task
from evosld.yamlfile import read_yaml


class TaskFile(ConfigModel):
    """The fields of a task file."""

    name: str | None = None
    data: str
    features: list[str] = Field(min_length=1)
    target: str | list[str]
    group: str | None = None
    test: str | None = None
    val: str | None = None
    description: str = ""
    max_params: int | None = Field(default=None, ge=1)
    log_features: list[str] | None = None
    linear_features: list[str] | None = None
    scale_tolerance: float | None = None
    baseline: str | None = None
    target_range: str | list[float | None] | None = None

    @field_validator("features", "log_features", "linear_features", mode="before")
    @classmethod
    def _names(cls, value: Any) -> Any:
        """``features: N, D`` (YAML reads one text) means the list ``[N, D]``, as ``--features N,D`` does."""
        return split_names(value) if isinstance(value, str) else value

    @field_validator("scale_tolerance")
    @classmethod
    def _tolerance(cls, value: float | None) -> float | None:
        """A tolerance outside [0, 0.5) says what one is, as ``--scale-tolerance`` does."""
        problem = None if value is None else tolerance_problem(value)
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("target_range")
    @classmethod
    def _range(cls, value: str | list[float | None] | None) -> list[float | None] | str | None:
        """The declared target range as ``[lo, hi]`` (None for an open side), ``"none"`` for no range at all
        (None: not given, so assumed from the data); a bad spelling says the form."""
        try:
            bounds = parse_target_range(value)
        except DataError as exc:
            raise ValueError(str(exc)) from None
        if bounds is None:
            return None if value is None else NO_RANGE
        return list(bounds)

    def spec(self, base: Path) -> dict[str, Any]:
        """Keyword arguments for ``task_from_csv`` (data path made absolute; ``~`` is the home folder)."""
        return {
            "path": str((base / Path(self.data).expanduser()).resolve()),
            "features": self.features,
            "target": self.target,
            "group": self.group,
            "test": self.test,
            "val": self.val,
            "name": self.name or Path(self.data).stem,
            "description": self.description,
            "max_params": self.max_params,
            "log_features": self.log_features,
            "linear_features": self.linear_features,
            "scale_tolerance": self.scale_tolerance,
            "baseline": self.baseline,
            "target_range": self.target_range,
        }


#: Keys a task file does not have, spelt as the command line's options are, and the key each means.
KEY_ALIASES = {"group_by": "group", "targets": "target", "csv": "data"}


def is_task_file(name: str) -> bool:
    """True for a name ending in .yaml or .yml, in any case (``LAW.YAML``)."""
    return name.lower().endswith((".yaml", ".yml"))


def read_task_file(path: str | Path) -> dict[str, Any]:
    """Parse and validate a task file; returns a csv task spec (see ``task_from_spec``)."""
    p = Path(path)
    raw = read_yaml(p, "task file", DataError)
    try:
        tf = TaskFile.model_validate(raw or {})
    except ValidationError as exc:
        where, what = first_error(exc, known=TaskFile.model_fields, aliases=KEY_ALIASES)
        said = f" {what}" if what.startswith("must be ") else f": {what}"  # "scale_tolerance must be ..."
        raise DataError(f"task file {p}: {where or '(top level)'}{said}") from None
    return {"csv": tf.spec(p.parent)}


def write_task_file(path: str | Path, spec: dict[str, Any]) -> None:
    """Save a csv task spec as a task file (data path kept as given)."""
    data = {k: v for k, v in spec.items() if v not in (None, "")}
    data["data"] = data.pop("path")
    Path(path).write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")


def task_from_spec(spec: dict[str, Any], data_dir: str | None = None) -> Task:
    """Rebuild a task from what a run stored: ``{"name": builtin}`` or ``{"csv": {...}}``."""
    if "csv" in spec:
        kwargs = dict(spec["csv"])
        path = kwargs.pop("path")
        kwargs = {k: v for k, v in kwargs.items() if v is not None}
        return task_from_csv(path, kwargs.pop("features"), kwargs.pop("target"), **kwargs)
    from evosld.tasks.loaders import load_task

    return load_task(spec["name"], data_dir=spec.get("data_dir") or data_dir)

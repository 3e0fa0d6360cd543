"""The base of every settings model (run config, LLM, database, task files): unknown keys and
``true`` / ``false`` given for a number are refused.

YAML reads ``random_seed: true`` as a boolean, and pydantic would take it as
the number 1; a user who wrote it meant something else (or mistyped), so it
is one error, like any value of the wrong kind.
"""

from __future__ import annotations

import types
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator


def _numeric(annotation: Any) -> bool:
    """True for ``int``, ``float`` and their optional forms; False when the field also takes a boolean."""
    args = get_args(annotation) if get_origin(annotation) in (Union, types.UnionType) else (annotation,)
    return bool not in args and any(a in (int, float) for a in args)


class ConfigModel(BaseModel):
    """A settings model: no unknown keys, no boolean where a number belongs."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="before")
    @classmethod
    def _no_boolean_for_a_number(cls, value: Any, info: ValidationInfo) -> Any:
        field = cls.model_fields.get(info.field_name or "")
        if isinstance(value, bool) and field is not None and _numeric(field.annotation):
            raise ValueError(f"a number is needed, not {str(value).lower()}")
        return value

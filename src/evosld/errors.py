"""User-facing errors: each one is printed as a single line by the CLI."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any


class EvosldError(Exception):
    """A mistake the user can fix; the message says what to do."""


class DataError(EvosldError):
    """The data (a task table or a user CSV) cannot be used as given."""


class ProgramError(EvosldError):
    """A candidate program file cannot be loaded or fails the static checks."""


class ConfigError(EvosldError):
    """A configuration file or command-line option is invalid."""


class OptionValueError(ConfigError, ValueError):
    """A value out of range for an option or argument, named as the user gave it (``--scale-tolerance``,
    a task file's key, ``evosld.discover``'s argument); a ValueError for Python callers."""


class OutputError(EvosldError):
    """The run directory or the run store cannot be written (read-only, disk full, no permission)."""


class StoreError(DataError):
    """A run store is damaged, unreadable, or from a newer evosld."""


def first_error(exc: Any, *, unknown: str = "unknown key", known: Collection[str] = (),
                aliases: dict[str, str] | None = None) -> tuple[str, str]:
    """Where and what of a pydantic ``ValidationError``'s first error, for a one-line message.

    Returns the dotted path of the bad key ("" for the whole mapping) and the
    message: ``unknown`` for a key the model does not have, else pydantic's
    own, without its "Value error, " prefix. An unknown key comes first: it is
    usually a typo, and the required key it was meant to be is then reported
    missing too (``feature:`` for ``features:``), so the message names both.
    An unknown key is also matched against ``known`` (the model's keys: ``max-params``
    for ``max_params``) and ``aliases`` (other spellings of a key, such as the
    command line's: ``group_by`` for ``group``), to name the key it was meant to be.
    """
    import difflib

    errs = exc.errors()
    extra = [e for e in errs if e["type"] == "extra_forbidden"]
    err = (extra or errs)[0]
    where = ".".join(str(x) for x in err["loc"])
    if err["type"] != "extra_forbidden":
        return where, str(err["msg"]).removeprefix("Value error, ")
    missing = [".".join(str(x) for x in e["loc"]) for e in errs if e["type"] == "missing"]
    plain = where.replace("-", "_").lower()
    near = ([aliases[plain]] if aliases and plain in aliases else
            [plain] if plain in known else difflib.get_close_matches(where, missing, n=1)
            or difflib.get_close_matches(plain, list(known), n=1))
    return where, unknown + (f" (did you mean {near[0]!r}?)" if near else "")


#: Pydantic bound errors in plain words: error type -> (phrase, key of the bound in the error's context).
_BOUNDS = {"greater_than_equal": ("at least", "ge"), "greater_than": ("more than", "gt"),
           "less_than_equal": ("at most", "le"), "less_than": ("less than", "lt")}


def shown(value: Any) -> str:
    """A value as the user typed it: 0 for 0.0, text as is."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def option_error(option: str, err: dict[str, Any]) -> str:
    """One line for a bad command-line ``option``, from a pydantic error dict (``ValidationError.errors()[0]``).

    ``--max-params must be at least 1 (got 0)`` rather than the config key and
    pydantic's "Input should be greater than or equal to 1".
    """
    got = f" (got {shown(err['input'])})" if "input" in err and not isinstance(err["input"], (dict, list)) else ""
    bound = _BOUNDS.get(err.get("type", ""))
    if bound and bound[1] in (err.get("ctx") or {}):
        return f"{option} must be {bound[0]} {shown(err['ctx'][bound[1]])}{got}"
    what = str(err.get("msg", "is invalid")).removeprefix("Value error, ")
    if what.startswith("Input should be "):
        return f"{option} should be {what.removeprefix('Input should be ')}{got}"
    return f"{option}: {what}{got}"


def yaml_where(exc: Exception) -> str:
    """`` at line N`` of a YAML file's error (PyYAML's ``problem_mark``), or "" when it gives none."""
    mark = getattr(exc, "problem_mark", None)
    return f" at line {mark.line + 1}" if mark is not None else ""

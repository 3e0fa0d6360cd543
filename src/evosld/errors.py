"""User-facing errors: each one is printed as a single line by the CLI."""

from __future__ import annotations

from typing import Any


class EvosldError(Exception):
    """A mistake the user can fix; the message says what to do."""


class DataError(EvosldError):
    """The data (a task table or a user CSV) cannot be used as given."""


class ProgramError(EvosldError):
    """A candidate program file cannot be loaded or fails the static checks."""


class ConfigError(EvosldError):
    """A configuration file or command-line option is invalid."""


class OutputError(EvosldError):
    """The run directory or the run store cannot be written (read-only, disk full, no permission)."""


class StoreError(DataError):
    """A run store is damaged, unreadable, or from a newer evosld."""


def first_error(exc: Any, *, unknown: str = "unknown key") -> tuple[str, str]:
    """Where and what of a pydantic ``ValidationError``'s first error, for a one-line message.

    Returns the dotted path of the bad key ("" for the whole mapping) and the
    message: ``unknown`` for a key the model does not have, else pydantic's
    own, without its "Value error, " prefix.
    """
    err = exc.errors()[0]
    where = ".".join(str(x) for x in err["loc"])
    what = unknown if err["type"] == "extra_forbidden" else str(err["msg"]).removeprefix("Value error, ")
    return where, what

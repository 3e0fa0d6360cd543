"""User-facing errors: each one is printed as a single line by the CLI."""

from __future__ import annotations


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

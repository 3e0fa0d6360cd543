"""Files a run leaves for the user, written atomically (never half-written)."""

from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

from evosld.errors import OutputError

BEST_PROGRAM = "best_program.py"
BEST_JSON = "best.json"
STORE_FILE = "run.sqlite"
LOG_FILE = "evosld.log"


def existing_store(run_dir: str | os.PathLike) -> Path:
    """The run store file in ``run_dir``.

    Raises:
        ConfigError: there is none.
    """
    from evosld.errors import ConfigError

    path = Path(run_dir) / STORE_FILE
    if not path.is_file():
        raise ConfigError(f"no run store in {run_dir} (expected {path})")
    return path


def write_atomic(path: Path, data: str | bytes) -> None:
    """Write ``data`` to ``path`` so readers see the old or the new file, never a mix.

    Raises:
        OutputError: the file cannot be written (disk full, read-only, no permission).
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    except OSError as exc:
        raise _output_error(path, exc) from None
    try:
        mode, encoding = ("wb", None) if isinstance(data, bytes) else ("w", "utf-8")
        with os.fdopen(fd, mode, encoding=encoding) as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes it owner-only; outputs are ordinary files
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise _output_error(path, exc) from None
        raise


def _output_error(path: Path, exc: OSError) -> OutputError:
    return OutputError(f"cannot write {path}: {exc.strerror or exc}; free some space or choose a writable "
                       "--output (what the run evaluated is kept in its run.sqlite)")


class RunLogHandler(logging.FileHandler):
    """``evosld.log``. A line that cannot be written (a full disk) is dropped, not printed as a
    traceback: the run store records the same facts, and the failing write there says what happened."""

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 - logging's name
        return


def _clean(obj: Any) -> Any:
    """JSON-safe copy: NaN/inf become None, numpy scalars become floats."""
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if hasattr(obj, "tolist"):
        return _clean(obj.tolist())
    if isinstance(obj, float) and (obj != obj or obj in (float("inf"), float("-inf"))):
        return None
    return obj


def write_best(run_dir: Path, source: str, record: dict[str, Any]) -> None:
    """Write ``best_program.py`` and ``best.json`` (program first, then its record)."""
    write_atomic(run_dir / BEST_PROGRAM, source)
    write_atomic(run_dir / BEST_JSON, json.dumps(_clean(record), indent=2) + "\n")

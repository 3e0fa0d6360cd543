"""Files a run leaves for the user, written atomically (never half-written)."""

from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

from evosld.errors import OutputError
from evosld.run.runlock import LOCK_FILE

BEST_PROGRAM = "best_program.py"
BEST_JSON = "best.json"
STORE_FILE = "run.sqlite"
LOG_FILE = "evosld.log"
#: The log ``evosld bench`` keeps in each run directory (written before the run starts).
BENCH_LOG = "bench.log"
#: The copy of a DataFrame's rows that ``evosld.discover`` keeps in its run directory (written before the run).
TABLE_FILE = "table.csv"
#: Files a directory may hold before a new run starts in it: the run's own lock, logs and table.
_BEFORE_A_RUN = frozenset({LOCK_FILE, LOG_FILE, BENCH_LOG, TABLE_FILE})


def check_fresh_output(run_dir: str | os.PathLike) -> None:
    """A new run may start in ``run_dir``: it does not exist, or holds nothing but a run's lock, logs and table.

    A directory holding other files (a project folder, a data folder) would get
    the run's dozen files written among them, replacing any of the same name.
    Hidden files (``.DS_Store``) do not count.

    Raises:
        ConfigError: ``run_dir`` is a file, or holds other files.
    """
    from evosld.errors import ConfigError

    path = Path(run_dir)
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{path} is a file, not a directory; give --output a new or empty directory "
                          f"(it is created), e.g. {path.with_name(path.name + '-run')}")
    if not path.is_dir():
        return
    other = sorted(p.name for p in path.iterdir() if p.name not in _BEFORE_A_RUN and not p.name.startswith("."))
    if other:
        more = f" and {len(other) - 3} more" if len(other) > 3 else ""
        raise ConfigError(f"{path} already holds files that are not an evosld run ({', '.join(other[:3])}{more}); "
                          "give --output a new or empty directory (it is created), e.g. "
                          f"{path / 'evosld-run'}")


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

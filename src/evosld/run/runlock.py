"""One process per run directory: an advisory lock file naming its holder.

``RUN_DIR/run.lock`` is locked with ``fcntl.flock`` for as long as a run
writes into the directory. The kernel drops the lock when the holder's
process ends however it ends (``kill -9``, a crash, a reboot), so a lock left
behind by a dead process never blocks a resume; the file itself stays and is
simply taken over. The holder writes its pid, host, start time and command
line into the file, so the process that is turned away can say who holds it.

    with RunLock.acquire(run_dir):   # RunLocked if another process holds it
        ...
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evosld.errors import EvosldError, OutputError

LOCK_FILE = "run.lock"


class RunLocked(EvosldError):
    """Another live process holds the run directory; ``holder`` describes it (``describe_holder``)."""

    def __init__(self, message: str, holder: str = "another process") -> None:
        super().__init__(message)
        self.holder = holder


def describe_holder(info: dict[str, Any]) -> str:
    """``process 1234 on host (started 12:00:03: evosld discover ...)`` from a lock file's record."""
    pid = info.get("pid", "?")
    host = info.get("host")
    started = info.get("started")
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(started)) if isinstance(started, (int, float)) else None
    command = info.get("command")
    parts = [f"process {pid}" + (f" on {host}" if host else "")]
    detail = ", ".join(x for x in (f"started {when}" if when else None, command) if x)
    return parts[0] + (f" ({detail})" if detail else "")


@dataclass
class RunLock:
    """A held lock on a run directory; :meth:`release` (or leaving the ``with``) frees it."""

    path: Path
    fd: int | None

    @classmethod
    def acquire(cls, run_dir: str | Path) -> RunLock:
        """Lock ``run_dir`` (created if needed) for this process.

        Raises:
            RunLocked: another live process holds it (the message names it).
            OutputError: the directory cannot be created or written.
        """
        run_dir = Path(run_dir)
        path = run_dir / LOCK_FILE
        try:
            run_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise OutputError(
                f"cannot write into {run_dir}: {exc.strerror or exc}; choose another --output "
                "(a writable directory with free space)"
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(fd)
            os.close(fd)
            raise RunLocked(
                f"{run_dir} is in use by another evosld, {describe_holder(holder)}; wait for it to finish "
                f"or stop it (kill {holder.get('pid', 'PID')}), or use another --output", describe_holder(holder)
            ) from None
        except OSError as exc:
            os.close(fd)
            raise OutputError(f"cannot lock {path}: {exc.strerror or exc}") from None
        record = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time(),
                  "command": " ".join(["evosld", *sys.argv[1:]]) if sys.argv else None}
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, (json.dumps(record) + "\n").encode(), 0)
        except OSError:
            pass  # the lock holds even when its note cannot be written (e.g. a full disk)
        return cls(path, fd)

    def release(self) -> None:
        """Free the lock (idempotent); the file stays for the next holder."""
        if self.fd is not None:
            try:
                fcntl.flock(self.fd, fcntl.LOCK_UN)
            finally:
                os.close(self.fd)
                self.fd = None

    def __enter__(self) -> RunLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def check_free(run_dir: str | Path) -> None:
    """Refuse at once a run directory another process holds (``RunLocked``), before any slow work.

    The lock is taken for good later (``RunLock.acquire``); this only spares
    the user a plan printed for a run that is then refused. A directory with no
    lock file holds no run and is not touched.
    """
    if (Path(run_dir) / LOCK_FILE).is_file():
        RunLock.acquire(run_dir).release()


def _read_holder(fd: int) -> dict[str, Any]:
    try:
        data = json.loads(os.pread(fd, 4096, 0).decode("utf-8", errors="replace") or "{}")
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}

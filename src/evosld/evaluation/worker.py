"""Code that runs inside the sandboxed child process.

The forkserver imports this module (and numpy/scipy) once, so each candidate
starts from a warm interpreter. ``child_main`` then confines itself (new
session, resource limits, scratch directory, clean environment, and a
dedicated user id when started as root) before it compiles the candidate.
It writes a JSON result file; the parent never unpickles anything a candidate
could have touched.
"""

from __future__ import annotations

import json
import os
import re
import resource
import signal
import sys
import time
import traceback
import types
from typing import Any

import numpy as np
import scipy.optimize  # noqa: F401  (preloaded for candidates)
import scipy.special  # noqa: F401

RESULT_FILE = "result.json"
STDOUT_FILE = "stdout.txt"
STDERR_FILE = "stderr.txt"

#: Variables a candidate may see; everything else (keys, tokens) is dropped.
SAFE_ENV = ("PATH", "LANG", "LC_ALL", "TZ")

#: One BLAS/OpenMP thread per candidate. BLAS reads these when numpy is first
#: imported, i.e. in the forkserver (the sandbox starts it with them set); a
#: forked child that changes them later keeps the forkserver's thread pool.
THREAD_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def clean_environment(scratch: str) -> dict[str, str]:
    """The whole environment a candidate gets: no secrets, one thread per BLAS."""
    env = {k: os.environ[k] for k in SAFE_ENV if k in os.environ}
    env.update(
        HOME=scratch,
        TMPDIR=scratch,
        PYTHONDONTWRITEBYTECODE="1",
        **THREAD_ENV,
    )
    return env


def _set_limit(which: int, value: int, slack: int = 0) -> None:
    """Set soft limit ``value`` and hard limit ``value + slack`` (never above the current hard)."""
    try:
        _, hard = resource.getrlimit(which)
        top = value + slack
        if hard != resource.RLIM_INFINITY:
            value, top = min(value, hard), min(top, hard)
        resource.setrlimit(which, (value, top))
    except (ValueError, OSError):
        pass


def _count_processes(uid: int) -> int:
    n = 0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}").st_uid == uid:
                    n += 1
            except OSError:
                pass
    return n


def confine(scratch: str, limits: dict[str, Any], uid: int | None) -> None:
    """Put this process in its own session, scratch dir, limits and identity."""
    os.setsid()
    os.chdir(scratch)
    # Output goes to files in the scratch directory, capped by RLIMIT_FSIZE.
    for fd, name in ((1, STDOUT_FILE), (2, STDERR_FILE)):
        f = os.open(os.path.join(scratch, name), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(f, fd)
        os.close(f)
    sys.stdout = open(1, "w", closefd=False, buffering=1)  # noqa: SIM115
    sys.stderr = open(2, "w", closefd=False, buffering=1)  # noqa: SIM115
    os.environ.clear()
    os.environ.update(clean_environment(scratch))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # oversize writes fail with EFBIG instead
    mb = 1024 * 1024
    _set_limit(resource.RLIMIT_CORE, 0)
    _set_limit(resource.RLIMIT_CPU, int(limits["cpu_seconds"]), slack=2)  # SIGXCPU first
    _set_limit(resource.RLIMIT_AS, int(limits["memory_mb"]) * mb)
    _set_limit(resource.RLIMIT_FSIZE, int(limits["file_size_mb"]) * mb)
    if uid is not None:
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
        _set_limit(resource.RLIMIT_NPROC, int(limits["max_processes"]))
    else:
        # RLIMIT_NPROC counts every process of the user: leave room for theirs.
        _set_limit(resource.RLIMIT_NPROC, _count_processes(os.getuid()) + int(limits["max_processes"]))


def _to_jsonable(value: Any) -> Any:
    """Fitted params as nested float lists when possible, else their repr."""
    try:
        return _nested(np.asarray(value, dtype=float))
    except (TypeError, ValueError):
        return {"repr": repr(value)[:2000]}


def _nested(arr: np.ndarray) -> Any:
    return np.where(np.isfinite(arr), arr, np.nan).tolist()


def run_job(source: str, job: dict[str, Any]) -> dict[str, Any]:
    """Compile the candidate, fit every group, predict every requested set.

    ``job["groups"]`` is a list of dicts with ``name``, ``X_fit`` (N, F),
    ``y_fit`` (N,) or (N, T) and ``predict`` {set name: X (M, F)}.
    Returns ``{"groups": [...]}`` or ``{"error": {"kind", "message", "group"}}``.
    """
    try:
        code = compile(source, "candidate.py", "exec")
    except SyntaxError as exc:
        where = f"line {exc.lineno}: " if exc.lineno else ""  # none for a NUL byte in the source
        return {"error": {"kind": "syntax", "message": f"{where}{exc.msg}", "group": None}}
    module = types.ModuleType("candidate")
    module.__file__ = "candidate.py"
    sys.modules["candidate"] = module
    try:
        exec(code, module.__dict__)
    except BaseException as exc:  # noqa: BLE001 - anything a candidate raises is a result
        return {"error": _describe(exc, None, "import")}
    funcs = {}
    for name in ("scaling_law_func", "fit_scaling_law"):
        fn = getattr(module, name, None)
        if not callable(fn):
            return {"error": {"kind": "missing_function", "message": f"{name} is not defined", "group": None}}
        funcs[name] = fn
    out = []
    for group in job["groups"]:
        gname = group["name"]
        try:
            t0 = time.perf_counter()
            params = funcs["fit_scaling_law"](np.array(group["X_fit"], dtype=float), np.array(group["y_fit"], dtype=float))
            t1 = time.perf_counter()
            preds = {}
            for set_name, X in group["predict"].items():
                raw = funcs["scaling_law_func"](np.array(X, dtype=float), params)
                try:
                    arr = np.asarray(raw, dtype=float)
                except (TypeError, ValueError):
                    return {"error": {"kind": "bad_output", "message": f"predictions are not numeric ({type(raw).__name__})", "group": gname}}
                preds[set_name] = _nested(arr)
            t2 = time.perf_counter()
        except BaseException as exc:  # noqa: BLE001
            return {"error": _describe(exc, gname, "fit")}
        out.append({"name": gname, "params": _to_jsonable(params), "predictions": preds,
                    "fit_seconds": t1 - t0, "predict_seconds": t2 - t1})
    return {"groups": out}


def _describe(exc: BaseException, group: str | None, stage: str) -> dict[str, Any]:
    if isinstance(exc, MemoryError):
        kind = "memory"
    elif isinstance(exc, RecursionError):
        kind = "recursion"
    elif isinstance(exc, SystemExit):
        kind = "exit"
    elif isinstance(exc, KeyboardInterrupt):
        kind = "interrupted"
    else:
        kind = "exception"
    tb = traceback.extract_tb(exc.__traceback__)
    where = next((f" (candidate.py line {f.lineno})" for f in reversed(tb) if f.filename == "candidate.py"), "")
    text = str(exc).splitlines()[0][:300] if str(exc) else ""
    hint = ""
    if isinstance(exc, IndexError) and (m := _FEATURE_INDEX.search(text)):  # data_points[:, k] past the features
        hint = (f"; the program reads column {m.group(1)} of data_points, which holds {m.group(2)} feature "
                "column(s) here: does it expect other features, or another order?")
    return {"kind": kind, "message": f"{type(exc).__name__}: {text}{where}{hint}".strip(), "group": group,
            "stage": stage}


#: numpy's message for a column index past the array's width (``X[:, 2]`` on two features).
_FEATURE_INDEX = re.compile(r"index (\d+) is out of bounds for axis 1 with size (\d+)")


def child_main(source: str, job: dict[str, Any], scratch: str, limits: dict[str, Any], uid: int | None) -> None:
    """Entry point of the sandboxed process (runs in the forkserver's child)."""
    try:
        confine(scratch, limits, uid)
    except BaseException as exc:  # noqa: BLE001
        if os.path.isdir(scratch):  # else the parent gave this run up (stopped by a signal): nothing to say
            os.write(2, f"sandbox setup failed: {exc}\n".encode())
        os._exit(70)
    result = run_job(source, job)
    data = json.dumps(result).encode()
    path = os.path.join(scratch, RESULT_FILE)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.close(fd)
    except OSError:
        os._exit(71)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass  # output beyond the file-size limit is dropped
    os._exit(0)

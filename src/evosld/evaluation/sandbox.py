"""Run untrusted candidate programs in confined child processes.

Each candidate runs in a process forked from a warm forkserver (numpy and
scipy already imported), in its own session, with a hard wall-clock timeout
that kills its whole process group, CPU / address-space / process-count /
file-size limits, a fresh scratch directory and an environment without
secrets. When evosld runs as root, each job also gets its own unprivileged
user id: it then cannot signal or read the parent, write outside the scratch
directory or world-writable places, and every process it leaves behind is
found by that id and killed. The parent turns every outcome into a
``RunResult``; it never raises on a candidate's behaviour.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import multiprocessing
import os
import re
import shutil
import signal
import socket
import stat
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from typing import Any

from evosld.evaluation import worker

#: Environment variable names that look like secrets (dropped before any child starts).
SECRET_MARKERS = ("KEY", "TOKEN", "SECRET", "PASSWORD", "PASSWD", "CREDENTIAL", "AUTH", "COOKIE", "SESSION")

#: User ids used for jobs when running as root: each evosld process owns a block
#: of ``UIDS_PER_PROCESS`` ids chosen by its pid, so several processes (e.g. Dask
#: workers) never share one, and every job in flight has its own.
SANDBOX_UID_BASE = 1_900_000_000
UIDS_PER_PROCESS = 64
PID_MAX = 4_194_304
#: The exit code multiprocessing gives a forkserver child whose status it could not read (the forkserver died).
FORKSERVER_LOST = 255
#: Scratch folders of sandbox runs start with this, then the host and the process id (``_scratch_prefix``).
SCRATCH_PREFIX = "evosld-job-"
#: A scratch folder of a process that is gone is swept once it has not changed for this long (an hour: far
#: longer than any evaluation's wall-clock limit, so a folder still in use is never taken for stale).
STALE_SCRATCH_SECONDS = 3600.0
#: Seconds a lost child's retry waits for a forkserver that died to finish exiting.
FORKSERVER_EXIT_WAIT = 1.0
#: How often a run in flight looks for a stop it must act on (see Sandbox._await_child).
STOP_POLL_SECONDS = 0.25


def is_secret(name: str) -> bool:
    """True for variable names such as OPENAI_API_KEY, HF_TOKEN, AWS_SECRET_ACCESS_KEY."""
    upper = name.upper()
    return any(marker in upper for marker in SECRET_MARKERS)


@dataclass(frozen=True)
class Limits:
    """Resource limits for one candidate run."""

    wall_seconds: float = 60.0
    cpu_seconds: int = 120
    memory_mb: int = 3072
    max_processes: int = 32
    file_size_mb: int = 16
    output_chars: int = 4000
    result_mb: int = 64


@dataclass
class RunResult:
    """What happened to one candidate run.

    ``value`` is the child's JSON result (per-group params and predictions) or
    None; ``error_kind`` is None on success, else one of: syntax,
    missing_function, exception, memory, recursion, exit, timeout, killed,
    bad_output, no_result, sandbox.
    """

    value: dict[str, Any] | None
    error_kind: str | None = None
    message: str = ""
    stdout: str = ""
    stderr: str = ""
    duration: float = 0.0
    exit_code: int | None = None
    error_group: str | None = None

    @property
    def ok(self) -> bool:
        return self.error_kind is None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("value")
        return d


_forkserver_lock = threading.Lock()
_main_hidden = threading.local()
_hide_lock = threading.Lock()


@contextlib.contextmanager
def _without_user_main() -> Iterator[None]:
    """Processes started in this block, by this thread, do not import the user's ``__main__`` script.

    multiprocessing hands every process it starts the path of the parent's main
    script, and the forkserver and each child import it as ``__mp_main__``: a
    user's ``python fit.py`` calling ``evosld.discover`` at module level, with no
    ``if __name__ == "__main__":`` guard, ran a second discovery inside every
    sandbox child (its evaluations all failed, a nested run directory appeared).
    The sandbox's children need nothing from that script (their target lives in
    ``evosld.evaluation.worker``), so while this thread starts them the
    preparation data multiprocessing sends leaves the main module out. Other
    threads, and the user's own pools, are untouched.
    """
    from multiprocessing import spawn

    with _hide_lock:  # wrap multiprocessing's function once per process
        if not getattr(spawn.get_preparation_data, "_evosld_wrapped", False):
            original = spawn.get_preparation_data

            def preparation_data(name: str) -> dict[str, Any]:
                data = original(name)
                if getattr(_main_hidden, "on", False):
                    for key in ("main_path", "init_main_from_path", "init_main_from_name"):
                        data.pop(key, None)
                return data

            preparation_data._evosld_wrapped = True  # type: ignore[attr-defined]
            spawn.get_preparation_data = preparation_data
    _main_hidden.on = True
    try:
        yield
    finally:
        _main_hidden.on = False


def _start_clean_forkserver(ctx: multiprocessing.context.BaseContext) -> None:
    """Start the forkserver with secrets removed and one BLAS thread.

    The forkserver's initial environment is what ``/proc/self/environ`` shows in
    every child, so secrets are unset (briefly, under a lock) while it starts.
    It imports numpy, whose BLAS sizes its thread pool from the environment at
    that moment and hands it to every forked child: started with the parent's
    default (one thread per core), candidates competing for the cores ran 10-25x
    slower (spinning BLAS threads) and some hit the CPU-time limit.
    """
    with _forkserver_lock:
        keys = [k for k in os.environ if is_secret(k)] + [k for k in worker.THREAD_ENV if k in os.environ]
        saved = {k: os.environ.pop(k) for k in keys}
        try:
            os.environ.update(worker.THREAD_ENV)
            from multiprocessing import forkserver

            with _without_user_main():
                forkserver.ensure_running()
        finally:
            for k in worker.THREAD_ENV:
                os.environ.pop(k, None)
            os.environ.update(saved)


class Sandbox:
    """Runs candidate programs; thread-safe, one child process per ``run``.

    Args:
        limits: default limits for every run.
        max_concurrent: how many runs may be in flight at once (threads calling
            ``run``); used to give each concurrent job its own user id as root.
    """

    def __init__(self, limits: Limits | None = None, max_concurrent: int = 16) -> None:
        self.limits = limits or Limits()
        self._ctx = multiprocessing.get_context("forkserver")
        self._ctx.set_forkserver_preload(["evosld.quiet_forkserver", "evosld.evaluation.worker"])
        self._as_root = os.geteuid() == 0
        if max_concurrent > UIDS_PER_PROCESS:
            raise ValueError(f"at most {UIDS_PER_PROCESS} concurrent runs per process")
        first = SANDBOX_UID_BASE + (os.getpid() % PID_MAX) * UIDS_PER_PROCESS
        self._free_uids = list(range(first, first + max_concurrent))
        self._uid_lock = threading.Lock()
        self._running: set[int] = set()  # process groups of the children in flight
        self._stopped = False
        if not self._as_root:
            _make_undumpable()
        sweep_stale_scratch()

    def warm_up(self) -> None:
        """Start the forkserver now rather than on the first run."""
        _start_clean_forkserver(self._ctx)

    def stop(self, refuse_new: bool = True) -> None:
        """Kill every child in flight and (unless ``refuse_new`` is False) refuse new runs.

        Used when a run is stopped by a signal: nothing it still has queued should start.
        """
        self._stopped = self._stopped or refuse_new
        for pid in list(self._running):
            _kill_group(pid)

    # ------------------------------------------------------------------
    def run(self, source: str, job: dict[str, Any], limits: Limits | None = None) -> RunResult:
        """Run ``source`` on ``job`` (see ``worker.run_job``) and report what happened.

        A child whose exit status was lost (``FORKSERVER_LOST``, what
        multiprocessing reports when the forkserver could not give it) has told
        nothing about the program, so it is run once more rather than scored as
        a failure of the law: on a new forkserver if that one died, else on the
        same one (see ``_await_forkserver_exit``). A program that really exits
        with 255 is reported after the second run.
        """
        result = self._run_once(source, job, limits)
        if result.error_kind == "exit" and result.exit_code == FORKSERVER_LOST and not self._stopped:
            _await_forkserver_exit()
            again = self._run_once(source, job, limits)
            return replace(again, duration=result.duration + again.duration)
        return result

    def _run_once(self, source: str, job: dict[str, Any], limits: Limits | None = None) -> RunResult:
        lim = limits or self.limits
        if self._stopped:
            return RunResult(None, "killed", "the run was stopped before this program started")
        uid = self._take_uid()
        scratch = tempfile.mkdtemp(prefix=_scratch_prefix())
        t0 = time.perf_counter()
        proc = None
        try:
            if uid is not None:
                os.chown(scratch, uid, uid)
            os.chmod(scratch, 0o700)
            _start_clean_forkserver(self._ctx)
            proc = self._ctx.Process(
                target=worker.child_main,
                args=(source, job, scratch, asdict(lim), uid),
                daemon=False,
            )
            try:
                with _without_user_main():
                    proc.start()
            except Exception as exc:  # noqa: BLE001 - e.g. the forkserver was killed
                if not _await_forkserver_exit():
                    _reset_forkserver()  # alive but refusing work: no run can use it
                _start_clean_forkserver(self._ctx)
                proc = self._ctx.Process(target=worker.child_main, args=(source, job, scratch, asdict(lim), uid))
                try:
                    with _without_user_main():
                        proc.start()
                except Exception:  # noqa: BLE001
                    return RunResult(None, "sandbox", f"could not start the sandbox: {exc}", duration=time.perf_counter() - t0)
            self._running.add(proc.pid)
            timed_out = self._await_child(proc, lim.wall_seconds)
            _kill_group(proc.pid)
            if timed_out:
                proc.join(5)
            duration = time.perf_counter() - t0
            return self._collect(proc.exitcode, timed_out, scratch, lim, duration)
        finally:
            if proc is not None:
                self._running.discard(proc.pid)
                _kill_group(proc.pid)
            if uid is not None:
                _kill_uid(uid)
                self._give_uid(uid)
            shutil.rmtree(scratch, ignore_errors=True)

    def _await_child(self, proc: Any, wall_seconds: float) -> bool:
        """Wait for ``proc`` to end; whether it outlived ``wall_seconds``.

        Waits in short slices so that a stop is acted on whenever it comes: a
        child that ``stop`` could not kill yet (it had not made its own process
        group, which it does first thing) is killed at the next slice rather
        than left running to its wall-clock limit.
        """
        deadline = time.monotonic() + wall_seconds
        while True:
            if self._stopped:
                _kill_group(proc.pid)
            left = deadline - time.monotonic()
            proc.join(max(0.0, min(STOP_POLL_SECONDS, left)))
            if proc.exitcode is not None:
                return False
            if left <= STOP_POLL_SECONDS:
                return True

    # ------------------------------------------------------------------
    def _take_uid(self) -> int | None:
        if not self._as_root:
            return None
        with self._uid_lock:
            if not self._free_uids:
                raise RuntimeError("more concurrent sandbox runs than max_concurrent")
            return self._free_uids.pop()

    def _give_uid(self, uid: int) -> None:
        with self._uid_lock:
            self._free_uids.append(uid)

    def _collect(self, exitcode: int | None, timed_out: bool, scratch: str, lim: Limits, duration: float) -> RunResult:
        stdout = _read_capped(os.path.join(scratch, worker.STDOUT_FILE), lim.output_chars)
        stderr = _read_capped(os.path.join(scratch, worker.STDERR_FILE), lim.output_chars)
        base = {"stdout": stdout, "stderr": stderr, "duration": duration, "exit_code": exitcode}
        if timed_out:
            return RunResult(None, "timeout", f"killed after the {lim.wall_seconds:g} s wall-clock limit", **base)
        value = None
        path = os.path.join(scratch, worker.RESULT_FILE)
        if exitcode == 0 and os.path.isfile(path) and not os.path.islink(path):
            if os.path.getsize(path) > lim.result_mb * 1024 * 1024:
                return RunResult(None, "bad_output", f"result larger than {lim.result_mb} MB", **base)
            try:
                with open(path, encoding="utf-8") as f:
                    value = json.load(f)
            except (OSError, ValueError):
                value = None
        if value is None:
            return RunResult(None, *_explain_exit(exitcode, lim), **base)
        if not isinstance(value, dict):
            return RunResult(None, "bad_output", "malformed result", **base)
        err = value.get("error")
        if err:
            return RunResult(None, str(err.get("kind", "exception")), str(err.get("message", ""))[:500],
                             error_group=err.get("group"), **base)
        return RunResult(value, None, "", **base)


def _scratch_prefix(pid: int | None = None) -> str:
    """Name start of a run's scratch folder: this host (a short hash of its whole name) and process, so a later
    sandbox can tell it is stale."""
    host = hashlib.sha256(socket.gethostname().encode("utf-8", "replace")).hexdigest()[:12]
    return f"{SCRATCH_PREFIX}{host}-{os.getpid() if pid is None else pid}-"


def sweep_stale_scratch(tmp: str | None = None, min_age: float = STALE_SCRATCH_SECONDS) -> int:
    """Remove the scratch folders that sandboxes of this host left behind when killed (``kill -9``: no
    ``finally`` ran); returns how many went.

    A folder goes only when all of these hold: it is named by ``_scratch_prefix`` for this host; the process
    it is named for no longer exists; it is this user's (as root: a sandbox user's or root's); and it has not
    changed for ``min_age`` seconds (a guard for processes this one cannot see, as in another PID namespace
    sharing /tmp). One that cannot be removed is left as it is.
    """
    tmp = tmp or tempfile.gettempdir()
    mine = re.compile(re.escape(_scratch_prefix(0)[:-2]) + r"(\d+)-")
    me = os.geteuid()
    removed = 0
    try:
        names = os.listdir(tmp)
    except OSError:
        return 0
    for name in names:
        m = mine.match(name)
        pid = int(m.group(1)) if m else os.getpid()
        if pid == os.getpid():
            continue
        try:
            os.kill(pid, 0)
            continue  # alive
        except ProcessLookupError:
            pass
        except (PermissionError, OverflowError, OSError):
            continue  # another user's live process, or not a process id at all
        path = os.path.join(tmp, name)
        try:
            st = os.lstat(path)
        except OSError:
            continue
        ours = st.st_uid == me or (me == 0 and st.st_uid >= SANDBOX_UID_BASE)
        if not ours or not stat.S_ISDIR(st.st_mode) or time.time() - st.st_mtime < min_age:
            continue
        shutil.rmtree(path, ignore_errors=True)
        removed += not os.path.exists(path)
    return removed


def _explain_exit(exitcode: int | None, lim: Limits) -> tuple[str, str]:
    if exitcode is None:
        return "killed", "the process did not finish"
    if exitcode < 0:
        sig = -exitcode
        name = signal.Signals(sig).name if sig in signal.Signals._value2member_map_ else str(sig)
        if sig == signal.SIGXCPU:
            return "timeout", f"CPU-time limit of {lim.cpu_seconds} s reached"
        if sig == signal.SIGSEGV:
            return "killed", "crashed with a segmentation fault (deep recursion or a native crash)"
        return "killed", f"killed by signal {name}"
    if exitcode == 70:
        return "sandbox", "the sandbox could not confine the process"
    if exitcode == 71:
        return "bad_output", f"result could not be written (file-size limit of {lim.file_size_mb} MB?)"
    return "exit", f"the program exited with code {exitcode} before returning a result"


def _read_capped(path: str, limit: int) -> str:
    try:
        with open(path, "rb") as f:
            data = f.read(limit + 1)
    except OSError:
        return ""
    text = data[:limit].decode("utf-8", errors="replace")
    return text + ("\n[... output truncated]" if len(data) > limit else "")


def _kill_group(pid: int | None) -> None:
    if pid is None:
        return
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError, OSError):
        pass


def _kill_uid(uid: int) -> None:
    """Kill every process owned by ``uid`` (the job's own id), including escapees."""
    for _ in range(50):
        found = False
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                if os.stat(f"/proc/{entry}").st_uid == uid and not _is_zombie(entry):
                    found = True
                    os.kill(int(entry), signal.SIGKILL)
            except (OSError, ProcessLookupError):
                pass
        if not found:
            return
        time.sleep(0.01)


def _is_zombie(pid: str) -> bool:
    """A dead process waiting to be reaped (it holds no resources)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] in (b"Z", b"X")
    except (OSError, IndexError):
        return True


def _await_forkserver_exit(wait: float = FORKSERVER_EXIT_WAIT) -> bool:
    """Whether the forkserver has exited, waiting up to ``wait`` s for one on its way out.

    The forkserver is shared by every run in flight. When it dies, each of them
    sees its child lost at once and runs its program again; the next start
    (``ensure_running``) finds the dead forkserver, reaps it and starts a new
    one, once. It must not be stopped here: stopping it (as this did) lost the
    children other threads were running on it, and when one of those threads
    woke late under load its own stop hit the new forkserver, so the first
    thread's second try came back lost as well and its law was scored -1 (the
    kill -9 and resume test's flake: the two runs then drew different parents).
    Waiting lets a forkserver whose pipes have closed finish exiting, so that
    ``ensure_running`` does not take it for alive. Nothing is reaped here.
    """
    from multiprocessing import forkserver

    pid = forkserver._forkserver._forkserver_pid
    if pid is None or not hasattr(os, "waitid"):
        return pid is None
    deadline = time.monotonic() + wait
    while True:
        try:
            if os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
                return True
        except ChildProcessError:  # reaped already (another thread restarted it)
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.01)


def _reset_forkserver() -> None:
    """Stop and forget the forkserver (one that is alive but cannot start children)."""
    from multiprocessing import forkserver

    fs = forkserver._forkserver
    with _forkserver_lock:
        try:
            fs._stop()
        except Exception:  # noqa: BLE001
            pass


def _make_undumpable() -> None:
    """Hide this process's /proc entries (environ, memory) from same-user children."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        PR_SET_DUMPABLE = 4
        libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    except (OSError, AttributeError):
        pass


__all__ = ["Limits", "RunResult", "Sandbox", "is_secret"]

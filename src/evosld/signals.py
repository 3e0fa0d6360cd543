"""Stopping a run when a person or a scheduler asks: SIGINT (Ctrl-C) and SIGTERM.

The first signal only *asks* the run to stop: the loop stops proposing, kills
the sandboxes in flight and the run finishes as a budget stop does (final
pick, test scored once, best.json, report). A second signal while it finishes
raises :class:`Aborted` at once; the store stays resumable (everything in it
was committed as it happened).

    stop = StopRequest()
    with catch_stop_signals(stop):
        stop.on_request(loop.request_stop)
        ...
    if stop.signum is not None:
        sys.exit(stop.exit_code)          # 130 for SIGINT, 143 for SIGTERM
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

#: Signals that stop a run cleanly.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def exit_code_for(signum: int) -> int:
    """The shell's convention: 128 + the signal number (130 for SIGINT, 143 for SIGTERM)."""
    return 128 + int(signum)


def signal_name(signum: int) -> str:
    """``SIGINT (Ctrl-C)`` or ``SIGTERM``."""
    name = signal.Signals(signum).name
    return f"{name} (Ctrl-C)" if signum == signal.SIGINT else name


class Aborted(KeyboardInterrupt):
    """A second stop signal arrived while the run was finishing; it ended at once.

    A subclass of KeyboardInterrupt, so code that already lets Ctrl-C through
    lets this through too. ``signum`` is the signal that aborted.
    """

    def __init__(self, signum: int, message: str = "") -> None:
        super().__init__(message or f"aborted by a second {signal_name(signum)}")
        self.signum = signum


class Interrupted(KeyboardInterrupt):
    """A stop signal ended a command before it had a run to finish (``evosld.entry`` raises it for SIGTERM, as
    Python raises KeyboardInterrupt for SIGINT): the command says so in one line and exits 128 + ``signum``."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"interrupted by {signal_name(signum)}")
        self.signum = signum


def stop_line(exc: KeyboardInterrupt) -> tuple[str, int]:
    """What a command that a stop ended says, and its exit code: ``("interrupted", 130)`` for SIGINT,
    ``("interrupted by SIGTERM", 143)`` for an :class:`Interrupted` from SIGTERM."""
    signum = getattr(exc, "signum", signal.SIGINT)
    return ("interrupted" if signum == signal.SIGINT else str(exc)), exit_code_for(signum)


def exit_on_next_stop(code: int) -> None:
    """From now on, SIGINT or SIGTERM ends the process at once with ``code`` (main thread only).

    For the process's own entry point (``evosld.entry``), never a library call: the handlers stay.

    For a command that is already ending because of a stop: its threads and
    Python's exit handlers may take a moment, and a second Ctrl-C landing in
    them printed an "Exception ignored ... KeyboardInterrupt" traceback under
    the command's "interrupted" line. Everything worth keeping was written
    before (atomic files, committed transactions).
    """
    def now(_signum: int, _frame: object) -> None:
        os._exit(code)

    for stream in (sys.stdout, sys.stderr):  # what was printed reaches its file before any os._exit
        with contextlib.suppress(Exception):
            stream.flush()
    if threading.current_thread() is threading.main_thread():
        for s in STOP_SIGNALS:
            signal.signal(s, now)


def raise_interrupted(signum: int, _frame: object) -> None:
    """A signal handler: raise :class:`Interrupted` in the main thread."""
    raise Interrupted(signum)


@dataclass
class StopRequest:
    """A thread-safe "please stop" flag that remembers which signal asked.

    Callbacks registered with :meth:`on_request` run in the thread that calls
    :meth:`request` (the main thread for a signal): they must be idempotent and
    only set flags or wake an event loop, never take locks that thread may
    hold. No lock is taken here either, for the same reason (list appends are
    atomic).
    """

    signum: int | None = None
    _callbacks: list[Callable[[], None]] = field(default_factory=list)

    @property
    def requested(self) -> bool:
        """True once a stop was asked for."""
        return self.signum is not None

    @property
    def exit_code(self) -> int:
        """130 / 143 for SIGINT / SIGTERM; 0 when no stop was asked for."""
        return 0 if self.signum is None else exit_code_for(self.signum)

    def on_request(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` when a stop is requested (now, if it already was)."""
        self._callbacks.append(callback)
        if self.signum is not None:
            callback()

    def request(self, signum: int = signal.SIGINT) -> None:
        """Ask the run to stop; a second request raises :class:`Aborted`."""
        if self.signum is not None:
            raise Aborted(signum)
        self.signum = signum
        for cb in list(self._callbacks):
            cb()


@contextmanager
def catch_stop_signals(stop: StopRequest, forward: Callable[[int], None] | None = None) -> Iterator[StopRequest]:
    """Route SIGINT and SIGTERM to ``stop`` inside the block; restore the old handlers after.

    ``forward`` is called with every signal first (e.g. to pass it on to child
    processes), the second one included. Outside the main thread (where Python
    cannot install handlers) this does nothing: the caller's own Ctrl-C
    handling applies.
    """
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def handler(signum: int, _frame: object) -> None:
        if forward is not None:
            forward(signum)
        stop.request(signum)

    previous = {s: signal.signal(s, handler) for s in STOP_SIGNALS}
    try:
        yield stop
    finally:
        for s, old in previous.items():
            signal.signal(s, old if old is not None else signal.SIG_DFL)

"""Live progress for long runs (rich): iteration, best val R², evals/s, time against budget, LLM use.

The line is rendered afresh at every refresh, so the clock keeps running (and
says what the LLM calls are waiting on) between generations.
"""

from __future__ import annotations

import time

from rich.console import Console
from rich.live import Live
from rich.text import Text

from evosld.search.status import LoopStatus


def status_line(s: LoopStatus, budget_seconds: float | None = None, max_iterations: int | None = -1,
                now: float | None = None) -> str:
    """One line describing the run so far.

    Args:
        s: the loop's status (``s.started`` counts the time of earlier sessions of a resumed run).
        budget_seconds: the run's time budget (None: none).
        max_iterations: the iteration limit shown as ``/N``; None for a run bounded by time
            only; -1 (default) takes ``s.max_iterations``.
        now: the monotonic time (default: now).
    """
    best = "—" if s.best_val_r2 is None else f"{s.best_val_r2:.4f}"
    elapsed = (time.monotonic() if now is None else now) - s.started
    limit = s.max_iterations if max_iterations == -1 else max_iterations
    iteration = f"iteration {s.iteration}" + (f"/{limit}" if limit else "")
    if s.unchanged:
        iteration += f" ({s.unchanged} found nothing new)"
    clock = f"{elapsed:.0f}s" + (f"/{budget_seconds:.0f}s" if budget_seconds else "")
    if s.stopped or (budget_seconds and elapsed >= budget_seconds):
        clock += ", finishing"
    parts = [
        iteration,
        f"best val R² {best}",
        f"{s.evaluations} evals ({s.failures} failed)",
        f"{s.evals_per_second:.1f} evals/s",
        clock,
    ]
    if s.llm_calls:
        parts.append(f"LLM {s.llm_calls} calls, {s.tokens:,} tokens, ${s.cost_usd:.4f}")
    activity = s.activity() if s.activity is not None else None
    if activity:
        parts.append(activity)
    return " | ".join(parts)


class RichProgress:
    """A live one-line display; use as a context manager and as the loop's callback.

    Args:
        console: where to draw (default: stderr).
        budget_seconds: the run's time budget, shown as ``/Ns``.
        max_iterations: the iteration limit shown as ``/N`` (None: the run is bounded by time only).
    """

    def __init__(self, console: Console | None = None, budget_seconds: float | None = None,
                 max_iterations: int | None = None) -> None:
        self.console = console or Console(stderr=True)
        self.budget_seconds = budget_seconds
        self.max_iterations = max_iterations
        self._status: LoopStatus | None = None
        self._last = ""
        # Not a terminal (a pipe, a log file): no live redrawing; the last line is printed once, at the end.
        self._live = Live(console=self.console, refresh_per_second=4, transient=False,
                          get_renderable=self._render) if self.console.is_terminal else None

    def _render(self) -> Text:
        if self._status is None:
            return Text("starting…")
        return Text(status_line(self._status, self.budget_seconds, self.max_iterations))

    def __enter__(self) -> RichProgress:
        if self._live is not None:
            self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.__exit__(*exc)
        elif self._last:
            self.console.print(self._last, highlight=False, soft_wrap=True)

    def __call__(self, status: LoopStatus) -> None:
        self._status = status
        self._last = status_line(status, self.budget_seconds, self.max_iterations)
        if self._live is not None:
            self._live.refresh()

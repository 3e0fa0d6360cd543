"""See the result of a run: figures and one self-contained HTML page.

    from evosld.report import write_report
    path = write_report("runs/moe-seed1")      # -> runs/moe-seed1/report.html

``write_report`` reads the run store, refits the best law and the task's
reference law in the sandbox (never in this process), draws the figures and
writes ``report.html`` plus the figures as ``report-<name>.png`` beside it.
"""

from __future__ import annotations

from pathlib import Path

from evosld.report.collect import ReportData, ReportError, collect
from evosld.report.figures import render_figures
from evosld.report.html import render_html
from evosld.run.outputs import write_atomic
from evosld.tasks.task import Task

REPORT_FILE = "report.html"
FIGURE_PREFIX = "report-"


def figure_path(run_dir: str | Path, name: str) -> Path:
    """Where the PNG of figure ``name`` is written."""
    return Path(run_dir) / f"{FIGURE_PREFIX}{name}.png"


def write_report(
    run_dir: str | Path,
    task: Task | None = None,
    data_dir: str | None = None,
    *,
    x_feature: str | None = None,
) -> Path:
    """Write ``report.html`` (and the figures as PNG files) into a run directory.

    Args:
        run_dir: a directory written by ``evosld discover``.
        task: the run's task; rebuilt from the store (and ``data_dir``) when not given.
        data_dir: where the built-in task tables live (default: ``$EVOSLD_DATA``, else the Hub).
        x_feature: feature on the extrapolation figure's x axis (default: the
            log-scale feature with the most distinct values, else the first).
    Returns:
        The path of ``report.html``.
    Raises:
        ConfigError: ``run_dir`` is not a run directory, or ``x_feature`` is unknown.
        ReportError: no program of the run was evaluated successfully.
    """
    run_dir = Path(run_dir)
    data = collect(run_dir, task=task, data_dir=data_dir, x_feature=x_feature)
    images = render_figures(data)
    for name, png in images.items():
        write_atomic(figure_path(run_dir, name), png)
    out = run_dir / REPORT_FILE
    write_atomic(out, render_html(data, images))
    return out


__all__ = ["REPORT_FILE", "ReportData", "ReportError", "collect", "figure_path", "render_figures",
           "render_html", "write_report"]

"""Reading a run directory back: its chosen law and how to rebuild its task.

Used by ``evosld eval RUN_DIR``, which scores a run's law again without
naming the program file or the task. Opening the store validates it, so a
damaged or foreign store ends with one error line and is never written.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evosld.errors import DataError
from evosld.run.outputs import STORE_FILE
from evosld.run.store import RunStore
from evosld.run.summary import DATA_STATE, RunSummary


@dataclass(frozen=True)
class RunLaw:
    """A run's chosen law (its final pick, else its best on validation) and its task's spec."""

    program_id: int
    source: str
    task_spec: dict[str, Any]
    started_on: str | None = None  # the digest of the table it started on (``summary.DATA_STATE``; None: not recorded)
    finished: bool = True  # False: the run has not made its final pick (running, or stopped before it)

    def unfinished_warning(self, run_dir: str | Path) -> str | None:
        """The line to show when the law is not a finished run's pick (None when it is)."""
        if self.finished:
            return None
        return (f"{run_dir} has not finished (it is running, or stopped before its law was picked and scored on "
                f"test): law {self.program_id} is the one its best files name so far; "
                f"`evosld discover --resume {run_dir}` finishes it")


def run_law(run_dir: str | Path, program_id: int | None = None) -> RunLaw:
    """The law a run chose (or its program ``program_id``) and how to rebuild its task.

    Raises:
        ConfigError: ``run_dir`` holds no run store.
        StoreError / OutputError: the store is damaged, foreign, newer or unreadable.
        DataError: no program of the run has been evaluated successfully yet, or it has no program ``program_id``.
    """
    path = Path(run_dir) / STORE_FILE
    with RunStore.open(path) as store:
        info = store.run()
        if program_id is not None:
            try:
                best = store.program(program_id)
            except KeyError:
                raise DataError(f"{run_dir} has no law {program_id}; best.json names the chosen one and those "
                                "it was weighed against (selection)") from None
        else:
            best = store.final()
        if best is None:
            raise DataError(f"{run_dir} holds no law that ran successfully yet; resume the run first")
        return RunLaw(best.id, best.source, info.config.get("task_spec") or {"name": info.task},
                      store.get_state(DATA_STATE), finished=RunSummary.from_store(store).finished)

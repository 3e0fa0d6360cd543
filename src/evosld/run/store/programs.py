"""Programs and their validation and test evaluations: writes, reads, the best, the final pick and the history."""

from __future__ import annotations

import bisect
import math
import time
from collections.abc import Mapping
from typing import Any, Literal

from evosld.program import Program
from evosld.run.store.base import StoreBase
from evosld.run.store.records import (
    _EVAL_COLUMNS,
    _PROGRAM_COLUMNS,
    HistoryPoint,
    StoredProgram,
    StoredTestEvaluation,
    _dumps,
    _float_or_none,
    _loads,
    _program_from_row,
)
from evosld.run.store.schema import FINAL_STATE, FINISH_PROPOSERS, SEARCH_BEST


class ProgramTables(StoreBase):
    """Programs and their validation and test evaluations: writes, reads, the best, the final pick and the history (a part of :class:`~evosld.run.store.RunStore`)."""

    def add_program(
        self,
        source: str,
        *,
        parent_id: int | None = None,
        island: int = 0,
        iteration: int = 0,
        proposer: str = "",
        meta: Mapping[str, Any] | None = None,
        digest: str | None = None,
    ) -> int:
        """Store a new program (before it is evaluated); returns its id (1, 2, ...).

        ``digest`` defaults to ``Program(source).digest``.
        """
        return self._write(
            "INSERT INTO programs (source, digest, parent_id, island, iteration, proposer, meta, created)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                source,
                digest or Program(source).digest,
                parent_id,
                int(island),
                int(iteration),
                proposer,
                _dumps(dict(meta or {})),
                time.time(),
            ),
        )

    def add_evaluation(
        self,
        program_id: int,
        metrics: Mapping[str, Any],
        *,
        r2: float | None = None,
        error_kind: str | None = None,
        error: str | None = None,
        duration: float | None = None,
    ) -> None:
        """Store a program's validation evaluation (one per program).

        ``metrics`` is the evaluator's flat record (``Evaluation.metrics()``);
        ``r2``, ``error_kind``, ``error`` and ``duration`` are read from it
        unless given. A failed evaluation is stored like any other, with its
        ``error_kind``.

        Raises:
            ValueError: ``metrics["split"]`` is not ``"val"`` (test results go
                to :meth:`add_test_evaluation`), the program does not exist or
                already has an evaluation.
        """
        split = metrics.get("split", "val")
        if split != "val":
            raise ValueError(
                f"add_evaluation stores validation results only (got split {split!r}); "
                "use add_test_evaluation for test results"
            )
        self._write(
            "INSERT INTO evaluations (program_id, split, metrics, r2, error_kind, error, duration, created)"
            " VALUES (?, 'val', ?, ?, ?, ?, ?, ?)",
            (
                int(program_id),
                _dumps(dict(metrics)),
                _float_or_none(r2 if r2 is not None else metrics.get("r2")),
                error_kind if error_kind is not None else metrics.get("error_kind"),
                error if error is not None else metrics.get("error"),
                _float_or_none(duration if duration is not None else metrics.get("duration")),
                time.time(),
            ),
        )

    def add_test_evaluation(self, program_id: int, metrics: Mapping[str, Any], params: Any = None) -> None:
        """Store (or replace) a program's test-split result and fitted parameters.

        Kept apart from validation: no query the search uses reads it.
        """
        self._write(
            "INSERT INTO test_evaluations (program_id, metrics, params, r2, created) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (program_id) DO UPDATE SET metrics = excluded.metrics,"
            " params = excluded.params, r2 = excluded.r2, created = excluded.created",
            (
                int(program_id),
                _dumps(dict(metrics)),
                None if params is None else _dumps(params),
                _float_or_none(metrics.get("r2")),
                time.time(),
            ),
        )

    def program(self, program_id: int) -> StoredProgram:
        """One program with its validation evaluation (KeyError if unknown)."""
        rows = self._query(
            f"SELECT {_PROGRAM_COLUMNS}, {_EVAL_COLUMNS} FROM programs p"
            " LEFT JOIN evaluations e ON e.program_id = p.id WHERE p.id = ?",
            (int(program_id),),
        )
        if not rows:
            raise KeyError(program_id)
        return _program_from_row(rows[0])

    def programs(self, order: Literal["id", "evaluated"] = "id") -> list[StoredProgram]:
        """Stored programs with their validation evaluation joined (None if not evaluated).

        Args:
            order: ``"id"`` — all programs, in insertion order; ``"evaluated"``
                — only evaluated programs, in the order their evaluations were
                stored (the order to replay them into a ``ProgramDatabase``).
        """
        if order == "id":
            sql = (
                f"SELECT {_PROGRAM_COLUMNS}, {_EVAL_COLUMNS} FROM programs p"
                " LEFT JOIN evaluations e ON e.program_id = p.id ORDER BY p.id"
            )
        elif order == "evaluated":
            sql = (
                f"SELECT {_PROGRAM_COLUMNS}, {_EVAL_COLUMNS} FROM evaluations e"
                " JOIN programs p ON p.id = e.program_id ORDER BY e.seq"
            )
        else:
            raise ValueError(f"order must be 'id' or 'evaluated', got {order!r}")
        return [_program_from_row(r) for r in self._query(sql)]

    def unevaluated_programs(self) -> list[StoredProgram]:
        """Programs stored without an evaluation (in flight when the run stopped), by id."""
        rows = self._query(
            f"SELECT {_PROGRAM_COLUMNS} FROM programs p"
            " WHERE NOT EXISTS (SELECT 1 FROM evaluations e WHERE e.program_id = p.id) ORDER BY p.id"
        )
        return [_program_from_row(r) for r in rows]

    def find_digest(self, digest: str) -> list[int]:
        """Ids of the programs whose source has this digest (duplicates), oldest first."""
        return [r[0] for r in self._query("SELECT id FROM programs WHERE digest = ? ORDER BY id", (digest,))]

    def program_count(self) -> int:
        """Number of stored programs."""
        return int(self._query("SELECT COUNT(*) FROM programs")[0][0])

    def evaluation_count(self, *, ok_only: bool = False) -> int:
        """Number of validation evaluations (only successful ones with ``ok_only``)."""
        where = " WHERE error_kind IS NULL" if ok_only else ""
        return int(self._query(f"SELECT COUNT(*) FROM evaluations{where}")[0][0])

    def test_evaluation(self, program_id: int) -> StoredTestEvaluation | None:
        """A program's test result, or None. For reports only."""
        rows = self._query(
            "SELECT program_id, metrics, params, r2, created FROM test_evaluations WHERE program_id = ?",
            (int(program_id),),
        )
        return self._test_from_row(rows[0]) if rows else None

    def test_evaluations(self) -> list[StoredTestEvaluation]:
        """All test results, by program id. For reports only."""
        rows = self._query(
            "SELECT program_id, metrics, params, r2, created FROM test_evaluations ORDER BY program_id"
        )
        return [self._test_from_row(r) for r in rows]

    @staticmethod
    def _test_from_row(row: tuple[Any, ...]) -> StoredTestEvaluation:
        return StoredTestEvaluation(row[0], _loads(row[1]), _loads(row[2]), row[3], row[4])

    def best(self, split: Literal["val", "test"] = "val", metric: str = "r2",
             exclude: tuple[str, ...] = ()) -> StoredProgram | None:
        """The program with the highest ``metric`` on ``split`` (ties: oldest), or None.

        Only successful evaluations count. ``split="val"`` is what the search
        may use; ``split="test"`` ranks by the stored test results and is for
        reports only. ``metric`` is ``"r2"`` or any numeric key of the metrics.
        ``exclude``: proposers whose programs do not count (``split="val"``).
        """
        if split == "val":
            marks = ", ".join("?" for _ in exclude)
            rows = self._query(
                "SELECT e.program_id, e.metrics, e.r2 FROM evaluations e JOIN programs p ON p.id = e.program_id"
                f" WHERE e.error_kind IS NULL{f' AND p.proposer NOT IN ({marks})' if exclude else ''}"
                " ORDER BY e.program_id", tuple(exclude))
        elif split == "test":
            rows = self._query("SELECT program_id, metrics, r2 FROM test_evaluations ORDER BY program_id")
            rows = [r for r in rows if not (_loads(r[1]) or {}).get("error_kind")]
        else:
            raise ValueError(f"split must be 'val' or 'test', got {split!r}")
        best_id, best_value = None, -math.inf
        for pid, metrics_json, r2 in rows:
            value = r2 if metric == "r2" else _float_or_none((_loads(metrics_json) or {}).get(metric))
            if value is not None and math.isfinite(value) and value > best_value:
                best_id, best_value = pid, value
        return None if best_id is None else self.program(best_id)

    def final(self) -> StoredProgram | None:
        """The run's chosen law: the one recorded as ``final_program_id`` when the
        run finished (parsimony-aware pick), else the law the search's best files
        name (``SEARCH_BEST``, recorded with them), else the best on validation
        of the search's own programs (the finish's refits, ``FINISH_PROPOSERS``,
        count once the final pick has checked them). A resumed session clears
        the final pick until it makes its own."""
        for key in (FINAL_STATE, SEARCH_BEST):
            pid = self.get_state(key)
            if pid is not None:
                return self.program(int(pid))
        return self.best("val", exclude=FINISH_PROPOSERS) or self.best("val")

    def history(self) -> list[HistoryPoint]:
        """Every validation evaluation of the search in the order stored: iteration, time, R², best so far.

        The programs the final pick stores after the search (``FINISH_PROPOSERS``) are left out.
        """
        start = self.run().created
        marks = ", ".join("?" for _ in FINISH_PROPOSERS)
        rows = self._query(
            "SELECT e.program_id, p.iteration, e.created, e.r2, e.error_kind FROM evaluations e"
            f" JOIN programs p ON p.id = e.program_id WHERE p.proposer NOT IN ({marks}) ORDER BY e.seq",
            FINISH_PROPOSERS,
        )
        sessions = self.sessions()
        starts = [t for t, _, _ in sessions]
        points: list[HistoryPoint] = []
        best: float | None = None
        for pid, iteration, created, r2, kind in rows:
            ok = kind is None
            if ok and r2 is not None and math.isfinite(r2) and (best is None or r2 > best):
                best = r2
            at = bisect.bisect_right(starts, created) - 1
            searched = created - start if at < 0 else sessions[at][1] + created - sessions[at][0]
            points.append(HistoryPoint(pid, iteration, created - start, r2, ok, best, max(0.0, searched)))
        return points

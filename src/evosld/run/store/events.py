"""Events and the loop's resumable state (key -> JSON value), and the sessions read from the events."""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from typing import Any

from evosld.run.store.base import StoreBase
from evosld.run.store.records import Event, _dumps, _loads
from evosld.run.store.schema import SESSION_EVENT


class EventTables(StoreBase):
    """Events and the loop's resumable state (key -> JSON value), and the sessions read from the events (a part of :class:`~evosld.run.store.RunStore`)."""

    def add_event(self, kind: str, data: Any = None) -> int:
        """Store a timestamped event (``data``: anything JSON-able); returns its id."""
        return self._write(
            "INSERT INTO events (time, kind, data) VALUES (?, ?, ?)", (time.time(), kind, _dumps(data))
        )

    def set_state(self, key: str, value: Any) -> None:
        """Set one state entry (``value``: anything JSON-able)."""
        self._write(
            "INSERT INTO state (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, _dumps(value)),
        )

    def update_state(self, values: Mapping[str, Any]) -> None:
        """Set several state entries in one transaction."""
        with self.batch():
            for key, value in values.items():
                self.set_state(key, value)

    # -- reads -------------------------------------------------------------------

    def get_state(self, key: str, default: Any = None) -> Any:
        """A state entry, or ``default`` when it was never set."""
        rows = self._query("SELECT value FROM state WHERE key = ?", (key,))
        return _loads(rows[0][0]) if rows else default

    def state(self) -> dict[str, Any]:
        """All state entries."""
        return {k: _loads(v) for k, v in self._query("SELECT key, value FROM state ORDER BY key")}

    def sessions(self) -> list[tuple[float, float, bool]]:
        """(clock time, searched seconds before it, resumed?) of each session's start, in order (``SESSION_EVENT``)."""
        out = []
        for e in self.events(SESSION_EVENT):
            data = e.data if isinstance(e.data, dict) else {}
            before = data.get("elapsed_before")
            if isinstance(before, (int, float)) and not isinstance(before, bool) and math.isfinite(before):
                out.append((e.time, float(before), bool(data.get("resumed"))))
        return sorted(out)

    def events(self, kind: str | None = None) -> list[Event]:
        """Stored events (of one ``kind`` if given), in order."""
        if kind is None:
            rows = self._query("SELECT id, time, kind, data FROM events ORDER BY id")
        else:
            rows = self._query("SELECT id, time, kind, data FROM events WHERE kind = ? ORDER BY id", (kind,))
        return [Event(r[0], r[1], r[2], _loads(r[3])) for r in rows]

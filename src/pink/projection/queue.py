"""A bounded, coalescing queue for one projection sink (F8).

States (slot and account views) coalesce: only the latest view per key is
kept, so their number is bounded by the number of keys. Trade events
(FillBooked, TradeClosed, Settlement, ...) are never coalesced: they are kept
in order, up to ``max_events``; past the bound the oldest is dropped and
counted in ``drops`` (the last one's wall time in ``last_drop_ns``). Every operation is O(1) and never blocks.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterable

__all__ = ["SinkQueue"]


class SinkQueue:
    __slots__ = ("drops", "events", "last_drop_ns", "max_events", "states")

    def __init__(self, max_events: int = 10_000) -> None:
        if max_events < 1:
            raise ValueError("max_events must be at least 1")
        self.max_events = max_events
        self.states: dict[str, object] = {}
        self.events: deque[object] = deque()
        self.drops = 0
        self.last_drop_ns = 0  # ns since the epoch of the last drop (0: none yet)

    def put_state(self, key: str, view: object) -> None:
        self.states[key] = view

    def put_event(self, record: object) -> None:
        events = self.events
        if len(events) >= self.max_events:
            events.popleft()
            self.drops += 1
            self.last_drop_ns = time.time_ns()
        events.append(record)

    @property
    def depth(self) -> int:
        return len(self.states) + len(self.events)

    def __bool__(self) -> bool:
        return bool(self.states) or bool(self.events)

    def take(self, max_events: int) -> tuple[list[tuple[str, object]], list[object]]:
        """Everything pending for states, and up to ``max_events`` events in order."""
        states = list(self.states.items())
        self.states.clear()
        n = min(max_events, len(self.events))
        events = [self.events.popleft() for _ in range(n)]
        return states, events

    def give_back(self, states: Iterable[tuple[str, object]], events: list[object]) -> None:
        """Return a batch that failed: newer pending states win; events go first again."""
        for key, view in states:
            self.states.setdefault(key, view)
        self.events.extendleft(reversed(events))
        while len(self.events) > self.max_events:
            self.events.popleft()
            self.drops += 1
            self.last_drop_ns = time.time_ns()

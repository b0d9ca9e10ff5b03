"""Where a kernel outcome's results go, for the owner task of :mod:`pink.runtime.loop`.

* effects: collected, handed to the executor after the batch's journal commit;
* records: to the ledger outbox after that commit (a kill before it must not
  leave ledger rows the journal never had), intents to the state plane's
  ring, every record to the projection when one was asked for. A refused
  intent changes nothing, but the journaled kernel journals its record (the
  position handed with it is its own), so the ledger's catch-up from the
  journal gives its ``policy_events`` row again like any other;
* views: the touched slots' views (only those, E19) and the account view
  after a settlement are rebuilt once per batch and written to the state
  plane and the projection, again after the commit.

The runtime's ``slots``/``account``/``working`` are the copies kept here.
"""

from __future__ import annotations

from collections.abc import Callable

from pink.kernel.consts import R_VENUE_REJECTED
from pink.kernel.messages import Effect, IntentRecorded, KernelRecord, Outcome, SlotChanged
from pink.kernel.views import AccountView, OrderView, SlotView
from pink.runtime.ports_ext import KernelViews, NullProjection, ProjectionSink, RecordSink, StateSink
from pink.runtime.stats import RunStats

__all__ = ["Outputs"]


class Outputs:
    """Routes outcomes (owner task only); see the module docstring."""

    def __init__(
        self,
        views: KernelViews,
        slots: int,
        stats: RunStats,
        *,
        ledger: RecordSink,
        plane: StateSink,
        projection: ProjectionSink,
        journal_position: Callable[[], int | None],
    ) -> None:
        self._v = views
        self.stats = stats
        self.ledger = ledger
        self.plane = plane
        self.projection = projection
        self._project_events = not isinstance(projection, NullProjection)
        self._position = journal_position
        self.slots: list[SlotView] = [views.slot_view(i) for i in range(slots)]
        self.account: AccountView = views.account_view()
        self.working: list[OrderView] = list(views.working_orders())  # as of the last snapshot
        self._working_dirty = False
        self._effects: list[tuple[Effect, ...]] = []
        self._records: list[tuple[tuple[KernelRecord, ...], int | None]] = []
        self._dirty: set[int] = set()  # slots whose view is stale
        self._changed: set[int] = set()  # slots whose new view is not yet published
        self._account_dirty = False
        self._account_changed = False

    def route(self, outcome: Outcome) -> None:
        """Take one outcome's effects and records; mark what it touched."""
        if outcome.effects:
            self._effects.append(outcome.effects)
        self.stats.statuses[outcome.status.value] += 1
        if outcome.reason is R_VENUE_REJECTED:  # (rare: a call only then)
            self.stats.observe_rejection(outcome)
        if outcome.slot >= 0:
            self._dirty.add(outcome.slot)
        records = outcome.records
        if not records:
            return
        self._records.append((records, self._position()))
        project = self._project_events
        for r in records:
            if type(r) is SlotChanged:
                self._dirty.add(r.slot)
            elif type(r) is IntentRecorded:
                self.plane.push_intent(r)
            if project:
                self.projection.put_event(r)
        if self.stats.observe(records):
            self._account_dirty = True

    # ------------------------------------------------------------------ views

    def refresh(self) -> None:
        """Rebuild the views of the slots touched since the last call and the account
        after a settlement; remember which changed, for :meth:`hand_over` to publish."""
        if self._dirty:
            dirty, self._dirty = self._dirty, set()
            n = len(self.slots)
            for i in dirty:
                if 0 <= i < n:
                    self._rebuild(i)
        if self._account_dirty:
            self._account_dirty = False
            self.account = self._v.account_view()
            self._account_changed = True

    def slot(self, i: int) -> SlotView:
        """Slot ``i``'s view, rebuilt first if something touched it."""
        if i not in self._dirty:
            return self.slots[i]
        self._dirty.discard(i)
        return self._rebuild(i)

    def _rebuild(self, i: int) -> SlotView:
        self._working_dirty = True
        view = self._v.slot_view(i)
        if view.version != self.slots[i].version:
            self.slots[i] = view
            self._changed.add(i)
        return view

    def working_orders(self) -> list[OrderView]:
        """The working orders, read again only when a slot changed since the last read."""
        if self._working_dirty:
            self.working = list(self._v.working_orders())
            self._working_dirty = False
        return self.working

    def publish_all(self) -> None:
        """Every view, changed or not, once (at start: readers never wait for the first change)."""
        self.slots = [self._v.slot_view(i) for i in range(len(self.slots))]
        self.account = self._v.account_view()
        self._dirty.clear()
        self._account_dirty = False
        self._working_dirty = True
        self._changed.update(range(len(self.slots)))
        self._account_changed = True
        self._publish_changed()

    # ------------------------------------------------------- after the commit

    def hand_over(self, execute: Callable[[tuple[Effect, ...]], None]) -> None:
        """After the batch's journal commit: views, then ledger records, then effects."""
        self.refresh()
        self._publish_changed()
        rows, self._records = self._records, []
        for records, position in rows:
            self.ledger.put(records, position)
        effects, self._effects = self._effects, []
        for group in effects:
            execute(group)

    def _publish_changed(self) -> None:
        for i in self._changed:
            view = self.slots[i]
            self.plane.write_slot(view)
            self.projection.put_slot(view)
        self._changed.clear()
        if self._account_changed:
            self._account_changed = False
            self.plane.write_account(self.account)
            self.projection.put_account(self.account)

"""The trade-slot kernel: commands in, outcomes and effects out. Pure.

``submit(intent, now)``, ``apply(event, now)``, ``tick(now)`` and
``set_control(snapshot, now)`` are the only ways in. Each returns an
:class:`~pink.kernel.messages.Outcome` saying what is known, the effects the
shell must carry out, and the records (settlements, fills, transitions) that
the journal, ledger and planes keep. Nothing here reads a clock, makes an id,
does I/O or raises to the caller.

Intents are admitted or refused by :mod:`pink.kernel.intents`; events are
routed by :mod:`pink.kernel.events` to :mod:`pink.kernel.fills` and
:mod:`pink.kernel.reconcile`. This module owns the slots, the order index, the
operator's control, deadlines and :meth:`Kernel._move`, the one way a slot's
state changes (by the table of :mod:`pink.kernel.states`).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from pink.kernel import events, fills, intents
from pink.kernel import snapshot as snapshots
from pink.kernel.book import FeeCheck, Order, OrderPhase, RetiredOrder, Trade
from pink.kernel.commission import due_fee_checks
from pink.kernel.consts import (
    O_CONFIRMED,
    O_DUPLICATE,
    O_NO_CHANGE,
    O_REFUSED,
    O_UNKNOWN,
    R_INVALID_FIELD,
    R_OK,
)
from pink.kernel.exact import exact
from pink.kernel.late import give_up_gaps
from pink.kernel.messages import (
    ControlChanged,
    ControlSnapshot,
    Effect,
    Instrument,
    Intent,
    KernelRecord,
    Outcome,
    QueryOrder,
    Side,
    SlotChanged,
)
from pink.kernel.outside import PendingClose
from pink.kernel.states import IN_FLIGHT, S, SlotState, Trigger, next_state
from pink.kernel.validation import check_control
from pink.kernel.views import AccountView, OrderView, SlotView
from pink.kernel.word_closes import WordClose

# enum members as module constants (member access through an Enum class costs a descriptor call)
_S_DESYNC = S.DESYNC

__all__ = ["Kernel", "KernelConfig", "Slot"]

_SECOND = 1_000_000_000
FORGOTTEN_KEPT = 10_000
"""The venue order ids of PINK's orders dropped from the retired map that the kernel remembers (the
latest): a late event naming one only by it is PINK's, never taken for an order placed by hand."""
_NAMES = {s: s.value for s in SlotState}


@dataclass(frozen=True, slots=True)
class KernelConfig:
    slots: int = 8
    initial_capital: Decimal = Decimal(10000)
    account_id: str = "default"
    settle_asset: str = "USDT"
    ack_timeout_ns: int = 10 * _SECOND
    working_check_ns: int = 60 * _SECOND
    max_query_backoff_ns: int = 120 * _SECOND
    retired_orders: int = 2_000  # finished trades' orders kept to recognise late events
    # and besides them, those still holding pieces a report's gap booked that no real fill has
    # replaced (their late fills true the books up): past this many, the oldest's booking stands
    gapped_orders: int = 200
    hedge_mode: bool = True  # False: the venue nets LONG and SHORT of a symbol into one position
    # a trade's closing fill books what the round trip made, exactly (exit less entry notional),
    # less what its legs booked against the entry VWAP; False only for journals begun before it
    exact_round_trip: bool = True
    # after the venue refused a slot's order, its next order waits: the first wait, doubled at
    # each refusal in a row, up to the longest; a close the venue finds too small or no position
    # for waits the longest at once. A refused order every cycle risks a trading ban
    refusal_wait_first_ns: int = 1 * _SECOND
    refusal_wait_max_ns: int = 60 * _SECOND


@dataclass(slots=True)
class Slot:
    index: int
    state: SlotState = S.IDLE
    trade: Trade | None = None
    order_cid: str = ""  # the slot's current (or last) order
    deadline: int = 0  # 0 when nothing is in flight
    queries: int = 0
    version: int = 0
    desync_reason: str = ""
    refusals: int = 0  # the venue's refusals of this slot's orders in a row (an ack resets it)
    refused: str = ""  # the code of the last one
    retry_ts: int = 0  # no new order before this while refusals > 0


class Kernel:
    """N trade slots and one account. Owned by exactly one task (one writer)."""

    def __init__(self, config: KernelConfig, instruments: dict[str, Instrument]) -> None:
        if config.slots <= 0:
            raise ValueError(f"slots: must be > 0, got {config.slots}")
        self.config = config
        self.instruments = dict(instruments)
        self.control = ControlSnapshot()
        self.slots = [Slot(i) for i in range(config.slots)]
        self.orders: dict[str, Order] = {}
        self.venue_ids: dict[str, str] = {}
        self.retired: OrderedDict[str, RetiredOrder] = OrderedDict()
        # the retired orders holding open gaps, in the retired map's order (derived: not snapshotted)
        self.gapped: OrderedDict[str, None] = OrderedDict()
        # the venue order ids of orders dropped from the retired map, each with its client order id,
        # the latest FORGOTTEN_KEPT: a late fill naming only that id is PINK's, not booked
        self.forgotten: OrderedDict[str, str] = OrderedDict()
        self._vwap_quanta: dict[str, Decimal] = {}
        # every trade id ever used, in the order of use (a dict: the journal reproduces the order,
        # so a snapshot needs no sort to be canonical)
        self.used_trade_ids: dict[str, None] = {}
        # the fills of orders the kernel never sent that it has seen (pink.kernel.outside)
        self.outside_fills: OrderedDict[str, None] = OrderedDict()
        # the cumulative ranges (from, to] their fills claimed, by the venue's order id, the latest
        # filled last (pink.kernel.outside)
        self.outside_spans: OrderedDict[str, list[tuple[Decimal, Decimal]]] = OrderedDict()
        # what orders the kernel never sent hold open, by "<symbol> <side>": such an order's close
        # closes that first, PINK's trades after
        self.outside_held: dict[str, Decimal] = {}
        # what closes by hand took of trades with an order working, booked when it ends (by "<symbol> <side>")
        self.outside_pending: dict[str, list[PendingClose]] = {}
        # closes booked on the operator's word whose real fill has not come, oldest first (pink.kernel.word_closes)
        self.word_closes: list[WordClose] = []
        self.account = fills.new_account(config.initial_capital)
        # ended orders whose commission the venue is to confirm (see pink.kernel.commission)
        self.fee_checks: dict[str, FeeCheck] = {}
        self.version = 0
        self.quarantined = 0

    # ------------------------------------------------------------ commands

    @exact
    def submit(self, intent: Intent, now: int) -> Outcome:
        """Admit or refuse an intent. A refusal changes nothing (F3)."""
        try:
            return intents.admit(self, intent, now)
        except Exception as exc:  # a bug must not escape the one writer
            return intents.refuse(intent, R_INVALID_FIELD, f"intent: {type(exc).__name__}: {exc}", now)

    @exact
    def exit_size(self, trade: Trade, *, close_all: bool, price: Decimal | None = None) -> Decimal:
        """The next exit leg of ``trade`` (see :func:`pink.kernel.intents.exit_size`)."""
        return intents.exit_size(self, trade, close_all=close_all, price=price)

    @exact
    def set_control(self, snapshot: ControlSnapshot, now: int) -> Outcome:
        """Adopt the operator's snapshot. Turning the kill switch on cancels working entries."""
        if not isinstance(snapshot, ControlSnapshot):
            return Outcome(O_REFUSED, R_INVALID_FIELD, f"control: not a ControlSnapshot: {type(snapshot).__name__}")
        why = check_control(snapshot)
        if why:
            return Outcome(O_REFUSED, R_INVALID_FIELD, f"control: {why}")
        if snapshot.version <= self.control.version and self.control.version != 0:
            return Outcome(O_DUPLICATE, R_OK, f"control version {snapshot.version} already seen")
        killing = snapshot.kill and not self.control.kill
        self.control = snapshot
        self.version += 1
        records: list[KernelRecord] = [ControlChanged(snapshot, now)]
        effects: list[Effect] = []
        if killing:
            for slot in self.slots:
                if slot.state in (S.ENTRY_PENDING, S.ENTRY_WORKING):
                    effects.append(intents.request_cancel(self, slot, f"control:{snapshot.version}:kill", now, records))
        return Outcome(O_CONFIRMED, R_OK, "", -1, tuple(effects), tuple(records))

    # --------------------------------------------------------------- events

    @exact
    def apply(self, event: object, now: int) -> Outcome:
        """Apply one venue event or report, atomically (F15). Never raises."""
        return events.apply_event(self, event, now)

    @exact
    def tick(self, now: int) -> Outcome:
        """Ask the venue about every slot whose deadline has passed (F16, E8)."""
        effects: list[Effect] = []
        for slot in self.slots:
            if slot.deadline and slot.deadline <= now and slot.order_cid:
                order = self.orders.get(slot.order_cid)
                if order is None:
                    continue
                slot.queries += 1
                backoff = min(self.config.ack_timeout_ns << min(slot.queries, 8), self.config.max_query_backoff_ns)
                slot.deadline = now + backoff
                slot.version += 1
                why = "DESYNC" if slot.state is S.DESYNC else f"{slot.state.value} overdue"
                effects.append(QueryOrder(order.client_order_id, order.symbol, why))
        records: list[KernelRecord] = []
        if self.fee_checks:
            due_fee_checks(self, now, effects, records)
        if not effects and not records:
            return Outcome(O_NO_CHANGE)
        self.version += 1
        return Outcome(O_UNKNOWN, R_OK, "deadline passed: querying the venue", -1, tuple(effects), tuple(records))

    def vwap_quantum(self, symbol: str) -> Decimal:
        """Entry VWAPs are kept on the tick / 1e6 (see :data:`pink.kernel.validation._MAX_DIGITS`)."""
        q = self._vwap_quanta.get(symbol)
        if q is None:
            q = self._vwap_quanta[symbol] = self.instruments[symbol].tick.scaleb(-6)
        return q

    def next_deadline(self) -> int | None:
        due = [s.deadline for s in self.slots if s.deadline]
        if self.fee_checks:  # asked after every batch: no extra work when there is none
            due.extend(c.due for c in self.fee_checks.values())
        return min(due) if due else None

    # -------------------------------------------------------------- helpers

    def _move(self, slot: Slot, trigger: Trigger, cause: str, now: int, records: list[KernelRecord]) -> bool:
        """Take the table's transition; False (and no change) if it has none."""
        dst = next_state(slot.state, trigger)
        if dst is None:
            return False
        before = slot.state
        slot.state = dst
        slot.version += 1
        self.version += 1
        if dst not in IN_FLIGHT:
            slot.deadline = 0
            slot.queries = 0
        if dst is not _S_DESYNC:  # (whatever took it out of DESYNC: the reason no longer holds)
            slot.desync_reason = ""
        trade_id = slot.trade.trade_id if slot.trade else ""
        if dst is not before:
            records.append(SlotChanged(slot.index, trade_id, _NAMES[before], _NAMES[dst], cause, now))
        return True

    def retire_trade(self, slot: Slot, now: int, records: list[KernelRecord]) -> None:
        """Forget a finished trade's orders, keeping them in a bounded retired map (E7, F26).

        An order holding pieces a report's gap booked is not dropped by that bound: its late
        fills true them up (:mod:`pink.kernel.late`). Those are bounded apart: past
        ``gapped_orders`` the oldest's pieces are given up (its booking stands), said by an alert."""
        trade = slot.trade
        if trade is not None:
            for cid in trade.orders:
                order = self.orders.pop(cid, None)
                if order is not None:
                    kept = self.retired[cid] = RetiredOrder.of(order)
                    if kept.open_gaps is not None:
                        self.gapped[cid] = None
        while len(self.gapped) > self.config.gapped_orders:
            records.append(give_up_gaps(self, next(iter(self.gapped)), now))
        while len(self.retired) - len(self.gapped) > self.config.retired_orders:
            if self.gapped:
                cid = next(c for c, r in self.retired.items() if r.open_gaps is None)  # (skips at most the gapped)
                old = self.retired.pop(cid)
            else:
                _cid, old = self.retired.popitem(last=False)
            if old.venue_order_id and self.venue_ids.pop(old.venue_order_id, None) is not None:
                self.forgotten[old.venue_order_id] = old.client_order_id
                if len(self.forgotten) > FORGOTTEN_KEPT:
                    self.forgotten.popitem(last=False)
        slot.trade = None
        slot.order_cid = ""
        slot.deadline = 0
        slot.queries = 0
        slot.desync_reason = ""

    # ---------------------------------------------------------------- views

    @exact
    def slot_view(self, index: int) -> SlotView:
        return snapshots.slot_view(self, index)

    @exact
    def account_view(self) -> AccountView:
        return snapshots.account_view(self)

    @exact
    def working_orders(self) -> list[OrderView]:
        return snapshots.working_orders(self)

    def held_outside(self) -> dict[tuple[str, Side], Decimal]:
        """What orders the kernel never sent hold open at the venue, by (symbol, side), as far as
        their fills told it (:mod:`pink.kernel.outside`)."""
        out: dict[tuple[str, Side], Decimal] = {}
        for key, qty in self.outside_held.items():
            symbol, _, side = key.rpartition(" ")
            out[(symbol, Side(side))] = qty
        return out

    @exact
    def partly_closed(self) -> dict[tuple[str, Side], tuple[Decimal, Decimal]]:
        """The (symbol, side) positions the venue has partly closed while a trade held them, each
        with what the kernel's trades hold there: (quantity, cost at their entry prices). The
        venue pools a symbol and side at one average entry, so the profit it realized on such a
        position differs from the kernel's by exactly its remaining cost less the kernel's
        (:mod:`pink.runtime.books` corrects for that, from the venue's position report)."""
        keys = {(t.symbol, t.side) for s in self.slots if (t := s.trade) is not None and t.closed_in_part
                and t.remaining > 0}
        out: dict[tuple[str, Side], tuple[Decimal, Decimal]] = {}
        for key in sorted(keys):
            qty = cost = Decimal(0)
            for s in self.slots:
                t = s.trade
                if t is not None and (t.symbol, t.side) == key and t.remaining > 0:
                    qty += t.remaining
                    # what its close will take off: its entry notional less what its exits took
                    # (their notional less the PnL booked on them), not a rounded average x quantity
                    cost += t.entry_notional - t.exit_notional + t.realized * t.direction
            out[key] = (qty, cost)
        return out

    def orders_with_open_gaps(self) -> dict[str, str]:
        """The orders, working, ended or of a finished trade, holding quantity a report's gap
        booked that no real fill has replaced yet (:mod:`pink.kernel.gaps`, :mod:`pink.kernel.late`),
        oldest first, each with its symbol: the reconcile reads their fills, which true the gap up
        (by the order where the venue can, which needs its symbol: after a restart nothing else
        holds a finished trade's)."""
        own = {o.client_order_id: o.symbol for o in self.orders.values() if o.gaps}
        return own | {r.client_order_id: r.open_gaps.symbol for r in self.retired.values() if r.open_gaps is not None}

    @exact
    def money_in_doubt(self, *, partly_closed: bool = True) -> str:
        """Why capital need not match the venue's wallet now ("" if nothing).

        An order sent or being canceled (its fills may be on their way), a DESYNC slot, a fee
        the venue must confirm, or a position the venue has partly closed while the trade held
        it: the venue prices a position at its average entry over every slot holding that
        symbol and side (and rounds the share of cost a partial close releases), so the profit
        it realizes differs from the kernel's until the position is flat. A position nothing
        has closed yet is no doubt: neither side has realized anything on it. ``partly_closed``
        False leaves that last reason out, for a reader that corrects for it (:meth:`partly_closed`)."""
        for o in self.orders.values():
            if o.phase == OrderPhase.PENDING or o.phase == OrderPhase.CANCELING:
                return f"order {o.client_order_id} {o.phase.lower()}"
        for slot in self.slots:
            if slot.state is _S_DESYNC:
                return f"slot {slot.index} DESYNC"
            t = slot.trade
            if partly_closed and t is not None and t.closed_in_part and t.remaining > 0:
                return f"slot {slot.index} holds a position the venue has partly closed"
        if self.fee_checks:
            return f"{len(self.fee_checks)} fee check(s) open"
        return ""

    def set_instrument(self, instrument: Instrument) -> None:
        """Trade ``instrument``'s symbol by its rules from now on (the journal keeps the change)."""
        self.instruments[instrument.symbol] = instrument
        self._vwap_quanta.pop(instrument.symbol, None)

    @exact
    def snapshot(self, *, trade_ids: bool = True) -> dict[str, Any]:
        """A plain, deterministic dict of the whole state (see :mod:`pink.kernel.snapshot`)."""
        return snapshots.snapshot(self, trade_ids=trade_ids)

    @staticmethod
    def restore(data: dict[str, Any], used_trade_ids: Iterable[str] | None = None) -> Kernel:
        return snapshots.restore(data, used_trade_ids)

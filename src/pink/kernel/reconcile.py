"""Reconciliation: an order's state from the venue's own record of it (F16, E17, E26).

An ``OrderStatusReport`` answers "what is order X?": fills the kernel never
saw are booked from the venue's cumulative quantity and average price, an
order that ended is finished, a live one is confirmed (and a lost cancel sent
again), and a flagged (DESYNC) slot is put back where the order says.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal
from typing import TYPE_CHECKING

from pink.kernel.book import Order, OrderPhase
from pink.kernel.consts import O_CONFIRMED, O_DUPLICATE, O_UNKNOWN, R_OK, R_ORDER_NOT_FOUND
from pink.kernel.fills import Quarantine, amount, book_fill, check_fill, learn_venue_id, on_ended
from pink.kernel.gaps import gap_fill_id, gap_pieces
from pink.kernel.messages import (
    ZERO,
    CancelOrder,
    Effect,
    KernelRecord,
    OrderStatus,
    OrderStatusReport,
    Outcome,
    ProtocolErrorRecorded,
)
from pink.kernel.states import S, T
from pink.kernel.validation import check_signed

if TYPE_CHECKING:
    from pink.kernel.core import Kernel, Slot

__all__ = ["LOST_AFTER_QUERIES", "on_report"]


LOST_AFTER_QUERIES = 3
"""An order the venue denies knowing at this many deadlines is concluded rejected (never acknowledged)
or lost (acknowledged)."""

#: an order still live at the venue: a report of it may be older than fills the stream brought
_LIVE = frozenset({OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED})

_END_CODES = {
    OrderStatus.CANCELED: "CANCELED",
    OrderStatus.EXPIRED: "EXPIRED",
    OrderStatus.REJECTED: "REJECTED",
}


def on_report(k: Kernel, slot: Slot, order: Order, rep: OrderStatusReport, now: int) -> Outcome:
    """Reconcile one order from the venue's own record of it (F16, E17, E26)."""
    if not isinstance(rep.status, OrderStatus):
        raise Quarantine(f"status: unknown order status {rep.status!r}")
    cum = amount(rep.cum_qty, "cum_qty", positive=False)
    if rep.status is OrderStatus.NOT_FOUND:  # (its venue order id, if any, is not believed either)
        return _on_not_found(k, slot, order, now)
    below, notional = _booked_up_to(order, cum)
    stale = below < order.filled  # (booked fills lie above its quantity: it is older than they are)
    if cum < order.filled and not (stale and rep.status in _LIVE):
        raise Quarantine(f"venue reports {cum} filled but {order.filled} fills were applied")
    gap = _plan_gap(k, slot, order, rep, cum, below, notional) if cum > below else None  # (raises first)
    outcomes: list[Outcome] = []
    if order.not_found_ts:  # the venue lists it: a later denial starts its grace afresh (journaled)
        order.not_found_ts = 0
        outcomes.append(Outcome(O_CONFIRMED, R_OK, "the venue lists the order again", slot.index))
    voi = rep.venue_order_id
    if isinstance(voi, str) and voi and not order.venue_order_id:
        learn_venue_id(k, order, voi)  # a change even if nothing else is: journaled, so a replay learns it
        outcomes.append(Outcome(O_CONFIRMED, R_OK, "venue order id learned", slot.index))
    if gap is not None:  # fills we never saw: book the difference from the venue's totals
        qty, price, commission, stated = gap
        fill_id = gap_fill_id(order.client_order_id, cum)
        if slot.state is S.DESYNC and slot.order_cid == order.client_order_id:  # (an order that ended
            outcomes.append(_leave_desync(k, slot, order, now))  # before the slot's current one cannot)
        pieces = gap_pieces(order, qty, cum, price, fill_id, stated)  # (for its real fills to true up)
        order.covered_cum = cum
        order.gaps.extend(pieces)  # (before the booking, which retires the order if it closes the trade)
        outcomes.append(
            book_fill(k, slot, order, fill_id, qty, price, commission, commission, "", cum, now, fee_final=stated)
        )
    if order.phase == OrderPhase.DONE:
        if slot.state is S.DESYNC and slot.order_cid == order.client_order_id:
            outcomes.append(_leave_desync(k, slot, order, now))
        return _merge(slot, outcomes)
    short = rep.status is OrderStatus.FILLED  # (in full it would have ended above): the venue cut
    if short and cum == 0 and slot.queries < LOST_AFTER_QUERIES:  # FILLED at nothing: contradictory
        # (its fills may still be on their way): the order stays as it is, asked again at the deadline
        due = now + k.config.ack_timeout_ns
        slot.deadline = min(slot.deadline, due) if slot.deadline else due
        slot.version += 1
        why = (f"venue says order {order.client_order_id} FILLED with nothing filled: not believed yet; "
               "asking again at the deadline")  # fmt: skip
        return Outcome(O_UNKNOWN, R_OK, why, slot.index)
    if short:  # it short, say a reduce-only exit trimmed to the position; it ended at what it filled
        detail = f"venue says order {order.client_order_id} FILLED at {cum} of {order.quantity}: ended at {cum}"
        alert = ProtocolErrorRecorded(slot.index, order.trade_id, order.client_order_id, detail, now)
        outcomes.append(Outcome(O_CONFIRMED, R_OK, detail, slot.index, (), (alert,)))
    if short or rep.status in _END_CODES:
        if slot.state is S.DESYNC:
            outcomes.append(_leave_desync(k, slot, order, now))
        outcomes.append(on_ended(k, slot, order, cum, "FILLED" if short else _END_CODES[rep.status], now))
        return _merge(slot, outcomes)
    # still live at the venue
    records: list[KernelRecord] = []
    effects: list[Effect] = []
    if slot.state is S.DESYNC:
        records.extend(_leave_desync(k, slot, order, now).records)
    if order.phase == OrderPhase.PENDING:
        order.phase = OrderPhase.WORKING
        k._move(slot, T.ACCEPTED, order.client_order_id, now, records)
    if order.phase == OrderPhase.CANCELING:  # our cancel was lost: send it again
        effects.append(CancelOrder(order.client_order_id, order.symbol, order.venue_order_id))
        slot.deadline = now + k.config.ack_timeout_ns
    else:
        slot.deadline = now + k.config.working_check_ns
    outcomes.append(Outcome(O_CONFIRMED, R_OK, "", slot.index, tuple(effects), tuple(records)))
    return _merge(slot, outcomes)


def _booked_up_to(order: Order, cum: Decimal) -> tuple[Decimal, Decimal]:
    """What the order has booked of its first ``cum`` filled: (quantity, notional).

    A report may be older than a fill the stream already brought (the query crossed it): the
    fills whose spans lie above its quantity are not in its totals. The quantity is returned as
    ``order.filled`` itself when every booked fill counts (nothing lies above, or what does
    cannot be told: a span without its price, restored from before snapshot format 7)."""
    covered = order.covered_cum  # (everything up to it is booked: fills, or a report's gap)
    if cum <= covered:
        return (cum if cum < order.filled else order.filled), order.notional
    known = covered
    above_qty = above_notional = ZERO
    for lo, hi, price in order.spans:
        if hi <= covered:
            continue
        part = hi - max(lo, covered)
        if hi <= cum:
            known += part
        elif lo >= cum and price > 0:
            above_qty += part
            above_notional += part * price
        else:  # it splits a fill, or the fill's price is not known: every fill counts
            return order.filled, order.notional
    if not above_qty or known + above_qty != order.filled:
        return order.filled, order.notional
    return known, order.notional - above_notional


def _plan_gap(
    k: Kernel, slot: Slot, order: Order, rep: OrderStatusReport, cum: Decimal, below: Decimal, notional: Decimal
) -> tuple[Decimal, Decimal, Decimal, bool]:
    """The fill a report implies beyond the fills it counts (``below``, of ``notional``): (qty,
    price, commission, whether the venue stated the commission). Priced from the report's own
    average, less the fills it counts. Raises :class:`Quarantine` for a report that cannot be
    booked, before anything is changed (an event is applied whole or not at all, F15)."""
    avg = amount(rep.avg_price, "avg_price")
    qty = cum - below
    check_fill(slot, order, qty)  # (its trade, more than the order, more than the position)
    price = ((avg * cum - notional) / qty).quantize(k.vwap_quantum(order.symbol), ROUND_HALF_EVEN)
    if price <= 0:
        raise Quarantine(f"avg_price: {avg} cannot explain the fills already applied")
    total = rep.commission  # None: the fee is unknown, booked as zero and asked for at the end
    if total is None or below < order.filled:  # (a stale report's total leaves out later fills' fees)
        return qty, price, ZERO, False
    why = check_signed(total, "commission")
    if why:
        raise Quarantine(why)
    assert isinstance(total, Decimal)
    # the venue's total less what the order's fills booked, whatever its sign: a rebate on a fill
    # never seen, or a fee a push over-stated, is paid back (the stated total is final: no check)
    return qty, price, total - order.commission, True


def _on_not_found(k: Kernel, slot: Slot, order: Order, now: int) -> Outcome:
    """The venue has no record of the order. Only repeated answers, deadlines apart, are believed.

    A venue may not have indexed an order it accepted a moment ago (or a
    request still in flight lands later): ending the order at the first "not
    found" would orphan its later fills. So the order stays as it is and the
    deadline asks again, backed off; after :data:`LOST_AFTER_QUERIES` answers
    it is concluded: a never-acknowledged order as rejected, an acknowledged one
    as lost with the fills known and an alert.
    """
    if order.phase == OrderPhase.DONE:
        return Outcome(O_DUPLICATE, R_OK, "order ended; the venue no longer lists it")
    # never acknowledged: still pending, or canceled while pending (the venue never gave its id)
    never_acked = order.filled == 0 and (
        order.phase == OrderPhase.PENDING or (order.phase == OrderPhase.CANCELING and not order.venue_order_id)
    )
    if slot.queries < LOST_AFTER_QUERIES:
        if never_acked:
            slot.deadline = max(slot.deadline, now + k.config.ack_timeout_ns)
            why = f"order {order.client_order_id} not known at the venue yet; asking again at the deadline"
            return Outcome(O_UNKNOWN, R_ORDER_NOT_FOUND, why, slot.index)
        grace = k.config.ack_timeout_ns  # a venue's order lookup may lag its ack by a moment
        if not order.not_found_ts or now - order.not_found_ts < grace:
            if not order.not_found_ts:
                order.not_found_ts = now
            due = order.not_found_ts + grace
            slot.deadline = min(slot.deadline, due) if slot.deadline else due
            slot.version += 1
            why = (f"order {order.client_order_id}, acknowledged, not listed by the venue yet; "
                   "asking again at the deadline")  # fmt: skip
            return Outcome(O_UNKNOWN, R_ORDER_NOT_FOUND, why, slot.index)
        raise Quarantine(f"the venue does not know order {order.client_order_id}, which it acknowledged "
                         f"(still not listed {(now - order.not_found_ts) // 1_000_000} ms after it first said so)")
    if never_acked:
        return on_ended(k, slot, order, ZERO, "REJECTED:NOT_FOUND", now)
    # asked repeatedly and the venue still has no record: the order is gone with the fills we know
    # of; end it so the slot is never stuck, and leave the alert in the records
    detail = (f"order {order.client_order_id} lost by the venue after {slot.queries} queries; "
              f"ended at {order.filled} filled")
    lost = on_ended(k, slot, order, order.filled, "LOST:NOT_FOUND", now)
    k.quarantined += 1
    alert = ProtocolErrorRecorded(slot.index, order.trade_id, order.client_order_id, detail, now)
    return Outcome(O_CONFIRMED, R_ORDER_NOT_FOUND, detail, slot.index, lost.effects, (alert, *lost.records))


def _leave_desync(k: Kernel, slot: Slot, order: Order, now: int) -> Outcome:
    """The venue's report explains the slot again: put it where the order says (its
    transition records are returned, for the ledger like any other transition)."""
    records: list[KernelRecord] = []
    if order.phase == OrderPhase.DONE:
        trigger = T.ORDER_DONE_OPEN if slot.trade and slot.trade.remaining > 0 else T.ORDER_DONE_FLAT
    else:
        trigger = T.RESOLVED_ENTRY if order.role == "ENTRY" else T.RESOLVED_EXIT
    k._move(slot, trigger, f"reconciled:{order.client_order_id}", now, records)
    slot.desync_reason = ""
    if trigger is T.ORDER_DONE_FLAT and slot.trade is not None:
        k.retire_trade(slot, now, records)
    return Outcome(O_CONFIRMED, R_OK, "reconciled", slot.index, (), tuple(records))


def _merge(slot: Slot, outcomes: list[Outcome]) -> Outcome:
    if not outcomes:
        return Outcome(O_DUPLICATE, R_OK, "report matches what is known", slot.index)
    effects = tuple(e for o in outcomes for e in o.effects)
    records = tuple(r for o in outcomes for r in o.records)
    last = outcomes[-1]
    return Outcome(O_CONFIRMED, last.reason, last.detail, slot.index, effects, records)

"""Routing venue events to their handlers, atomically, never raising (F15, E14).

Every event is routed through the order index (client order id, else venue
order id), never by a slot number it carries (E14). A handler that fails
while planning has committed nothing: the slot is quarantined into DESYNC
with the reason recorded, and the order is queried (E12, F15).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pink.kernel.book import Order
from pink.kernel.commission import on_commission
from pink.kernel.consts import O_DUPLICATE, O_NO_CHANGE, O_QUARANTINED, R_OK, R_PROTOCOL_ERROR, R_UNKNOWN_ORDER
from pink.kernel.fills import (
    Quarantine,
    amount,
    on_accepted,
    on_cancel_rejected,
    on_ended,
    on_fill,
)
from pink.kernel.late import late_true_up
from pink.kernel.messages import (
    ZERO,
    CancelRejected,
    ClosedOutside,
    CommissionReported,
    Effect,
    FundingPaid,
    FundsTransferred,
    KernelRecord,
    OrderAccepted,
    OrderCanceled,
    OrderExpired,
    OrderFilled,
    OrderRejected,
    OrderStatus,
    OrderStatusReport,
    Outcome,
    ProtocolErrorRecorded,
    QueryOrder,
)
from pink.kernel.outside import book_pending, on_closed_outside, on_filled_outside
from pink.kernel.reconcile import on_report
from pink.kernel.states import S, T
from pink.kernel.transfers import on_funding, on_transfer
from pink.kernel.validation import check_decimal

if TYPE_CHECKING:
    from pink.kernel.core import Kernel, Slot

__all__ = ["apply_event", "quarantine"]


_ACCOUNT_EVENTS: dict[type, Callable[[Kernel, Any, int], Outcome]] = {
    FundingPaid: on_funding,
    CommissionReported: on_commission,
    FundsTransferred: on_transfer,
    ClosedOutside: on_closed_outside,
}
"""Events about the account rather than an order (messages are final classes: exact types)."""


#: the form of the client order ids the kernel makes (``<trade>-e1``, ``-x0a1``, ``-out2``): an
#: unknown order with one is PINK's (forgotten, or another PINK run's on the same account), never
#: one placed by hand
_PINKS_OWN = re.compile(r"-(?:e\d+|x\d+a\d+|out\d*)$")

def is_pinks_own(client_order_id: str) -> bool:
    """Whether ``client_order_id`` has the form of the ids the kernel makes (an order of PINK's,
    of this run or another), as against one placed by hand or by another program."""
    return _PINKS_OWN.search(client_order_id) is not None


#: an order's events and reports but its fills: of an order placed outside PINK, nothing to book
_ORDER_LIFE = frozenset({OrderAccepted, OrderCanceled, OrderExpired, OrderRejected, CancelRejected, OrderStatusReport})


def apply_event(k: Kernel, event: object, now: int) -> Outcome:
    account_event = _ACCOUNT_EVENTS.get(type(event))
    if account_event is not None:  # one lookup on the order path, whatever their number
        return account_event(k, event, now)
    cid = getattr(event, "client_order_id", "")
    if type(cid) is not str or not cid:  # route by the venue's id when the client id is missing
        voi = getattr(event, "venue_order_id", "")
        cid = k.venue_ids.get(voi, "") if type(voi) is str and voi else ""
    order = k.orders.get(cid)
    if order is None:
        return _on_unrouted(k, event, cid, now)
    slot = k.slots[order.slot]
    out = _on_order_event(k, slot, order, event, now)
    if k.outside_pending and (slot.state is S.POSITION_OPEN or slot.trade is None):  # its order ended
        booked = book_pending(k, slot, now)
        if booked:
            out = Outcome(out.status, out.reason, out.detail, out.slot, out.effects, (*out.records, *booked))
    return out


def _on_order_event(k: Kernel, slot: Slot, order: Order, event: object, now: int) -> Outcome:
    try:
        if isinstance(event, OrderFilled):
            return on_fill(k, slot, order, event, now)
        if isinstance(event, OrderAccepted):
            return on_accepted(k, slot, order, event, now)
        if isinstance(event, (OrderCanceled, OrderExpired)):
            code = "CANCELED" if isinstance(event, OrderCanceled) else "EXPIRED"
            return on_ended(k, slot, order, amount(event.cum_qty, "cum_qty", positive=False), code, now)
        if isinstance(event, OrderRejected):
            return on_ended(k, slot, order, ZERO, f"REJECTED:{event.code}", now)
        if isinstance(event, CancelRejected):
            return on_cancel_rejected(k, slot, order, event, now)
        if isinstance(event, OrderStatusReport):
            return on_report(k, slot, order, event, now)
        raise Quarantine(f"unknown event type {type(event).__name__}")
    except Exception as exc:  # planning failed: nothing was committed
        detail = str(exc) if isinstance(exc, Quarantine) else f"{type(exc).__name__}: {exc}"
        # a report is the answer to a query: asking again at once would loop (query -> report ->
        # quarantine -> query) without end; the deadline asks again, counted and backed off
        query_now = not isinstance(event, OrderStatusReport)
        return quarantine(k, slot, order, f"{type(event).__name__}: {detail}", now, query_now=query_now)


def quarantine(k: Kernel, slot: Slot, order: Order, detail: str, now: int, *, query_now: bool = True) -> Outcome:
    """Flag the slot DESYNC, record why, and ask the venue now or at the deadline (never raises)."""
    k.quarantined += 1
    records: list[KernelRecord] = []
    trade_id = slot.trade.trade_id if slot.trade else ""
    records.append(ProtocolErrorRecorded(slot.index, trade_id, order.client_order_id, detail, now))
    k._move(slot, T.PROTOCOL_ERROR, order.client_order_id, now, records)
    slot.desync_reason = detail[:200]
    slot.deadline = now + k.config.ack_timeout_ns
    effects: tuple[Effect, ...] = ()
    if query_now:
        effects = (QueryOrder(order.client_order_id, order.symbol, "quarantined event"),)
    return Outcome(O_QUARANTINED, R_PROTOCOL_ERROR, detail, slot.index, effects, tuple(records))


def _unreadable_fill(ev: OrderFilled) -> str | None:
    if type(ev.fill_id) is not str or not ev.fill_id:
        return "fill_id: must be a non-empty string"
    return check_decimal(ev.cum_qty, "cum_qty")


def _forgotten(k: Kernel, event: object, voi: str, cid: str, now: int) -> Outcome:
    """An event naming by its venue id alone an order of PINK's forgotten since (dropped from the
    retired map): a fill is quarantined, named (what it filled cannot be checked any more: the
    order's fills are gone), never booked on the trades open now; anything else changes nothing."""
    if not isinstance(event, OrderFilled):
        return Outcome(O_DUPLICATE, R_OK, f"venue order {voi} is PINK's order {cid} of a finished trade")
    k.quarantined += 1
    detail = (f"fill {event.fill_id!r} of venue order {voi}, PINK's order {cid} of a finished trade, which the "
              f"kernel no longer keeps: not booked (its fills cannot be checked any more; not taken for a close "
              f"by hand): check that position at the venue")  # fmt: skip
    rec = ProtocolErrorRecorded(-1, "", cid, detail, now)
    return Outcome(O_QUARANTINED, R_PROTOCOL_ERROR, detail, -1, (), (rec,))


def _on_unrouted(k: Kernel, event: object, cid: str, now: int) -> Outcome:
    retired = k.retired.get(cid)
    if retired is not None:
        why = _unreadable_fill(event) if isinstance(event, OrderFilled) else None
        if isinstance(event, OrderFilled) and not why and retired.open_gaps is not None:
            trued = late_true_up(k, retired, event, now)  # what a report booked before the trade closed
            if trued is not None:
                return trued
        if isinstance(event, OrderFilled) and (
            why or (event.fill_id not in retired.fill_ids and event.cum_qty > retired.filled)
        ):
            k.quarantined += 1
            detail = f"fill {event.fill_id!r} for order {cid} of finished trade {retired.trade_id}"
            detail += f": {why}" if why else ""
            rec = ProtocolErrorRecorded(-1, retired.trade_id, cid, detail, now)
            return Outcome(O_QUARANTINED, R_PROTOCOL_ERROR, detail, -1, (), (rec,))
        return Outcome(O_DUPLICATE, R_OK, f"order {cid} belongs to a finished trade")
    if isinstance(event, OrderStatusReport) and event.status is OrderStatus.NOT_FOUND:
        return Outcome(O_DUPLICATE, R_UNKNOWN_ORDER, f"order {cid!r} unknown on both sides")
    voi = getattr(event, "venue_order_id", "")
    forgotten = k.forgotten.get(voi) if not cid and type(voi) is str and voi else None
    if forgotten is not None:  # PINK's, of a trade long finished: never taken for an order by hand
        return _forgotten(k, event, voi, forgotten, now)
    if not is_pinks_own(cid):  # placed outside PINK: by hand, by another program, a liquidation
        if type(event) is OrderFilled and (event.side is not None or event.symbol):
            return on_filled_outside(k, event, now)
        if type(event) in _ORDER_LIFE:  # its ack, cancel, expiry or status: nothing to book
            named = repr(cid) if cid else f"venue order {voi or '?'}"
            return Outcome(O_NO_CHANGE, R_UNKNOWN_ORDER,
                           f"{type(event).__name__} of {named}, an order PINK never sent: left alone")  # fmt: skip
    k.quarantined += 1
    named = repr(cid) if cid else f"with no client id (venue order {voi or '?'}: placed by hand?)"
    detail = f"{type(event).__name__} for unknown order {named}"
    rec = ProtocolErrorRecorded(-1, "", cid, detail, now)
    return Outcome(O_QUARANTINED, R_UNKNOWN_ORDER, detail, -1, (), (rec,))

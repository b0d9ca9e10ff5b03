"""Venue events into the kernel: acks, fills, cancels, reports, funding.

Every handler first *plans* (validates and computes every new value into
locals) and only then *commits* (plain assignments that cannot fail), so an
event is applied all or nothing (F15). Anything unexpected -- a malformed
event, an overfill, a fill with no price -- is quarantined: nothing is
applied, the slot is flagged DESYNC and the order is queried (E12, F15).

Fills are keyed by fill id and by cumulative quantity, so duplicates,
replays and fills already covered by a report are no-ops (F2, E10).
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from pink.kernel.book import Account, Order, OrderPhase
from pink.kernel.messages import (
    ZERO,
    CancelOrder,
    CancelRejected,
    Effect,
    FillBooked,
    FundingPaid,
    KernelRecord,
    OrderAccepted,
    OrderCanceled,
    OrderExpired,
    OrderFilled,
    OrderRejected,
    OrderStatus,
    OrderStatusReport,
    Outcome,
    OutcomeStatus,
    ProtocolErrorRecorded,
    QueryOrder,
    Reason,
    Settlement,
    SettlementKind,
    TradeClosed,
)
from pink.kernel.states import S, T
from pink.kernel.validation import check_decimal

if TYPE_CHECKING:
    from pink.kernel.core import Kernel, Slot

# enum members as module constants: member access through an Enum class costs a descriptor call
O_CONFIRMED = OutcomeStatus.CONFIRMED
O_DUPLICATE = OutcomeStatus.DUPLICATE
O_QUARANTINED = OutcomeStatus.QUARANTINED
O_UNKNOWN = OutcomeStatus.UNKNOWN
R_OK = Reason.OK
R_ORDER_ALREADY_FILLED = Reason.ORDER_ALREADY_FILLED
R_ORDER_NOT_FOUND = Reason.ORDER_NOT_FOUND
R_PROTOCOL_ERROR = Reason.PROTOCOL_ERROR
R_UNKNOWN_ORDER = Reason.UNKNOWN_ORDER
R_VENUE_REJECTED = Reason.VENUE_REJECTED

__all__ = ["LOST_AFTER_QUERIES", "apply_event", "new_account"]

LOST_AFTER_QUERIES = 3
"""An order the venue denies knowing at this many deadlines is concluded rejected (never acknowledged)
or lost (acknowledged)."""

_END_CODES = {
    OrderStatus.CANCELED: "CANCELED",
    OrderStatus.EXPIRED: "EXPIRED",
    OrderStatus.REJECTED: "REJECTED",
}


def new_account(initial_capital: Decimal) -> Account:
    return Account(initial_capital=initial_capital, capital=initial_capital)


class _Quarantine(Exception):
    """Raised while planning: the event cannot be explained."""


def _event_key(event: object) -> tuple[str, str]:
    cid = getattr(event, "client_order_id", "")
    voi = getattr(event, "venue_order_id", "")
    return (cid if isinstance(cid, str) else "", voi if isinstance(voi, str) else "")


def apply_event(k: Kernel, event: object, now: int) -> Outcome:
    if isinstance(event, FundingPaid):
        return _on_funding(k, event, now)
    cid, voi = _event_key(event)
    if not cid and voi:
        cid = k.venue_ids.get(voi, "")
    order = k.orders.get(cid)
    if order is None:
        return _on_unrouted(k, event, cid, now)
    slot = k.slots[order.slot]
    try:
        if isinstance(event, OrderFilled):
            return _on_fill(k, slot, order, event, now)
        if isinstance(event, OrderAccepted):
            return _on_accepted(k, slot, order, event, now)
        if isinstance(event, (OrderCanceled, OrderExpired)):
            code = "CANCELED" if isinstance(event, OrderCanceled) else "EXPIRED"
            return _on_ended(k, slot, order, _amount(event.cum_qty, "cum_qty", positive=False), code, now)
        if isinstance(event, OrderRejected):
            return _on_ended(k, slot, order, ZERO, f"REJECTED:{event.code}", now)
        if isinstance(event, CancelRejected):
            return _on_cancel_rejected(k, slot, order, event, now)
        if isinstance(event, OrderStatusReport):
            return _on_report(k, slot, order, event, now)
        raise _Quarantine(f"unknown event type {type(event).__name__}")
    except Exception as exc:  # planning failed: nothing was committed
        detail = str(exc) if isinstance(exc, _Quarantine) else f"{type(exc).__name__}: {exc}"
        # a report is the answer to a query: asking again at once would loop (query -> report ->
        # quarantine -> query) without end; the deadline asks again, counted and backed off
        query_now = not isinstance(event, OrderStatusReport)
        return quarantine(k, slot, order, f"{type(event).__name__}: {detail}", now, query_now=query_now)


def _amount(value: object, name: str, *, positive: bool = True) -> Decimal:
    why = check_decimal(value, name, positive=positive)
    if why:
        raise _Quarantine(why)
    assert isinstance(value, Decimal)
    return value


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


def _on_unrouted(k: Kernel, event: object, cid: str, now: int) -> Outcome:
    retired = k.retired.get(cid)
    if retired is not None:
        if isinstance(event, OrderFilled) and event.fill_id not in retired.fill_ids and event.cum_qty > retired.filled:
            k.quarantined += 1
            detail = f"fill {event.fill_id} for order {cid} of finished trade {retired.trade_id}"
            rec = ProtocolErrorRecorded(-1, retired.trade_id, cid, detail, now)
            return Outcome(O_QUARANTINED, R_PROTOCOL_ERROR, detail, -1, (), (rec,))
        return Outcome(O_DUPLICATE, R_OK, f"order {cid} belongs to a finished trade")
    if isinstance(event, OrderStatusReport) and event.status is OrderStatus.NOT_FOUND:
        return Outcome(O_DUPLICATE, R_UNKNOWN_ORDER, f"order {cid!r} unknown on both sides")
    k.quarantined += 1
    detail = f"{type(event).__name__} for unknown order {cid!r}"
    rec = ProtocolErrorRecorded(-1, "", cid, detail, now)
    return Outcome(O_QUARANTINED, R_UNKNOWN_ORDER, detail, -1, (), (rec,))


def _learn_venue_id(k: Kernel, order: Order, voi: str) -> None:
    if voi and not order.venue_order_id:
        order.venue_order_id = voi
        k.venue_ids[voi] = order.client_order_id


def _on_accepted(k: Kernel, slot: Slot, order: Order, ev: OrderAccepted, now: int) -> Outcome:
    if not isinstance(ev.venue_order_id, str):
        raise _Quarantine("venue_order_id: must be a string")
    learned = bool(ev.venue_order_id) and not order.venue_order_id
    _learn_venue_id(k, order, ev.venue_order_id)
    if order.phase != OrderPhase.PENDING:
        status = O_CONFIRMED if learned else O_DUPLICATE
        return Outcome(status, R_OK, "ack of an order already known", slot.index)
    order.phase = OrderPhase.WORKING
    records: list[KernelRecord] = []
    k._move(slot, T.ACCEPTED, ev.client_order_id, now, records)
    slot.deadline = now + k.config.working_check_ns
    slot.queries = 0
    return Outcome(O_CONFIRMED, R_OK, "", slot.index, (), tuple(records))


def _on_fill(k: Kernel, slot: Slot, order: Order, ev: OrderFilled, now: int) -> Outcome:
    if not isinstance(ev.fill_id, str) or not ev.fill_id:
        raise _Quarantine("fill_id: must be a non-empty string")
    if ev.fill_id in order.fill_ids:
        return Outcome(O_DUPLICATE, R_OK, f"fill {ev.fill_id} already applied", slot.index)
    qty = _amount(ev.last_qty, "last_qty")
    cum = _amount(ev.cum_qty, "cum_qty")
    if cum <= order.covered_cum:
        order.fill_ids.add(ev.fill_id)
        return Outcome(O_DUPLICATE, R_OK, "fill already covered by a report", slot.index)
    if type(ev.last_price) is not Decimal or not ev.last_price.is_finite() or ev.last_price <= 0:
        raise _Quarantine(f"last_price: a fill needs a positive price, got {ev.last_price!r} (E12)")
    price = _amount(ev.last_price, "last_price")
    if type(ev.commission) is not Decimal or not ev.commission.is_finite():
        raise _Quarantine(f"commission: must be a finite Decimal, got {ev.commission!r}")
    fee = ev.commission if ev.commission_asset in (k.config.settle_asset, "") else ZERO
    if not isinstance(ev.venue_order_id, str):
        raise _Quarantine("venue_order_id: must be a string")
    _learn_venue_id(k, order, ev.venue_order_id)
    return book_fill(k, slot, order, ev.fill_id, qty, price, fee, ev.commission, ev.commission_asset, cum, now)


def book_fill(
    k: Kernel,
    slot: Slot,
    order: Order,
    fill_id: str,
    qty: Decimal,
    price: Decimal,
    fee: Decimal,
    commission: Decimal,
    commission_asset: str,
    cum: Decimal,
    now: int,
) -> Outcome:
    """Plan, then commit, one fill and its settlement."""
    trade = slot.trade
    if trade is None or trade.trade_id != order.trade_id:
        raise _Quarantine(f"fill for order {order.client_order_id} whose trade is not on slot {slot.index}")
    filled = order.filled + qty
    if filled > order.quantity:
        raise _Quarantine(f"overfill: {filled} filled of {order.quantity} on {order.client_order_id}")
    pnl = ZERO
    vwap = trade.entry_vwap
    if order.role == "EXIT":
        if vwap == 0:
            if trade.entry_qty <= 0:
                raise _Quarantine("exit fill on a trade with no entry fills")
            vwap = (trade.entry_notional / trade.entry_qty).quantize(k.vwap_quantum(trade.symbol))
        pnl = (price - vwap) * qty * trade.direction
        if qty > trade.remaining:
            raise _Quarantine(f"exit fill {qty} is more than the open {trade.remaining}")
    acct = k.account
    before = acct.capital
    after = before + pnl - fee
    notional = price * qty
    # ---- commit (assignments only)
    order.fill_ids.add(fill_id)
    order.filled = filled
    order.notional += notional
    order.commission += commission
    if order.role == "ENTRY":
        trade.entry_qty += qty
        trade.entry_notional += notional
    else:
        trade.entry_vwap = vwap
        trade.exit_qty += qty
        trade.exit_notional += notional
        trade.realized += pnl
    trade.fees += fee
    acct.seq += 1
    acct.capital = after
    acct.gross_pnl += pnl
    acct.fees += fee
    slot.version += 1
    k.version += 1
    records: list[KernelRecord] = [
        FillBooked(
            slot.index,
            trade.trade_id,
            order.intent_id,
            order.decision_id,
            order.client_order_id,
            order.venue_order_id,
            fill_id,
            order.role,
            order.leg,
            order.symbol,
            order.side,
            qty,
            price,
            cum,
            commission,
            commission_asset,
            pnl,
            now,
        ),
        Settlement(acct.seq, SettlementKind.FILL, slot.index, trade.trade_id, fill_id, pnl, fee, before, after, now),
    ]
    effects: list[Effect] = []
    if order.phase == OrderPhase.PENDING:
        order.phase = OrderPhase.WORKING
    if filled == order.quantity or (order.final_cum is not None and filled >= order.final_cum):
        _finish_order(k, slot, order, "FILLED" if filled == order.quantity else order.end_code, now, records)
    else:
        k._move(slot, T.FILLED, fill_id, now, records)
        if cum > filled:  # fills we have not seen yet: make sure we ask if they never come
            slot.deadline = min(slot.deadline or now + k.config.ack_timeout_ns, now + k.config.ack_timeout_ns)
    return Outcome(O_CONFIRMED, R_OK, "", slot.index, tuple(effects), tuple(records))


def _finish_order(k: Kernel, slot: Slot, order: Order, code: str, now: int, records: list[KernelRecord]) -> None:
    """The order has ended and all its fills are in: move the slot on."""
    trade = slot.trade
    assert trade is not None
    order.phase = OrderPhase.DONE
    order.end_code = code
    if order.role == "EXIT" and order.filled > 0:
        trade.legs_done += 1
    remaining = trade.remaining
    trigger = T.ORDER_DONE_OPEN if remaining > 0 else T.ORDER_DONE_FLAT
    k._move(slot, trigger, order.client_order_id, now, records)
    if remaining > 0:
        return
    if trade.entry_qty > 0:
        net = trade.realized - trade.fees
        exit_vwap = trade.exit_notional / trade.exit_qty if trade.exit_qty else ZERO
        records.append(
            TradeClosed(
                slot.index,
                trade.trade_id,
                trade.intent_id,
                trade.decision_id,
                trade.symbol,
                trade.side,
                trade.entry_qty,
                trade.entry_vwap,
                trade.exit_qty,
                trade.exit_notional,
                exit_vwap,
                trade.legs_done,
                trade.realized,
                trade.fees,
                net,
                trade.opened_ts,
                now,
            )
        )
    k.retire_trade(slot)


def _on_ended(k: Kernel, slot: Slot, order: Order, cum: Decimal, code: str, now: int) -> Outcome:
    """Canceled, expired or rejected, with the venue's cumulative filled quantity."""
    if order.phase == OrderPhase.DONE:
        return Outcome(O_DUPLICATE, R_OK, f"order {order.client_order_id} already ended")
    if cum < order.filled:
        raise _Quarantine(f"venue says {cum} filled but {order.filled} fills were applied")
    records: list[KernelRecord] = []
    order.end_code = code
    if cum > order.filled:  # its last fills are still on their way
        order.final_cum = cum
        slot.deadline = now + k.config.ack_timeout_ns
        return Outcome(O_CONFIRMED, R_OK, f"{code}; waiting for fills up to {cum}", slot.index)
    if slot.state is S.DESYNC:
        slot.desync_reason = ""
    _finish_order(k, slot, order, code, now, records)
    reason = R_VENUE_REJECTED if code.startswith("REJECTED") else R_OK
    return Outcome(O_CONFIRMED, reason, code, slot.index, (), tuple(records))


def _on_cancel_rejected(k: Kernel, slot: Slot, order: Order, ev: CancelRejected, now: int) -> Outcome:
    if order.phase == OrderPhase.DONE:
        return Outcome(O_CONFIRMED, R_ORDER_ALREADY_FILLED, f"order ended: {order.end_code}", slot.index)
    if order.phase != OrderPhase.CANCELING:
        return Outcome(O_DUPLICATE, R_OK, "cancel reject with no cancel pending", slot.index)
    message = f"{ev.code}: {ev.message}"
    if ev.still_open is True:
        order.phase = OrderPhase.WORKING
        records: list[KernelRecord] = []
        k._move(slot, T.CANCEL_REJECTED, order.client_order_id, now, records)
        slot.deadline = now + k.config.working_check_ns
        return Outcome(O_CONFIRMED, R_VENUE_REJECTED, message, slot.index, (), tuple(records))
    # gone, filled or unknown: only the order's status can tell (E17, F17)
    reason = R_ORDER_ALREADY_FILLED if "FILLED" in ev.code.upper() else R_ORDER_NOT_FOUND
    slot.deadline = now + k.config.ack_timeout_ns
    effect = QueryOrder(order.client_order_id, order.symbol, f"cancel rejected: {message}")
    return Outcome(O_UNKNOWN, reason, message, slot.index, (effect,))


def _on_funding(k: Kernel, ev: FundingPaid, now: int) -> Outcome:
    acct = k.account
    if not isinstance(ev.funding_id, str) or not ev.funding_id:
        return Outcome(O_QUARANTINED, R_PROTOCOL_ERROR, "funding_id: must be a non-empty string")
    if ev.funding_id in acct.funding_ids:
        return Outcome(O_DUPLICATE, R_OK, f"funding {ev.funding_id} already booked")
    why = check_decimal(abs(ev.amount) if type(ev.amount) is Decimal else ev.amount, "amount")
    if why:
        return Outcome(O_QUARANTINED, R_PROTOCOL_ERROR, why)
    before = acct.capital
    acct.funding_ids.add(ev.funding_id)
    acct.seq += 1
    acct.capital = before + ev.amount
    acct.funding += ev.amount
    k.version += 1
    rec = Settlement(
        acct.seq, SettlementKind.FUNDING, -1, "", ev.funding_id, ev.amount, ZERO, before, acct.capital, now
    )
    return Outcome(O_CONFIRMED, R_OK, "", -1, (), (rec,))


def _on_report(k: Kernel, slot: Slot, order: Order, rep: OrderStatusReport, now: int) -> Outcome:
    """Reconcile one order from the venue's own record of it (F16, E17, E26)."""
    if not isinstance(rep.status, OrderStatus):
        raise _Quarantine(f"status: unknown order status {rep.status!r}")
    cum = _amount(rep.cum_qty, "cum_qty", positive=False)
    outcomes: list[Outcome] = []
    if isinstance(rep.venue_order_id, str):
        _learn_venue_id(k, order, rep.venue_order_id)
    if rep.status is OrderStatus.NOT_FOUND:
        return _on_not_found(k, slot, order, now)
    if cum < order.filled:
        raise _Quarantine(f"venue reports {cum} filled but {order.filled} fills were applied")
    if cum > order.filled:  # fills we never saw: book the difference from the venue's totals
        avg = _amount(rep.avg_price, "avg_price")
        qty = cum - order.filled
        price = ((avg * cum - order.notional) / qty).quantize(k.vwap_quantum(order.symbol))
        if price <= 0:
            raise _Quarantine(f"avg_price: {avg} cannot explain the fills already applied")
        commission = rep.commission - order.commission if type(rep.commission) is Decimal else ZERO
        commission = max(commission, ZERO)
        fill_id = f"{order.client_order_id}#cum{cum}"
        if slot.state is S.DESYNC:
            _leave_desync(k, slot, order, now)
        outcomes.append(book_fill(k, slot, order, fill_id, qty, price, commission, commission, "", cum, now))
        order.covered_cum = cum
    if order.phase == OrderPhase.DONE:
        if slot.state is S.DESYNC and slot.order_cid == order.client_order_id:
            resolved: list[KernelRecord] = []
            _leave_desync(k, slot, order, now, resolved)
            outcomes.append(Outcome(O_CONFIRMED, R_OK, "reconciled", slot.index, (), tuple(resolved)))
        return _merge(slot, outcomes)
    if rep.status in _END_CODES:
        if slot.state is S.DESYNC:
            _leave_desync(k, slot, order, now)
        outcomes.append(_on_ended(k, slot, order, cum, _END_CODES[rep.status], now))
        return _merge(slot, outcomes)
    if rep.status is OrderStatus.FILLED:  # the venue's quantity differs from ours
        raise _Quarantine(f"venue says FILLED at {cum} of {order.quantity}")
    # still live at the venue
    records: list[KernelRecord] = []
    effects: list[Effect] = []
    if slot.state is S.DESYNC:
        _leave_desync(k, slot, order, now, records)
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
    never_acked = order.phase == OrderPhase.PENDING and order.filled == 0
    if slot.queries < LOST_AFTER_QUERIES:
        if never_acked:
            slot.deadline = max(slot.deadline, now + k.config.ack_timeout_ns)
            why = f"order {order.client_order_id} not known at the venue yet; asking again at the deadline"
            return Outcome(O_UNKNOWN, R_ORDER_NOT_FOUND, why, slot.index)
        raise _Quarantine(f"the venue does not know order {order.client_order_id}, which it acknowledged")
    if never_acked:
        return _on_ended(k, slot, order, ZERO, "REJECTED:NOT_FOUND", now)
    # asked repeatedly and the venue still has no record: the order is gone with the fills we know
    # of; end it so the slot is never stuck, and leave the alert in the records
    detail = (f"order {order.client_order_id} lost by the venue after {slot.queries} queries; "
              f"ended at {order.filled} filled")
    lost = _on_ended(k, slot, order, order.filled, "LOST:NOT_FOUND", now)
    k.quarantined += 1
    alert = ProtocolErrorRecorded(slot.index, order.trade_id, order.client_order_id, detail, now)
    return Outcome(O_CONFIRMED, R_ORDER_NOT_FOUND, detail, slot.index, lost.effects, (alert, *lost.records))


def _leave_desync(k: Kernel, slot: Slot, order: Order, now: int, records: list[KernelRecord] | None = None) -> None:
    """The venue's report explains the slot again: put it where the order says."""
    recs: list[KernelRecord] = records if records is not None else []
    if order.phase == OrderPhase.DONE:
        trigger = T.ORDER_DONE_OPEN if slot.trade and slot.trade.remaining > 0 else T.ORDER_DONE_FLAT
    else:
        trigger = T.RESOLVED_ENTRY if order.role == "ENTRY" else T.RESOLVED_EXIT
    k._move(slot, trigger, f"reconciled:{order.client_order_id}", now, recs)
    slot.desync_reason = ""
    if trigger is T.ORDER_DONE_FLAT and slot.trade is not None:
        k.retire_trade(slot)


def _merge(slot: Slot, outcomes: list[Outcome]) -> Outcome:
    if not outcomes:
        return Outcome(O_DUPLICATE, R_OK, "report matches what is known", slot.index)
    effects = tuple(e for o in outcomes for e in o.effects)
    records = tuple(r for o in outcomes for r in o.records)
    last = outcomes[-1]
    return Outcome(O_CONFIRMED, last.reason, last.detail, slot.index, effects, records)

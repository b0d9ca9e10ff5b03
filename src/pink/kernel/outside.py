"""A position closed outside PINK (by hand on the venue, or by a liquidation), booked on the
operator's word (:class:`~pink.kernel.messages.ClosedOutside`).

The venue then holds nothing for the trade: every exit the kernel sends is refused ("no
position"), and the slot would hold the trade for ever. The operator says at what price it
was closed; the kernel books that as the trade's closing fill on an order of its own,
``<trade_id>-out``, which was never sent. Everything after is the ordinary close: the fill and
its settlement, ``TradeClosed``, the slot back to IDLE, the ledger rows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pink.kernel.book import Order, OrderPhase
from pink.kernel.consts import O_REFUSED, R_INVALID_FIELD, R_SLOT_BUSY, R_WRONG_TRADE
from pink.kernel.fills import book_fill
from pink.kernel.messages import (
    ClosedOutside,
    KernelRecord,
    OrderSide,
    OrderType,
    Outcome,
    Reason,
    Side,
    TimeInForce,
)
from pink.kernel.states import S, T
from pink.kernel.validation import check_decimal

if TYPE_CHECKING:
    from pink.kernel.core import Kernel

__all__ = ["on_closed_outside"]


def on_closed_outside(k: Kernel, ev: ClosedOutside, now: int) -> Outcome:
    """Book ``ev`` as the closing fill of the trade on its slot; refuse, naming why, anything
    that does not describe an open position with no order working."""
    n = len(k.slots)
    if type(ev.slot) is not int or not 0 <= ev.slot < n:
        return Outcome(O_REFUSED, Reason.UNKNOWN_SLOT, f"slot: {ev.slot!r} is not a slot number in 0..{n - 1}")
    slot = k.slots[ev.slot]
    trade = slot.trade
    if trade is None or trade.trade_id != ev.trade_id:
        held = repr(trade.trade_id) if trade else "no trade"
        return Outcome(O_REFUSED, R_WRONG_TRADE, f"trade_id: slot {slot.index} holds {held}, not {ev.trade_id!r}",
                       slot.index)  # fmt: skip
    if slot.state is not S.POSITION_OPEN:
        busy = (f"slot {slot.index} is {slot.state.value}: only a position with no order working can be "
                f"booked as closed outside PINK (cancel its order first)")
        return Outcome(O_REFUSED, R_SLOT_BUSY, busy, slot.index)
    why = check_decimal(ev.price, "price") or check_decimal(ev.commission, "commission", positive=False)
    if why is None and not isinstance(ev.note, str):
        why = "note: must be a string"
    if why:
        return Outcome(O_REFUSED, R_INVALID_FIELD, why, slot.index)
    qty = trade.remaining
    cid = f"{trade.trade_id}-out"
    order = Order(
        client_order_id=cid,
        slot=slot.index,
        trade_id=trade.trade_id,
        role="EXIT",
        leg=trade.legs_done,
        attempt=1,
        symbol=trade.symbol,
        side=OrderSide.SELL if trade.side is Side.LONG else OrderSide.BUY,
        order_type=OrderType.MARKET,
        time_in_force=TimeInForce.GTC,
        quantity=qty,
        limit_price=None,
        phase=OrderPhase.WORKING,
    )
    k.orders[cid] = order
    trade.orders.append(cid)
    slot.order_cid = cid
    records: list[KernelRecord] = [k._order_record(order, now)]
    k._move(slot, T.EXIT, f"closed outside: {ev.note}", now, records)
    fee = ev.commission
    booked = book_fill(k, slot, order, f"{cid}:closed-outside", qty, ev.price, fee, fee, k.config.settle_asset,
                       qty, now)  # fmt: skip
    detail = f"{qty} {trade.symbol} {trade.side.value} booked closed outside PINK at {ev.price}, fee {fee}"
    return Outcome(booked.status, booked.reason, detail, slot.index, (), (*records, *booked.records))

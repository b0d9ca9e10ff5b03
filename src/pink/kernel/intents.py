"""Intents: an ENTER, EXIT or CANCEL admitted (its order and effects planned) or refused, naming why.

A refusal changes nothing (F3) and carries the intent's record; an admitted
intent opens or continues a trade on its slot, makes the order (ids derived
from the trade id: no clock, no randomness), and takes the slot's transition
through :meth:`Kernel._move <pink.kernel.core.Kernel._move>`, the one way slot
states change. Module-level functions of the kernel, as :mod:`pink.kernel.fills`.
"""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal
from typing import TYPE_CHECKING, Any

from pink.kernel.book import Order, OrderPhase, Trade
from pink.kernel.consts import (
    O_PENDING,
    O_REFUSED,
    R_CANCEL_ALREADY_REQUESTED,
    R_NO_OPEN_POSITION,
    R_NOTHING_TO_CANCEL,
    R_OK,
    R_SLOT_BUSY,
    R_SLOT_DESYNC,
    R_TRADE_ID_USED,
    R_WRONG_TRADE,
)
from pink.kernel.messages import (
    BELOW_MINIMUM_CODES,
    NO_POSITION_CODES,
    Action,
    CancelOrder,
    Effect,
    EnsureLeverage,
    Intent,
    IntentRecorded,
    KernelRecord,
    OrderRecorded,
    OrderSide,
    OrderType,
    Outcome,
    PlaceOrder,
    Reason,
    Side,
)
from pink.kernel.states import S, T
from pink.kernel.validation import validate_intent

if TYPE_CHECKING:
    from pink.kernel.core import Kernel, Slot

__all__ = ["admit", "exit_size", "order_record", "refuse", "request_cancel"]

# enum members as module constants (member access through an Enum class costs a descriptor call)
_ENTER = Action.ENTER
_EXIT = Action.EXIT
_LONG = Side.LONG
_BUY = OrderSide.BUY
_SELL = OrderSide.SELL
_LIMIT = OrderType.LIMIT
_S_IDLE, _S_DESYNC, _S_POSITION_OPEN = S.IDLE, S.DESYNC, S.POSITION_OPEN
_T_ENTER, _T_EXIT = T.ENTER, T.EXIT


def admit(k: Kernel, intent: Intent, now: int) -> Outcome:
    """Admit ``intent`` or refuse it, naming why (see :meth:`Kernel.submit <pink.kernel.core.Kernel.submit>`)."""
    slot_asset = ""
    if isinstance(intent, Intent) and type(intent.slot) is int and 0 <= intent.slot < len(k.slots):
        trade = k.slots[intent.slot].trade
        slot_asset = trade.symbol if trade else ""
        if trade is None and intent.trade_id == "" and intent.action in (_EXIT, Action.CANCEL):
            # (the runtime names the slot's trade: none here) what was wrong, not the id's format
            reason = R_NO_OPEN_POSITION if intent.action is _EXIT else R_NOTHING_TO_CANCEL
            return refuse(intent, reason, f"slot {intent.slot} is idle", now)
    refusal = validate_intent(
        intent,
        slots=len(k.slots),
        instruments=k.instruments,
        control=k.control,
        slot_asset=slot_asset,
    )
    if refusal is not None:
        return refuse(intent, refusal[0], refusal[1], now)
    slot = k.slots[intent.slot]
    if intent.action is _ENTER:
        return _enter(k, slot, intent, now)
    if intent.action is _EXIT:
        return _exit(k, slot, intent, now)
    return _cancel(k, slot, intent, now)


def refuse(intent: Any, reason: Reason, detail: str, now: int) -> Outcome:
    """The refusal of ``intent``, with its record when it is an :class:`Intent` at all; nothing changes."""
    records: tuple[KernelRecord, ...] = ()
    if isinstance(intent, Intent):
        records = (IntentRecorded(intent, "REFUSED", reason.value, detail, now),)
    slot = intent.slot if isinstance(intent, Intent) and type(intent.slot) is int else -1
    return Outcome(O_REFUSED, reason, detail, slot, (), records)


def _busy(slot: Slot, intent: Intent, now: int) -> Outcome | None:
    """The refusal for an intent naming another trade or a flagged slot."""
    if slot.state is _S_DESYNC:
        why = f"slot {slot.index} is flagged DESYNC ({slot.desync_reason}); reconciliation pending"
        return refuse(intent, R_SLOT_DESYNC, why, now)
    trade = slot.trade
    if trade is not None and trade.trade_id != intent.trade_id:
        why = f"trade_id: slot {slot.index} holds trade {trade.trade_id!r}, not {intent.trade_id!r}"
        return refuse(intent, R_WRONG_TRADE, why, now)
    return None


def _enter(k: Kernel, slot: Slot, intent: Intent, now: int) -> Outcome:
    if slot.state is not _S_IDLE:
        why = f"slot {slot.index} is {slot.state.value} with trade {slot.trade.trade_id if slot.trade else ''!r}"
        return refuse(intent, R_SLOT_BUSY, why, now)
    if slot.refusals and now < slot.retry_ts:
        return _wait_after_refusal(slot, intent, now)
    if not k.config.hedge_mode:
        for other in k.slots:
            t = other.trade
            if t is not None and t.symbol == intent.asset and t.side is not intent.side:
                side = intent.side.value if intent.side else ""
                why = (f"side: the account is in one-way position mode, so a {side} {intent.asset} would net "
                       f"against slot {other.index}'s {t.side.value} trade {t.trade_id}")
                return refuse(intent, Reason.OPPOSITE_SIDE_ONE_WAY, why, now)
    if intent.trade_id in k.used_trade_ids:
        why = f"trade_id: {intent.trade_id!r} was already used; every trade needs a new id"
        return refuse(intent, R_TRADE_ID_USED, why, now)
    assert intent.side is not None
    trade = Trade(
        trade_id=intent.trade_id,
        intent_id=intent.intent_id,
        decision_id=intent.decision_id,
        symbol=intent.asset,
        side=intent.side,
        leverage=intent.leverage,
        exit_legs=intent.exit_legs,
        opened_ts=now,
        metadata=intent.metadata,
    )
    k.used_trade_ids[intent.trade_id] = None
    slot.trade = trade
    slot.queries = 0
    slot.desync_reason = ""
    order = _new_order(k, slot, trade, intent, "ENTRY", 0, 1, intent.quantity, now)
    records: list[KernelRecord] = [IntentRecorded(intent, "PENDING", "OK", "", now)]
    records.append(order_record(order, now))
    k._move(slot, _T_ENTER, intent.intent_id, now, records)
    effects: tuple[Effect, ...] = (
        EnsureLeverage(trade.symbol, trade.side, trade.leverage),
        _place_effect(order, trade, reduce_only=False),
    )
    return Outcome(O_PENDING, R_OK, "", slot.index, effects, tuple(records))


def exit_size(k: Kernel, trade: Trade, *, close_all: bool, price: Decimal | None = None) -> Decimal:
    """The next exit leg: min(ratio x entered, remaining), on the step (E8, A1).

    A leg below the instrument's minimum quantity or notional, or one that would leave less
    than that, takes the whole remainder; so does every leg once the venue refused one as
    below its minimum. Notional is taken at ``price`` (the limit, or the price the policy
    saw), else at the entry VWAP."""
    remaining = trade.remaining
    inst = k.instruments[trade.symbol]
    leg = trade.legs_done
    if close_all or trade.close_rest or leg >= len(trade.exit_legs) - 1:
        return remaining
    size = (trade.exit_legs[leg] * trade.entry_qty / inst.step).to_integral_value(ROUND_DOWN) * inst.step
    size = min(size, remaining)
    if size <= 0 or remaining - size < inst.min_qty:
        return remaining
    least = inst.min_notional
    if least > 0:
        smaller = min(size, remaining - size)
        if price is not None:
            below = smaller * price < least
        else:  # at the entry VWAP, notional / qty: both sides times qty, no division
            below = smaller * trade.entry_notional < least * trade.entry_qty
        if below:
            return remaining
    return size


def _exit(k: Kernel, slot: Slot, intent: Intent, now: int) -> Outcome:
    busy = _busy(slot, intent, now)
    if busy:
        return busy
    trade = slot.trade
    if slot.state is not _S_POSITION_OPEN or trade is None:
        if slot.state is S.IDLE:
            return refuse(intent, R_NO_OPEN_POSITION, f"slot {slot.index} is idle", now)
        why = f"slot {slot.index} is {slot.state.value}: its order must finish or be canceled first"
        return refuse(intent, R_SLOT_BUSY, why, now)
    if slot.refusals and now < slot.retry_ts:
        return _wait_after_refusal(slot, intent, now)
    price = intent.limit_price if intent.order_type is _LIMIT else intent.reference_price
    size = exit_size(k, trade, close_all=intent.close_all, price=price)
    leg = trade.legs_done
    attempt = trade.leg_attempts.get(leg, 0) + 1
    trade.leg_attempts[leg] = attempt
    order = _new_order(k, slot, trade, intent, "EXIT", leg, attempt, size, now)
    records: list[KernelRecord] = [
        IntentRecorded(intent, "PENDING", "OK", "", now),
        order_record(order, now),
    ]
    k._move(slot, _T_EXIT, intent.intent_id, now, records)
    effects = (_place_effect(order, trade, reduce_only=True),)
    return Outcome(O_PENDING, R_OK, "", slot.index, effects, tuple(records))


def _wait_after_refusal(slot: Slot, intent: Intent, now: int) -> Outcome:
    """The venue refused this slot's last order a moment ago: say why, and when to try again."""
    when = f"the next order is allowed at {slot.retry_ts} ns"
    trade = slot.trade
    if trade is not None:
        rest = f"the last {trade.remaining} {trade.symbol} {trade.side.value}"
        if slot.refused in NO_POSITION_CODES:
            why = (f"slot {slot.index}: the venue holds no position to close {rest} ({slot.refused}): "
                   f"was it closed outside PINK, by hand or by liquidation? {when}")
            return refuse(intent, Reason.NO_VENUE_POSITION, why, now)
        if slot.refused in BELOW_MINIMUM_CODES:
            why = f"slot {slot.index}: the venue refused to close {rest} as below its minimum; {when}"
            return refuse(intent, Reason.BELOW_VENUE_MINIMUM, why, now)
    why = f"slot {slot.index}: the venue refused its last {slot.refusals} order(s) ({slot.refused}); {when}"
    return refuse(intent, Reason.VENUE_REFUSED_RECENTLY, why, now)


def _cancel(k: Kernel, slot: Slot, intent: Intent, now: int) -> Outcome:
    busy = _busy(slot, intent, now)
    if busy:
        return busy
    if slot.state in (S.ENTRY_CANCELING, S.EXIT_CANCELING):
        return refuse(intent, R_CANCEL_ALREADY_REQUESTED, f"cancel of {slot.order_cid} already sent", now)
    if slot.state is S.IDLE:
        return refuse(intent, R_NOTHING_TO_CANCEL, f"slot {slot.index} is idle", now)
    if slot.state is S.POSITION_OPEN:
        why = f"slot {slot.index} holds a position and no working order; send EXIT to close it"
        return refuse(intent, R_NOTHING_TO_CANCEL, why, now)
    records: list[KernelRecord] = [IntentRecorded(intent, "PENDING", "OK", "", now)]
    effect = request_cancel(k, slot, intent.intent_id, now, records)
    return Outcome(O_PENDING, R_OK, "", slot.index, (effect,), tuple(records))


def request_cancel(k: Kernel, slot: Slot, cause: str, now: int, records: list[KernelRecord]) -> Effect:
    """Cancel the slot's working order: its transition (into ``records``) and the effect that sends it."""
    order = k.orders[slot.order_cid]
    order.phase = OrderPhase.CANCELING
    k._move(slot, T.CANCEL, cause, now, records)
    return CancelOrder(order.client_order_id, order.symbol, order.venue_order_id)


def _new_order(
    k: Kernel, slot: Slot, trade: Trade, intent: Intent, role: str, leg: int, attempt: int, qty: Decimal, now: int
) -> Order:
    cid = f"{trade.trade_id}-e{attempt}" if role == "ENTRY" else f"{trade.trade_id}-x{leg}a{attempt}"
    long = trade.side is _LONG
    buy = long if role == "ENTRY" else not long
    order = Order(
        client_order_id=cid,
        slot=slot.index,
        trade_id=trade.trade_id,
        role=role,
        leg=leg,
        attempt=attempt,
        symbol=trade.symbol,
        side=_BUY if buy else _SELL,
        order_type=intent.order_type,
        time_in_force=intent.time_in_force,
        quantity=qty,
        limit_price=intent.limit_price,
        intent_id=intent.intent_id,
        decision_id=intent.decision_id,
    )
    k.orders[cid] = order
    trade.orders.append(cid)
    slot.order_cid = cid
    slot.deadline = now + k.config.ack_timeout_ns
    slot.queries = 0
    return order


def order_record(order: Order, now: int) -> OrderRecorded:
    """The record of an order the kernel makes (the journal, ledger and planes keep it)."""
    return OrderRecorded(
        slot=order.slot,
        trade_id=order.trade_id,
        intent_id=order.intent_id,
        decision_id=order.decision_id,
        client_order_id=order.client_order_id,
        role=order.role,
        leg=order.leg,
        attempt=order.attempt,
        symbol=order.symbol,
        side=order.side,
        quantity=order.quantity,
        order_type=order.order_type,
        limit_price=order.limit_price,
        time_in_force=order.time_in_force,
        ts=now,
    )


def _place_effect(order: Order, trade: Trade, *, reduce_only: bool) -> PlaceOrder:
    return PlaceOrder(
        client_order_id=order.client_order_id,
        slot=order.slot,
        symbol=order.symbol,
        side=order.side,
        position_side=trade.side,
        quantity=order.quantity,
        order_type=order.order_type,
        limit_price=order.limit_price,
        time_in_force=order.time_in_force,
        reduce_only=reduce_only,
        leverage=trade.leverage,
    )

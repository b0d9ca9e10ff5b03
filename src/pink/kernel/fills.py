"""Acks, fills, cancels, rejects and funding: how each venue event changes a slot and the account.

Every handler first *plans* (validates and computes every new value into
locals) and only then *commits* (plain assignments that cannot fail), so an
event is applied all or nothing (F15). Anything unexpected -- a malformed
event, an overfill, a fill with no price -- is quarantined: nothing is
applied, the slot is flagged DESYNC and the order is queried (E12, F15).

Fills are keyed by fill id and by cumulative quantity, so duplicates and
replays are no-ops (F2, E10); a fill a report's gap already booked trues the
gap up to its own price, once (:mod:`pink.kernel.gaps`).
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal
from typing import TYPE_CHECKING

from pink.kernel.book import Account, FeeCheck, Order, OrderPhase, Trade
from pink.kernel.consts import (
    O_CONFIRMED,
    O_DUPLICATE,
    O_UNKNOWN,
    R_OK,
    R_ORDER_ALREADY_FILLED,
    R_ORDER_NOT_FOUND,
    R_VENUE_REJECTED,
)
from pink.kernel.gaps import true_up
from pink.kernel.messages import (
    BELOW_MINIMUM_CODES,
    NO_POSITION_CODES,
    ZERO,
    CancelRejected,
    Effect,
    FillBooked,
    KernelRecord,
    OrderAccepted,
    OrderFilled,
    Outcome,
    ProtocolErrorRecorded,
    QueryOrder,
    Settlement,
    SettlementKind,
    TradeClosed,
)
from pink.kernel.states import S, T
from pink.kernel.validation import check_decimal, check_signed

if TYPE_CHECKING:
    from pink.kernel.core import Kernel, Slot

# enum members as module constants (member access through an Enum class costs a descriptor call)
_FILL = SettlementKind.FILL
# enum members through their class cost a descriptor call: the order path reads them as globals
_T_ACCEPTED, _T_FILLED = T.ACCEPTED, T.FILLED
_T_DONE_OPEN, _T_DONE_FLAT = T.ORDER_DONE_OPEN, T.ORDER_DONE_FLAT
#: an order concluded rejected because the venue never knew it (a lost request): no refusal
_NEVER_GOT_THERE = "REJECTED:NOT_FOUND"

__all__ = [
    "Quarantine",
    "amount",
    "book_fill",
    "finish_order",
    "learn_venue_id",
    "new_account",
    "on_accepted",
    "on_cancel_rejected",
    "on_ended",
    "on_fill",
]




def new_account(initial_capital: Decimal) -> Account:
    return Account(initial_capital=initial_capital, capital=initial_capital)


class Quarantine(Exception):
    """Raised while planning: the event cannot be explained."""


def amount(value: object, name: str, *, positive: bool = True) -> Decimal:
    why = check_decimal(value, name, positive=positive)
    if why:
        raise Quarantine(why)
    assert isinstance(value, Decimal)
    return value


def learn_venue_id(k: Kernel, order: Order, voi: str) -> None:
    if voi and not order.venue_order_id:
        order.venue_order_id = voi
        k.venue_ids[voi] = order.client_order_id


def on_accepted(k: Kernel, slot: Slot, order: Order, ev: OrderAccepted, now: int) -> Outcome:
    if not isinstance(ev.venue_order_id, str):
        raise Quarantine("venue_order_id: must be a string")
    learned = bool(ev.venue_order_id) and not order.venue_order_id
    learn_venue_id(k, order, ev.venue_order_id)
    if order.phase != OrderPhase.PENDING:
        status = O_CONFIRMED if learned else O_DUPLICATE
        return Outcome(status, R_OK, "ack of an order already known", slot.index)
    order.phase = OrderPhase.WORKING
    slot.refusals = 0
    records: list[KernelRecord] = []
    k._move(slot, _T_ACCEPTED, ev.client_order_id, now, records)
    slot.deadline = now + k.config.working_check_ns
    slot.queries = 0
    return Outcome(O_CONFIRMED, R_OK, "", slot.index, (), tuple(records))


def on_fill(k: Kernel, slot: Slot, order: Order, ev: OrderFilled, now: int) -> Outcome:
    if not isinstance(ev.fill_id, str) or not ev.fill_id:
        raise Quarantine("fill_id: must be a non-empty string")
    if ev.fill_id in order.fill_ids:
        return Outcome(O_DUPLICATE, R_OK, f"fill {ev.fill_id} already applied", slot.index)
    why = check_decimal(ev.last_qty, "last_qty") or check_decimal(ev.cum_qty, "cum_qty")
    if why:
        raise Quarantine(why)
    qty, cum = ev.last_qty, ev.cum_qty
    if cum <= order.covered_cum:  # a report booked it: true its gap up, once
        return true_up(k, slot, order, ev, now)
    low = cum - qty
    if low < 0:
        raise Quarantine(f"fill {ev.fill_id}: last_qty {qty} is more than its cum_qty {cum}")
    if low < order.covered_cum:  # (a report's quantity is the sum of the venue's fills up to it)
        raise Quarantine(f"fill {ev.fill_id} claims {low} to {cum} of the order, across the {order.covered_cum} "
                         "a report booked")  # fmt: skip
    for a, b, _price in order.spans:
        if low < b and a < cum:  # it claims quantity an applied fill claimed
            if a == low and b == cum:
                return Outcome(O_DUPLICATE, R_OK, f"fill {ev.fill_id} claims the {qty} up to {cum} that an "
                               "applied fill claimed: the same fill under another id", slot.index)  # fmt: skip
            raise Quarantine(f"fill {ev.fill_id} claims {low} to {cum} of the order, in part claimed by an "
                             f"applied fill ({a} to {b})")  # fmt: skip
    why = check_decimal(ev.last_price, "last_price")
    if why:
        raise Quarantine(f"{why}: a fill needs a positive price (E12)")
    price = ev.last_price
    why = check_signed(ev.commission, "commission")
    if why:
        raise Quarantine(why)
    foreign = ev.commission_asset not in (k.config.settle_asset, "")
    fee = ZERO if foreign else ev.commission
    if not isinstance(ev.venue_order_id, str):
        raise Quarantine("venue_order_id: must be a string")
    learn_venue_id(k, order, ev.venue_order_id)
    out = book_fill(
        k, slot, order, ev.fill_id, qty, price, fee, ev.commission, ev.commission_asset, cum, now,
        fee_final=ev.fee_final is not False,
    )
    order.spans.append((low, cum, price))
    if foreign and ev.commission:  # paid in another asset: not in this account, but never silently
        detail = (f"fill {ev.fill_id}: commission {ev.commission} {ev.commission_asset} not booked "
                  f"(the account settles in {k.config.settle_asset})")
        alert = ProtocolErrorRecorded(slot.index, order.trade_id, order.client_order_id, detail, now)
        out = Outcome(out.status, out.reason, detail, out.slot, out.effects, (*out.records, alert))
    return out


def _closed_in_part(k: Kernel, trade: Trade) -> None:
    """An exit fill: every other trade on the venue position (symbol and side), and this one unless
    it closed, now holds a position the venue partly closed at its average entry."""
    if trade.remaining > 0:
        trade.closed_in_part = True
    for slot in k.slots:
        t = slot.trade
        if t is not None and t is not trade and t.symbol == trade.symbol and t.side is trade.side:
            t.closed_in_part = True


def check_fill(slot: Slot, order: Order, qty: Decimal) -> Trade:
    """The trade a fill of ``qty`` on ``order`` books into; raises :class:`Quarantine` for a fill
    that cannot be booked (planning: nothing is changed)."""
    trade = slot.trade
    if trade is None or trade.trade_id != order.trade_id:
        raise Quarantine(f"fill for order {order.client_order_id} whose trade is not on slot {slot.index}")
    if order.filled + qty > order.quantity:
        raise Quarantine(f"overfill: {order.filled + qty} filled of {order.quantity} on {order.client_order_id}")
    if order.role == "EXIT":
        if trade.entry_vwap == 0 and trade.entry_qty <= 0:
            raise Quarantine("exit fill on a trade with no entry fills")
        if qty > trade.remaining:
            raise Quarantine(f"exit fill {qty} is more than the open {trade.remaining}")
    return trade


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
    *,
    fee_final: bool = True,
    venue_order_id: str = "",
) -> Outcome:
    """Plan, then commit, one fill and its settlement. ``venue_order_id`` names the venue's order
    when the kernel's order has none of its own (a close outside PINK booked on an order it made)."""
    trade = check_fill(slot, order, qty)
    filled = order.filled + qty
    pnl = ZERO
    vwap = trade.entry_vwap
    if order.role == "EXIT":
        if vwap == 0:
            vwap = (trade.entry_notional / trade.entry_qty).quantize(k.vwap_quantum(trade.symbol), ROUND_HALF_EVEN)
        if qty == trade.remaining and k.config.exact_round_trip:  # the close: what the round trip made
            pnl = (trade.exit_notional + price * qty - trade.entry_notional) * trade.direction - trade.realized
        else:  # a leg: against the entry VWAP, kept on tick / 1e6 (it need not terminate)
            pnl = (price - vwap) * qty * trade.direction
    elif vwap:  # an entry fill after the first exit fill: what is held is averaged with it, at its own
        held = trade.remaining  # price, as the venue averages a position's entry (later legs take it)
        vwap = ((held * vwap + price * qty) / (held + qty)).quantize(k.vwap_quantum(trade.symbol), ROUND_HALF_EVEN)
    acct = k.account
    before = acct.capital
    after = before + pnl - fee
    notional = price * qty
    # ---- commit (assignments only)
    order.fill_ids.add(fill_id)
    order.filled = filled
    order.notional += notional
    order.commission += fee  # what the account booked: a fee in another asset is not (nor trued up)
    if not fee_final:
        order.fee_check = True
    trade.entry_vwap = vwap
    if order.role == "ENTRY":
        trade.entry_qty += qty
        trade.entry_notional += notional
    else:
        trade.exit_qty += qty
        trade.exit_notional += notional
        trade.realized += pnl
        _closed_in_part(k, trade)
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
            order.venue_order_id or venue_order_id,
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
        Settlement(acct.seq, _FILL, slot.index, trade.trade_id, fill_id, pnl, fee, before, after, now),
    ]
    effects: list[Effect] = []
    if order.phase == OrderPhase.DONE:  # the venue ended it at less, then this fill came
        _late_fill(k, slot, trade, order, fill_id, fee_final, now, records)
        return Outcome(O_CONFIRMED, R_OK, "fill of an order that had ended", slot.index, (), tuple(records))
    if order.phase == OrderPhase.PENDING:
        order.phase = OrderPhase.WORKING
    if filled == order.quantity or (order.final_cum is not None and filled >= order.final_cum):
        finish_order(k, slot, order, "FILLED" if filled == order.quantity else order.end_code, now, records)
    else:
        k._move(slot, _T_FILLED, fill_id, now, records)
        if cum > filled:  # fills we have not seen yet: make sure we ask if they never come
            slot.deadline = min(slot.deadline or now + k.config.ack_timeout_ns, now + k.config.ack_timeout_ns)
    return Outcome(O_CONFIRMED, R_OK, "", slot.index, tuple(effects), tuple(records))


def _late_fill(
    k: Kernel, slot: Slot, trade: Trade, order: Order, fill_id: str, fee_final: bool, now: int,
    records: list[KernelRecord],
) -> None:
    """A fill of an order that had ended (the venue said canceled at less, or the kernel concluded
    it lost) is booked, since it happened, and named in an alert. The slot follows its current
    order, not this one; a late exit fill that leaves the trade flat while no order is working
    closes it."""
    detail = (f"fill {fill_id} of order {order.client_order_id} after it ended ({order.end_code}): "
              f"booked; trade {trade.trade_id} now holds {trade.remaining}")
    records.append(ProtocolErrorRecorded(slot.index, trade.trade_id, order.client_order_id, detail, now))
    if not fee_final:
        k.fee_checks[order.client_order_id] = FeeCheck(order.symbol, now)
    if trade.remaining == 0 and slot.state is S.POSITION_OPEN:
        k._move(slot, _T_DONE_FLAT, fill_id, now, records)
        _trade_closed(k, slot, trade, now, records)


def finish_order(k: Kernel, slot: Slot, order: Order, code: str, now: int, records: list[KernelRecord]) -> None:
    """The order has ended and all its fills are in: move the slot on."""
    trade = slot.trade
    assert trade is not None
    order.phase = OrderPhase.DONE
    order.end_code = code
    order.not_found_ts = 0
    if order.fee_check:
        k.fee_checks[order.client_order_id] = FeeCheck(order.symbol, now)
    if order.filled > 0:
        slot.refusals = 0
        if order.role == "EXIT":
            trade.legs_done += 1
    remaining = trade.remaining
    if order.filled == 0 and code.startswith("REJECTED") and code != _NEVER_GOT_THERE:
        _refused(k, slot, trade, order, code.partition(":")[2] or code, now)  # (a query's: no code)
    trigger = _T_DONE_OPEN if remaining > 0 else _T_DONE_FLAT
    k._move(slot, trigger, order.client_order_id, now, records)
    if remaining == 0:
        _trade_closed(k, slot, trade, now, records)


def _trade_closed(k: Kernel, slot: Slot, trade: Trade, now: int, records: list[KernelRecord]) -> None:
    """The trade holds nothing any more: record what it made and free its slot."""
    if trade.entry_qty > 0:
        net = trade.realized - trade.fees
        # its entry fills' VWAP: the one legs took, unless an entry fill came after the first exit
        entry_vwap = (trade.entry_notional / trade.entry_qty).quantize(k.vwap_quantum(trade.symbol), ROUND_HALF_EVEN)
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
                entry_vwap,
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
    k.retire_trade(slot, now, records)


def _refused(k: Kernel, slot: Slot, trade: Trade, order: Order, code: str, now: int) -> None:
    """The venue refused the slot's order: its next order waits, longer at each refusal in a row,
    so that a policy acting every cycle does not become an order refused every cycle (venues
    punish that). A leg too small for the venue is never sent again (E8): the next exit takes the
    rest. A rest the venue will not close (too small, or no position left there) waits the longest."""
    cfg = k.config
    slot.refusals += 1
    slot.refused = code
    wait = min(cfg.refusal_wait_first_ns << min(slot.refusals - 1, 32), cfg.refusal_wait_max_ns)
    if order.role == "EXIT":
        small = code in BELOW_MINIMUM_CODES
        if small and order.quantity < trade.remaining:
            trade.close_rest = True
        elif small or code in NO_POSITION_CODES:
            wait = cfg.refusal_wait_max_ns
    slot.retry_ts = now + wait


def on_ended(k: Kernel, slot: Slot, order: Order, cum: Decimal, code: str, now: int) -> Outcome:
    """Canceled, expired or rejected, with the venue's cumulative filled quantity."""
    if order.phase == OrderPhase.DONE:
        return Outcome(O_DUPLICATE, R_OK, f"order {order.client_order_id} already ended")
    if cum < order.filled:
        raise Quarantine(f"venue says {cum} filled but {order.filled} fills were applied")
    records: list[KernelRecord] = []
    order.end_code = code
    if cum > order.filled:  # its last fills are still on their way
        order.final_cum = cum
        slot.deadline = now + k.config.ack_timeout_ns
        return Outcome(O_CONFIRMED, R_OK, f"{code}; waiting for fills up to {cum}", slot.index)
    if slot.state is S.DESYNC:
        slot.desync_reason = ""
    finish_order(k, slot, order, code, now, records)
    reason = R_VENUE_REJECTED if code.startswith("REJECTED") else R_OK
    return Outcome(O_CONFIRMED, reason, code, slot.index, (), tuple(records))


def on_cancel_rejected(k: Kernel, slot: Slot, order: Order, ev: CancelRejected, now: int) -> Outcome:
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





"""Positions closed outside PINK (by hand on the venue, or by a liquidation).

The venue then holds less than the kernel's trades, or nothing: every exit the kernel sends
for what is gone is refused ("no position"), and the slot would hold the trade for ever. Two
ways in, both booked the same way:

* :class:`~pink.kernel.messages.ClosedOutside`, the operator's word that a trade was closed
  at a price (``pink run --closed-outside``): the whole trade is booked closed;
* an :class:`~pink.kernel.messages.OrderFilled` of an order the kernel never sent, whose push
  names its symbol and side (:func:`on_filled_outside`): a fill that closes (part of) a
  position the kernel holds is booked on the trades holding it, oldest first. A trade with an
  order of PINK's working is booked only once that order ends (it could still fill what the
  kernel would book as closed: :class:`PendingClose`); so is one whose entry still works, which
  may hold fills not booked yet (one that came without a price, say). What no trade takes is
  reported, never guessed.

A booking is the trade's exit fill on an order of its own, ``<trade_id>-out`` (``-out2``, ...
after the first), which was never sent. Everything after is the ordinary exit: the fill and
its settlement, the slot back to POSITION_OPEN or, when nothing is left, ``TradeClosed`` and
IDLE, the ledger rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from typing import TYPE_CHECKING, Any

from pink.kernel.book import Order, OrderPhase
from pink.kernel.consts import (
    O_CONFIRMED,
    O_DUPLICATE,
    O_QUARANTINED,
    O_REFUSED,
    R_INVALID_FIELD,
    R_OK,
    R_SLOT_BUSY,
    R_UNKNOWN_ORDER,
    R_WRONG_TRADE,
)
from pink.kernel.fills import book_fill
from pink.kernel.intents import order_record
from pink.kernel.messages import (
    ZERO,
    ClosedOutside,
    FillBooked,
    KernelRecord,
    OrderFilled,
    OrderSide,
    OrderType,
    Outcome,
    OutsideFillRecorded,
    ProtocolErrorRecorded,
    Reason,
    Side,
    TimeInForce,
)
from pink.kernel.states import S, T
from pink.kernel.validation import check_decimal, check_signed
from pink.kernel.word_closes import WordClose, match_word, remember_word

if TYPE_CHECKING:
    from pink.kernel.core import Kernel, Slot

__all__ = [
    "OUTSIDE_FILLS_KEPT",
    "OUTSIDE_ORDERS_KEPT",
    "PendingClose",
    "book_pending",
    "keep_span",
    "on_closed_outside",
    "on_filled_outside",
]

OUTSIDE_FILLS_KEPT = 10_000
"""The fills of orders PINK never sent that the kernel remembers (to book each once)."""
OUTSIDE_ORDERS_KEPT = 2_000
"""The orders PINK never sent whose fills' cumulative ranges the kernel remembers (the latest
filled): a fill whose range overlaps one booked is the same quantity under another id."""
_FEE_QUANTUM = Decimal("1e-12")  # a fee shared among trades: each share to this, the last takes the rest


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
    qty, symbol, side = trade.remaining, trade.symbol, trade.side
    booked = _book(k, slot, qty, ev.price, ev.commission, k.config.settle_asset, f"closed outside: {ev.note}", now)
    for r in booked.records:  # its real fill may come later: it replaces this booking (pink.kernel.word_closes)
        if isinstance(r, FillBooked):
            remember_word(k, WordClose(trade.trade_id, slot.index, symbol, side, r.client_order_id, r.fill_id, r.leg,
                                       qty, qty, ev.price, ev.commission, now))  # fmt: skip
    detail = f"{qty} {trade.symbol} {trade.side.value} booked closed outside PINK at {ev.price}, fee {ev.commission}"
    return Outcome(booked.status, booked.reason, detail, slot.index, (), booked.records)


def _book(
    k: Kernel, slot: Slot, qty: Decimal, price: Decimal, fee: Decimal, asset: str, why: str, now: int,
    fill_id: str = "", venue_order_id: str = "",
) -> Outcome:
    """Book ``qty`` of ``slot``'s trade (POSITION_OPEN, no order working) closed at ``price``
    on an order of its own; the fill is ``fill_id`` (the venue's), else ``<order>:closed-outside``,
    and names ``venue_order_id``, the venue's order (kept off the kernel's own order, which must
    never route that order's later events to itself)."""
    trade = slot.trade
    assert trade is not None
    base = f"{trade.trade_id}-out"
    cid, n = base, 1
    while cid in k.orders:
        n += 1
        cid = f"{base}{n}"
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
    records: list[KernelRecord] = [order_record(order, now)]
    k._move(slot, T.EXIT, why, now, records)
    booked = book_fill(k, slot, order, fill_id or f"{cid}:closed-outside", qty, price, fee, fee, asset, qty, now,
                       venue_order_id=venue_order_id)
    return Outcome(booked.status, booked.reason, "", slot.index, (), (*records, *booked.records))


def _unseen(k: Kernel, s: Slot) -> bool:
    """The slot's entry works and may hold more than the kernel booked yet: a fill it could not
    book (one that came without a price: the slot is DESYNC), or fills its cumulative quantities
    say are on their way. The venue may already have closed that too."""
    order = k.orders.get(s.order_cid)
    if order is None or order.role != "ENTRY" or not order.live:
        return False
    seen = max((b for _a, b, _p in order.spans), default=ZERO)
    return s.state is S.DESYNC or seen > order.filled or (order.final_cum or ZERO) > order.filled


def _cap(k: Kernel, s: Slot) -> Decimal | None:
    """The most a close by hand can take of the trade on busy slot ``s`` once its order ends: what
    it holds now when its entry works (what that fills later is not what the close closed), else
    no cap (an exit working only lowers what it holds; an entry with fills unseen may hold more)."""
    order = k.orders.get(s.order_cid)
    if order is None or order.role != "ENTRY" or not order.live or _unseen(k, s) or s.trade is None:
        return None
    return s.trade.remaining


def on_filled_outside(k: Kernel, ev: OrderFilled, now: int) -> Outcome:
    """Book a fill of an order the kernel never sent, when it closes a position the kernel
    holds (see the module docstring); report, naming it, whatever it does not book."""
    why = _check_fill(k, ev)
    if why:
        return _unbooked(k, f"fill {ev.fill_id!r} of an order PINK never sent: {why}", now)
    if ev.fill_id in k.outside_fills:
        return Outcome(O_DUPLICATE, R_OK, f"fill {ev.fill_id} of an order PINK never sent: already seen")
    voi = ev.venue_order_id if isinstance(ev.venue_order_id, str) else ""
    if voi:
        claimed = _claimed(k, ev, voi, now)
        if claimed is not None:
            return claimed
        keep_span(k, voi, ev.cum_qty - ev.last_qty, ev.cum_qty)
    k.outside_fills[ev.fill_id] = None
    if len(k.outside_fills) > OUTSIDE_FILLS_KEPT:  # the oldest: a repeat of it is long past
        k.outside_fills.popitem(last=False)
    assert ev.side is not None
    closes = Side.LONG if ev.side is OrderSide.SELL else Side.SHORT
    what = f"{ev.last_qty} {ev.symbol} {ev.side.value} at {ev.last_price} (fill {ev.fill_id})"
    if ev.position_side is not None and ev.position_side is not closes:
        key = f"{ev.symbol} {ev.position_side.value}"
        k.outside_held[key] = k.outside_held.get(key, ZERO) + ev.last_qty
        detail = (f"{what}: an order PINK never sent opened or added to a {ev.position_side.value} position; "
                  f"not PINK's, not booked (PINK now counts {k.outside_held[key]} {key} as held outside it)")
        return Outcome(O_CONFIRMED, R_UNKNOWN_ORDER, detail, -1, (), (OutsideFillRecorded(ev.fill_id, ev.symbol,
                                                                                          detail, now),))  # fmt: skip
    asset = ev.commission_asset or k.config.settle_asset
    fee = ev.commission if asset == k.config.settle_asset else ZERO
    worded, word_fee, records = match_word(k, ev, closes, fee, asset, now) if k.word_closes else (ZERO, ZERO, [])
    left = ev.last_qty - worded
    key = f"{ev.symbol} {closes.value}"
    theirs = min(k.outside_held.get(key, ZERO), left)  # what orders PINK never sent opened closes first
    if theirs:
        left -= theirs
        k.outside_held[key] -= theirs
        if not k.outside_held[key]:
            del k.outside_held[key]
    holding = sorted(
        (s for s in k.slots if s.trade is not None and s.trade.symbol == ev.symbol and s.trade.side is closes
         and (s.trade.remaining > 0 or _unseen(k, s))),
        key=lambda s: (s.trade.opened_ts if s.trade else 0, s.index),
    )  # fmt: skip
    free = [s for s in holding if s.state is S.POSITION_OPEN]
    busy = [s.index for s in holding if s.state is not S.POSITION_OPEN]
    shares: list[tuple[Slot, Decimal]] = []
    for s in free:
        if left <= 0:
            break
        assert s.trade is not None
        q = min(s.trade.remaining, left)
        shares.append((s, q))
        left -= q
    booked: list[str] = []
    fee_left = fee - word_fee  # less the share of what closed outside holdings (not PINK's)
    if theirs:
        fee_left = (fee * (ev.last_qty - theirs - worded) / ev.last_qty).quantize(_FEE_QUANTUM, ROUND_DOWN)
    for i, (s, q) in enumerate(shares):
        last = i == len(shares) - 1
        share = fee_left if last and left == 0 else (fee * q / ev.last_qty).quantize(_FEE_QUANTUM, ROUND_DOWN)
        fee_left -= share
        fill_id = ev.fill_id if len(shares) == 1 else f"{ev.fill_id}#{i + 1}"
        assert s.trade is not None
        booked.append(f"{q} on slot {s.index} (trade {s.trade.trade_id})")
        note = f"closed outside: fill {ev.fill_id} of venue order {voi or '?'}"
        records.extend(_book(k, s, q, ev.last_price, share, asset, note, now, fill_id, voi).records)
    detail = f"{what}: an order PINK never sent; booked {', '.join(booked) or 'nothing'}"
    if worded:
        detail = f"{detail}; {worded} is the real fill of a close booked on the operator's word: trued up"
    if left > 0 and busy:  # their order could still fill: booked on them once it ends
        waiting = [s for s in holding if s.state is not S.POSITION_OPEN and s.trade]
        trades = tuple(s.trade.trade_id for s in waiting if s.trade)
        caps = {s.trade.trade_id: cap for s in waiting if s.trade and (cap := _cap(k, s)) is not None}
        k.outside_pending.setdefault(key, []).append(PendingClose(ev.fill_id, left, ev.last_price, fee_left, asset,
                                                                  trades, voi, caps))  # fmt: skip
        detail = (f"{detail}; {left} waits for slots {busy} (an order of PINK's working): booked on them "
                  f"when it ends")  # fmt: skip
        left = ZERO
    if left > 0 or theirs or fee != ev.commission:
        parts = []
        if theirs:
            parts.append(f"{theirs} closed what orders PINK never sent had opened, not booked")
        if left > 0:
            parts.append(f"{left} not booked: no trade of PINK's holds it")
            if ev.position_side is None:  # one-way: what closed nothing opened the other side
                other = f"{ev.symbol} {(Side.SHORT if closes is Side.LONG else Side.LONG).value}"
                k.outside_held[other] = k.outside_held.get(other, ZERO) + left
        if fee != ev.commission:
            parts.append(f"commission {ev.commission} {ev.commission_asset} not booked (the account settles in "
                         f"{k.config.settle_asset})")  # fmt: skip
        detail = f"{detail}; " + "; ".join(parts)
        records.append(OutsideFillRecorded(ev.fill_id, ev.symbol, detail, now))
    if not shares:
        return Outcome(O_CONFIRMED, R_OK if worded else R_UNKNOWN_ORDER, detail, -1, (), tuple(records))
    return Outcome(O_CONFIRMED, R_OK, detail, shares[0][0].index, (), tuple(records))


def _check_fill(k: Kernel, ev: OrderFilled) -> str | None:
    if not isinstance(ev.fill_id, str) or not ev.fill_id:
        return "fill_id: must be a non-empty string"
    if not isinstance(ev.side, OrderSide):
        return f"side: must be BUY or SELL, got {ev.side!r}"
    if ev.position_side is not None and not isinstance(ev.position_side, Side):
        return f"position_side: must be LONG, SHORT or None, got {ev.position_side!r}"
    if not isinstance(ev.symbol, str) or ev.symbol not in k.instruments:
        return f"symbol: {ev.symbol!r} is not an instrument PINK trades"
    why = check_decimal(ev.last_qty, "last_qty") or check_decimal(ev.last_price, "last_price")
    why = why or check_signed(ev.commission, "commission")
    if why is None and not isinstance(ev.commission_asset, str):
        why = "commission_asset: must be a string"
    return why


def keep_span(k: Kernel, voi: str, low: Decimal, cum: Decimal) -> None:
    """Remember that a fill booked claimed ``(low, cum]`` of the venue's order ``voi``, one PINK
    never sent; the order moves last (the latest filled are kept, :data:`OUTSIDE_ORDERS_KEPT`)."""
    spans = k.outside_spans.pop(voi, [])
    spans.append((low, cum))
    k.outside_spans[voi] = spans
    if len(k.outside_spans) > OUTSIDE_ORDERS_KEPT:
        k.outside_spans.popitem(last=False)


def _claimed(k: Kernel, ev: OrderFilled, voi: str, now: int) -> Outcome | None:
    """Whether ``ev`` claims quantity of the venue's order ``voi`` that a fill booked claimed: the
    venue's adapter numbers such fills by the order's cumulative quantity, and a later read that
    lists a fill lagging before it numbers the same fill anew (the range a fill claims is
    ``(cum_qty - last_qty, cum_qty]``, as for PINK's own orders). A fill of the very range booked
    is a duplicate; one in part over it is not booked, and said, naming both ranges."""
    why = check_decimal(ev.cum_qty, "cum_qty")
    if why is None and ev.cum_qty < ev.last_qty:
        why = f"cum_qty: {ev.cum_qty} is less than the fill's last_qty {ev.last_qty}"
    if why:
        return _unbooked(k, f"fill {ev.fill_id!r} of venue order {voi}, an order PINK never sent: {why}", now)
    low, cum = ev.cum_qty - ev.last_qty, ev.cum_qty
    for a, b in k.outside_spans.get(voi, ()):
        if low < b and a < cum:
            if a == low and b == cum:
                return Outcome(O_DUPLICATE, R_OK, f"fill {ev.fill_id} of venue order {voi}, an order PINK never "
                               f"sent, claims the {ev.last_qty} up to {cum} that a fill booked claimed: the same "
                               "fill under another id")  # fmt: skip
            return _unbooked(k, f"fill {ev.fill_id!r} of venue order {voi}, an order PINK never sent, claims {low} "
                             f"to {cum} of it, in part claimed by a fill already booked ({a} to {b}): not booked "
                             "(the venue's fills were read in another order: check the position)", now)  # fmt: skip
    return None


def _unbooked(k: Kernel, detail: str, now: int) -> Outcome:
    k.quarantined += 1
    return Outcome(O_QUARANTINED, R_UNKNOWN_ORDER, detail, -1, (), (ProtocolErrorRecorded(-1, "", "", detail, now),))


@dataclass(slots=True)
class PendingClose:
    """What a close by hand took of a position whose trades had an order of PINK's working:
    booked on one of ``trades`` once its order ends (it could still have filled)."""

    fill_id: str
    qty: Decimal
    price: Decimal
    fee: Decimal
    asset: str
    trades: tuple[str, ...]
    venue_order_id: str = ""  # the venue's order of the fill
    # the most each trade whose entry worked may still take (what it held at the close; none: no
    # cap), lowered as it takes it
    caps: dict[str, Decimal] = field(default_factory=dict)

    def plain(self) -> list[Any]:
        row = [self.fill_id, str(self.qty), str(self.price), str(self.fee), self.asset, list(self.trades)]
        row.append(self.venue_order_id)
        return row if not self.caps else [*row, {t: str(q) for t, q in sorted(self.caps.items())}]

    @classmethod
    def load(cls, row: list[Any]) -> PendingClose:
        """A row of snapshot format 10 (caps, when any, eighth), 8, or an older one (no venue order id)."""
        fill_id, qty, price, fee, asset, trades = row[:6]
        voi = row[6] if len(row) > 6 else ""
        caps = {t: Decimal(q) for t, q in row[7].items()} if len(row) > 7 else {}
        return cls(fill_id, Decimal(qty), Decimal(price), Decimal(fee), asset, tuple(trades), voi, caps)

    def takes(self, trade_id: str) -> bool:
        """Whether trade ``trade_id`` may still take some of it."""
        return trade_id in self.trades and self.caps.get(trade_id) != 0


def book_pending(k: Kernel, slot: Slot, now: int) -> tuple[KernelRecord, ...]:
    """After an event on ``slot``'s order: if the slot is POSITION_OPEN again (its order ended),
    book on its trade what a close by hand left waiting for it; then drop, reporting it, what
    waits for trades that are all gone (ended by PINK's own order)."""
    records: list[KernelRecord] = []
    trade = slot.trade
    queue = k.outside_pending.get(f"{trade.symbol} {trade.side.value}") if trade is not None else None
    for p in list(queue or ()):
        if trade is None or slot.trade is not trade or slot.state is not S.POSITION_OPEN or trade.remaining <= 0:
            break
        if not p.takes(trade.trade_id):
            continue
        cap = p.caps.get(trade.trade_id)
        q = min(p.qty, trade.remaining) if cap is None else min(p.qty, trade.remaining, cap)
        fee = p.fee if q == p.qty else (p.fee * q / p.qty).quantize(_FEE_QUANTUM, ROUND_DOWN)
        note = f"closed outside: fill {p.fill_id}, kept until the slot's order ended"
        fill_id = f"{p.fill_id}#{trade.trade_id}"
        records.extend(_book(k, slot, q, p.price, fee, p.asset, note, now, fill_id, p.venue_order_id).records)
        p.qty -= q
        p.fee -= fee
        if cap is not None:
            p.caps[trade.trade_id] = cap - q
        if p.qty == 0 and queue is not None:
            queue.remove(p)
    open_ids = {s.trade.trade_id for s in k.slots if s.trade is not None}
    for key, waiting in list(k.outside_pending.items()):
        for p in [p for p in waiting if not any(p.takes(t) for t in open_ids)]:
            waiting.remove(p)
            how = "ended without it" if not open_ids.intersection(p.trades) else "ended or took what they held"
            detail = (f"fill {p.fill_id} of an order PINK never sent: {p.qty} {key} not booked: the trades it "
                      f"waited for ({', '.join(p.trades)}) {how}")  # fmt: skip
            records.append(OutsideFillRecorded(p.fill_id, key.split(" ")[0], detail, now))
        if not waiting:
            del k.outside_pending[key]
    return tuple(records)

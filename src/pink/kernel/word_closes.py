"""The venue's own fill of a close booked on the operator's word, come later (E8, E10).

``pink run --closed-outside`` (:class:`~pink.kernel.messages.ClosedOutside`) books a trade closed
at the price and fee the operator gives, once the venue no longer holds it: the close by hand
had already happened. Its real fill may still reach the kernel afterwards (a reconcile that reads
the fills of orders PINK never sent, for a position that differs). That fill finds no trade: taken
as any other, it would close another trade of PINK's on the same symbol and side (hedge mode), or
count as a position held outside PINK on the other side (one way), which the venue never held.

So each close booked on the word is remembered (:class:`WordClose`, the latest
:data:`WORD_CLOSES_KEPT`) until its quantity is matched: a fill of an order PINK never sent that
closes the same symbol and side, dated no later than the word was booked, is that close's. It
replaces the word's booking as a real fill replaces a report's gap (:mod:`pink.kernel.late`):
the word's piece reversed and the fill at its own price and fee (two fill rows of the trade's
``-out`` order), the difference settled, and a :class:`~pink.kernel.messages.TradeCorrected` for
the trade's closed record; an alert says so. A fill dated after the word is a new close.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from typing import TYPE_CHECKING, Any

from pink.kernel.gaps import replaced_id
from pink.kernel.messages import (
    ZERO,
    FillBooked,
    KernelRecord,
    OrderFilled,
    OrderSide,
    OutsideFillRecorded,
    Settlement,
    SettlementKind,
    Side,
    TradeCorrected,
)

if TYPE_CHECKING:
    from pink.kernel.core import Kernel

__all__ = ["WORD_CLOSES_KEPT", "WordClose", "match_word", "remember_word"]

WORD_CLOSES_KEPT = 200
"""The closes booked on the operator's word whose real fills the kernel waits for (the latest)."""
_FEE_QUANTUM = Decimal("1e-12")


@dataclass(slots=True)
class WordClose:
    """A close booked on the operator's word: ``qty`` of it (of ``total``) no real fill has
    replaced yet, at the word's ``price`` and what is left of its ``fee``."""

    trade_id: str
    slot: int
    symbol: str
    side: Side  # the trade's
    client_order_id: str  # the ``-out`` order it was booked on
    fill_id: str
    leg: int
    total: Decimal
    qty: Decimal
    price: Decimal
    fee: Decimal
    ts: int  # when it was booked: its real fill is no later

    def plain(self) -> list[Any]:
        return [self.trade_id, self.slot, self.symbol, self.side.value, self.client_order_id, self.fill_id, self.leg,
                str(self.total), str(self.qty), str(self.price), str(self.fee), self.ts]  # fmt: skip

    @classmethod
    def load(cls, row: list[Any]) -> WordClose:
        tid, slot, symbol, side, cid, fid, leg, total, qty, price, fee, ts = row
        return cls(tid, slot, symbol, Side(side), cid, fid, leg, Decimal(total), Decimal(qty), Decimal(price),
                   Decimal(fee), ts)  # fmt: skip


def remember_word(k: Kernel, close: WordClose) -> None:
    """Wait for ``close``'s real fill (the oldest waiting is given up past :data:`WORD_CLOSES_KEPT`)."""
    k.word_closes.append(close)
    if len(k.word_closes) > WORD_CLOSES_KEPT:
        del k.word_closes[0]


def match_word(
    k: Kernel, ev: OrderFilled, closes: Side, fee: Decimal, asset: str, now: int
) -> tuple[Decimal, Decimal, list[KernelRecord]]:
    """Book what of ``ev`` (a fill of an order PINK never sent that closes ``closes``, its fee
    ``fee`` in ``asset``: none when not the account's) is the real fill of closes booked on the
    word, oldest first: (the quantity, the share of ``fee`` it took, the records)."""
    if type(ev.ts) is not int:
        return ZERO, ZERO, []
    left, taken_fee = ev.last_qty, ZERO
    records: list[KernelRecord] = []
    for w in [w for w in k.word_closes if w.symbol == ev.symbol and w.side is closes and ev.ts <= w.ts]:
        if left <= 0:
            break
        q = min(left, w.qty)
        real_fee = fee if q == ev.last_qty else (fee * q / ev.last_qty).quantize(_FEE_QUANTUM, ROUND_DOWN)
        word_fee = w.fee if q == w.qty else (w.fee * q / w.qty).quantize(_FEE_QUANTUM, ROUND_DOWN)
        if asset != k.config.settle_asset:  # the real fee is not this account's: the word's stands
            real_fee = word_fee
        records.extend(_true_up(k, w, ev, q, real_fee, word_fee, now))
        left -= q
        taken_fee += real_fee
        w.qty -= q
        w.fee -= word_fee
        if w.qty == 0:
            k.word_closes.remove(w)
    return ev.last_qty - left, taken_fee, records


def _true_up(
    k: Kernel, w: WordClose, ev: OrderFilled, q: Decimal, real_fee: Decimal, word_fee: Decimal, now: int
) -> list[KernelRecord]:
    direction = 1 if w.side is Side.LONG else -1
    exit_delta = (ev.last_price - w.price) * q
    pnl = exit_delta * direction
    fee = real_fee - word_fee
    acct = k.account
    before = acct.capital
    acct.seq += 1
    acct.capital = before + pnl - fee
    acct.gross_pnl += pnl
    acct.fees += fee
    k.version += 1
    asset = k.config.settle_asset
    side = OrderSide.SELL if w.side is Side.LONG else OrderSide.BUY
    fill_id = f"{ev.fill_id}#{w.trade_id}"
    voi = ev.venue_order_id if isinstance(ev.venue_order_id, str) else ""

    def row(fid: str, qty: Decimal, price: Decimal, f: Decimal, realized: Decimal) -> FillBooked:
        return FillBooked(w.slot, w.trade_id, "", "", w.client_order_id, voi, fid, "EXIT", w.leg, w.symbol, side,
                          qty, price, w.total, f, asset, realized, now)  # fmt: skip

    detail = (f"fill {ev.fill_id} ({q} {ev.symbol} {ev.side.value if ev.side else '?'} at {ev.last_price}, dated "
              f"before the word) is the venue's own fill of the close of trade {w.trade_id} booked closed outside "
              f"PINK on the operator's word at {w.price}: it replaces that booking ({pnl:+} PnL, {fee:+} fee); "
              f"no position is counted for it")  # fmt: skip
    return [
        row(replaced_id(w.fill_id, ev.fill_id), -q, w.price, -word_fee, ZERO),
        row(fill_id, q, ev.last_price, real_fee, pnl),
        Settlement(acct.seq, SettlementKind.FILL, -1, w.trade_id, fill_id, pnl, fee, before, acct.capital, now),
        TradeCorrected(w.slot, w.trade_id, w.client_order_id, fill_id, "EXIT", w.symbol, w.side, ZERO, exit_delta,
                       pnl, fee, now),
        OutsideFillRecorded(ev.fill_id, ev.symbol, detail, now),
    ]

"""Hand-built kernel records for the ledger tests (consistent, exact)."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal, localcontext

from pink.kernel.messages import (
    Action,
    FillBooked,
    Intent,
    IntentRecorded,
    KernelRecord,
    OrderRecorded,
    OrderSide,
    OrderType,
    PolicyMetadata,
    Settlement,
    SettlementKind,
    Side,
    SlotChanged,
    TimeInForce,
    TradeClosed,
)

__all__ = ["Book", "D", "interleave", "trade", "trade_steps"]

D = Decimal
Fill = tuple[str, str, str]  # qty, price, commission


class Book:
    """The account's settlement sequence and a clock, shared by all slots."""

    def __init__(self, capital: str = "10000") -> None:
        self.capital = D(capital)
        self.initial = self.capital
        self.seq = 0
        self.ts = 1_700_000_000_000_000_000

    def now(self) -> int:
        self.ts += 1_000_003
        return self.ts

    def settle(self, slot: int, trade_id: str, cause: str, amount: D, fee: D) -> Settlement:
        self.seq += 1
        before = self.capital
        self.capital = before + amount - fee
        return Settlement(self.seq, SettlementKind.FILL, slot, trade_id, cause, amount, fee,
                          before, self.capital, self.now())


def trade_steps(
    book: Book,
    *,
    slot: int,
    trade_id: str,
    side: Side,
    entry: list[Fill],
    exits: list[list[Fill]],
    symbol: str = "BTC-USDT",
    metadata: PolicyMetadata | None = None,
) -> Iterator[list[KernelRecord]]:
    """One trade, a step at a time (each step settles into the shared book)."""
    direction = 1 if side is Side.LONG else -1
    buy, sell = (OrderSide.BUY, OrderSide.SELL) if direction == 1 else (OrderSide.SELL, OrderSide.BUY)
    meta = metadata or PolicyMetadata(confidence=0.5, bars_held=0)
    entry_qty = sum((D(q) for q, _, _ in entry), D(0))
    with localcontext() as ctx:
        ctx.prec = 100
        entry_vwap = sum((D(q) * D(p) for q, p, _ in entry), D(0)) / entry_qty
    opened = book.ts
    intent = Intent(Action.ENTER, slot, trade_id, f"{trade_id}-i0", f"{trade_id}-d0", symbol,
                    side, entry_qty, 5, metadata=meta)
    coid = f"{trade_id}-E"
    yield [
        IntentRecorded(intent, "PENDING", "OK", "", book.now()),
        SlotChanged(slot, trade_id, "IDLE", "ENTERING", intent.intent_id, book.now()),
        OrderRecorded(slot, trade_id, intent.intent_id, intent.decision_id, coid, "ENTRY", 0, 0,
                      symbol, buy, entry_qty, OrderType.MARKET, None, TimeInForce.GTC, book.now()),
    ]
    fees, gross, cum = D(0), D(0), D(0)
    for n, (q, p, c) in enumerate(entry):
        cum += D(q)
        fees += D(c)
        fid = f"{trade_id}-ef{n}"
        yield [
            FillBooked(slot, trade_id, intent.intent_id, intent.decision_id, coid, f"v-{coid}",
                       fid, "ENTRY", 0, symbol, buy, D(q), D(p), cum, D(c), "USDT", D(0),
                       book.now()),
            book.settle(slot, trade_id, fid, D(0), D(c)),
        ]
    exit_qty, exit_notional = D(0), D(0)
    for leg, fills in enumerate(exits, start=1):
        leg_intent = Intent(Action.EXIT, slot, trade_id, f"{trade_id}-i{leg}", f"{trade_id}-d{leg}",
                            metadata=meta)
        coid = f"{trade_id}-X{leg}"
        leg_qty = sum((D(q) for q, _, _ in fills), D(0))
        yield [
            IntentRecorded(leg_intent, "PENDING", "OK", "", book.now()),
            OrderRecorded(slot, trade_id, leg_intent.intent_id, leg_intent.decision_id, coid,
                          "EXIT", leg, 0, symbol, sell, leg_qty, OrderType.LIMIT, D(fills[0][1]),
                          TimeInForce.GTC, book.now()),
        ]
        cum = D(0)
        for n, (q, p, c) in enumerate(fills):
            with localcontext() as ctx:
                ctx.prec = 100
                pnl = (D(p) - entry_vwap) * D(q) * direction
                cum += D(q)
                exit_qty += D(q)
                exit_notional += D(q) * D(p)
                gross += pnl
                fees += D(c)
            fid = f"{trade_id}-x{leg}f{n}"
            yield [
                FillBooked(slot, trade_id, leg_intent.intent_id, leg_intent.decision_id, coid,
                           f"v-{coid}", fid, "EXIT", leg, symbol, sell, D(q), D(p), cum, D(c),
                           "USDT", pnl, book.now()),
                book.settle(slot, trade_id, fid, pnl, D(c)),
            ]
    with localcontext() as ctx:
        ctx.prec = 100
        exit_vwap = exit_notional / exit_qty
    yield [
        TradeClosed(slot, trade_id, intent.intent_id, intent.decision_id, symbol, side,
                    entry_qty, entry_vwap, exit_qty, exit_notional, exit_vwap, len(exits),
                    gross, fees, gross - fees, opened, book.now()),
        SlotChanged(slot, trade_id, "EXITING", "IDLE", f"{trade_id}-x", book.now()),
    ]


def trade(book: Book, **kwargs: object) -> list[KernelRecord]:
    return [r for step in trade_steps(book, **kwargs) for r in step]  # type: ignore[arg-type]


def interleave(*steppers: Iterator[list[KernelRecord]]) -> list[KernelRecord]:
    """Round-robin the steps of several trades (many slots at once)."""
    out: list[KernelRecord] = []
    live = list(steppers)
    while live:
        for s in list(live):
            step = next(s, None)
            if step is None:
                live.remove(s)
            else:
                out.extend(step)
    return out

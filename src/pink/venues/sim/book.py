"""The synthetic book of one symbol: levels around the price process, the
liquidity taken since the last price update, and the price history."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Mapping
from decimal import ROUND_FLOOR, Decimal

from pink.errors import ConfigError
from pink.kernel.messages import ZERO, Instrument
from pink.venues.sim.prices import NS_PER_S, Candle, MarketConfig, PriceProcess

__all__ = ["Book", "check_levels", "floor_to"]

HISTORY = 200_000


def floor_to(x: Decimal, step: Decimal) -> Decimal:
    return (x / step).to_integral_value(rounding=ROUND_FLOOR) * step


def check_levels(config: MarketConfig, instruments: Mapping[str, Instrument]) -> None:
    """Refuse a level size set for a symbol not listed (a typo: its book would not be the one set
    up) or off its symbol's step (a taker walking such levels would hold a quantity no order
    could close)."""
    for symbol, qty in config.level_qty.items():
        inst = instruments.get(symbol)
        if inst is None:
            raise ConfigError(f"level_qty of {symbol}: not an instrument of the simulator "
                              f"({', '.join(sorted(instruments))})")  # fmt: skip
        if qty % inst.step:
            raise ConfigError(f"level_qty of {symbol}: {qty} is not a multiple of its step {inst.step}")


class Book:
    """Levels ``gap`` ticks apart, ``level_qty`` each; taken liquidity refills
    on the next price update."""

    __slots__ = ("depth", "gap", "history", "inst", "level_qty", "proc", "used_asks", "used_bids")

    def __init__(self, inst: Instrument, proc: PriceProcess, config: MarketConfig) -> None:
        self.inst = inst
        self.proc = proc
        self.gap = config.level_gap_ticks
        self.depth = config.depth_levels
        fixed = config.level_qty.get(inst.symbol)
        if fixed is None:
            fixed = max(inst.step, floor_to(config.level_notional / proc.price(proc.mark), inst.step))
        self.level_qty = fixed
        self.used_bids = [ZERO] * self.depth
        self.used_asks = [ZERO] * self.depth
        self.history: deque[tuple[int, int, Decimal]] = deque(maxlen=HISTORY)
        self.history.append((proc.last_ts, proc.last, proc.traded_qty))

    def on_step(self, ts: int) -> None:
        """The price moved: liquidity refills, the history grows."""
        for i in range(self.depth):
            self.used_bids[i] = self.used_asks[i] = ZERO
        self.history.append((ts, self.proc.last, self.proc.traded_qty))

    def levels(self, buy: bool) -> Iterator[tuple[int, Decimal]]:
        """(price ticks, free qty) of the side a taker hits, best first.

        Lazy, as a taker mostly stops at the first level; :meth:`take` on a
        level already yielded does not change the ones still to come.
        """
        step = self.gap if buy else -self.gap
        best = self.proc.ask if buy else self.proc.bid
        qty = self.level_qty
        for i, used in enumerate(self.used_asks if buy else self.used_bids):
            px = best + i * step
            if px < 1:
                return
            yield px, qty - used

    def take(self, buy: bool, level: int, qty: Decimal) -> None:
        (self.used_asks if buy else self.used_bids)[level] += qty

    def cost(self, buy: bool, qty: Decimal) -> Decimal:
        """The notional a taker of ``qty`` pays walking the free levels (what is beyond them at
        the last one's price: a venue checks the margin of all of it)."""
        total = ZERO
        price = self.proc.price
        last = self.proc.ask if buy else self.proc.bid
        for px, free in self.levels(buy):
            last = px
            if free > 0:
                q = min(free, qty)
                total += q * price(px)
                qty -= q
                if not qty:
                    break
        return total + qty * price(last)

    def available(self, buy: bool, limit: int | None) -> Decimal:
        total = ZERO
        for px, free in self.levels(buy):
            if limit is not None and (px > limit if buy else px < limit):
                break
            total += free
        return total

    def depth_snapshot(self) -> tuple[list[tuple[Decimal, Decimal]], list[tuple[Decimal, Decimal]]]:
        price = self.proc.price
        return (
            [(price(px), q) for px, q in self.levels(False)],
            [(price(px), q) for px, q in self.levels(True)],
        )

    def candles(self, interval_s: int, limit: int) -> list[Candle]:
        """The last ``limit`` bars of ``interval_s`` seconds, oldest first."""
        iv = interval_s * NS_PER_S
        bars: list[list[int]] = []  # [open ts, open, high, low, close] in ticks
        vols: list[Decimal] = []
        for ts, px, qty in reversed(self.history):
            b = ts - ts % iv
            if not bars or bars[-1][0] != b:
                if len(bars) == limit:
                    break
                bars.append([b, px, px, px, px])
                vols.append(qty)
            else:
                bar = bars[-1]
                bar[1] = px
                bar[2] = max(bar[2], px)
                bar[3] = min(bar[3], px)
                vols[-1] += qty
        p = self.proc.price
        sym = self.inst.symbol
        return [
            Candle(sym, b, p(o), p(h), p(lo), p(c), v)
            for (b, o, h, lo, c), v in zip(reversed(bars), reversed(vols), strict=True)
        ]

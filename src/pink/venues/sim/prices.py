"""Deterministic price processes for the simulator.

A process holds the best bid of one symbol as an integer number of ticks
(exact, and cheap to move); the ask is ``bid + spread_ticks``. Two kinds:

* :class:`RandomWalk`: a seeded Gaussian walk, one update every ``step_ns``.
  The random draw is a float, but it only picks an integer number of ticks
  to move: every price the engine sees is ``ticks x tick``, an exact Decimal.
* :class:`ReplayPrices`: the prices of a CSV of trades (``ts_ms,price[,qty]``)
  or candles (``ts_ms,open,high,low,close``; each candle is replayed as four
  updates inside its span, open -> low/high -> high/low -> close). Past its
  last row the price stays where it ended: the replay warns once that it ran
  out, and :attr:`PriceProcess.ended` says so (a run on it can stop there).

The mark price is the mid on the tick; the funding rate is derived from the
same process (premium of the mark over the price at the last settlement)
unless a fixed rate is configured.
"""

from __future__ import annotations

import csv
import logging
import math
import random
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

from pink.errors import ConfigError
from pink.kernel.messages import Instrument

__all__ = [
    "DEFAULT_START_PRICES",
    "Candle",
    "MarketConfig",
    "PriceProcess",
    "RandomWalk",
    "ReplayFile",
    "ReplayPrices",
    "load_price_csv",
    "load_replay",
    "make_process",
    "utc_text",
]

log = logging.getLogger(__name__)

NS_PER_MS = 1_000_000
NS_PER_S = 1_000_000_000

DEFAULT_START_PRICES: dict[str, Decimal] = {
    "BTC-USDT": Decimal("60000"),
    "ETH-USDT": Decimal("3000"),
    "DOGE-USDT": Decimal("0.1"),
}


def _default_start_prices() -> dict[str, Decimal]:
    return dict(DEFAULT_START_PRICES)


def utc_text(ns: int) -> str:
    """``ns`` since 1970 as a UTC time to the second, e.g. ``2024-01-01T00:10:00Z``."""
    return datetime.fromtimestamp(ns // NS_PER_S, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True, slots=True)
class ReplayFile:
    """A replay CSV already read (:func:`load_replay`): its path and its points, in time order."""

    path: str
    points: tuple[tuple[int, Decimal, Decimal], ...]

    @property
    def span(self) -> tuple[int, int]:
        """The times (ns) of its first and its last point."""
        return self.points[0][0], self.points[-1][0]


@dataclass(frozen=True, slots=True)
class MarketConfig:
    """How the synthetic market behaves (the same for every symbol).

    ``volatility_per_s`` is the relative standard deviation of the price over
    one second. The book has ``depth_levels`` levels per side,
    ``level_gap_ticks`` apart, each of ``level_qty[symbol]`` (or
    ``level_notional`` / start price, on the step). A resting LIMIT that the
    market trades through fills at most ``resting_fill_fraction`` of the
    crossed levels' size per price update: large orders fill over several
    updates, and the resting orders of a side share it (the best price first).
    """

    start_prices: Mapping[str, Decimal] = field(default_factory=_default_start_prices)
    default_start_price: Decimal = Decimal("100")
    volatility_per_s: Decimal = Decimal("0.0002")
    step_ns: int = NS_PER_S
    spread_ticks: int = 1
    depth_levels: int = 5
    level_gap_ticks: int = 1
    level_notional: Decimal = Decimal("20000")
    level_qty: Mapping[str, Decimal] = field(default_factory=dict)
    resting_fill_fraction: Decimal = Decimal("0.5")
    funding_rate: Decimal | None = None
    base_funding_rate: Decimal = Decimal("0.0001")
    max_funding_rate: Decimal = Decimal("0.003")
    replay: Mapping[str, str | ReplayFile] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.step_ns <= 0:
            raise ConfigError(f"step_ns must be > 0, got {self.step_ns}")
        if self.spread_ticks < 1 or self.depth_levels < 1 or self.level_gap_ticks < 1:
            raise ConfigError("spread_ticks, depth_levels and level_gap_ticks must be >= 1")
        if not Decimal(0) < self.resting_fill_fraction <= 1:
            raise ConfigError("resting_fill_fraction must be in (0, 1]")
        for name, value, low in (
            ("volatility_per_s", self.volatility_per_s, ">= 0"),
            ("level_notional", self.level_notional, "> 0"),
            ("default_start_price", self.default_start_price, "> 0"),
            ("max_funding_rate", self.max_funding_rate, ">= 0"),
            ("base_funding_rate", self.base_funding_rate, ""),
            ("funding_rate", self.funding_rate, ""),
            *((f"start_prices of {s}", p, "> 0") for s, p in self.start_prices.items()),
            *((f"level_qty of {s}", q, "> 0") for s, q in self.level_qty.items()),
        ):
            _check_setting(name, value, low)


def _check_setting(name: str, value: Decimal | None, low: str) -> None:
    """``value`` is a finite Decimal, ``low`` ('> 0', '>= 0' or '') of it holds; None passes."""
    if value is None:
        return
    ok = isinstance(value, Decimal) and value.is_finite()
    if ok and low:
        ok = value > 0 if low == "> 0" else value >= 0
    if not ok:
        raise ConfigError(f"{name} must be a finite number{' ' + low if low else ''}, got {value}")


@dataclass(frozen=True, slots=True)
class Candle:
    """One OHLCV bar; ``ts`` is its open time in ns."""

    symbol: str
    ts: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal


class PriceProcess:
    """Base: the bid/ask/last of one symbol in integer ticks."""

    __slots__ = ("bid", "last", "last_ts", "spread", "symbol", "tick", "traded_qty")

    def __init__(self, symbol: str, tick: Decimal, bid: int, spread: int, ts: int) -> None:
        self.symbol = symbol
        self.tick = tick
        self.spread = spread
        self.bid = max(1, bid)
        self.last = self.bid
        self.last_ts = ts
        self.traded_qty = Decimal(0)

    @property
    def ask(self) -> int:
        return self.bid + self.spread

    @property
    def mark(self) -> int:
        return self.bid + self.spread // 2

    def next_ts(self) -> int | None:
        """When the next update happens (None: never)."""
        raise NotImplementedError

    @property
    def ended(self) -> str:
        """What ended this market ('' while it goes on): a replay past its last row."""
        return ""

    def step(self) -> int:
        """Apply the next update; return its time."""
        raise NotImplementedError

    def price(self, ticks: int) -> Decimal:
        return self.tick * ticks

    def jump(self, fraction: Decimal) -> None:
        """Gap the price by ``fraction`` of it (< 0 a crash, > 0 a squeeze), on the tick; a random
        walk goes on from there, a replay until its next point."""
        move = int((fraction * self.bid).to_integral_value())
        self.bid = max(1, self.bid + move)
        self.last = self.bid if move < 0 else self.bid + self.spread


class RandomWalk(PriceProcess):
    __slots__ = ("_rng", "_sigma", "step_ns")

    def __init__(
        self,
        symbol: str,
        tick: Decimal,
        start: Decimal,
        *,
        seed: int,
        start_ts: int,
        config: MarketConfig,
    ) -> None:
        ticks = int((start / tick).to_integral_value())
        super().__init__(symbol, tick, ticks, config.spread_ticks, start_ts)
        self.step_ns = config.step_ns
        # stable per symbol (str hash is salted per process)
        self._rng = random.Random(seed * 1_000_003 + zlib.crc32(symbol.encode()))
        self._sigma = float(config.volatility_per_s) * math.sqrt(config.step_ns / NS_PER_S)

    def next_ts(self) -> int | None:
        return self.last_ts + self.step_ns

    def step(self) -> int:
        move = round(self._rng.gauss(0.0, self._sigma * self.bid))
        self.bid = max(1, self.bid + move)
        self.last = self.bid if move < 0 else self.bid + self.spread
        self.last_ts += self.step_ns
        self.traded_qty = Decimal(0)
        return self.last_ts


class ReplayPrices(PriceProcess):
    """Replays ``(ts_ns, price, qty)`` points; the bid follows the trade price. ``source`` (the
    file) names it when it runs out."""

    __slots__ = ("_i", "_points", "source")

    def __init__(
        self,
        symbol: str,
        tick: Decimal,
        points: Sequence[tuple[int, Decimal, Decimal]],
        *,
        start_ts: int,
        spread: int,
        source: str = "",
    ) -> None:
        if not points:
            raise ConfigError(f"replay for {symbol} has no rows")
        first = points[0][1]
        super().__init__(symbol, tick, self._ticks(first, tick), spread, start_ts)
        self.source = source
        self._points = [(ts, self._ticks(p, tick), q) for ts, p, q in points]
        self._i = 0
        while self._i < len(self._points) and self._points[self._i][0] <= start_ts:
            self._apply(self._i)
            self._i += 1
        self._warn_if_ended()

    @staticmethod
    def _ticks(price: Decimal, tick: Decimal) -> int:
        return max(1, int((price / tick).to_integral_value()))

    def _apply(self, i: int) -> None:
        _, ticks, qty = self._points[i]
        self.bid = max(1, ticks - self.spread // 2)
        self.last = ticks
        self.traded_qty = qty

    def next_ts(self) -> int | None:
        return self._points[self._i][0] if self._i < len(self._points) else None

    @property
    def ended(self) -> str:
        if self._i < len(self._points):
            return ""
        file = f" ({self.source})" if self.source else ""
        return f"the replay of {self.symbol}{file} ran out: its last row is at {utc_text(self._points[-1][0])}"

    def _warn_if_ended(self) -> None:
        if self._i >= len(self._points):
            log.warning("%s; its price stays at %s from here", self.ended, self.price(self.last))

    def step(self) -> int:
        ts = self._points[self._i][0]
        self._apply(self._i)
        self._i += 1
        self.last_ts = ts
        self._warn_if_ended()
        return ts


def _number(value: str) -> Decimal | None:
    try:
        out = Decimal(value.strip())
    except InvalidOperation:
        return None
    return out if out.is_finite() else None


def _dec(value: str, where: str, what: str, *, positive: bool = False) -> Decimal:
    out = _number(value)
    if out is None:
        raise ConfigError(f"{where}: {what}: not a number: {value!r}")
    if out < 0 or (positive and out == 0):
        raise ConfigError(f"{where}: {what}: must be {'>' if positive else '>='} 0, got {value.strip()!r}")
    return out


def _ts(value: str, where: str) -> int:
    """Milliseconds (a whole or decimal number, as spreadsheets write them) to ns."""
    ms = _number(value)
    if ms is None:
        raise ConfigError(f"{where}: timestamp (ms): not a number: {value!r}")
    ns = ms * NS_PER_MS
    if ns != ns.to_integral_value():
        raise ConfigError(f"{where}: timestamp (ms): finer than a nanosecond: {value!r}")
    return int(ns)


def _candle(row: list[str], where: str) -> tuple[Decimal, Decimal, Decimal, Decimal, Decimal]:
    o, h, lo, c = (_dec(x, where, name, positive=True) for x, name in zip(row[1:5], _OHLC, strict=True))
    if h < lo:
        raise ConfigError(f"{where}: candle high {h} is below its low {lo}")
    for name, px in (("open", o), ("close", c)):
        if not lo <= px <= h:
            raise ConfigError(f"{where}: candle {name} {px} is outside its low {lo} and high {h}")
    return o, h, lo, c, _dec(row[5], where, "volume") if len(row) == 6 else Decimal(0)


_OHLC = ("open", "high", "low", "close")


def load_price_csv(path: str | Path) -> list[tuple[int, Decimal, Decimal]]:
    """Read trades or candles into ``(ts_ns, price, qty)`` points, in time order.

    A header row is optional; blank lines and ``#`` comments are skipped. Trades:
    ``ts_ms,price[,qty]``. Candles: ``ts_ms,open,high,low,close[,volume]``, in
    any order, each replayed as four points spread over the gap to the next
    candle (60 s for the last one). A bad row is refused naming its line in the
    file and what is wrong with it: prices must be > 0, quantities >= 0, a
    candle's open and close within its low and high, and one file holds trades
    or candles, not both.
    """
    rows: list[tuple[int, str, list[str]]] = []  # (ts ns, "path:line", fields)
    first = 0  # the line of the first data row
    with open(path, newline="", encoding="utf-8-sig") as fh:  # (a spreadsheet may start it with a BOM)
        reader = csv.reader(fh)
        for row in reader:
            if not "".join(row).strip() or row[0].strip().startswith("#"):
                continue
            if not rows and _number(row[0]) is None:
                continue  # header
            where = f"{path}:{reader.line_num}"
            if len(row) not in (2, 3, 5, 6):
                raise ConfigError(f"{where}: expected 2, 3, 5 or 6 columns, got {len(row)}")
            if rows and (len(row) > 3) != (len(rows[0][2]) > 3):
                kind, other = ("candle", "trades") if len(row) > 3 else ("trade", "candles")
                raise ConfigError(f"{where}: a {kind} row in a file of {other} (line {first})")
            first = first or reader.line_num
            rows.append((_ts(row[0], where), where, row))
    if not rows:
        raise ConfigError(f"{path}: no rows of trades or candles")
    rows.sort(key=lambda r: r[0])
    points: list[tuple[int, Decimal, Decimal]] = []
    for n, (ts, where, row) in enumerate(rows):
        if len(row) <= 3:
            qty = _dec(row[2], where, "qty") if len(row) == 3 else Decimal(0)
            points.append((ts, _dec(row[1], where, "price", positive=True), qty))
            continue
        o, h, lo, c, vol = _candle(row, where)
        span = rows[n + 1][0] - ts if n + 1 < len(rows) else 60 * NS_PER_S
        quarter = max(1, span // 4)
        mid = (h, lo) if c < o else (lo, h)
        for k, p in enumerate((o, *mid, c)):
            points.append((ts + k * quarter, p, vol / 4))
    points.sort(key=lambda p: p[0])
    return points


def load_replay(path: str) -> ReplayFile:
    """The replay file at ``path``, read (:func:`load_price_csv`) once for all who use it."""
    return ReplayFile(path, tuple(load_price_csv(path)))


def make_process(inst: Instrument, *, seed: int, start_ts: int, config: MarketConfig) -> PriceProcess:
    """The configured process for one instrument (replay if a CSV is named; read here unless it
    was already)."""
    src = config.replay.get(inst.symbol)
    if src is not None:
        replay = src if isinstance(src, ReplayFile) else load_replay(src)
        path, points = replay.path, replay.points
        if points[-1][0] < start_ts:
            raise ConfigError(
                f"{path}: the replay of {inst.symbol} ends at {points[-1][0] // NS_PER_MS} ms, before the "
                f"simulator starts ({start_ts // NS_PER_MS} ms): its prices would all be in the past"
            )
        return ReplayPrices(inst.symbol, inst.tick, points, start_ts=start_ts, spread=config.spread_ticks,
                            source=path)
    start = config.start_prices.get(inst.symbol, config.default_start_price)
    return RandomWalk(inst.symbol, inst.tick, start, seed=seed, start_ts=start_ts, config=config)

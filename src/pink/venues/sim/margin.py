"""Margin and liquidation in the simulator: each position on a margin of its own (isolated).

A position's margin is its entry cost / its leverage (what opening it took from the available
balance), plus the funding it received and minus the funding it paid since (on isolated margin
funding is paid out of, or into, the position's margin: ``Position.funding``). At every price
update and after every funding settlement the venue marks it: when the margin plus the unrealized PnL at
the mark price falls below the maintenance margin (quantity x mark x the symbol's maintenance
rate), the venue liquidates it, as BingX does for USDT-M perpetuals:

* the position's resting orders are canceled, then the venue closes all of it by a MARKET
  order of its own (no client order id, like BingX's push ``"c": ""``) at the mark price, but
  never beyond the bankruptcy price (where the loss is the whole margin; on the tick, in the
  trader's favour): a gap through it costs the trader the margin, not more, and the wallet
  never goes negative;
* the fill's commission is the liquidation fee: quantity x price x ``fee_rate``, at most what
  is left of the margin (the BingX simulator server lists it as the fill's ``TRADING_FEE``
  "Closing Fee" and the fill's realized loss as ``INSURANCE_CLEAR`` "Strong liquidation", as
  BingX's own example of a liquidation does).

BingX's tiered maintenance rates and its fee are not recorded; the rates here are a simple,
documented rule, configurable per symbol.

:class:`Margins` keeps an account's leverage per symbol and position side and what its
positions and resting opening orders hold: a leverage change a held position cannot carry
(under its maintenance margin at once, or more margin than is available) is refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from pink.errors import ConfigError, LeverageError, UnknownInstrumentError
from pink.kernel.messages import ZERO, Instrument, Side
from pink.venues.sim.account import Account, Position
from pink.venues.sim.orders import Q8, EngineOrder
from pink.venues.sim.prices import PriceProcess

__all__ = ["DEFAULT_LEVERAGE", "LiquidationRules", "Margins", "liquidation_close", "liquidation_price",
           "under_maintenance"]

DEFAULT_LEVERAGE = 5  # of a (symbol, position side) whose leverage was never set


def _empty() -> dict[str, Decimal]:
    return {}


@dataclass(frozen=True, slots=True)
class LiquidationRules:
    """``maintenance_rate``: the maintenance margin as a fraction of the notional at the mark
    (``maintenance_rates`` overrides it per symbol); ``fee_rate``: the liquidation fee, a
    fraction of the liquidated notional."""

    maintenance_rate: Decimal = Decimal("0.005")
    maintenance_rates: Mapping[str, Decimal] = field(default_factory=_empty)
    fee_rate: Decimal = Decimal("0.005")

    def __post_init__(self) -> None:
        for name, rate in (("maintenance_rate", self.maintenance_rate), ("fee_rate", self.fee_rate),
                           *((f"maintenance rate of {s}", r) for s, r in self.maintenance_rates.items())):  # fmt: skip
            if not isinstance(rate, Decimal) or not rate.is_finite() or not ZERO <= rate < 1:
                raise ConfigError(f"{name} must be a finite number >= 0 and < 1, got {rate}")

    def rate(self, symbol: str) -> Decimal:
        return self.maintenance_rates.get(symbol, self.maintenance_rate)

    def check(self, instruments: Mapping[str, Instrument]) -> None:
        """Refuse a rate that would liquidate a position opened at its symbol's max leverage at
        once (margin 1/max leverage of the notional), and a rate for a symbol not listed."""
        for symbol in self.maintenance_rates:
            if symbol not in instruments:
                raise ConfigError(f"maintenance rate of {symbol}: not an instrument of the simulator "
                                  f"({', '.join(sorted(instruments))})")  # fmt: skip
        for symbol, inst in instruments.items():
            rate = self.rate(symbol)
            if rate * inst.max_leverage >= 1:
                raise ConfigError(f"maintenance rate of {symbol} ({rate}) must be below 1/{inst.max_leverage} "
                                  f"(its max leverage): a position at that leverage would be liquidated as it "
                                  f"opened")  # fmt: skip


def under_maintenance(pos: Position, leverage: int, mark: Decimal, rate: Decimal) -> bool:
    """Margin (with its funding) + unrealized PnL at ``mark`` < maintenance margin (times
    ``leverage``: exact)."""
    value = pos.qty * mark
    upnl = value - pos.cost if pos.side is Side.LONG else pos.cost - value
    return pos.cost + leverage * (pos.funding + upnl) < leverage * value * rate


def liquidation_price(pos: Position, leverage: int, rate: Decimal, tick: Decimal) -> Decimal | None:
    """The first mark price on the tick at which ``pos`` is liquidated (None: never, as a long
    at 1x): :func:`under_maintenance` solved for the mark."""
    lev = Decimal(leverage)
    if pos.side is Side.LONG:
        limit = (pos.cost * (lev - 1) - lev * pos.funding) / (lev * pos.qty * (1 - rate))  # liquidated below it
        price = (limit / tick).to_integral_value(ROUND_CEILING) * tick - tick
        return price if price > 0 else None
    limit = (pos.cost * (lev + 1) + lev * pos.funding) / (lev * pos.qty * (1 + rate))  # liquidated above it
    return (limit / tick).to_integral_value(ROUND_FLOOR) * tick + tick


def liquidation_close(
    pos: Position, leverage: int, mark: Decimal, tick: Decimal, fee_rate: Decimal
) -> tuple[Decimal, Decimal]:
    """(price, fee) of the venue's close of all of ``pos``: at ``mark``, never beyond the
    bankruptcy price (on the tick, in the trader's favour); the fee at most the margin left."""
    long = pos.side is Side.LONG
    lev = Decimal(leverage)
    if long:
        bankrupt = (pos.cost * (lev - 1) - lev * pos.funding) / (lev * pos.qty)
        price = max(mark, (bankrupt / tick).to_integral_value(ROUND_CEILING) * tick)
    else:
        bankrupt = (pos.cost * (lev + 1) + lev * pos.funding) / (lev * pos.qty)
        price = max(tick, min(mark, (bankrupt / tick).to_integral_value(ROUND_FLOOR) * tick))
    value = pos.qty * price
    pnl = value - pos.cost if long else pos.cost - value
    left = max(ZERO, (pos.cost / lev + pos.funding + pnl).quantize(Q8, rounding=ROUND_FLOOR))
    return price, min((value * fee_rate).quantize(Q8), left)


class Margins:
    """The account's margin: the leverage of each (symbol, position side), what the positions
    and the resting opening orders (``open``: per symbol, by venue id) hold of the wallet, what
    is left available, and the leverage changes a held position allows."""

    __slots__ = ("_leverage", "_maker", "_open", "_procs", "account", "instruments", "rules")

    def __init__(
        self,
        account: Account,
        instruments: Mapping[str, Instrument],
        rules: LiquidationRules,
        procs: Mapping[str, PriceProcess],
        open_orders: Mapping[str, Mapping[str, EngineOrder]],
        maker_fee: Decimal,
    ) -> None:
        self.account = account
        self.instruments = instruments
        self.rules = rules
        self._procs = procs
        self._open = open_orders
        self._maker = maker_fee
        self._leverage: dict[tuple[str, Side], int] = {}

    def leverage(self, symbol: str, side: Side) -> int:
        return self._leverage.get((symbol, side), DEFAULT_LEVERAGE)

    def set_leverage(self, symbol: str, side: Side, leverage: int) -> None:
        """Set the leverage of ``symbol``'s ``side``. The margin of a position held there and of
        its resting opening orders moves with it (isolated): a change that would put the position
        under its maintenance margin at the mark (a liquidation at once), or whose added margin is
        not available, is refused as a venue refuses it, nothing changed."""
        inst = self.instruments.get(symbol)
        if inst is None:
            raise UnknownInstrumentError(symbol)
        if not 1 <= leverage <= inst.max_leverage:
            raise LeverageError(symbol, "LEVERAGE_OUT_OF_RANGE", f"{leverage} not in 1..{inst.max_leverage}")
        pos = self.account.positions.get((symbol, side))
        held: list[str] = []
        added = ZERO
        if pos is not None and pos.qty:
            mark = self.mark(symbol)
            held.append(f"the {symbol} {side.value} position of {pos.qty}")
            if under_maintenance(pos, leverage, mark, self.rules.rate(symbol)):
                raise LeverageError(symbol, "LEVERAGE_WOULD_LIQUIDATE",
                                    f"{leverage}x would put {held[0]} under its maintenance "
                                    f"margin at the mark {mark}: it would be liquidated at once")  # fmt: skip
            added = pos.cost / leverage - pos.cost / self.leverage(symbol, side)
        resting = [o for o in self._open.get(symbol, {}).values()
                   if o.opens and o.position_side is side and o.price is not None]  # fmt: skip
        for o in resting:
            assert o.price is not None
            added += o.remaining * o.price / leverage - o.remaining * o.price / o.leverage
        if resting:
            many = "s" if len(resting) > 1 else ""
            held.append(f"{len(resting)} resting opening order{many} of {symbol} {side.value}")
        if added > 0 and added > self.available():
            raise LeverageError(symbol, "INSUFFICIENT_MARGIN",
                                f"{leverage}x needs {added.quantize(Q8)} more margin for "
                                f"{' and '.join(held)}; {self.available()} is available")  # fmt: skip
        self._leverage[(symbol, side)] = leverage
        for o in resting:
            o.leverage = leverage

    def leverages(self) -> dict[tuple[str, Side], int]:
        """Every leverage set (or adopted), by symbol and side."""
        return dict(self._leverage)

    def adopt_leverage(self, symbol: str, side: Side, leverage: int) -> None:
        """The leverage a position restored from elsewhere is held at (a restarted simulator's):
        taken as it is, even above the max the symbol lists now, as a venue keeps a position at
        the leverage it was opened with; changes to come are held to the max."""
        if symbol not in self.instruments:
            raise UnknownInstrumentError(symbol)
        if leverage < 1:
            raise LeverageError(symbol, "LEVERAGE_OUT_OF_RANGE", f"{leverage} is below 1")
        self._leverage[(symbol, side)] = leverage

    def mark(self, symbol: str) -> Decimal:
        proc = self._procs[symbol]
        return proc.price(proc.mark)

    def under_maintenance(self, pos: Position) -> bool:
        """Whether ``pos`` is to be liquidated at its symbol's mark now."""
        symbol = pos.symbol
        return under_maintenance(pos, self.leverage(symbol, pos.side), self.mark(symbol), self.rules.rate(symbol))

    def liquidation_price(self, symbol: str, side: Side) -> Decimal | None:
        """The first mark price at which the venue liquidates the position held now (None: no
        position, or one never liquidated)."""
        pos = self.account.positions.get((symbol, side))
        if pos is None or not pos.qty:
            return None
        lev = self.leverage(symbol, side)
        return liquidation_price(pos, lev, self.rules.rate(symbol), self.instruments[symbol].tick)

    def used(self) -> Decimal:
        """The margin of the positions (with the funding paid out of or into it), and of the
        resting opening orders with their fees."""
        maker = self._maker
        used = sum(
            (p.cost / self.leverage(p.symbol, p.side) + p.funding for p in self.account.positions.values()),
            ZERO,
        )
        for book in self._open.values():
            for o in book.values():
                if o.opens and o.price is not None:  # its margin, and its fee when it fills (as maker)
                    notional = o.remaining * o.price
                    used += notional / o.leverage + notional * maker
        return used

    def available(self) -> Decimal:
        return (self.account.wallet - self.used()).quantize(Q8, rounding=ROUND_FLOOR)

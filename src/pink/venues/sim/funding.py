"""Funding in the simulator: a settlement every interval, paid on the positions held then.

At each settlement every symbol's rate is published (``history``, as a venue's funding
history lists it) and every position held pays (long, rate > 0) or receives
``quantity x mark x rate``, to 1e-8 (a payment that rounds to 0 is not booked). The rate is
fixed (``MarketConfig.funding_rate``) or the base rate plus a tenth of the mark's premium
over the mark at the last settlement, capped, to 1e-6.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Mapping
from decimal import Decimal

from pink.errors import ConfigError
from pink.kernel.messages import FundingPaid, Side
from pink.venues.sim.account import Account
from pink.venues.sim.orders import Q8
from pink.venues.sim.prices import NS_PER_S, MarketConfig, PriceProcess

__all__ = ["Funding"]

Q6 = Decimal("1e-6")


class Funding:
    """The settlements of one engine, every ``interval_s`` from the epoch (the first after
    ``start_ts``)."""

    __slots__ = ("_anchor", "_interval_ns", "_market", "_paid", "_procs", "history", "next_ts")

    def __init__(
        self, procs: Mapping[str, PriceProcess], market: MarketConfig, interval_s: int, start_ts: int
    ) -> None:
        if interval_s <= 0:
            raise ConfigError(f"funding_interval_s must be > 0, got {interval_s}")
        self._procs = procs
        self._market = market
        self._interval_ns = interval_s * NS_PER_S
        self.next_ts = (start_ts // self._interval_ns + 1) * self._interval_ns
        self._anchor = {s: p.mark for s, p in procs.items()}
        self._paid: list[FundingPaid] = []
        #: (symbol, rate, ts) of every settlement, paid or not
        self.history: list[tuple[str, Decimal, int]] = []

    def rate(self, symbol: str) -> Decimal:
        """The rate for the coming settlement (fixed, or from the price process)."""
        market = self._market
        if market.funding_rate is not None:
            return market.funding_rate
        anchor = self._anchor[symbol]
        premium = Decimal(self._procs[symbol].mark - anchor) / Decimal(anchor) / 10
        cap = market.max_funding_rate
        return max(-cap, min(cap, market.base_funding_rate + premium)).quantize(Q6)

    def settle(self, account: Account) -> list[FundingPaid]:
        """The settlement due at ``next_ts``: publish the rates, charge the positions held,
        move on to the next one."""
        ts = self.next_ts
        events: list[FundingPaid] = []
        for sym in self._procs:
            self.history.append((sym, self.rate(sym), ts))
        for pos in list(account.positions.values()):
            if pos.qty <= 0:
                continue
            proc = self._procs[pos.symbol]
            rate = self.rate(pos.symbol)
            direction = 1 if pos.side is Side.LONG else -1
            amount = (-direction * pos.qty * proc.price(proc.mark) * rate).quantize(Q8)
            if not amount:
                continue  # a zero rate (or a payment below 1e-8): a venue books no payment of 0
            account.charge_funding(pos, amount)
            ev = FundingPaid(f"{pos.symbol}-{pos.side.value}-{ts}", pos.symbol, amount, ts)
            self._paid.append(ev)
            events.append(ev)
        for sym, proc in self._procs.items():
            self._anchor[sym] = proc.mark
        self.next_ts += self._interval_ns
        return events

    def restore(self, paid: list[FundingPaid], next_ts: int) -> None:
        """A saved account's payments (oldest first) and its next settlement time."""
        self._paid[:] = paid
        self.next_ts = next_ts

    def since(self, ts: int) -> list[FundingPaid]:
        return self._paid[bisect_left(self._paid, ts, key=_funding_ts) :]


def _funding_ts(f: FundingPaid) -> int:
    return f.ts

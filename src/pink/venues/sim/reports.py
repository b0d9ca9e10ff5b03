"""The read side of the matching engine: its reports, built from its parts.

:class:`EngineReports` holds the parts of an engine (account, records, margins, funding,
price processes, books) and answers what a venue's REST reports answer: an order, the open
orders, orders and fills since a time, funding and transfers, positions, the balance, a
quote, the depth, candles, the leverage and the liquidation price. It changes nothing;
:class:`~pink.venues.sim.engine.MatchingEngine` (the write side) builds the parts and moves
them.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from pink.errors import UnknownInstrumentError
from pink.kernel.messages import BalanceReport, FundingPaid, FundsTransferred, PositionReport, Side
from pink.ports import Quote
from pink.venues.sim.account import Account
from pink.venues.sim.book import Book
from pink.venues.sim.funding import Funding
from pink.venues.sim.margin import Margins
from pink.venues.sim.orders import EngineFill, EngineOrder
from pink.venues.sim.prices import Candle, PriceProcess
from pink.venues.sim.records import Records

__all__ = ["EngineReports"]


class EngineReports:
    """Reports of an engine made of these parts; ``now()`` is its time."""

    def __init__(
        self,
        account: Account,
        records: Records,
        margins: Margins,
        funding: Funding,
        procs: Mapping[str, PriceProcess],
        books: Mapping[str, Book],
    ) -> None:
        self.account = account
        self.records = records
        self.margins = margins
        self.funding = funding
        self._procs = procs
        self._books = books
        self._now = 0

    @property
    def now(self) -> int:
        return self._now

    def order(self, *, client_order_id: str | None = None, venue_order_id: str | None = None) -> EngineOrder | None:
        return self.records.order(client_order_id, venue_order_id)

    def open_orders(self, symbol: str | None = None) -> list[EngineOrder]:
        return self.records.open_orders(symbol)

    def orders_since(self, ts: int) -> list[EngineOrder]:
        return self.records.orders_since(ts)

    def fills_since(self, ts: int) -> list[EngineFill]:
        return self.records.fills_since(ts)

    def funding_since(self, ts: int) -> list[FundingPaid]:
        return self.funding.since(ts)

    def transfers_since(self, ts: int) -> list[FundsTransferred]:
        return self.records.transfers_since(ts)

    def positions(self) -> list[PositionReport]:
        return self.account.reports(self._now)

    def balance(self) -> BalanceReport:
        acct = self.account
        return BalanceReport(acct.asset, acct.wallet, self.available(), self._now)

    def _proc(self, symbol: str) -> PriceProcess:
        proc = self._procs.get(symbol)
        if proc is None:
            raise UnknownInstrumentError(symbol)
        return proc

    def quote(self, symbol: str) -> Quote:
        p = self._proc(symbol)
        return Quote(
            symbol, p.price(p.bid), p.price(p.ask), p.price(p.last), p.price(p.mark),
            self.funding_rate(symbol), self._now,
        )  # fmt: skip

    def funding_rate(self, symbol: str) -> Decimal:
        """The rate for the coming settlement (fixed, or from the price process)."""
        return self.funding.rate(symbol)

    def depth(self, symbol: str) -> tuple[list[tuple[Decimal, Decimal]], list[tuple[Decimal, Decimal]]]:
        """(bids, asks), each best first, as (price, free qty)."""
        self._proc(symbol)
        return self._books[symbol].depth_snapshot()

    @property
    def market_ended(self) -> str:
        """What ended this market ('' while it goes on): a replayed symbol's file ran out (its
        price stays still from there, so a run on it has nothing more to trade on)."""
        return next((ended for p in self._procs.values() if (ended := p.ended)), "")

    def next_funding_ts(self) -> int:
        return self.funding.next_ts

    def next_event_ts(self) -> int:
        """The next price update or funding settlement."""
        nxt = self.funding.next_ts
        for p in self._procs.values():
            t = p.next_ts()
            if t is not None and t < nxt:
                nxt = t
        return nxt

    def candles(self, symbol: str, interval_s: int, limit: int) -> list[Candle]:
        """The last ``limit`` bars of ``interval_s`` seconds, oldest first."""
        self._proc(symbol)
        return self._books[symbol].candles(interval_s, limit)

    def leverage(self, symbol: str, side: Side) -> int:
        return self.margins.leverage(symbol, side)

    def liquidation_price(self, symbol: str, side: Side) -> Decimal | None:
        """The first mark price at which the venue liquidates the position held now (None: no
        position, or one never liquidated)."""
        return self.margins.liquidation_price(symbol, side)

    def used_margin(self) -> Decimal:
        return self.margins.used()

    def available(self) -> Decimal:
        return self.margins.available()

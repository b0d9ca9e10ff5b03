"""End-to-end kit: a real Kernel driven by the real BingX adapter against the real server.

:class:`Pump` is the smallest shell around :class:`pink.kernel.Kernel`: an
intent goes to ``kernel.submit``; its effects run on :class:`BingxVenue`;
every event the venue hands its sink goes to ``kernel.apply`` at once (one
writer: everything runs on the test's one event loop). ``tick`` runs the
kernel's deadlines (``QueryOrder``) with a clock the test may move forward.
Assertions are then about kernel state and the server's own records.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, Decimal
from typing import Any

import aiohttp

from pink.errors import LeverageError, UnknownOutcomeError, VenueError
from pink.kernel import Kernel, KernelConfig
from pink.kernel.messages import (
    Action,
    CancelOrder,
    Effect,
    EnsureLeverage,
    FillBooked,
    Intent,
    OrderRejected,
    OrderType,
    Outcome,
    PlaceOrder,
    QueryOrder,
    Side,
    VenueEvent,
)
from pink.venues.bingx.config import BingxConfig
from pink.venues.bingx.server import DEFAULT_API_KEY, DEFAULT_SECRET_KEY, BingxSimServer
from pink.venues.bingx.venue import ORDER_PATH, BingxVenue

__all__ = [
    "ORDER",
    "Pump",
    "Stack",
    "fill_part",
    "sim_transfer",
    "stack",
    "until",
]

ORDER = ORDER_PATH
SYMBOL = "BTC-USDT"
S = 1_000_000_000


async def until(pred: Callable[[], bool], what: str, limit_s: float = 15.0) -> None:
    """Wait for ``pred`` (a hang guard, not a timed assertion)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + limit_s
    while not pred():
        if loop.time() > end:
            raise AssertionError(f"never happened: {what}")
        await asyncio.sleep(0.01)


@dataclass
class Pump:
    venue: BingxVenue
    kernel: Kernel
    skew_ns: int = 0  # the kernel's clock = wall + skew (tests move deadlines with it)
    events: list[VenueEvent] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def now(self) -> int:
        return time.time_ns() + self.skew_ns

    # events -> kernel (synchronously: the sink runs on the one loop)
    def sink(self, event: VenueEvent) -> None:
        self.events.append(event)
        self._absorb(self.kernel.apply(event, self.now()))

    def _absorb(self, outcome: Outcome) -> None:
        self.outcomes.append(outcome)
        if outcome.effects:
            task = asyncio.get_running_loop().create_task(self.run(outcome.effects))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def submit(self, intent: Intent) -> Outcome:
        outcome = self.kernel.submit(intent, self.now())
        self.outcomes.append(outcome)
        await self.run(outcome.effects)
        return outcome

    async def tick(self, advance_s: float = 0.0) -> Outcome:
        self.skew_ns += int(advance_s * S)
        outcome = self.kernel.tick(self.now())
        self.outcomes.append(outcome)
        await self.run(outcome.effects)
        return outcome

    async def run(self, effects: tuple[Effect, ...]) -> None:
        failed_leverage = False
        for effect in effects:
            try:
                if isinstance(effect, EnsureLeverage):
                    failed_leverage = False
                    await self.venue.ensure_leverage(effect)
                elif isinstance(effect, PlaceOrder):
                    if failed_leverage:
                        continue
                    await self.venue.place(effect)
                elif isinstance(effect, CancelOrder):
                    await self.venue.cancel(effect)
                elif isinstance(effect, QueryOrder):
                    self.sink(await self.venue.query(effect))
            except LeverageError as exc:  # the order is never sent: rejected locally
                self.errors.append(exc)
                failed_leverage = True
                for eff in effects:
                    if isinstance(eff, PlaceOrder):
                        self.sink(OrderRejected(eff.client_order_id.lower(), f"LEVERAGE_{exc.code}",
                                                exc.message, self.now()))
            except UnknownOutcomeError as exc:  # F16: the kernel's deadline will query
                self.errors.append(exc)
            except VenueError as exc:
                self.errors.append(exc)

    async def drain(self) -> None:
        while self._tasks:
            await asyncio.gather(*list(self._tasks))

    # -------------------------------------------------------------- views
    def slot(self, index: int = 0) -> str:
        return self.kernel.slot_view(index).state

    def booked(self) -> list[FillBooked]:
        return [r for o in self.outcomes for r in o.records if isinstance(r, FillBooked)]

    def check_account(self) -> None:
        """Capital is initial + transfers + gross - fees + funding exactly, every fill booked once."""
        acct = self.kernel.account_view()
        assert acct.capital == acct.initial_capital + acct.transfers + acct.gross_pnl - acct.fees + acct.funding
        ids = [f.fill_id for f in self.booked()]
        assert len(ids) == len(set(ids)), Counter(ids).most_common(3)


@dataclass
class Stack:
    server: BingxSimServer
    venue: BingxVenue
    pump: Pump
    seq: int = 0

    @property
    def engine(self) -> Any:
        return self.server.engine

    def posts(self) -> int:
        """Orders placed, as the server counted them."""
        return self.server.request_calls[f"POST {ORDER}"]

    def engine_orders(self, cid: str) -> list[Any]:
        cid = cid.lower()
        return [o for o in self.engine.orders_since(0) if o.client_order_id == cid]

    def ids(self, name: str) -> tuple[str, str]:
        self.seq += 1
        return f"{name}{self.seq}", f"i{name}{self.seq}"

    def enter(self, trade_id: str, qty: str, *, price: Decimal | None = None, slot: int = 0,
              side: Side = Side.LONG, leverage: int = 5, symbol: str = SYMBOL,
              legs: tuple[Decimal, ...] = (Decimal(1),)) -> Intent:
        return Intent(
            Action.ENTER, slot, trade_id, f"{trade_id}-enter", asset=symbol, side=side,
            quantity=Decimal(qty), leverage=leverage,
            order_type=OrderType.MARKET if price is None else OrderType.LIMIT, limit_price=price,
            exit_legs=legs,
        )  # fmt: skip

    def exit(self, trade_id: str, n: int = 1, *, slot: int = 0, close_all: bool = False) -> Intent:
        return Intent(Action.EXIT, slot, trade_id, f"{trade_id}-exit{n}", close_all=close_all)

    def cancel(self, trade_id: str, *, slot: int = 0) -> Intent:
        return Intent(Action.CANCEL, slot, trade_id, f"{trade_id}-cancel")

    async def far_bid(self) -> Decimal:
        tick = self.venue.book.get(SYMBOL).tick
        bid = (await self.venue.quote(SYMBOL)).bid
        return (bid * Decimal("0.9") / tick).to_integral_value(rounding=ROUND_FLOOR) * tick

    def check_against_venue(self) -> None:
        """The kernel's fills are the venue's fills: quantity, price and fee, each once."""
        self.pump.check_account()
        venue_fills = self.engine.fills_since(0)
        booked = self.pump.booked()
        assert sum(f.last_qty for f in booked) == sum(f.qty for f in venue_fills)
        notional = sum(f.last_qty * f.last_price for f in booked)
        assert notional == sum(f.qty * f.price for f in venue_fills)
        assert sum(f.commission for f in booked) == sum(f.commission for f in venue_fills)


async def sim_transfer(server: BingxSimServer, amount: Decimal | str) -> tuple[int, Any]:
    """A deposit (> 0) or withdrawal (< 0) through the server's ``POST /_sim/transfer``: (status, body)."""
    async with aiohttp.ClientSession() as session, session.post(
        f"{server.base_url}/_sim/transfer", json={"amount": str(amount)}
    ) as resp:
        return resp.status, await resp.json()


def fill_part(server: BingxSimServer, cid: str, qty: Decimal) -> None:
    """Fill ``qty`` of a resting LIMIT at its price now (test control over the engine)."""
    state, engine = server.state, server.engine
    now = state.now_ns()
    state.publish(engine.advance(now), now)
    order = engine.order(client_order_id=cid.lower())
    assert order is not None and order.live and order.price is not None
    event = engine._fill(order, min(qty, order.remaining), order.price, True, engine.now)
    state.publish([event], now)


@asynccontextmanager
async def stack(
    *, faults: str | None = None, initial: Decimal = Decimal(10000), slots: int = 2,
    config: dict[str, Any] | None = None, fill_watch_s: float = 5.0, **server_options: Any,
) -> AsyncIterator[Stack]:
    """Server + started adapter + kernel wired by a pump; closes all of them."""
    server_options.setdefault("rate_limits", False)
    server = await BingxSimServer(faults=faults, **server_options).start()
    venue: BingxVenue | None = None
    try:
        options: dict[str, Any] = {"api_key": DEFAULT_API_KEY, "secret_key": DEFAULT_SECRET_KEY,
                                   "reconnect_min_s": 0.05, **(config or {})}
        cfg = BingxConfig(base_url=server.base_url, ws_url=server.ws_url,
                          market_ws_url=server.market_ws_url, **options)
        venue = BingxVenue(cfg, fill_watch_s=fill_watch_s)
        kernel = Kernel(
            KernelConfig(slots=slots, initial_capital=initial), await venue.instruments()
        )
        pump = Pump(venue, kernel)
        await venue.start(pump.sink)
        yield Stack(server, venue, pump)
        await pump.drain()
    finally:
        if venue is not None:
            await venue.close()
        await server.close()

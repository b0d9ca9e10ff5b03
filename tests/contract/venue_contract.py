"""The shared venue contract: every :class:`pink.ports.Venue` passes these.

Subclass :class:`VenueContract` in any ``test_*.py`` module under ``tests/``
(the rootdir is on ``sys.path``, so ``from tests.contract.venue_contract import
VenueContract`` works) and implement :meth:`VenueContract.make_venue`::

    class TestMyVenueContract(VenueContract):
        async def make_venue(self) -> tuple[Venue, Drive]:
            venue = ...                       # NOT started: the suite starts it
            async def drive(seconds: float) -> None:
                ...                           # let `seconds` of venue time pass
            return venue, drive

        async def teardown_venue(self) -> None:   # optional: stop servers
            ...

        async def make_transfer(self, amount: Decimal) -> None:
            ...                           # deposit (> 0) / withdraw (< 0) at the venue

The suite closes the venue after each test, then calls ``teardown_venue``.
Class attributes ``symbol`` and ``quantity`` choose what is traded.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from decimal import ROUND_FLOOR, Decimal

import pytest

from pink.errors import ClosedError, VenueError
from pink.kernel.messages import (
    CancelOrder,
    CancelRejected,
    FundsTransferred,
    OrderAccepted,
    OrderCanceled,
    OrderExpired,
    OrderFilled,
    OrderRejected,
    OrderSide,
    OrderStatus,
    OrderType,
    PlaceOrder,
    QueryOrder,
    Side,
    TimeInForce,
    VenueEvent,
)
from pink.ports import Venue

__all__ = ["Drive", "Env", "VenueContract"]

Drive = Callable[[float], Awaitable[None]]


@dataclass
class Env:
    venue: Venue
    drive: Drive
    events: list[VenueEvent]

    def of(self, coid: str) -> list[VenueEvent]:
        return [e for e in self.events if getattr(e, "client_order_id", None) == coid]

    def fills(self, coid: str) -> list[OrderFilled]:
        return [e for e in self.of(coid) if isinstance(e, OrderFilled)]

    async def wait(self, pred: Callable[[], bool], what: str, timeout_s: float = 10.0, step_s: float = 0.05) -> None:
        waited = 0.0
        while not pred():
            if waited >= timeout_s:
                pytest.fail(f"timed out after {timeout_s}s of venue time waiting for {what}")
            await self.drive(step_s)
            waited += step_s


def new_coid() -> str:
    return f"ct{uuid.uuid4().hex[:12]}-e1"


class VenueContract:
    symbol: str = "BTC-USDT"
    quantity: Decimal = Decimal("0.001")

    async def make_venue(self) -> tuple[Venue, Drive]:
        raise NotImplementedError

    async def teardown_venue(self) -> None:
        return None

    async def make_transfer(self, amount: Decimal) -> None:
        """Move ``amount`` into (> 0) or out of (< 0) the venue account, as its owner would."""
        raise NotImplementedError

    async def make_hand_order(self, side: OrderSide, quantity: Decimal, client_id: str = "") -> None:
        """Place a MARKET order on ``symbol`` with no client order id, as its owner would by hand
        on the venue's site, or with ``client_id``, as another program of theirs would (one-way
        accounts: position side BOTH; else LONG)."""
        raise NotImplementedError

    @pytest.fixture
    async def env(self) -> AsyncIterator[Env]:
        venue, drive = await self.make_venue()
        events: list[VenueEvent] = []
        try:
            await venue.start(events.append)
            yield Env(venue, drive, events)
        finally:
            await venue.close()
            await self.teardown_venue()

    def order(
        self,
        coid: str,
        side: OrderSide = OrderSide.BUY,
        position_side: Side = Side.LONG,
        price: Decimal | None = None,
    ) -> PlaceOrder:
        return PlaceOrder(
            coid, 0, self.symbol, side, position_side, self.quantity,
            OrderType.MARKET if price is None else OrderType.LIMIT, price,
            TimeInForce.GTC, False, 5,
        )  # fmt: skip

    async def far_bid(self, env: Env) -> Decimal:
        tick = (await env.venue.instruments())[self.symbol].tick
        bid = (await env.venue.quote(self.symbol)).bid
        return (bid * Decimal("0.9") / tick).to_integral_value(rounding=ROUND_FLOOR) * tick

    async def filled(self, env: Env, coid: str) -> list[OrderFilled]:
        await env.wait(lambda: sum(f.last_qty for f in env.fills(coid)) >= self.quantity, f"{coid} filled")
        return env.fills(coid)

    # ------------------------------------------------------------ cases

    async def test_market_order_is_accepted_and_filled(self, env: Env) -> None:
        coid = new_coid()
        await env.venue.place(self.order(coid))
        fills = await self.filled(env, coid)
        await env.wait(lambda: any(isinstance(e, OrderAccepted) for e in env.of(coid)), "ack")
        (ack,) = [e for e in env.of(coid) if isinstance(e, OrderAccepted)]
        assert ack.venue_order_id
        assert sum(f.last_qty for f in fills) == self.quantity
        assert fills[-1].cum_qty == self.quantity
        for f in fills:
            assert f.last_price > 0 and f.commission > 0 and f.commission_asset == "USDT"
            assert f.venue_order_id == ack.venue_order_id
        assert len({f.fill_id for f in fills}) == len(fills)

    async def test_resting_limit_is_listed_then_canceled(self, env: Env) -> None:
        coid = new_coid()
        await env.venue.place(self.order(coid, price=await self.far_bid(env)))
        await env.wait(lambda: any(isinstance(e, OrderAccepted) for e in env.of(coid)), "ack")
        (ack,) = [e for e in env.of(coid) if isinstance(e, OrderAccepted)]
        listed = {r.client_order_id: r for r in await env.venue.open_orders()}
        assert coid in listed and listed[coid].status is OrderStatus.NEW
        assert listed[coid].cum_qty == 0 and env.fills(coid) == []
        await env.venue.cancel(CancelOrder(coid, self.symbol, ack.venue_order_id))
        await env.wait(lambda: any(isinstance(e, OrderCanceled) for e in env.of(coid)), "cancel")
        assert coid not in {r.client_order_id for r in await env.venue.open_orders()}
        report = await env.venue.query(QueryOrder(coid, self.symbol, "contract"))
        assert report.status is OrderStatus.CANCELED and report.cum_qty == 0

    async def near_ask(self, env: Env, *, above: Decimal = Decimal("1.01")) -> Decimal:
        """A buy price on the tick, ``above`` x the ask: it crosses the book (slippage room)."""
        tick = (await env.venue.instruments())[self.symbol].tick
        ask = (await env.venue.quote(self.symbol)).ask
        return (ask * above / tick).to_integral_value(rounding=ROUND_FLOOR) * tick

    async def test_a_limit_that_crosses_fills_at_once_never_above_its_price(self, env: Env) -> None:
        coid = new_coid()
        limit = await self.near_ask(env)
        await env.venue.place(self.order(coid, price=limit))
        fills = await self.filled(env, coid)
        assert sum(f.last_qty for f in fills) == self.quantity
        assert all(0 < f.last_price <= limit for f in fills), (limit, [f.last_price for f in fills])
        report = await env.venue.query(QueryOrder(coid, self.symbol, "contract"))
        assert report.status is OrderStatus.FILLED and report.avg_price <= limit

    async def test_a_post_only_that_would_take_is_never_filled(self, env: Env) -> None:
        coid = new_coid()
        order = replace(self.order(coid, price=await self.near_ask(env)), time_in_force=TimeInForce.POST_ONLY)
        try:
            await env.venue.place(order)
        except VenueError:
            pass  # refusing on the request is fine too
        else:
            ended = (OrderRejected, OrderCanceled, OrderExpired)
            await env.wait(lambda: any(isinstance(e, ended) for e in env.of(coid)), "refusal")
        await env.drive(0.5)
        assert env.fills(coid) == []
        assert coid not in {r.client_order_id for r in await env.venue.open_orders()}
        assert [f for f in await env.venue.fills_since(0) if f.client_order_id == coid] == []
        assert [p for p in await env.venue.positions() if p.symbol == self.symbol] == []

    async def test_query_by_client_order_id(self, env: Env) -> None:
        coid = new_coid()
        await env.venue.place(self.order(coid))
        fills = await self.filled(env, coid)
        report = await env.venue.query(QueryOrder(coid, self.symbol, "contract"))
        assert report.client_order_id == coid and report.status is OrderStatus.FILLED
        assert report.venue_order_id == fills[0].venue_order_id
        assert report.quantity == report.cum_qty == self.quantity
        notional = sum(f.last_qty * f.last_price for f in fills)
        assert abs(report.avg_price - notional / self.quantity) < Decimal("1e-6")

    async def test_unknown_order_is_not_found(self, env: Env) -> None:
        report = await env.venue.query(QueryOrder(new_coid(), self.symbol, "contract"))
        assert report.status is OrderStatus.NOT_FOUND

    async def test_cancel_of_a_filled_order_is_refused_not_open(self, env: Env) -> None:
        coid = new_coid()
        await env.venue.place(self.order(coid))
        fills = await self.filled(env, coid)
        await env.venue.cancel(CancelOrder(coid, self.symbol, fills[0].venue_order_id))
        await env.wait(lambda: any(isinstance(e, CancelRejected) for e in env.of(coid)), "refusal")
        (rej,) = [e for e in env.of(coid) if isinstance(e, CancelRejected)]
        assert rej.code == "ORDER_ALREADY_FILLED" and rej.still_open is not True

    async def test_duplicate_client_order_id_is_not_placed_twice(self, env: Env) -> None:
        coid = new_coid()
        await env.venue.place(self.order(coid))
        await self.filled(env, coid)
        try:
            await env.venue.place(self.order(coid))
        except VenueError:
            pass  # refusing on the request is fine too
        else:
            await env.wait(lambda: any(isinstance(e, OrderRejected) for e in env.of(coid)), "rejection")
        await env.drive(0.5)
        assert sum(f.last_qty for f in env.fills(coid)) == self.quantity
        fills = [f for f in await env.venue.fills_since(0) if f.client_order_id == coid]
        assert sum(f.last_qty for f in fills) == self.quantity
        (pos,) = [p for p in await env.venue.positions() if p.symbol == self.symbol]
        assert pos.quantity == self.quantity

    async def test_balance_and_positions_follow_the_fills(self, env: Env) -> None:
        before = (await env.venue.balance()).balance
        buy, sell = new_coid(), new_coid()
        await env.venue.place(self.order(buy))
        bought = await self.filled(env, buy)
        (pos,) = [p for p in await env.venue.positions() if p.symbol == self.symbol]
        assert pos.side is Side.LONG and pos.quantity == self.quantity
        entry = sum(f.last_qty * f.last_price for f in bought)
        assert abs(pos.entry_price - entry / self.quantity) < Decimal("1e-6")
        await env.venue.place(self.order(sell, OrderSide.SELL, Side.LONG))
        sold = await self.filled(env, sell)
        assert [p for p in await env.venue.positions() if p.symbol == self.symbol] == []
        exit_ = sum(f.last_qty * f.last_price for f in sold)
        fees = sum(f.commission for f in bought + sold)
        funding = sum(f.amount for f in await env.venue.funding_since(0))
        shown = await env.venue.balance()
        # exact, unless the venue shows its wallet only to a resolution (BingX: 4 decimals): then
        # each of the two readings may be off by up to that
        expected = before + (exit_ - entry) - fees + funding
        assert abs(shown.balance - expected) <= 2 * shown.resolution, (shown, expected)
        reported = {f.fill_id for f in await env.venue.fills_since(0)}
        assert {f.fill_id for f in bought + sold} <= reported
        # asked for one order's fills, the venue lists those, with the ids the stream gave them
        only = await env.venue.fills_since(0, [sell])
        assert {f.fill_id for f in only} == {f.fill_id for f in sold} and {f.client_order_id for f in only} == {sell}
        assert await env.venue.fills_since(0, []) == []

    async def test_a_fill_of_an_order_placed_by_hand_names_its_symbol_and_sides(self, env: Env) -> None:
        """What the kernel needs to book a close made outside PINK (E8), streamed and listed."""
        buy = new_coid()
        await env.venue.place(self.order(buy))
        await self.filled(env, buy)
        await self.make_hand_order(OrderSide.SELL, self.quantity)  # closes it, by hand

        def by_hand() -> list[OrderFilled]:
            return [e for e in env.events if isinstance(e, OrderFilled) and not e.client_order_id]

        await env.wait(lambda: sum(f.last_qty for f in by_hand()) >= self.quantity, "the hand order's fills")
        streamed = by_hand()
        listed = await env.venue.fills_since(0, [], outside=True)
        for f in streamed + listed:
            assert f.symbol == self.symbol and f.side is OrderSide.SELL and f.position_side in (Side.LONG, None), f
        assert {f.fill_id for f in listed} == {f.fill_id for f in streamed}  # the stream's ids
        assert {f.client_order_id for f in await env.venue.fills_since(0, [buy])} == {buy}  # not asked for
        assert [p for p in await env.venue.positions() if p.symbol == self.symbol] == []

    async def test_the_fills_of_another_programs_order_are_listed_as_placed_outside_pink(self, env: Env) -> None:
        """A close PINK never heard of, made by another program with its own client ids, is found
        by the reconcile like one made by hand: listed with ``outside``, for the symbols asked."""
        buy = new_coid()
        await env.venue.place(self.order(buy))
        await self.filled(env, buy)
        await self.make_hand_order(OrderSide.SELL, self.quantity, client_id="mybot-7")

        def theirs() -> list[OrderFilled]:
            return [e for e in env.events if isinstance(e, OrderFilled) and e.client_order_id == "mybot-7"]

        await env.wait(lambda: sum(f.last_qty for f in theirs()) >= self.quantity, "the other program's fills")
        listed = await env.venue.fills_since(0, [], outside=True, symbols=[self.symbol])
        assert {f.client_order_id for f in listed} == {"mybot-7"}  # not PINK's own, of the form it makes
        assert {f.fill_id for f in listed} == {f.fill_id for f in theirs()}  # the stream's ids
        for f in listed:
            assert f.symbol == self.symbol and f.side is OrderSide.SELL and f.position_side in (Side.LONG, None), f
        assert await env.venue.fills_since(0, [], outside=True, symbols=["ETH-USDT"]) == []
        assert await env.venue.fills_since(0, []) == []

    async def test_deposits_and_withdrawals_are_streamed_listed_and_in_the_balance(self, env: Env) -> None:
        before = (await env.venue.balance()).balance
        listed_before = await env.venue.transfers_since(0)
        await self.make_transfer(Decimal("125.5"))
        await self.make_transfer(Decimal("-20.25"))

        def streamed() -> list[FundsTransferred]:
            return [e for e in env.events if isinstance(e, FundsTransferred)]

        await env.wait(lambda: len({t.transfer_id for t in streamed()}) == 2, "both transfers on the stream")
        listed = (await env.venue.transfers_since(0))[len(listed_before):]
        assert [t.amount for t in listed] == [Decimal("125.5"), Decimal("-20.25")]
        assert {t.transfer_id for t in listed} == {t.transfer_id for t in streamed()}
        assert len({t.transfer_id for t in listed}) == 2 and all(t.asset for t in listed)
        assert (await env.venue.balance()).balance == before + Decimal("105.25")

    async def test_closed_venue_refuses_calls(self, env: Env) -> None:
        await env.venue.close()
        await env.venue.close()  # idempotent
        with pytest.raises(ClosedError):
            await env.venue.balance()
        with pytest.raises(ClosedError):
            await env.venue.place(self.order(new_coid()))
        with pytest.raises(ClosedError):
            await env.venue.query(QueryOrder(new_coid(), self.symbol, "contract"))

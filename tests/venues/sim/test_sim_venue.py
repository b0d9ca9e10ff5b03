"""SimVenue: latency, asynchronous delivery, reports, lifecycle."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest

from pink.errors import ClosedError, ConfigError, LeverageError
from pink.kernel.messages import (
    CancelOrder,
    CancelRejected,
    EnsureLeverage,
    OrderAccepted,
    OrderFilled,
    OrderSide,
    OrderStatus,
    OrderType,
    PlaceOrder,
    QueryOrder,
    Side,
    TimeInForce,
    VenueEvent,
)
from pink.venues.sim import Latency, MarketConfig, MatchingEngine, NewOrder, SimVenue, default_instruments

S = 1_000_000_000
MS = 1_000_000
D = Decimal
FIXTURES = Path(__file__).parents[2] / "fixtures" / "sim"
BTC = "BTC-USDT"


def replay_venue(latency: Latency = Latency()) -> SimVenue:  # noqa: B008
    market = MarketConfig(replay={BTC: str(FIXTURES / "btc_down_trades.csv")}, level_qty={BTC: D("0.01")})
    return SimVenue(MatchingEngine(default_instruments(), market=market), latency=latency)


def place(coid: str, side: OrderSide, qty: str, price: str | None = None, pos: Side | None = None) -> PlaceOrder:
    return PlaceOrder(
        coid, 0, BTC, side, pos or (Side.LONG if side is OrderSide.BUY else Side.SHORT), D(qty),
        OrderType.MARKET if price is None else OrderType.LIMIT,
        None if price is None else D(price), TimeInForce.GTC, False, 5,
    )  # fmt: skip


async def test_e24_simulator_rests_limits_and_fills_asynchronously() -> None:
    venue = replay_venue()
    got: list[tuple[int, VenueEvent]] = []
    await venue.start(lambda ev: got.append((venue.now, ev)))
    try:
        assert await venue.place(place("t00001-e1", OrderSide.BUY, "0.06", "59985.0")) is None
        assert got == []  # nothing is synchronous
        assert venue.next_due() == 5 * MS
        await venue.advance_to(4 * MS)
        assert got == []
        await venue.advance_to(5 * MS)
        assert [type(e) for _, e in got] == [OrderAccepted]
        (rep,) = await venue.open_orders()
        assert rep.status is OrderStatus.NEW and rep.client_order_id == "t00001-e1"
        await venue.advance_to(3 * S)  # the market crossed at 3 s; the fill is 10 ms away
        assert len(got) == 1 and venue.next_due() == 3 * S + 10 * MS
        await venue.advance_to(6 * S)
        fills = [e for _, e in got if isinstance(e, OrderFilled)]
        assert [(f.last_qty, f.cum_qty) for f in fills] == [
            (D("0.025"), D("0.025")),
            (D("0.025"), D("0.050")),
            (D("0.010"), D("0.060")),
        ]
        assert [t for t, e in got[1:]] == [3 * S + 10 * MS, 4 * S + 10 * MS, 5 * S + 10 * MS]
        report = await venue.query(QueryOrder("t00001-e1", BTC, "test"))
        assert report.status is OrderStatus.FILLED and report.avg_price == D("59985")
        assert await venue.fills_since(0) == fills
        (pos,) = await venue.positions()
        assert pos.quantity == D("0.06") and pos.entry_price == D("59985")
    finally:
        await venue.close()


async def test_an_ack_may_come_after_its_first_fill() -> None:
    venue = replay_venue(Latency(ack_ns=50 * MS, fill_ns=10 * MS))
    got: list[VenueEvent] = []
    await venue.start(got.append)
    await venue.place(place("a", OrderSide.BUY, "0.02"))
    await venue.advance_to(S // 2)
    assert [type(e) for e in got] == [OrderFilled, OrderFilled, OrderAccepted]
    await venue.close()


async def test_a_fill_may_arrive_after_the_cancel_request() -> None:
    venue = replay_venue(Latency(fill_ns=20 * MS, cancel_ns=5 * MS))
    got: list[VenueEvent] = []
    await venue.start(got.append)
    await venue.place(place("r", OrderSide.BUY, "0.01", "59985.0"))
    await venue.advance_to(3 * S + 1 * MS)  # filled at 3 s inside the venue, not yet delivered
    assert [type(e) for e in got] == [OrderAccepted]
    await venue.cancel(CancelOrder("r", BTC, ""))
    await venue.advance_to(4 * S)
    assert [type(e) for e in got] == [OrderAccepted, CancelRejected, OrderFilled]
    rej = got[1]
    assert isinstance(rej, CancelRejected) and rej.code == "ORDER_ALREADY_FILLED"
    await venue.close()


async def test_reports_counters_leverage_and_close() -> None:
    venue = replay_venue()
    assert not venue.stream_connected  # no sink yet
    await venue.start(lambda ev: None)
    assert venue.stream_connected
    assert set(await venue.instruments()) == {"BTC-USDT", "ETH-USDT", "DOGE-USDT"}
    nf = await venue.query(QueryOrder("nope", BTC, "test"))
    assert nf.status is OrderStatus.NOT_FOUND and nf.cum_qty == 0
    await venue.ensure_leverage(EnsureLeverage(BTC, Side.LONG, 5))  # already 5
    await venue.ensure_leverage(EnsureLeverage(BTC, Side.LONG, 10))
    assert venue.calls["ensure_leverage"] == 2 and venue.calls["set_leverage"] == 1
    with pytest.raises(LeverageError):
        await venue.ensure_leverage(EnsureLeverage(BTC, Side.LONG, 1000))
    q = await venue.quote(BTC)
    assert q.bid == D("60000.0") and q.ask == D("60000.1")
    bal = await venue.balance()
    assert bal.balance == bal.available == D("10000")
    assert await venue.funding_since(0) == []
    await venue.close()
    assert not venue.stream_connected
    await venue.close()  # idempotent
    with pytest.raises(ClosedError):
        await venue.balance()
    with pytest.raises(ClosedError):
        await venue.place(place("z", OrderSide.BUY, "0.01"))
    with pytest.raises(ClosedError):
        await venue.advance_to(S)


def test_public_api_is_exported() -> None:
    import pink.venues.sim as sim

    for name in sim.__all__:
        assert getattr(sim, name) is not None
    assert {"MatchingEngine", "SimVenue", "FaultConfig", "default_instruments"} <= set(sim.__all__)


@pytest.mark.parametrize(
    ("amount", "named"),
    [(Decimal(0), "non-zero"), (Decimal("NaN"), "finite"), (5, "Decimal"), (Decimal("-10001"), "available")],
)
def test_a_transfer_the_venue_would_refuse_says_why_and_moves_nothing(amount: object, named: str) -> None:
    engine = MatchingEngine(default_instruments(), initial_balance=Decimal(10_000))
    with pytest.raises(ValueError, match=named):
        engine.transfer(amount)  # type: ignore[arg-type]
    assert engine.balance().balance == Decimal(10_000) and engine.transfers_since(0) == []


def test_transfers_move_the_wallet_and_are_listed_by_time() -> None:
    engine = MatchingEngine(default_instruments(), initial_balance=Decimal(10_000), start_ts=5)
    dep = engine.transfer(Decimal("250"))
    engine.advance(10)
    wd = engine.transfer(Decimal("-100.5"))
    assert (dep.amount, dep.asset, wd.amount) == (Decimal(250), "USDT", Decimal("-100.5"))
    assert dep.transfer_id != wd.transfer_id
    assert engine.balance().balance == Decimal("10149.5")
    assert engine.transfers_since(0) == [dep, wd] and engine.transfers_since(6) == [wd]


@pytest.mark.parametrize(
    ("make", "named"),
    [
        (lambda: Latency(jitter_ns=-1), "latency jitter_ns must be an int >= 0, got -1"),
        (lambda: Latency(ack_ns=-5), "latency ack_ns must be an int >= 0, got -5"),
        (
            lambda: Latency(fill_ns=1.5),  # type: ignore[arg-type]
            "latency fill_ns must be an int >= 0, got 1.5",
        ),
        (lambda: MatchingEngine(default_instruments(), funding_interval_s=0), "funding_interval_s must be > 0, got 0"),
        (lambda: MatchingEngine(default_instruments(), initial_balance=D("NaN")), "initial_balance must be a finite"),
        (lambda: MatchingEngine(default_instruments(), initial_balance=D(-1)), "initial_balance must be a finite"),
    ],
)
def test_a_simulator_setting_it_cannot_run_on_is_refused_naming_it(make: Callable[[], object], named: str) -> None:
    """Not a division by zero at the first step, nor a NaN wallet, nor a crash at the first jittered event."""
    with pytest.raises(ConfigError, match=named):
        make()


async def test_e08_a_liquidation_is_pushed_and_listed_as_a_fill_of_an_order_pink_never_sent(tmp_path: Path) -> None:
    """The venue's close of a position under its maintenance margin reaches the stream with no
    client id, and the reconcile's ask for fills of orders placed outside PINK lists it (a push
    lost would leave the position booked open for ever)."""
    csv = tmp_path / "crash.csv"
    csv.write_text("ts_ms,price\n0,60000\n1000,59000\n2000,50000\n")
    market = MarketConfig(replay={BTC: str(csv)}, level_qty={BTC: D("1")})
    venue = SimVenue(MatchingEngine(default_instruments(), market=market))
    got: list[VenueEvent] = []
    await venue.start(got.append)
    try:
        await venue.ensure_leverage(EnsureLeverage(BTC, Side.LONG, 20))
        await venue.place(place("t00001-e1", OrderSide.BUY, "0.01"))
        await venue.advance_to(3 * S)
        (entry, liq) = [e for e in got if isinstance(e, OrderFilled)]
        assert (liq.client_order_id, liq.side, liq.position_side) == ("", OrderSide.SELL, Side.LONG)
        assert liq.ts == 2 * S and await venue.positions() == []
        assert await venue.fills_since(0, (), outside=True, symbols={BTC}) == [liq]
        assert await venue.fills_since(0, (), outside=True, symbols={"ETH-USDT"}) == []
        assert await venue.fills_since(0, ()) == []  # not asked for outside fills: PINK's own only
        wallet = D(10_000) - entry.commission + (liq.last_price - entry.last_price) * D("0.01") - liq.commission
        assert (await venue.balance()).balance == wallet
    finally:
        await venue.close()


def test_a_restart_keeps_a_position_at_its_leverage_when_the_simulator_now_lists_less() -> None:
    """A paper run restarted with a lower ``sim_max_leverage`` than an open trade was entered at
    stopped at its start (LEVERAGE_OUT_OF_RANGE adopting the journal's book). The position stays
    at the leverage it was opened with, as a venue keeps it; changes to come are held to the max."""
    from dataclasses import replace

    insts = {s: replace(i, max_leverage=10) for s, i in default_instruments().items()}
    venue = SimVenue(MatchingEngine(insts))
    venue.adopt_book(D("10000"), [(BTC, Side.LONG, D("0.1"), D("6000"))], leverage={(BTC, Side.LONG): 20})
    assert venue.engine.leverage(BTC, Side.LONG) == 20
    assert venue.engine.liquidation_price(BTC, Side.LONG) == D("57286.4")  # (at 20x)
    with pytest.raises(LeverageError, match="LEVERAGE_OUT_OF_RANGE"):
        venue.ensure_leverage_now(EnsureLeverage(BTC, Side.LONG, 15))
    with pytest.raises(LeverageError, match="LEVERAGE_OUT_OF_RANGE"):
        venue.adopt_book(D("10000"), [], leverage={(BTC, Side.SHORT): 0})


@pytest.mark.parametrize("shown", ["", "mybot-1"])
async def test_e08_an_order_placed_by_hand_with_a_mixed_case_id_shows_only_what_the_venue_shows(shown: str) -> None:
    """The engine keeps client ids in lower case, but the orders placed by hand were known by the
    id as given: one given as "Hand-TP" showed its engine id "hand-tp" on the stream, and its fill
    was left out of the fills placed outside PINK (reconcile never saw it), nor could it be
    canceled by hand under the id it was placed with."""
    venue = replay_venue()
    got: list[VenueEvent] = []
    await venue.start(got.append)
    try:
        hand = NewOrder("Hand-TP", BTC, OrderSide.BUY, Side.LONG, D("0.01"), OrderType.MARKET, None,
                        TimeInForce.GTC, False)  # fmt: skip
        shown_now = venue.place_by_hand(hand, shown_id=shown)
        assert {getattr(e, "client_order_id", None) for e in shown_now} == {shown}
        await venue.advance_to(S // 2)
        assert got and {getattr(e, "client_order_id", None) for e in got} == {shown}
        (fill,) = await venue.fills_since(0, (), outside=True)
        assert fill.client_order_id == shown and fill.last_qty == D("0.01")
        venue.place_by_hand(replace(hand, client_order_id="Hand-Bid", order_type=OrderType.LIMIT,
                                    price=D("59000.0")), shown_id=shown)  # fmt: skip
        venue.cancel_by_hand("Hand-Bid")
        assert venue.engine.open_orders() == []
    finally:
        await venue.close()

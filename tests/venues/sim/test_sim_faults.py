"""Each injectable fault is observable; the spec parser names its errors."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from pink.errors import ConfigError, RateLimitedError, UnknownOutcomeError
from pink.kernel.messages import (
    CancelOrder,
    CancelRejected,
    EnsureLeverage,
    OrderAccepted,
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
from pink.runtime.launcher import Launcher
from pink.venues.sim import (
    FAULT_KINDS,
    FaultConfig,
    Faults,
    MarketConfig,
    MatchingEngine,
    SimVenue,
    default_instruments,
)
from tests.runtime.helpers import quiet_config

S = 1_000_000_000
D = Decimal
FIXTURES = Path(__file__).parents[2] / "fixtures" / "sim"
BTC = "BTC-USDT"


async def make(spec: str) -> tuple[SimVenue, list[VenueEvent]]:
    market = MarketConfig(replay={BTC: str(FIXTURES / "btc_down_trades.csv")}, level_qty={BTC: D("0.01")})
    engine = MatchingEngine(default_instruments(), market=market)
    venue = SimVenue(engine, faults=FaultConfig.parse(spec))
    got: list[VenueEvent] = []
    await venue.start(got.append)
    return venue, got


def place(coid: str, qty: str = "0.01", price: str | None = None) -> PlaceOrder:
    kind = OrderType.MARKET if price is None else OrderType.LIMIT
    return PlaceOrder(
        coid, 0, BTC, OrderSide.BUY, Side.LONG, D(qty), kind,
        None if price is None else D(price), TimeInForce.GTC, False, 5,
    )  # fmt: skip


def kinds(events: list[VenueEvent]) -> list[type]:
    return [type(e) for e in events]


async def test_reject() -> None:
    venue, got = await make("reject=1")
    await venue.place(place("a"))
    await venue.advance_to(S // 2)
    (ev,) = got
    assert isinstance(ev, OrderRejected) and ev.code == "SIM_REJECT"
    assert venue.faults.injected == {"reject": 1}
    await venue.close()


async def test_e24_an_injected_reject_is_in_the_venues_reports_and_its_client_id_stays_used() -> None:
    """The stream said REJECTED, but a query answered NOT_FOUND (the fault bypassed the engine),
    and the same client id could be placed again and fill: a kernel that missed the push and
    queried was told the order never existed, and a retried place traded an order it had booked
    as rejected. The venue's reports know the injected reject, as they know its own."""
    venue, got = await make("reject=1")
    await venue.place(place("a"))
    await venue.advance_to(S // 2)
    report = await venue.query(QueryOrder("a", BTC, "t"))
    assert report.status is OrderStatus.REJECTED and report.code == "SIM_REJECT"
    assert report.client_order_id == "a" and report.cum_qty == 0
    venue.faults = Faults()  # faults off: the engine alone decides
    await venue.place(place("A"))  # client ids are case-insensitive, as on BingX
    await venue.advance_to(S)
    assert [e.code for e in got if isinstance(e, OrderRejected)] == ["SIM_REJECT", "DUPLICATE_CLIENT_ORDER_ID"]
    assert await venue.fills_since(0) == [] and venue.engine.account.positions == {}
    assert (await venue.query(QueryOrder("a", BTC, "t"))).status is OrderStatus.REJECTED
    await venue.close()


async def test_no_response_order_exists_but_ack_is_lost() -> None:
    venue, got = await make("no_response=1")
    with pytest.raises(UnknownOutcomeError):
        await venue.place(place("a"))
    await venue.advance_to(S // 2)
    assert kinds(got) == [OrderFilled]  # the stream still reports the fill
    assert (await venue.query(QueryOrder("a", BTC, "t"))).status is OrderStatus.FILLED
    assert venue.faults.injected["no_response"] == 1
    await venue.close()


async def test_delayed_ack_arrives_after_fill() -> None:
    venue, got = await make("delayed_ack=1,delayed_ack_ns=1000000000")
    await venue.place(place("a"))
    await venue.advance_to(S // 2)
    assert kinds(got) == [OrderFilled]
    await venue.advance_to(2 * S)
    assert kinds(got) == [OrderFilled, OrderAccepted]
    await venue.close()


async def test_duplicate_event() -> None:
    venue, got = await make("duplicate_event=1")
    await venue.place(place("a"))
    await venue.advance_to(S // 2)
    assert kinds(got) == [OrderAccepted, OrderAccepted, OrderFilled, OrderFilled]
    assert got[0] == got[1] and got[2] == got[3]
    assert venue.faults.injected["duplicate_event"] == 2
    await venue.close()


async def test_reorder_events() -> None:
    venue, got = await make("reorder_events=1,seed=1")
    await venue.place(place("a", qty="0.04"))  # ack + 4 fills across 4 levels
    await venue.advance_to(S // 2)
    natural, plain = await make("")
    await natural.place(place("a", qty="0.04"))
    await natural.advance_to(S // 2)
    assert sorted(map(repr, got)) == sorted(map(repr, plain))
    assert got != plain
    assert venue.faults.injected["reorder_events"] == 1
    await venue.close()
    await natural.close()


async def test_fill_races_cancel() -> None:
    venue, got = await make("fill_races_cancel=1")
    await venue.place(place("r", price="59000.0"))
    await venue.advance_to(S // 10)
    await venue.cancel(CancelOrder("r", BTC, ""))
    await venue.advance_to(S // 2)
    assert kinds(got) == [OrderAccepted, CancelRejected, OrderFilled]
    assert isinstance(got[1], CancelRejected) and got[1].code == "ORDER_ALREADY_FILLED"
    assert isinstance(got[2], OrderFilled) and got[2].last_price == D("59000.0")
    await venue.close()


async def test_fill_without_price() -> None:
    venue, got = await make("fill_without_price=1")
    await venue.place(place("a"))
    await venue.advance_to(S // 2)
    fill = got[-1]
    assert isinstance(fill, OrderFilled) and fill.last_price == 0 and fill.last_qty == D("0.01")
    (real,) = await venue.fills_since(0)
    assert real.fill_id == fill.fill_id and real.last_price == D("60000.1")
    await venue.close()


async def test_rate_limit() -> None:
    venue, _ = await make("rate_limit=1")
    with pytest.raises(RateLimitedError) as info:
        await venue.place(place("a"))
    assert info.value.retryable
    assert venue.engine.order(client_order_id="a") is None
    with pytest.raises(RateLimitedError):
        await venue.cancel(CancelOrder("a", BTC, ""))
    await venue.close()


async def test_stream_drop_events_only_visible_in_reports() -> None:
    venue, got = await make("stream_drop=1,stream_drop_ns=10000000000")
    await venue.place(place("a"))
    await venue.place(place("b"))
    await venue.advance_to(S)
    assert got == []
    assert len(venue.dropped) == 4 and venue.faults.injected["stream_drop"] == 1
    assert len(await venue.fills_since(0)) == 2
    assert (await venue.query(QueryOrder("b", BTC, "t"))).status is OrderStatus.FILLED
    await venue.close()


async def test_a_dropped_stream_shows_as_disconnected_until_it_is_back() -> None:
    """Health tells the operator what the fault does: no events for a while, as after a disconnect."""
    venue, got = await make("stream_drop=1,stream_drop_ns=10000000000")
    assert venue.stream_connected
    await venue.place(place("a"))
    await venue.advance_to(S)
    assert got == [] and venue.dropped
    assert not venue.stream_connected
    await venue.advance_to(12 * S)  # the window (10 s from the first lost event) is over
    assert venue.stream_connected
    await venue.close()


def test_fault_spec_parsing() -> None:
    cfg = FaultConfig.parse("reject=0.05, no_response=0.02,stream_drop_ns=7,seed=3")
    assert cfg.reject == 0.05 and cfg.no_response == 0.02 and cfg.stream_drop_ns == 7
    assert cfg.seed == 3 and cfg.active and not FaultConfig.parse("").active
    assert set(FAULT_KINDS) <= {f for f in FaultConfig.__dataclass_fields__}
    with pytest.raises(ConfigError, match="unknown key 'rejekt'"):
        FaultConfig.parse("rejekt=0.1")
    with pytest.raises(ConfigError, match="bad value for reject: 'lots'"):
        FaultConfig.parse("reject=lots")
    with pytest.raises(ConfigError, match="reject: probability"):
        FaultConfig.parse("reject=1.5")
    with pytest.raises(ConfigError, match="key=value"):
        FaultConfig.parse("reject")


def test_a_bad_fault_duration_or_a_key_given_twice_is_refused_naming_it() -> None:
    """"fault durations must be >= 0" did not say which of the two was wrong, and a key given
    twice silently took its last value (a typo in a long spec ran other faults than written)."""
    with pytest.raises(ConfigError, match="stream_drop_ns must be >= 0, got -5"):
        FaultConfig.parse("stream_drop=0.1,stream_drop_ns=-5")
    with pytest.raises(ConfigError, match="delayed_ack_ns must be >= 0"):
        FaultConfig(delayed_ack_ns=-1)
    with pytest.raises(ConfigError, match="reject is given twice"):
        FaultConfig.parse("reject=0.1,no_response=0.2,reject=0.5")


async def test_faulty_runs_are_deterministic_for_a_seed() -> None:
    async def run(seed: int) -> tuple[list[VenueEvent], dict[str, int]]:
        spec = ",".join(f"{k}=0.2" for k in FAULT_KINDS if k != "stream_drop")
        venue, got = await make(f"{spec},seed={seed}")
        for i in range(30):
            try:
                price = None if i % 3 else "59990.0"
                await venue.place(place(f"o{i}", price=price))
                if i % 3 == 0:
                    await venue.cancel(CancelOrder(f"o{i}", BTC, ""))
            except (UnknownOutcomeError, RateLimitedError):
                pass
            await venue.advance_to((i + 1) * S // 4)
        await venue.advance_to(10 * S)
        await venue.close()
        return got, dict(venue.faults.injected)

    first, second, other = await run(11), await run(11), await run(12)
    assert first == second
    assert first != other
    assert set(first[1]) == set(FAULT_KINDS) - {"stream_drop"}


def test_the_faults_follow_the_runs_seed_unless_the_spec_names_one() -> None:
    """``--seed`` changed the prices but not the faults (always seed 7): two paper runs with
    different seeds met the same rejects and lost replies at the same orders."""
    assert FaultConfig.parse("reject=0.1", seed=42).seed == 42
    assert FaultConfig.parse("reject=0.1,seed=3", seed=42).seed == 3
    assert FaultConfig.parse("reject=0.1").seed == 7


async def test_a_paper_runs_faults_are_drawn_from_its_seed(tmp_path: Path) -> None:
    async with Launcher(quiet_config(tmp_path, faults="reject=0.1", seed=42)) as launcher:
        assert isinstance(launcher.venue, SimVenue) and launcher.venue.faults.config.seed == 42


async def _shocked(spec: str) -> tuple[SimVenue, list[VenueEvent], Decimal]:
    """A 5x long on a random-walk BTC (start 60000, the only symbol listed), then one price
    update under ``spec``."""
    btc = {BTC: default_instruments()[BTC]}
    engine = MatchingEngine(btc, market=MarketConfig(level_qty={BTC: D("1")}))
    venue = SimVenue(engine, faults=FaultConfig.parse(spec))
    got: list[VenueEvent] = []
    await venue.start(got.append)
    await venue.ensure_leverage(EnsureLeverage(BTC, Side.LONG, 5))
    before = engine.quote(BTC).mark
    venue.faults, faults = Faults(), venue.faults  # the entry itself unfaulted
    await venue.place(place("t1-e1", qty="0.01"))
    venue.faults = faults
    await venue.advance_to(S + S // 2)  # one price update, at 1 s; its events delivered
    return venue, got, before


async def test_e24_a_price_shock_jumps_the_mark_and_liquidates_a_position_it_puts_under_maintenance() -> None:
    """The simulator's market only walked (0.02 % a second): no fault ever moved the price far
    enough to liquidate a position, so liquidation was never exercised under faults and kills.
    A ``price_shock`` gaps the mark by ``price_shock_size`` of it, up or down (seeded), and the
    engine sees it like any price update: a 5x long through a 40 % fall is liquidated."""
    downs = 0
    for seed in range(1, 9):
        venue, got, before = await _shocked(f"price_shock=1,price_shock_size=0.4,seed={seed}")
        mark = venue.engine.quote(BTC).mark
        assert venue.faults.injected["price_shock"] == 1  # one a price update: one second, one shock
        assert abs(mark / before - 1) > D("0.39"), (seed, before, mark)
        liquidations = [e for e in got if isinstance(e, OrderFilled) and not e.client_order_id]
        if mark < before:
            downs += 1
            assert len(liquidations) == 1 and await venue.positions() == []
            assert liquidations[0].ts == S
        else:  # a long gains from a squeeze
            assert liquidations == [] and (await venue.positions())[0].quantity == D("0.01")
        await venue.close()
    assert 0 < downs < 8  # either direction


async def test_a_price_shock_is_a_fault_spec_key_and_a_bad_size_is_refused_naming_it() -> None:
    assert FaultConfig.parse("price_shock=0.1,price_shock_size=0.3").price_shock_size == 0.3
    assert "price_shock" in FAULT_KINDS
    for bad in ("0", "1", "-0.2", "1.5", "nan"):
        with pytest.raises(ConfigError, match="price_shock_size"):
            FaultConfig.parse(f"price_shock=0.1,price_shock_size={bad}")
    venue, _, _ = await _shocked("price_shock=0")  # off: no jump, no liquidation
    assert venue.faults.injected == {} and (await venue.positions())[0].quantity == D("0.01")
    await venue.close()

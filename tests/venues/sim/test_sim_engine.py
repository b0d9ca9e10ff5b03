"""The matching engine: resting orders, partial fills, slippage, TIF, fees, PnL."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest

from pink.errors import ConfigError, LeverageError, UnknownInstrumentError
from pink.kernel.messages import (
    CancelRejected,
    Instrument,
    OrderAccepted,
    OrderCanceled,
    OrderExpired,
    OrderFilled,
    OrderRejected,
    OrderSide,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
)
from pink.venues.sim import FeeSchedule, LiquidationRules, MarketConfig, MatchingEngine, NewOrder, default_instruments

S = 1_000_000_000
D = Decimal
FIXTURES = Path(__file__).parents[2] / "fixtures" / "sim"
BTC = "BTC-USDT"


def replay_engine(level_qty: str = "0.01", **kw: object) -> MatchingEngine:
    market = MarketConfig(
        replay={BTC: str(FIXTURES / "btc_down_trades.csv")},
        level_qty={BTC: D(level_qty)},
        volatility_per_s=D(0),
    )
    return MatchingEngine(default_instruments(), market=market, **kw)  # type: ignore[arg-type]


def order(
    coid: str,
    side: OrderSide,
    qty: str,
    *,
    price: str | None = None,
    tif: TimeInForce = TimeInForce.GTC,
    pos: Side | None = None,
    symbol: str = BTC,
    reduce_only: bool = False,
) -> NewOrder:
    if pos is None:
        pos = Side.LONG if side is OrderSide.BUY else Side.SHORT
    kind = OrderType.MARKET if price is None else OrderType.LIMIT
    return NewOrder(coid, symbol, side, pos, D(qty), kind, None if price is None else D(price), tif, reduce_only)


def fills(events: list[object]) -> list[OrderFilled]:
    return [e for e in events if isinstance(e, OrderFilled)]


def test_limit_rests_until_crossed_then_fills_partially_over_several_updates() -> None:
    eng = replay_engine()
    # market is 60000.0 / 60000.1; a buy at 59985.0 rests
    evs = eng.submit(order("t1-e1", OrderSide.BUY, "0.06", price="59985.0"), 0)
    assert [type(e) for e in evs] == [OrderAccepted]
    assert eng.open_orders()[0].client_order_id == "t1-e1"
    assert fills(eng.advance(2 * S)) == []  # ask 59990.1: not crossed
    got = fills(eng.advance(3 * S))  # ask 59984.1 <= 59985.0: 5 levels x 0.01 x 0.5
    assert [(f.last_qty, f.last_price, f.cum_qty) for f in got] == [(D("0.025"), D("59985.0"), D("0.025"))]
    o = eng.order(client_order_id="t1-e1")
    assert o is not None and o.status is OrderStatus.PARTIALLY_FILLED
    got = fills(eng.advance(5 * S))
    assert [(f.last_qty, f.cum_qty, f.ts) for f in got] == [
        (D("0.025"), D("0.050"), 4 * S),
        (D("0.010"), D("0.060"), 5 * S),
    ]
    assert o.status is OrderStatus.FILLED and o.avg_price == D("59985")
    assert eng.open_orders() == []
    assert {f.is_maker for f in eng.fills_since(0)} == {True}


def test_resting_orders_share_the_liquidity_the_market_crosses_by_price_then_time() -> None:
    """Each resting order was filled from the whole of the crossed levels: six bids of 0.05 filled
    0.15 in one update where one bid of 0.3 filled 0.025 (the book's 5 levels x 0.01 x 0.5), so a
    ladder of small orders got fills the market never had. They share it, as on a book: the best
    price first, then the first placed."""
    eng = replay_engine()
    for i in range(5):
        eng.submit(order(f"g{i}", OrderSide.BUY, "0.03", price="59985.0"), 0)
    eng.submit(order("best", OrderSide.BUY, "0.01", price="59986.0"), 0)
    eng.submit(order("ask", OrderSide.SELL, "0.02", price="60020.0"), 0)  # the other side: its own liquidity
    got = fills(eng.advance(3 * S))  # ask 59984.1: 0.025 crosses them
    assert [(f.client_order_id, f.last_qty) for f in got] == [("best", D("0.01")), ("g0", D("0.015"))]
    got = fills(eng.advance(4 * S))
    assert [(f.client_order_id, f.last_qty) for f in got] == [("g0", D("0.015")), ("g1", D("0.010"))]
    got = fills(eng.advance(7 * S))  # 5 s, 6 s: under 59985; 7 s: bid 60010 is under the ask at 60020
    assert [(f.client_order_id, f.last_qty) for f in got] == [("g1", D("0.020")), ("g2", D("0.005")),
                                                              ("g2", D("0.025"))]  # fmt: skip
    assert sum(f.qty for f in eng.fills_since(0)) == D("0.1")  # 4 updates x 0.025


def test_market_order_walks_the_book_with_slippage() -> None:
    eng = replay_engine()
    evs = eng.submit(order("m1", OrderSide.BUY, "0.025"), 0)
    got = fills(evs)
    assert [(f.last_qty, f.last_price) for f in got] == [
        (D("0.01"), D("60000.1")),
        (D("0.01"), D("60000.2")),
        (D("0.005"), D("60000.3")),
    ]
    o = eng.order(client_order_id="m1")
    assert o is not None and o.status is OrderStatus.FILLED
    assert o.avg_price == (D("600.001") + D("600.002") + D("300.0015")) / D("0.025")
    # the taken liquidity stays taken until the price moves
    again = fills(eng.submit(order("m2", OrderSide.BUY, "0.01"), 0))
    assert [(f.last_qty, f.last_price) for f in again] == [
        (D("0.005"), D("60000.3")),
        (D("0.005"), D("60000.4")),
    ]
    eng.advance(1 * S)
    after = fills(eng.submit(order("m3", OrderSide.BUY, "0.01"), 1 * S))
    assert [(f.last_qty, f.last_price) for f in after] == [(D("0.01"), D("59995.1"))]


def test_market_order_beyond_depth_fills_what_exists_and_expires_the_rest() -> None:
    eng = replay_engine()
    evs = eng.submit(order("m1", OrderSide.SELL, "0.07"), 0)
    assert sum(f.last_qty for f in fills(evs)) == D("0.05")
    assert isinstance(evs[-1], OrderExpired) and evs[-1].cum_qty == D("0.05")
    assert [f.last_price for f in fills(evs)][-1] == D("59999.6")


def test_ioc_fills_what_it_can_up_to_its_limit_and_expires_the_rest() -> None:
    eng = replay_engine()
    evs = eng.submit(order("i1", OrderSide.BUY, "0.03", price="60000.2", tif=TimeInForce.IOC), 0)
    assert sum(f.last_qty for f in fills(evs)) == D("0.02")
    assert isinstance(evs[-1], OrderExpired)
    assert eng.open_orders() == []


def test_fok_fills_all_or_nothing() -> None:
    eng = replay_engine()
    evs = eng.submit(order("f1", OrderSide.BUY, "0.03", price="60000.2", tif=TimeInForce.FOK), 0)
    assert fills(evs) == [] and isinstance(evs[-1], OrderExpired)
    evs = eng.submit(order("f2", OrderSide.BUY, "0.02", price="60000.2", tif=TimeInForce.FOK), 0)
    assert sum(f.last_qty for f in fills(evs)) == D("0.02")


def test_post_only_rejected_when_it_would_take_and_rests_as_maker_otherwise() -> None:
    eng = replay_engine()
    po = TimeInForce.POST_ONLY
    evs = eng.submit(order("p1", OrderSide.BUY, "0.01", price="60000.1", tif=po), 0)
    assert isinstance(evs[0], OrderRejected) and evs[0].code == "POST_ONLY_WOULD_TAKE"
    evs = eng.submit(order("p2", OrderSide.BUY, "0.01", price="59990.0", tif=po), 0)
    assert [type(e) for e in evs] == [OrderAccepted]
    got = fills(eng.advance(3 * S))
    assert len(got) == 1 and eng.fills_since(0)[0].is_maker
    assert got[0].commission == D("0.01") * D("59990.0") * D("0.0002")


def test_fees_maker_and_taker_exact_and_balance_exact() -> None:
    eng = replay_engine()
    taker = fills(eng.submit(order("a", OrderSide.BUY, "0.01"), 0))[0]
    assert taker.commission == D("0.30000050")  # 0.01 x 60000.1 x 0.0005
    eng.submit(order("b", OrderSide.SELL, "0.01", price="60005.0", pos=Side.LONG), 0)
    maker = fills(eng.advance(7 * S))[0]
    assert maker.last_price == D("60005.0")
    assert maker.commission == D("0.12001000")  # 0.01 x 60005 x 0.0002
    bal = eng.balance()
    pnl = (D("60005.0") - D("60000.1")) * D("0.01")
    assert bal.balance == D("10000") + pnl - taker.commission - maker.commission
    assert eng.positions() == []


def test_realized_pnl_over_several_legs_is_exact() -> None:
    eng = MatchingEngine(default_instruments(), market=MarketConfig(volatility_per_s=D("0.001")))
    t = 0
    notional_in = notional_out = fees = D(0)
    for i in range(3):  # open 3 x 0.003 short at different prices
        t += 7 * S
        for f in fills(eng.submit(order(f"o{i}", OrderSide.SELL, "0.003"), t)):
            notional_in += f.last_qty * f.last_price
            fees += f.commission
    (pos,) = eng.positions()
    assert pos.side is Side.SHORT and pos.quantity == D("0.009")
    for i, q in enumerate(("0.004", "0.002", "0.003")):  # close in 3 legs
        t += 11 * S
        evs = eng.submit(order(f"c{i}", OrderSide.BUY, q, pos=Side.SHORT), t)
        for f in fills(evs):
            notional_out += f.last_qty * f.last_price
            fees += f.commission
    assert eng.positions() == []
    gross = notional_in - notional_out  # short: sold high, bought back
    assert sum(f.realized_pnl for f in eng.fills_since(0)) == gross
    assert eng.balance().balance == D("10000") + gross - fees


def test_validation_rejects_with_codes() -> None:
    eng = replay_engine()
    cases = [
        (order("x1", OrderSide.BUY, "0.01", symbol="NOPE-USDT"), "UNKNOWN_SYMBOL"),
        (order("x2", OrderSide.BUY, "0.00001"), "QTY_BELOW_MIN"),
        (order("x3", OrderSide.BUY, "0.00015"), "QTY_NOT_ON_STEP"),
        (order("x4", OrderSide.BUY, "0.01", price="60000.05"), "INVALID_PRICE"),
        (order("x5", OrderSide.BUY, "0.01", price="-1"), "INVALID_PRICE"),
        (order("x6", OrderSide.BUY, "1", symbol="DOGE-USDT"), "NOTIONAL_BELOW_MIN"),
        (order("x7", OrderSide.SELL, "0.01", pos=Side.LONG), "REDUCE_ONLY_EXCEEDS_POSITION"),
        (order("x8", OrderSide.BUY, "1.0"), "INSUFFICIENT_MARGIN"),
        (order("x9", OrderSide.BUY, "0.01", reduce_only=True), "INVALID_SIDE"),
        (order("", OrderSide.BUY, "0.01"), "INVALID_CLIENT_ORDER_ID"),
    ]
    for request, code in cases:
        (ev,) = eng.submit(request, 0)
        assert isinstance(ev, OrderRejected) and ev.code == code, (request, ev)
    assert eng.fills_since(0) == [] and eng.open_orders() == []
    rejected = eng.order(client_order_id="x8")
    assert rejected is not None and rejected.status is OrderStatus.REJECTED


@pytest.mark.parametrize("full_close_below_min", [True, False])
def test_a_close_below_the_minimum_notional_is_taken_only_for_all_that_is_left(full_close_below_min: bool) -> None:
    eng = MatchingEngine(default_instruments(), full_close_below_min=full_close_below_min)
    (_ack, fill) = eng.submit(order("in", OrderSide.BUY, "30", symbol="DOGE-USDT"), 0)  # about 3 USDT
    assert isinstance(fill, OrderFilled) and fill.cum_qty == D("30")
    # half of it is about 1.5, below the minimum of 2: never taken
    (ev,) = eng.submit(order("half", OrderSide.SELL, "15", symbol="DOGE-USDT", pos=Side.LONG), 0)
    assert isinstance(ev, OrderRejected) and ev.code == "NOTIONAL_BELOW_MIN"
    # the venue raises its minimum above the whole position: closing all of it is still taken
    eng.instruments["DOGE-USDT"] = replace(eng.instruments["DOGE-USDT"], min_notional=D("10"))
    evs = eng.submit(order("all", OrderSide.SELL, "30", symbol="DOGE-USDT", pos=Side.LONG), 0)
    if full_close_below_min:
        assert fills(evs)[-1].cum_qty == D("30") and eng.positions() == []
    else:
        assert isinstance(evs[0], OrderRejected) and evs[0].code == "NOTIONAL_BELOW_MIN"
        assert eng.positions()[0].quantity == D("30")


@pytest.mark.parametrize("full_close_below_min", [True, False])
def test_e8_a_position_below_the_min_quantity_is_closed_by_an_order_for_all_of_it(full_close_below_min: bool) -> None:
    """A resting entry of 0.002 (minimum 0.001, step 0.0001) filled 0.0005 and was canceled:
    every close of the 0.0005 left was refused QTY_BELOW_MIN, and the position stayed, stuck.
    As for the minimum notional, a close of all that is left is taken below the minimum
    quantity (a venue closes a whole position whatever its size: BingX's closeAllPositions);
    a part of it never is."""
    inst = {BTC: Instrument(BTC, D("0.1"), D("0.0001"), D("0.001"), D("5"))}
    market = MarketConfig(replay={BTC: str(FIXTURES / "btc_down_trades.csv")}, level_qty={BTC: D("0.0002")},
                          volatility_per_s=D(0))  # fmt: skip
    eng = MatchingEngine(inst, market=market, full_close_below_min=full_close_below_min)
    eng.submit(order("e", OrderSide.BUY, "0.002", price="59985.0"), 0)
    assert [f.last_qty for f in fills(eng.advance(3 * S))] == [D("0.0005")]  # 5 levels x 0.0002 x 0.5
    eng.cancel(3 * S, client_order_id="e")
    (ev,) = eng.submit(order("part", OrderSide.SELL, "0.0002", pos=Side.LONG), 3 * S)
    assert isinstance(ev, OrderRejected) and ev.code == "QTY_BELOW_MIN"
    evs = eng.submit(order("all", OrderSide.SELL, "0.0005", pos=Side.LONG), 3 * S)
    if full_close_below_min:
        assert fills(evs)[-1].cum_qty == D("0.0005") and eng.positions() == []
    else:
        assert isinstance(evs[0], OrderRejected) and evs[0].code == "QTY_BELOW_MIN"
        assert eng.positions()[0].quantity == D("0.0005")


def test_duplicate_client_order_id_refused_for_live_and_past_orders() -> None:
    eng = replay_engine()
    eng.submit(order("live", OrderSide.BUY, "0.01", price="59000.0"), 0)
    eng.submit(order("done", OrderSide.BUY, "0.01"), 0)
    for coid in ("live", "DONE"):
        (ev,) = eng.submit(order(coid, OrderSide.BUY, "0.01"), 0)
        assert isinstance(ev, OrderRejected) and ev.code == "DUPLICATE_CLIENT_ORDER_ID"
    assert len(eng.fills_since(0)) == 1 and len(eng.open_orders()) == 1


def test_cancel_live_filled_unknown_and_twice() -> None:
    eng = replay_engine()
    eng.submit(order("r", OrderSide.BUY, "0.01", price="59000.0"), 0)
    eng.submit(order("m", OrderSide.BUY, "0.01"), 0)
    (ev,) = eng.cancel(0, client_order_id="r")
    assert isinstance(ev, OrderCanceled) and ev.cum_qty == 0
    (ev,) = eng.cancel(0, client_order_id="r")
    assert isinstance(ev, CancelRejected) and ev.code == "ORDER_NOT_OPEN"
    (ev,) = eng.cancel(0, client_order_id="m")
    assert isinstance(ev, CancelRejected) and ev.code == "ORDER_ALREADY_FILLED"
    assert ev.still_open is False
    (ev,) = eng.cancel(0, venue_order_id="1234567890123456789")
    assert isinstance(ev, CancelRejected) and ev.code == "ORDER_NOT_FOUND"


def test_venue_order_ids_are_19_digit_increasing_snowflakes() -> None:
    start = 1_750_000_000_000 * 1_000_000  # 2025
    eng = MatchingEngine(default_instruments(), start_ts=start)
    ids = []
    for i in range(5):
        (ack,) = eng.submit(order(f"s{i}", OrderSide.BUY, "0.01", price="50000.0"), start)
        assert isinstance(ack, OrderAccepted)
        ids.append(int(ack.venue_order_id))
    assert all(len(str(v)) == 19 for v in ids) and ids == sorted(set(ids))
    assert (ids[0] >> 22) + 1288834974657 == 1_750_000_000_000


def test_determinism_same_seed_same_events_other_seed_differs() -> None:
    def run(seed: int) -> list[object]:
        eng = MatchingEngine(default_instruments(), seed=seed, market=MarketConfig(level_qty={}))
        out: list[object] = []
        q = eng.quote(BTC)
        out += eng.submit(order("a", OrderSide.BUY, "0.05", price=str(q.bid - 20)), 0)
        out += eng.submit(order("b", OrderSide.SELL, "0.02"), S)
        for t in range(2, 120):
            out += eng.advance(t * S)
        out.append(eng.quote(BTC))
        return out

    assert run(3) == run(3)
    assert run(3) != run(4)


def test_leverage_and_quote_errors() -> None:
    eng = replay_engine()
    eng.set_leverage(BTC, Side.LONG, 20)
    assert eng.leverage(BTC, Side.LONG) == 20 and eng.leverage(BTC, Side.SHORT) == 5
    with pytest.raises(LeverageError):
        eng.set_leverage(BTC, Side.LONG, 500)
    with pytest.raises(UnknownInstrumentError):
        eng.quote("NOPE-USDT")


@pytest.mark.parametrize(
    ("kw", "named"),
    [
        ({"maker": D("NaN")}, "maker fee rate must be a finite number >= 0, got NaN"),
        ({"taker": D("Infinity")}, "taker fee rate must be a finite number >= 0, got Infinity"),
        ({"maker": D("-0.0001")}, "maker fee rate must be a finite number >= 0, got -0.0001"),
    ],
)
def test_a_fee_rate_that_cannot_be_charged_is_refused_naming_it(kw: dict[str, Decimal], named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        FeeSchedule(**kw)  # type: ignore[arg-type]


def test_a_long_run_forgets_ended_orders_and_old_fills_but_never_a_live_order() -> None:
    """Every order and fill was kept for ever: a long paper run grew by megabytes an hour, and
    each slow reconcile scanned every order ever placed. History older than ``history_s`` goes,
    as at a venue; a resting order, however old, stays."""
    eng = MatchingEngine(default_instruments(), history_s=600)
    rest = eng.submit(order("rest-1", OrderSide.BUY, "0.01", price="1000.0"), 0)  # far under the market
    assert [type(e) for e in rest] == [OrderAccepted]
    now = 0
    for n in range(200):  # a round trip every 30 s, for 100 minutes
        now = n * 30 * S
        eng.advance(now)
        assert fills(eng.submit(order(f"b{n}", OrderSide.BUY, "0.001"), now))
        assert fills(eng.submit(order(f"s{n}", OrderSide.SELL, "0.001", pos=Side.LONG, reduce_only=True), now))
    window = 600 * S
    assert len(eng.orders_since(0)) <= 2 * (window + window // 48) // (30 * S) + 3
    assert len(eng.fills_since(0)) <= 2 * (window + window // 48) // (30 * S) + 2
    assert eng.order(client_order_id="rest-1") is not None  # live: kept
    assert eng.order(client_order_id="b199") is not None  # recent: kept
    assert eng.order(client_order_id="b0") is None  # ended long ago: forgotten
    assert [f.client_order_id for f in eng.fills_since(now - 60 * S)][-2:] == ["b199", "s199"]


def crash_engine(tmp_path: Path, prices: list[str], *, balance: str = "10000", **kw: object) -> MatchingEngine:
    """BTC replayed from ``prices``, one a second from t=0; no random walk."""
    csv = tmp_path / "crash.csv"
    csv.write_text("ts_ms,price\n" + "".join(f"{n * 1000},{p}\n" for n, p in enumerate(prices)))
    market = MarketConfig(replay={BTC: str(csv)}, level_qty={BTC: D("1")}, volatility_per_s=D(0))
    return MatchingEngine(default_instruments(), market=market, initial_balance=D(balance), **kw)  # type: ignore[arg-type]


def test_a_losing_leveraged_position_is_liquidated_at_the_mark_by_an_order_of_the_venues_own(tmp_path: Path) -> None:
    """The margin ignored unrealized PnL: a 20x long held through a 10 % fall was never
    liquidated and its close took more than its margin from the wallet. Under maintenance it is
    closed by the venue at the mark, with no client id, a liquidation fee, and the reports agree."""
    rules = LiquidationRules(fee_rate=D("0.001"))
    eng = crash_engine(tmp_path, ["60000", "59000", "58000", "57500", "57200", "56000", "54000"], liquidation=rules)
    eng.set_leverage(BTC, Side.LONG, 20)
    (entry,) = fills(eng.submit(order("a", OrderSide.BUY, "0.1"), 0))
    margin = entry.last_qty * entry.last_price / 20
    eng.submit(order("tp", OrderSide.SELL, "0.1", price="65000.0", pos=Side.LONG, reduce_only=True), 0)
    assert eng.liquidation_price(BTC, Side.LONG) == D("57286.5")  # liquidated under 57286.5276...
    assert eng.liquidation_price(BTC, Side.SHORT) is None  # no short held
    assert fills(eng.advance(3 * S)) == [] and eng.positions()  # 57500: above its maintenance
    events = eng.advance(6 * S)
    (liq,) = fills(events)
    assert liq.ts == 4 * S and liq.client_order_id == "" and liq.venue_order_id  # the venue's own order
    assert (liq.side, liq.position_side, liq.last_qty) == (OrderSide.SELL, Side.LONG, D("0.1"))
    assert liq.last_price == D("57200.0")  # the mark then, above the bankruptcy price (57000.095)
    (canceled,) = [e for e in events if isinstance(e, OrderCanceled)]
    assert canceled.client_order_id == "tp"  # the position's resting close went first
    assert eng.open_orders() == [] and eng.positions() == []
    pnl = (liq.last_price - entry.last_price) * D("0.1")
    assert liq.commission == liq.last_qty * liq.last_price * D("0.001")  # the liquidation fee
    assert eng.balance().balance == D("10000") - entry.commission + pnl - liq.commission
    assert eng.balance().available == eng.balance().balance.quantize(D("1e-8"))
    assert -pnl + liq.commission <= margin  # never more than the position's margin
    (listed,) = [f for f in eng.fills_since(0) if not f.client_order_id]
    assert (listed.fill_id, listed.realized_pnl) == (liq.fill_id, pnl)
    assert eng.order(venue_order_id=liq.venue_order_id).status is OrderStatus.FILLED  # type: ignore[union-attr]
    assert fills(eng.advance(6 * S)) == []  # the take-profit is gone, never to close a position that is not there


def test_a_price_gap_through_the_bankruptcy_price_costs_the_trader_only_the_positions_margin(tmp_path: Path) -> None:
    """A gap from 60000 to 40000 in one update: the close at the mark would take 2000 from a
    wallet of 320, which went negative. The venue takes it over at the bankruptcy price (on the
    tick) and its fee takes what margin is left: the wallet keeps what was not margin."""
    eng = crash_engine(tmp_path, ["60000", "40000", "80000"], balance="320")
    eng.set_leverage(BTC, Side.SHORT, 20)
    eng.set_leverage(BTC, Side.LONG, 20)
    (entry,) = fills(eng.submit(order("a", OrderSide.BUY, "0.1"), 0))
    margin = entry.last_qty * entry.last_price / 20
    (liq,) = fills(eng.advance(S))
    bankrupt = entry.last_price - margin / D("0.1")
    assert liq.last_price == bankrupt.quantize(D("0.1"), rounding="ROUND_CEILING")
    assert liq.commission == margin + (liq.last_price - entry.last_price) * D("0.1")  # what was left of it
    assert eng.balance().balance == D("320") - entry.commission - margin  # the margin, no more
    assert eng.positions() == []
    # and a short through a gap up
    (short,) = fills(eng.submit(order("s", OrderSide.SELL, "0.003"), S))
    (liq,) = fills(eng.advance(2 * S))
    assert liq.side is OrderSide.BUY and liq.position_side is Side.SHORT and liq.last_qty == D("0.003")
    assert liq.last_price <= short.last_price * (1 + D(1) / 20)
    assert eng.balance().balance >= 0


def test_a_position_above_its_maintenance_margin_is_left_alone(tmp_path: Path) -> None:
    """5x (the default) through a 10 % fall: losing, but far from liquidation."""
    eng = crash_engine(tmp_path, ["60000", "57000", "54000"])
    fills(eng.submit(order("a", OrderSide.BUY, "0.1"), 0))
    assert fills(eng.advance(2 * S)) == [] and eng.positions()[0].quantity == D("0.1")


def test_funding_comes_out_of_the_isolated_margin_and_can_liquidate_the_position() -> None:
    """Funding was taken from the wallet, never from the position's own margin: a 20x long paying
    funding for days kept its liquidation price and was never liquidated, however much it paid. On
    isolated margin each payment comes out of the position's margin (the available balance is
    untouched), its liquidation price moves, and the settlement that puts it under its
    maintenance margin liquidates it, for no more than its margin."""
    eth = "ETH-USDT"
    market = MarketConfig(volatility_per_s=D(0), funding_rate=D("0.01"), step_ns=60 * S)
    eng = MatchingEngine(default_instruments(), market=market, funding_interval_s=3600)
    eng.set_leverage(eth, Side.LONG, 20)
    (entry,) = fills(eng.submit(order("a", OrderSide.BUY, "1", symbol=eth), 10 * S))
    margin = entry.last_price / 20
    before = eng.liquidation_price(eth, Side.LONG)
    available = eng.balance().available
    paid = eng.advance(3600 * S)
    assert [e.amount for e in paid] == [D("-30.00000000")]  # 1 x 3000 x 1 %
    assert eng.balance().available == available  # out of the position's margin, not the balance
    moved = eng.liquidation_price(eth, Side.LONG)
    assert before is not None and moved is not None and moved > before
    assert eng.positions() and fills(eng.advance(4 * 3600 * S - S)) == []  # 30 of margin left: above 15
    events = eng.advance(5 * 3600 * S)
    (liq,) = fills(events)
    assert liq.ts == 5 * 3600 * S and liq.client_order_id == "" and liq.position_side is Side.LONG
    assert eng.positions() == []
    funding = sum((e.amount for e in eng.funding_since(0)), D(0))
    assert funding == D(-150)
    pnl = (liq.last_price - entry.last_price) * 1
    assert eng.balance().balance == D(10000) - entry.commission + funding + pnl - liq.commission
    assert -funding - pnl + liq.commission == margin  # the trader lost the margin, no more


@pytest.mark.parametrize(
    ("kw", "named"),
    [
        ({"maintenance_rate": D("-0.01")}, "maintenance_rate must be a finite number >= 0 and < 1, got -0.01"),
        ({"fee_rate": D("NaN")}, "fee_rate must be a finite number >= 0 and < 1, got NaN"),
        ({"maintenance_rates": {BTC: D("0.01")}}, "maintenance rate of BTC-USDT.*1/125"),
        ({"maintenance_rates": {"NOPE-USDT": D("0.001")}}, "maintenance rate of NOPE-USDT: not an instrument"),
    ],
)
def test_liquidation_rules_that_cannot_hold_are_refused_naming_them(kw: dict[str, object], named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        MatchingEngine(default_instruments(), liquidation=LiquidationRules(**kw))  # type: ignore[arg-type]


def test_e15_a_leverage_raise_that_would_liquidate_the_open_position_at_once_is_refused(tmp_path: Path) -> None:
    """A 5x long losing 4 %: raising it to 25x left a margin of 4 % of the entry, under the
    maintenance margin at the mark, and the next price update liquidated it. A venue refuses
    such a change: so does the simulator, naming why, and the position and its margin stay."""
    eng = crash_engine(tmp_path, ["60000", "57600", "57600", "57600"])
    (entry,) = fills(eng.submit(order("a", OrderSide.BUY, "0.1"), 0))
    eng.advance(S)
    before = (eng.positions(), eng.balance(), eng.liquidation_price(BTC, Side.LONG))
    with pytest.raises(LeverageError, match=r"LEVERAGE_WOULD_LIQUIDATE.*25x.*BTC-USDT LONG") as err:
        eng.set_leverage(BTC, Side.LONG, 25)
    assert err.value.code == "LEVERAGE_WOULD_LIQUIDATE"
    assert eng.leverage(BTC, Side.LONG) == 5
    assert (eng.positions(), eng.balance(), eng.liquidation_price(BTC, Side.LONG)) == before
    assert fills(eng.advance(3 * S)) == [] and eng.positions()[0].quantity == entry.last_qty  # not liquidated
    eng.set_leverage(BTC, Side.LONG, 10)  # a raise the position can hold is taken
    assert eng.leverage(BTC, Side.LONG) == 10
    eng.set_leverage(BTC, Side.SHORT, 100)  # no short held: any leverage in range
    assert eng.leverage(BTC, Side.SHORT) == 100


def test_e15_a_leverage_cut_whose_added_margin_is_not_available_is_refused(tmp_path: Path) -> None:
    """Cutting the leverage of an open position takes more margin from the available balance:
    with too little of it, the change drove ``available`` negative. It is refused instead."""
    eng = crash_engine(tmp_path, ["60000", "60000"], balance="1300")
    fills(eng.submit(order("a", OrderSide.BUY, "0.1"), 0))  # 6000 of notional at 5x: 1200 of margin
    before = eng.balance()
    with pytest.raises(LeverageError, match="INSUFFICIENT_MARGIN") as err:
        eng.set_leverage(BTC, Side.LONG, 4)  # 1500 of margin: 300 more, about 97 available
    assert err.value.code == "INSUFFICIENT_MARGIN"
    assert eng.leverage(BTC, Side.LONG) == 5 and eng.balance() == before
    eng.set_leverage(BTC, Side.LONG, 6)  # a raise frees margin
    assert eng.balance().available > before.available


def test_e15_a_leverage_cut_under_a_resting_entry_needs_its_added_margin_and_moves_the_orders_margin() -> None:
    """A resting entry kept the margin of the leverage it was placed at: cut from 20x to 1x (no
    position held, so nothing was checked), its fill opened 17970 of position on a wallet of 1000
    and ``available`` went to -16973, never liquidated. A venue counts a leverage change against
    the open orders too: the cut is refused when their added margin is not available, and a
    change it allows moves their margin with it."""
    eng = MatchingEngine(default_instruments(), initial_balance=D(1000), market=MarketConfig(volatility_per_s=D(0)))
    eng.set_leverage(BTC, Side.LONG, 20)
    eng.submit(order("a", OrderSide.BUY, "0.3", price="59900.0"), 0)  # 17970 at 20x: 898.5 of margin
    before = eng.balance()
    with pytest.raises(LeverageError, match=r"1x needs 17071\.5\d* more margin for 1 resting opening order of "
                                            r"BTC-USDT LONG; 97\.\d+ is available") as err:
        eng.set_leverage(BTC, Side.LONG, 1)
    assert err.value.code == "INSUFFICIENT_MARGIN"
    assert eng.leverage(BTC, Side.LONG) == 20 and eng.balance() == before
    eng.set_leverage(BTC, Side.LONG, 19)  # 47.29 more: available
    assert eng.used_margin() == D(17970) / 19 + D(17970) * eng.fees.maker  # the order's margin moved with it
    eng.force_fill(S, client_order_id="a")
    assert eng.positions()[0].quantity == D("0.3") and eng.balance().available >= 0


@pytest.mark.parametrize("price", [None, "60000.1", "59000.0"])  # a MARKET, a marketable LIMIT, a resting one
def test_an_opening_order_must_leave_its_fee_and_slippage_covered_never_a_negative_available(price: str | None) -> None:
    """An entry sized to the whole available balance (times the leverage) at the best price was
    taken, and its fee and the book it walked drove ``available`` below 0: paper took an order
    a venue refuses (it wants the margin and the fee). The margin check counts both; a resting
    order keeps its maker fee set aside until it fills."""
    eng = MatchingEngine(default_instruments(), initial_balance=D("1000"), market=MarketConfig(volatility_per_s=D(0)))
    ref = D(price or "60000.1")
    all_in = (1000 * 5 / ref).quantize(D("0.0001"), rounding="ROUND_FLOOR")  # 0.0833: 4998 of notional
    (rejected,) = eng.submit(order("all-in", OrderSide.BUY, str(all_in), price=price), 0)[-1:]
    assert isinstance(rejected, OrderRejected) and rejected.code == "INSUFFICIENT_MARGIN"
    assert eng.balance().available == D("1000")
    events = eng.submit(order("fits", OrderSide.BUY, "0.0825", price=price), 0)
    assert [type(e) for e in events][:1] == [OrderAccepted] and not isinstance(events[-1], OrderRejected)
    assert eng.balance().available >= 0
    eng.force_fill(S, client_order_id="fits")  # the resting one fills (as maker) too
    assert eng.balance().available >= 0 and eng.positions()[0].quantity == D("0.0825")

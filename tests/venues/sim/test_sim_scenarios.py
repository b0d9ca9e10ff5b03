"""The simulator's numbers against exchange behaviour computed by hand (BingX USDT-M rules:
maker 0.02 %, taker 0.05 %, isolated margin, hedge mode)."""

from __future__ import annotations

from pathlib import Path

from pink.kernel.messages import (
    OrderAccepted,
    OrderCanceled,
    OrderExpired,
    OrderRejected,
    OrderSide,
    OrderStatus,
    Side,
    TimeInForce,
)
from pink.venues.sim import LiquidationRules, MarketConfig, MatchingEngine, default_instruments
from tests.venues.sim.test_sim_engine import BTC, D, S, fills, order
from tests.venues.sim.test_sim_engine import replay_engine as engine

MAKER, TAKER = D("0.0002"), D("0.0005")


def test_a_market_order_larger_than_the_top_level_pays_the_vwap_and_a_taker_fee_on_each_level() -> None:
    eng = engine()
    got = fills(eng.submit(order("m", OrderSide.BUY, "0.025", pos=Side.LONG), 0))
    levels = [(D("0.01"), D("60000.1")), (D("0.01"), D("60000.2")), (D("0.005"), D("60000.3"))]
    assert [(f.last_qty, f.last_price) for f in got] == levels
    notional = D("600.001") + D("600.002") + D("300.0015")
    assert [f.commission for f in got] == [D("0.30000050"), D("0.30000100"), D("0.15000075")]  # q x p x 0.05 %
    o = eng.order(client_order_id="m")
    assert o is not None and o.avg_price == (notional / D("0.025")).quantize(D("1e-8")) == D("60000.18")
    assert o.commission == notional * TAKER
    (pos,) = eng.positions()
    assert (pos.quantity, pos.entry_price) == (D("0.025"), D("60000.18"))
    bal = eng.balance()
    assert bal.balance == 10000 - notional * TAKER
    assert bal.available == bal.balance - notional / 5  # isolated: the margin at 5x, nothing else


def test_a_resting_limit_partly_filled_then_canceled_pays_the_maker_fee_and_frees_the_rest() -> None:
    eng = engine()
    eng.submit(order("l", OrderSide.BUY, "0.06", price="59985.0", pos=Side.LONG), 0)
    held = D("0.06") * D("59985.0")
    assert eng.balance().available == 10000 - held / 5 - held * MAKER  # margin and maker fee set aside
    (f,) = fills(eng.advance(3 * S))  # ask 59984.1: 5 levels x 0.01 x 0.5 cross it
    assert (f.last_qty, f.last_price, f.commission) == (D("0.025"), D("59985.0"), D("0.025") * D("59985.0") * MAKER)
    (canceled,) = eng.cancel(3 * S, client_order_id="l")
    assert isinstance(canceled, OrderCanceled) and canceled.cum_qty == D("0.025")
    o = eng.order(client_order_id="l")
    assert o is not None and o.status is OrderStatus.CANCELED and o.commission == f.commission
    bal = eng.balance()
    assert bal.balance == 10000 - f.commission
    assert bal.available == bal.balance - D("0.025") * D("59985.0") / 5  # the 0.035 left holds nothing
    assert eng.open_orders() == [] and fills(eng.advance(6 * S)) == []


def test_a_post_only_that_would_cross_is_rejected_never_filled() -> None:
    eng = engine()
    post_only = order("p", OrderSide.SELL, "0.01", price="60000.0", tif=TimeInForce.POST_ONLY, pos=Side.SHORT)
    (rejected,) = eng.submit(post_only, 0)
    assert isinstance(rejected, OrderRejected) and rejected.code == "POST_ONLY_WOULD_TAKE"
    assert eng.fills_since(0) == [] and eng.positions() == [] and eng.balance().available == 10000


def test_an_ioc_partly_filled_takes_up_to_its_limit_and_expires_the_rest_holding_nothing() -> None:
    eng = engine()
    events = eng.submit(order("i", OrderSide.SELL, "0.04", price="59999.8", tif=TimeInForce.IOC, pos=Side.SHORT), 0)
    assert isinstance(events[0], OrderAccepted)
    got = fills(events)
    assert [(f.last_qty, f.last_price) for f in got] == [
        (D("0.01"), D("60000.0")), (D("0.01"), D("59999.9")), (D("0.01"), D("59999.8"))]  # fmt: skip
    expired = events[-1]
    assert isinstance(expired, OrderExpired) and expired.cum_qty == D("0.03")
    notional = D("600.000") + D("599.999") + D("599.998")
    assert sum(f.commission for f in got) == notional * TAKER
    bal = eng.balance()
    assert bal.available == bal.balance - notional / 5 and eng.open_orders() == []


def test_a_close_larger_than_the_free_position_is_refused_and_changes_nothing() -> None:
    eng = engine()
    eng.submit(order("in", OrderSide.BUY, "0.02", pos=Side.LONG), 0)
    eng.submit(order("tp", OrderSide.SELL, "0.015", price="60100.0", pos=Side.LONG), 0)  # resting: 0.005 left free
    before = (eng.positions(), eng.balance(), eng.open_orders())
    (ev,) = eng.submit(order("big", OrderSide.SELL, "0.01", pos=Side.LONG), 0)
    assert isinstance(ev, OrderRejected) and ev.code == "REDUCE_ONLY_EXCEEDS_POSITION"
    assert (eng.positions(), eng.balance(), eng.open_orders()) == before
    assert fills(eng.submit(order("rest", OrderSide.SELL, "0.005", pos=Side.LONG), 0))[-1].cum_qty == D("0.005")


def test_a_short_liquidated_at_the_mark_keeps_the_wallet_less_its_margin_and_the_fee(tmp_path: Path) -> None:
    """20x short of 0.1 at 60000.0: margin 300, maintenance 0.5 % of the notional at the mark.
    Liquidated above 6000 x 21 / (20 x 0.1 x 1.005) = 62686.57: at 62500 it stays, at 62800 the
    venue buys it back at the mark, its fee 0.1 % of 6280."""
    csv = tmp_path / "squeeze.csv"
    csv.write_text("ts_ms,price\n0,60000\n1000,62500\n2000,62800\n")
    market = MarketConfig(replay={BTC: str(csv)}, level_qty={BTC: D("1")}, volatility_per_s=D(0))
    eng = MatchingEngine(default_instruments(), market=market, liquidation=LiquidationRules(fee_rate=D("0.001")))
    eng.set_leverage(BTC, Side.SHORT, 20)
    (entry,) = fills(eng.submit(order("s", OrderSide.SELL, "0.1", pos=Side.SHORT), 0))
    assert (entry.last_price, entry.commission) == (D("60000.0"), D("3.0"))
    assert eng.liquidation_price(BTC, Side.SHORT) == D("62686.6")
    assert fills(eng.advance(S)) == [] and eng.positions()
    (liq,) = fills(eng.advance(2 * S))
    assert (liq.side, liq.position_side, liq.last_qty, liq.last_price) == (OrderSide.BUY, Side.SHORT, D("0.1"),
                                                                           D("62800.0"))  # fmt: skip
    assert liq.client_order_id == "" and liq.commission == D("6.28")
    assert eng.positions() == []
    assert eng.balance().balance == 10000 - D("3") - D("280") - D("6.28")


def test_funding_at_the_interval_is_rate_times_the_notional_at_the_mark_then_paid_long_received_short(
    tmp_path: Path,
) -> None:
    """0.01 % each hour on 0.1 long and 0.04 short of BTC opened at 60000: the price is 61000 at
    the settlement, so the long pays 0.1 x 61000 x 0.0001 = 0.61 and the short receives 0.244
    (of the notional at the mark then, not at the entry)."""
    csv = tmp_path / "up.csv"
    csv.write_text("ts_ms,price\n0,60000\n1800000,61000\n")
    market = MarketConfig(replay={BTC: str(csv)}, level_qty={BTC: D("1")}, volatility_per_s=D(0),
                          funding_rate=D("0.0001"))  # fmt: skip
    eng = MatchingEngine(default_instruments(), market=market, funding_interval_s=3600)
    eng.submit(order("l", OrderSide.BUY, "0.1", pos=Side.LONG), 0)
    eng.submit(order("s", OrderSide.SELL, "0.04", pos=Side.SHORT), 0)
    before = eng.balance()
    assert eng.advance(3599 * S) == []
    paid = eng.advance(3600 * S)
    assert [(p.funding_id, p.amount, p.ts) for p in paid] == [
        ("BTC-USDT-LONG-3600000000000", D("-0.61"), 3600 * S),
        ("BTC-USDT-SHORT-3600000000000", D("0.244"), 3600 * S),
    ]
    after = eng.balance()
    assert after.balance == before.balance - D("0.61") + D("0.244")
    assert after.available == before.available  # isolated: out of and into the positions' own margin

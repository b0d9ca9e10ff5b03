"""Price processes, replay, candles, quotes and funding."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest

from pink.errors import ConfigError
from pink.kernel.messages import OrderSide, OrderType, Side, TimeInForce
from pink.venues.sim import MarketConfig, MatchingEngine, NewOrder, default_instruments
from pink.venues.sim.prices import load_price_csv

S = 1_000_000_000
D = Decimal
FIXTURES = Path(__file__).parents[2] / "fixtures" / "sim"
BTC = "BTC-USDT"


def market(coid: str, symbol: str, side: OrderSide, pos: Side, qty: str) -> NewOrder:
    return NewOrder(coid, symbol, side, pos, D(qty), OrderType.MARKET, None, TimeInForce.GTC, False)


def test_random_walk_prices_are_on_the_tick_and_move() -> None:
    eng = MatchingEngine(default_instruments(), seed=5)
    insts = default_instruments()
    seen = set()
    for t in range(1, 200):
        eng.advance(t * S)
        for sym, inst in insts.items():
            q = eng.quote(sym)
            for px in (q.bid, q.ask, q.last, q.mark):
                assert px > 0 and px % inst.tick == 0
            assert q.ask - q.bid == inst.tick
            seen.add((sym, q.bid))
    assert len(seen) > 100  # it moved


def test_candle_csv_replays_open_extremes_close_and_builds_candles() -> None:
    points = load_price_csv(FIXTURES / "btc_candles.csv")
    assert len(points) == 12
    # a down candle visits the high first, an up candle the low first
    assert [p for _, p, _ in points[8:12]] == [D(60080), D(60090), D(59900), D(59910)]
    eng = MatchingEngine(
        {"BTC-USDT": default_instruments()["BTC-USDT"]},
        market=MarketConfig(replay={"BTC-USDT": str(FIXTURES / "btc_candles.csv")}),
    )
    eng.advance(200 * S)
    bars = eng.candles("BTC-USDT", 60, 10)
    assert [(b.ts, b.open, b.high, b.low, b.close) for b in bars] == [
        (0, D(60000), D(60050), D(59950), D(60020)),
        (60 * S, D(60020), D(60100), D(60000), D(60080)),
        (120 * S, D(60080), D(60090), D(59900), D(59910)),
    ]
    assert sum(b.volume for b in bars) == D(24)
    assert len(eng.candles("BTC-USDT", 60, 2)) == 2


def test_csv_errors_name_the_row(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("ts_ms,price\n0,100\n1000,abc\n")
    with pytest.raises(ConfigError, match="not a number"):
        load_price_csv(bad)
    bad.write_text("0,1,2,3\n")
    with pytest.raises(ConfigError, match="columns"):
        load_price_csv(bad)


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("# prices\nts_ms,price\n\n0,100\n1000,abc\n", r"bad\.csv:5: price: not a number: 'abc'"),
        ("ts_ms,price\n0,100\n1000x,101\n", r"bad\.csv:3: timestamp \(ms\): not a number: '1000x'"),
        ("0,100\n1000,0\n", r"bad\.csv:2: price: must be > 0, got '0'"),
        ("0,100\n\n1000,-5\n", r"bad\.csv:3: price: must be > 0, got '-5'"),
        ("0,100,-1\n", r"bad\.csv:1: qty: must be >= 0, got '-1'"),
        ("0,100\n60000,100,101,99,100\n", r"bad\.csv:2: a candle row in a file of trades \(line 1\)"),
        ("0,100,90,110,100\n", r"bad\.csv:1: candle high 90 is below its low 110"),
        ("0,120,110,90,100\n", r"bad\.csv:1: candle open 120 is outside its low 90 and high 110"),
        ("0,100,110,90,100\nts_ms,open,high,low,close\n", r"bad\.csv:2: timestamp \(ms\): not a number: 'ts_ms'"),
        ("ts_ms,price\n\n", r"bad\.csv: no rows of trades or candles"),
    ],
)
def test_csv_errors_name_the_file_line_and_the_field(tmp_path: Path, text: str, named: str) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(text)
    with pytest.raises(ConfigError, match=named):
        load_price_csv(bad)


def test_csv_timestamps_may_be_decimal_ms_and_candles_come_in_any_order(tmp_path: Path) -> None:
    trades = tmp_path / "trades.csv"
    trades.write_text("1700000000000.0,100\n1700000001000.5,101\n")  # as a spreadsheet writes them
    assert load_price_csv(trades) == [
        (1_700_000_000_000 * 1_000_000, D(100), D(0)),
        (1_700_000_001_000_500_000, D(101), D(0)),
    ]
    newest_first = tmp_path / "candles.csv"
    lines = (FIXTURES / "btc_candles.csv").read_text().splitlines()
    newest_first.write_text("\n".join([lines[0], *reversed(lines[1:])]) + "\n")
    assert load_price_csv(newest_first) == load_price_csv(FIXTURES / "btc_candles.csv")


def test_a_csv_saved_with_a_byte_order_mark_keeps_its_first_row(tmp_path: Path) -> None:
    """A spreadsheet's "CSV UTF-8" starts with a byte order mark: with no header row, the first
    row's time did not read as a number, so the row was skipped as a header, silently."""
    for header in ("", "ts_ms,price\n"):
        path = tmp_path / "bom.csv"
        path.write_bytes(("\ufeff" + header + "1704067200000,42000\n1704067260000,42100\n").encode())
        assert [p for _, p, _ in load_price_csv(path)] == [D(42000), D(42100)], header


def test_a_replay_that_ended_before_the_simulator_starts_is_refused() -> None:
    """Else every row is applied at once and the market sits still at the last price."""
    market = MarketConfig(replay={BTC: str(FIXTURES / "btc_down_trades.csv")})
    MatchingEngine(default_instruments(), market=market, start_ts=5 * S)  # starts inside the replay: fine
    with pytest.raises(ConfigError, match=r"btc_down_trades\.csv: the replay of BTC-USDT ends at 7000 ms, before"):
        MatchingEngine(default_instruments(), market=market, start_ts=1_700_000_000 * S)


def test_a_replay_that_runs_out_says_so_once_and_its_market_has_ended(caplog: pytest.LogCaptureFixture) -> None:
    """Past its last row a replay's price froze with nothing said: a run with no cycle limit traded
    on a flat market for ever. The engine warns once, naming the symbol, the file and its last
    time, and tells that its market has ended (a random walk never ends)."""
    import logging

    path = str(FIXTURES / "btc_down_trades.csv")
    eng = MatchingEngine(default_instruments(), market=MarketConfig(replay={BTC: path}))
    with caplog.at_level(logging.WARNING, logger="pink.venues.sim"):
        eng.advance(6 * S)
        assert eng.market_ended == "" and caplog.records == []
        eng.advance(7 * S)
        eng.advance(3600 * S)
    (warned,) = caplog.records
    assert eng.market_ended == f"the replay of BTC-USDT ({path}) ran out: its last row is at 1970-01-01T00:00:07Z"
    assert warned.getMessage() == f"{eng.market_ended}; its price stays at 60010.0 from here"
    walk = MatchingEngine(default_instruments())
    walk.advance(3600 * S)
    assert walk.market_ended == ""


@pytest.mark.parametrize(
    ("kw", "named"),
    [
        ({"volatility_per_s": D(-1)}, "volatility_per_s must be a finite number >= 0, got -1"),
        ({"volatility_per_s": D("NaN")}, "volatility_per_s must be a finite number >= 0, got NaN"),
        ({"level_qty": {BTC: D(0)}}, "level_qty of BTC-USDT must be a finite number > 0, got 0"),
        ({"level_qty": {BTC: D(-1)}}, "level_qty of BTC-USDT must be a finite number > 0, got -1"),
        ({"level_notional": D(0)}, "level_notional must be a finite number > 0, got 0"),
        ({"start_prices": {BTC: D(-100)}}, "start_prices of BTC-USDT must be a finite number > 0, got -100"),
        ({"default_start_price": D(0)}, "default_start_price must be a finite number > 0, got 0"),
        ({"max_funding_rate": D("-0.01")}, "max_funding_rate must be a finite number >= 0, got -0.01"),
        ({"base_funding_rate": D("Infinity")}, "base_funding_rate must be a finite number, got Infinity"),
        ({"funding_rate": D("NaN")}, "funding_rate must be a finite number, got NaN"),
    ],
)
def test_a_market_that_cannot_trade_is_refused_naming_the_setting(kw: dict[str, object], named: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(named)):
        MarketConfig(**kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("level_qty", "named"),
    [
        ({BTC: D("0.00015")}, "level_qty of BTC-USDT: 0.00015 is not a multiple of its step 0.0001"),
        ({"BTCUSDT": D("0.01")}, "level_qty of BTCUSDT: not an instrument of the simulator"),
    ],
)
def test_a_book_level_off_the_step_or_of_no_instrument_is_refused_naming_it(
    level_qty: dict[str, Decimal], named: str
) -> None:
    """Levels of 0.00015 BTC (step 0.0001): a MARKET of 0.001 took five of them and expired, and
    its 0.00075 could never be closed (QTY_NOT_ON_STEP): a position stuck. A level for a symbol
    not listed (a typo) was dropped without a word: the book the trader set up was not there."""
    with pytest.raises(ConfigError, match=re.escape(named)):
        MatchingEngine(default_instruments(), market=MarketConfig(level_qty=level_qty))


@pytest.mark.parametrize(("rate", "long_sign"), [("0.0001", -1), ("-0.0003", 1)])
def test_funding_charged_each_interval_with_the_right_sign(rate: str, long_sign: int) -> None:
    cfg = MarketConfig(volatility_per_s=D(0), funding_rate=D(rate), step_ns=60 * S)
    eng = MatchingEngine(default_instruments(), market=cfg, funding_interval_s=3600)
    eng.submit(market("l", "ETH-USDT", OrderSide.BUY, Side.LONG, "0.5"), 10 * S)
    eng.submit(market("s", "ETH-USDT", OrderSide.SELL, Side.SHORT, "0.2"), 10 * S)
    before = eng.balance().balance
    mark = eng.quote("ETH-USDT").mark
    assert eng.advance(3599 * S) == []
    evs = eng.advance(7200 * S)
    assert [e.ts for e in evs] == [3600 * S, 3600 * S, 7200 * S, 7200 * S]
    per_hour_long = D("0.5") * mark * D(rate)
    per_hour_short = D("0.2") * mark * D(rate)
    assert evs[0].amount == -per_hour_long and evs[0].amount * long_sign > 0
    assert evs[1].amount == per_hour_short and evs[1].amount * long_sign < 0
    assert len({e.funding_id for e in evs}) == 4
    assert eng.funding_since(7200 * S) == evs[2:]
    total = sum(e.amount for e in evs)
    assert eng.balance().balance == before + total
    assert [r for r in eng.funding_history if r[0] == "ETH-USDT"] == [
        ("ETH-USDT", D(rate), 3600 * S),
        ("ETH-USDT", D(rate), 7200 * S),
    ]


def test_a_zero_funding_rate_pays_nothing_and_books_no_payment() -> None:
    """A venue does not book a funding payment of 0 (the kernel refuses one as impossible)."""
    cfg = MarketConfig(volatility_per_s=D(0), funding_rate=D(0), step_ns=60 * S)
    eng = MatchingEngine(default_instruments(), market=cfg, funding_interval_s=3600)
    eng.submit(market("l", "ETH-USDT", OrderSide.BUY, Side.LONG, "0.5"), 10 * S)
    eng.submit(market("s", "ETH-USDT", OrderSide.SELL, Side.SHORT, "0.2"), 10 * S)
    before = eng.balance().balance
    assert eng.advance(7200 * S) == []
    assert eng.funding_since(0) == []
    assert eng.balance().balance == before
    assert ("ETH-USDT", D(0), 3600 * S) in eng.funding_history  # the rate is still published


def test_funding_rate_follows_the_price_process() -> None:
    eng = MatchingEngine(default_instruments(), seed=9, market=MarketConfig(volatility_per_s=D("0.001")))
    rates = set()
    for t in range(1, 50):
        eng.advance(t * 10 * S)
        q = eng.quote("BTC-USDT")
        assert abs(q.funding_rate) <= D("0.003")
        rates.add(q.funding_rate)
    assert len(rates) > 5

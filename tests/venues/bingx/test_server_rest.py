"""REST behaviour of the simulator server, compared with the recorded BingX payloads."""

from __future__ import annotations

import asyncio
import shutil
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from pink.kernel.messages import Side
from pink.venues.bingx.server_faults import ServerFaults
from tests.venues.bingx.conftest_server import fixture, running

ORDER = "/openApi/swap/v2/trade/order"


def _types(obj: dict[str, Any]) -> dict[str, type]:
    return {k: type(v) for k, v in obj.items()}


def _assert_shape(ours: dict[str, Any], recorded: dict[str, Any], *, skip: set[str] = set()) -> None:  # noqa: B006
    """Every recorded field is present with the same JSON type (ids int, decimals str)."""
    missing = set(recorded) - set(ours)
    assert not missing, f"missing fields {missing}"
    for key, value in recorded.items():
        if key in skip:
            continue
        assert isinstance(ours[key], type(value)) or (
            isinstance(value, int | float) and isinstance(ours[key], int | float)
        ), f"{key}: {type(ours[key]).__name__} vs recorded {type(value).__name__}"


async def test_auth_failures_answer_bingx_codes() -> None:
    async with running() as (_, client):
        client.secret = "wrong"
        status, body = await client.call("GET", "/openApi/swap/v3/user/balance")
        assert (status, body["code"]) == (200, 100001)
        assert "timestamp" in body and "data" not in body
        client.secret = "pink-sim-secret-key"
        status, body = await client.call("GET", "/openApi/swap/v3/user/balance", ts_offset_ms=-9000)
        assert body["code"] == 100421
        client.api_key = "nope"
        _, body = await client.call("GET", "/openApi/swap/v3/user/balance")
        assert body["code"] == 100413
        # public routes need no key at all
        status, body = await client.call("GET", "/openApi/swap/v2/server/time", signed=False)
        assert status == 200 and isinstance(body["data"]["serverTime"], int)


async def test_form_body_signature_accepted() -> None:
    async with running() as (server, client):
        query = client.query({"symbol": "BTC-USDT", "side": "BUY", "positionSide": "BOTH",
                              "type": "MARKET", "quantity": "0.001"})  # fmt: skip
        async with client.session.post(
            f"{server.base_url}{ORDER}", data=query,
            headers={"X-BX-APIKEY": client.api_key,
                     "Content-Type": "application/x-www-form-urlencoded"},
        ) as resp:  # fmt: skip
            body = await resp.json()
        assert body["code"] == 0 and body["data"]["order"]["status"] == "FILLED"


async def test_market_order_ack_query_and_shapes() -> None:
    async with running() as (_, client):
        status, ack = await client.place(type="MARKET", side="BUY", quantity="0.0100",
                                         clientOrderID="MyOrder-1")  # fmt: skip
        assert status == 200 and ack["code"] == 0
        order = ack["data"]["order"]
        recorded_ack = fixture("place_order.json")["ack_examples_over_time"][3]["response"]
        _assert_shape(order, recorded_ack["data"]["order"], skip={"orderId"})
        assert isinstance(order["orderId"], int) and len(str(order["orderId"])) == 19
        assert order["clientOrderId"] == "myorder-1"
        assert order["status"] == "FILLED" and Decimal(order["avgPrice"]) > 0

        _, got = await client.call("GET", ORDER, {"symbol": "BTC-USDT", "clientOrderId": "MYORDER-1"})
        recorded = fixture("query_order.json")["official"]["responseBody"]["data"]["order"]
        _assert_shape(got["data"]["order"], recorded, skip={"stopPrice"})
        q = got["data"]["order"]
        assert q["orderId"] == order["orderId"] and q["executedQty"] == "0.0100"
        assert Decimal(q["commission"]) < 0 and q["leverage"].endswith("X")

        _, by_id = await client.call("GET", ORDER, {"symbol": "BTC-USDT", "orderId": q["orderId"]})
        assert by_id["data"]["order"]["clientOrderId"] == "myorder-1"

        _, dup = await client.place(type="MARKET", side="BUY", quantity="0.01", clientOrderId="myorder-1")
        assert dup["code"] == 101481

        _, unknown = await client.call("GET", ORDER, {"symbol": "BTC-USDT", "orderId": 1234567890123456789})
        assert unknown["code"] == 80016 and "not exist" in unknown["msg"]


async def test_limit_rests_cancels_and_history() -> None:
    async with running() as (_, client):
        _, ack = await client.place(type="LIMIT", side="BUY", quantity="0.01", price="50000.04",
                                    clientOrderId="rest-1", timeInForce="GTC")  # fmt: skip
        order = ack["data"]["order"]
        assert order["status"] == "PENDING" and order["price"] == "50000"  # truncated to tick
        _, opened = await client.call("GET", "/openApi/swap/v2/trade/openOrders", {"symbol": "BTC-USDT"})
        rows = opened["data"]["orders"]
        assert [r["clientOrderId"] for r in rows] == ["rest-1"]
        recorded = fixture("open_orders.json")["official"]["responseBody"]["data"]["orders"][0]
        _assert_shape(rows[0], recorded, skip={"stopPrice", "takeProfit", "stopLoss",
                                               "trailingStopRate", "trailingStopDistance"})  # fmt: skip
        _, cancel = await client.call("DELETE", ORDER, {"symbol": "BTC-USDT", "clientOrderId": "rest-1"})
        assert cancel["data"]["order"]["status"] == "CANCELLED"
        rec_cancel = fixture("cancel_order.json")["official"]["responseBody"]["data"]["order"]
        _assert_shape(cancel["data"]["order"], rec_cancel, skip={"stopPrice"})
        _, again = await client.call("DELETE", ORDER, {"symbol": "BTC-USDT", "clientOrderId": "rest-1"})
        assert again["code"] == 109201  # same id within 1 s
        _, hist = await client.call("GET", "/openApi/swap/v2/trade/allOrders", {"symbol": "BTC-USDT"})
        assert [o["status"] for o in hist["data"]["orders"]] == ["CANCELLED"]


async def test_cancel_of_filled_order_answers_80018_and_cancel_race_fault() -> None:
    async with running() as (server, client):
        _, ack = await client.place(type="MARKET", side="BUY", quantity="0.01")
        oid = ack["data"]["order"]["orderId"]
        _, body = await client.call("DELETE", ORDER, {"symbol": "BTC-USDT", "orderId": oid})
        assert body["code"] == 80018 and "already filled" in body["msg"]
        server.faults.update("cancel_race=#1")
        _, ack = await client.place(type="LIMIT", side="BUY", quantity="0.01", price="50000")
        oid = ack["data"]["order"]["orderId"]
        _, body = await client.call("DELETE", ORDER, {"symbol": "BTC-USDT", "orderId": oid})
        assert body["code"] == 80018
        _, got = await client.call("GET", ORDER, {"symbol": "BTC-USDT", "orderId": oid})
        assert got["data"]["order"]["status"] == "FILLED"


async def test_position_mode_rules_and_account_shapes() -> None:
    async with running() as (server, client):
        _, bad = await client.place(type="MARKET", side="BUY", quantity="0.01", positionSide="LONG")
        assert bad["code"] == 109400 and "One-way" in bad["msg"]
        await client.place(type="MARKET", side="BUY", quantity="0.02")
        _, pos = await client.call("GET", "/openApi/swap/v2/user/positions", {"symbol": "BTC-USDT"})
        recorded = fixture("positions.json")["ccxt_code_comment_sample"]["response"]["data"][0]
        _assert_shape(pos["data"][0], recorded, skip={"liquidationPrice"})
        assert pos["data"][0]["positionAmt"] == "0.02" and pos["data"][0]["positionSide"] == "LONG"
        liquidation = server.state.engine.liquidation_price("BTC-USDT", Side.LONG)  # where the simulator liquidates
        assert liquidation is not None and pos["data"][0]["liquidationPrice"] == float(liquidation) > 0
        _, bal = await client.call("GET", "/openApi/swap/v3/user/balance")
        _assert_shape(bal["data"][0], fixture("balance.json")["ccxt_fixture_v3"]["response"]["data"][0])
        # one-way close: SELL BOTH reduces the long
        _, close = await client.place(type="MARKET", side="SELL", quantity="0.02", reduceOnly="true")
        assert close["code"] == 0
        _, pos = await client.call("GET", "/openApi/swap/v2/user/positions")
        assert pos["data"] == []
        _, mode = await client.call("GET", "/openApi/swap/v1/positionSide/dual")
        assert mode["data"] == {"dualSidePosition": "false"}
        _, mode = await client.call("POST", "/openApi/swap/v1/positionSide/dual", {"dualSidePosition": "true"})
        assert mode["data"] == {"dualSidePosition": "true"}
        _, ok = await client.place(type="MARKET", side="SELL", quantity="0.01", positionSide="SHORT")
        assert ok["code"] == 0 and ok["data"]["order"]["positionSide"] == "SHORT"
        _, lev = await client.call("POST", "/openApi/swap/v2/trade/leverage",
                                   {"symbol": "BTC-USDT", "side": "SHORT", "leverage": 8})  # fmt: skip
        assert lev["data"]["leverage"] == 8
        _, lev = await client.call("GET", "/openApi/swap/v2/trade/leverage", {"symbol": "BTC-USDT"})
        _assert_shape(lev["data"], fixture("leverage.json")["get"]["responseBody"]["data"])
        assert lev["data"]["shortLeverage"] == 8
        _, fees = await client.call("GET", "/openApi/swap/v2/user/commissionRate")
        assert fees["data"]["commission"] == {"takerCommissionRate": 0.0005, "makerCommissionRate": 0.0002}


async def test_fills_and_funding_income_after_advance() -> None:
    async with running() as (server, client):
        _, ack = await client.place(type="MARKET", side="BUY", quantity="0.01", clientOrderId="f1")
        _, fills = await client.call("GET", "/openApi/swap/v2/trade/allFillOrders",
                                     {"tradingUnit": "COIN", "startTs": 0, "endTs": 2**41})  # fmt: skip
        rows = fills["data"]["fill_orders"]
        recorded = fixture("fills.json")["official_allFillOrders"]["responseBody"]["data"]["fill_orders"][0]
        _assert_shape(rows[0], recorded)
        assert rows[0]["orderId"] == str(ack["data"]["order"]["orderId"])
        assert rows[0]["filledTime"].endswith("+0800") and Decimal(rows[0]["commission"]) < 0
        async with client.session.post(f"{server.base_url}/_sim/advance?seconds=28800") as resp:
            assert resp.status == 200
        _, income = await client.call("GET", "/openApi/swap/v2/user/income", {"incomeType": "FUNDING_FEE"})
        assert len(income["data"]) == 1
        row = income["data"][0]
        assert row["incomeType"] == "FUNDING_FEE" and isinstance(row["tranId"], str)
        assert row["info"] == "Funding Fee" and Decimal(row["income"]) != 0
        _, prem = await client.call("GET", "/openApi/swap/v2/quote/premiumIndex", {"symbol": "BTC-USDT"}, signed=False)
        assert set(prem["data"]) >= {"symbol", "markPrice", "indexPrice",
                                                      "lastFundingRate", "nextFundingTime"}  # fmt: skip
        assert prem["data"]["nextFundingTime"] % (8 * 3600 * 1000) == 0


async def test_public_market_shapes() -> None:
    async with running() as (_, client):
        _, contracts = await client.call("GET", "/openApi/swap/v2/quote/contracts", signed=False)
        recorded = fixture("contracts.json")["official"]["responseBody"]["data"][0]
        _assert_shape(contracts["data"][0], recorded)
        _, book = await client.call("GET", "/openApi/swap/v2/quote/bookTicker", {"symbol": "BTC-USDT"}, signed=False)
        bt = book["data"]["book_ticker"]
        assert isinstance(bt["bid_price"], int | float) and bt["bid_price"] < bt["ask_price"]
        _, depth = await client.call(
            "GET", "/openApi/swap/v2/quote/depth", {"symbol": "BTC-USDT", "limit": 5}, signed=False
        )
        asks = [Decimal(p) for p, _ in depth["data"]["asks"]]
        assert asks == sorted(asks, reverse=True)  # high -> low, best ask last
        _, kl = await client.call("GET", "/openApi/swap/v3/quote/klines",
                                  {"symbol": "BTC-USDT", "interval": "1m", "limit": 3}, signed=False)  # fmt: skip
        assert set(kl["data"][0]) == {"open", "close", "high", "low", "volume", "time"}


async def test_504_after_placed_leaves_order_queryable_and_counts() -> None:
    async with running(faults="order504=#1") as (server, client):
        status, body = await client.place(type="MARKET", side="BUY", quantity="0.01", clientOrderId="lost-ack")
        assert status == 504 and isinstance(body, str)
        _, got = await client.call("GET", ORDER, {"symbol": "BTC-USDT", "clientOrderId": "lost-ack"})
        assert got["code"] == 0 and got["data"]["order"]["status"] == "FILLED"
        assert server.request_counts[ORDER] == 2
        async with client.session.get(f"{server.base_url}/_sim/requests") as resp:
            counts = (await resp.json())["counts"]
        assert counts[ORDER] == 2


async def test_ack_variants_flat_and_without_avg_price() -> None:
    async with running(faults="ack_flat=#1,ack_no_avg=#1") as (_, client):
        _, body = await client.place(type="MARKET", side="BUY", quantity="0.01", clientOrderId="flat")
        data = body["data"]
        assert "order" not in data and data["orderID"] == data["orderId"]
        assert data["clientOrderID"] == data["clientOrderId"] == "flat"
        assert "avgPrice" not in data and "status" not in data
        _, body = await client.place(type="MARKET", side="BUY", quantity="0.01")
        assert body["data"]["order"]["avgPrice"] != ""


async def test_rate_limit_and_5xx_faults() -> None:
    async with running(rate_limits=True) as (_, client):
        statuses = []
        for _ in range(7):
            status, body = await client.call("GET", "/openApi/swap/v2/trade/openOrders")
            statuses.append((status, body["code"]))
        assert statuses[:5] == [(200, 0)] * 5 and statuses[-1] == (429, 100410)
    async with running(faults="http5xx=#1,slow_ms=150") as (_, client):
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        status, _ = await client.call("GET", "/openApi/swap/v2/server/time", signed=False)
        assert status == 500 and loop.time() - t0 >= 0.14
        status, _ = await client.call("GET", "/openApi/swap/v2/server/time", signed=False)
        assert status == 200


_KLINES = "/openApi/swap/v3/quote/klines"


async def test_a_bad_limit_or_interval_is_refused_with_an_error_reply() -> None:
    """A negative ``limit`` returned the whole candle history (and one level short of the whole
    book, or all but one funding row); a limit or a time that is not a number answered a bare
    HTTP 500. BingX refuses them: an error reply (109400) naming the field."""
    async with running() as (_, client):
        public = [
            (_KLINES, {"symbol": "BTC-USDT", "interval": "1m", "limit": -1}, "limit"),
            (_KLINES, {"symbol": "BTC-USDT", "interval": "1m", "limit": 0}, "limit"),
            (_KLINES, {"symbol": "BTC-USDT", "interval": "1m", "limit": "abc"}, "limit"),
            (_KLINES, {"symbol": "BTC-USDT", "interval": "0", "limit": 2}, "interval"),
            ("/openApi/swap/v2/quote/depth", {"symbol": "BTC-USDT", "limit": -1}, "limit"),
            ("/openApi/swap/v2/quote/depth", {"symbol": "BTC-USDT", "limit": "x"}, "limit"),
            ("/openApi/swap/v2/quote/fundingRate", {"symbol": "BTC-USDT", "limit": -1}, "limit"),
        ]
        for path, params, field in public:
            status, body = await client.call("GET", path, params, signed=False)
            assert (status, body["code"]) == (200, 109400), (path, params, body)
            assert field in body["msg"] and "data" not in body
        signed = [
            ("/openApi/swap/v2/user/income", {"limit": -5}, "limit"),
            ("/openApi/swap/v2/user/income", {"startTime": "soon"}, "startTime"),
            ("/openApi/swap/v1/trade/fullOrder", {"symbol": "BTC-USDT", "limit": "-2"}, "limit"),
            ("/openApi/swap/v1/trade/fullOrder", {"symbol": "BTC-USDT", "endTime": "x"}, "endTime"),
        ]
        for path, params, field in signed:
            status, body = await client.call("GET", path, params)
            assert (status, body["code"]) == (200, 109400), (path, params, body)
            assert field in body["msg"]
        _, kl = await client.call("GET", _KLINES, {"symbol": "BTC-USDT", "interval": "1m", "limit": 2}, signed=False)
        assert len(kl["data"]) <= 2


async def test_a_liquidation_is_listed_as_bingx_lists_it_and_positions_are_isolated() -> None:
    """BingX's own example of a liquidation lists its fill's fee as ``TRADING_FEE`` "Closing Fee"
    (tranId ``..._COMMISSION``) and its realized loss as ``INSURANCE_CLEAR`` "Strong liquidation"
    (``..._PNL``, the same trade) in place of ``REALIZED_PNL``. The server listed the loss as
    ``REALIZED_PNL`` and called every position cross margin, while its engine liquidates each
    position on a margin of its own."""
    async with running() as (server, client):
        await client.place(type="MARKET", side="BUY", quantity="0.01", clientOrderId="liq1")
        _, pos = await client.call("GET", "/openApi/swap/v2/user/positions", {"symbol": "BTC-USDT"})
        assert pos["data"][0]["isolated"] is True
        _, margin = await client.call("GET", "/openApi/swap/v2/trade/marginType", {"symbol": "BTC-USDT"})
        assert margin["data"]["marginType"] == "ISOLATED"
        _, cross = await client.call("POST", "/openApi/swap/v2/trade/marginType",
                                     {"symbol": "BTC-USDT", "marginType": "CROSSED"})  # fmt: skip
        assert cross["code"] != 0 and "ISOLATED" in cross["msg"]
        state = server.state
        state.publish(state.engine.shock("BTC-USDT", Decimal("-0.5")), state.engine.now)
        (liq,) = [f for f in state.engine.fills_since(0) if not f.client_order_id]
        assert liq.commission > 0 and liq.realized_pnl < 0  # the engine charged the liquidation fee
        _, fills = await client.call("GET", "/openApi/swap/v2/trade/allFillOrders",
                                     {"tradingUnit": "COIN", "startTs": 0, "endTs": 2**41})  # fmt: skip
        (row,) = [r for r in fills["data"]["fill_orders"] if r["orderId"] == liq.venue_order_id]
        assert Decimal(row["commission"]) == -liq.commission
        _, income = await client.call("GET", "/openApi/swap/v2/user/income", {})
        rows = income["data"]
        of_liq = sorted((r["incomeType"], r["info"], Decimal(r["income"]), r["tranId"].rsplit("_", 1)[1])
                        for r in rows if r["tradeId"] == liq.fill_id)  # fmt: skip
        assert of_liq == [("INSURANCE_CLEAR", "Strong liquidation", liq.realized_pnl, "PNL"),
                          ("TRADING_FEE", "Closing Fee", -liq.commission, "COMMISSION")]  # fmt: skip
        assert not [r for r in rows if r["incomeType"] == "REALIZED_PNL"]  # the only close was the liquidation
        wallet = state.engine.balance().balance
        assert sum((Decimal(r["income"]) for r in rows), Decimal(0)) == wallet - Decimal(10_000)


async def test_the_price_shock_fault_gaps_a_price_and_the_venue_liquidates() -> None:
    """``price_shock`` (drawn once a second of the server's clock) gaps one symbol's price by
    ``price_shock_size`` up or down, as the simulated venue's fault does: a trader (and a chaos
    trial) can see liquidations on the BingX simulator too. Before, the server had no such fault."""
    async with running(hedge=True) as (server, client):
        for symbol, qty in (("BTC-USDT", "0.01"), ("ETH-USDT", "0.1"), ("DOGE-USDT", "100")):
            for side, position_side in (("BUY", "LONG"), ("SELL", "SHORT")):
                _, ack = await client.place(symbol=symbol, type="MARKET", side=side, quantity=qty,
                                            positionSide=position_side)  # fmt: skip
                assert ack["code"] == 0, ack
        async with client.session.post(f"{server.base_url}/_sim/faults",
                                       params={"spec": "price_shock=#1,price_shock_size=0.5"}) as resp:  # fmt: skip
            assert resp.status == 200 and (await resp.json())["price_shock_size"] == 0.5
        async with client.session.post(f"{server.base_url}/_sim/advance?seconds=3") as resp:
            assert resp.status == 200
        liquidated = [f for f in server.state.engine.fills_since(0) if not f.client_order_id]
        assert len(liquidated) == 1  # a gap of half the price: the 5x position on the wrong side
        assert server.faults.describe()["price_shock"] == "#0"
        _, pos = await client.call("GET", "/openApi/swap/v2/user/positions", {})
        assert len(pos["data"]) == 5


def test_a_bad_price_shock_size_is_refused_by_name() -> None:

    for bad in ("0", "1", "1.5", "nan", "x"):
        with pytest.raises(ValueError, match="price_shock_size"):
            ServerFaults.parse(f"price_shock=0.1,price_shock_size={bad}")


async def test_a_state_dir_keeps_every_record_of_the_account(tmp_path: Path) -> None:
    """Everything a restarted server reports from: funding, liquidations and their income, other
    income, rejected client ids, hedge mode, resting orders that fill after the restart."""
    from pink.venues.bingx.server_store import dump

    async with running(state_dir=tmp_path, hedge=True) as (server, client):
        await client.place(type="MARKET", side="BUY", quantity="0.01", positionSide="LONG", clientOrderId="a")
        await client.place(type="MARKET", side="SELL", quantity="0.01", positionSide="SHORT", clientOrderId="b")
        await client.place(symbol="ETH-USDT", type="MARKET", side="BUY", quantity="0.1", positionSide="LONG")
        _, bad = await client.place(type="MARKET", side="BUY", quantity="0.00001", positionSide="LONG",
                                    clientOrderId="rejected-1")  # fmt: skip
        assert bad["code"] != 0
        mark = server.state.engine.quote("BTC-USDT").mark
        _, rest = await client.place(type="LIMIT", side="SELL", quantity="0.005", positionSide="LONG",
                                     price=str((mark * 2).quantize(Decimal("0.1"))), clientOrderId="c")  # fmt: skip
        assert rest["code"] == 0
        async with client.session.post(f"{server.base_url}/_sim/advance?seconds=28800") as resp:
            assert resp.status == 200  # a funding settlement
        async with client.session.post(f"{server.base_url}/_sim/income",
                                       json={"incomeType": "TRIAL_FUND", "amount": "5"}) as resp:  # fmt: skip
            assert resp.status == 200
        state = server.state
        state.publish(state.engine.shock("ETH-USDT", Decimal("-0.5")), state.engine.now)  # liquidated
        saved = dump(state)
        _, income = await client.call("GET", "/openApi/swap/v2/user/income", {})
    assert {r["incomeType"] for r in income["data"]} >= {"FUNDING_FEE", "TRIAL_FUND", "INSURANCE_CLEAR"}
    async with running(state_dir=tmp_path) as (server, client):
        assert dump(server.state) == saved
        _, again = await client.call("GET", "/openApi/swap/v2/user/income", {})
        assert again["data"] == income["data"]
        _, dup = await client.place(type="MARKET", side="BUY", quantity="0.01", positionSide="LONG",
                                    clientOrderId="rejected-1")  # fmt: skip
        assert "duplicated" in dup["msg"]  # its client id was used (by a rejected order) before the restart
        server.state.publish(server.state.engine.shock("BTC-USDT", Decimal("1.5")), server.state.engine.now)
        _, order = await client.call("GET", ORDER, {"symbol": "BTC-USDT", "clientOrderId": "c"})
        assert order["data"]["order"]["status"] != "NEW"  # the restored resting order is on the book


async def test_a_state_dir_that_cannot_be_written_does_not_stop_the_market(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A save that failed in the background tick (a full disk, a directory gone) ended the
    ticker in silence: the server's market stood still for ever while it went on answering."""
    state_dir = tmp_path / "account"
    async with running(state_dir=state_dir, realtime=True, tick_s=0.02, hedge=True) as (server, client):
        engine = server.state.engine
        for side in ("LONG", "SHORT"):
            await client.place(type="MARKET", side="BUY" if side == "LONG" else "SELL", quantity="0.01",
                               positionSide=side)  # fmt: skip
        shutil.rmtree(state_dir)
        state_dir.write_text("not a directory")  # every save fails from here on
        server.state.faults = ServerFaults.parse("price_shock=1,price_shock_size=0.5")  # a liquidation, in a tick
        started = engine.now
        await asyncio.sleep(1.3)
        assert len(engine.positions()) < 2  # the tick liquidated one
        assert engine.now > started + 1_000_000_000  # and the market went on
        failed = [r for r in caplog.records if "cannot keep the account" in r.getMessage()]
        assert len(failed) == 1, [r.getMessage() for r in caplog.records]  # said once, not every tick
        state_dir.unlink()
        state_dir.mkdir()
        await asyncio.sleep(0.3)
        assert (state_dir / "account.json").is_file()  # kept again once it can be
        assert any("kept again" in r.getMessage() for r in caplog.records)

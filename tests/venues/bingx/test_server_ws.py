"""User-data and market WebSockets of the simulator server."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp

from tests.venues.bingx.conftest_server import SimClient, fixture, gunzip, running

LISTEN = "/openApi/user/auth/userDataStream"


async def _key(client: SimClient) -> str:
    status, body = await client.call("POST", LISTEN, signed=False)
    assert status == 200 and set(body) == {"listenKey"}  # bare object, no envelope
    return str(body["listenKey"])


async def _next(ws: aiohttp.ClientWebSocketResponse, *, skip_ping: bool = True) -> Any:
    while True:
        msg = await asyncio.wait_for(ws.receive(), 3)
        assert msg.type is aiohttp.WSMsgType.BINARY, msg  # every frame is gzip binary
        frame = gunzip(msg.data)
        if frame == "Ping" and skip_ping:
            continue
        return frame


async def test_listen_key_lifecycle() -> None:
    async with running() as (_, client):
        key = await _key(client)
        assert len(key) == 64 and int(key, 16) >= 0
        assert (await client.call("PUT", LISTEN, {"listenKey": key}, signed=False))[0] == 200
        assert (await client.call("PUT", LISTEN, signed=False))[0] == 204
        assert (await client.call("DELETE", LISTEN, {"listenKey": key}, signed=False))[0] == 200
        assert (await client.call("PUT", LISTEN, {"listenKey": key}, signed=False))[0] == 404


async def test_order_frames_match_recorded_fields() -> None:
    async with running() as (server, client):
        ws = await client.session.ws_connect(f"{server.ws_url}?listenKey={await _key(client)}")
        await client.place(type="MARKET", side="BUY", quantity="0.01", clientOrderId="WS-1")
        new, trade, account = await _next(ws), await _next(ws), await _next(ws)
        recorded = fixture("ws_order_trade_update.json")["samples"][0]["payload"]["o"]
        for frame in (new, trade):
            assert frame["e"] == "ORDER_TRADE_UPDATE" and set(recorded) <= set(frame["o"])
            assert "l" not in frame["o"] and "L" not in frame["o"]
            assert isinstance(frame["o"]["i"], int) and frame["o"]["c"] == "ws-1"
        assert (new["o"]["x"], new["o"]["X"]) == ("NEW", "NEW")
        assert (trade["o"]["x"], trade["o"]["X"]) == ("TRADE", "FILLED")
        assert Decimal(trade["o"]["z"]) == Decimal("0.01") and Decimal(trade["o"]["ap"]) > 0
        assert Decimal(trade["o"]["n"]) < 0 and trade["o"]["N"] == "USDT"
        rec_acc = fixture("ws_account_update.json")["samples"][1]["payload"]["a"]
        assert account["e"] == "ACCOUNT_UPDATE" and account["a"]["m"] == "ORDER"
        assert set(rec_acc["B"][0]) <= set(account["a"]["B"][0])
        assert account["a"]["P"][0]["ps"] == "LONG" and Decimal(account["a"]["P"][0]["pa"]) == Decimal("0.01")
        # resting LIMIT canceled: CANCELED (one L) on the stream, CANCELLED over REST
        _, ack = await client.place(type="LIMIT", side="BUY", quantity="0.01", price="50000")
        assert (await _next(ws))["o"]["X"] == "NEW"
        _, rest = await client.call("DELETE", "/openApi/swap/v2/trade/order",
                                    {"symbol": "BTC-USDT", "orderId": ack["data"]["order"]["orderId"]})  # fmt: skip
        assert rest["data"]["order"]["status"] == "CANCELLED"
        frame = await _next(ws)
        assert (frame["o"]["x"], frame["o"]["X"]) == ("CANCELED", "CANCELED")
        await ws.close()


async def test_ping_pong_and_drop_without_pong() -> None:
    async with running(ping_interval_s=0.05, pong_timeout_s=0.3) as (server, client):
        key = await _key(client)
        ws = await client.session.ws_connect(f"{server.ws_url}?listenKey={key}")
        for _ in range(8):  # answering Pong keeps the socket open well past the timeout
            assert await _next(ws, skip_ping=False) == "Ping"
            await ws.send_str("Pong")
        assert not ws.closed
        silent = await client.session.ws_connect(f"{server.ws_url}?listenKey={key}")
        msg = None
        for _ in range(40):
            msg = await asyncio.wait_for(silent.receive(), 2)
            if msg.type is not aiohttp.WSMsgType.BINARY:
                break
        assert msg is not None and msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
        await ws.close()
        await silent.close()


async def test_listen_key_expiry_sends_event_and_closes() -> None:
    async with running(faults="listen_key_ttl_s=0.3") as (server, client):
        key = await _key(client)
        ws = await client.session.ws_connect(f"{server.ws_url}?listenKey={key}")
        frame = await _next(ws)
        assert frame["e"] == "listenKeyExpired" and frame["listenKey"] == key
        msg = await asyncio.wait_for(ws.receive(), 2)
        assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
        assert (await client.call("PUT", LISTEN, {"listenKey": key}, signed=False))[0] == 404
        await ws.close()


async def test_admin_drop_and_duplicate_stream_faults() -> None:
    async with running(faults="dup_stream=1") as (server, client):
        ws = await client.session.ws_connect(f"{server.ws_url}?listenKey={await _key(client)}")
        await client.place(type="LIMIT", side="BUY", quantity="0.01", price="50000")
        first, second = await _next(ws), await _next(ws)
        assert first == second and first["o"]["x"] == "NEW"
        async with client.session.post(f"{server.base_url}/_sim/faults?action=drop_ws") as resp:
            assert resp.status == 200
        msg = await asyncio.wait_for(ws.receive(), 2)
        assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR)
        await ws.close()


async def test_market_stream_subscribe_and_push() -> None:
    async with running(market_interval_s=0.05) as (server, client):
        ws = await client.session.ws_connect(server.market_ws_url)
        await ws.send_str(json.dumps({"id": "a1", "reqType": "sub", "dataType": "BTC-USDT@bookTicker"}))
        assert await _next(ws) == {"id": "a1", "code": 0, "msg": "", "dataType": "", "data": None}
        await ws.send_str(json.dumps({"id": "a2", "reqType": "sub", "dataType": "XYZ-USDT@trade"}))
        assert (await _next(ws))["code"] == 80015
        await ws.send_str(json.dumps({"id": "a3", "reqType": "sub", "dataType": "ETH-USDT@kline_1m"}))
        await _next(ws)
        seen: dict[str, Any] = {}
        while len(seen) < 2:
            frame = await _next(ws)
            seen[frame["dataType"]] = frame
        book = seen["BTC-USDT@bookTicker"]["data"]
        assert book["e"] == "bookTicker" and Decimal(book["b"]) < Decimal(book["a"])
        kline = seen["ETH-USDT@kline_1m"]
        assert kline["s"] == "ETH-USDT" and set(kline["data"][0]) == {"o", "h", "l", "c", "v", "T"}
        await ws.close()


def test_each_liquidation_is_pushed_with_no_client_id_and_its_own_position_side(tmp_path: Path) -> None:
    """The engine's liquidations have no client id; the server kept the wire details of orders
    by client id, so the second liquidation was pushed with the first one's position side (a
    SHORT's close told as a LONG's) and price places."""
    from pink.kernel.messages import OrderSide, OrderType, Side, TimeInForce
    from pink.venues.bingx.server_state import SimState
    from pink.venues.sim import MarketConfig, MatchingEngine, NewOrder, default_instruments

    btc, eth = tmp_path / "btc.csv", tmp_path / "eth.csv"
    btc.write_text("ts_ms,price\n0,60000\n1000,50000\n")
    eth.write_text("ts_ms,price\n0,3000\n1000,3000\n2000,3600\n")
    market = MarketConfig(replay={"BTC-USDT": str(btc), "ETH-USDT": str(eth)}, volatility_per_s=Decimal(0))
    engine = MatchingEngine(default_instruments(), market=market)
    state = SimState(engine, engine.instruments, hedge=True, realtime=False)
    frames: list[dict[str, Any]] = []
    state.sinks.append(frames.append)
    for cid, symbol, side, pos, qty in (("a", "BTC-USDT", OrderSide.BUY, Side.LONG, "0.01"),
                                        ("b", "ETH-USDT", OrderSide.SELL, Side.SHORT, "0.1")):  # fmt: skip
        engine.set_leverage(symbol, pos, 20)
        state.submit(NewOrder(cid, symbol, side, pos, Decimal(qty), OrderType.MARKET, None, TimeInForce.GTC, False),
                     state.instrument_meta(symbol, cid, pos.value, 20))  # fmt: skip
    state.advance(Decimal(3))
    liquidations = [f["o"] for f in frames if f["e"] == "ORDER_TRADE_UPDATE" and f["o"]["x"] == "TRADE"
                    and f["o"]["c"] == ""]  # fmt: skip
    assert [(o["s"], o["S"], o["ps"]) for o in liquidations] == [("BTC-USDT", "SELL", "LONG"),
                                                                 ("ETH-USDT", "BUY", "SHORT")]  # fmt: skip
    assert engine.positions() == []
    # the liquidation fee is the fill's commission, as BingX lists it; each position is isolated
    liquidating = [f for f in engine.fills_since(0) if not f.client_order_id]
    assert [Decimal(o["n"]) for o in liquidations] == [-f.commission for f in liquidating]
    assert any(f.commission for f in liquidating)
    margins = {p["mt"] for f in frames if f["e"] == "ACCOUNT_UPDATE" for p in f["a"].get("P", [])}
    assert margins == {"isolated"}

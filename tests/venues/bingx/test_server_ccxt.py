"""Fidelity: ccxt's own BingX client, pointed at the simulator, trades against it."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.venues.bingx.conftest_server import running

ccxt_async = pytest.importorskip("ccxt.async_support")


async def test_ccxt_bingx_fetches_markets_places_and_fetches_orders() -> None:
    async with running() as (server, _):
        exchange = ccxt_async.bingx({"apiKey": server.api_key, "secret": server.secret_key})
        exchange.options["sandboxMode"] = True  # swap markets only, as on VST
        exchange.urls["api"] = {k: f"{server.base_url}/openApi" for k in exchange.urls["api"]}
        try:
            markets = await exchange.load_markets()
            market = markets["BTC/USDT:USDT"]
            assert market["id"] == "BTC-USDT" and market["swap"] and market["linear"]
            assert Decimal(str(market["precision"]["price"])) == Decimal("0.1")

            order = await exchange.create_order("BTC/USDT:USDT", "market", "buy", 0.01)
            assert len(str(order["id"])) == 19
            fetched = await exchange.fetch_order(order["id"], "BTC/USDT:USDT")
            assert fetched["status"] == "closed" and fetched["filled"] == 0.01
            assert fetched["average"] and fetched["average"] > 0

            limit = await exchange.create_order(
                "BTC/USDT:USDT", "limit", "buy", 0.01, 50000, {"clientOrderId": "ccxt-limit"}
            )
            opened = await exchange.fetch_open_orders("BTC/USDT:USDT")
            assert [o["id"] for o in opened] == [limit["id"]]
            assert opened[0]["clientOrderId"] == "ccxt-limit"
            canceled = await exchange.cancel_order(limit["id"], "BTC/USDT:USDT")
            assert canceled["status"] == "canceled"
            positions = await exchange.fetch_positions(["BTC/USDT:USDT"])
            assert positions[0]["side"] == "long" and positions[0]["contracts"] == 0.01
        finally:
            await exchange.close()

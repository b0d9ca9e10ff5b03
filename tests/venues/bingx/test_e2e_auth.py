"""End to end: a signature mismatch is a clear AuthError, tried once; no secret in any log line."""

from __future__ import annotations

import logging
from decimal import Decimal

import pytest

from pink.errors import AuthError, StartupError
from pink.kernel.messages import OrderSide, OrderType, PlaceOrder, Side, TimeInForce
from pink.venues.bingx.config import BingxConfig
from pink.venues.bingx.leverage import POSITION_MODE_PATH
from pink.venues.bingx.server import BingxSimServer
from pink.venues.bingx.venue import ORDER_PATH, BingxVenue
from tests.venues.bingx.e2e_kit import stack, until

API_KEY = "AK-e2e-7f3a9c2b1d4e5f60718293a4b5c6d7e8"
SECRET = "SK-e2e-0badc0ffee1234567890abcdef0fedcba98"


def _place(cid: str) -> PlaceOrder:
    return PlaceOrder(cid, 0, "BTC-USDT", OrderSide.BUY, Side.LONG, Decimal("0.001"),
                      OrderType.MARKET, None, TimeInForce.GTC, False, 5)  # fmt: skip


async def test_signature_mismatch_is_an_auth_error_never_retried() -> None:
    async with BingxSimServer(api_key=API_KEY, secret_key=SECRET, rate_limits=False) as server:
        wrong = BingxConfig(API_KEY, SECRET[:-1] + "x", server.base_url, server.ws_url,
                            server.market_ws_url, hedge_mode=False)  # fmt: skip
        venue = BingxVenue(wrong)
        try:
            await venue.start(lambda _e: None)  # public calls and the listenKey need no signature
            with pytest.raises(AuthError) as info:
                await venue.place(_place("auth-1"))
            assert info.value.retryable is False
            assert "signature" in info.value.message.lower()
            assert server.request_calls[f"POST {ORDER_PATH}"] == 1  # one attempt, no retry
            assert server.engine.orders_since(0) == []
        finally:
            await venue.close()

        # a signed call at start-up: a startup error that names the cause, tried once
        venue = BingxVenue(BingxConfig(API_KEY, "not-the-secret", server.base_url,
                                       server.ws_url, server.market_ws_url))  # fmt: skip
        try:
            with pytest.raises(StartupError, match=r"(?i)signature"):
                await venue.start(lambda _e: None)
            assert server.request_calls[f"GET {POSITION_MODE_PATH}"] == 1
        finally:
            await venue.close()


async def test_no_secret_in_any_log_line(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    async with stack(api_key=API_KEY, secret_key=SECRET, fill_watch_s=0.2,
                     config={"api_key": API_KEY, "secret_key": SECRET}) as st:  # fmt: skip
        p = st.pump
        st.server.faults.update("http5xx=#1,ws_drop=#1")  # warnings and retries get logged
        await p.submit(st.enter("t1", "0.002"))
        await p.tick(advance_s=30)
        await p.drain()
        await until(lambda: p.slot() == "POSITION_OPEN", "entry")
        await p.submit(st.exit("t1", close_all=True))
        await until(lambda: p.slot() == "IDLE", "exit")
        logging.getLogger("test").debug("venue config: %r %s", st.venue.config, st.venue.config)
    assert len(caplog.records) > 5
    for record in caplog.records:
        line = record.getMessage() + (record.exc_text or "") + str(record.args)
        assert SECRET not in line and API_KEY not in line, line
    assert SECRET not in caplog.text and API_KEY not in caplog.text

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
from aiohttp import web
from bingx_fake import API_KEY, SECRET, FakeBingx, fail, fixture, ok

from pink.errors import (
    AuthError,
    RateLimitedError,
    UnknownInstrumentError,
    UnknownOutcomeError,
    VenueError,
)
from pink.venues.bingx.errors import parse_retry_after
from pink.venues.bingx.http import BingxHttp
from pink.venues.bingx.instruments import InstrumentBook, OffGridError, format_decimal

D = Decimal
ORDER = "/openApi/swap/v2/trade/order"


@pytest.fixture
async def http(fake: FakeBingx) -> AsyncIterator[BingxHttp]:
    client = BingxHttp(fake.config())
    try:
        yield client
    finally:
        await client.close()


async def test_success_keeps_big_ids_exact_and_decimals_exact(fake: FakeBingx,
                                                              http: BingxHttp) -> None:
    fake.on("GET", ORDER, lambda _r, _p: web.Response(
        text='{"code":0,"msg":"","data":{"order":{"orderId":1970374651259387904,"x":0.1}}}',
        content_type="application/json"))
    data = await http.request("GET", ORDER, {"symbol": "BTC-USDT"})
    assert data["order"]["orderId"] == 1970374651259387904
    assert data["order"]["x"] == D("0.1")
    assert http.calls[f"GET {ORDER}"] == 1


async def test_429_is_retried_after_back_off_then_succeeds(fake: FakeBingx,
                                                          http: BingxHttp) -> None:
    answers = [web.Response(status=429), ok({"n": 1})]
    fake.on("GET", ORDER, lambda _r, _p: answers.pop(0))
    assert await http.request("GET", ORDER) == {"n": 1}
    assert fake.counts[f"GET {ORDER}"] == 2


async def test_persistent_rate_limit_raises_rate_limited(fake: FakeBingx, http: BingxHttp) -> None:
    fake.on("POST", ORDER, lambda _r, _p: fail(100410, "The current system is busy"))
    with pytest.raises(RateLimitedError):
        await http.request("POST", ORDER, mutating=True)
    assert fake.counts[f"POST {ORDER}"] == 3  # first try + 2 retries


async def test_504_on_a_mutating_call_is_unknown_outcome(fake: FakeBingx, http: BingxHttp) -> None:
    fake.on("POST", ORDER, lambda _r, _p: web.Response(status=504))
    with pytest.raises(UnknownOutcomeError):
        await http.request("POST", ORDER, mutating=True)
    assert fake.counts[f"POST {ORDER}"] == 1  # never blindly re-sent


async def test_timeout_on_a_mutating_call_is_unknown_outcome(fake: FakeBingx) -> None:
    async def slow(_r: web.Request, _p: dict[str, str]) -> web.Response:
        await asyncio.sleep(1.0)
        return ok({})

    fake.on("POST", ORDER, slow)
    client = BingxHttp(fake.config(request_timeout_s=0.1))
    try:
        with pytest.raises(UnknownOutcomeError):
            await client.request("POST", ORDER, mutating=True)
    finally:
        await client.close()


async def test_signature_mismatch_is_auth_error_not_retried(fake: FakeBingx) -> None:
    client = BingxHttp(fake.config(secret_key="wrong-secret"))
    fake.reply("GET", ORDER, {})
    try:
        with pytest.raises(AuthError) as info:
            await client.request("GET", ORDER, {"symbol": "BTC-USDT"})
    finally:
        await client.close()
    assert info.value.code == "100001" and not info.value.retryable
    assert fake.counts[f"GET {ORDER}"] == 1


async def test_no_secret_in_logs_or_errors(fake: FakeBingx, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    answers = [web.Response(status=429), web.Response(status=504)]
    fake.on("POST", ORDER, lambda _r, _p: answers.pop(0))
    client = BingxHttp(fake.config(secret_key=SECRET))
    texts: list[str] = []
    try:
        with pytest.raises(UnknownOutcomeError) as info:
            await client.request("POST", ORDER, {"symbol": "BTC-USDT"}, mutating=True)
        texts.append(str(info.value))
        await client.close()
        fake.base_url = "http://127.0.0.1:9"  # refused
        other = BingxHttp(fake.config())
        try:  # connection refused: the request never left, so the outcome is known
            with pytest.raises(VenueError) as info2:
                await other.request("POST", ORDER, mutating=True)
        finally:
            await other.close()
        assert not isinstance(info2.value, UnknownOutcomeError)
        texts.append(str(info2.value))
    finally:
        await client.close()
    texts.append(caplog.text)
    assert "rate limited" in caplog.text
    for text in texts:
        assert SECRET not in text and API_KEY not in text


async def test_rate_limiter_spaces_calls_per_endpoint(fake: FakeBingx) -> None:
    fake.reply("GET", ORDER, {})
    client = BingxHttp(fake.config(rate_limit_per_s=2.0))
    loop = asyncio.get_running_loop()
    try:
        start = loop.time()
        await asyncio.gather(*(client.request("GET", ORDER) for _ in range(3)))
        assert loop.time() - start >= 0.9
    finally:
        await client.close()


async def test_instruments_load_once_into_a_map(fake: FakeBingx, http: BingxHttp) -> None:
    book = InstrumentBook()
    instruments = await book.load(http)
    assert set(instruments) == {"BTC-USDT", "ETH-USDT"}
    assert book.format_qty("BTC-USDT", D("0.1234")) == "0.1234"
    assert book.format_qty("BTC-USDT", D("0.123400")) == "0.1234"
    assert book.format_price("ETH-USDT", D("2500.12")) == "2500.12"
    assert book.format_price("BTC-USDT", D("100")) == "100.0"
    with pytest.raises(ValueError):
        book.format_qty("ETH-USDT", D("0.009"))
    assert format_decimal(D("1.99999"), D("0.01")) == "1.99"


async def test_e16_a_value_off_the_venues_grid_is_refused_not_cut(fake: FakeBingx, http: BingxHttp) -> None:
    """The kernel only sends values on the grid it loaded at start; one off the venue's current
    grid means BingX changed the contract's precision since. Cut down to the new step, the order
    would no longer be the kernel's: it is refused, naming the symbol, field, value and grid."""
    book = InstrumentBook()
    await book.load(http)
    with pytest.raises(OffGridError) as qty:
        book.format_qty("BTC-USDT", D("0.123456"))
    assert qty.value.code == "QTY_OFF_STEP"
    assert all(w in str(qty.value) for w in ("BTC-USDT", "quantity", "0.123456", "step 0.0001"))
    with pytest.raises(OffGridError) as price:
        book.format_price("ETH-USDT", D("2500.129"))
    assert price.value.code == "PRICE_OFF_TICK"
    assert all(w in str(price.value) for w in ("ETH-USDT", "price", "2500.129", "tick 0.01"))


async def test_e16_unknown_instrument_is_a_clear_error(fake: FakeBingx, http: BingxHttp) -> None:
    book = InstrumentBook()
    await book.load(http)
    with pytest.raises(UnknownInstrumentError) as info:
        book.format_qty("DOGE-USDT", D("10"))
    assert "DOGE-USDT" in str(info.value)
    with pytest.raises(UnknownInstrumentError):
        book.get("btc-usdt")  # no guessing, no default step


async def test_e16_one_unreadable_contract_does_not_stop_the_others_loading(
    fake: FakeBingx, http: BingxHttp, caplog: pytest.LogCaptureFixture
) -> None:
    """BingX lists hundreds of contracts; one new listing with a field PINK cannot read must not
    refuse the start for every symbol. It is left out, named in the log, and an order for it is
    refused with the reason (never traded with a guessed step)."""
    rows = fixture("contracts.json")["official"]["responseBody"]["data"]
    weird = dict(rows[0], symbol="NEW-USDT", quantityPrecision=-1)
    odd = dict(rows[0], symbol="ODD-USDT")
    del odd["pricePrecision"]
    fake.reply("GET", "/openApi/swap/v2/quote/contracts", [*rows, weird, odd])
    book = InstrumentBook()
    instruments = await book.load(http)
    assert set(instruments) == {"BTC-USDT", "ETH-USDT"}
    assert "NEW-USDT" in caplog.text and "quantityPrecision" in caplog.text
    with pytest.raises(UnknownInstrumentError) as info:
        book.format_qty("NEW-USDT", D("1"))
    assert "quantityPrecision" in str(info.value)
    with pytest.raises(UnknownInstrumentError) as info:
        book.get("ODD-USDT")
    assert "pricePrecision" in str(info.value) and "missing" in str(info.value)


async def test_a_read_waits_the_rate_limits_stated_retry_after(fake: FakeBingx, http: BingxHttp) -> None:
    """A 429 saying Retry-After 0.3 s: the read is sent again after that long, not after the
    (here 0.01 s) fixed back-off, which would only earn another 429 and, kept up, a ban (418)."""
    loop = asyncio.get_running_loop()
    seen: list[float] = []

    def answer(_r: web.Request, _p: dict[str, str]) -> web.Response:
        seen.append(loop.time())
        return web.Response(status=429, headers={"Retry-After": "0.3"}) if len(seen) == 1 else ok({"n": 1})

    fake.on("GET", ORDER, answer)
    assert await http.request("GET", ORDER) == {"n": 1}
    assert len(seen) == 2 and seen[1] - seen[0] >= 0.3


@pytest.mark.parametrize(("method", "mutating", "stated"), [("GET", False, "30"), ("POST", True, "2")])
async def test_a_stated_retry_after_past_what_the_call_may_wait_is_raised_at_once(
    fake: FakeBingx, http: BingxHttp, method: str, mutating: bool, stated: str
) -> None:
    """A read is not held past its own timeout (10 s) for a 30 s Retry-After, and an order is not
    sent seconds after the kernel decided it: the rate limit is raised at once, carrying the
    venue's wait for the caller, and nothing is sent again."""
    fake.on(method, ORDER, lambda _r, _p: web.Response(status=429, headers={"Retry-After": stated}))
    loop = asyncio.get_running_loop()
    start = loop.time()
    with pytest.raises(RateLimitedError) as caught:
        await http.request(method, ORDER, mutating=mutating)
    assert loop.time() - start < 1.0
    assert caught.value.retry_after_s == float(stated)
    assert fake.counts[f"{method} {ORDER}"] == 1


@pytest.mark.parametrize(
    ("header", "seconds"),
    [("2", 2.0), (" 0.5 ", 0.5), ("-3", 0.0), ("", None), ("soon", None), ("nan", None),
     ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0)],  # a date in the past: no wait
)
def test_retry_after_is_read_as_seconds_or_a_date(header: str, seconds: float | None) -> None:
    assert parse_retry_after(header) == seconds


async def test_a_connection_refused_is_named_with_its_host_and_reason(fake: FakeBingx) -> None:
    """A start with nothing answering said only 'NETWORK: ClientConnectorError': not where, nor why."""
    fake.base_url = "http://127.0.0.1:9"  # nothing listens there
    client = BingxHttp(fake.config())
    try:
        with pytest.raises(VenueError) as info:
            await client.request("GET", "/openApi/swap/v2/quote/contracts", signed=False)
    finally:
        await client.close()
    assert "ClientConnectorError (127.0.0.1:9: Connection refused)" in str(info.value)
    assert API_KEY not in str(info.value) and SECRET not in str(info.value)


async def test_a_stream_that_cannot_reconnect_warns_once_and_says_when_it_is_back(
    fake: FakeBingx, caplog: pytest.LogCaptureFixture
) -> None:
    """While the venue was away the stream logged a warning at every back-off step, many a second."""
    from pink.venues.bingx.venue import BingxVenue

    caplog.set_level(logging.WARNING, logger="pink.venues.bingx.ws")
    venue = BingxVenue(fake.config(reconnect_max_s=0.05))
    events: list[object] = []
    await venue.start(events.append)
    try:
        await asyncio.wait_for(venue.stream.connected.wait(), 2)
        await fake.stop_ws_for(0.6)  # closes the streams and refuses them for a while
        await asyncio.wait_for(venue.stream.connected.wait(), 5)
    finally:
        await venue.close()
    lines = [r.getMessage() for r in caplog.records if "user stream" in r.getMessage()]
    assert sum("disconnected" in x for x in lines) == 1, lines
    assert any("connected again after" in x for x in lines), lines

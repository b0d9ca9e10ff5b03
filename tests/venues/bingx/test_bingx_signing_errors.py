from __future__ import annotations

import hashlib
import hmac
from decimal import Decimal

import pytest
from bingx_fake import fixture

from pink.errors import AuthError, ConfigError, RateLimitedError, UnknownOutcomeError, VenueError
from pink.venues.bingx import errors as bx
from pink.venues.bingx.config import BingxConfig
from pink.venues.bingx.signing import ServerClock, param_string, sign, signed_query


def test_signature_vectors_from_the_reference() -> None:
    vectors = fixture("signature_test_vectors.json")
    for v in vectors["vectors_verified_with_python_hmac"]:
        assert sign(vectors["secretKey"], v["string"]) == v["signature"]


def test_signed_query_sorts_params_and_signs_exactly_what_is_sent() -> None:
    q = signed_query("s3cret", {"symbol": "BTC-USDT", "side": "BUY", "quantity": Decimal("0.0010")},
                     1667872120843, 5000)
    text, sig = q.rsplit("&signature=", 1)
    assert text == ("quantity=0.0010&recvWindow=5000&side=BUY&symbol=BTC-USDT"
                    "&timestamp=1667872120843")
    assert sig == hmac.new(b"s3cret", text.encode(), hashlib.sha256).hexdigest()


def test_param_values_are_plain_text() -> None:
    assert param_string({"b": True, "a": Decimal("1E-8"), "c": 7}) == "a=0.00000001&b=true&c=7"


def test_server_clock_offset_from_round_trip() -> None:
    clock = ServerClock()
    clock.update(server_ms=10_500, sent_ms=10_000, received_ms=10_200)
    assert clock.offset_ms == 400


@pytest.mark.parametrize(
    ("code", "msg", "kind", "retryable"),
    [
        ("100001", "Signature verification failed", AuthError, False),
        ("100413", "Incorrect apiKey", AuthError, False),
        ("100419", "IP does not match IP whitelist", AuthError, False),
        ("100410", "The current system is busy", RateLimitedError, True),
        ("109429", "too many requests", RateLimitedError, True),
        ("101204", "", VenueError, False),
        ("80012", "Service unavailable", VenueError, True),
        ("100421", "This pair is currently restricted from API trading", VenueError, False),
    ],
)
def test_venue_codes_map_to_the_taxonomy(
    code: str, msg: str, kind: type[VenueError], retryable: bool
) -> None:
    err = bx.from_venue_code(code, msg)
    assert type(err) is kind
    assert err.code == code
    assert err.retryable is retryable


@pytest.mark.parametrize(
    ("code", "msg", "unknown"),
    [
        ("101500", "RPC timeout", True),
        ("100500", "Internal system error", True),
        ("80019", "Order is being processed", True),
        ("80001", "service has some errors", True),
        ("80012", "Service unavailable", True),
        ("80012", "101253 margin is not enough", False),  # a refusal, certain
        ("101204", "Insufficient margin", False),
        ("100421", "timestamp mismatch", False),
    ],
)
def test_f16_server_failures_leave_an_order_or_cancel_unknown(code: str, msg: str, unknown: bool) -> None:
    err = bx.from_venue_code(code, msg, mutating=True)
    assert isinstance(err, UnknownOutcomeError) is unknown
    assert not isinstance(bx.from_venue_code(code, msg), UnknownOutcomeError)  # a read: retried


def test_old_and_new_codes_for_not_found_and_filled() -> None:
    for code in ("80016", "109414", "109421"):
        assert bx.is_not_found(code, "order not exist")
    for code in ("80018", "109422"):
        assert bx.is_already_filled(code, "")
        assert not bx.is_not_found(code, "The order doesn't exist")
    assert bx.is_not_found("109400", "order does not exist")
    assert not bx.is_not_found("109201", "same order number only once per second")


def test_http_status_mapping() -> None:
    assert isinstance(bx.from_http_status(429, "", mutating=True), RateLimitedError)
    assert isinstance(bx.from_http_status(418, "", mutating=False), RateLimitedError)
    assert isinstance(bx.from_http_status(504, "", mutating=True), UnknownOutcomeError)
    read_5xx = bx.from_http_status(504, "", mutating=False)
    assert not isinstance(read_5xx, UnknownOutcomeError) and read_5xx.retryable
    assert isinstance(bx.from_http_status(401, "", mutating=False), AuthError)


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"PINK_BINGX_BASEURL": "http://127.0.0.1:1"}, "unknown BingX setting(s) PINK_BINGX_BASEURL"),
        ({"PINK_BINGX_BASE_URL": "http://127.0.0.1:1"}, "PINK_BINGX_BASE_URL is set without PINK_BINGX_WS_URL"),
        # the stream moved and the orders not: they would go to the preset's venue (live, with live keys)
        ({"PINK_BINGX_WS_URL": "ws://127.0.0.1:1/swap-market"}, "PINK_BINGX_WS_URL is set without PINK_BINGX_BASE_URL"),
        ({"PINK_BINGX_MARKET_WS_URL": "ws://127.0.0.1:1/swap-market"},
         "PINK_BINGX_MARKET_WS_URL is set without PINK_BINGX_BASE_URL"),
        ({"PINK_BINGX_PRESET": "demo"}, "PINK_BINGX_PRESET='demo' is not a BingX preset"),
        ({"PINK_BINGX_BASE_URL": "127.0.0.1:8765", "PINK_BINGX_WS_URL": "ws://127.0.0.1:8765/swap-market"},
         "PINK_BINGX_BASE_URL='127.0.0.1:8765' is not an http(s) URL"),
        ({"PINK_BINGX_BASE_URL": "http://127.0.0.1:8765/openApi", "PINK_BINGX_WS_URL": "ws://127.0.0.1:8765/x"},
         "PINK_BINGX_BASE_URL='http://127.0.0.1:8765/openApi' has a path"),
        ({"PINK_BINGX_BASE_URL": "http://127.0.0.1:8765", "PINK_BINGX_WS_URL": "127.0.0.1:8765/swap-market"},
         "PINK_BINGX_WS_URL='127.0.0.1:8765/swap-market' is not a ws(s) URL"),
        ({"PINK_BINGX_BASE_URL": "http://127.0.0.1:8765",  # as `pink sim-bingx` prints it
          "PINK_BINGX_WS_URL": "ws://127.0.0.1:8765/swap-market?listenKey=<key>"},
         "PINK_BINGX_WS_URL='ws://127.0.0.1:8765/swap-market?listenKey=<key>' has a query"),
        ({"PINK_BINGX_API_KEY": "abc\n"}, "PINK_BINGX_API_KEY has a space or a control character"),
        ({"PINK_BINGX_SECRET_KEY": " abc"}, "PINK_BINGX_SECRET_KEY has a space or a control character"),
        # the demo's REST host with the live streams: orders on one account, fills heard from another
        ({"PINK_BINGX_BASE_URL": "https://open-api-vst.bingx.com",
          "PINK_BINGX_WS_URL": "wss://open-api-swap.bingx.com/swap-market"},
         "PINK_BINGX_BASE_URL is the vst host but PINK_BINGX_WS_URL is the live host"),
        ({"PINK_BINGX_PRESET": "live", "PINK_BINGX_BASE_URL": "https://open-api-vst.bingx.com",
          "PINK_BINGX_WS_URL": "wss://vst-open-api-ws.bingx.com/swap-market"},
         "PINK_BINGX_PRESET=live but PINK_BINGX_BASE_URL is the vst host"),
    ],
)
def test_a_misspelt_or_half_bingx_setting_is_refused_naming_it(env: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigError) as caught:
        BingxConfig.from_env("vst", env)
    assert named in str(caught.value)
    assert "abc" not in str(caught.value)  # a key's value is never shown


def test_the_presets_own_urls_and_a_simulator_are_accepted() -> None:
    vst = BingxConfig.from_env("vst", {"PINK_BINGX_PRESET": "vst", "PINK_BINGX_BASE_URL": "https://open-api-vst.bingx.com/",
                                       "PINK_BINGX_WS_URL": "wss://vst-open-api-ws.bingx.com/swap-market"})
    assert vst.base_url == "https://open-api-vst.bingx.com"
    live = BingxConfig.from_env("vst", {"PINK_BINGX_PRESET": "live"})
    assert (live.base_url, live.ws_url) == ("https://open-api.bingx.com", "wss://open-api-swap.bingx.com/swap-market")
    sim = BingxConfig.from_env("vst", {"PINK_BINGX_PRESET": "live", "PINK_BINGX_BASE_URL": "http://127.0.0.1:8765",
                                       "PINK_BINGX_WS_URL": "ws://127.0.0.1:8765/swap-market"})
    assert sim.market_ws_url == "ws://127.0.0.1:8765/swap-market"


def test_config_masks_secrets_and_reads_env() -> None:
    env = {"PINK_BINGX_API_KEY": "KEY123456", "PINK_BINGX_SECRET_KEY": "SECRET987654",
           "PINK_BINGX_BASE_URL": "http://127.0.0.1:1/", "PINK_BINGX_WS_URL": "ws://127.0.0.1:1/swap-market"}
    cfg = BingxConfig.from_env("vst", env)
    assert cfg.base_url == "http://127.0.0.1:1"
    assert cfg.ws_url == cfg.market_ws_url == "ws://127.0.0.1:1/swap-market"
    assert BingxConfig.from_env("vst", {}).ws_url == "wss://vst-open-api-ws.bingx.com/swap-market"
    for text in (repr(cfg), str(cfg), f"{cfg}"):
        assert "KEY123456" not in text and "SECRET987654" not in text
    live = BingxConfig.preset("live")
    assert live.base_url == "https://open-api.bingx.com"
    with pytest.raises(ConfigError):
        live.require_keys()
    with pytest.raises(ConfigError):
        BingxConfig.preset("mainnet")

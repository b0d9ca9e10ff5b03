"""Unit tests of the simulator's signing checks, fault specs and rate limiter."""

from __future__ import annotations

import pytest

from pink.venues.bingx.server_auth import (
    RateLimiter,
    SignedRequest,
    check_timestamp,
    sign,
    verify_signature,
)
from pink.venues.bingx.server_faults import ServerFaults
from tests.venues.bingx.conftest_server import fixture

VECTORS = fixture("signature_test_vectors.json")
SECRET = VECTORS["secretKey"]


@pytest.mark.parametrize("vector", VECTORS["vectors_verified_with_python_hmac"])
def test_sign_matches_reference_vectors(vector: dict[str, str]) -> None:
    assert sign(SECRET, vector["string"]) == vector["signature"]


def test_unsorted_query_in_send_order_is_accepted() -> None:
    vec = VECTORS["vectors_verified_with_python_hmac"][0]
    req = SignedRequest.build(f"{vec['string']}&signature={vec['signature']}", "", None)
    assert verify_signature(SECRET, req) is None
    assert req.params == {"symbol": "BTC-USDT", "timestamp": "1667872120843", "side": "LONG",
                          "leverage": "6"}  # fmt: skip


def test_query_plus_body_joined_without_ampersand_is_accepted() -> None:
    vec = VECTORS["vectors_verified_with_python_hmac"][1]
    req = SignedRequest.build(
        "symbol=BTC-USDT&timestamp=1668159715051",
        f"side=LONG&leverage=6&signature={vec['signature']}",
        None,
    )
    assert verify_signature(SECRET, req) is None


def test_json_body_signed_sorted_is_accepted() -> None:
    body: dict[str, object] = {"symbol": "BTC-USDT", "quantity": 0.01, "reduceOnly": False,
                               "timestamp": 1}  # fmt: skip
    body["signature"] = sign(SECRET, "quantity=0.01&reduceOnly=false&symbol=BTC-USDT&timestamp=1")
    assert verify_signature(SECRET, SignedRequest.build("", "", body)) is None


def test_percent_encoded_values_verify_raw_and_decoded() -> None:
    raw = "stopLoss=%7B%22a%22%3A1%7D&timestamp=5"
    decoded = 'stopLoss={"a":1}&timestamp=5'
    for signed in (raw, decoded):
        req = SignedRequest.build(f"{raw}&signature={sign(SECRET, signed)}", "", None)
        assert verify_signature(SECRET, req) is None


def test_bad_and_missing_signatures_are_refused_with_bingx_codes() -> None:
    bad = SignedRequest.build("symbol=BTC-USDT&timestamp=1&signature=" + "0" * 64, "", None)
    refusal = verify_signature(SECRET, bad)
    assert refusal is not None and refusal.code == 100001
    assert refusal.msg.startswith("Signature verification failed")
    missing = verify_signature(SECRET, SignedRequest.build("symbol=BTC-USDT&timestamp=1", "", None))
    assert missing is not None and missing.code == 100412


def test_timestamp_window() -> None:
    assert check_timestamp({"timestamp": "10000"}, 14000) is None
    late = check_timestamp({"timestamp": "10000"}, 15001)
    assert late is not None and late.code == 100421
    assert check_timestamp({"timestamp": "10000", "recvWindow": "60000"}, 60000) is None
    assert check_timestamp({}, 1) is not None


def test_fault_spec_counts_and_probabilities() -> None:
    faults = ServerFaults.parse("order504=#2,http5xx=0,slow_ms=30,listen_key_ttl_s=1.5")
    assert [faults.fire("order504") for _ in range(3)] == [True, True, False]
    assert not any(faults.fire("http5xx") for _ in range(50))
    assert faults.slow_ms == 30 and faults.listen_key_ttl_s == 1.5
    always = ServerFaults.parse("dup_stream=1")
    assert all(always.fire("dup_stream") for _ in range(20))
    with pytest.raises(ValueError, match="unknown fault"):
        ServerFaults.parse("nonsense=1")
    with pytest.raises(ValueError):
        ServerFaults.parse("order504=2")


def test_rate_limiter_per_endpoint_window() -> None:
    now = [0.0]
    limiter = RateLimiter(clock=lambda: now[0])
    assert all(limiter.allow("POST", "/openApi/swap/v2/trade/order", public=False) for _ in range(5))
    assert not limiter.allow("POST", "/openApi/swap/v2/trade/order", public=False)
    assert limiter.allow("GET", "/openApi/swap/v2/trade/order", public=False)  # own endpoint
    now[0] = 1.0
    assert limiter.allow("POST", "/openApi/swap/v2/trade/order", public=False)
    assert limiter.allow("GET", "/openApi/swap/v1/positionSide/dual", public=False)
    assert limiter.allow("GET", "/openApi/swap/v1/positionSide/dual", public=False)
    assert not limiter.allow("GET", "/openApi/swap/v1/positionSide/dual", public=False)

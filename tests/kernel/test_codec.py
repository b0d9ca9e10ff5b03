"""F14/F30: one strict codec per record type; unknown or missing fields are named, never dropped."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from pink.codec import MESSAGE_TYPES, decode, decode_named, encode
from pink.errors import CodecError
from pink.kernel import Action, Intent, OrderFilled, PolicyMetadata, Side


def test_f14_f30_round_trip_is_exact_for_every_message_type() -> None:
    """Flaws F14, F30."""
    intent = Intent(
        Action.ENTER,
        2,
        "t1",
        "i1",
        "d1",
        "BTC-USDT",
        Side.SHORT,
        D("0.123"),
        7,
        exit_legs=(D("0.3"), D("0.7")),
        metadata=PolicyMetadata(0.61, 4, {"z": 1.5e-9}, {"k": "v"}),
    )
    assert decode(encode(intent), Intent) == intent
    fill = OrderFilled("c", "1234567890123456789", "f", D("0.1"), D("65000.1"), D("0.1"), D("-0.0001"), "USDT", 7)
    back = decode(encode(fill), OrderFilled)
    assert back == fill and back.venue_order_id == "1234567890123456789"
    assert set(MESSAGE_TYPES) >= {"Intent", "OrderFilled", "OrderStatusReport", "ControlSnapshot"}


def test_f14_f30_strict_decoding_names_unknown_and_missing_fields() -> None:
    """Flaws F14, F30."""
    raw = encode(OrderFilled("c", "v", "f", D("0.1"), D("1"), D("0.1"), D("0"), "USDT", 7))
    with pytest.raises(CodecError, match=r"unknown fields \['surprise'\]"):
        decode(raw[:-1] + b',"surprise":1}', OrderFilled)
    with pytest.raises(CodecError, match=r"missing fields \['fill_id'\]"):
        decode(raw.replace(b'"fill_id":"f",', b""), OrderFilled)
    with pytest.raises(CodecError, match="unknown record type"):
        decode_named("Nope", raw)
    with pytest.raises(CodecError, match="not valid JSON"):
        decode(b"{", OrderFilled)

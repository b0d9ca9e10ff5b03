from __future__ import annotations

from decimal import Decimal

import pytest

from pink.errors import CodecError
from pink.kernel.messages import FillBooked, OrderSide, Settlement, SettlementKind, TradeClosed
from pink.kernel.views import AccountView, SlotView
from pink.plane.codec import codec_for

from .helpers import account_view, intent_record, slot_view


@pytest.mark.parametrize(
    "record",
    [slot_view(1, 42), account_view(7), intent_record(3)],
    ids=["SlotView", "AccountView", "IntentRecorded"],
)
def test_round_trip_is_exact(record: object) -> None:
    codec = codec_for(type(record))
    assert codec.decode(codec.encode(record)) == record
    assert codec_for(type(record)) is codec  # one codec per record type


def test_f14_f30_strict_codec_names_unknown_fields() -> None:
    """Flaws F14, F30."""
    codec = codec_for(SlotView)
    good = codec.encode(slot_view(1, 1))
    with pytest.raises(CodecError, match=r"SlotView: Object contains unknown field `colour`"):
        codec.decode(good[:-1] + b',"colour":"red"}')
    with pytest.raises(CodecError, match=r"SlotView: Object missing required field `fees`"):
        codec.decode(good.replace(b'"fees":"0.001",', b""))
    with pytest.raises(CodecError, match=r"AccountView: Expected `decimal`.*\$\.capital"):
        codec_for(AccountView).decode(codec_for(AccountView).encode(account_view(1)).replace(
            b'"capital":"10000.01"', b'"capital":[]'))
    nested = codec_for(type(intent_record(1)))
    data = nested.encode(intent_record(1)).replace(b'"tags":{}', b'"tags":{},"extra":1')
    with pytest.raises(CodecError, match=r"unknown field `extra` - at `\$\.intent\.metadata`"):
        nested.decode(data)
    with pytest.raises(CodecError, match="malformed JSON"):
        codec.decode(b'{"slot":')


def test_codec_refuses_a_record_of_another_type() -> None:
    with pytest.raises(CodecError, match="SlotView codec cannot encode AccountView"):
        codec_for(SlotView).encode(account_view(1))  # type: ignore[arg-type]


def test_trade_event_records_round_trip() -> None:
    d = Decimal
    fill = FillBooked(1, "t", "i", "d", "c", "v", "f", "EXIT", 1, "BTC-USDT", OrderSide.SELL,
                      d("0.5"), d("101.5"), d("0.5"), d("0.01"), "USDT", d("0.75"), 9)
    settle = Settlement(3, SettlementKind.FILL, 1, "t", "f", d("0.75"), d("0.01"),
                        d("100"), d("100.74"), 9)
    assert codec_for(FillBooked).decode(codec_for(FillBooked).encode(fill)) == fill
    assert codec_for(Settlement).decode(codec_for(Settlement).encode(settle)) == settle
    assert codec_for(TradeClosed) is codec_for(TradeClosed)

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

import pytest
from bingx_fake import fixture

from pink.kernel.messages import (
    OrderAccepted,
    OrderCanceled,
    OrderFilled,
    OrderStatus,
    Side,
)
from pink.venues.bingx.fields import BingxParseError
from pink.venues.bingx.parse import (
    AccountUpdate,
    FillTracker,
    OrderUpdate,
    parse_market_frame,
    parse_user_frame,
)
from pink.venues.bingx.parse_rest import (
    fills_from_rows,
    list_of,
    parse_ack,
    parse_balance,
    parse_contract,
    parse_fill_row,
    parse_income_row,
    parse_order,
    parse_position,
    parse_transfer_row,
)

D = Decimal


def _otu(sample: int) -> dict[str, Any]:
    return copy.deepcopy(fixture("ws_order_trade_update.json")["samples"][sample]["payload"])


def _update(x: str, status: str, z: str, ap: str, n: str = "0", q: str = "1.0") -> dict[str, Any]:
    return {"e": "ORDER_TRADE_UPDATE", "E": 1700000000000, "o": {
        "s": "BTC-USDT", "c": "t00001-e1", "i": 1970374651259387904, "S": "BUY", "o": "LIMIT",
        "q": q, "p": "100", "ap": ap, "x": x, "X": status, "N": "USDT", "n": n, "T": 0,
        "ps": "BOTH", "z": z}}


def test_recorded_order_trade_update_is_a_fill_with_its_own_price() -> None:
    up = parse_user_frame(_otu(1))
    assert isinstance(up, OrderUpdate)
    assert up.venue_order_id == "1711312357852147712"
    events, needs_query = FillTracker().apply(up)
    fill = events[-1]
    assert isinstance(fill, OrderFilled) and not needs_query
    assert (fill.last_qty, fill.last_price, fill.cum_qty) == (D("0.1"), D("64.36"), D("0.1"))
    assert fill.commission == D("0.00321800")  # recorded positive = paid
    assert fill.fill_id == "1711312357852147712:0.1"


def test_trade_update_spelling_and_big_int_id_are_exact() -> None:
    up = parse_user_frame(_otu(2))
    assert isinstance(up, OrderUpdate)
    assert up.venue_order_id == "1970374651259387904"  # > 2**53, never via float
    assert up.ts == 1758608899316 * 1_000_000


def test_filled_push_without_cumulative_qty_asks_for_a_query() -> None:
    # The 2023 doc sample says FILLED with z = 0: no size known, so no fill is invented.
    up = parse_user_frame(_otu(0))
    assert isinstance(up, OrderUpdate)
    events, needs_query = FillTracker().apply(up)
    assert needs_query and not [e for e in events if isinstance(e, OrderFilled)]


def test_partial_then_full_fills_from_cumulative_fields() -> None:
    tracker = FillTracker()
    frames = [_update("NEW", "NEW", "0", "0"),
              _update("TRADE", "PARTIALLY_FILLED", "0.4", "100", n="-0.02"),
              _update("TRADE", "FILLED", "1.0", "101.2", n="-0.03")]
    events = []
    for f in frames:
        up = parse_user_frame(f)
        assert isinstance(up, OrderUpdate)
        events += tracker.apply(up)[0]
    assert isinstance(events[0], OrderAccepted)
    fills = [e for e in events if isinstance(e, OrderFilled)]
    assert [(f.last_qty, f.last_price, f.cum_qty) for f in fills] == [
        (D("0.4"), D("100"), D("0.4")), (D("0.6"), D("102"), D("1.0"))]
    assert sum(f.last_qty * f.last_price for f in fills) == D("101.2") * D("1.0")
    assert [f.commission for f in fills] == [D("0.02"), D("0.03")]
    # `n` may be per fill or the running total (undocumented): only a first fill's fee is final
    assert [f.fee_final for f in fills] == [True, False]
    # a replay of the same push is not a second fill
    replay = parse_user_frame(frames[1])
    assert isinstance(replay, OrderUpdate)
    assert not [e for e in tracker.apply(replay)[0] if isinstance(e, OrderFilled)]


def test_a_fill_push_without_a_fee_is_booked_at_zero_and_marked_not_final() -> None:
    frame = _update("TRADE", "FILLED", "1.0", "100")
    del frame["o"]["n"]
    up = parse_user_frame(frame)
    assert isinstance(up, OrderUpdate) and not up.fee_stated
    fill = FillTracker().apply(up)[0][-1]
    assert isinstance(fill, OrderFilled) and fill.commission == 0 and fill.fee_final is False
    stated = parse_user_frame(_update("TRADE", "FILLED", "1.0", "100", n="-0.01"))
    assert isinstance(stated, OrderUpdate)
    assert FillTracker().apply(stated)[0][-1].fee_final is True  # type: ignore[union-attr]


def test_last_fill_fields_win_when_present() -> None:
    frame = _update("TRADE", "PARTIALLY_FILLED", "0.5", "99")
    frame["o"].update({"l": "0.5", "L": "99.5"})
    up = parse_user_frame(frame)
    assert isinstance(up, OrderUpdate)
    fill = FillTracker().apply(up)[0][-1]
    assert isinstance(fill, OrderFilled) and fill.last_price == D("99.5")


def test_cancel_push_carries_cumulative_qty() -> None:
    up = parse_user_frame(_update("CANCELED", "CANCELED", "0", "0"))
    assert isinstance(up, OrderUpdate)
    events, _ = FillTracker().apply(up)
    assert isinstance(events[-1], OrderCanceled) and events[-1].cum_qty == 0


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda f: f["o"].pop("z"), "z"),
        (lambda f: f["o"].update(z="abc"), "z"),
        (lambda f: f["o"].update(z=1.5e300), "z"),
        (lambda f: f["o"].update(X="WEIRD"), "X"),
        (lambda f: f["o"].update(i=None), "i"),
        (lambda f: f["o"].update(i=[1]), "i"),
        (lambda f: f.update(o="not an object"), "o"),
        (lambda f: f["o"].update(z="NaN"), "z"),
        (lambda f: f.update(E="²"), "E"),  # a digit to str.isdigit, not to int()
        (lambda f: f.update(E="--5"), "E"),  # int() raised a bare ValueError past every caller
        (lambda f: f.update(E="+-5"), "E"),
    ],
)
def test_hostile_frames_raise_a_parse_error_naming_the_field(mutate: Any, field: str) -> None:
    frame = _update("TRADE", "FILLED", "1", "100")
    mutate(frame)
    with pytest.raises(BingxParseError) as info:
        parse_user_frame(frame)
    assert info.value.field == field and field in str(info.value)


def test_non_object_frame_is_a_parse_error() -> None:
    with pytest.raises(BingxParseError):
        parse_user_frame(["ORDER_TRADE_UPDATE"])


def test_account_update_gives_balances_and_positions() -> None:
    msg = parse_user_frame(fixture("ws_account_update.json")["samples"][1]["payload"])
    assert isinstance(msg, AccountUpdate)
    assert msg.balances[0].balance == D("117.80007595")
    pos = msg.positions[0]
    assert (pos.symbol, pos.side, pos.quantity) == ("BTC-USDT", Side.SHORT, D("0.001"))
    assert msg.reason == "ORDER" and not msg.funding and not msg.transfer  # an ORDER push books nothing


def test_funding_fee_push_is_a_funding_trigger_only() -> None:
    sample = fixture("income.json")["ws_account_update_on_funding"]["illustrative_payload_cross"]
    frame = {k: v for k, v in sample.items() if k != "_note"}
    msg = parse_user_frame(frame)
    assert isinstance(msg, AccountUpdate) and msg.reason == "FUNDING_FEE"
    assert msg.funding and not msg.transfer
    assert msg.balances[0].balance == D("117.79998074")  # no booking from the push: it has no tranId


def _money_push(reason: str) -> dict[str, Any]:
    return {"e": "ACCOUNT_UPDATE", "E": 1769212846000,
            "a": {"m": reason, "B": [{"a": "USDT", "wb": "1125.5", "cw": "1125.5", "bc": "125.5"}]}}


@pytest.mark.parametrize("reason", ["DEPOSIT", "WITHDRAW", "ASSET_TRANSFER", "TRANSFER", "withdraw"])
def test_deposit_withdraw_and_transfer_pushes_are_transfer_triggers(reason: str) -> None:
    msg = parse_user_frame(_money_push(reason))
    assert isinstance(msg, AccountUpdate) and msg.transfer and not msg.funding
    assert msg.ts == 1769212846000 * 1_000_000
    assert (msg.balances[0].asset, msg.balances[0].balance) == ("USDT", D("1125.5"))


@pytest.mark.parametrize("reason", ["ORDER", "FUNDING_FEE", "ADL", ""])
def test_other_account_update_reasons_are_not_transfers(reason: str) -> None:
    msg = parse_user_frame(_money_push(reason))
    assert isinstance(msg, AccountUpdate) and not msg.transfer


def test_money_push_with_a_bad_wallet_names_the_field() -> None:
    frame = _money_push("DEPOSIT")
    frame["a"]["B"][0]["wb"] = "lots"
    with pytest.raises(BingxParseError) as info:
        parse_user_frame(frame)
    assert info.value.field == "wb"


def test_listen_key_expired_and_unknown_events() -> None:
    other = fixture("ws_other_events.json")
    assert parse_user_frame(other["listenKeyExpired"]["payload"]) is not None
    assert parse_user_frame(other["ACCOUNT_CONFIG_UPDATE"]["payload"]) is None


def test_market_frames() -> None:
    streams = fixture("ws_market.json")["streams"]
    book = parse_market_frame(streams["book_ticker"]["doc_sample"]["push"])
    assert book is not None and (book.bid, book.ask) == (D("121584.1"), D("121584.3"))
    mark = parse_market_frame(streams["mark_price"]["doc_sample"]["push"])
    assert mark is not None and mark.mark == D("121570.0")
    last = parse_market_frame(streams["last_price"]["doc_sample"]["push"])
    assert last is not None and last.last == D("121485.9")
    assert parse_market_frame({"id": "x", "code": 0, "msg": "", "dataType": "", "data": None}) is None


def test_acks_of_every_era_and_both_spellings() -> None:
    for example in fixture("place_order.json")["ack_examples_over_time"]:
        ack = parse_ack(example["response"]["data"])
        assert ack.venue_order_id.isdigit() and len(ack.venue_order_id) >= 19
    flat = fixture("place_order.json")["ack_examples_over_time"][-1]["response"]["data"]
    ack = parse_ack(dict(flat, clientOrderId="", clientOrderID="T00001-E1"))
    assert ack.client_order_id == "t00001-e1"
    assert ack.status is OrderStatus.NEW and ack.avg_price == 0


def test_order_objects() -> None:
    q = fixture("query_order.json")["ccxt_fixture_samples"][0]["response"]["data"]
    report = parse_order(q)
    assert report.status is OrderStatus.FILLED
    assert (report.cum_qty, report.avg_price, report.commission) == (
        D("0.1"), D("83.71"), D("0.004186"))
    cancelled = parse_order(fixture("cancel_order.json")["official"]["responseBody"]["data"])
    assert cancelled.status is OrderStatus.CANCELED
    rows = list_of(fixture("open_orders.json")["official"]["responseBody"]["data"], "o", "orders")
    assert [parse_order(r).status for r in rows] == [OrderStatus.NEW, OrderStatus.NEW]


def test_fill_rows_income_positions_balance_contracts() -> None:
    fills = fixture("fills.json")
    row = parse_fill_row(fills["official_allFillOrders"]["responseBody"]["data"]["fill_orders"][0])
    assert (row.qty, row.price, row.commission) == (D("4.10"), D("3.1088"), D("0.0025"))
    assert row.ts_ms == 1702731516000  # 20:58:36 +08:00
    out = fills_from_rows([row], {row.venue_order_id: ("t00001-e1", D("1"))})
    assert out[0].cum_qty == D("5.10") and out[0].client_order_id == "t00001-e1"
    inc = fixture("income.json")["ccxt_fetchFundingHistory"]["recorded_response_2026"]["httpResponse"]["data"][0]
    paid = parse_income_row(inc)
    assert paid.funding_id == "1769048666279853387_310_1941328" and paid.amount == D("-0.00056154")
    pos = parse_position(fixture("positions.json")["official"]["responseBody"]["data"][0], 0)
    assert (pos.side, pos.quantity, pos.entry_price) == (Side.SHORT, D("0.20"), D("246.43"))
    bal = parse_balance(fixture("balance.json")["official_v3"]["responseBody"]["data"], "USDT", 0)
    assert (bal.balance, bal.available) == (D("194.8212"), D("193.7609"))
    legacy = parse_balance(fixture("balance.json")["legacy_v2_sample"]["response"]["data"], "USDT", 0)
    assert legacy.balance == D("51.5198")
    for sample in (fixture("contracts.json")["official"]["responseBody"]["data"][0],
                   fixture("contracts.json")["ccxt_code_comment_sample"]["response"]["data"][0]):
        inst = parse_contract(sample)
        assert (inst.tick, inst.step, inst.min_qty, inst.min_notional) == (
            D("0.1"), D("0.0001"), D("0.0001"), D("2"))


_TRANSFER_ROW = {"symbol": "", "incomeType": "TRANSFER", "income": "-20.25", "asset": "USDT",
                 "info": "TRANSFER", "time": "1769241660000", "tranId": "1769048666279853387_310_77",
                 "tradeId": ""}


def test_transfer_income_row_keeps_the_sign_the_tran_id_and_the_asset() -> None:
    moved = parse_transfer_row(_TRANSFER_ROW)
    assert (moved.transfer_id, moved.asset, moved.amount) == ("1769048666279853387_310_77", "USDT", D("-20.25"))
    assert moved.ts == 1769241660000 * 1_000_000
    assert parse_transfer_row(dict(_TRANSFER_ROW, tranId=1769048666279853387)).transfer_id == "1769048666279853387"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"tranId": None}, "tranId"),
        ({"tranId": ""}, "tranId"),
        ({"tranId": 1.5}, "tranId"),
        ({"income": "ten"}, "income"),
        ({"income": "Infinity"}, "income"),
        ({"income": None}, "income"),
        ({"asset": None}, "asset"),
        ({"time": "yesterday"}, "time"),
        ({"time": None}, "time"),
    ],
)
def test_bad_transfer_income_row_names_the_field(change: dict[str, Any], field: str) -> None:
    row = {k: v for k, v in {**_TRANSFER_ROW, **change}.items() if v is not None}
    with pytest.raises(BingxParseError) as info:
        parse_transfer_row(row)
    assert info.value.field == field and field in str(info.value)
    with pytest.raises(BingxParseError):
        parse_transfer_row(["not", "a", "row"])


@pytest.mark.parametrize("raw", ["１２", "١٢", "1_000", "0.5\u00a0", "²", "12\u0660"],
                         ids=["full-width", "arabic-indic", "underscore", "nbsp", "superscript", "mixed"])
def test_a_decimal_field_in_other_than_ascii_digits_is_a_parse_error_naming_the_field(raw: str) -> None:
    """``Decimal`` reads "１２" (full-width) as 12 and "1_000" as 1000: a fill of 12 or a fee of
    1000 from a garbled field. A venue's number is ASCII digits."""
    row = {"symbol": "BTC-USDT", "orderId": "1", "volume": raw, "price": "100", "filledTime": 1}
    with pytest.raises(BingxParseError) as info:
        parse_fill_row(row)
    assert info.value.field == "volume" and repr(raw) in str(info.value)
    frame = _update("TRADE", "FILLED", "1", "100")
    frame["o"]["z"] = raw
    with pytest.raises(BingxParseError, match="'z'"):
        parse_user_frame(frame)


@pytest.mark.parametrize(("raw", "value"), [("12", D(12)), (" -0.50 ", D("-0.50")), ("+3", D(3)), ("1E-8", D("1E-8")),
                                            (".5", D("0.5")), ("5.", D(5))])
def test_a_decimal_field_in_ascii_reads_as_before(raw: str, value: Decimal) -> None:
    row = {"symbol": "BTC-USDT", "orderId": "1", "volume": raw, "price": "100", "filledTime": 1}
    assert parse_fill_row(row).qty == value

"""Reading and booking BingX income rows (``user/income``): the parse level, and the adapter
against the scripted server over loopback."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest
from bingx_fake import FakeBingx, ok

from pink.errors import VenueError
from pink.venues.bingx.fields import BingxParseError
from pink.venues.bingx.income import booked_income, parse_any_income_row
from pink.venues.bingx.venue import BingxVenue

D = Decimal
INCOME = "/openApi/swap/v2/user/income"
_FUNDING = {"symbol": "LTC-USDT", "incomeType": "FUNDING_FEE", "income": "-0.00056154", "asset": "USDT",
            "info": "Funding Fee", "time": 1769241660000, "tranId": "1769048666279853387_310_1941328",
            "tradeId": "1769048666279853387_310_1941312"}
_TRANSFER = {"symbol": "", "incomeType": "TRANSFER", "income": "250", "asset": "USDT", "info": "TRANSFER",
             "time": 1769241650000, "tranId": "1769048666279853387_310_77", "tradeId": ""}


def _keyless(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k != "tranId"}


@pytest.fixture
async def venue(fake: FakeBingx) -> AsyncIterator[BingxVenue]:
    v = BingxVenue(fake.config(), fill_watch_s=0.2)
    await v.start(lambda _e: None)
    try:
        yield v
    finally:
        await v.close()


def test_a_row_without_a_tran_id_has_a_stable_key_from_its_own_fields() -> None:
    """Its key is the same at every read (the same fields), and differs when any field does."""
    row = _keyless(_FUNDING)
    key = parse_any_income_row(row).key
    assert key and key == parse_any_income_row(dict(row)).key
    assert key == parse_any_income_row(dict(row, income="-0.000561540")).key  # the same amount
    assert key == parse_any_income_row(dict(row, time=str(row["time"]))).key  # the same time
    for change in ({"time": 1769241660001}, {"incomeType": "TRANSFER"}, {"asset": "USDC"},
                   {"symbol": "BTC-USDT"}, {"income": "-0.00056155"}, {"info": "Funding Fee 2"}):
        assert parse_any_income_row(dict(row, **change)).key != key, change
    assert parse_any_income_row(_FUNDING).key == _FUNDING["tranId"]  # a row with one is known by it


def test_funding_and_transfer_rows_without_a_tran_id_are_booked_by_their_key_with_the_others() -> None:
    """One such row refused the whole read: nothing in the window was booked, and a start
    failed until the row left the window."""
    rows = [parse_any_income_row(r) for r in (_keyless(_TRANSFER), _TRANSFER, _keyless(_FUNDING), _FUNDING)]
    moved = booked_income(rows, "USDT")
    assert [f.funding_id for f in moved.funding] == [rows[2].key, _FUNDING["tranId"]]
    assert [t.transfer_id for t in moved.transfers] == [rows[0].key, _TRANSFER["tranId"]]
    assert [f.amount for f in moved.funding] == [D("-0.00056154")] * 2


async def test_a_row_without_a_tran_id_is_booked_once_over_overlapping_reads_and_named_once(
    fake: FakeBingx, venue: BingxVenue, caplog: pytest.LogCaptureFixture
) -> None:
    listed = [_keyless(_FUNDING), _TRANSFER]  # newest first
    fake.on("GET", INCOME, lambda _r, _p: ok(list(listed)))
    caplog.set_level(logging.WARNING, logger="pink.venues.bingx")
    first = await venue.money_since(0)
    assert [t.transfer_id for t in first.transfers] == [_TRANSFER["tranId"]]
    (paid,) = first.funding
    assert paid.amount == D("-0.00056154") and paid.symbol == "LTC-USDT"
    named = [r.getMessage() for r in caplog.records if "tranId" in r.getMessage() and "without" in r.getMessage()]
    assert len(named) == 1, named
    assert "FUNDING_FEE" in named[0] and "-0.00056154" in named[0] and paid.funding_id in named[0]
    caplog.clear()
    listed.insert(0, dict(_FUNDING, time=1769241670000, tranId="later-1"))  # a later, overlapping window
    again = await venue.money_since(1769241650000 * 1_000_000)
    assert [f.funding_id for f in again.funding] == [paid.funding_id, "later-1"]  # the same key: booked once
    assert not [r for r in caplog.records if "without" in r.getMessage()]


@pytest.mark.parametrize(
    ("change", "field"),
    [({"income": "ten"}, "income"), ({"income": ""}, "income"), ({"income": "NaN"}, "income"),
     ({"income": None}, "income"), ({"income": [1]}, "income"), ({"time": "yesterday"}, "time"),
     ({"time": None}, "time"), ({"incomeType": 7}, "incomeType")],
)
def test_an_unreadable_income_row_is_an_error_naming_the_row_and_the_field(change: dict[str, Any], field: str) -> None:
    """The error named the field only ("bad BingX income row: field 'income' ..."): of the
    hundreds of rows in a window, the trader could not tell which one BingX sent wrong."""
    row = {k: v for k, v in {**_FUNDING, **change}.items() if v is not None}
    with pytest.raises(BingxParseError) as info:
        parse_any_income_row(row)
    text = str(info.value)
    assert info.value.field == field and repr(field) in text
    assert _FUNDING["tranId"] in text and "LTC-USDT" in text, text
    keyless = {k: v for k, v in row.items() if k != "tranId"}
    with pytest.raises(BingxParseError, match="no tranId"):
        parse_any_income_row(keyless)


async def test_a_read_with_an_unreadable_row_fails_naming_it(fake: FakeBingx, venue: BingxVenue) -> None:
    fake.reply("GET", INCOME, [_TRANSFER, dict(_FUNDING, income="1,5")])
    with pytest.raises(VenueError, match=r"1769048666279853387_310_1941328.*'income' is not a number: '1,5'"):
        await venue.money_since(0)


def test_a_transfer_row_without_an_asset_or_in_other_case_is_the_accounts_like_funding() -> None:
    """A funding row without an asset was the account's, a transfer row without one went to the
    kernel with no asset and was refused as another asset's: the deposit was never booked. The
    same for ``usdt`` (the kernel compares exactly). A transfer of another asset stays as it is."""
    rows = [parse_any_income_row(dict(_TRANSFER, asset=a, tranId=f"t-{a}")) for a in ("", "usdt", "USDC")]
    moved = booked_income(rows, "USDT")
    assert [(t.transfer_id, t.asset) for t in moved.transfers] == [("t-", "USDT"), ("t-usdt", "USDT"),
                                                                   ("t-USDC", "USDC")]


_FEE = {"symbol": "LTC-USDT", "incomeType": "TRADING_FEE", "income": "1,5", "asset": "USDT", "info": "Closing Fee",
        "time": 1769241655000, "tranId": "1769048666279853387_310_1941400_COMMISSION", "tradeId": ""}


@pytest.mark.parametrize("odd", [_FEE, dict(_FEE, incomeType="REALIZED_PNL", income=None),
                                 dict(_FEE, incomeType="ADL", time="yesterday"), _keyless(dict(_FEE, income="ten"))],
                         ids=["fee", "pnl-no-amount", "adl-bad-time", "fee-no-tranid"])
async def test_an_unreadable_row_of_a_type_pink_does_not_book_is_named_once_and_the_others_are_booked(
    fake: FakeBingx, venue: BingxVenue, caplog: pytest.LogCaptureFixture, odd: dict[str, Any]
) -> None:
    """One such row failed the whole read: the funding and transfers of its window were never
    booked, and a start failed until it left the window."""
    odd = {k: v for k, v in odd.items() if v is not None}
    fake.reply("GET", INCOME, [_FUNDING, odd, _TRANSFER])
    caplog.set_level(logging.WARNING, logger="pink.venues.bingx")
    for _ in range(2):  # a later, overlapping read: named once
        moved = await venue.money_since(0)
        assert [f.funding_id for f in moved.funding] == [_FUNDING["tranId"]]
        assert [t.transfer_id for t in moved.transfers] == [_TRANSFER["tranId"]]
    named = [r.getMessage() for r in caplog.records if "is skipped" in r.getMessage()]
    assert len(named) == 1, named
    assert odd["incomeType"] in named[0] and "LTC-USDT" in named[0], named
    assert ("ADL" in venue.unbooked_income) == (odd["incomeType"] == "ADL")  # it moved the wallet unbooked


@pytest.mark.parametrize("odd", [dict(_FUNDING, income="1,5"), dict(_TRANSFER, time="yesterday"),
                                 dict(_FEE, incomeType=7), _keyless(dict(_FEE, incomeType=""))],
                         ids=["funding", "transfer", "type-unreadable", "no-type"])
async def test_an_unreadable_row_that_may_be_funding_or_a_transfer_still_fails_the_read(
    fake: FakeBingx, venue: BingxVenue, odd: dict[str, Any]
) -> None:
    fake.reply("GET", INCOME, [_FUNDING, odd, _TRANSFER])
    with pytest.raises(VenueError, match="income row"):
        await venue.money_since(0)


async def test_a_full_page_of_only_unreadable_rows_is_an_error_not_a_skip_to_the_windows_start(
    fake: FakeBingx, venue: BingxVenue
) -> None:
    """With no readable row, the page's oldest time was taken as the window's start: the next
    page asked for that millisecond only, and every row between was never listed."""
    rows = [dict(_FEE, tranId=f"fee-{i}", time=1699999000000 + i) for i in range(1000)]  # (its clock: 17e11)
    rows += [dict(_TRANSFER, time=1699998000000)]  # older than all of them: on the next page

    def listed(_r: Any, p: dict[str, str]) -> Any:  # the newest ``limit`` rows of the window
        start, end, limit = int(p["startTime"]), int(p["endTime"]), int(p["limit"])
        return ok(sorted((r for r in rows if start <= r["time"] <= end), key=lambda r: -r["time"])[:limit])

    fake.on("GET", INCOME, listed)
    with pytest.raises(VenueError, match="INCOME_PAGING"):
        await venue.money_since(1699990000000 * 1_000_000)


def test_a_transfer_row_of_zero_is_not_handed_to_the_kernel_like_funding_of_zero() -> None:
    """It moves nothing, and the kernel refuses a transfer of 0 (a protocol error) at every
    read of its window, as it would funding of 0 (which was already left out)."""
    rows = [parse_any_income_row(dict(_TRANSFER, income=z, tranId=f"t{i}")) for i, z in enumerate(("0", "0.00"))]
    rows.append(parse_any_income_row(_TRANSFER))
    assert [t.transfer_id for t in booked_income(rows, "USDT").transfers] == [_TRANSFER["tranId"]]


def test_a_row_with_its_tranid_carries_the_key_it_would_have_had_without_one() -> None:
    """A row BingX once listed without its ``tranId`` was booked by a key made from its fields;
    listed again with it, the kernel must know it is the same movement (a chaos trial booked a
    deposit twice): each booked row carries that key as its ``alt_id``."""
    keyed = [parse_any_income_row(_TRANSFER), parse_any_income_row(_FUNDING)]
    keyless = [parse_any_income_row({k: v for k, v in r.items() if k != "tranId"}) for r in (_TRANSFER, _FUNDING)]
    moved, bare = booked_income(keyed, "USDT"), booked_income(keyless, "USDT")
    assert [t.alt_id for t in moved.transfers] == [t.transfer_id for t in bare.transfers]
    assert [f.alt_id for f in moved.funding] == [f.funding_id for f in bare.funding]
    assert moved.transfers[0].transfer_id == _TRANSFER["tranId"] and bare.transfers[0].alt_id == ""
    assert bare.transfers[0].transfer_id.startswith("notranid:")

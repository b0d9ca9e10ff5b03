"""Deposits, withdrawals and transfers move capital once per venue id, never PnL."""

from __future__ import annotations

import json
from decimal import Decimal as D
from pathlib import Path

import pytest

from pink.journal import JournaledKernel, replay_records
from pink.kernel import Kernel, KernelConfig, OutcomeStatus
from pink.kernel.messages import FundsTransferred, ProtocolErrorRecorded, Settlement, SettlementKind
from tests.kernel.harness import INSTRUMENTS, Driver, round_trip


def _moved(tid: str, amount: str, asset: str = "USDT") -> FundsTransferred:
    return FundsTransferred(tid, asset, D(amount), 0)


def test_a_deposit_raises_capital_once_and_leaves_pnl_alone() -> None:
    d = Driver()
    round_trip(d)  # some PnL and fees first
    before = d.k.account_view()
    out = d.apply(_moved("tr-1", "250.5"))
    assert out.status is OutcomeStatus.CONFIRMED
    (entry,) = out.records
    assert isinstance(entry, Settlement) and entry.kind is SettlementKind.TRANSFER
    assert (entry.amount, entry.fee, entry.slot, entry.cause) == (D("250.5"), 0, -1, "transfer:tr-1")
    assert entry.capital_before == before.capital and entry.capital_after == before.capital + D("250.5")
    after = d.k.account_view()
    assert after.transfers == D("250.5")
    assert (after.gross_pnl, after.fees, after.funding, after.net_pnl) == (
        before.gross_pnl, before.fees, before.funding, before.net_pnl)
    d.assert_books_balance()
    # the push and the reconcile both report it, or a restarted adapter reports it again
    again = d.apply(_moved("tr-1", "250.5"))
    assert again.status is OutcomeStatus.DUPLICATE and not again.records
    assert d.k.account_view().capital == after.capital


def test_a_withdrawal_lowers_capital_and_new_entries_are_sized_from_what_is_left() -> None:
    d = Driver(capital="1000")
    d.apply(_moved("w-1", "-400"))
    a = d.k.account_view()
    assert a.capital == D(600) and a.transfers == D(-400) and a.net_pnl == 0
    (entry,) = d.settlements()
    assert entry.amount == D(-400) and entry.capital_after == D(600)
    d.apply(_moved("d-1", "100"))
    assert d.k.account_view().capital == D(700) and d.k.account_view().transfers == D(-300)
    d.assert_books_balance()


def test_a_transfer_in_another_asset_is_not_booked_but_alerts_once() -> None:
    d = Driver()
    out = d.apply(_moved("tr-9", "5", asset="VST"))
    assert out.status is OutcomeStatus.CONFIRMED
    (alert,) = out.records
    assert isinstance(alert, ProtocolErrorRecorded) and "VST" in alert.detail and "USDT" in alert.detail
    assert d.k.account_view().capital == D(10000) and d.k.account_view().transfers == 0
    assert d.apply(_moved("tr-9", "5", asset="VST")).status is OutcomeStatus.DUPLICATE


@pytest.mark.parametrize(
    ("event", "named"),
    [
        (FundsTransferred("", "USDT", D(1), 0), "transfer_id"),
        (FundsTransferred("t", "USDT", D(0), 0), "amount"),
        (FundsTransferred("t", "USDT", D("NaN"), 0), "amount"),
        (FundsTransferred("t", "USDT", D("Infinity"), 0), "amount"),
        (FundsTransferred("t", "USDT", 5, 0), "amount"),  # type: ignore[arg-type]
        (FundsTransferred("t", "USDT", D("0.0000000000001"), 0), "amount"),
        (FundsTransferred("t", None, D(1), 0), "asset"),  # type: ignore[arg-type]
    ],
)
def test_a_malformed_transfer_is_quarantined_and_changes_nothing(event: FundsTransferred, named: str) -> None:
    d = Driver()
    before = d.k.snapshot()
    out = d.apply(event)
    assert out.status is OutcomeStatus.QUARANTINED and named in out.detail
    # said, not silent: an alert (a ledger row), naming the movement and what was wrong with it
    (alert,) = out.records
    assert isinstance(alert, ProtocolErrorRecorded) and alert.detail == out.detail and named in alert.detail
    assert d.k.snapshot() == before  # not even the id is remembered: a corrected report can still book
    assert d.apply(FundsTransferred("t", "USDT", D(1), 0)).status is OutcomeStatus.CONFIRMED


def test_a_deposit_and_funding_of_more_than_12_digits_book_exactly() -> None:
    """BingX sends money with 8 decimals: a deposit of 12345.67890123 has 13 significant digits.
    Money moved is only added to capital (no product is formed of it), so it is held to 12
    decimals and 1e12, not to 12 digits: it was refused, at every read, and capital stayed short
    of the wallet for good."""
    from pink.kernel.messages import FundingPaid

    d = Driver(capital="1000")
    assert d.apply(_moved("big", "12345.67890123")).status is OutcomeStatus.CONFIRMED
    assert d.apply(FundingPaid("f-big", "BTC-USDT", D("-1234.567890123"), 0)).status is OutcomeStatus.CONFIRMED
    a = d.k.account_view()
    assert a.capital == D("1000") + D("12345.67890123") - D("1234.567890123")
    assert (a.transfers, a.funding) == (D("12345.67890123"), D("-1234.567890123"))
    d.assert_books_balance()
    for amount in ("1000000000000.1", "0.0000000000001"):  # above 1e12, more than 12 decimals: refused
        assert d.apply(_moved(f"x{amount}", amount)).status is OutcomeStatus.QUARANTINED


def test_transfers_survive_a_snapshot_and_an_older_snapshot_still_restores() -> None:
    d = Driver()
    d.apply(_moved("tr-1", "10"))
    k = Kernel.restore(json.loads(json.dumps(d.k.snapshot())))
    assert k.account_view().transfers == D(10) and k.account_view().capital == D(10010)
    assert k.apply(_moved("tr-1", "10"), 5).status is OutcomeStatus.DUPLICATE
    old = Driver().k.snapshot()
    acct = old["account"]
    acct["adjustments"] = acct.pop("transfers")  # format 3 named the (always zero) field so
    del acct["transfer_ids"]
    old["format"] = 3
    restored = Kernel.restore(old)
    assert restored.account_view().transfers == 0
    assert restored.apply(_moved("tr-2", "3"), 5).status is OutcomeStatus.CONFIRMED


def test_a_transfer_is_journaled_first_and_replayed_after_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    cfg = KernelConfig(slots=2, initial_capital=D(10000))
    jk = JournaledKernel.open(path, cfg, INSTRUMENTS)
    jk.apply(_moved("tr-1", "-2500"), 1)
    jk.journal.close()  # no final snapshot, as if the process had died
    (entry,) = [r for r in replay_records(path) if isinstance(r, Settlement)]
    assert entry.kind is SettlementKind.TRANSFER and entry.amount == D(-2500)
    again = JournaledKernel.open(path, cfg, INSTRUMENTS)
    try:
        assert again.kernel.account_view().capital == D(7500)
        assert again.apply(_moved("tr-1", "-2500"), 2).status is OutcomeStatus.DUPLICATE
    finally:
        again.close()


def test_a_movement_booked_by_its_fields_is_not_booked_again_under_its_venue_id_nor_the_reverse() -> None:
    """A venue row listed once without its id is booked by a key made from its fields; listed
    again with its id (``alt_id``: that key), it is the same movement, whichever came first.
    Two movements with their own ids whose fields are alike are two."""
    from pink.kernel.messages import FundingPaid

    d = Driver(capital="1000")
    assert d.apply(_moved("fields-1", "5")).status is OutcomeStatus.CONFIRMED
    again = d.apply(FundsTransferred("tr-1", "USDT", D(5), 0, alt_id="fields-1"))
    assert again.status is OutcomeStatus.DUPLICATE and not again.records
    assert d.apply(FundsTransferred("tr-2", "USDT", D(7), 0, alt_id="fields-2")).status is OutcomeStatus.CONFIRMED
    assert d.apply(_moved("fields-2", "7")).status is OutcomeStatus.DUPLICATE
    twin = d.apply(FundsTransferred("tr-3", "USDT", D(7), 0, alt_id="fields-2"))  # its own id: another one
    assert twin.status is OutcomeStatus.CONFIRMED
    assert d.apply(FundingPaid("f-fields", "BTC-USDT", D("-0.5"), 0)).status is OutcomeStatus.CONFIRMED
    assert d.apply(FundingPaid("f-1", "BTC-USDT", D("-0.5"), 0, alt_id="f-fields")).status is OutcomeStatus.DUPLICATE
    assert d.apply(FundingPaid("f-2", "BTC-USDT", D("-0.25"), 0, alt_id="f-fields2")).status is OutcomeStatus.CONFIRMED
    assert d.apply(FundingPaid("f-fields2", "BTC-USDT", D("-0.25"), 0)).status is OutcomeStatus.DUPLICATE
    a = d.k.account_view()
    assert (a.capital, a.transfers, a.funding) == (D("1018.25"), D(19), D("-0.75"))
    restored = Kernel.restore(json.loads(json.dumps(d.k.snapshot())))
    assert restored.apply(_moved("fields-2", "7"), 1).status is OutcomeStatus.DUPLICATE
    d.assert_books_balance()


def test_a_funding_payment_the_kernel_cannot_book_is_said_naming_it() -> None:
    from pink.kernel.messages import FundingPaid

    d = Driver()
    out = d.apply(FundingPaid("f-bad", "BTC-USDT", D("0.0000000000001"), 0))
    assert out.status is OutcomeStatus.QUARANTINED and "f-bad" in out.detail and "decimal places" in out.detail
    (alert,) = out.records
    assert isinstance(alert, ProtocolErrorRecorded) and alert.cause == "funding:f-bad"

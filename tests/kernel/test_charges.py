"""Fees charged outside fills (a liquidation's clearance fee) lower capital once per venue id (E18)."""

from __future__ import annotations

import json
from decimal import Decimal as D
from pathlib import Path

import pytest

from pink.codec import decode_named, encode, type_name
from pink.journal import JournaledKernel, replay_records
from pink.kernel import FeeCharged, Kernel, KernelConfig, OutcomeStatus
from pink.kernel.messages import ProtocolErrorRecorded, Settlement, SettlementKind
from pink.kernel.snapshot import SNAPSHOT_FORMAT
from tests.kernel.harness import INSTRUMENTS, Driver, round_trip


def _charged(cid: str, amount: str, asset: str = "USDT") -> FeeCharged:
    return FeeCharged(cid, "BTC-USDT", asset, D(amount), 0, "Strong liquidation")


def test_e18_a_liquidation_fee_lowers_capital_and_raises_fees_once() -> None:
    d = Driver()
    round_trip(d)
    before = d.k.account_view()
    out = d.apply(_charged("liq-1", "2.375"))
    assert out.status is OutcomeStatus.CONFIRMED
    (entry,) = out.records
    assert isinstance(entry, Settlement) and entry.kind is SettlementKind.ADJUSTMENT
    assert (entry.amount, entry.fee, entry.slot, entry.trade_id, entry.cause) == (
        0, D("2.375"), -1, "", "charge:liq-1")
    assert entry.capital_before == before.capital and entry.capital_after == before.capital - D("2.375")
    after = d.k.account_view()
    assert after.fees == before.fees + D("2.375") and after.net_pnl == before.net_pnl - D("2.375")
    assert (after.gross_pnl, after.funding, after.transfers) == (before.gross_pnl, before.funding, before.transfers)
    d.assert_books_balance()
    # the push and the reconcile both report it, or a restarted adapter reports it again
    again = d.apply(_charged("liq-1", "2.375"))
    assert again.status is OutcomeStatus.DUPLICATE and not again.records
    assert d.k.account_view().capital == after.capital


def test_e18_a_refunded_charge_raises_capital() -> None:
    d = Driver()
    d.apply(_charged("liq-r", "-1.5"))
    a = d.k.account_view()
    assert a.capital == D("10001.5") and a.fees == D("-1.5")
    d.assert_books_balance()


def test_e18_a_charge_in_another_asset_is_not_booked_but_alerts_once() -> None:
    d = Driver()
    out = d.apply(_charged("liq-9", "5", asset="VST"))
    assert out.status is OutcomeStatus.CONFIRMED
    (alert,) = out.records
    assert isinstance(alert, ProtocolErrorRecorded) and "VST" in alert.detail and "USDT" in alert.detail
    assert alert.cause == "charge:liq-9"
    assert d.k.account_view().capital == D(10000) and d.k.account_view().fees == 0
    assert d.apply(_charged("liq-9", "5", asset="VST")).status is OutcomeStatus.DUPLICATE


@pytest.mark.parametrize(
    ("event", "named"),
    [
        (FeeCharged("", "BTC-USDT", "USDT", D(1), 0), "charge_id"),
        (FeeCharged(None, "BTC-USDT", "USDT", D(1), 0), "charge_id"),  # type: ignore[arg-type]
        (FeeCharged("c", "BTC-USDT", "USDT", D(0), 0), "amount"),
        (FeeCharged("c", "BTC-USDT", "USDT", D("NaN"), 0), "amount"),
        (FeeCharged("c", "BTC-USDT", "USDT", D("-Infinity"), 0), "amount"),
        (FeeCharged("c", "BTC-USDT", "USDT", 5, 0), "amount"),  # type: ignore[arg-type]
        (FeeCharged("c", "BTC-USDT", "USDT", D("0.0000000000001"), 0), "amount"),
        (FeeCharged("c", "BTC-USDT", None, D(1), 0), "asset"),  # type: ignore[arg-type]
        (FeeCharged("c", None, "USDT", D(1), 0), "symbol"),  # type: ignore[arg-type]
        (FeeCharged("c", "BTC-USDT", "USDT", D(1), 0, None), "note"),  # type: ignore[arg-type]
    ],
)
def test_e18_a_malformed_charge_is_quarantined_and_changes_nothing(event: FeeCharged, named: str) -> None:
    d = Driver()
    before = d.k.snapshot()
    out = d.apply(event)
    assert out.status is OutcomeStatus.QUARANTINED and named in out.detail
    assert d.k.snapshot() == before  # not even the id is remembered: a corrected report can still book
    assert d.apply(FeeCharged("c", "BTC-USDT", "USDT", D(1), 0)).status is OutcomeStatus.CONFIRMED


def test_e18_charges_survive_a_snapshot_and_an_older_snapshot_still_restores() -> None:
    d = Driver()
    d.apply(_charged("liq-1", "3"))
    snap = d.k.snapshot()
    assert snap["format"] == SNAPSHOT_FORMAT and snap["account"]["charge_ids"] == ["liq-1"]
    k = Kernel.restore(json.loads(json.dumps(snap)))
    assert k.snapshot() == snap
    assert k.account_view().capital == D(9997) and k.account_view().fees == D(3)
    assert k.apply(_charged("liq-1", "3"), 5).status is OutcomeStatus.DUPLICATE
    old = Driver().k.snapshot()
    del old["account"]["charge_ids"]
    old["format"] = 6
    restored = Kernel.restore(old)
    assert restored.account.charge_ids == set()
    assert restored.apply(_charged("liq-2", "1"), 5).status is OutcomeStatus.CONFIRMED
    seven = json.loads(json.dumps(snap))  # format 7: charge ids, before the denial times and the spans' prices
    seven["format"] = 7
    assert Kernel.restore(seven).account.charge_ids == {"liq-1"}


def test_e18_a_charge_round_trips_the_codec_by_name() -> None:
    ev = _charged("liq-1", "0.5")
    assert decode_named(type_name(ev), encode(ev)) == ev


def test_e18_a_charge_is_journaled_first_and_replayed_after_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    cfg = KernelConfig(slots=2, initial_capital=D(10000))
    jk = JournaledKernel.open(path, cfg, INSTRUMENTS)
    jk.apply(_charged("liq-1", "4.25"), 1)
    jk.journal.close()  # no final snapshot, as if the process had died
    (entry,) = [r for r in replay_records(path) if isinstance(r, Settlement)]
    assert entry.kind is SettlementKind.ADJUSTMENT and entry.fee == D("4.25")
    again = JournaledKernel.open(path, cfg, INSTRUMENTS)
    try:
        assert again.kernel.account_view().capital == D("9995.75")
        assert again.apply(_charged("liq-1", "4.25"), 2).status is OutcomeStatus.DUPLICATE
    finally:
        again.close()

"""A journal written once by PINK (snapshot format 9) and kept: every later PINK must restore it to
the same books. A refactor of the kernel, its snapshots or the journal that cannot read an old
journal any more, or reads it to other books, fails here, not at a trader's restart.

``tests/fixtures/journal/format9.sqlite`` was written by :func:`write` (run this module as a
script with a path); never write it again: add a new fixture for a new format instead.
"""

from __future__ import annotations

import shutil
import sys
from decimal import Decimal as D
from pathlib import Path

from pink.journal import JournaledKernel, read_journal_records, replay_records
from pink.kernel import (
    Action,
    ControlSnapshot,
    Intent,
    KernelConfig,
    OrderAccepted,
    OrderFilled,
    OrderStatus,
    OrderStatusReport,
    Settlement,
    Side,
    SlotState,
    TradeClosed,
)
from tests.kernel.harness import BTC, INSTRUMENTS, place

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "journal" / "format9.sqlite"
CFG = KernelConfig(slots=3, initial_capital=D("10000"))


def write(path: Path) -> None:
    """The fixture's story: a long closed in two legs, a short entered in two partial fills with
    one exit leg filled (still open), a refused re-use of a trade id, a control change, a
    status report, and a DOGE long entered and closed in partial fills; a snapshot every 10
    messages and one at the close."""
    jk = JournaledKernel.open(path, CFG, INSTRUMENTS, snapshot_every=10)
    now = 1_700_000_000_000_000_000

    def fill(cid: str, fid: str, qty: str, px: str, cum: str, fee: str) -> None:
        nonlocal now
        now += 1_000_000
        jk.apply(OrderFilled(cid, f"v-{cid}", fid, D(qty), D(px), D(cum), D(fee), "USDT", now), now)

    out = jk.submit(Intent(Action.ENTER, 0, "long1", "i1", asset=BTC, side=Side.LONG, quantity=D("0.500"),
                           exit_legs=(D("0.5"), D("0.5"))), now)  # fmt: skip
    cid = place(out).client_order_id
    jk.apply(OrderAccepted(cid, f"v-{cid}", now + 1), now + 1)
    fill(cid, "f1", "0.500", "60000.0", "0.500", "0.15")
    for leg, px in enumerate(("60500.0", "61000.3")):
        now += 1_000_000
        e = place(jk.submit(Intent(Action.EXIT, 0, "long1", f"x{leg}"), now))
        jk.apply(OrderAccepted(e.client_order_id, f"v-{e.client_order_id}", now + 1), now + 1)
        fill(e.client_order_id, f"g{leg}", str(e.quantity), px, str(e.quantity), "0.0605")
    now += 1_000_000
    jk.submit(Intent(Action.ENTER, 1, "long1", "i2", asset=BTC, side=Side.LONG, quantity=D("0.100")), now)  # refused
    jk.set_control(ControlSnapshot(version=1, max_position_notional=D("100000"), changed_by="fixture"), now)
    now += 1_000_000
    out = jk.submit(Intent(Action.ENTER, 1, "short1", "i3", asset=BTC, side=Side.SHORT, quantity=D("0.300"),
                           reference_price=D("61200"), exit_legs=(D("0.5"), D("0.5"))), now)  # fmt: skip
    cid = place(out).client_order_id
    jk.apply(OrderAccepted(cid, f"v-{cid}", now + 1), now + 1)
    fill(cid, "h1", "0.100", "61200.0", "0.100", "0.03")
    fill(cid, "h2", "0.200", "61100.5", "0.300", "0.061")
    now += 1_000_000
    jk.apply(OrderStatusReport(cid, f"v-{cid}", OrderStatus.FILLED, D("0.300"), D("0.300"), D("61133.66666666"),
                               D("0.091"), now), now)  # fmt: skip
    now += 1_000_000
    e = place(jk.submit(Intent(Action.EXIT, 1, "short1", "x2"), now))
    jk.apply(OrderAccepted(e.client_order_id, f"v-{e.client_order_id}", now + 1), now + 1)
    fill(e.client_order_id, "k1", str(e.quantity), "60900.0", str(e.quantity), "0.045")
    now += 1_000_000
    out = jk.submit(Intent(Action.ENTER, 2, "doge1", "i4", asset="DOGE-USDT", side=Side.LONG, quantity=D("1000"),
                           reference_price=D("0.1"), exit_legs=(D(1),)), now)  # fmt: skip
    cid = place(out).client_order_id
    jk.apply(OrderAccepted(cid, f"v-{cid}", now + 1), now + 1)
    fill(cid, "d1", "400", "0.10010", "400", "0.02")
    fill(cid, "d2", "600", "0.10000", "1000", "0.03")
    now += 1_000_000
    e = place(jk.submit(Intent(Action.EXIT, 2, "doge1", "x3", close_all=True), now))
    jk.apply(OrderAccepted(e.client_order_id, f"v-{e.client_order_id}", now + 1), now + 1)
    fill(e.client_order_id, "d3", "700", "0.10120", "700", "0.035")
    fill(e.client_order_id, "d4", "300", "0.10100", "1000", "0.015")
    jk.tick(now + 60_000_000_000)
    jk.close()


def _restored(tmp_path: Path, *, snapshots: bool) -> JournaledKernel:
    tmp_path.mkdir()
    path = tmp_path / "journal.sqlite"
    shutil.copy(FIXTURE, path)
    if not snapshots:  # the whole replay from the initial kernel gives the same books
        jk = JournaledKernel.open(path, CFG, INSTRUMENTS)
        jk.journal.db.execute("DELETE FROM snapshots")
        jk.journal.close()
    return JournaledKernel.open(path, CFG, INSTRUMENTS)


def test_e26_a_journal_written_by_an_earlier_pink_restores_to_the_same_books(tmp_path: Path) -> None:
    for snapshots in (True, False):
        jk = _restored(tmp_path / str(snapshots), snapshots=snapshots)
        try:
            k = jk.kernel
            account = k.account_view()
            # long1: 0.500 long at 60000, out 0.25 at 60500 and 0.25 at 61000.3: 375.075, fees 0.15 + 2 x 0.0605;
            # short1: 0.300 short at 61133.6666667 (the kernel's VWAP), 0.150 bought back at 60900: 35.050000005,
            # fees 0.03 + 0.061 + 0.045; doge1: 1000 long at 0.10004, out at 0.10114: 1.1, fees 0.1
            assert account.gross_pnl == D("375.075") + D("35.050000005") + D("1.1")
            assert account.fees == D("0.271") + D("0.136") + D("0.1")
            assert account.capital == D("10000") + account.gross_pnl - account.fees == D("10410.718000005")
            assert [s.state for s in k.slots] == [SlotState.IDLE, SlotState.POSITION_OPEN, SlotState.IDLE]
            trade = k.slots[1].trade
            assert trade is not None and trade.trade_id == "short1" and trade.side is Side.SHORT
            assert (trade.entry_qty, trade.exit_qty, trade.entry_vwap) == (D("0.300"), D("0.150"), D("61133.6666667"))
            assert list(k.used_trade_ids) == ["long1", "short1", "doge1"]
            assert k.control.max_position_notional == D("100000")
        finally:
            jk.close()


def test_the_kept_journal_passes_the_audits_checks_and_replays_to_its_records() -> None:
    before = FIXTURE.read_bytes()
    records = read_journal_records(FIXTURE)
    replayed = [r for _seq, rs in records.messages() for r in rs]
    assert replayed == list(replay_records(FIXTURE))
    assert "messages 1 to 26 without a hole, each read and replayed; 3 snapshots equal to the replay" \
        in records.checked[0], records.checked  # fmt: skip
    closed = [(c.trade_id, c.gross_pnl, c.fees, c.net_pnl) for c in replayed if isinstance(c, TradeClosed)]
    assert closed == [("long1", D("375.075"), D("0.271"), D("374.804")), ("doge1", D("1.1"), D("0.1"), D("1.0"))]
    assert [s.seq for s in replayed if isinstance(s, Settlement)] == list(range(1, 11))
    assert FIXTURE.read_bytes() == before  # read only


if __name__ == "__main__":
    write(Path(sys.argv[1]))

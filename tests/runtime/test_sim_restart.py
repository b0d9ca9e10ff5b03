"""A restarted paper run gets a fresh in-process simulator: it must start from the journal's book."""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import pytest

from pink.kernel import Action, Intent, OrderType, QueryOrder, Side, TimeInForce
from pink.policy.base import Decision, MarginSizer, PolicySnapshot
from pink.runtime.config import RuntimeConfig
from pink.runtime.launcher import Launcher
from pink.venues.sim.venue import SimVenue
from tests.runtime.helpers import quiet_config


def _cfg(data: Path, cycles: int) -> RuntimeConfig:
    return quiet_config(data, slots=8, cycle_s=5.0, cycles=cycles, seed=4)


async def test_e26_restarted_paper_run_simulator_adopts_the_journals_capital_and_positions(tmp_path: Path) -> None:
    """Regression: the fresh simulator knew no positions, so every exit of a restored trade was refused."""
    first = Launcher(_cfg(tmp_path, 150))
    try:
        await first.start()
        await first.run()
    finally:
        await first.close()
    assert first.kernel is not None
    k = first.kernel.kernel
    exposure: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for i in range(len(k.slots)):
        v = k.slot_view(i)
        if v.side is not None and v.remaining_qty > 0:
            exposure[(v.symbol, v.side.value)] += v.remaining_qty
    capital = k.account_view().capital
    assert exposure, "the scenario should end with open positions (seed 4, 150 cycles)"

    second = Launcher(_cfg(tmp_path, 60))
    try:
        await second.start()
        assert second.venue is not None
        venue_pos = {(p.symbol, p.side.value): p.quantity for p in await second.venue.positions()}
        balance = (await second.venue.balance()).balance
        assert second.reconcile is not None and not second.reconcile.position_mismatches
        await second.run()
        assert second.runtime is not None and second.runtime.stats.summary()
    finally:
        await second.close()
    assert all(venue_pos.get(key) == qty for key, qty in exposure.items()), (venue_pos, dict(exposure))
    assert balance == capital


class OneEntry:
    """Slot 0: one BTC long entry (a LIMIT at ``bid_times`` the bid, or at market), then nothing."""

    def __init__(self, send: bool, qty: str = "0.010", *, bid_times: str | None = None, leverage: int = 1) -> None:
        self.send, self.qty, self.leverage = send, Decimal(qty), leverage
        self.bid_times = None if bid_times is None else Decimal(bid_times)

    def decide(self, snap: PolicySnapshot) -> list[Decision]:
        if not self.send or snap.slots[0].state != "IDLE":
            return []
        self.send = False
        if self.bid_times is None:
            return [Decision(Action.ENTER, 0, asset="BTC-USDT", side=Side.LONG, quantity=self.qty,
                             leverage=self.leverage)]
        price = (snap.quotes["BTC-USDT"].bid * self.bid_times).quantize(Decimal("0.1"))
        return [Decision(Action.ENTER, 0, asset="BTC-USDT", side=Side.LONG, quantity=self.qty,
                         order_type=OrderType.LIMIT, limit_price=price, time_in_force=TimeInForce.GTC,
                         leverage=self.leverage)]


async def test_e26_restarted_paper_run_keeps_its_resting_limit_orders(tmp_path: Path) -> None:
    """A working LIMIT is still on the restarted simulator's book: same ids, no DESYNC, cancellable."""
    cfg = quiet_config(tmp_path, seed=4)
    async with Launcher(cfg, decision=OneEntry(True, bid_times="0.8"), intents=MarginSizer()) as first:
        await first.run(cycles=5)
        assert first.kernel is not None
        before = first.kernel.kernel.working_orders()
    assert [o.state for o in before] == ["WORKING"] and before[0].venue_order_id

    async with Launcher(cfg, decision=OneEntry(False), intents=MarginSizer()) as second:
        assert second.venue is not None and second.kernel is not None and second.runtime is not None
        resting = await second.venue.open_orders()
        assert [(r.client_order_id, r.venue_order_id) for r in resting] == \
            [(before[0].client_order_id, before[0].venue_order_id)]
        await second.run(cycles=120)  # well past the kernel's deadlines: its checks find the order
        k = second.kernel.kernel
        assert k.slot_view(0).state == "ENTRY_WORKING", k.slot_view(0)
        trade_id = k.slot_view(0).trade_id
        second.runtime.submit(Intent(Action.CANCEL, 0, trade_id, "cancel-1"), second.runtime.clock.now_ns())
        await second.run(cycles=3)
        assert k.slot_view(0).state == "IDLE"
        assert await second.venue.open_orders() == []


async def test_e26_a_partly_filled_limit_fills_on_after_a_paper_restart_with_new_fill_ids_and_fees(
    tmp_path: Path,
) -> None:
    """Regression: the restarted simulator numbered the order's fills from 1 again, so its next
    fill reused an id the kernel had booked: dropped as a repeat, its fee never booked."""
    cfg = quiet_config(tmp_path, seed=4, initial_capital=Decimal(10_000_000))
    async with Launcher(cfg, decision=OneEntry(True, "5.000", bid_times="1"), intents=MarginSizer()) as first:
        assert first.kernel is not None
        k = first.kernel.kernel
        for _ in range(400):
            await first.run(cycles=1)
            working = k.working_orders()
            if working and 0 < working[0].filled_qty < working[0].quantity:
                break
        order = k.orders[working[0].client_order_id]
        booked_before, fees_before = set(order.fill_ids), order.commission
    assert booked_before and fees_before > 0

    async with Launcher(cfg, decision=OneEntry(False), intents=MarginSizer()) as second:
        assert isinstance(second.venue, SimVenue) and second.kernel is not None
        await second.run(cycles=30)
        k = second.kernel.kernel
        assert k.slot_view(0).state == "POSITION_OPEN" and k.slot_view(0).remaining_qty == Decimal(5)
        fills = [f for f in second.venue.engine.records.fills if f.client_order_id == order.client_order_id]
        assert fills and not {f.fill_id for f in fills} & booked_before  # numbered on, none reused
        report = second.venue.query_now(QueryOrder(order.client_order_id, "BTC-USDT", "test"))
        assert report.commission == fees_before + sum(f.commission for f in fills)  # the order's total
        assert k.account_view().capital == (await second.venue.balance()).balance  # every fee booked


def _last_prices(venue: object) -> dict[str, Decimal]:
    assert isinstance(venue, SimVenue)
    return {s: venue.engine.quote(s).last for s in sorted(venue.engine.instruments)}


async def test_e26_a_restarted_paper_market_goes_on_from_its_last_prices_along_a_new_path(tmp_path: Path) -> None:
    """Each restart began a new walk at the default start prices: the restored positions and
    resting orders met a jump the market never made (a take-profit filled at once, a stop was
    hit)."""
    async with Launcher(_cfg(tmp_path, 400)) as first:
        await first.run()
        default = {s: first.venue.engine.market.start_prices[s] for s in _last_prices(first.venue)}  # type: ignore[union-attr]
        before = _last_prices(first.venue)
    assert before != default  # 2000 s of a random walk moved the market
    async with Launcher(_cfg(tmp_path, 40)) as second:
        assert second.venue is not None
        assert second.venue.engine.market.start_prices == before  # type: ignore[attr-defined]
        await second.run()
        path_2 = _last_prices(second.venue)
    moved = max(abs(path_2[s] / before[s] - 1) for s in before)
    assert moved < Decimal("0.01")  # 200 s on from where it was, not from the defaults


async def test_e26_a_paper_run_keeps_its_prices_while_it_runs(tmp_path: Path) -> None:
    """A run killed (no close) still leaves prices within a few seconds of its end."""
    from pink.journal import Journal
    from pink.runtime.paper import SIM_PRICES

    cfg = quiet_config(tmp_path, slots=2, cycle_s=5.0, cycles=20, seed=4, health_interval_s=0.01)
    async with Launcher(cfg) as run:
        await run.run()
        await asyncio.sleep(0.05)
        kept = Journal.meta_at(tmp_path / "journal.sqlite", SIM_PRICES)
        assert kept is not None and json.loads(kept) == {s: str(p) for s, p in _last_prices(run.venue).items()}


async def test_e26_a_restarted_paper_simulator_holds_an_adopted_position_at_its_trades_leverage(
    tmp_path: Path,
) -> None:
    """The fresh simulator held a 20x position at its default 5x: four times its margin taken
    from the available balance, and liquidated only after a fall four times deeper than on the
    run that opened it."""
    cfg = quiet_config(tmp_path, seed=4)
    async with Launcher(cfg, decision=OneEntry(True, leverage=20), intents=MarginSizer()) as first:
        await first.run(cycles=5)
        assert first.venue is not None and first.kernel is not None
        assert first.kernel.kernel.slot_view(0).state == "POSITION_OPEN"
        available = (await first.venue.balance()).available
    async with Launcher(cfg, decision=OneEntry(False), intents=MarginSizer()) as second:
        assert isinstance(second.venue, SimVenue)
        assert second.venue.engine.leverage("BTC-USDT", Side.LONG) == 20
        assert (await second.venue.balance()).available == available


REPLAY = Path(__file__).resolve().parents[1] / "fixtures" / "sim" / "btc_replay_trades.csv"


def _replay_price(ts: int) -> Decimal:
    rows = [line.split(",") for line in REPLAY.read_text().splitlines()[1:]]
    return [Decimal(r[1]) for r in rows if int(r[0]) * 1_000_000 <= ts][-1]


async def test_e26_a_restarted_replay_goes_on_from_the_journals_last_time_in_its_file(tmp_path: Path) -> None:
    """A replay restarted on its data dir goes on where the last run stopped in the file (not
    from its first row again, which would meet the restored positions with old prices)."""
    from tests.runtime.helpers import Scripted, quiet_config

    cfg = quiet_config(tmp_path, cycle_s=5.0, seed=4, sim_replay=(("BTC-USDT", str(REPLAY)),))
    first, second = Scripted(), Scripted()
    async with Launcher(cfg, decision=first) as run:
        await run.run(cycles=30)
    async with Launcher(cfg, decision=second) as run:
        await run.run(cycles=30)
    assert second.snapshots[0].ts > first.snapshots[-1].ts
    assert second.snapshots[0].ts < first.snapshots[-1].ts + 30 * 1_000_000_000  # no jump in time
    for snap in first.snapshots + second.snapshots:
        assert snap.quotes["BTC-USDT"].last == _replay_price(snap.ts), snap.ts


async def test_e26_a_restart_past_the_end_of_its_replay_is_refused_naming_the_file(tmp_path: Path) -> None:
    import pytest

    from pink.errors import ConfigError
    from tests.runtime.helpers import quiet_config

    cfg = quiet_config(tmp_path, cycle_s=5.0, seed=4, sim_replay=(("BTC-USDT", str(REPLAY)),))
    async with Launcher(cfg) as run:
        await run.run(cycles=130)  # 650 s: the file holds 600
    with pytest.raises(ConfigError, match=rf"config sim_replay: {REPLAY}: the replay of BTC-USDT ends at .*before the "
                                          r"simulator starts.*replay it again on a new data dir"):
        async with Launcher(cfg):
            pass


async def test_a_fee_change_between_paper_runs_books_each_run_at_its_rates_exactly(tmp_path: Path) -> None:
    """The venue's fees changed between runs: each run's fills at its own rates, the book exact."""
    from pink.venues.sim.orders import Q8
    from tests.runtime.helpers import quiet_config

    async with Launcher(quiet_config(tmp_path, slots=4, seed=3)) as first:
        await first.run(cycles=200)
        assert first.kernel is not None
        fees_before = first.kernel.kernel.account_view().fees
    maker, taker = Decimal("0.0001"), Decimal("0.0009")
    async with Launcher(quiet_config(tmp_path, slots=4, seed=3, sim_maker_fee=maker, sim_taker_fee=taker)) as second:
        await second.run(cycles=200)
        assert isinstance(second.venue, SimVenue) and second.kernel is not None and second.runtime is not None
        fills = second.venue.engine.fills_since(0)
        assert fills and all(
            f.commission == (f.qty * f.price * (maker if f.is_maker else taker)).quantize(Q8) for f in fills)
        charged = sum((f.commission for f in fills), Decimal(0))
        a = second.kernel.kernel.account_view()
        assert second.runtime.stats.fees == charged and a.fees == fees_before + charged
        assert a.capital == a.initial_capital + a.gross_pnl - a.fees + a.funding


@pytest.mark.parametrize("faults", ["", "duplicate_event=1"])
async def test_e26_a_restarted_paper_simulator_keeps_the_funding_taken_out_of_a_positions_margin(
    tmp_path: Path, faults: str,
) -> None:
    """Regression: the restarted simulator rebuilt an open position's isolated margin from its
    entry cost alone: the funding paid out of it was forgotten, so its margin and its
    liquidation price went back to as-if-no-funding while the wallet stayed right. A fill the
    venue delivered twice counts once."""
    cfg = quiet_config(tmp_path, seed=4, cycle_s=600.0, sim_funding_rate=Decimal("0.005"), faults=faults)
    async with Launcher(cfg, decision=OneEntry(True, leverage=20), intents=MarginSizer()) as first:
        await first.run(cycles=100)  # 60 000 s: two settlements or more
        assert isinstance(first.venue, SimVenue) and first.kernel is not None
        assert first.kernel.kernel.slot_view(0).state == "POSITION_OPEN"
        engine = first.venue.engine
        pos = engine.account.positions[("BTC-USDT", Side.LONG)]
        assert pos.funding < 0  # paid out of its margin
        funding, liquidation = pos.funding, engine.margins.liquidation_price("BTC-USDT", Side.LONG)
        available = (await first.venue.balance()).available
    async with Launcher(cfg, decision=OneEntry(False), intents=MarginSizer()) as second:
        assert isinstance(second.venue, SimVenue)
        engine = second.venue.engine
        assert engine.account.positions[("BTC-USDT", Side.LONG)].funding == funding
        assert engine.margins.liquidation_price("BTC-USDT", Side.LONG) == liquidation
        assert (await second.venue.balance()).available == available


class ExitSlot0:
    """Slot 0: exit it at market once it holds a position (``quantity``: only that much, a leg)."""

    def __init__(self, quantity: str | None = None) -> None:
        self.sent = False
        self.legs = (Decimal(1),) if quantity is None else (Decimal(quantity), Decimal(1))

    def decide(self, snap: PolicySnapshot) -> list[Decision]:
        if self.sent or snap.slots[0].state != "POSITION_OPEN":
            return []
        self.sent = True
        return [Decision(Action.EXIT, 0, exit_legs=self.legs)]


def _books_cfg(data: Path, **overrides: object) -> RuntimeConfig:
    # 1.3 BTC over levels of ~0.5 BTC: a MARKET entry fills at three prices, its average
    # 78004.14 / 1.3 does not terminate; the books held against the wallet every 5 s
    return quiet_config(data, seed=4, initial_capital=Decimal(100_000), sim_level_notional=Decimal(30_001),
                        reconcile_interval_s=5.0, books_settle_s=10.0, **overrides)


async def _assert_flat_and_exact(run: Launcher) -> None:
    """Slot 0 idle, the simulator's wallet the kernel's capital to the last digit, and the books
    check, read several times, never saw a difference."""
    assert run.kernel is not None and run.runtime is not None
    k = run.kernel.kernel
    assert k.slot_view(0).state == "IDLE"
    assert k.account_view().capital == (await run.venue.balance()).balance  # type: ignore[union-attr]
    books = run.runtime.reconciler.books
    assert books.sightings > 2 and not books.mismatch and books.moved is None


async def test_e26_a_position_entered_at_several_prices_closes_exactly_on_a_restarted_paper_simulator(
    tmp_path: Path,
) -> None:
    """Regression: the restarted simulator rebuilt the position's cost as its quantity times the
    kernel's average entry, a 28-digit quotient: once it closed, the wallet was off the kernel's
    capital by 1e-23, and the books check reported that as money moved unbooked."""
    cfg = _books_cfg(tmp_path)
    async with Launcher(cfg, decision=OneEntry(True, "1.300"), intents=MarginSizer()) as first:
        await first.run(cycles=5)
        assert first.kernel is not None
        trade = first.kernel.kernel.slots[0].trade
        assert trade is not None and trade.entry_qty == Decimal("1.3")
        assert trade.entry_notional / trade.entry_qty * trade.entry_qty != trade.entry_notional  # inexact average
    async with Launcher(cfg, decision=ExitSlot0(), intents=MarginSizer()) as second:
        await second.run(cycles=40)
        await _assert_flat_and_exact(second)


class EnterThenExitLeg:
    """Slot 0: a MARKET entry of 1.3 BTC to close in two legs (0.3 of it, then the rest), then the first leg."""

    def __init__(self) -> None:
        self.entered = self.exited = False

    def decide(self, snap: PolicySnapshot) -> list[Decision]:
        state = snap.slots[0].state
        if not self.entered and state == "IDLE":
            self.entered = True
            return [Decision(Action.ENTER, 0, asset="BTC-USDT", side=Side.LONG, quantity=Decimal("1.300"),
                             exit_legs=(Decimal("0.3"), Decimal(1)))]
        if self.entered and not self.exited and state == "POSITION_OPEN":
            self.exited = True
            return [Decision(Action.EXIT, 0)]
        return []


async def test_e26_a_partly_closed_position_closes_exactly_on_a_restarted_paper_simulator(tmp_path: Path) -> None:
    """A position entered at several prices and partly closed before the restart: its close on
    the new simulator books the same money as the kernel, and the books hold throughout."""
    cfg = _books_cfg(tmp_path)
    async with Launcher(cfg, decision=EnterThenExitLeg(), intents=MarginSizer()) as first:
        await first.run(cycles=10)
        assert first.kernel is not None
        trade = first.kernel.kernel.slots[0].trade
        assert trade is not None and trade.exit_qty == Decimal("0.39") and trade.remaining == Decimal("0.91")
    async with Launcher(cfg, decision=ExitSlot0(), intents=MarginSizer()) as second:
        await second.run(cycles=40)
        await _assert_flat_and_exact(second)


async def test_e26_a_restarted_paper_simulator_keeps_the_funding_when_the_journal_holds_fills_never_booked(
    tmp_path: Path,
) -> None:
    """Regression: the funding kept in a restored position's margin was rebuilt from every fill
    the journal holds, those the kernel quarantined too (an unknown order's, a price of 0, an
    overfill): the quantity then differed from the book and the funding was dropped, with a
    warning, leaving the margin and the liquidation price as if none had been paid."""
    from pink.kernel import OrderFilled, OrderSide, OutcomeStatus

    cfg = quiet_config(tmp_path, seed=4, cycle_s=600.0, sim_funding_rate=Decimal("0.005"))
    async with Launcher(cfg, decision=OneEntry(True, leverage=20), intents=MarginSizer()) as first:
        await first.run(cycles=100)
        assert isinstance(first.venue, SimVenue) and first.kernel is not None
        k = first.kernel.kernel
        entry = k.orders[k.slots[0].trade.orders[0]]  # type: ignore[union-attr]
        now = first.venue.now
        one, btc = Decimal("0.010"), "BTC-USDT"
        unbooked = [
            OrderFilled("t-ghost-e1", "v-ghost", "ghost-1", one, Decimal(60_000), one, Decimal(0), "USDT", now,
                        symbol=btc, side=OrderSide.BUY, position_side=Side.LONG),  # an order PINK never had
            OrderFilled(entry.client_order_id, entry.venue_order_id, "zero-1", one, Decimal(0), 2 * one, Decimal(0),
                        "USDT", now, symbol=btc, side=OrderSide.BUY, position_side=Side.LONG),  # price 0
            OrderFilled(entry.client_order_id, entry.venue_order_id, "over-1", one, Decimal(60_000), 3 * one,
                        Decimal(0), "USDT", now, symbol=btc, side=OrderSide.BUY, position_side=Side.LONG),  # overfill
            OrderFilled("by-hand", "v-hand", "hand-1", one, Decimal(0), one, Decimal(0), "USDT", now,
                        symbol=btc, side=OrderSide.BUY, position_side=Side.LONG),  # by hand, price 0
        ]
        for ev in unbooked:
            assert first.kernel.apply(ev, now).status is OutcomeStatus.QUARANTINED
        pos = first.venue.engine.account.positions[("BTC-USDT", Side.LONG)]
        assert pos.funding < 0
        funding, liquidation = pos.funding, first.venue.engine.margins.liquidation_price("BTC-USDT", Side.LONG)
    async with Launcher(cfg, decision=OneEntry(False), intents=MarginSizer()) as second:
        assert isinstance(second.venue, SimVenue)
        engine = second.venue.engine
        assert engine.account.positions[("BTC-USDT", Side.LONG)].funding == funding
        assert engine.margins.liquidation_price("BTC-USDT", Side.LONG) == liquidation


class LimitExitSlot0:
    """Slot 0: once it holds a position, exit it all with a LIMIT at the ask (it rests, filling in parts)."""

    def __init__(self, send: bool = True) -> None:
        self.sent = not send

    def decide(self, snap: PolicySnapshot) -> list[Decision]:
        if self.sent or snap.slots[0].state != "POSITION_OPEN":
            return []
        self.sent = True
        price = snap.quotes["BTC-USDT"].ask
        return [Decision(Action.EXIT, 0, order_type=OrderType.LIMIT, limit_price=price, time_in_force=TimeInForce.GTC)]


class EnterThenLimitExit:
    def __init__(self) -> None:
        self.entry, self.exit = OneEntry(True, "1.300"), LimitExitSlot0()

    def decide(self, snap: PolicySnapshot) -> list[Decision]:
        return self.entry.decide(snap) + self.exit.decide(snap)


async def test_e26_an_exit_limit_resting_partly_filled_across_a_paper_restart_closes_exactly(tmp_path: Path) -> None:
    """A position entered at several prices, its exit LIMIT partly filled when the run stops:
    it fills on the restarted simulator and the wallet is the kernel's capital to the last digit."""
    cfg = _books_cfg(tmp_path, sim_resting_fill_fraction=Decimal("0.3"))
    async with Launcher(cfg, decision=EnterThenLimitExit(), intents=MarginSizer()) as first:
        assert first.kernel is not None
        k = first.kernel.kernel
        for _ in range(400):
            await first.run(cycles=1)
            working = k.working_orders()
            if working and working[0].role == "EXIT" and 0 < working[0].filled_qty < working[0].quantity:
                break
        assert working and working[0].role == "EXIT" and 0 < working[0].filled_qty < working[0].quantity
    async with Launcher(cfg, decision=LimitExitSlot0(False), intents=MarginSizer()) as second:
        assert second.kernel is not None and second.runtime is not None
        k = second.kernel.kernel
        for _ in range(400):
            await second.run(cycles=1)
            if k.slot_view(0).state == "IDLE":
                break
        await second.run(cycles=10)
        await _assert_flat_and_exact(second)


def _drop_message(journal: Path, seq: int) -> None:
    """Lose one early message (a damaged page), before the last snapshot."""
    import sqlite3

    db = sqlite3.connect(journal)
    with db:
        db.execute("DELETE FROM messages WHERE seq = ?", (seq,))
    db.close()


async def test_e26_a_paper_restart_reads_only_the_journal_after_its_last_checkpoint(tmp_path: Path) -> None:
    """Regression: each paper start read every fill and funding payment of the whole journal
    again to rebuild the funding held in the simulator's positions, beside the kernel's restore
    from its last snapshot: the start grew with the journal's history, not with what is open. The
    funding held is kept at each checkpoint; a start reads only the messages after it (here the
    messages before it are lost, and the restart is the same)."""
    cfg = quiet_config(tmp_path, seed=4, cycle_s=600.0, sim_funding_rate=Decimal("0.005"))
    async with Launcher(cfg, decision=OneEntry(True, leverage=20), intents=MarginSizer()) as first:
        await first.run(cycles=100)
        assert isinstance(first.venue, SimVenue)
        pos = first.venue.engine.account.positions[("BTC-USDT", Side.LONG)]
        assert pos.funding < 0
        funding, liquidation = pos.funding, first.venue.engine.margins.liquidation_price("BTC-USDT", Side.LONG)
    _drop_message(tmp_path / "journal.sqlite", 3)
    async with Launcher(cfg, decision=OneEntry(False), intents=MarginSizer()) as second:
        assert isinstance(second.venue, SimVenue)
        engine = second.venue.engine
        assert engine.account.positions[("BTC-USDT", Side.LONG)].funding == funding
        assert engine.margins.liquidation_price("BTC-USDT", Side.LONG) == liquidation


async def _venue_after_restart(data: Path) -> tuple[object, ...]:
    """The restarted simulator's book: wallet and margin in use, and each position's quantity,
    cost, funding, leverage and liquidation price."""
    cfg = quiet_config(data, slots=8, cycle_s=600.0, seed=4, sim_funding_rate=Decimal("0.005"))
    async with Launcher(cfg, decision=OneEntry(False), intents=MarginSizer()) as run:
        assert isinstance(run.venue, SimVenue) and run.kernel is not None
        engine = run.venue.engine
        m = engine.margins
        book = sorted((key, p.qty, p.cost, p.funding, m.leverage(*key), m.liquidation_price(*key))
                      for key, p in engine.account.positions.items() if p.qty)
        return await run.venue.balance(), m.used(), book, run.kernel.kernel.account_view().capital


class HoldSlot0AndSample:
    """Slot 0: one BTC long held throughout (funding taken out of its margin); the others: SAMPLE."""

    def __init__(self) -> None:
        from pink.policy.sample import sample_engines

        self.hold, self.sample = OneEntry(True, leverage=20), sample_engines(4)[0]

    def decide(self, snap: PolicySnapshot) -> list[Decision]:
        return self.hold.decide(snap) + [d for d in self.sample.decide(snap) if d.slot != 0]


async def test_e26_a_paper_restart_from_its_kept_funding_is_the_full_replay_exactly(
    tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    """The funding held kept at each checkpoint (many of them, faults on) gives the restarted
    simulator the very book a replay of the whole journal gives: wallet, positions, their cost,
    funding, leverage, liquidation price, and the margin in use."""
    import shutil
    import sqlite3

    cfg = quiet_config(tmp_path / "a", slots=8, cycle_s=600.0, seed=4, sim_funding_rate=Decimal("0.005"),
                       faults="reject=0.02,no_response=0.02,duplicate_event=0.05")
    async with Launcher(cfg, decision=HoldSlot0AndSample(), intents=MarginSizer()) as first:
        assert first.kernel is not None
        first.kernel.snapshot_every = 97  # many checkpoints, each between fills of a few orders
        await first.run(cycles=400)
        assert first.kernel.journal.seq > 10 * 97
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    db = sqlite3.connect(tmp_path / "b" / "journal.sqlite")
    with db:
        kept = db.execute("DELETE FROM meta WHERE key = 'sim_funding'").rowcount
    db.close()
    assert kept == 1  # the kept state, forgotten in b: its start replays the whole journal
    from_kept, from_all = await _venue_after_restart(tmp_path / "a"), await _venue_after_restart(tmp_path / "b")
    book = from_kept[2]
    assert book, "the scenario should end with open positions"  # type: ignore[truthy-bool]
    assert any(row[3] for row in book), "some funding should be held"  # type: ignore[attr-defined]
    assert from_kept == from_all
    assert "read from the whole journal" not in caplog.text  # (but in b's start: nothing kept)


def test_e26_a_paper_run_killed_restarts_from_its_kept_funding_as_from_the_whole_journal(tmp_path: Path) -> None:
    """``pink run`` killed (-9) past a few checkpoints: the restart folds the messages after the
    last funding state kept into it, and gets the very book a replay of the whole journal gives."""
    import os
    import shutil
    import signal
    import sqlite3
    import subprocess
    import sys
    import time

    data = tmp_path / "a"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PINK_")}
    proc = subprocess.Popen([sys.executable, "-m", "pink.cli.main", "run", "--fast", "--no-view", "--seed", "4",
                             "--slots", "8", "--faults", "reject=0.02,no_response=0.02", "--data-dir", str(data)],
                            cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**env, "PINK_PLANE": "none", "PINK_LEDGER": "none", "PINK_CONTROL": "none",
                                 "PINK_CYCLE_S": "600", "PINK_SIM_FUNDING_RATE": "0.005"})
    try:
        deadline = time.monotonic() + 120
        while (kept := _kept_funding_seq(data / "journal.sqlite")) < 20_000 or _last_seq(data) < kept + 500:
            assert proc.poll() is None, "the run ended"  # (two checkpoints or more, and messages after)
            assert time.monotonic() < deadline, "no funding state kept"
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    # killed between checkpoints: the restart folds what follows the kept state
    assert _kept_funding_seq(data / "journal.sqlite") < _last_seq(data)
    shutil.copytree(data, tmp_path / "b")
    db = sqlite3.connect(tmp_path / "b" / "journal.sqlite")
    with db:
        db.execute("DELETE FROM meta WHERE key = 'sim_funding'")
    db.close()
    from_kept = asyncio.run(_venue_after_restart(data))
    assert from_kept[2], "the run should be killed holding positions"  # type: ignore[truthy-bool]
    assert from_kept == asyncio.run(_venue_after_restart(tmp_path / "b"))


def _kept_funding_seq(journal: Path) -> int:
    import sqlite3

    if not journal.exists():
        return 0
    db = sqlite3.connect(journal)
    try:
        row = db.execute("SELECT value FROM meta WHERE key = 'sim_funding'").fetchone()
    except sqlite3.OperationalError:
        return 0
    finally:
        db.close()
    return 0 if row is None else int(json.loads(row[0])["seq"])


def _last_seq(data: Path) -> int:
    import sqlite3

    db = sqlite3.connect(data / "journal.sqlite")
    try:
        return int(db.execute("SELECT COALESCE(max(seq), 0) FROM messages").fetchone()[0])
    finally:
        db.close()

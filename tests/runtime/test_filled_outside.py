"""A position closed by hand on the venue while PINK runs is booked from the venue's own push,
with no operator and no restart, to the wallet's last digit (E8)."""

from __future__ import annotations

import re
from decimal import Decimal as D
from pathlib import Path

import pytest
from rich.console import Console

from pink.kernel import Action, OrderFilled, OrderSide, OrderType, Side, TimeInForce
from pink.kernel.views import SlotView
from pink.policy.base import Decision, MarginSizer, PolicySnapshot
from pink.runtime.launcher import Launcher
from pink.runtime.view import render, summary_table
from pink.venues.sim import NewOrder, SimVenue
from pink.venues.sim.prices import MarketConfig
from tests.runtime.helpers import T0, Scripted, make_venue, quiet_config, sim_runtime
from tests.runtime.test_flatten_while_down import OpenSlotZero

ENTRY = {"asset": "BTC-USDT", "side": Side.LONG, "quantity": D("0.010"), "exit_legs": (D("0.5"), D("0.5"))}


def _hand(venue: SimVenue, engine_id: str, side: OrderSide, qty: D, shown_id: str = "") -> OrderFilled:
    """A MARKET order on the BTC LONG position placed by hand (``shown_id``: by another program,
    with that client id): its fill, as the stream shows it."""
    events = venue.place_by_hand(NewOrder(engine_id, "BTC-USDT", side, Side.LONG, qty, OrderType.MARKET, None,
                                          TimeInForce.GTC, side is OrderSide.SELL), shown_id=shown_id)  # fmt: skip
    (fill,) = [e for e in events if isinstance(e, OrderFilled)]
    return fill


async def test_e08_a_position_closed_by_hand_while_running_is_booked_and_the_slot_trades_again() -> None:
    entered: list[int] = []

    def decide(snap: PolicySnapshot) -> list[Decision]:
        if snap.slots[0].state == "IDLE" and len(entered) < 2:
            entered.append(len(policy.snapshots))
            return [Decision(Action.ENTER, 0, **ENTRY)]  # type: ignore[arg-type]
        return []

    policy = Scripted(decide)
    async with sim_runtime(decision=policy, reconcile_interval_s=5.0, books_settle_s=8.0) as (rt, venue, k):
        await rt.run(cycles=5)
        assert k.slot_view(0).state == "POSITION_OPEN" and len(entered) == 1
        # a round trip by hand beside PINK's position first: PINK's trade is left alone
        buy = _hand(venue, "hand-buy", OrderSide.BUY, D("0.004"))
        sell = _hand(venue, "hand-sell", OrderSide.SELL, D("0.004"))
        await rt.run(cycles=3)
        assert k.slot_view(0).state == "POSITION_OPEN" and rt.stats.trades == 0
        assert rt.stats.outside_fills == 2  # each fill told: the account traded outside PINK
        assert rt.stats.protocol_errors == 0  # but nothing went wrong: their acks are no one's concern
        assert any(a.startswith("outside PINK: 0.004 BTC-USDT BUY at") and "opened or added to a LONG position" in a
                   for a in rt.stats.alerts), rt.stats.alerts  # fmt: skip
        hand = _hand(venue, "hand-close", OrderSide.SELL, D("0.010"))  # then PINK's position, by hand
        await rt.run(cycles=1)
        (closed,) = rt.stats.last_trades
        assert closed.exit_vwap == hand.last_price and closed.fees == k.account_view().fees
        said = f"BTC-USDT booked closed outside PINK at {hand.last_price}, fee {hand.commission}"
        assert said in rt.stats.alerts[-1]  # the trader is told, in the live view and after the run
        shown = Console(width=200, record=True)
        shown.print(render(rt))
        assert said in shown.export_text()
        shown.print(summary_table(rt.stats.summary(), k.account_view().capital, k.account_view().initial_capital))
        assert re.search(r"fills outside PINK, not booked\s*│\s*2\s", shown.export_text())
        await rt.run(cycles=2)
        assert len(entered) == 2 and k.slot_view(0).state != "IDLE"  # freed: the policy entered again
        await rt.run(cycles=20)
        # the wallet moved by PINK's trade as PINK booked it, and by the hand round trip, never booked
        hand_round_trip = (sell.last_price - buy.last_price) * D("0.004") - buy.commission - sell.commission
        wallet = (await venue.balance()).balance
        assert wallet - k.account_view().capital == hand_round_trip  # to the last digit
        assert rt.reconciler.books.moved == hand_round_trip  # and the books check says so
        assert rt.reconciler.position_alerts == 0  # PINK's position and the venue's agree


async def test_e08_a_resting_order_placed_by_hand_is_left_alone_by_the_running_runtime() -> None:
    """A take-profit the trader rests on the venue's site beside PINK's position: its ack, the
    slow reconcile's reports of it (open at the venue, unknown to the kernel) and its cancel by
    hand raise no alert and flag nothing, however long it rests."""
    plan = {1: [Decision(Action.ENTER, 0, **ENTRY)]}  # type: ignore[arg-type]
    policy = Scripted(lambda snap: plan.get(len(policy.snapshots), []))
    async with sim_runtime(decision=policy, reconcile_interval_s=5.0) as (rt, venue, k):
        await rt.run(cycles=5)
        assert k.slot_view(0).state == "POSITION_OPEN"
        far = (venue.engine.quote("BTC-USDT").ask * 2).quantize(D("0.1"))
        venue.place_by_hand(NewOrder("hand-tp", "BTC-USDT", OrderSide.SELL, Side.LONG, D("0.004"), OrderType.LIMIT,
                                     far, TimeInForce.GTC, True))  # fmt: skip
        asked = venue.calls["open_orders"]
        await rt.run(cycles=30)
        assert venue.calls["open_orders"] - asked >= 4  # the slow reconcile saw it, run after run
        assert len(await venue.open_orders()) == 1
        venue.cancel_by_hand("hand-tp")
        await rt.run(cycles=10)
        assert await venue.open_orders() == []
        assert rt.stats.protocol_errors == 0 and rt.stats.outside_fills == 0 and rt.stats.alerts == []
        assert k.slot_view(0).state == "POSITION_OPEN" and k.quarantined == 0


async def test_e08_a_close_by_hand_whose_push_was_lost_is_found_by_the_slow_reconcile_and_booked() -> None:
    """The venue holding less than PINK twice in a row (no fill in flight) makes the reconcile
    ask for the fills of orders with no client id: the close is booked, never reported."""
    plan = {1: [Decision(Action.ENTER, 0, **ENTRY)]}  # type: ignore[arg-type]
    policy = Scripted(lambda snap: plan.get(len(policy.snapshots), []))
    async with sim_runtime(decision=policy, reconcile_interval_s=5.0, books_settle_s=8.0) as (rt, venue, k):
        await rt.run(cycles=8)
        assert k.slot_view(0).state == "POSITION_OPEN"
        venue._drop_until = venue.now + 2_000_000_000  # the stream drops everything for 2 s
        hand = _hand(venue, "hand-1", OrderSide.SELL, D("0.010"))
        await rt.run(cycles=4)
        assert hand in venue.dropped and k.slot_view(0).state == "POSITION_OPEN"  # PINK never heard
        await rt.run(cycles=12)
        assert k.slot_view(0).state == "IDLE"
        (closed,) = rt.stats.last_trades
        assert closed.exit_vwap == hand.last_price
        assert (await venue.balance()).balance == k.account_view().capital  # to the last digit
        assert rt.reconciler.position_alerts == 0 and rt.reconciler.books.mismatch == ""
        asked = venue.calls["fills_since"]
        await rt.run(cycles=20)
        assert venue.calls["fills_since"] - asked <= 4  # the ordinary runs only: asked once, not every run


@pytest.mark.parametrize("lost", [False, True], ids=["pushed", "push-lost"])
async def test_e08_a_position_liquidated_by_the_venue_is_booked_and_capital_equals_the_wallet(
    tmp_path: Path, lost: bool
) -> None:
    """A 20x long through a crash: the simulator never liquidated it (its margin ignored the
    unrealized loss), so the trade stayed open at a loss no exchange allows. The venue now
    closes it by an order of its own under its maintenance margin; the kernel books that fill
    from the push, or, the push lost, from the reconcile's ask for fills of orders placed
    outside PINK (the slot ends IDLE with the loss) and its capital is the wallet, exactly."""
    crash = tmp_path / "btc_crash.csv"
    path = [60000] * 10 + [59500, 59000, 58500, 58000, 57500, 57200, 56000, 55000] + [55000] * 40
    crash.write_text("ts_ms,price\n" + "".join(f"{T0 // 1_000_000 + n * 1000},{p}\n" for n, p in enumerate(path)))
    venue = make_venue(market=MarketConfig(replay={"BTC-USDT": str(crash)}))
    entry = dict(ENTRY, quantity=D("0.1"), leverage=20)
    plan = {1: [Decision(Action.ENTER, 0, **entry)]}  # type: ignore[arg-type]
    policy = Scripted(lambda snap: plan.get(len(policy.snapshots), []))
    async with sim_runtime(venue, policy, reconcile_interval_s=5.0, books_settle_s=8.0) as (rt, venue, k):
        await rt.run(cycles=8)
        assert k.slot_view(0).state == "POSITION_OPEN" and venue.engine.leverage("BTC-USDT", Side.LONG) == 20
        if lost:
            venue._drop_until = venue.now + 20 * 10**9  # the stream drops everything through the crash
        await rt.run(cycles=20 if lost else 12)
        (liq,) = [f for f in venue.engine.fills_since(0) if not f.client_order_id]  # the venue's own order
        assert liq.price == D("57200.0") and await venue.positions() == []
        assert lost == any(isinstance(e, OrderFilled) and e.fill_id == liq.fill_id for e in venue.dropped)
        assert k.slot_view(0).state == "IDLE"
        (closed,) = rt.stats.last_trades
        assert closed.exit_vwap == liq.price and closed.gross_pnl == liq.realized_pnl < 0
        assert closed.fees == k.account_view().fees and liq.commission > 0  # the liquidation fee booked too
        await rt.run(cycles=20)
        assert (await venue.balance()).balance == k.account_view().capital  # to the last digit
        assert rt.reconciler.position_alerts == 0 and rt.reconciler.books.mismatch == ""
        assert rt.stats.protocol_errors == 0 and k.quarantined == 0


async def held_then_down(tmp_path: Path, *, deaf: bool = True) -> tuple[SimVenue, SlotView]:
    """A run that opens a position on slot 0, then stops; ``deaf``: the venue's stream then
    reaches no one (until ``_drop_until`` is reset)."""
    venue = make_venue()
    async with Launcher(quiet_config(tmp_path), venue=venue, decision=OpenSlotZero(), intents=MarginSizer()) as first:
        await first.run(cycles=5)
        assert first.kernel is not None
        view = first.kernel.kernel.slot_view(0)
        assert view.state == "POSITION_OPEN"
    if deaf:
        venue._drop_until = venue.now + 10**12  # nothing listens while PINK is down
    return venue, view


def _again(tmp_path: Path, venue: SimVenue) -> Launcher:
    """The next start on the same journal and venue, with a policy that orders nothing."""
    idle = OpenSlotZero()
    idle.sent = True
    return Launcher(quiet_config(tmp_path), venue=venue, decision=idle, intents=MarginSizer())


@pytest.mark.parametrize("shown_id", ["", "mybot-close-1"], ids=["by-hand", "another-program"])
async def test_e08_a_position_closed_by_hand_while_pink_was_down_is_booked_at_start_by_itself(
    tmp_path: Path, shown_id: str
) -> None:
    venue, view = await held_then_down(tmp_path)
    hand = _hand(venue, "hand-1", OrderSide.SELL, view.entry_qty, shown_id)
    assert hand.client_order_id == shown_id
    async with _again(tmp_path, venue) as second:
        assert second.kernel is not None and second.runtime is not None
        k = second.kernel.kernel
        assert k.slot_view(0).state == "IDLE"  # before any cycle, no --closed-outside
        assert second.runtime.reconciler.last is not None
        assert second.runtime.reconciler.last.outside_fills == 1
        assert second.runtime.reconciler.last.position_mismatches == []
        venue._drop_until = -1
        await second.run(cycles=5)
        assert k.account_view().capital == (await venue.balance()).balance  # to the last digit
        assert hand.fill_id in k.outside_fills
    await venue.close()


async def test_e08_a_position_opened_by_hand_while_pink_was_down_is_not_taken_for_pinks_when_closed(
    tmp_path: Path,
) -> None:
    """The start-up reconcile sees the venue holding more than PINK and learns, from the fills of
    orders with no client id, what was opened by hand: closing that later leaves PINK's trade."""
    venue, view = await held_then_down(tmp_path)
    _hand(venue, "hand-1", OrderSide.BUY, D("0.004"))
    async with _again(tmp_path, venue) as second:
        assert second.kernel is not None and second.runtime is not None
        k = second.kernel.kernel
        assert second.runtime.reconciler.last is not None and second.runtime.reconciler.last.outside_fills == 1
        assert k.outside_held == {"BTC-USDT LONG": D("0.004")}
        venue._drop_until = -1
        _hand(venue, "hand-2", OrderSide.SELL, D("0.004"))  # closes what the hand opened
        await second.run(cycles=5)
        assert k.slot_view(0).state == "POSITION_OPEN" and k.slot_view(0).remaining_qty == view.entry_qty
        assert k.outside_held == {}
        assert second.runtime.reconciler.position_alerts == 0
    await venue.close()


async def test_orders_open_at_start_are_told_apart_placed_outside_pink_or_of_pinks_form_but_unknown(
    tmp_path: Path,
) -> None:
    """At start, an order the trader rests by hand is left alone quietly; one with PINK's form of
    client id that this journal never placed (another PINK run on the account, or the data dir
    that placed it is elsewhere) is left alone too, but named for the operator."""
    venue = make_venue()
    far = (venue.engine.quote("BTC-USDT").ask * 2).quantize(D("0.1"))
    low = (venue.engine.quote("BTC-USDT").bid / 2).quantize(D("0.1"))
    (ack, *_) = venue.place_by_hand(NewOrder("hand-bid", "BTC-USDT", OrderSide.BUY, Side.LONG, D("0.004"),
                                             OrderType.LIMIT, low, TimeInForce.GTC, False))  # fmt: skip
    venue.engine.submit(NewOrder("tother9-e1", "BTC-USDT", OrderSide.SELL, Side.SHORT, D("0.004"), OrderType.LIMIT,
                                 far, TimeInForce.GTC, False), venue.now)  # fmt: skip
    idle = OpenSlotZero()
    idle.sent = True
    cfg = quiet_config(tmp_path, reconcile_interval_s=5.0)
    async with Launcher(cfg, venue=venue, decision=idle, intents=MarginSizer()) as start:
        rep = start.reconcile
        assert rep is not None and rep.open_orders == 2
        assert rep.outside_orders == [f"venue order {ack.venue_order_id}"]
        assert rep.unknown_own_orders == ["tother9-e1"]
        assert start.runtime is not None
        asked = venue.calls["open_orders"]
        await start.run(cycles=40)
        assert venue.calls["open_orders"] - asked >= 6  # the slow reconcile saw them, run after run
        assert start.runtime.stats.protocol_errors == 0  # named once at start, not again at every run
        venue.engine.submit(NewOrder("tother9-e2", "BTC-USDT", OrderSide.SELL, Side.SHORT, D("0.004"),
                                     OrderType.LIMIT, far, TimeInForce.GTC, False), venue.now)  # fmt: skip
        await start.run(cycles=40)  # one placed later, by the other run: told once, as it is first seen
        assert start.runtime.stats.protocol_errors == 1
        assert "OrderStatusReport for unknown order 'tother9-e2'" in start.runtime.stats.alerts[-1]
    assert len(await venue.open_orders()) == 3  # none was touched

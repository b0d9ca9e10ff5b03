"""The runtime loop against the real kernel and simulator (E1-E4, E11/F28, T1, F24)."""

from __future__ import annotations

import asyncio
import threading
from decimal import ROUND_DOWN, Decimal

from pink.kernel import Action, OrderFilled, OrderType, PlaceOrder, PolicyMetadata, Side, TimeInForce
from pink.policy.base import Decision, PolicySnapshot
from tests.runtime.helpers import Scripted, sim_runtime


def enter(slot: int = 0, **kw: object) -> Decision:
    base: dict[str, object] = dict(
        asset="BTC-USDT", side=Side.LONG, leverage=2, margin=Decimal("1000"),
        exit_legs=(Decimal("0.5"), Decimal("0.5")),
    )
    base.update(kw)
    return Decision(Action.ENTER, slot, **base)  # type: ignore[arg-type]


class Once:
    """Decisions for given cycles only."""

    def __init__(self, plan: dict[int, list[Decision]]):
        self.plan = plan

    def __call__(self, snap: PolicySnapshot) -> list[Decision]:
        return self.plan.get(snap.cycle, [])


async def test_e01_a10_idle_cycles_make_zero_venue_calls() -> None:
    """Flaws E1, A10: an idle cycle makes no REST call; state arrives on the stream."""
    async with sim_runtime() as (rt, venue, _k):
        before = sum(venue.calls.values())
        await rt.run(cycles=50)
        assert rt.stats.cycles == 50
        assert sum(venue.calls.values()) == before  # no REST poll per cycle
        snap_calls = dict(venue.calls)
    assert "open_orders" in snap_calls  # reconciliation did run, at start only


async def test_e01_fills_arrive_on_the_stream_not_by_polling() -> None:
    dec = Scripted(Once({1: [enter()]}))
    async with sim_runtime(decision=dec) as (rt, venue, k):
        await rt.run(cycles=5)
        assert k.slot_view(0).state == "POSITION_OPEN"
        assert venue.calls["place"] == 1
        assert venue.calls["query"] == 0 and venue.calls["fills_since"] == 1  # start only


async def test_e02_snapshot_is_consistent_and_versioned() -> None:
    dec = Scripted(Once({1: [enter()]}))
    async with sim_runtime(decision=dec) as (rt, _v, k):
        await rt.run(cycles=4)
        versions = [s.kernel_version for s in dec.snapshots]
        assert versions == sorted(versions) and versions[-1] > versions[0]
        last = dec.snapshots[-1]
        assert last.slots[0] == k.slot_view(0) or last.slots[0].version <= k.slot_view(0).version
        assert last.account.capital == k.account_view().capital or rt.stats.fills


async def test_e03_limit_type_price_tif_reach_the_venue() -> None:
    placed: list[PlaceOrder] = []
    dec = Scripted(Once({1: [enter(order_type=OrderType.LIMIT, limit_price=Decimal("30000.0"),
                                   time_in_force=TimeInForce.GTC)]}))
    async with sim_runtime(decision=dec) as (rt, venue, k):
        real_place = venue.place_now  # the simulator answers in-process: the runtime calls this

        def spy(order: PlaceOrder) -> None:
            placed.append(order)
            real_place(order)

        venue.place_now = spy  # type: ignore[method-assign]
        await rt.run(cycles=3)
        assert placed[0].order_type is OrderType.LIMIT
        assert placed[0].limit_price == Decimal("30000.0")
        assert placed[0].time_in_force is TimeInForce.GTC
        resting = venue.engine.open_orders()
        assert [o.client_order_id for o in resting] == [placed[0].client_order_id]
        assert k.slot_view(0).state == "ENTRY_WORKING"


async def test_e04_exit_size_is_computed_on_current_state() -> None:
    # the policy asks for an EXIT; a fill arriving between its snapshot and the
    # submit is applied first, and the kernel sizes the leg from current state
    dec = Scripted(Once({1: [enter()], 4: [Decision(Action.EXIT, 0)]}))
    async with sim_runtime(decision=dec) as (rt, venue, k):
        await rt.run(cycles=3)
        opened = k.slot_view(0)
        assert opened.state == "POSITION_OPEN"
        await rt.run(cycles=2)
        exits = [o for o in venue.engine.orders_since(0) if not o.opens]
        assert exits and exits[0].quantity == (opened.entry_qty * Decimal("0.5")).quantize(
            Decimal("0.0001"), ROUND_DOWN)  # a leg is rounded down to the step (whatever the context)


async def test_e11_f28_policy_metadata_reaches_the_records_unchanged() -> None:
    """Flaws E11, F28."""
    meta = PolicyMetadata(confidence=0.73, bars_held=5, features={"z": 1.25}, tags={"k": "v"})
    dec = Scripted(Once({1: [enter(metadata=meta, reason="why not")]}))
    seen = []

    class Ledger:
        def put(self, records: object, position: object = None) -> None:
            seen.extend(records)  # type: ignore[call-overload]

    async with sim_runtime(decision=dec) as (rt, _v, _k):
        rt.outputs.ledger = Ledger()  # a recording sink in place of the outbox
        await rt.run(cycles=3)
    intents = [r for r in seen if type(r).__name__ == "IntentRecorded"]
    assert intents and intents[0].intent.metadata == meta
    assert intents[0].intent.reason == "why not"
    assert intents[0].intent.decision_id  # stamped, linked
    orders = [r for r in seen if type(r).__name__ == "OrderRecorded"]
    assert orders[0].intent_id == intents[0].intent.intent_id


async def test_t01_events_from_another_thread_go_through_the_queue() -> None:
    dec = Scripted(Once({1: [enter()]}))
    async with sim_runtime(decision=dec) as (rt, _v, k):
        await rt.run(cycles=3)
        trade = k.slot_view(0)
        owner_threads: set[int] = set()
        real = rt._handle

        def spy(item: object) -> None:
            owner_threads.add(threading.get_ident())
            real(item)  # type: ignore[arg-type]

        rt._handle = spy  # type: ignore[method-assign]
        dup = OrderFilled(f"{trade.trade_id}-e1", "x", "dup-never-seen", Decimal("0"),
                          Decimal("1"), Decimal("0"), Decimal("0"), "USDT", 0)
        t = threading.Thread(target=rt.sink, args=(dup,))
        t.start()
        t.join()
        await asyncio.sleep(0.01)
        await rt.quiesce()
        assert owner_threads == {threading.get_ident()}  # applied on the loop's thread


async def test_f24_one_event_loop_per_test() -> None:
    loop = asyncio.get_running_loop()
    async with sim_runtime() as (rt, _v, _k):
        await rt.run(cycles=2)
        assert rt._loop is loop


async def test_t01_a_policy_cannot_change_what_the_runtime_trades_through_its_snapshot() -> None:
    """Flaw T1: the snapshot is the policy's to read; writing to it is a policy error, and the
    next cycle still sees every instrument and quote."""
    seen: list[int] = []

    def vandal(snap: PolicySnapshot) -> list[Decision]:
        seen.append(len(snap.instruments) + len(snap.quotes))
        snap.instruments.clear()  # type: ignore[attr-defined]
        return []

    async with sim_runtime(decision=Scripted(vandal)) as (rt, _v, _k):
        await rt.run(cycles=3)
    assert rt.policy_errors == 3
    assert seen == [6, 6, 6]

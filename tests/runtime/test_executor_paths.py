"""The executor's two paths: tasks with deadlines (a venue with I/O) and plain calls (an
in-process venue). The same effects give the same calls and the same outcomes (E15, F18)."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any

import pytest

from pink.kernel import Action, Side
from pink.kernel.messages import OrderSide, OrderType, PlaceOrder, QueryOrder, TimeInForce
from pink.policy.base import Decision, PolicySnapshot
from pink.ports import InProcessVenue
from pink.runtime.clock import WallClock
from pink.runtime.executor import EffectExecutor
from pink.venues.sim.engine import MatchingEngine
from pink.venues.sim.faults import FaultConfig
from pink.venues.sim.instruments import default_instruments
from pink.venues.sim.venue import SimVenue

from .helpers import T0, Scripted, sim_runtime


class AsyncOnly:
    """The simulator seen only through its async methods: the path a venue with I/O takes."""

    def __init__(self, inner: SimVenue) -> None:
        self._inner = inner
        self.name = "sim (async only)"

    def __getattr__(self, name: str) -> Any:
        if name.endswith("_now"):
            raise AttributeError(name)
        return getattr(self._inner, name)


def venue_allowing_doge_leverage_up_to(limit: int, faults: str = "") -> SimVenue:
    """The kernel allows DOGE up to 75x; this venue only up to ``limit``x."""
    instruments = default_instruments()
    instruments["DOGE-USDT"] = dataclasses.replace(instruments["DOGE-USDT"], max_leverage=limit)
    engine = MatchingEngine(instruments, seed=3, start_ts=T0)
    return SimVenue(engine, faults=FaultConfig.parse(faults) if faults else None, seed=3)


def enter_doge(leverage: int) -> Scripted:
    def script(snap: PolicySnapshot) -> list[Decision]:
        if snap.cycle != 1:
            return []
        return [Decision(Action.ENTER, 0, asset="DOGE-USDT", side=Side.LONG, quantity=Decimal("100"),
                         leverage=leverage),
                Decision(Action.ENTER, 1, asset="BTC-USDT", side=Side.LONG, quantity=Decimal("0.001"))]

    return Scripted(script)


@pytest.mark.parametrize("direct", [True, False], ids=["plain calls", "tasks"])
async def test_e15_f18_a_refused_leverage_rejects_its_order_locally_on_both_paths(direct: bool) -> None:
    inner = venue_allowing_doge_leverage_up_to(20)
    venue: Any = inner if direct else AsyncOnly(inner)
    assert isinstance(venue, InProcessVenue) is direct
    async with sim_runtime(venue, enter_doge(leverage=50)) as (rt, _v, k):
        await rt.run(cycles=4)
        assert k.slot_view(0).state == "IDLE"  # rejected, named: nothing was sent
        assert k.slot_view(1).state == "POSITION_OPEN"  # the other symbol went through
        assert rt.executor.stats["leverage_failed"] == 1
        assert rt.executor.stats["place"] == 1 and inner.calls["place"] == 1
        assert [p.symbol for p in await inner.positions()] == ["BTC-USDT"]


async def test_both_paths_count_the_same_under_the_same_faults() -> None:
    """Seeded faults (rejects, lost replies, rate limits) reach the kernel the same way on both paths."""
    seen = []
    for direct in (True, False):
        inner = venue_allowing_doge_leverage_up_to(75, faults="reject=0.2,no_response=0.2,rate_limit=0.2")
        venue: Any = inner if direct else AsyncOnly(inner)
        async with sim_runtime(venue, Scripted(round_trips), slots=2) as (rt, _v, k):
            await rt.run(cycles=200)
            states = [k.slot_view(i).state for i in range(2)]
            stats = {key: rt.executor.stats[key] for key in ("place", "place_refused", "place_unknown", "query")}
            seen.append((states, stats, dict(inner.calls)))
    assert seen[0] == seen[1]
    _, stats, _ = seen[0]
    assert stats["place"] > 50 and stats["place_refused"] > 5 and stats["place_unknown"] > 5


def round_trips(snap: PolicySnapshot) -> list[Decision]:
    out = []
    for s in snap.slots:
        if s.state == "IDLE":
            out.append(Decision(Action.ENTER, s.slot, asset="DOGE-USDT", side=Side.LONG, quantity=Decimal("100"),
                                leverage=10))
        elif s.state == "POSITION_OPEN":
            out.append(Decision(Action.EXIT, s.slot, close_all=True))
    return out


class BreaksOnce(SimVenue):
    """A venue with a bug: its first place raises something no venue should."""

    broke = False

    def place_now(self, order: Any) -> None:
        if not self.broke:
            self.broke = True
            raise RuntimeError("a bug in the venue adapter")
        super().place_now(order)


@pytest.mark.parametrize("direct", [True, False], ids=["plain calls", "tasks"])
async def test_an_effect_that_crashes_is_counted_and_the_runtime_goes_on(direct: bool, caplog: Any) -> None:
    inner = BreaksOnce(MatchingEngine(default_instruments(), seed=3, start_ts=T0), seed=3)
    venue: Any = inner if direct else AsyncOnly(inner)
    async with sim_runtime(venue, enter_doge(leverage=10)) as (rt, _v, k):
        await rt.run(cycles=4)
        assert rt.executor.stats["crashed"] == 1
        assert k.slot_view(1).state == "POSITION_OPEN"  # the next effect went out
        assert rt._fatal is None  # the owner task did not stop
    assert "crashed" in caplog.text


async def test_f21_a_venue_closed_under_the_executor_is_no_crash_on_the_plain_path(caplog: Any) -> None:
    """A place and a query handed to an in-process venue its owner already closed (ClosedError,
    not a VenueError): outcomes, unknown and failed, logged; not crashes with a traceback."""
    venue = SimVenue(MatchingEngine(default_instruments(), seed=3, start_ts=T0), seed=3)
    events: list[Any] = []
    await venue.start(events.append)
    await venue.close()
    executor = EffectExecutor(venue, events.append, WallClock())
    executor.submit([PlaceOrder("t00001-e1", 0, "BTC-USDT", OrderSide.BUY, Side.LONG, Decimal("0.01"),
                                OrderType.MARKET, None, TimeInForce.GTC, False, 5),
                     QueryOrder("t00002-e1", "BTC-USDT", "deadline")])
    assert executor.stats["crashed"] == 0
    assert executor.stats["place_unknown"] == 1 and executor.stats["query_failed"] == 1
    assert not events and "closed" in caplog.text
    assert not [r for r in caplog.records if r.levelname == "ERROR"]

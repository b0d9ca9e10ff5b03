"""The start-up reconcile reads everything before the first cycle, or the start fails (E26).

Money that moved while PINK was down (a withdrawal here, its push lost with the stream) must be
in capital before anything is sized: a read the venue fails once is read again; one it keeps
failing stops the start, named, and nothing is traded."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from pink.errors import ReconcileError, UnknownOutcomeError
from pink.policy.base import MarginSizer
from pink.runtime.launcher import Launcher
from pink.runtime.loop import LoopConfig
from pink.venues.sim.venue import SimVenue
from tests.runtime.helpers import Scripted, make_venue, quiet_config

LOOP = LoopConfig(cycle_s=1.0, reconcile_interval_s=60.0, books_settle_s=120.0, start_read_backoff_s=0.01)


def failing(venue: SimVenue, method: str, times: int) -> None:
    """Make ``venue.method`` fail ``times`` times with a retryable error (a 502), then work."""
    real: Callable[..., Awaitable[Any]] = getattr(venue, method)
    left = [times]

    async def flaky(*args: Any, **kwargs: Any) -> Any:
        if left[0]:
            left[0] -= 1
            raise UnknownOutcomeError("HTTP_502", "bad gateway")
        return await real(*args, **kwargs)

    setattr(venue, method, flaky)


async def withdrawn_while_down(tmp_path: Path, venue: SimVenue) -> None:
    """A first run, then a withdrawal of 1000 whose push nobody hears (the stream is down)."""
    async with Launcher(quiet_config(tmp_path, seed=3), venue=venue, decision=Scripted(),
                        intents=MarginSizer(), loop_config=LOOP) as first:
        await first.run(cycles=5)
    await venue.transfer(Decimal("-1000"))
    venue._queue.clear()
    venue.engine.advance(venue.engine.now + 120 * 10**9)


@pytest.mark.parametrize("method", ["fills_since", "funding_since", "transfers_since", "open_orders"])
async def test_a_read_failed_once_is_read_again_and_the_withdrawal_booked(tmp_path: Path, method: str) -> None:
    venue = make_venue(seed=3)
    await withdrawn_while_down(tmp_path, venue)
    failing(venue, method, 1)
    async with Launcher(quiet_config(tmp_path, seed=3), venue=venue, decision=Scripted(),
                        intents=MarginSizer(), loop_config=LOOP) as again:
        assert again.reconcile is not None and again.kernel is not None
        assert again.reconcile.errors == []
        assert again.reconcile.transfers == 1
        capital = again.kernel.kernel.account_view().capital
        assert capital == (await venue.balance()).balance == Decimal(9000)  # booked before any cycle
        await again.run(cycles=200)  # slow reconciles find nothing to report
        assert again.runtime is not None and again.runtime.reconciler.books.mismatch == ""


@pytest.mark.parametrize(("method", "named"), [
    ("fills_since", "fills"), ("funding_since", "funding payments"),
    ("transfers_since", r"transfers \(deposits, withdrawals\)"), ("open_orders", "open orders"),
    ("positions", "positions"),
])
async def test_a_read_that_keeps_failing_stops_the_start_named_and_nothing_trades(
    tmp_path: Path, method: str, named: str
) -> None:
    venue = make_venue(seed=3)
    await withdrawn_while_down(tmp_path, venue)
    failing(venue, method, 1_000)
    places = venue.calls["place"]
    decision = Scripted()
    second = Launcher(quiet_config(tmp_path, seed=3), venue=venue, decision=decision,
                      intents=MarginSizer(), loop_config=LOOP)
    with pytest.raises(ReconcileError, match=f"could not read {named} from the venue: .*bad gateway"):
        await second.start()
    assert decision.snapshots == []  # no policy cycle ran
    assert venue.calls["place"] == places
    assert (await second.close()).steps  # closed in order by the failed start


def test_the_start_up_reconciliation_is_told_in_words_not_as_a_dump() -> None:
    """pink run printed the report's repr: ReconcileReport(queried=['t1-e1'], open_orders=0, ...)."""
    from pink.runtime.recovery import ReconcileReport

    rep = ReconcileReport(queried=["t1-e1", "t2-x0a1"], open_orders=1, fills=3,
                          position_mismatches=["BTC-USDT LONG: kernel 0.01 venue 0"])
    assert rep.summary() == ("2 order(s) in flight asked about; 1 open at the venue; 3 fill(s), 0 funding "
                             "payment(s) and 0 transfer(s) read; positions differ: BTC-USDT LONG: kernel 0.01 "
                             "venue 0")

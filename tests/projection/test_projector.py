"""Projection without services: queue semantics, hot-path cost, start-up errors."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from pink.errors import ClosedError, StartupError
from pink.projection.projector import Projector
from pink.projection.queue import SinkQueue
from pink.projection.sinks import HazelcastSink, RedisSink

from .svc import free_port
from .views import account, fill, slot


def test_queue_coalesces_states_and_keeps_events_in_order() -> None:
    q = SinkQueue(max_events=5)
    for v in range(100):
        q.put_state("slot:1", v)
    q.put_state("account", "a")
    for n in range(8):
        q.put_event(n)
    assert q.depth == 2 + 5 and q.drops == 3 and q.last_drop_ns > 0
    states, events = q.take(3)
    assert states == [("slot:1", 99), ("account", "a")]
    assert events == [3, 4, 5]
    q.put_state("slot:1", 100)
    q.give_back(states, events)  # a failed batch: newer pending state wins
    assert q.states == {"slot:1": 100, "account": "a"}
    assert list(q.events) == [3, 4, 5, 6, 7]


async def test_f8_projection_down_does_not_block_trading() -> None:
    dead = free_port()
    redis = RedisSink(f"redis://127.0.0.1:{dead}/0", optional=True, timeout_s=0.2)
    hz = HazelcastSink(f"127.0.0.1:{free_port()}", optional=True, connect_timeout_s=0.3)
    proj = Projector("acc", "run", [redis, hz], max_events=1000)
    await proj.start()
    before = time.time_ns()
    try:
        # put_* are plain calls that never wait on a sink: 20,000 of them complete without the event
        # loop running at all (a put that waited for a sink would hang here, since sinks run on the loop)
        for n in range(20_000):
            proj.put_slot(slot(n % 8, n))
            proj.put_event(fill(n))
            if n % 10 == 0:
                proj.put_account(account(n))
        await asyncio.sleep(0.5)  # now the sinks run, and keep failing
        for h in proj.health():
            assert not h.connected and h.failures >= 1 and h.last_error
            assert h.drops == 20_000 - 1000  # events past the bound: dropped and counted
            assert before <= h.last_drop_ts <= time.time_ns()  # and when the last one was
            assert h.queue_depth == 8 + 1 + 1000  # states coalesced per key
    finally:
        await proj.close()
    with pytest.raises(ClosedError):
        proj.put_slot(slot(0, 1))
    await proj.close()  # idempotent


async def test_f22_requested_sink_unreachable_is_startup_error() -> None:
    port = free_port()
    proj = Projector("acc", "run", [RedisSink(f"redis://127.0.0.1:{port}/0", timeout_s=0.3)])
    with pytest.raises(StartupError, match=rf"projection sink redis \(redis://127.0.0.1:{port}/0\)"):
        await proj.start()
    await proj.close()
    t0 = time.monotonic()
    hz = HazelcastSink(f"127.0.0.1:{port}", connect_timeout_s=0.5)
    proj = Projector("acc", "run", [hz])
    with pytest.raises(StartupError, match=r"projection sink hazelcast .*could not start"):
        await proj.start()
    assert time.monotonic() - t0 < 10  # a finite connect timeout, not a hang
    await proj.close()


async def test_optional_unreachable_sink_starts_and_health_says_so() -> None:
    port = free_port()
    proj = Projector("acc", "run", [RedisSink(f"redis://127.0.0.1:{port}/0", optional=True,
                                              timeout_s=0.2)])
    await proj.start()
    try:
        (h,) = proj.health()
        assert h.optional and not h.connected and h.failures >= 1
        assert "Connect" in h.last_error or "refused" in h.last_error.lower()
    finally:
        await proj.close()


class _SlowSink:
    """A sink whose every publish takes a while (a slow network), recording what landed."""

    name = backend = "slow"
    optional = False

    def __init__(self) -> None:
        self.landed: list[tuple[str, object]] = []

    def bind(self, prefix: str) -> None:
        return None

    async def connect(self) -> None:
        return None

    async def publish(self, states: object, events: object) -> None:
        await asyncio.sleep(0.2)
        self.landed.extend(states)  # type: ignore[call-overload]

    async def missing(self, keys: object) -> bool:
        return False

    async def disconnect(self) -> None:
        return None

    async def aclose(self) -> None:
        return None


async def test_flush_and_close_wait_for_the_batch_being_sent() -> None:
    """Regression: flush() returned as soon as the queue was empty, while the batch taken
    from it was still being sent; close() then cancelled that send and the last state was lost."""
    sink = _SlowSink()
    proj = Projector("acc", "run", [sink])
    await proj.start()
    proj.put_slot(slot(1, 1))
    await asyncio.sleep(0.05)  # the sink task has taken the batch and is sending it
    assert await proj.flush(5)
    assert [key for key, _ in sink.landed] == ["slot:1"]
    proj.put_slot(slot(1, 2))
    await asyncio.sleep(0.05)
    await proj.close()
    assert [view.version for _, view in sink.landed] == [1, 2]  # type: ignore[attr-defined]


async def test_hazelcast_retry_tracebacks_stay_off_the_terminal(caplog: pytest.LogCaptureFixture) -> None:
    """The client logs a traceback at WARNING from its own modules' loggers (hazelcast.connection, ...)
    at every failed attempt; the filter sat on the 'hazelcast' logger, which never sees records logged
    to its children, so a start that could not join printed some 60 lines of traceback above the one
    error that named the sink."""
    hz = HazelcastSink(f"127.0.0.1:{free_port()}", connect_timeout_s=0.3)
    proj = Projector("acc", "run", [hz])
    with caplog.at_level(logging.WARNING), pytest.raises(StartupError, match="projection sink hazelcast"):
        await proj.start()
    await proj.close()
    noise = [r for r in caplog.records if r.name.startswith("hazelcast") and r.levelno >= logging.WARNING]
    assert not noise, [(r.name, r.getMessage()) for r in noise]


async def test_required_sink_that_cannot_start_is_not_told_as_trading_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A required sink that did not answer at start was logged as 'down; trading goes on' just before
    the start was refused for it: the trader read both."""
    port = free_port()
    proj = Projector("acc", "run", [RedisSink(f"redis://127.0.0.1:{port}/0", timeout_s=0.3)])
    with caplog.at_level(logging.WARNING), pytest.raises(StartupError, match="projection sink redis"):
        await proj.start()
    await proj.close()
    assert "trading goes on" not in caplog.text
    optional = Projector("acc", "run", [RedisSink(f"redis://127.0.0.1:{port}/0", optional=True, timeout_s=0.3)])
    await optional.start()  # an optional one starts without it: then it is so
    await optional.close()
    assert "trading goes on" in caplog.text

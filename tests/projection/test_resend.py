"""A batch sent again after a failure adds nothing twice, and flush waits for a sink
that is down (within its bound)."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

import pytest
import redis.asyncio as aredis

from pink.kernel.messages import FillBooked
from pink.plane.codec import codec_for
from pink.projection.projector import Projector
from pink.projection.sinks import RedisSink

from .slowproxy import SlowReplyProxy
from .svc import _host_port
from .views import fill

if TYPE_CHECKING:
    from pink.projection.sinks import Numbered


@pytest.mark.services
async def test_redis_reply_too_late_then_resent_adds_each_event_once(redis_url: str) -> None:
    proxy = SlowReplyProxy(*_host_port(redis_url), delay_s=1.0)
    port = await proxy.start()
    run = f"fixlp{time.time_ns()}"
    sink = RedisSink(f"redis://127.0.0.1:{port}/0", timeout_s=0.4)
    proj = Projector("acc", run, [sink])
    client = aredis.Redis.from_url(redis_url)
    stream = f"pink:acc:{run}:events"
    try:
        await proj.start()
        proxy.armed = True  # Redis applies the batch; its reply comes after the sink gave up
        for n in range(1, 6):
            proj.put_event(fill(n))
        assert await proj.flush(10)
        for n in range(6, 8):  # and later events still land
            proj.put_event(fill(n))
        assert await proj.flush(10)
        entries = await client.xrange(stream)
        assert [f[b"type"] for _, f in entries] == [b"FillBooked"] * 7
        assert [f[b"data"] for _, f in entries] == [codec_for(FillBooked).encode(fill(n))
                                                    for n in range(1, 8)]
        (h,) = proj.health()
        assert proxy.delayed == 1 and h.failures == 1 and "Timeout" in h.last_error
        assert sink.already_written == 5  # the re-sent batch was found in the stream
    finally:
        await proj.close()
        await proxy.close()
        await client.delete(stream)
        await client.aclose()


class _DownSink:
    """Down (publish and connect fail) until ``up`` is set; records what landed."""

    name = backend = "down"
    optional = False

    def __init__(self) -> None:
        self.up = True
        self.landed: list[int] = []

    def bind(self, prefix: str) -> None:
        return None

    async def connect(self) -> None:
        if not self.up:
            raise ConnectionError("refused")

    async def publish(self, states: object, events: list[Numbered]) -> None:
        if not self.up:
            raise ConnectionError("reset")
        self.landed.extend(e.n for e in events)

    async def missing(self, keys: object) -> bool:
        return False

    async def disconnect(self) -> None:
        return None

    async def aclose(self) -> None:
        return None


async def test_flush_waits_for_a_disconnected_sink_and_close_says_what_is_lost(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sink = _DownSink()
    proj = Projector("acc", "run", [sink])
    await proj.start()
    sink.up = False
    proj.put_event(fill(1))
    await asyncio.sleep(0.05)  # the send failed: the sink is disconnected, the event queued
    assert not proj.health()[0].connected
    asyncio.get_running_loop().call_later(0.3, setattr, sink, "up", True)
    assert await proj.flush(5)  # returned only once the sink was back and had the event
    assert sink.landed == [1]

    sink.up = False
    proj.put_event(fill(2))
    proj.put_event(fill(3))
    await asyncio.sleep(0.05)
    with caplog.at_level(logging.WARNING, "pink.projection"):
        assert not await proj.flush(0.2)
        await proj.close(flush_timeout_s=0.2)
    assert sink.landed == [1]
    text = caplog.text
    assert "sink down (down): 2 events and 0 states queued, disconnected" in text
    assert "projection closed: lost sink down" in text


async def test_f8_a_sink_going_down_and_coming_back_is_logged_once_each_way(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The operator reads of an outage in the run's log: once when it starts (not at every
    reconnect attempt), once when it ends, with what was dropped meanwhile."""
    sink = _DownSink()
    proj = Projector("acc", "run", [sink], max_events=2)
    await proj.start()
    with caplog.at_level(logging.INFO, "pink.projection"):
        sink.up = False
        proj.put_event(fill(1))
        while proj.health()[0].connected:
            await asyncio.sleep(0.01)
        for n in range(2, 6):  # two fit in its queue: 1, 2 and 3 are dropped
            proj.put_event(fill(n))
        while proj.health()[0].failures < 4:  # several reconnects failed
            await asyncio.sleep(0.02)
        sink.up = True
        assert await proj.flush(5)
        await proj.close()
    down = [r for r in caplog.records if "is down" in r.getMessage()]
    back = [r for r in caplog.records if "is back" in r.getMessage()]
    assert len(down) == 1 and down[0].levelno == logging.WARNING
    assert "sink down (down)" in down[0].getMessage() and "ConnectionError: reset" in down[0].getMessage()
    assert len(back) == 1 and back[0].levelno == logging.WARNING
    assert "3 events dropped" in back[0].getMessage()
    assert sink.landed == [4, 5]

"""A batch sent again after a failure adds nothing twice."""

from __future__ import annotations

import time

import pytest
import redis.asyncio as aredis

from pink.kernel.messages import FillBooked
from pink.plane.codec import codec_for
from pink.projection.projector import Projector
from pink.projection.sinks import RedisSink

from .slowproxy import SlowReplyProxy
from .svc import _host_port
from .views import fill


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

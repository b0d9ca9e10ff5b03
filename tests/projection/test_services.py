"""Projection against the REAL Redis and Hazelcast started by scripts/services.sh."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
import redis.asyncio as aredis

from pink.plane.codec import codec_for
from pink.projection.projector import Projector
from pink.projection.sinks import HazelcastSink, Numbered, RedisSink, load_hazelcast

from .svc import managed_by_script, services
from .views import account, fill, slot

pytestmark = pytest.mark.services


async def _until(pred: Callable[[], Any], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await pred() if asyncio.iscoroutinefunction(pred) else pred():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _run_id() -> str:
    return f"t{time.time_ns()}"


async def _redis_events(client: aredis.Redis, stream: str) -> list[str]:
    return [f[b"data"].decode() for _, f in await client.xrange(stream)]


async def test_redis_sink_publishes_hashes_and_stream(redis_url: str) -> None:
    run = _run_id()
    proj = Projector("acc", run, [RedisSink(redis_url)])
    client = aredis.Redis.from_url(redis_url)
    await proj.start()
    try:
        for v in range(1, 101):
            proj.put_slot(slot(1, v))
        proj.put_account(account(5))
        for n in range(3):
            proj.put_event(fill(n))
        assert await proj.flush(5)
        h = await client.hgetall(f"pink:acc:{run}:slot:1")
        assert h[b"version"] == b"100" and h[b"entry_qty"] == b"0.1" and h[b"side"] == b"LONG"
        assert (await client.hgetall(f"pink:acc:{run}:account"))[b"capital"] == b"1000.05"
        events = await _redis_events(client, f"pink:acc:{run}:events")
        assert events == [codec_for(type(fill(n))).encode(fill(n)).decode() for n in range(3)]
        (health,) = proj.health()
        assert health.connected and health.failures == 0 and health.published >= 5
    finally:
        await proj.close()
        await client.delete(*[f"pink:acc:{run}:{k}" for k in ("slot:1", "account", "events")])
        await client.aclose()


async def test_redis_stopped_mid_run_then_recovers(redis_url: str) -> None:
    if not managed_by_script("redis"):
        pytest.skip("the Redis answering was not started by scripts/services.sh")
    run = _run_id()
    proj = Projector("acc", run, [RedisSink(redis_url, timeout_s=0.3)])
    await proj.start()
    try:
        proj.put_slot(slot(0, 1))
        proj.put_slot(slot(7, 1))
        assert await proj.flush(5)
        await services("stop", "redis")
        for v in range(2, 200):
            proj.put_slot(slot(0, v))
            proj.put_event(fill(v))
            await asyncio.sleep(0.002)
        # trading went on: put_* are plain calls that returned while Redis was down (no await in them)
        await _until(lambda: proj.health()[0].failures > 0, 10, "the failure to be counted")
        assert not proj.health()[0].connected
        await services("start", "redis")  # a fresh Redis: no persistence, empty
        await _until(lambda: proj.health()[0].connected and proj.health()[0].queue_depth == 0,
                     20, "the sink to reconnect and drain")
        client = aredis.Redis.from_url(redis_url)
        try:
            assert (await client.hgetall(f"pink:acc:{run}:slot:0"))[b"version"] == b"199"
            # Slot 7 did not change while Redis was down: re-published from current state.
            assert (await client.hgetall(f"pink:acc:{run}:slot:7"))[b"version"] == b"1"
            events = await _redis_events(client, f"pink:acc:{run}:events")
            assert [json.loads(e)["ts"] for e in events] == list(range(2, 200))
            await client.delete(*[f"pink:acc:{run}:{k}" for k in ("slot:0", "slot:7", "events")])
        finally:
            await client.aclose()
        h = proj.health()[0]
        assert h.reconnects >= 1 and h.drops == 0
    finally:
        await services("start", "redis")
        await proj.close()


async def test_f8_a_redis_that_lost_the_state_while_nothing_changed_is_given_it_again(redis_url: str) -> None:
    """A Redis restarted empty (no persistence) while the run is idle: the sink is told nothing
    (no publish fails), so the slots and account stayed missing until each changed again, for
    ever for a quiet slot. The idle sink now looks now and then, and publishes its state again."""
    run = _run_id()
    proj = Projector("acc", run, [RedisSink(redis_url)])
    client = aredis.Redis.from_url(redis_url)
    await proj.start()
    try:
        proj.put_slot(slot(7, 3))
        proj.put_account(account(3))
        assert await proj.flush(5)
        keys = [f"pink:acc:{run}:{k}" for k in ("slot:7", "account")]
        assert await client.exists(*keys) == 2
        await client.delete(*keys)  # what a restart without persistence leaves

        async def back() -> bool:
            return bool(await client.exists(*keys) == 2)

        await _until(back, 10, "the state to be published again")
        assert (await client.hgetall(keys[0]))[b"version"] == b"3"
        assert (await client.hgetall(keys[1]))[b"version"] == b"3"
        await client.delete(*keys)
    finally:
        await client.aclose()
        await proj.close()


async def test_f8_a_redis_reader_never_sees_half_a_batch(redis_url: str) -> None:
    """A batch went out as a plain pipeline, which Redis may serve other clients in the middle of:
    a reader saw slots of one moment next to the account of another. A batch is now one MULTI/EXEC,
    and an event sent again inside it is still skipped."""
    run = _run_id()
    sink = RedisSink(redis_url)
    sink.bind(f"pink:acc:{run}")
    client = aredis.Redis.from_url(redis_url)
    keys = [f"pink:acc:{run}:slot:{i}" for i in range(60)] + [f"pink:acc:{run}:account"]
    done = asyncio.Event()
    seen: list[set[bytes | None]] = []

    async def read() -> None:
        while not done.is_set() or len(seen) < 50:
            async with client.pipeline(transaction=True) as pipe:
                for key in keys[:-1]:
                    pipe.hget(key, "version")
                pipe.hget(keys[-1], "seq")
                seen.append(set(await pipe.execute()))

    try:
        await sink.connect()
        reader = asyncio.create_task(read())
        for v in range(1, 150):
            states: list[tuple[str, object]] = [(f"slot:{i}", slot(i, v)) for i in range(60)]
            await sink.publish([*states, ("account", account(v))], [Numbered(v, fill(v))])
        await sink.publish([("account", account(149))], [Numbered(149, fill(149))])  # sent again
        done.set()
        await reader
        torn = [s for s in seen if len(s) > 1]
        assert not torn, f"{len(torn)} of {len(seen)} reads saw two batches at once, e.g. {sorted(map(str, torn[0]))}"
        assert sink.already_written == 1
        assert len(await _redis_events(client, f"pink:acc:{run}:events")) == 149
    finally:
        done.set()
        await sink.aclose()
        await client.delete(*keys, f"pink:acc:{run}:events")
        await client.aclose()


class _HzProbe:
    """A separate Hazelcast client reading what the sink wrote (in a thread)."""

    def __init__(self, addr: str, run: str) -> None:
        self.client = load_hazelcast().HazelcastClient(
            cluster_name="pink-test", cluster_members=[addr], cluster_connect_timeout=5.0,
            smart_routing=False, statistics_enabled=False,
        )
        self.map = self.client.get_map(f"pink:acc:{run}:state").blocking()
        self.messages: list[dict[str, Any]] = []
        topic = self.client.get_reliable_topic(f"pink:acc:{run}:events").blocking()
        topic.add_listener(lambda m: self.messages.append(json.loads(m.message)))

    def get(self, key: str) -> dict[str, Any] | None:
        value = self.map.get(key)
        return None if value is None else json.loads(value.to_string())

    def close(self) -> None:
        self.client.shutdown()


async def test_hazelcast_sink_publishes_map_and_topic(hazelcast_addr: str) -> None:
    run = _run_id()
    load_hazelcast()  # on this thread, before the probe's thread needs it
    probe = await asyncio.to_thread(_HzProbe, hazelcast_addr, run)
    proj = Projector("acc", run, [HazelcastSink(hazelcast_addr)])
    await proj.start()
    try:
        for v in range(1, 51):
            proj.put_slot(slot(2, v))
        proj.put_account(account(3))
        for n in range(4):
            proj.put_event(fill(n))
        assert await proj.flush(10)
        got = await asyncio.to_thread(probe.get, "slot:2")
        assert got is not None and got["version"] == 50 and got["entry_qty"] == "0.05"
        assert (await asyncio.to_thread(probe.get, "account"))["capital"] == "1000.03"
        await _until(lambda: len(probe.messages) == 4, 10, "topic messages")
        assert [m["type"] for m in probe.messages] == ["FillBooked"] * 4
        assert [m["data"]["fill_id"] for m in probe.messages] == ["f0", "f1", "f2", "f3"]
    finally:
        await proj.close()
        await asyncio.to_thread(probe.close)


async def test_f8_a_hazelcast_reader_gets_slots_and_account_of_one_moment(hazelcast_addr: str) -> None:
    """An IMap put_all is one put per partition: a reader's get_all in the middle of it saw slots
    of one batch next to the account of another. The entry ``snapshot`` holds every key's latest
    state, written in one put: read alone, it is always of one moment."""
    run = _run_id()
    load_hazelcast()
    probe = await asyncio.to_thread(_HzProbe, hazelcast_addr, run)
    sink = HazelcastSink(hazelcast_addr)
    sink.bind(f"pink:acc:{run}")
    done = threading.Event()
    seen: list[set[int]] = []

    def read() -> None:
        last = 20  # reads after the last batch too
        while last:
            last -= done.is_set()
            snap = probe.get("snapshot")
            if snap is not None:
                assert set(snap) == {f"slot:{i}" for i in range(60)} | {"account"}
                seen.append({snap[f"slot:{i}"]["version"] for i in range(60)} | {snap["account"]["seq"]})

    try:
        await sink.connect()
        await sink.publish([(f"slot:{i}", slot(i, 1)) for i in range(60)], [])
        await sink.publish([("account", account(1))], [])  # the account of the first moment, apart
        reader = asyncio.create_task(asyncio.to_thread(read))
        for v in range(2, 40):
            states: list[tuple[str, object]] = [(f"slot:{i}", slot(i, v)) for i in range(60)]
            await sink.publish([*states, ("account", account(v))], [])
        done.set()
        await reader
        assert seen and all(len(s) == 1 for s in seen), [s for s in seen if len(s) > 1][:3]
        assert seen[-1] == {39}
        got = await asyncio.to_thread(probe.get, "slot:7")  # every key is still an entry of its own
        assert got is not None and got["version"] == 39
    finally:
        done.set()
        await sink.aclose()
        await asyncio.to_thread(probe.close)


async def test_f8_hazelcast_events_sent_again_carry_the_same_id(hazelcast_addr: str) -> None:
    """A batch whose answer was lost after the member stored it is sent again (the projector
    cannot tell): each topic message carries an id, the same when sent again and new for every
    event, so a listener keeps each event once."""
    run = _run_id()
    load_hazelcast()
    probe = await asyncio.to_thread(_HzProbe, hazelcast_addr, run)
    sink = HazelcastSink(hazelcast_addr)
    sink.bind(f"pink:acc:{run}")
    try:
        await sink.connect()
        batch = [Numbered(1, fill(1)), Numbered(2, fill(2))]
        await sink.publish([], batch)
        await sink.publish([], batch)  # the same batch again
        await sink.publish([], [Numbered(3, fill(3))])
        await _until(lambda: len(probe.messages) == 5, 10, "topic messages")
        ids = [m["id"] for m in probe.messages]
        assert ids[:2] == ids[2:4] and len(set(ids)) == 3
        kept = {m["id"]: m for m in probe.messages}  # a listener dropping ids it has seen
        assert [m["data"]["ts"] for m in kept.values()] == [1, 2, 3]
    finally:
        await sink.aclose()
        await asyncio.to_thread(probe.close)


async def test_f8_a_hazelcast_that_lost_the_state_while_nothing_changed_is_given_it_again(
    hazelcast_addr: str,
) -> None:
    run = _run_id()
    proj = Projector("acc", run, [HazelcastSink(hazelcast_addr)])
    await proj.start()
    probe = await asyncio.to_thread(_HzProbe, hazelcast_addr, run)
    try:
        proj.put_slot(slot(4, 2))
        proj.put_account(account(2))
        assert await proj.flush(10)
        await asyncio.to_thread(probe.map.clear)  # what a member restarted empty leaves

        async def back() -> bool:
            return await asyncio.to_thread(probe.get, "slot:4") is not None

        await _until(back, 10, "the state to be published again")
        assert (await asyncio.to_thread(probe.get, "account"))["version"] == 2
        await asyncio.to_thread(probe.map.clear)
    finally:
        await asyncio.to_thread(probe.close)
        await proj.close()


async def test_hazelcast_stopped_mid_run_then_recovers(hazelcast_addr: str) -> None:
    if not managed_by_script("hazelcast"):
        pytest.skip("the Hazelcast answering was not started by scripts/services.sh")
    run = _run_id()
    proj = Projector("acc", run, [HazelcastSink(hazelcast_addr, connect_timeout_s=0.5,
                                                invocation_timeout_s=1.0)])
    await proj.start()
    try:
        proj.put_slot(slot(0, 1))
        proj.put_slot(slot(5, 1))
        assert await proj.flush(10)
        await services("stop", "hazelcast")
        for v in range(2, 100):
            proj.put_slot(slot(0, v))
            await asyncio.sleep(0.01)
        await _until(lambda: proj.health()[0].failures > 0, 15, "the failure to be counted")
        assert not proj.health()[0].connected
        await services("start", "hazelcast")
        await _until(lambda: proj.health()[0].connected and proj.health()[0].queue_depth == 0,
                     60, "the sink to reconnect and drain")
        probe = await asyncio.to_thread(_HzProbe, hazelcast_addr, run)
        try:
            assert (await asyncio.to_thread(probe.get, "slot:0"))["version"] == 99
            assert (await asyncio.to_thread(probe.get, "slot:5"))["version"] == 1
        finally:
            await asyncio.to_thread(probe.close)
        assert proj.health()[0].reconnects >= 1
    finally:
        await services("start", "hazelcast")
        await proj.close()

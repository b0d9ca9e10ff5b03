"""Projection sinks: Redis (redis-py asyncio) and Hazelcast (client in a thread).

A sink publishes a batch: latest states as ``(key, view)`` and trade events
in order. It raises on failure; the :class:`~pink.projection.projector.Projector`
counts it, reconnects with backoff and re-publishes the current state.

Events come numbered (:class:`Numbered`): the projector numbers them 1, 2, ...
in the order they were put, and a batch that failed is sent again with the
same numbers, in the same order.

Redis: one hash per slot / account (``HSET pink:{account}:{runtime}:slot:{i}``),
trade events on a stream (``XADD pink:{account}:{runtime}:events MAXLEN ~ N``)
with fields ``type`` and ``data`` (the record's strict JSON). A batch is one
MULTI/EXEC: a reader (reading its keys in one MULTI too) sees all of it or none of
it, never the slots of one moment next to the account of another. Redis applies
it even when its reply is lost or late, so
a re-sent batch must not add its events twice: each event is added with the
explicit id ``{base}-{n}``, ``base`` fixed at the sink's first connection (the
time in ms, past the stream's last id), and an XADD Redis refuses because the
id is not above the stream's top was written before and is skipped. Ids only
grow (the projector's numbers only grow, and Redis keeps a stream's last id
through MAXLEN trims), so "not above the top" means "already in the stream"
as long as this projector is the stream's only writer.

Hazelcast: one IMap ``pink:{account}:{runtime}:state`` whose entries are
``slot:{i}`` and ``account`` (HazelcastJsonValue), and ``snapshot``: one JSON
object of every key's latest state (``{"slot:0": {...}, "account": {...}}``).
A batch is one ``put_all``, one put per partition, so a reader of several keys may
see some of a batch and not the rest; ``snapshot`` is one entry written in the
same ``put_all``: read alone it is always of one moment. And a ReliableTopic
``pink:{account}:{runtime}:events`` carrying ``{"id": ..., "type": ..., "data": ...}``.
A topic cannot refuse a message it holds, so a batch whose answer was lost after
the member stored it reaches listeners twice; ``id`` is ``{base}-{n}`` as on Redis
(``base`` the ms time of the sink's first connection), the same when sent again:
a listener keeps the first message of each id.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import time
import types
import warnings
from collections.abc import Sequence
from typing import Any, NamedTuple, Protocol

import msgspec

from pink.plane.codec import codec_for

__all__ = [
    "SNAPSHOT_KEY",
    "HazelcastSink",
    "Numbered",
    "RedisSink",
    "Sink",
    "event_json",
    "flat_fields",
    "load_hazelcast",
]

log = logging.getLogger("pink.projection")


class Numbered(NamedTuple):
    """A trade event and its number: 1, 2, ... in put order, the same when sent again."""

    n: int
    record: object


class Sink(Protocol):
    name: str
    backend: str
    optional: bool

    def bind(self, prefix: str) -> None:
        """Receive the key prefix ``pink:{account}:{runtime}``."""

    async def connect(self) -> None: ...

    async def publish(
        self, states: Sequence[tuple[str, object]], events: Sequence[Numbered]
    ) -> None: ...

    async def missing(self, keys: Sequence[str]) -> bool:
        """Whether the store lacks a state key of ``keys``, all published (restarted empty)."""

    async def disconnect(self) -> None: ...

    async def aclose(self) -> None:
        """Disconnect for good and release threads or pools."""


def flat_fields(view: object) -> dict[str, str]:
    """A view as a flat hash: every field as text ("" for None)."""
    raw: dict[str, Any] = msgspec.to_builtins(view)
    out = {k: "" if v is None else str(v) for k, v in raw.items()}
    out["_type"] = type(view).__name__
    return out


def event_json(record: object, event_id: str = "") -> bytes:
    """``{"id": ..., "type": ..., "data": ...}`` (``id`` only when given)."""
    data = codec_for(type(record)).encode(record)
    head = b'{"id":"' + event_id.encode() + b'",' if event_id else b"{"
    return head + b'"type":"' + type(record).__name__.encode() + b'","data":' + data + b"}"


SNAPSHOT_KEY = "snapshot"
"""The Hazelcast entry holding every key's latest state at once."""

_ALREADY_WRITTEN = "equal or smaller than the target stream top item"


class RedisSink:
    def __init__(
        self,
        url: str = "redis://127.0.0.1:6390/0",
        *,
        optional: bool = False,
        timeout_s: float = 1.0,
        stream_maxlen: int = 100_000,
        name: str = "redis",
    ) -> None:
        self.name = name
        self.url = url
        self.backend = url
        self.optional = optional
        self.timeout_s = timeout_s
        self.stream_maxlen = stream_maxlen
        self.already_written = 0  # re-sent events found in the stream, not added again
        self._prefix = "pink"
        self._client: Any = None
        self._base_ms: int | None = None  # the ms part of every event id, fixed at first connect

    def bind(self, prefix: str) -> None:
        self._prefix = prefix

    async def connect(self) -> None:
        import redis.asyncio as aredis
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        await self.disconnect()
        pool = aredis.BlockingConnectionPool.from_url(
            self.url,
            max_connections=2,
            timeout=self.timeout_s,
            socket_connect_timeout=self.timeout_s,
            socket_timeout=self.timeout_s,
            retry=Retry(NoBackoff(), 0),
        )
        client = aredis.Redis(connection_pool=pool)
        self._client = client
        await client.ping()
        if self._base_ms is None:
            self._base_ms = await self._free_ms(client)

    async def _free_ms(self, client: Any) -> int:
        """Now in ms, or just past the stream's last id (a clock set back, a quick restart)."""
        import redis

        now = time.time_ns() // 1_000_000
        try:
            info = await client.xinfo_stream(f"{self._prefix}:events")
        except redis.ResponseError:  # no such stream yet
            return now
        last = info["last-generated-id"]
        last_ms = int((last.decode() if isinstance(last, bytes) else str(last)).split("-")[0])
        return max(now, last_ms + 1)

    async def publish(self, states: Sequence[tuple[str, object]], events: Sequence[Numbered]) -> None:
        import redis

        client = self._client
        if client is None or self._base_ms is None:
            raise ConnectionError("redis sink is not connected")
        async with client.pipeline(transaction=True) as pipe:  # MULTI/EXEC: all of it or none
            for key, view in states:
                pipe.hset(f"{self._prefix}:{key}", mapping=flat_fields(view))
            stream = f"{self._prefix}:events"
            for n, record in events:
                fields = {"type": type(record).__name__, "data": codec_for(type(record)).encode(record)}
                pipe.xadd(stream, fields, id=f"{self._base_ms}-{n}", maxlen=self.stream_maxlen,
                          approximate=True)
            replies = await pipe.execute(raise_on_error=False)
        for reply in replies:
            if isinstance(reply, redis.ResponseError) and _ALREADY_WRITTEN in str(reply):
                self.already_written += 1
            elif isinstance(reply, Exception):
                raise reply

    async def missing(self, keys: Sequence[str]) -> bool:
        client = self._client
        if client is None:
            raise ConnectionError("redis sink is not connected")
        return bool(await client.exists(*(f"{self._prefix}:{k}" for k in keys)) < len(keys))

    async def disconnect(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(Exception):
                await client.aclose()
            with contextlib.suppress(Exception):
                await client.connection_pool.disconnect()

    async def aclose(self) -> None:
        await self.disconnect()


def load_hazelcast() -> types.ModuleType:
    """Import the Hazelcast client (it imports the deprecated ``asyncore``; not our warning).

    Call it from the main thread: ``warnings.catch_warnings`` is not thread-safe.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "The asyncore module", DeprecationWarning)
        import hazelcast
        import hazelcast.core

    return hazelcast


class _DowngradeRetryWarnings(logging.Filter):
    """Hazelcast logs a traceback at WARNING on each retry: make it DEBUG (kept only where DEBUG is on)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno == logging.WARNING:
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)
        return True


_hz_filter = _DowngradeRetryWarnings()


def _filter_hazelcast_logs() -> None:
    """Put the filter on every ``hazelcast.*`` logger: a logger's filters see only what is logged to it,
    never its children's records (the client logs from ``hazelcast.connection`` and the like)."""
    names = [n for n in list(logging.root.manager.loggerDict) if n == "hazelcast" or n.startswith("hazelcast.")]
    for name in names:
        hz_log = logging.getLogger(name)
        if _hz_filter not in hz_log.filters:
            hz_log.addFilter(_hz_filter)


class HazelcastSink:
    def __init__(
        self,
        address: str = "127.0.0.1:5710",  # host:port, or several comma-separated
        *,
        cluster_name: str = "pink-test",
        optional: bool = False,
        connect_timeout_s: float = 1.0,
        invocation_timeout_s: float = 2.0,
        name: str = "hazelcast",
    ) -> None:
        self.name = name
        self.address = address
        self.cluster_name = cluster_name
        self.backend = f"hazelcast://{address}/{cluster_name}"
        self.optional = optional
        self.connect_timeout_s = connect_timeout_s
        self.invocation_timeout_s = invocation_timeout_s
        self._prefix = "pink"
        self._client: Any = None
        self._map: Any = None
        self._topic: Any = None
        self._base_ms: int | None = None  # the ms part of every event id, fixed at first connect
        self._latest: dict[str, bytes] = {}  # each key's state as published: the ``snapshot`` entry
        self._hz = load_hazelcast()
        self._pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="pink-hz")
        _filter_hazelcast_logs()

    def bind(self, prefix: str) -> None:
        self._prefix = prefix

    async def _call(self, fn: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    def _connect(self) -> None:
        self._shutdown()
        _filter_hazelcast_logs()  # (a module the client imported since)
        client = self._hz.HazelcastClient(
            cluster_name=self.cluster_name,
            cluster_members=[m.strip() for m in self.address.split(",") if m.strip()],
            cluster_connect_timeout=self.connect_timeout_s,
            connection_timeout=self.connect_timeout_s,
            invocation_timeout=self.invocation_timeout_s,
            smart_routing=False,
            statistics_enabled=False,
        )
        self._client = client
        if self._base_ms is None:
            self._base_ms = time.time_ns() // 1_000_000
        self._map = client.get_map(f"{self._prefix}:state").blocking()
        self._topic = client.get_reliable_topic(f"{self._prefix}:events").blocking()

    def _publish(self, states: Sequence[tuple[str, object]], events: Sequence[Numbered]) -> None:
        json_value = self._hz.core.HazelcastJsonValue
        if self._map is None or self._topic is None:
            raise ConnectionError("hazelcast sink is not connected")
        if states:
            encoded = {key: codec_for(type(view)).encode(view) for key, view in states}
            latest = {**self._latest, **encoded}
            whole = b"{" + b",".join(b'"' + k.encode() + b'":' + v for k, v in latest.items()) + b"}"
            entries = {key: json_value(data.decode()) for key, data in encoded.items()}
            entries[SNAPSHOT_KEY] = json_value(whole.decode())
            self._map.put_all(entries)
            self._latest = latest  # (a failed put is sent again: the projector gives the batch back)
        if events:
            base = self._base_ms
            self._topic.publish_all([event_json(e.record, f"{base}-{e.n}").decode() for e in events])

    def _missing(self, keys: Sequence[str]) -> bool:
        if self._map is None:
            raise ConnectionError("hazelcast sink is not connected")
        return bool(self._map.size() < len(keys) + 1)  # (the map holds the state keys and the snapshot)

    def _shutdown(self) -> None:
        client, self._client, self._map, self._topic = self._client, None, None, None
        if client is not None:
            with contextlib.suppress(Exception):
                client.shutdown()

    async def connect(self) -> None:
        await self._call(self._connect)

    async def publish(self, states: Sequence[tuple[str, object]], events: Sequence[Numbered]) -> None:
        await self._call(self._publish, states, events)

    async def missing(self, keys: Sequence[str]) -> bool:
        return bool(await self._call(self._missing, keys))

    async def disconnect(self) -> None:
        await self._call(self._shutdown)

    async def aclose(self) -> None:
        """Disconnect and stop the sink's thread (the projector calls it at close)."""
        await self.disconnect()
        self._pool.shutdown(wait=True)

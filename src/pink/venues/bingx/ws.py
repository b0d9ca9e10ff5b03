"""BingX WebSockets: gzip frames, text Ping/Pong, reconnect with back-off.

:class:`GzipSocket` is the reconnecting connection both streams use.
:class:`UserStream` is the user-data stream: listenKey create, extend every
30 min (configurable; a failed extend is tried again soon), recreate on
expiry or 404, the key checked (extended) before each reconnect with it (a
stream opened on an expired key stays quiet), and after every reconnect a
gap-fill callback (the venue queries orders and fills missed meanwhile), run
beside the reading of frames so that Ping is answered and pushes flow.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
import logging
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import aiohttp

from pink.errors import AuthError, PinkError
from pink.venues.bingx.config import BingxConfig
from pink.venues.bingx.http import BingxHttp, safe_reason

__all__ = ["GzipSocket", "UserStream", "decode_frame"]

log = logging.getLogger(__name__)

JsonHandler = Callable[[Any], Awaitable[None]]
Hook = Callable[[], Awaitable[None]]


def decode_frame(raw: bytes | str) -> str:
    """Text of one frame: gzip-compressed binary (the norm) or plain text."""
    if isinstance(raw, bytes):
        if raw[:2] == b"\x1f\x8b":
            return gzip.decompress(raw).decode()
        return raw.decode()
    return raw


class GzipSocket:
    """One logical connection that reconnects forever until :meth:`close`."""

    def __init__(
        self,
        config: BingxConfig,
        name: str,
        url: Callable[[], Awaitable[str]],
        on_json: JsonHandler,
        on_open: Hook | None = None,
    ) -> None:
        self._config = config
        self._name = name
        self._url = url
        self._on_json = on_json
        self._on_open = on_open
        self._session: aiohttp.ClientSession | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._task: asyncio.Task[None] | None = None
        self.connected = asyncio.Event()
        self.connects = 0
        self._closing = False

    def start(self) -> None:
        if self._task is None:
            self._session = aiohttp.ClientSession()
            self._task = asyncio.create_task(self._run(), name=f"bingx-{self._name}")

    async def send_json(self, obj: dict[str, Any]) -> bool:
        ws = self._ws
        if ws is None or ws.closed:
            return False
        await ws.send_str(json.dumps(obj))
        return True

    async def drop(self) -> None:
        """Close the current connection (it reconnects)."""
        ws = self._ws
        if ws is not None and not ws.closed:
            await ws.close()

    async def close(self) -> None:
        self._closing = True
        task, self._task = self._task, None
        await self.drop()
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _run(self) -> None:
        delay = self._config.reconnect_min_s
        failed = 0  # attempts in a row that did not connect (logged once, then on reconnecting)
        while not self._closing:
            try:
                url = await self._url()
                assert self._session is not None
                # the upgrade under the request timeout: aiohttp's default waits 5 minutes for a
                # host that took the connection and never answers
                async with asyncio.timeout(self._config.request_timeout_s):
                    ws = await self._session.ws_connect(url, heartbeat=None, autoping=True)
                async with ws:
                    self._ws = ws
                    self.connects += 1
                    if failed:
                        log.warning("BingX %s stream connected again after %d failed attempt(s)", self._name, failed)
                        failed = 0
                    delay = self._config.reconnect_min_s
                    self.connected.set()
                    opened = self._start_on_open()
                    try:
                        await self._pump(ws)
                    finally:
                        await _stop(opened)
            except asyncio.CancelledError:
                raise
            except AuthError:
                log.error("BingX %s stream: authentication refused; retrying slowly", self._name)
                delay = self._config.reconnect_max_s
            except (aiohttp.ClientError, OSError, TimeoutError, PinkError) as exc:
                failed += 1
                if failed == 1:  # (not once per back-off step while the venue is away)
                    log.warning("BingX %s stream disconnected: %s; reconnecting", self._name, safe_reason(exc))
                else:
                    log.debug("BingX %s stream: attempt %d failed: %s", self._name, failed, safe_reason(exc))
            finally:
                self._ws = None
                self.connected.clear()
            if self._closing:
                return
            await asyncio.sleep(delay)
            delay = min(delay * 2, self._config.reconnect_max_s)

    def _start_on_open(self) -> asyncio.Task[None] | None:
        """Run the open hook beside the pump, not before it: a hook that queries the venue
        (the gap-fill, one request per live order) would leave Ping unanswered and pushes
        unread meanwhile, and the server drops a client that has not said Pong for ~15 s."""
        if self._on_open is None:
            return None
        return asyncio.create_task(self._guarded(self._on_open), name=f"bingx-{self._name}-open")

    async def _guarded(self, hook: Hook) -> None:
        """``hook``, its failure logged: it must not end the connection it runs beside (nor,
        re-raised when the connection ends and it is awaited, the stream's task)."""
        try:
            await hook()
        except PinkError as exc:
            log.warning("BingX %s stream: after-connect work failed: %s", self._name, exc)
        except Exception:
            log.exception("BingX %s stream: after-connect work failed", self._name)

    async def _handle(self, obj: Any) -> None:
        """One frame to the handler. A frame it chokes on (a value no reader foresaw) is logged
        and dropped: raised, it would end this task and the stream with it, for good, and every
        later push would be lost (the order queries recover the dropped one)."""
        try:
            await self._on_json(obj)
        except Exception:
            log.exception("BingX %s stream: frame dropped, its handler failed", self._name)

    async def _pump(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        while True:
            msg = await ws.receive(timeout=self._config.ping_timeout_s)
            if msg.type in (aiohttp.WSMsgType.BINARY, aiohttp.WSMsgType.TEXT):
                try:
                    body = decode_frame(msg.data)
                except (OSError, EOFError, UnicodeDecodeError):
                    log.warning("BingX %s stream: undecodable frame dropped", self._name)
                    continue
                if body == "Ping":
                    await ws.send_str("Pong")
                    continue
                if body == "Pong":
                    continue
                try:
                    obj = json.loads(body, parse_float=Decimal)
                except ValueError:
                    log.warning("BingX %s stream: non-JSON frame dropped", self._name)
                    continue
                await self._handle(obj)
            elif msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSING,
                              aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
                return


async def _stop(task: asyncio.Task[None] | None) -> None:
    """Cancel ``task`` (its connection is gone: the next one starts its own) and wait for it."""
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


class UserStream:
    """The account stream for one listenKey; ``on_gap`` runs after each reconnect."""

    def __init__(
        self, config: BingxConfig, http: BingxHttp, on_json: JsonHandler, on_gap: Hook
    ) -> None:
        self._config = config
        self._http = http
        self._on_gap = on_gap
        self.listen_key = ""
        self.key_creates = 0
        self.key_extends = 0
        self._socket = GzipSocket(config, "user", self._next_url, on_json, self._opened)
        self._extender: asyncio.Task[None] | None = None

    @property
    def connected(self) -> asyncio.Event:
        return self._socket.connected

    @property
    def connects(self) -> int:
        return self._socket.connects

    async def start(self) -> None:
        await self._create_key()
        self._socket.start()
        self._extender = asyncio.create_task(self._extend_loop(), name="bingx-listenkey")

    async def close(self) -> None:
        if self._extender is not None:
            self._extender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._extender
            self._extender = None
        await self._socket.close()
        if self.listen_key:
            with contextlib.suppress(PinkError):
                await self._http.listen_key("DELETE", self.listen_key)
            self.listen_key = ""

    async def expired(self) -> None:
        """The server said the key expired: make a new one and reconnect."""
        self.listen_key = ""
        await self._socket.drop()

    async def _create_key(self) -> None:
        _, self.listen_key = await self._http.listen_key("POST")
        self.key_creates += 1

    async def _next_url(self) -> str:
        if self.listen_key and self._socket.connects:
            await self._check_key()
        if not self.listen_key:
            await self._create_key()
        sep = "&" if "?" in self._config.ws_url else "?"
        return f"{self._config.ws_url}{sep}listenKey={self.listen_key}"

    async def _check_key(self) -> None:
        """Before a reconnect: extend the key; one the venue no longer knows (404) is dropped,
        so a new one is made. A keep-alive that fails otherwise keeps the key (it may well live:
        the extend loop tries again soon)."""
        try:
            status, _ = await self._http.listen_key("PUT", self.listen_key)
        except PinkError as exc:
            log.warning("BingX listenKey check before reconnecting failed (%s); using it anyway",
                        getattr(exc, "code", type(exc).__name__))
            return
        if status == 404:
            log.info("BingX listenKey expired while the stream was down; making a new one")
            self.listen_key = ""
        elif 200 <= status < 300:
            self.key_extends += 1

    async def _opened(self) -> None:
        if self._socket.connects > 1:
            await self._on_gap()

    async def _extend_loop(self) -> None:
        """Extend the key every period. A keep-alive that fails (no answer, HTTP 5xx or 429) is
        sent again soon, the wait doubling up to ``reconnect_max_s``: a key not extended expires
        within two periods and the stream goes quiet. A 404 says it has expired: a new one."""
        failures = 0
        while True:
            if failures:
                await asyncio.sleep(min(self._config.reconnect_min_s * 2 ** (failures - 1),
                                        self._config.reconnect_max_s, self._config.listen_key_extend_s))
            else:
                await asyncio.sleep(self._config.listen_key_extend_s)
            key = self.listen_key
            if not key:
                failures = 0
                continue
            try:
                status, _ = await self._http.listen_key("PUT", key)
            except PinkError as exc:
                status, why = 0, str(getattr(exc, "code", type(exc).__name__))
            else:
                why = f"HTTP {status}"
            if status == 404:
                failures = 0
                await self.expired()
            elif 200 <= status < 300:
                failures = 0
                self.key_extends += 1
            else:
                failures += 1
                log.warning("BingX listenKey extend failed (%s); trying again soon", why)

"""REST client for BingX (aiohttp): signing, envelope, errors, rate limits.

* ``code == 0`` is the only success; the envelope ``data`` is returned.
* JSON is decoded with exact decimals (``parse_float=Decimal``); integers
  stay integers, so 19-digit ids never pass through float.
* HTTP 429/418 or codes 100410/109429 -> :class:`RateLimitedError` (retried
  after a back-off, then raised). A ``Retry-After`` the reply states is waited
  instead, if the call's own timeout allows it (else raised at once, the wait in
  ``retry_after_s``); an order or a cancel is never sent again later than the
  fixed back-off (late, it is not what the kernel decided). 5xx/timeout, or a reply that is not
  BingX's envelope, on a mutating call -> :class:`UnknownOutcomeError`; signature/key errors -> :class:`AuthError`,
  never retried.
* Errors and logs never carry the key, the secret or request headers.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections import Counter, deque
from decimal import Decimal
from typing import Any

import aiohttp

from pink.errors import AuthError, ClosedError, RateLimitedError, UnknownOutcomeError, VenueError
from pink.venues.bingx.config import BingxConfig
from pink.venues.bingx.errors import (
    StatedRateLimitError,
    from_http_status,
    from_venue_code,
    parse_retry_after,
    with_retry_after,
)
from pink.venues.bingx.signing import ParamValue, ServerClock, param_string, signed_query

__all__ = ["BingxHttp", "RateLimiter", "endpoint_rate", "safe_reason"]

log = logging.getLogger(__name__)

_SLOW_PATHS = (
    "/openApi/swap/v1/positionSide/dual",
    "/openApi/swap/v2/trade/marginType",
    "/openApi/swap/v2/trade/cancelAllAfter",
)
_PUBLIC_PREFIXES = ("/openApi/swap/v2/quote/", "/openApi/swap/v3/quote/", "/openApi/swap/v1/market/")


def endpoint_rate(path: str, default: float) -> tuple[str, float]:
    """(limiter key, requests per second) for a path, as REFERENCE §7 documents."""
    if path.startswith(_PUBLIC_PREFIXES) or path.endswith("/server/time"):
        return "public", 50.0  # IP group 1: 500 req / 10 s for the whole group
    if path == "/openApi/swap/v1/trade/getVst":
        return path, 1.0
    if path in _SLOW_PATHS:
        return path, 2.0
    return path, default



def safe_reason(exc: BaseException) -> str:
    """What went wrong on the wire, safe to log: the exception's type and, for a connection that
    could not be made, the host, port and the system's reason ("Connection refused"). The
    exception's own text is left out on purpose: aiohttp's request info holds the headers (the
    API key)."""
    name = type(exc).__name__
    if isinstance(exc, aiohttp.ClientConnectorError):
        err = exc.os_error
        why = os.strerror(err.errno) if err is not None and err.errno else ""
        return f"{name} ({exc.host}:{exc.port}{': ' + why if why else ''})"
    if isinstance(exc, OSError) and exc.errno:
        return f"{name} ({os.strerror(exc.errno)})"
    return name

class RateLimiter:
    """Sliding one-second window per key; ``acquire`` waits for a free slot."""

    def __init__(self) -> None:
        self._sent: dict[str, deque[float]] = {}

    async def acquire(self, key: str, per_s: float) -> None:
        window = self._sent.setdefault(key, deque())
        limit = max(1, int(per_s))
        while True:
            now = time.monotonic()
            while window and now - window[0] >= 1.0:
                window.popleft()
            if len(window) < limit:
                window.append(now)
                return
            await asyncio.sleep(1.0 - (now - window[0]) + 0.001)


def _decode(text: str) -> Any:
    return json.loads(text, parse_float=Decimal)


class BingxHttp:
    """One aiohttp session against ``config.base_url``; ``calls`` counts requests."""

    def __init__(self, config: BingxConfig) -> None:
        self._config = config
        self._session: aiohttp.ClientSession | None = None
        self._closed = False
        self.clock = ServerClock()
        self.limiter = RateLimiter()
        self.calls: Counter[str] = Counter()
        #: requests in a row the venue did not answer (no connection, a timeout, an HTTP 5xx): 0 once
        #: it answers again; health reports REST as down while it is not 0
        self.unanswered = 0
        self.trace_configs: list[aiohttp.TraceConfig] = []  # set before the first request

    def _sess(self) -> aiohttp.ClientSession:
        if self._closed:
            raise ClosedError("BingX HTTP client")
        if self._session is None:
            timeout = aiohttp.ClientTimeout(total=self._config.request_timeout_s)
            self._session = aiohttp.ClientSession(
                timeout=timeout, trace_configs=self.trace_configs or None
            )
        return self._session

    async def close(self) -> None:
        self._closed = True
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def sync_time(self) -> int:
        """Measure the offset to the server clock; returns the offset in ms."""
        sent = int(time.time() * 1000)
        data = await self.request("GET", "/openApi/swap/v2/server/time", signed=False)
        received = int(time.time() * 1000)
        server = data.get("serverTime") if isinstance(data, dict) else None
        if not isinstance(server, int):
            raise VenueError("BAD_REPLY", "server/time without an integer serverTime")
        self.clock.update(server, sent, received)
        return self.clock.offset_ms

    async def request(
        self,
        method: str,
        path: str,
        params: dict[str, ParamValue] | None = None,
        *,
        signed: bool = True,
        mutating: bool = False,
    ) -> Any:
        """Send one call, retrying rate limits and (for reads) transient errors. A timestamp
        refused (100421: the host clock stepped since the offset was measured) is a certain
        refusal: the server's clock is read again and the call sent once more, even an order."""
        attempt = 0
        resynced = False
        started = time.monotonic()
        while True:
            try:
                return await self._once(method, path, params or {}, signed, mutating)
            except RateLimitedError as exc:
                wait = self._rate_limit_wait(exc, attempt, mutating, started)
                if wait is None:
                    raise
                log.warning("BingX %s %s rate limited (%s); retry in %.2fs", method, path,
                            exc.code, wait)
                await asyncio.sleep(wait)
            except (AuthError, UnknownOutcomeError):
                raise
            except VenueError as exc:
                if exc.code == "100421" and exc.retryable and signed and not resynced:
                    resynced = True
                    log.warning("BingX %s %s: timestamp refused (%s); reading the server's "
                                "clock again", method, path, exc.message)
                    await self.sync_time()
                    continue
                if mutating or not exc.retryable or attempt >= self._config.max_retries:
                    raise
                await asyncio.sleep(self._config.rate_limit_backoff_s * 0.1 * (2**attempt))
            attempt += 1

    def _rate_limit_wait(self, exc: RateLimitedError, attempt: int, mutating: bool, started: float) -> float | None:
        """How long to wait before sending again after ``exc``; None to raise it now: a ban (418),
        no retries left, a stated wait that would run past the call's own timeout, or, for an
        order or a cancel, one longer than the fixed back-off."""
        if exc.code == "HTTP418" or attempt >= self._config.max_retries:
            return None
        wait: float = self._config.rate_limit_backoff_s * 2.0**attempt
        if isinstance(exc, StatedRateLimitError) and exc.retry_after_s > wait:
            elapsed = time.monotonic() - started
            if mutating or elapsed + exc.retry_after_s > self._config.request_timeout_s:
                return None
            wait = exc.retry_after_s
        return wait

    async def _once(
        self, method: str, path: str, params: dict[str, ParamValue], signed: bool, mutating: bool
    ) -> Any:
        key, per_s = endpoint_rate(path, self._config.rate_limit_per_s)
        await self.limiter.acquire(key, per_s)
        if signed:
            query = signed_query(
                self._config.secret_key, params, self.clock.now_ms(), self._config.recv_window_ms
            )
            headers = {"X-BX-APIKEY": self._config.api_key}
        else:
            query = param_string(params)
            headers = {}
        url = f"{self._config.base_url}{path}" + (f"?{query}" if query else "")
        self.calls[f"{method} {path}"] += 1
        session = self._sess()
        try:
            async with session.request(method, url, headers=headers) as resp:
                status = resp.status
                text = await resp.text()
                stated = parse_retry_after(resp.headers.get("Retry-After"))
        except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
            self.unanswered += 1
            raise self._transport_error("TIMEOUT", exc, mutating) from None
        except aiohttp.ClientError as exc:
            self.unanswered += 1
            connect_failed = isinstance(exc, aiohttp.ClientConnectorError)
            raise self._transport_error(
                "NETWORK", exc, mutating and not connect_failed
            ) from None
        self.unanswered = 0 if status < 500 else self.unanswered + 1
        if status != 200:
            raise with_retry_after(from_http_status(status, text, mutating=mutating), stated)
        try:
            body = _decode(text)
        except ValueError:
            if mutating:
                raise UnknownOutcomeError("BAD_REPLY", "reply is not JSON") from None
            raise VenueError("BAD_REPLY", "reply is not JSON", retryable=True) from None
        if not isinstance(body, dict) or "code" not in body:
            if mutating:  # not BingX's answer (a proxy's page, a changed shape): it may have acted
                raise UnknownOutcomeError("BAD_REPLY", f"reply without an envelope code on {path}")
            raise VenueError("BAD_REPLY", f"reply without an envelope code on {path}")
        code = str(body["code"])
        if code != "0":
            msg = body.get("msg")
            raise with_retry_after(from_venue_code(code, msg if isinstance(msg, str) else "", mutating=mutating),
                                   stated)
        return body.get("data")

    @staticmethod
    def _transport_error(kind: str, exc: BaseException, mutating: bool) -> VenueError:
        detail = f"{kind}: {safe_reason(exc)}"
        if mutating:
            return UnknownOutcomeError(kind, f"{detail}; the request may have taken effect")
        return VenueError(kind, detail, retryable=True)

    async def listen_key(self, method: str, key: str = "") -> tuple[int, str]:
        """The listenKey calls (bare replies, REFERENCE §4.1): (HTTP status, key)."""
        path = "/openApi/user/auth/userDataStream"
        self.calls[f"{method} {path}"] += 1
        url = f"{self._config.base_url}{path}" + (f"?listenKey={key}" if key else "")
        headers = {"X-BX-APIKEY": self._config.api_key}
        try:
            async with self._sess().request(method, url, headers=headers) as resp:
                status = resp.status
                text = await resp.text()
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise self._transport_error("NETWORK", exc, False) from None
        if method != "POST":
            return status, key
        if status in (429, 418) or status >= 500:
            raise from_http_status(status, text, mutating=False)
        try:
            body = _decode(text)
        except ValueError:
            raise VenueError("BAD_REPLY", "listenKey reply is not JSON", retryable=True) from None
        if isinstance(body, dict) and isinstance(body.get("listenKey"), str):
            return status, body["listenKey"]
        if isinstance(body, dict) and "code" in body:
            msg = body.get("msg")
            raise from_venue_code(str(body["code"]), msg if isinstance(msg, str) else "")
        raise VenueError("BAD_REPLY", "listenKey reply without a listenKey")

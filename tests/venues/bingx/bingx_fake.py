"""A small scripted BingX HTTP+WS server on 127.0.0.1 for adapter tests.

It speaks the real wire format (envelope, signature check, gzip WS frames,
Ping/Pong) but its answers are scripted per test; the full simulator is
``pink.venues.bingx.server`` (tested end to end in ``test_e2e_*``).
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import hmac
import json
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from aiohttp import WSMsgType, web

from pink.venues.bingx.config import BingxConfig

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "bingx"
API_KEY = "test-api-key-AAAA"
SECRET = "test-secret-key-SSSS-do-not-leak"

Handler = Callable[[web.Request, dict[str, str]], Any]


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(), parse_float=Decimal)


def _dumps(obj: Any) -> str:
    return json.dumps(obj, default=str)


def ok(data: Any) -> web.Response:
    return web.json_response({"code": 0, "msg": "", "data": data}, dumps=_dumps)


def fail(code: int, msg: str) -> web.Response:
    return web.json_response({"code": code, "msg": msg, "timestamp": 1})


@dataclass
class FakeBingx:
    base_url: str = ""
    routes: dict[tuple[str, str], Handler] = field(default_factory=dict)
    counts: Counter[str] = field(default_factory=Counter)
    sockets: list[web.WebSocketResponse] = field(default_factory=list)
    pongs: int = 0
    secret: str = SECRET
    listen_keys: list[str] = field(default_factory=list)  # created, oldest first
    expired_keys: set[str] = field(default_factory=set)  # a keep-alive of one of these is answered 404
    ws_keys: list[str] = field(default_factory=list)  # the listenKey of each user-stream connection
    ws_refused_until: float = 0.0  # (event loop time) stream upgrades are refused with a 503 until then

    async def stop_ws_for(self, seconds: float) -> None:
        """Close every stream and refuse new ones for ``seconds``: the venue's stream is away."""
        self.ws_refused_until = asyncio.get_running_loop().time() + seconds
        for ws in list(self.sockets):
            await ws.close()

    def on(self, method: str, path: str, handler: Handler) -> None:
        self.routes[(method, path)] = handler

    def reply(self, method: str, path: str, data: Any) -> None:
        self.on(method, path, lambda _r, _p: ok(data))

    def config(self, **kw: Any) -> BingxConfig:
        base = dict(
            api_key=API_KEY, secret_key=SECRET, base_url=self.base_url,
            ws_url=self.base_url.replace("http", "ws") + "/swap-market",
            market_ws_url=self.base_url.replace("http", "ws") + "/swap-market",
            rate_limit_backoff_s=0.01, reconnect_min_s=0.05, hedge_mode=False,
        )
        base.update(kw)
        return BingxConfig(**base)

    async def push(self, obj: Any) -> None:
        frame = gzip.compress(json.dumps(obj).encode())
        for ws in list(self.sockets):
            if not ws.closed:
                await ws.send_bytes(frame)

    def _verify(self, request: web.Request) -> dict[str, str] | None:
        raw = request.query_string
        if "&signature=" not in raw:
            return None
        signed, sig = raw.rsplit("&signature=", 1)
        want = hmac.new(self.secret.encode(), signed.encode(), hashlib.sha256).hexdigest()
        if sig != want or request.headers.get("X-BX-APIKEY") != API_KEY:
            return None
        return {k: unquote(v) for k, v in (p.split("=", 1) for p in signed.split("&"))}

    async def handle(self, request: web.Request) -> web.StreamResponse:
        path, method = request.path, request.method
        self.counts[f"{method} {path}"] += 1
        if path == "/swap-market":
            if asyncio.get_running_loop().time() < self.ws_refused_until:
                return web.Response(status=503)
            return await self._ws(request)
        if path == "/openApi/user/auth/userDataStream":
            if method == "POST":
                key = "k" * 64 if not self.listen_keys else f"{len(self.listen_keys):k>64}"
                self.listen_keys.append(key)
                return web.json_response({"listenKey": key})
            return web.Response(status=404 if request.query.get("listenKey") in self.expired_keys else 200)
        handler = self.routes.get((method, path))
        public = path.startswith("/openApi/swap/v2/quote/") or path.endswith("/server/time")
        params = dict(request.query) if public else self._verify(request)
        if params is None:
            return fail(100001, "Signature verification failed due to signature mismatch")
        if handler is None:
            if path.endswith("/server/time"):
                return ok({"serverTime": 1_700_000_000_000})
            return fail(100400, f"no route {method} {path}")
        result = handler(request, params)
        if hasattr(result, "__await__"):
            result = await result
        assert isinstance(result, web.StreamResponse)
        return result

    async def _ws(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.sockets.append(ws)
        if "listenKey" in request.query:
            self.ws_keys.append(request.query["listenKey"])
        await ws.send_bytes(gzip.compress(b"Ping"))
        async for msg in ws:
            if msg.type == WSMsgType.TEXT and msg.data == "Pong":
                self.pongs += 1
        return ws


@pytest.fixture
async def fake() -> AsyncIterator[FakeBingx]:
    server = FakeBingx()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", server.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    server.base_url = f"http://127.0.0.1:{port}"
    server.reply("GET", "/openApi/swap/v2/quote/contracts",
                 fixture("contracts.json")["official"]["responseBody"]["data"])
    try:
        yield server
    finally:
        for ws in server.sockets:
            await ws.close()
        await runner.cleanup()

"""Helpers for the simulator-server tests: a running server and a small signed client."""

from __future__ import annotations

import gzip
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp

from pink.venues.bingx.server import DEFAULT_API_KEY, DEFAULT_SECRET_KEY, BingxSimServer
from pink.venues.sim.engine import MatchingEngine
from pink.venues.sim.instruments import default_instruments

__all__ = ["FIXTURES", "SimClient", "fixture", "gunzip", "running"]

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "bingx"


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def gunzip(data: bytes) -> Any:
    text = gzip.decompress(data).decode()
    return text if text == "Ping" else json.loads(text)


class SimClient:
    """Signs like the official demos: a–z sorted params in the query string."""

    def __init__(self, session: aiohttp.ClientSession, server: BingxSimServer) -> None:
        self.session = session
        self.server = server
        self.api_key = DEFAULT_API_KEY
        self.secret = DEFAULT_SECRET_KEY

    def query(self, params: Mapping[str, object], *, ts_offset_ms: int = 0) -> str:
        full = {**{k: str(v) for k, v in params.items()}}
        full["timestamp"] = str(int(time.time() * 1000) + ts_offset_ms)
        text = "&".join(f"{k}={full[k]}" for k in sorted(full))
        sig = hmac.new(self.secret.encode(), text.encode(), hashlib.sha256).hexdigest()
        return f"{text}&signature={sig}"

    async def call(
        self,
        method: str,
        path: str,
        params: Mapping[str, object] | None = None,
        *,
        signed: bool = True,
        ts_offset_ms: int = 0,
    ) -> tuple[int, Any]:
        params = params or {}
        if signed:
            url = f"{self.server.base_url}{path}?{self.query(params, ts_offset_ms=ts_offset_ms)}"
        else:
            qs = "&".join(f"{k}={v}" for k, v in params.items())
            url = f"{self.server.base_url}{path}" + (f"?{qs}" if qs else "")
        headers = {"X-BX-APIKEY": self.api_key}
        async with self.session.request(method, url, headers=headers) as resp:
            text = await resp.text()
            try:
                body: Any = json.loads(text)
            except ValueError:
                body = text
            return resp.status, body

    async def place(self, **params: object) -> tuple[int, Any]:
        base: dict[str, object] = {"symbol": "BTC-USDT", "positionSide": "BOTH"}
        base.update(params)
        return await self.call("POST", "/openApi/swap/v2/trade/order", base)


@asynccontextmanager
async def running(**options: Any) -> AsyncIterator[tuple[BingxSimServer, SimClient]]:
    """A server on a free port over a fresh engine (clock frozen unless ``realtime``)."""
    options.setdefault("realtime", False)
    options.setdefault("rate_limits", False)
    engine = MatchingEngine(default_instruments(), seed=7, start_ts=time.time_ns())
    async with BingxSimServer(engine, **options) as server, aiohttp.ClientSession() as session:
        yield server, SimClient(session, server)

"""A BingX-compatible HTTP + WebSocket simulator on the sim matching engine (`pink sim-bingx`).

``create_app`` builds the aiohttp application; :class:`BingxSimServer` runs
it on 127.0.0.1 for tests and the CLI. What it serves (REFERENCE.md §10):

* REST under ``/openApi/...``: public market data, signed trading and
  account routes (HMAC checked as BingX does, recvWindow, per-endpoint rate
  limits answered HTTP 429 / 100410), the listenKey lifecycle;
* ``/swap-market``: the user-data stream (``?listenKey=``) and market
  streams, gzip frames, ``Ping``/``Pong``;
* admin routes for tests: ``GET /_sim/requests`` (counts by path; ``calls`` by method and path),
  ``POST /_sim/advance?seconds=``, ``GET|POST /_sim/faults`` (``spec=``,
  ``clear=1``, ``action=expire_listen_keys|drop_ws``), ``POST /_sim/transfer``
  with JSON ``{"amount": "<decimal string>"}``: a deposit (> 0) or withdrawal
  (< 0) now, pushed as ``ACCOUNT_UPDATE`` (``m`` ``DEPOSIT``/``WITHDRAW``) and
  listed as a ``TRANSFER`` income row; answers ``{"tranId", "amount", "asset",
  "time"}``, or HTTP 400 ``{"error"}`` for a missing, non-decimal or zero
  amount or a withdrawal above what is available; ``POST /_sim/income``: money
  moved by another income type (``INSURANCE_CLEAR``, ``ADL`` …; see
  :mod:`pink.venues.bingx.server_income`).

With ``state_dir`` the account survives a restart of the server, even a kill
(:mod:`pink.venues.bingx.server_store`).

The engine is advanced on the wall clock by a background task every
``tick_s`` and before every request; its events are pushed to the user-data
sockets as ``ORDER_TRADE_UPDATE`` / ``ACCOUNT_UPDATE`` frames.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal, InvalidOperation
from pathlib import Path
from types import TracebackType

from aiohttp import web

from pink.errors import StartupError
from pink.kernel.messages import Instrument
from pink.venues.bingx.config import SIM_API_KEY, SIM_SECRET_KEY
from pink.venues.bingx.server_account import LISTEN_KEY_PATH, add_account_routes
from pink.venues.bingx.server_auth import (
    RateLimiter,
    SignedRequest,
    check_timestamp,
    verify_signature,
)
from pink.venues.bingx.server_faults import ServerFaults
from pink.venues.bingx.server_http import (
    FAULTS,
    PARAMS,
    STATE,
    USER_STREAMS,
    BadParam,
    fail,
    json_response,
)
from pink.venues.bingx.server_income import add_income_admin_route
from pink.venues.bingx.server_market import PUBLIC_PATHS, add_market_routes
from pink.venues.bingx.server_state import EngineLike, SimState
from pink.venues.bingx.server_trade import add_trade_routes
from pink.venues.bingx.server_ws import MarketStreams, UserStreams

__all__ = ["DEFAULT_API_KEY", "DEFAULT_SECRET_KEY", "BingxSimServer", "create_app"]

log = logging.getLogger(__name__)

DEFAULT_API_KEY = SIM_API_KEY
DEFAULT_SECRET_KEY = SIM_SECRET_KEY
WS_PATH = "/swap-market"

COUNTS: web.AppKey[Counter[str]] = web.AppKey("pink_sim_counts")
CALLS: web.AppKey[Counter[str]] = web.AppKey("pink_sim_calls")  # by "METHOD path"
MARKET_STREAMS: web.AppKey[MarketStreams] = web.AppKey("pink_sim_market_streams")
_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _busy(request: web.Request) -> web.Response:
    body = {"code": 100410, "msg": "rate limit exceeded", "timestamp": request.app[STATE].wall_ms()}
    return json_response(body, 429)


async def _gather(request: web.Request) -> SignedRequest:
    raw_form, body_json = "", None
    if request.method in ("POST", "PUT", "DELETE") and request.can_read_body:
        text = await request.text()
        if request.content_type == "application/json" and text.strip():
            try:
                loaded = json.loads(text)
            except ValueError:
                loaded = None
            body_json = loaded if isinstance(loaded, dict) else None
        else:
            raw_form = text
    return SignedRequest.build(request.query_string, raw_form, body_json)


def _middleware(api_key: str, secret_key: str, limiter: RateLimiter) -> Callable[..., object]:
    @web.middleware
    async def bingx(request: web.Request, handler: _Handler) -> web.StreamResponse:
        path = request.path
        if path.startswith("/_sim/"):
            return _kept(request, await handler(request))
        request.app[COUNTS][path] += 1
        request.app[CALLS][f"{request.method} {path}"] += 1
        if path == WS_PATH:
            return await handler(request)
        state, faults = request.app[STATE], request.app[FAULTS]
        if faults.slow_ms and faults.fire("slow"):
            await asyncio.sleep(faults.slow_ms / 1000)
        if faults.fire("http5xx"):
            return json_response({"code": 100500, "msg": "Internal system error"}, 500)
        public = path in PUBLIC_PATHS
        if not limiter.allow(request.method, path, public=public):
            return _busy(request)
        signed = await _gather(request)
        request[PARAMS] = signed.params
        if not public:
            if request.headers.get("X-BX-APIKEY", "") != api_key:
                return fail(request, 100413, "Incorrect apiKey")
            header_only = path == LISTEN_KEY_PATH and signed.signature is None
            if not header_only:
                refusal = verify_signature(secret_key, signed) or check_timestamp(
                    signed.params, state.wall_ms()
                )
                if refusal is not None:
                    return fail(request, refusal.code, refusal.msg, refusal.http_status)
        state.tick()
        try:
            return _kept(request, await handler(request))
        except BadParam as exc:
            return fail(request, exc.code, exc.msg)

    return bingx


def _kept(request: web.Request, response: web.StreamResponse) -> web.StreamResponse:
    """After a request that may change the account (leverage, position mode …: not every change
    is an engine event), keep it before answering."""
    if request.method != "GET":
        request.app[STATE].changed()
    return response


async def _ws(request: web.Request) -> web.StreamResponse:
    key = request.query.get("listenKey")
    if key is not None:
        return await request.app[USER_STREAMS].handle(request, key)
    return await request.app[MARKET_STREAMS].handle(request)


async def _admin_requests(request: web.Request) -> web.Response:
    counts: Counter[str] = request.app[COUNTS]
    calls: Counter[str] = request.app[CALLS]
    return json_response({"counts": dict(counts), "calls": dict(calls)})


async def _admin_advance(request: web.Request) -> web.Response:
    try:
        seconds = Decimal(request.query.get("seconds", "0"))
    except InvalidOperation:
        return json_response({"error": "seconds must be a number"}, 400)
    if not seconds.is_finite() or seconds < 0:
        return json_response({"error": "seconds must be >= 0"}, 400)
    state = request.app[STATE]
    state.advance(seconds)
    return json_response({"now": state.now_ns() // 1_000_000})


async def _admin_faults(request: web.Request) -> web.Response:
    faults = request.app[FAULTS]
    if request.method == "POST":
        args = dict(request.query)
        if request.can_read_body:
            text = await request.text()
            if text.strip().startswith("{"):
                args.update({k: str(v) for k, v in json.loads(text).items()})
        try:
            if args.get("clear") in ("1", "true"):
                faults.clear()
            if args.get("spec"):
                faults.update(args["spec"])
        except ValueError as exc:
            return json_response({"error": str(exc)}, 400)
        action = args.get("action", "")
        streams = request.app[USER_STREAMS]
        if action == "expire_listen_keys":
            streams.expire_all()
        elif action == "drop_ws":
            streams.drop_all()
        elif action:
            return json_response({"error": f"unknown action {action!r}"}, 400)
    return json_response(faults.describe())


async def _admin_transfer(request: web.Request) -> web.Response:
    try:
        body = json.loads(await request.text() or "{}")
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return json_response({"error": 'the body must be a JSON object: {"amount": "<decimal>"}'}, 400)
    raw = body.get("amount")
    if raw is None or raw == "":
        return json_response({"error": "amount is missing"}, 400)
    if isinstance(raw, bool) or not isinstance(raw, str | int):
        return json_response({"error": f"amount must be a decimal string, got {raw!r}"}, 400)
    try:
        amount = Decimal(raw)
    except InvalidOperation:
        return json_response({"error": f"amount is not a decimal: {raw!r}"}, 400)
    try:
        moved = request.app[STATE].transfer(amount)
    except ValueError as exc:
        return json_response({"error": str(exc)}, 400)
    return json_response({"tranId": moved.transfer_id, "amount": str(moved.amount), "asset": moved.asset,
                          "time": moved.ts // 1_000_000})


def _say_if_failed(task: asyncio.Task[None]) -> None:
    """The market's ticker ended by an error: said now, not when the task is collected."""
    if not task.cancelled() and (exc := task.exception()) is not None:
        log.error("sim-bingx: the market stopped: %s: %s", type(exc).__name__, exc, exc_info=exc)


def create_app(
    engine: EngineLike,
    *,
    api_key: str = DEFAULT_API_KEY,
    secret_key: str = DEFAULT_SECRET_KEY,
    faults: ServerFaults | str | None = None,
    instruments: dict[str, Instrument] | None = None,
    hedge: bool = False,
    realtime: bool = True,
    rate_limits: bool = True,
    tick_s: float = 0.05,
    ping_interval_s: float = 5.0,
    pong_timeout_s: float = 15.0,
    market_interval_s: float = 0.5,
    funding_interval_s: int = 8 * 3600,
    seed: int = 1,
    user_id: str = "1000000001",
    state_dir: Path | None = None,
) -> web.Application:
    """The simulator as an aiohttp application over ``engine`` (a ``MatchingEngine``).

    ``state_dir``: the account is kept there and restored from it (see
    :mod:`pink.venues.bingx.server_store`); without it, each server is a new account."""
    if not isinstance(faults, ServerFaults):
        faults = ServerFaults.parse(faults, seed=seed)
    insts = instruments if instruments is not None else dict(getattr(engine, "instruments", {}))
    state = SimState(
        engine, insts, hedge=hedge, realtime=realtime, funding_interval_s=funding_interval_s,
        faults=faults, user_id=user_id,
    )
    if state_dir is not None:
        from pink.venues.bingx.server_store import AccountStore

        store = AccountStore(state_dir)
        store.restore(state)
        state.on_change = lambda: store.save(state)
        store.save(state)  # a new account is kept from the start
    app = web.Application(middlewares=[_middleware(api_key, secret_key, RateLimiter(enabled=rate_limits))])  # type: ignore[list-item]
    app[STATE] = state
    app[FAULTS] = faults
    counts: Counter[str] = Counter()
    app[COUNTS] = counts
    app[CALLS] = Counter()
    users = UserStreams(state, faults, ping_interval_s=ping_interval_s, pong_timeout_s=pong_timeout_s)
    app[USER_STREAMS] = users
    app[MARKET_STREAMS] = MarketStreams(state, interval_s=market_interval_s, ping_interval_s=ping_interval_s)
    add_market_routes(app)
    add_trade_routes(app)
    add_account_routes(app)
    app.router.add_get(WS_PATH, _ws)
    app.router.add_get("/_sim/requests", _admin_requests)
    app.router.add_post("/_sim/advance", _admin_advance)
    app.router.add_get("/_sim/faults", _admin_faults)
    app.router.add_post("/_sim/faults", _admin_faults)
    app.router.add_post("/_sim/transfer", _admin_transfer)
    add_income_admin_route(app)

    async def ticker(app: web.Application) -> AsyncIterator[None]:
        async def run() -> None:
            failing = ""  # why the account could not be kept (said once); kept again at each tick
            while True:
                await asyncio.sleep(tick_s)
                try:
                    state.tick()  # (its events are published before the account is kept)
                    if failing:
                        state.changed()
                        log.warning("sim-bingx: the account is kept again in %s", state_dir)
                        failing = ""
                except OSError as exc:  # a full disk, a directory gone: the market goes on regardless
                    if not failing:
                        log.error("sim-bingx: cannot keep the account in %s (%s); the market goes on, and "
                                  "it is kept again once it can be", state_dir, exc)  # fmt: skip
                    failing = str(exc)
                users.check_expiry()

        task = asyncio.create_task(run())
        task.add_done_callback(_say_if_failed)
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def on_shutdown(app: web.Application) -> None:
        users.drop_all_gracefully()
        for ws in list(app[MARKET_STREAMS].sockets):
            await ws.close(code=1001, message=b"server shutdown")

    app.cleanup_ctx.append(ticker)
    app.on_shutdown.append(on_shutdown)
    return app


class BingxSimServer:
    """Runs :func:`create_app` on ``host:port`` (0 = a free port) until :meth:`close`."""

    def __init__(
        self,
        engine: EngineLike | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        seed: int = 1,
        api_key: str = DEFAULT_API_KEY,
        secret_key: str = DEFAULT_SECRET_KEY,
        faults: ServerFaults | str | None = None,
        **options: object,
    ) -> None:
        if engine is None:
            from pink.venues.sim.engine import MatchingEngine
            from pink.venues.sim.instruments import default_instruments

            engine = MatchingEngine(default_instruments(), seed=seed, start_ts=time.time_ns())
        self.engine = engine
        self.host = host
        self.port = port
        self.api_key = api_key
        self.secret_key = secret_key
        self.app = create_app(
            engine, api_key=api_key, secret_key=secret_key, faults=faults, seed=seed, **options  # type: ignore[arg-type]
        )
        self._runner: web.AppRunner | None = None

    @property
    def state(self) -> SimState:
        return self.app[STATE]

    @property
    def faults(self) -> ServerFaults:
        return self.app[FAULTS]

    @property
    def request_counts(self) -> Counter[str]:
        return self.app[COUNTS]

    @property
    def request_calls(self) -> Counter[str]:
        """Requests by ``"METHOD path"`` (e.g. ``"POST /openApi/swap/v2/trade/order"``)."""
        return self.app[CALLS]

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def ws_url(self) -> str:
        """The user-data stream URL; append ``?listenKey=<key>``."""
        return f"ws://{self.host}:{self.port}{WS_PATH}"

    @property
    def market_ws_url(self) -> str:
        return f"ws://{self.host}:{self.port}{WS_PATH}"

    async def start(self) -> BingxSimServer:
        runner = web.AppRunner(self.app, shutdown_timeout=1.0, handle_signals=False)
        await runner.setup()
        try:
            site = web.TCPSite(runner, self.host, self.port)
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            raise StartupError("sim-bingx", f"cannot listen on {self.host}:{self.port}: {exc}") from exc
        self._runner = runner
        for addr in runner.addresses:
            if isinstance(addr, tuple):
                self.port = int(addr[1])
                break
        return self

    async def close(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> BingxSimServer:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

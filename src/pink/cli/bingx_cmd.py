"""``pink sim-bingx``: serve the BingX-compatible simulator until Ctrl-C / SIGTERM."""

from __future__ import annotations

import asyncio
import shlex
import signal
import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from pink.errors import PinkError
from pink.venues.bingx.config import SIM_API_KEY as DEFAULT_API_KEY
from pink.venues.bingx.config import SIM_SECRET_KEY as DEFAULT_SECRET_KEY
from pink.venues.bingx.server_faults import ServerFaults

__all__ = ["register", "serve"]


async def serve(
    *,
    host: str,
    port: int,
    seed: int,
    faults: str,
    api_key: str,
    secret_key: str,
    hedge: bool,
    rate_limits: bool,
    stop: asyncio.Event | None = None,
    state_dir: Path | None = None,
) -> None:
    """Run the server and print its URLs; return when ``stop`` is set or on SIGINT/SIGTERM.
    ``state_dir``: the account is kept there and restored from it on the next start."""
    from pink.venues.bingx.server import BingxSimServer
    from pink.venues.sim.engine import MatchingEngine
    from pink.venues.sim.instruments import default_instruments

    engine = MatchingEngine(default_instruments(), seed=seed, start_ts=time.time_ns())
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        async with BingxSimServer(
            engine,
            host=host,
            port=port,
            seed=seed,
            api_key=api_key,
            secret_key=secret_key,
            faults=ServerFaults.parse(faults, seed=seed),
            hedge=hedge,
            rate_limits=rate_limits,
            state_dir=state_dir,
        ) as server:
            print(f"sim-bingx REST   {server.base_url}", flush=True)
            print(f"sim-bingx WS     {server.ws_url} (user stream: PINK adds ?listenKey=)", flush=True)
            print(f"sim-bingx market {server.market_ws_url}", flush=True)
            if state_dir is not None:
                print(f"account kept in {state_dir} (restored from it on the next start)", flush=True)
            print(f"api key {api_key}  secret key {secret_key}", flush=True)
            print("to trade on it, set these, then: pink run --venue bingx --data-dir DIR", flush=True)
            print(_settings_line(server.base_url, server.ws_url, server.market_ws_url, api_key, secret_key),
                  flush=True)
            await stop.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    print("sim-bingx stopped", flush=True)


def _settings_line(base: str, ws: str, market: str, api_key: str, secret_key: str) -> str:
    """The ``export`` line of the variables that point ``pink run --venue bingx`` at this server."""
    env = {"PINK_BINGX_BASE_URL": base, "PINK_BINGX_WS_URL": ws, "PINK_BINGX_MARKET_WS_URL": market,
           "PINK_BINGX_API_KEY": api_key, "PINK_BINGX_SECRET_KEY": secret_key}
    return "export " + " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())


def register(app: typer.Typer) -> None:
    """Add the ``sim-bingx`` command to ``app``."""

    @app.command("sim-bingx")
    def sim_bingx(
        host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
        port: Annotated[int, typer.Option(help="port (0 = any free port)", min=0, max=65535)] = 8080,
        seed: Annotated[int, typer.Option(help="seed of prices and faults")] = 1,
        faults: Annotated[str, typer.Option(help="fault spec, e.g. 'order504=#1,slow_ms=200'")] = "",
        api_key: Annotated[str, typer.Option("--api-key")] = DEFAULT_API_KEY,
        secret_key: Annotated[str, typer.Option("--secret-key")] = DEFAULT_SECRET_KEY,
        hedge: Annotated[bool, typer.Option(help="start in hedge (dual-side) mode")] = False,
        rate_limits: Annotated[bool, typer.Option(help="enforce BingX rate limits")] = True,
        state_dir: Annotated[
            Path | None,
            typer.Option(help="keep the account (wallet, positions, orders, fills, income) in this directory and "
                              "restore it on the next start, even after a kill; without it each start is a new "
                              "account"),
        ] = None,
    ) -> None:
        """Serve a BingX-compatible REST + WebSocket simulator of the USDT-M perpetual swap API."""
        try:
            ServerFaults.parse(faults)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--faults") from exc
        try:
            asyncio.run(
                serve(
                    host=host,
                    port=port,
                    seed=seed,
                    faults=faults,
                    api_key=api_key,
                    secret_key=secret_key,
                    hedge=hedge,
                    rate_limits=rate_limits,
                    state_dir=state_dir,
                )
            )
        except (PinkError, OSError) as exc:  # the port in use, an address not of this host
            print(f"error: {exc}", file=sys.stderr, flush=True)
            raise typer.Exit(2) from None

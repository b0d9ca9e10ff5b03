"""``pink sim-bingx`` through a tiny Typer app: serves, prints URLs, stops on SIGTERM."""

from __future__ import annotations

import asyncio
import re
import signal
import sys

import aiohttp
import pytest
import typer
from typer.testing import CliRunner

from pink.cli.bingx_cmd import register, serve
from pink.venues.bingx.config import BingxConfig

SCRIPT = """
import typer
from pink.cli.bingx_cmd import register
app = typer.Typer()
@app.callback()
def main() -> None:
    pass
register(app)
app()
"""


def test_bad_fault_spec_is_a_usage_error() -> None:
    app = typer.Typer()

    @app.callback()
    def main() -> None:
        pass

    register(app)
    result = CliRunner().invoke(app, ["sim-bingx", "--faults", "bogus=1"])
    assert result.exit_code == 2
    assert "unknown fault" in result.output


async def test_sim_bingx_serves_until_sigterm() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", SCRIPT, "sim-bingx", "--port", "0", "--seed", "3",
        "--faults", "slow_ms=1",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdout is not None
    try:
        line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
        assert line.startswith("sim-bingx REST")
        base = line.split()[-1]
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{base}/openApi/swap/v2/server/time") as resp,
        ):
            body = await resp.json()
        assert body["code"] == 0 and isinstance(body["data"]["serverTime"], int)
        proc.send_signal(signal.SIGTERM)
        out, _ = await asyncio.wait_for(proc.communicate(), 15)
        assert proc.returncode == 0
        assert b"sim-bingx stopped" in out
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()



async def test_sim_bingx_prints_the_settings_that_point_pink_run_at_it(capsys: pytest.CaptureFixture[str]) -> None:
    """Its user stream's URL was printed with '?listenKey=<key>', which PINK_BINGX_WS_URL refuses (PINK adds
    the key): it prints the variables to set, as they must be, and they make a BingX configuration."""
    stop = asyncio.Event()
    task = asyncio.create_task(serve(host="127.0.0.1", port=0, seed=1, faults="", api_key="k1", secret_key="s1",
                                     hedge=False, rate_limits=True, stop=stop))
    out = ""
    try:
        for _ in range(3000):  # until the banner is out (the server is up), at most 30 s
            out += capsys.readouterr().out
            if "secret key" in out or task.done():
                break
            await asyncio.sleep(0.01)
    finally:
        stop.set()
        await asyncio.wait_for(task, 15)
    lines = [line for line in out.splitlines() if line.startswith("export ")]
    assert len(lines) == 1, out
    env = dict(re.findall(r"(PINK_BINGX_\w+)=(\S+)", lines[0]))
    cfg = BingxConfig.from_env(env=env)
    base = out.split("sim-bingx REST", 1)[1].split()[0]
    assert cfg.base_url == base and (cfg.api_key, cfg.secret_key) == ("k1", "s1"), (cfg, out)
    assert cfg.ws_url == cfg.market_ws_url == base.replace("http://", "ws://") + "/swap-market", cfg

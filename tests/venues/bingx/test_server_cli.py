"""``pink sim-bingx`` through a tiny Typer app: serves, prints URLs, stops on SIGTERM."""

from __future__ import annotations

import asyncio
import signal
import sys

import aiohttp
import typer
from typer.testing import CliRunner

from pink.cli.bingx_cmd import register

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

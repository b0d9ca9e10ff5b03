"""``pink sim-bingx`` through a tiny Typer app: serves, prints URLs, stops on SIGTERM."""

from __future__ import annotations

import asyncio
import re
import signal
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

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


async def _start(*args: str) -> tuple[asyncio.subprocess.Process, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", SCRIPT, "sim-bingx", "--port", "0", "--seed", "3", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdout is not None and proc.stderr is not None
    line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
    if not line.startswith("sim-bingx REST"):
        proc.kill()
        _, err = await proc.communicate()
        raise AssertionError(f"sim-bingx did not start: {line!r} {err.decode()[-2000:]}")
    return proc, line.split()[-1]


async def _reports(client: Any) -> dict[str, Any]:
    """What a reconcile reads, less what moves with the market (mark, unrealized PnL, times)."""
    steady = ("positionAmt", "availableAmt", "positionSide", "isolated", "avgPrice", "initialMargin", "leverage",
              "liquidationPrice", "symbol")  # fmt: skip
    out: dict[str, Any] = {}
    _, bal = await client.call("GET", "/openApi/swap/v3/user/balance")
    out["balance"] = {k: bal["data"][0][k] for k in ("balance", "availableMargin", "usedMargin", "realisedProfit")}
    _, pos = await client.call("GET", "/openApi/swap/v2/user/positions", {})
    out["positions"] = [{k: row[k] for k in steady} for row in pos["data"]]
    _, opened = await client.call("GET", "/openApi/swap/v2/trade/openOrders", {})
    out["open"] = [{k: v for k, v in o.items() if k != "updateTime"} for o in opened["data"]["orders"]]
    for cid in ("keep-1", "keep-2", "keep-3"):
        _, got = await client.call("GET", "/openApi/swap/v2/trade/order", {"symbol": "BTC-USDT", "clientOrderId": cid})
        out[cid] = got["data"]["order"] if got["code"] == 0 else got["code"]
    _, fills = await client.call("GET", "/openApi/swap/v2/trade/allFillOrders",
                                 {"tradingUnit": "COIN", "startTs": 0, "endTs": 2**41})  # fmt: skip
    out["fills"] = fills["data"]["fill_orders"]
    _, income = await client.call("GET", "/openApi/swap/v2/user/income", {})
    out["income"] = income["data"]
    _, lev = await client.call("GET", "/openApi/swap/v2/trade/leverage", {"symbol": "BTC-USDT"})
    out["leverage"] = lev["data"]
    _, mode = await client.call("GET", "/openApi/swap/v1/positionSide/dual")
    out["mode"] = mode["data"]
    return out


async def test_a_killed_sim_bingx_restarts_as_the_same_account_from_its_state_dir(tmp_path: Path) -> None:
    """A restarted ``pink sim-bingx`` was a new, empty account: a trader could not rehearse a
    venue outage (the server gone, back, and ``pink run`` reconciling against the same orders
    and positions). With ``--state-dir`` the account survives even a kill -9."""
    from tests.venues.bingx.conftest_server import SimClient

    state_dir = tmp_path / "account"
    proc, base = await _start("--state-dir", str(state_dir), "--no-rate-limits")
    try:
        async with aiohttp.ClientSession() as session:
            client = SimClient(session, SimpleNamespace(base_url=base))  # type: ignore[arg-type]
            _, lev = await client.call("POST", "/openApi/swap/v2/trade/leverage",
                                       {"symbol": "BTC-USDT", "side": "BOTH", "leverage": 3})  # fmt: skip
            assert lev["code"] == 0
            _, ack = await client.place(type="MARKET", side="BUY", quantity="0.0200", clientOrderId="keep-1")
            assert ack["code"] == 0 and ack["data"]["order"]["status"] == "FILLED", ack
            _, ack = await client.place(type="MARKET", side="SELL", quantity="0.0050", clientOrderId="keep-2",
                                        reduceOnly="true")  # fmt: skip
            assert ack["code"] == 0, ack
            _, ack = await client.place(type="LIMIT", side="BUY", quantity="0.0100", price="1000",
                                        clientOrderId="keep-3")  # fmt: skip
            assert ack["code"] == 0 and ack["data"]["order"]["status"] in ("NEW", "PENDING"), ack
            async with session.post(f"{base}/_sim/transfer", json={"amount": "123.45"}) as resp:
                assert resp.status == 200
            before = await _reports(client)
        assert before["positions"] and before["open"] and len(before["fills"]) >= 2
        proc.kill()  # SIGKILL: no shutdown, no last write
        await proc.wait()
        proc, base = await _start("--state-dir", str(state_dir), "--no-rate-limits")
        async with aiohttp.ClientSession() as session:
            client = SimClient(session, SimpleNamespace(base_url=base))  # type: ignore[arg-type]
            after = await _reports(client)
            assert after == before
            _, again = await client.place(type="MARKET", side="BUY", quantity="0.0010", clientOrderId="keep-1")
            assert again["code"] != 0  # the client id was used before the restart
            _, more = await client.place(type="MARKET", side="BUY", quantity="0.0010", clientOrderId="keep-4")
            assert more["code"] == 0 and int(more["data"]["order"]["orderId"]) > max(
                int(f["orderId"]) for f in before["fills"])  # fmt: skip
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def test_a_state_dir_holding_something_else_is_refused_and_left_as_it_is(tmp_path: Path) -> None:
    bad = tmp_path / "account.json"
    bad.write_text("{not json")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", SCRIPT, "sim-bingx", "--port", "0", "--state-dir", str(tmp_path),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 2, (out, err)
    assert str(bad) in err.decode() and "not a saved simulator account" in err.decode()
    assert bad.read_text() == "{not json"

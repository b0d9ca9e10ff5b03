"""E26: a trader process killed with SIGKILL restores from its journal, reconciles and finishes.

The trader is ``e26_trader.py`` (JournaledKernel + the real BingxVenue, the
same restore + reconcile shape as ``pink run``), run as a real process
against the real simulator server on loopback. While it is dead its resting
order fills; the restarted process must learn that fill from the venue
(never lose it, never book it twice), place nothing twice, and close.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from decimal import Decimal
from pathlib import Path

from pink.venues.bingx.server import BingxSimServer
from pink.venues.bingx.venue import ORDER_PATH
from tests.venues.bingx.e2e_kit import fill_part

TRADER = Path(__file__).with_name("e26_trader.py")


async def _line(proc: asyncio.subprocess.Process, prefix: str) -> str:
    assert proc.stdout is not None
    while True:
        raw = await asyncio.wait_for(proc.stdout.readline(), 30)  # hang guard only
        if not raw:
            raise AssertionError(f"trader exited before {prefix!r} (rc={await proc.wait()})")
        line = raw.decode().strip()
        if line.startswith("ERROR"):
            raise AssertionError(line)
        if line.startswith(prefix):
            return line[len(prefix):].strip()


async def _start(data: Path, server: BingxSimServer) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, str(TRADER), str(data), server.base_url, server.ws_url,
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip


async def test_e26_runtime_process_killed_with_sigkill_restores_and_completes_trade(
    tmp_path: Path,
) -> None:
    async with BingxSimServer(rate_limits=False) as server:
        first = await _start(tmp_path, server)
        try:
            assert await _line(first, "STARTED") == "replayed=0"
            cid = await _line(first, "RESTING")
        finally:
            first.send_signal(signal.SIGKILL)
            rc = await first.wait()
        assert rc == -signal.SIGKILL
        (order,) = [o for o in server.engine.orders_since(0) if o.client_order_id == cid]
        assert order.cum_qty == 0 and order.live
        posts = server.request_calls[f"POST {ORDER_PATH}"]
        assert posts == 1

        fill_part(server, cid, Decimal("0.002"))  # fills while the trader is dead
        fill_part(server, cid, Decimal("0.003"))

        second = await _start(tmp_path, server)
        try:
            replayed = await _line(second, "STARTED")
            assert replayed != "replayed=0"  # restored from its own journal
            assert await _line(second, "RECONCILED") == "POSITION_OPEN"
            done = json.loads(await _line(second, "DONE"))
            assert await second.wait() == 0
        finally:
            if second.returncode is None:
                second.send_signal(signal.SIGKILL)
                await second.wait()

    assert server.request_calls[f"POST {ORDER_PATH}"] == 2  # the entry once, the exit once
    assert len([o for o in server.engine.orders_since(0) if o.client_order_id == cid]) == 1
    fills = server.engine.fills_since(0)
    assert sum(f.qty for f in fills) == Decimal("0.010")  # 0.005 in, 0.005 out
    gross, fees = Decimal(done["gross"]), Decimal(done["fees"])
    assert gross == sum(f.realized_pnl for f in fills)  # no fill lost, none twice
    assert fees == sum(f.commission for f in fills)
    assert Decimal(done["capital"]) == Decimal(done["initial"]) + gross - fees + Decimal(done["funding"])

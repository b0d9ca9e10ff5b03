"""A tiny trader process for the E26 kill-and-restart test (run as a subprocess).

``python e26_trader.py DATA_DIR BASE_URL WS_URL`` opens a JournaledKernel on
DATA_DIR (restoring it when the journal exists), starts the real BingxVenue,
reconciles the kernel's in-flight orders against the venue (query by client
order id), then drives one trade to its end: a resting LIMIT entry far below
the market ("RESTING <cid>" on stdout), then, once the position is open, a
MARKET exit; at IDLE it prints "DONE <json>" and exits. It is the shape of
``pink run``'s restore + reconcile, small enough to be killed at a known point.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from decimal import ROUND_FLOOR, Decimal
from pathlib import Path

from pink.errors import UnknownOutcomeError, VenueError
from pink.journal import JournaledKernel
from pink.kernel import KernelConfig
from pink.kernel.messages import (
    Action,
    CancelOrder,
    Effect,
    EnsureLeverage,
    Intent,
    OrderType,
    PlaceOrder,
    QueryOrder,
    Side,
    VenueEvent,
)
from pink.venues.bingx.config import BingxConfig
from pink.venues.bingx.server import DEFAULT_API_KEY, DEFAULT_SECRET_KEY
from pink.venues.bingx.venue import BingxVenue

SYMBOL = "BTC-USDT"
TRADE = "e26"


def say(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


async def run(data_dir: Path, base_url: str, ws_url: str) -> None:
    venue = BingxVenue(BingxConfig(DEFAULT_API_KEY, DEFAULT_SECRET_KEY, base_url, ws_url, ws_url,
                                   reconnect_min_s=0.05))  # fmt: skip
    jk = JournaledKernel.open(data_dir / "journal.sqlite",
                              KernelConfig(slots=1, initial_capital=Decimal(10000)),
                              await venue.instruments())  # fmt: skip
    pending: list[Effect] = []

    def sink(event: VenueEvent) -> None:  # one loop, one writer
        pending.extend(jk.apply(event, time.time_ns()).effects)

    async def execute(effects: list[Effect]) -> None:
        for eff in effects:
            try:
                if isinstance(eff, EnsureLeverage):
                    await venue.ensure_leverage(eff)
                elif isinstance(eff, PlaceOrder):
                    await venue.place(eff)
                elif isinstance(eff, CancelOrder):
                    await venue.cancel(eff)
                elif isinstance(eff, QueryOrder):
                    sink(await venue.query(eff))
            except UnknownOutcomeError:
                pass  # the kernel's deadline queries it
            except VenueError as exc:
                say(f"ERROR {type(exc).__name__} {exc.code}")

    try:
        await venue.start(sink)
        say(f"STARTED replayed={jk.replayed}")
        # reconcile: every order the journal says is in flight, from the venue's own record
        for order in jk.kernel.working_orders():
            sink(await venue.query(QueryOrder(order.client_order_id, order.symbol, "restart")))
        say(f"RECONCILED {jk.kernel.slot_view(0).state}")
        announced = False
        while True:
            view = jk.kernel.slot_view(0)
            if view.state == "IDLE" and TRADE not in jk.kernel.used_trade_ids:
                tick = venue.book.get(SYMBOL).tick
                bid = (await venue.quote(SYMBOL)).bid
                price = (bid * Decimal("0.9") / tick).to_integral_value(ROUND_FLOOR) * tick
                intent = Intent(Action.ENTER, 0, TRADE, "e26-enter", asset=SYMBOL,
                                side=Side.LONG, quantity=Decimal("0.005"), leverage=5,
                                order_type=OrderType.LIMIT, limit_price=price)  # fmt: skip
                pending.extend(jk.submit(intent, time.time_ns()).effects)
            elif view.state == "ENTRY_WORKING" and not announced:
                announced = True
                say(f"RESTING {view.working_order}")
            elif view.state == "POSITION_OPEN":
                intent = Intent(Action.EXIT, 0, TRADE, "e26-exit", close_all=True)
                pending.extend(jk.submit(intent, time.time_ns()).effects)
            elif view.state == "IDLE":
                acct = jk.kernel.account_view()
                say("DONE " + json.dumps({
                    "capital": str(acct.capital), "initial": str(acct.initial_capital),
                    "gross": str(acct.gross_pnl), "fees": str(acct.fees),
                    "funding": str(acct.funding),
                }))  # fmt: skip
                return
            effects, pending[:] = list(pending), []
            effects.extend(jk.tick(time.time_ns()).effects)
            await execute(effects)
            await asyncio.sleep(0.02)
    finally:
        await venue.close()
        jk.close()


if __name__ == "__main__":
    asyncio.run(run(Path(sys.argv[1]), sys.argv[2], sys.argv[3]))

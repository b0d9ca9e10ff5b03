"""The shared venue contract, run through the real BingX adapter against the simulator server.

The server runs on the wall clock (as the real venue does): ``drive`` lets
real time pass, so the venue's timestamps and the adapter's time windows
(``allFillOrders`` ``endTs``) agree.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal

from pink.kernel import OrderSide, OrderType, Side, TimeInForce
from pink.ports import Venue
from pink.venues.bingx.config import BingxConfig
from pink.venues.bingx.server import DEFAULT_API_KEY, DEFAULT_SECRET_KEY, BingxSimServer
from pink.venues.bingx.venue import BingxVenue
from pink.venues.sim import NewOrder
from tests.contract.venue_contract import Drive, VenueContract
from tests.venues.bingx.e2e_kit import sim_transfer


class TestBingxVenueContract(VenueContract):
    async def make_venue(self) -> tuple[Venue, Drive]:
        self.server = await BingxSimServer(rate_limits=False).start()
        config = BingxConfig(
            DEFAULT_API_KEY, DEFAULT_SECRET_KEY, self.server.base_url, self.server.ws_url,
            self.server.market_ws_url, reconnect_min_s=0.05,
        )
        venue = BingxVenue(config, fill_watch_s=1.0)

        async def drive(seconds: float) -> None:
            await asyncio.sleep(seconds)

        return venue, drive

    async def teardown_venue(self) -> None:
        await self.server.close()

    async def make_transfer(self, amount: Decimal) -> None:
        """A deposit or withdrawal through the server's ``POST /_sim/transfer`` admin route."""
        status, body = await sim_transfer(self.server, amount)
        assert status == 200, body

    async def make_hand_order(self, side: OrderSide, quantity: Decimal, client_id: str = "") -> None:
        """Straight into the server's engine, published on the stream, with ``client_id`` (none by
        default) on the wire."""
        state = self.server.state
        engine_id = state.new_client_id()
        state.submit(NewOrder(engine_id, self.symbol, side, Side.LONG, quantity, OrderType.MARKET, None,
                              TimeInForce.GTC, False),
                     state.instrument_meta(self.symbol, client_id, "BOTH", 5))  # fmt: skip

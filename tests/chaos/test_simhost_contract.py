"""The chaos runners' venue passes the shared venue contract: a SimVenue served over loopback
TCP by a SimHost in another task, reached through RemoteSimVenue (every call and event pickled)."""

from __future__ import annotations

from decimal import Decimal

from pink.chaos.simhost import RemoteSimVenue, SimHost
from pink.kernel import OrderSide
from pink.ports import Venue
from pink.venues.sim import Latency, SimVenue
from tests.contract.test_sim_contract import hand_order
from tests.contract.venue_contract import Drive, VenueContract

NS_PER_S = 1_000_000_000


class TestRemoteSimVenueContract(VenueContract):
    sim: SimVenue
    host: SimHost

    async def make_venue(self) -> tuple[Venue, Drive]:
        self.sim = SimVenue(latency=Latency(ack_ns=20_000_000, fill_ns=30_000_000))
        self.host = await SimHost(self.sim).start()
        venue = await RemoteSimVenue(self.host.port).connect()

        async def drive(seconds: float) -> None:
            await venue.advance_to(venue.now + int(seconds * NS_PER_S))

        return venue, drive

    async def teardown_venue(self) -> None:
        await self.host.close()

    async def make_transfer(self, amount: Decimal) -> None:
        await self.sim.transfer(amount)  # the trader, at the venue: not through the runner's connection

    async def make_hand_order(self, side: OrderSide, quantity: Decimal, client_id: str = "") -> None:
        self.sim.place_by_hand(hand_order(self.symbol, side, quantity), shown_id=client_id)

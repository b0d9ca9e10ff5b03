"""SimVenue passes the shared venue contract (with latency, without faults)."""

from __future__ import annotations

from decimal import Decimal

from pink.kernel import OrderSide, OrderType, Side, TimeInForce
from pink.ports import Venue
from pink.venues.sim import Latency, NewOrder, SimVenue
from tests.contract.venue_contract import Drive, VenueContract

NS_PER_S = 1_000_000_000


def hand_order(symbol: str, side: OrderSide, quantity: Decimal) -> NewOrder:
    """A MARKET order on the LONG position, by hand (the engine's own id, never shown)."""
    return NewOrder("hand-1", symbol, side, Side.LONG, quantity, OrderType.MARKET, None, TimeInForce.GTC,
                    side is OrderSide.SELL)  # fmt: skip


class TestSimVenueContract(VenueContract):
    venue: SimVenue

    async def make_transfer(self, amount: Decimal) -> None:
        await self.venue.transfer(amount)

    async def make_hand_order(self, side: OrderSide, quantity: Decimal, client_id: str = "") -> None:
        self.venue.place_by_hand(hand_order(self.symbol, side, quantity), shown_id=client_id)

    async def make_venue(self) -> tuple[Venue, Drive]:
        venue = self.venue = SimVenue(latency=Latency(ack_ns=20_000_000, fill_ns=30_000_000, jitter_ns=5_000_000))

        async def drive(seconds: float) -> None:
            await venue.advance_to(venue.now + int(seconds * NS_PER_S))

        return venue, drive


class TestSimVenueContractAckAfterFill(TestSimVenueContract):
    """The same contract when acks arrive after their fills."""

    async def make_venue(self) -> tuple[Venue, Drive]:
        venue = self.venue = SimVenue(latency=Latency(ack_ns=200_000_000, fill_ns=10_000_000), seed=2)

        async def drive(seconds: float) -> None:
            await venue.advance_to(venue.now + int(seconds * NS_PER_S))

        return venue, drive

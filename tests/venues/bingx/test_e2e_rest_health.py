"""Health says when the venue's REST API stops answering, and when it answers again."""

from __future__ import annotations

import pytest

from pink.errors import VenueError
from pink.venues.bingx.config import BingxConfig
from pink.venues.bingx.server import DEFAULT_API_KEY, DEFAULT_SECRET_KEY, BingxSimServer
from pink.venues.bingx.venue import BingxVenue


async def test_rest_reads_as_down_while_the_venue_does_not_answer_and_up_once_it_does() -> None:
    """`pink health` said 'rest up' through a whole outage: it only checked that the adapter existed."""
    server = await BingxSimServer(rate_limits=False).start()
    port = server.port
    venue = BingxVenue(BingxConfig(DEFAULT_API_KEY, DEFAULT_SECRET_KEY, server.base_url, server.ws_url,
                                   server.market_ws_url, max_retries=0))
    await venue.start(lambda _e: None)
    try:
        await venue.balance()
        assert venue.rest_reachable
        await server.close()
        with pytest.raises(VenueError, match="NETWORK"):
            await venue.balance()
        assert not venue.rest_reachable
        server = await BingxSimServer(rate_limits=False, port=port).start()
        await venue.balance()
        assert venue.rest_reachable
    finally:
        await venue.close()
        await server.close()

"""Opt-in checks against the real BingX VST (demo) venue.

Run with PINK_LIVE=1 and PINK_BINGX_API_KEY / PINK_BINGX_SECRET_KEY set.
Read-only: no order is placed.
"""

from __future__ import annotations

import os

import pytest

from pink.kernel.messages import VenueEvent
from pink.venues.bingx.config import BingxConfig
from pink.venues.bingx.venue import BingxVenue

pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(
        not (os.environ.get("PINK_BINGX_API_KEY") and os.environ.get("PINK_LIVE") == "1"),
        reason="live VST tests need PINK_LIVE=1 and PINK_BINGX_API_KEY/PINK_BINGX_SECRET_KEY",
    ),
]


async def test_live_vst_read_only_round_trip() -> None:
    venue = BingxVenue(BingxConfig.from_env("vst"))
    events: list[VenueEvent] = []
    try:
        await venue.start(events.append)
        instruments = await venue.instruments()
        assert "BTC-USDT" in instruments
        quote = await venue.quote("BTC-USDT")
        assert 0 < quote.bid <= quote.ask
        balance = await venue.balance()
        assert balance.balance >= 0
        await venue.open_orders()
        await venue.positions()
    finally:
        await venue.close()

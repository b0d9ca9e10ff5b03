"""BingX USDT-M perpetual futures adapter (REST + WebSocket).

The simulator server (``server*.py``) is not imported here.
"""

from pink.venues.bingx.config import PRESETS, BingxConfig
from pink.venues.bingx.fields import BingxParseError
from pink.venues.bingx.http import BingxHttp
from pink.venues.bingx.instruments import InstrumentBook
from pink.venues.bingx.parse import FillTracker, parse_market_frame, parse_user_frame
from pink.venues.bingx.signing import sign, signed_query
from pink.venues.bingx.venue import BingxVenue

__all__ = [
    "PRESETS",
    "BingxConfig",
    "BingxHttp",
    "BingxParseError",
    "BingxVenue",
    "FillTracker",
    "InstrumentBook",
    "parse_market_frame",
    "parse_user_frame",
    "sign",
    "signed_query",
]

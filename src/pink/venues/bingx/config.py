"""Configuration of the BingX adapter: hosts, keys and timings.

The key and secret are never printed: ``repr`` masks them and no error or log
line of this package includes them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace

from pink.errors import ConfigError

SIM_API_KEY = "pink-sim-api-key"
SIM_SECRET_KEY = "pink-sim-secret-key"
"""The simulator server's built-in keys (``pink sim-bingx``; never valid at BingX)."""

__all__ = ["PRESETS", "BingxConfig"]

PRESETS: dict[str, tuple[str, str, str]] = {
    # name: (REST base, user-data WS, market WS)
    "live": (
        "https://open-api.bingx.com",
        "wss://open-api-swap.bingx.com/swap-market",
        "wss://open-api-swap.bingx.com/swap-market",
    ),
    "vst": (
        "https://open-api-vst.bingx.com",
        "wss://vst-open-api-ws.bingx.com/swap-market",
        "wss://vst-open-api-ws.bingx.com/swap-market",
    ),
}


def _mask(secret: str) -> str:
    return "<unset>" if not secret else "***"


#: the environment variables :meth:`BingxConfig.from_env` reads
ENV_KEYS = frozenset({"PINK_BINGX_PRESET", "PINK_BINGX_API_KEY", "PINK_BINGX_SECRET_KEY", "PINK_BINGX_BASE_URL",
                      "PINK_BINGX_WS_URL", "PINK_BINGX_MARKET_WS_URL"})


@dataclass(frozen=True, slots=True)
class BingxConfig:
    """Everything the adapter needs; build with :meth:`from_env` or :meth:`preset`."""

    api_key: str
    secret_key: str
    base_url: str
    ws_url: str
    market_ws_url: str
    recv_window_ms: int = 5000
    request_timeout_s: float = 10.0
    listen_key_extend_s: float = 30 * 60.0
    instrument_refresh_s: float = 3600.0
    funding_refresh_s: float = 60.0
    reconnect_min_s: float = 0.2
    reconnect_max_s: float = 30.0
    ping_timeout_s: float = 30.0
    rate_limit_per_s: float = 5.0
    rate_limit_backoff_s: float = 1.0
    max_retries: int = 2
    hedge_mode: bool | None = None  # None: read from the venue once

    def __repr__(self) -> str:
        return (
            f"BingxConfig(api_key={_mask(self.api_key)}, secret_key={_mask(self.secret_key)}, "
            f"base_url={self.base_url!r}, ws_url={self.ws_url!r}, "
            f"market_ws_url={self.market_ws_url!r})"
        )

    __str__ = __repr__

    @classmethod
    def preset(cls, name: str, api_key: str = "", secret_key: str = "") -> BingxConfig:
        try:
            base, ws, market = PRESETS[name]
        except KeyError:
            raise ConfigError(f"unknown BingX preset {name!r}; use one of {sorted(PRESETS)}") from None
        return cls(api_key, secret_key, base, ws, market)

    @classmethod
    def from_env(
        cls, preset: str = "vst", env: Mapping[str, str] | None = None
    ) -> BingxConfig:
        """Keys from ``PINK_BINGX_API_KEY``/``PINK_BINGX_SECRET_KEY``; URLs may be overridden
        (the REST one only with the stream's: a REST server's listen key means nothing to another
        venue's stream). An unknown ``PINK_BINGX_*`` variable is refused, naming the known ones: a
        misspelt URL would otherwise send orders to the preset's venue."""
        e = os.environ if env is None else env
        unknown = sorted(k for k in e if k.startswith("PINK_BINGX_") and k not in ENV_KEYS)
        if unknown:
            raise ConfigError(f"unknown BingX setting(s) {', '.join(unknown)} in the environment "
                              f"(known: {', '.join(sorted(ENV_KEYS))})")
        if e.get("PINK_BINGX_BASE_URL") and not e.get("PINK_BINGX_WS_URL"):
            raise ConfigError("PINK_BINGX_BASE_URL is set without PINK_BINGX_WS_URL: the streams would go "
                              "to the preset's venue; set both (and PINK_BINGX_MARKET_WS_URL if its market "
                              "stream is elsewhere)")
        cfg = cls.preset(
            e.get("PINK_BINGX_PRESET", preset),
            e.get("PINK_BINGX_API_KEY", ""),
            e.get("PINK_BINGX_SECRET_KEY", ""),
        )
        base = e.get("PINK_BINGX_BASE_URL") or cfg.base_url
        ws = e.get("PINK_BINGX_WS_URL") or cfg.ws_url
        market = e.get("PINK_BINGX_MARKET_WS_URL") or (
            ws if e.get("PINK_BINGX_WS_URL") else cfg.market_ws_url
        )
        return replace(cfg, base_url=base.rstrip("/"), ws_url=ws, market_ws_url=market)

    def require_keys(self) -> None:
        if not self.api_key or not self.secret_key:
            raise ConfigError(
                "BingX API key and secret are required "
                "(set PINK_BINGX_API_KEY and PINK_BINGX_SECRET_KEY)"
            )

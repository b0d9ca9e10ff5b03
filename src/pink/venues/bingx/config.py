"""Configuration of the BingX adapter: hosts, keys and timings.

The key and secret are never printed: ``repr`` masks them and no error or log
line of this package includes them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from urllib.parse import urlsplit

from pink.errors import AuthError, ConfigError

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


def _preset_of(url: str) -> str | None:
    """The preset whose host ``url`` is on (None: another host, a simulator's say)."""
    host = urlsplit(url).hostname
    return next((name for name, urls in PRESETS.items() if any(urlsplit(u).hostname == host for u in urls)), None)


def _check_url(name: str, url: str, schemes: tuple[str, ...], kind: str, *, path: bool) -> None:
    parts = urlsplit(url)
    if parts.scheme not in schemes or not parts.hostname:
        raise ConfigError(f"{name}={url!r} is not {kind} URL (like {schemes[0]}://127.0.0.1:8765)")
    if not path and parts.path.strip("/"):
        raise ConfigError(f"{name}={url!r} has a path: give the host only ({parts.scheme}://{parts.netloc}); "
                          "PINK adds the API's paths")
    if parts.query or parts.fragment:
        raise ConfigError(f"{name}={url!r} has a query: drop what follows '?' (PINK adds the listen key)")


def _check_env(e: Mapping[str, str], default: str) -> None:
    """Refuse a setting that would send orders where the trader did not mean them to go, naming it."""
    unknown = sorted(k for k in e if k.startswith("PINK_BINGX_") and k not in ENV_KEYS)
    if unknown:
        raise ConfigError(f"unknown BingX setting(s) {', '.join(unknown)} in the environment "
                          f"(known: {', '.join(sorted(ENV_KEYS))})")
    if (preset := e.get("PINK_BINGX_PRESET")) is not None and preset not in PRESETS:
        raise ConfigError(f"PINK_BINGX_PRESET={preset!r} is not a BingX preset; use 'vst' (the demo) or 'live'")
    for key in ("PINK_BINGX_API_KEY", "PINK_BINGX_SECRET_KEY"):
        if any(c.isspace() or not c.isprintable() for c in e.get(key, "")):  # (the value is never shown)
            raise ConfigError(f"{key} has a space or a control character (a pasted line end?); set the key alone")
    base, ws = e.get("PINK_BINGX_BASE_URL"), e.get("PINK_BINGX_WS_URL")
    if base and not ws:
        raise ConfigError("PINK_BINGX_BASE_URL is set without PINK_BINGX_WS_URL: the streams would go "
                          "to the preset's venue; set both (and PINK_BINGX_MARKET_WS_URL if its market "
                          "stream is elsewhere)")
    moved = [k for k in ("PINK_BINGX_WS_URL", "PINK_BINGX_MARKET_WS_URL") if e.get(k)]
    if moved and not base:
        raise ConfigError(f"{moved[0]} is set without PINK_BINGX_BASE_URL: orders would go to the preset's "
                          "venue while fills or prices come from another; set both (the preset's REST host "
                          f"is {PRESETS.get(preset or default, ('?',))[0]})")
    if not (base and ws):
        return
    _check_url("PINK_BINGX_BASE_URL", base, ("http", "https"), "an http(s)", path=False)
    urls = {"PINK_BINGX_WS_URL": ws, "PINK_BINGX_MARKET_WS_URL": e.get("PINK_BINGX_MARKET_WS_URL") or ws}
    for name, url in urls.items():
        _check_url(name, url, ("ws", "wss", "http", "https"), "a ws(s)", path=True)
    rest = _preset_of(base)
    for name, url in urls.items():
        if (other := _preset_of(url)) != rest:
            raise ConfigError(f"PINK_BINGX_BASE_URL is the {rest or 'non-BingX'} host but {name} is the "
                              f"{other or 'non-BingX'} host: orders and fills must be on one venue")
    if preset is not None and rest is not None and rest != preset:
        raise ConfigError(f"PINK_BINGX_PRESET={preset} but PINK_BINGX_BASE_URL is the {rest} host; "
                          f"drop one of them (the URLs alone say where to trade)")


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
        _check_env(e, preset)
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

    def start_hint(self, error: BaseException | None) -> str:
        """What the trader should check when the venue could not start with ``error`` (the
        venue's own error), naming the setting; "" when there is nothing to add."""
        code = getattr(error, "code", "")
        if isinstance(error, AuthError):
            return ("BingX refused the API key: check that PINK_BINGX_API_KEY and PINK_BINGX_SECRET_KEY are one "
                    "pair, each copied whole (the same pair serves the VST demo and live), and that the key may "
                    "trade perpetual futures from this machine's IP address")
        if code in ("NETWORK", "TIMEOUT"):
            return (f"nothing answered at {self.base_url}: check the network and PINK_BINGX_BASE_URL (unset: the "
                    "preset's host; a simulator: is `pink sim-bingx` running there?)")
        if code == "STREAM":
            return (f"check PINK_BINGX_WS_URL ({self.ws_url}, waited {self.request_timeout_s:g} s; for `pink "
                    "sim-bingx`: ws://HOST:PORT/swap-market)")
        return ""

    def require_keys(self) -> None:
        if not self.api_key or not self.secret_key:
            raise ConfigError(
                "BingX API key and secret are required "
                "(set PINK_BINGX_API_KEY and PINK_BINGX_SECRET_KEY)"
            )

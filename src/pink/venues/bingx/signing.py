"""Request signing for BingX (REFERENCE §1.2).

``signature`` = lowercase hex HMAC-SHA256(secret, parameter string); the
parameter string is the a–z sorted ``k=v&…`` of every param sent except the
signature, built once and sent exactly as signed (in the query string).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping
from decimal import Decimal
from urllib.parse import quote

__all__ = ["ServerClock", "encode_value", "param_string", "sign", "signed_query"]

ParamValue = str | int | Decimal | bool


def sign(secret: str, payload: str) -> str:
    """Lowercase hex HMAC-SHA256 of ``payload`` keyed by ``secret``."""
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


def encode_value(value: ParamValue) -> str:
    """Wire text of one param: booleans as true/false, decimals in plain notation."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        text = format(value, "f")
        return text
    return str(value)


def param_string(params: Mapping[str, ParamValue]) -> str:
    """a–z sorted ``k=v&…``; values percent-encoded except unreserved characters."""
    return "&".join(
        f"{k}={quote(encode_value(params[k]), safe='-_.~')}" for k in sorted(params)
    )


def signed_query(
    secret: str, params: Mapping[str, ParamValue], timestamp_ms: int, recv_window_ms: int
) -> str:
    """The full query string to send: sorted params + timestamp/recvWindow + signature."""
    full: dict[str, ParamValue] = dict(params)
    full["timestamp"] = timestamp_ms
    full["recvWindow"] = recv_window_ms
    text = param_string(full)
    return f"{text}&signature={sign(secret, text)}"


class ServerClock:
    """Local time corrected by the offset measured against the server's clock."""

    def __init__(self) -> None:
        self.offset_ms = 0

    def now_ms(self) -> int:
        return int(time.time() * 1000) + self.offset_ms

    def update(self, server_ms: int, sent_ms: int, received_ms: int) -> None:
        """Set the offset from one round trip (server time vs the midpoint)."""
        self.offset_ms = server_ms - (sent_ms + received_ms) // 2

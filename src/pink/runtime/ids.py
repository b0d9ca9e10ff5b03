"""Identifiers stamped by the runtime: single-use trade ids, intent and decision ids.

Trade ids are lowercase alphanumeric, at most 24 characters, and never
repeat, across restarts too: each runtime process takes a prefix from the
wall clock at its start plus random bits, then counts.
"""

from __future__ import annotations

import secrets
import time

__all__ = ["IdFactory", "base36"]

_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"


def base36(n: int) -> str:
    if n < 0:
        raise ValueError("negative")
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = _DIGITS[r] + out
        if n == 0:
            return out


class IdFactory:
    """Makes ids ``<kind><prefix><counter>``; ``prefix`` is unique per process."""

    def __init__(self, prefix: str | None = None) -> None:
        if prefix is None:
            prefix = base36(time.time_ns() // 1_000_000)[-8:] + base36(secrets.randbelow(36**2))
        if not prefix.isalnum() or prefix.lower() != prefix or len(prefix) > 12:
            raise ValueError(f"bad id prefix {prefix!r}")
        self.prefix = prefix
        self._n = 0

    def _next(self, kind: str) -> str:
        self._n += 1
        return f"{kind}{self.prefix}{base36(self._n)}"

    def trade_id(self) -> str:
        return self._next("t")

    def intent_id(self) -> str:
        return self._next("i")

    def decision_id(self) -> str:
        return self._next("d")

"""BingX error codes and their mapping onto :mod:`pink.errors` (REFERENCE §6).

Legacy codes (8001x, 1004xx) and the 2025 1094xx numbering are both matched;
some numbers are overloaded, so the message is checked as well.

Decision table::

    signature / key / permission / IP   -> AuthError          (never retried)
    HTTP 429/418, 100410, 109429        -> RateLimitedError   (retry after back-off, or
                                           after the reply's Retry-After: StatedRateLimitError)
    HTTP 5xx, 504, timeout (mutating)   -> UnknownOutcomeError (reconcile by query)
    100500, 101500, 80019, 80001, 80012 -> UnknownOutcomeError on an order or a cancel
      (internal error, RPC timeout,        (the venue may have acted: an order refused
      "being processed", service error,    this way may rest at the venue, so it is
      unavailable; not 80012 "margin")     queried, never booked as refused);
                                           VenueError retryable on a read
    100421 timestamp mismatch           -> VenueError retryable (the clock is re-read)
    a reply the adapter cannot read     -> VenueError BAD_REPLY (callers handle VenueError only)
    everything else                     -> VenueError not retryable
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from email.utils import parsedate_to_datetime

from pink.errors import AuthError, RateLimitedError, UnknownOutcomeError, VenueError
from pink.venues.bingx.fields import BingxParseError

__all__ = [
    "ALREADY_FILLED_CODES",
    "AUTH_CODES",
    "BAD_REPLY",
    "NOT_FOUND_CODES",
    "RATE_LIMIT_CODES",
    "RETRYABLE_CODES",
    "UNKNOWN_OUTCOME_CODES",
    "StatedRateLimitError",
    "from_http_status",
    "from_venue_code",
    "is_already_filled",
    "is_not_found",
    "parse_retry_after",
    "unreadable_as_venue_error",
    "with_retry_after",
]

#: the code of a venue reply the adapter could not read
BAD_REPLY = "BAD_REPLY"

AUTH_CODES = frozenset({"100001", "100412", "100413", "100004", "100419", "100414"})
RATE_LIMIT_CODES = frozenset({"100410", "109429"})
NOT_FOUND_CODES = frozenset({"80016", "109414", "109421"})
ALREADY_FILLED_CODES = frozenset({"80018", "109422"})
RETRYABLE_CODES = frozenset({"80012", "100500", "101500", "80019", "80001", "100421"})
# Server-side failures that do not say whether an order or cancel took effect (errors.json:
# "Internal system error", "RPC timeout", "Order is being processed (query allOrders later)",
# "service has some errors", "Service unavailable"). 80012 also wraps a margin refusal.
UNKNOWN_OUTCOME_CODES = frozenset({"100500", "101500", "80019", "80001", "80012"})

_NOT_FOUND_WORDS = ("not exist", "does not exist", "doesn't exist", "not found", "unknown order")
_FILLED_WORDS = ("already filled", "is filled", "has been filled")


class StatedRateLimitError(RateLimitedError):
    """A rate limit whose reply said how long to wait (``Retry-After``): ``retry_after_s``."""


def parse_retry_after(value: str | None) -> float | None:
    """Seconds a ``Retry-After`` header asks for (a number of seconds or an HTTP date); None
    when there is none or it cannot be read."""
    if not value or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            seconds = parsedate_to_datetime(text).timestamp() - time.time()
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
    return max(seconds, 0.0) if seconds == seconds and seconds != float("inf") else None


def with_retry_after(exc: VenueError, stated_s: float | None) -> VenueError:
    """``exc``, as a :class:`StatedRateLimitError` when it is a rate limit and the reply said
    how long to wait."""
    if stated_s is None or not isinstance(exc, RateLimitedError):
        return exc
    return StatedRateLimitError(exc.code, exc.message, retry_after_s=stated_s)


def is_not_found(code: str, message: str) -> bool:
    """The venue says the order does not exist (and not that it was filled)."""
    if is_already_filled(code, message):
        return False
    low = message.lower()
    return code in NOT_FOUND_CODES or (
        code in {"80014", "109400"} and any(w in low for w in _NOT_FOUND_WORDS)
    )


def is_already_filled(code: str, message: str) -> bool:
    return code in ALREADY_FILLED_CODES or any(w in message.lower() for w in _FILLED_WORDS)


def from_venue_code(code: str, message: str, *, mutating: bool = False) -> VenueError:
    """The error for a non-zero envelope ``code``; ``message`` is the venue's ``msg``;
    ``mutating``: the call places or cancels (a server-side failure leaves its outcome unknown)."""
    low = message.lower()
    if mutating and code in UNKNOWN_OUTCOME_CODES and "margin" not in low:
        return UnknownOutcomeError(code, message or "server error; outcome unknown")
    if code in AUTH_CODES or ("signature" in low and code != "100421"):
        return AuthError(code, message)
    if code in RATE_LIMIT_CODES:
        return RateLimitedError(code, message, retry_after_s=1.0)
    if code == "100421" and "restricted" in low:
        return VenueError(code, message, retryable=False)
    return VenueError(code, message, retryable=code in RETRYABLE_CODES)


def from_http_status(status: int, body: str, *, mutating: bool) -> VenueError:
    """The error for an HTTP status other than 200."""
    text = body[:200]
    if status in (429, 418):
        wait = 60.0 if status == 418 else 1.0
        return RateLimitedError(f"HTTP{status}", text or "rate limited", retry_after_s=wait)
    if status == 401:
        return AuthError("HTTP401", text or "unauthorized")
    if status == 403:
        return VenueError("HTTP403", text or "forbidden (WAF)", retryable=False)
    if status >= 500:
        if mutating:
            return UnknownOutcomeError(f"HTTP{status}", text or "server error; outcome unknown")
        return VenueError(f"HTTP{status}", text or "server error", retryable=True)
    return VenueError(f"HTTP{status}", text or "bad request", retryable=False)


@contextmanager
def unreadable_as_venue_error() -> Iterator[None]:
    """A reply that cannot be read raises ``VenueError(BAD_REPLY)``: the callers (the runtime,
    the gap-fill) handle a venue's failure, and a parse error would escape them (ending a
    stream's gap-fill, or the task that asked)."""
    try:
        yield
    except BingxParseError as exc:
        raise VenueError(BAD_REPLY, str(exc)) from exc

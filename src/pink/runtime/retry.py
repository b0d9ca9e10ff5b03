"""Reads of the venue that must succeed before the first policy cycle (E26).

The start-up reconcile books what moved while PINK was down. A read that fails once (a 502, a
rate limit) is asked again after a short back-off; one that still fails stops the start with a
:class:`~pink.errors.ReconcileError` naming the read: a cycle must never size orders on a
kernel that missed a withdrawal or a fill.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from pink.errors import RateLimitedError, ReconcileError, VenueError

__all__ = ["read_or_fail"]

log = logging.getLogger(__name__)
T = TypeVar("T")


async def read_or_fail(what: str, call: Callable[[], Awaitable[T]], attempts: int, backoff_s: float) -> T:
    """``call()``, tried up to ``attempts`` times while the venue calls its error retryable (the
    waits double from ``backoff_s``, or are the venue's own ``retry_after_s``); otherwise a
    ReconcileError naming ``what``."""
    attempts = max(attempts, 1)
    for attempt in range(1, attempts + 1):
        try:
            return await call()
        except VenueError as exc:
            if not exc.retryable or attempt == attempts:
                tried = f"{attempt} attempt{'s' if attempt > 1 else ''}"
                raise ReconcileError(what, f"{exc} ({tried}); nothing was traded: start again once the "
                                     "venue answers") from exc
            delay = exc.retry_after_s if isinstance(exc, RateLimitedError) else backoff_s * 2 ** (attempt - 1)
            log.warning("start-up reconcile: reading %s failed (%s); again in %.1f s", what, exc, delay)
            await asyncio.sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover

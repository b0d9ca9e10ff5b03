"""Errors of the shell (everything around the kernel).

Hierarchy::

    PinkError
    ├── ConfigError            bad configuration or command-line input
    ├── StartupError           a requested backend could not start (F22)
    │   └── ReconcileError     the start-up reconcile could not read the venue: no cycle runs
    ├── ClosedError            a component was used after close() (E6, F20)
    ├── CodecError             a record failed strict decoding (F14, F30)
    │   └── JournalDamagedError  a journal's file or records are damaged (``pink audit`` names the first)
    └── VenueError             the venue refused or failed (code, retryable)
        ├── AuthError          signature / key refused; never retried
        ├── RateLimitedError   429 / 418; retry after a back-off
        ├── UnknownOutcomeError  timeout, 504, lost reply: the order may exist
        ├── LeverageError      setting leverage failed (E15, F18)
        └── UnknownInstrumentError  symbol not in the instrument map (E16)

The kernel never raises these: it has its own refusals and quarantine.
"""

from __future__ import annotations

__all__ = [
    "AuthError",
    "ClosedError",
    "CodecError",
    "ConfigError",
    "JournalDamagedError",
    "JournalWriteError",
    "LeverageError",
    "PinkError",
    "RateLimitedError",
    "ReconcileError",
    "StartupError",
    "UnknownInstrumentError",
    "UnknownOutcomeError",
    "VenueError",
]


class PinkError(Exception):
    """Base of every error PINK raises on purpose."""


class ConfigError(PinkError):
    pass


class StartupError(PinkError):
    """A backend that was asked for cannot start; the message names it."""

    def __init__(self, component: str, cause: str) -> None:
        super().__init__(f"{component} could not start: {cause}")
        self.component = component
        self.cause = cause


class ReconcileError(StartupError):
    """The start-up reconcile could not read part of what the venue holds, even after retries.

    Trading on a kernel that missed what moved while PINK was down (a withdrawal, funding, a
    fill) would size and book on wrong capital, so the start stops instead, naming the read."""

    def __init__(self, what: str, cause: str) -> None:
        super().__init__("start-up reconcile", f"could not read {what} from the venue: {cause}")
        self.args = (f"the start-up reconcile could not read {what} from the venue: {cause}",)
        self.what = what


class ClosedError(PinkError):
    def __init__(self, what: str) -> None:
        super().__init__(f"{what} is closed")


class CodecError(PinkError):
    pass


class JournalDamagedError(CodecError):
    """A journal that cannot be vouched for: SQLite finds its file damaged, a message is missing
    or cannot be read, or a snapshot disagrees with the messages before it. The message names
    the first such place."""


class JournalWriteError(PinkError):
    """The journal could not make a message durable (a full disk, say): its effects were never
    handed out, the kernel in memory is ahead of the journal and is not used again; the next
    start restores from what the journal holds and reconciles with the venue."""


class VenueError(PinkError):
    def __init__(self, code: str, message: str, *, retryable: bool = False) -> None:
        super().__init__(f"venue error {code}: {message}")
        self.code = code
        self.message = message
        self.retryable = retryable


class AuthError(VenueError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(code, message, retryable=False)


class RateLimitedError(VenueError):
    def __init__(self, code: str, message: str, retry_after_s: float = 1.0) -> None:
        super().__init__(code, message, retryable=True)
        self.retry_after_s = retry_after_s


class UnknownOutcomeError(VenueError):
    """The request may or may not have taken effect (timeout, 504, lost reply)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(code, message, retryable=True)


class LeverageError(VenueError):
    def __init__(self, symbol: str, code: str, message: str) -> None:
        super().__init__(code, f"setting leverage on {symbol} failed: {message}")
        self.symbol = symbol


class UnknownInstrumentError(VenueError):
    def __init__(self, symbol: str, why: str = "") -> None:
        super().__init__("UNKNOWN_INSTRUMENT", f"unknown instrument {symbol!r}" + (f" ({why})" if why else ""))
        self.symbol = symbol

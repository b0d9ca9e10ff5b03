"""Enum members as plain module constants, for the kernel's hot paths.

Accessing a member through its Enum class (``OutcomeStatus.CONFIRMED``) costs a
descriptor call; a module constant does not.
"""

from __future__ import annotations

from pink.kernel.messages import OutcomeStatus, Reason

__all__ = [
    "O_CONFIRMED",
    "O_DUPLICATE",
    "O_NO_CHANGE",
    "O_PENDING",
    "O_QUARANTINED",
    "O_REFUSED",
    "O_UNKNOWN",
    "R_CANCEL_ALREADY_REQUESTED",
    "R_INVALID_FIELD",
    "R_NOTHING_TO_CANCEL",
    "R_NO_OPEN_POSITION",
    "R_OK",
    "R_ORDER_ALREADY_FILLED",
    "R_ORDER_NOT_FOUND",
    "R_PROTOCOL_ERROR",
    "R_SLOT_BUSY",
    "R_SLOT_DESYNC",
    "R_TRADE_ID_USED",
    "R_UNKNOWN_ORDER",
    "R_VENUE_REJECTED",
    "R_WRONG_TRADE",
]

O_CONFIRMED = OutcomeStatus.CONFIRMED
O_DUPLICATE = OutcomeStatus.DUPLICATE
O_NO_CHANGE = OutcomeStatus.NO_CHANGE
O_PENDING = OutcomeStatus.PENDING
O_QUARANTINED = OutcomeStatus.QUARANTINED
O_REFUSED = OutcomeStatus.REFUSED
O_UNKNOWN = OutcomeStatus.UNKNOWN
R_CANCEL_ALREADY_REQUESTED = Reason.CANCEL_ALREADY_REQUESTED
R_INVALID_FIELD = Reason.INVALID_FIELD
R_NOTHING_TO_CANCEL = Reason.NOTHING_TO_CANCEL
R_NO_OPEN_POSITION = Reason.NO_OPEN_POSITION
R_OK = Reason.OK
R_ORDER_ALREADY_FILLED = Reason.ORDER_ALREADY_FILLED
R_ORDER_NOT_FOUND = Reason.ORDER_NOT_FOUND
R_PROTOCOL_ERROR = Reason.PROTOCOL_ERROR
R_SLOT_BUSY = Reason.SLOT_BUSY
R_SLOT_DESYNC = Reason.SLOT_DESYNC
R_TRADE_ID_USED = Reason.TRADE_ID_USED
R_UNKNOWN_ORDER = Reason.UNKNOWN_ORDER
R_VENUE_REJECTED = Reason.VENUE_REJECTED
R_WRONG_TRADE = Reason.WRONG_TRADE

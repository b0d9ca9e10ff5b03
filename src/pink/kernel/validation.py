"""Validation of intents and venue events: a refusal names the field (F3).

Validators are pure and return ``None`` when the input is acceptable, or a
``(reason, "field: why")`` pair. They never raise on garbage: a value of the
wrong type is reported like any other invalid value.
"""

from __future__ import annotations

import functools
import math
import re
from decimal import Decimal

from pink.kernel.messages import (
    Action,
    ControlSnapshot,
    Instrument,
    Intent,
    OrderType,
    PolicyMetadata,
    Reason,
    Side,
    TimeInForce,
)

# enum members as module constants (member access through an Enum class costs a descriptor call)
_ENTER = Action.ENTER
_CANCEL = Action.CANCEL
_LIMIT = OrderType.LIMIT
_MARKET = OrderType.MARKET
_POST_ONLY = TimeInForce.POST_ONLY

__all__ = [
    "MAX_MAGNITUDE",
    "check_control",
    "check_decimal",
    "check_money",
    "check_signed",
    "metadata_problem",
    "validate_intent",
]

_TRADE_ID = re.compile(r"[a-z0-9]{1,24}")
MAX_MAGNITUDE = Decimal("1e12")
"""Prices and quantities above this are refused: products stay exact in 28 digits."""
_MAX_EXPONENT = -12  # at most 12 decimal places
_TWELVE_PLACES = Decimal("1e-12")
_MAX_DIGITS = 12
"""Prices and quantities carry at most 12 significant digits, so that every
product the kernel forms (price x qty, (price - vwap) x qty with the VWAP on
tick x 1e-6) has at most 28 digits: exact in the default decimal context."""

Refusal = tuple[Reason, str]


def check_decimal(value: object, name: str, *, positive: bool = True) -> str | None:
    """Why ``value`` is not an acceptable exact amount, or None."""
    if type(value) is Decimal and value.is_finite():  # fast path: the common, valid case
        t = value.as_tuple()
        n, e = len(t.digits), t.exponent
        # at most 12 digits, 12 decimals, 12 integer digits (1E+13 has one digit: its size is checked)
        if (value > 0 if positive else value >= 0) and n <= _MAX_DIGITS and _MAX_EXPONENT <= e <= _MAX_DIGITS - n:  # type: ignore[operator]
            return None
    if type(value) is not Decimal:
        return f"{name}: must be a Decimal, got {type(value).__name__}"
    if not value.is_finite():
        return f"{name}: must be finite, got {value}"
    if positive and value <= 0:
        return f"{name}: must be > 0, got {value}"
    if not positive and value < 0:
        return f"{name}: must be >= 0, got {value}"
    if abs(value) > MAX_MAGNITUDE:
        return f"{name}: {value} is larger than {MAX_MAGNITUDE}"
    if len(value.normalize().as_tuple().digits) > _MAX_DIGITS:
        return f"{name}: {value} has more than {_MAX_DIGITS} significant digits"
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent < _MAX_EXPONENT:
        normal = value.normalize().as_tuple().exponent
        if isinstance(normal, int) and normal < _MAX_EXPONENT:
            return f"{name}: more than 12 decimal places in {value}"
    return None


def check_signed(value: object, name: str, *, zero: bool = True) -> str | None:
    """Why ``value`` is not an acceptable signed amount (a fee, a rebate being negative; with
    ``zero=False`` a funding payment or a transfer, which are never zero), held to the limits
    of :func:`check_decimal` so that capital stays exact, or None."""
    if type(value) is not Decimal or not value.is_finite():
        return f"{name}: must be a finite Decimal, got {value!r}"
    return check_decimal(abs(value), name, positive=not zero)


def check_money(value: object, name: str) -> str | None:
    """Why ``value`` is not an acceptable amount of money moved (a funding payment, a transfer:
    never zero), or None. It is only ever added to capital, never multiplied, so it is held to
    12 decimals and :data:`MAX_MAGNITUDE`, not to 12 digits (BingX's 8 decimals give a deposit of
    12345.67890123 thirteen): capital stays exact in 28 digits."""
    if type(value) is not Decimal or not value.is_finite():
        return f"{name}: must be a finite Decimal, got {value!r}"
    if not value:
        return f"{name}: must not be 0"
    if abs(value) > MAX_MAGNITUDE:
        return f"{name}: {value} is larger than {MAX_MAGNITUDE}"
    if value != value.quantize(_TWELVE_PLACES):
        return f"{name}: more than 12 decimal places in {value}"
    return None


def check_control(snap: ControlSnapshot) -> str | None:
    """Why the operator's snapshot cannot be adopted (naming the field), or None: a kernel that
    took a cap that is not an amount would refuse every entry with a TypeError."""
    if type(snap.version) is not int or snap.version < 0:
        return f"version: must be an integer >= 0, got {snap.version!r}"
    for name in ("pause_entries", "kill"):
        if type(getattr(snap, name)) is not bool:
            return f"{name}: must be true or false, got {getattr(snap, name)!r}"
    if type(snap.max_leverage) is not int or snap.max_leverage < 1:
        return f"max_leverage: must be an integer >= 1, got {snap.max_leverage!r}"
    cap = snap.max_position_notional
    if cap is not None and (type(cap) is not Decimal or not cap.is_finite() or cap <= 0):
        return f"max_position_notional: must be a Decimal > 0 or none, got {cap!r}"
    for name in ("changed_by", "note"):
        if not isinstance(getattr(snap, name), str):
            return f"{name}: must be a string, got {getattr(snap, name)!r}"
    return None


_MAX_TICK_STEP_DECIMALS = 12
"""A leg's PnL, (price - entry VWAP on tick x 1e-6) x qty, carries the tick's decimals + 6 + the
step's: with at most 12 between tick and step every amount booked has at most 18 decimals, what
the ledger keeps exactly (and capital stays within 28 digits)."""


@functools.cache
def _fine(tick: Decimal, step: Decimal) -> int:
    """The decimals of ``tick`` and ``step`` together (an instrument's: cached, few of them)."""
    return _decimals(tick) + _decimals(step)


def _decimals(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def _on_grid(value: Decimal, grid: Decimal) -> bool:
    return grid > 0 and value % grid == 0


def _validate_enter(intent: Intent, instruments: dict[str, Instrument], control: ControlSnapshot) -> Refusal | None:
    if control.kill:
        return Reason.KILL_SWITCH, "kill switch is on: no new entries"
    if control.pause_entries:
        return Reason.ENTRIES_PAUSED, "entries are paused by the operator"
    inst = instruments.get(intent.asset) if isinstance(intent.asset, str) else None
    if inst is None:
        return Reason.UNKNOWN_ASSET, f"asset: unknown instrument {intent.asset!r}"
    fine = _fine(inst.tick, inst.step)
    if fine > _MAX_TICK_STEP_DECIMALS:
        return Reason.UNKNOWN_ASSET, (
            f"asset: {inst.symbol}'s tick {inst.tick} and step {inst.step} carry {fine} decimals between them, "
            f"more than {_MAX_TICK_STEP_DECIMALS}: a leg's PnL on it could not be booked to "
            f"{_MAX_TICK_STEP_DECIMALS + 6} decimals")
    if not isinstance(intent.side, Side):
        return Reason.INVALID_FIELD, f"side: must be LONG or SHORT, got {intent.side!r}"
    why = check_decimal(intent.quantity, "quantity")
    if why:
        return Reason.INVALID_FIELD, why
    if not _on_grid(intent.quantity, inst.step):
        return Reason.INVALID_FIELD, f"quantity: {intent.quantity} is not a multiple of step {inst.step}"
    if intent.quantity < inst.min_qty:
        return Reason.BELOW_MIN_QTY, f"quantity: {intent.quantity} is below the minimum {inst.min_qty}"
    if type(intent.leverage) is not int or intent.leverage <= 0:
        return Reason.INVALID_FIELD, f"leverage: must be a whole number > 0, got {intent.leverage!r}"
    max_lev = min(control.max_leverage, inst.max_leverage)
    if intent.leverage > max_lev:
        return Reason.LEVERAGE_ABOVE_MAX, f"leverage: {intent.leverage} is above the maximum {max_lev}"
    legs = intent.exit_legs
    if not isinstance(legs, tuple) or not legs or len(legs) > 10:
        return Reason.INVALID_FIELD, "exit_legs: must be a tuple of 1 to 10 ratios"
    for i, ratio in enumerate(legs):
        why = check_decimal(ratio, f"exit_legs[{i}]")
        if why:
            return Reason.INVALID_FIELD, why
        if ratio > 1:
            return Reason.INVALID_FIELD, f"exit_legs[{i}]: ratio {ratio} is above 1"
    price = intent.limit_price if intent.order_type is _LIMIT else intent.reference_price
    if price is not None:
        why = check_decimal(price, "limit_price" if intent.order_type is _LIMIT else "reference_price")
        if why:
            return Reason.INVALID_FIELD, why
        notional = price * intent.quantity
        if notional < inst.min_notional:
            return Reason.BELOW_MIN_QTY, f"quantity: notional {notional} is below the minimum {inst.min_notional}"
        cap = control.max_position_notional
        if cap is not None and notional > cap:
            return Reason.NOTIONAL_ABOVE_MAX, f"quantity: notional {notional} is above the maximum {cap}"
    elif control.max_position_notional is not None:
        return Reason.INVALID_FIELD, "reference_price: required for MARKET entries while a notional cap is set"
    return None


def _validate_order_fields(intent: Intent, instruments: dict[str, Instrument], asset: str) -> Refusal | None:
    if not isinstance(intent.order_type, OrderType):
        return Reason.INVALID_FIELD, f"order_type: must be MARKET or LIMIT, got {intent.order_type!r}"
    if not isinstance(intent.time_in_force, TimeInForce):
        return Reason.INVALID_FIELD, f"time_in_force: unknown value {intent.time_in_force!r}"
    if intent.order_type is _LIMIT:
        why = check_decimal(intent.limit_price, "limit_price")
        if why:
            return Reason.INVALID_FIELD, why
        inst = instruments.get(asset)
        assert intent.limit_price is not None
        if inst is not None and not _on_grid(intent.limit_price, inst.tick):
            return Reason.INVALID_FIELD, f"limit_price: {intent.limit_price} is not a multiple of tick {inst.tick}"
    elif intent.limit_price is not None:
        return Reason.INVALID_FIELD, "limit_price: only LIMIT orders take a limit price"
    if intent.order_type is _MARKET and intent.time_in_force is _POST_ONLY:
        return Reason.INVALID_FIELD, "time_in_force: a MARKET order cannot be POST_ONLY"
    return None


def _validate_metadata(meta: object) -> Refusal | None:
    why = metadata_problem(meta)
    return None if why is None else (Reason.INVALID_FIELD, why)


def metadata_problem(meta: object) -> str | None:
    """Why the policy's metadata cannot be kept with the trade, naming the field and value, or
    None. It is persisted unchanged (E11, F28): it must be what :class:`PolicyMetadata` says, or
    the trade could not be snapshotted, restored or written to the ledger (bars_held: an Int64)."""
    if type(meta) is not PolicyMetadata:
        return f"metadata: must be a PolicyMetadata, got {_shown(meta)}"
    if (meta.confidence is None and meta.bars_held is None and type(meta.features) is dict and not meta.features
            and type(meta.tags) is dict and not meta.tags):
        return None  # (none given: the common case)
    conf = meta.confidence
    if conf is not None and (type(conf) not in (int, float) or not math.isfinite(conf)):
        return f"metadata.confidence: must be a finite number or None, got {_shown(conf)}"
    held = meta.bars_held
    if held is not None and (type(held) is not int or not 0 <= held < 2**63):
        return f"metadata.bars_held: must be an int >= 0 or None, got {_shown(held)}"
    if type(meta.features) is not dict:
        return f"metadata.features: must be a dict, got {_shown(meta.features)}"
    for k, v in meta.features.items():
        if type(k) is not str or type(v) not in (int, float) or not math.isfinite(v):
            return f"metadata.features: must map names (str) to finite numbers, got {_shown(k)}: {_shown(v)}"
    if type(meta.tags) is not dict:
        return f"metadata.tags: must be a dict, got {_shown(meta.tags)}"
    for name, tag in meta.tags.items():
        if type(name) is not str or type(tag) is not str:
            return f"metadata.tags: must map names (str) to str, got {_shown(name)}: {_shown(tag)}"
    return None


def _shown(value: object) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) <= 60 else text[:57] + '...'}"


def validate_intent(
    intent: object,
    *,
    slots: int,
    instruments: dict[str, Instrument],
    control: ControlSnapshot,
    slot_asset: str,
) -> Refusal | None:
    """Why ``intent`` must be refused before looking at the slot's state, or None.

    ``slot_asset`` is the symbol of the slot's current trade ("" if none), used
    to check the tick of an EXIT's limit price.
    """
    if not isinstance(intent, Intent):
        return Reason.INVALID_FIELD, f"intent: expected an Intent, got {type(intent).__name__}"
    if not isinstance(intent.action, Action):
        return Reason.INVALID_FIELD, f"action: must be ENTER, EXIT or CANCEL, got {intent.action!r}"
    if type(intent.slot) is not int or not 0 <= intent.slot < slots:
        return Reason.UNKNOWN_SLOT, f"slot: {intent.slot!r} is not a slot number in 0..{slots - 1}"
    if not isinstance(intent.trade_id, str) or not _TRADE_ID.fullmatch(intent.trade_id):
        return Reason.INVALID_FIELD, "trade_id: must be 1 to 24 lowercase letters or digits"
    if not isinstance(intent.intent_id, str) or not intent.intent_id or len(intent.intent_id) > 64:
        return Reason.INVALID_FIELD, "intent_id: must be a non-empty string of at most 64 characters"
    # kept as they are in the journal and the ledger: a wrong type there leaves a journal that
    # cannot be read back (every action; a CANCEL's too)
    for name in ("decision_id", "reason"):
        if type(getattr(intent, name)) is not str:
            return Reason.INVALID_FIELD, f"{name}: must be a str, got {type(getattr(intent, name)).__name__}"
    if type(intent.close_all) is not bool:
        return Reason.INVALID_FIELD, f"close_all: must be True or False, got {intent.close_all!r}"
    bad_meta = _validate_metadata(intent.metadata)
    if bad_meta:
        return bad_meta
    if intent.action is _CANCEL:
        return None
    if intent.action is _ENTER and not isinstance(intent.asset, str):
        return Reason.INVALID_FIELD, f"asset: must be a symbol such as 'BTC-USDT', got {type(intent.asset).__name__}"
    asset = intent.asset if intent.action is _ENTER else slot_asset
    why = _validate_order_fields(intent, instruments, asset)
    if why:
        return why
    if intent.action is _ENTER:
        return _validate_enter(intent, instruments, control)
    if intent.reference_price is not None:  # an exit's legs are held to the minimum at it
        bad = check_decimal(intent.reference_price, "reference_price")
        if bad:
            return Reason.INVALID_FIELD, bad
    return None

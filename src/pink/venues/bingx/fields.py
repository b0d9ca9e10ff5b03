"""Strict field readers shared by the BingX parsers.

Every reader names the record and field in its error: a malformed or hostile
frame raises :class:`BingxParseError`, never a bare ``KeyError``/``TypeError``.
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from pink.errors import CodecError
from pink.kernel.messages import OrderSide, OrderStatus, Side

__all__ = [
    "BingxParseError",
    "dec",
    "ident",
    "int_field",
    "mapping",
    "opt_dec",
    "order_side",
    "position_side",
    "status_of",
    "text",
    "time_ms",
]


class BingxParseError(CodecError):
    """A BingX payload did not have the expected shape; names record and field."""

    def __init__(self, where: str, field: str, problem: str) -> None:
        super().__init__(f"bad BingX {where}: field {field!r} {problem}")
        self.where = where
        self.field = field


def mapping(value: Any, where: str, field: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise BingxParseError(where, field, f"must be an object, got {type(value).__name__}")
    return value


def _get(obj: dict[str, Any], where: str, names: tuple[str, ...], default: Any = None) -> Any:
    """The first present value of ``names``; an empty string yields to a later spelling.

    Missing: ``default`` when one is given, else a parse error naming the field.
    """
    empty: Any = None
    for name in names:
        value = obj.get(name)
        if value == "":
            empty = value
        elif value is not None:
            return value
    if empty is not None:
        return empty
    if default is not None:
        return default
    raise BingxParseError(where, names[0], "is missing")


def text(obj: dict[str, Any], where: str, *names: str, default: str | None = None) -> str:
    value = _get(obj, where, names, default)
    if not isinstance(value, str):
        raise BingxParseError(where, names[0], f"must be a string, got {type(value).__name__}")
    return value


def ident(obj: dict[str, Any], where: str, *names: str, default: str | None = None) -> str:
    """An id as text: integers are kept exact (never through float)."""
    value = _get(obj, where, names, default)
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise BingxParseError(where, names[0], f"must be an integer or string id, got {value!r}")
    return str(value)


#: a number as BingX writes one: ASCII digits, a sign, a point, an exponent (``Decimal`` alone
#: also reads full-width or other scripts' digits, "１２" as 12, and "1_000" as 1000)
_NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", re.ASCII)

#: an integer as BingX writes one (a time, a precision)
_INTEGER = re.compile(r"-?[0-9]+", re.ASCII)


def _to_dec(value: Any, where: str, field: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise BingxParseError(where, field, f"must be a decimal string, got {value!r}")
    if isinstance(value, str) and not _NUMBER.fullmatch(value.strip(" \t\r\n")):
        raise BingxParseError(where, field, f"is not a number: {value!r} (a venue number is in ASCII digits)")
    try:
        result = Decimal(value.strip(" \t\r\n")) if isinstance(value, str) else Decimal(value)
    except InvalidOperation:
        raise BingxParseError(where, field, f"is not a number: {value!r}") from None
    if not result.is_finite():
        raise BingxParseError(where, field, f"is not finite: {value!r}")
    return result


def dec(obj: dict[str, Any], where: str, *names: str) -> Decimal:
    return _to_dec(_get(obj, where, names), where, names[0])


def opt_dec(obj: dict[str, Any], where: str, *names: str) -> Decimal | None:
    """A decimal that may be absent or empty (``""``): None then."""
    for name in names:
        value = obj.get(name)
        if value is None or value == "":
            continue
        return _to_dec(value, where, name)
    return None


def int_field(obj: dict[str, Any], where: str, *names: str, default: int | None = None) -> int:
    value = _get(obj, where, names, default)
    if isinstance(value, bool):
        raise BingxParseError(where, names[0], f"must be an integer, got {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and _INTEGER.fullmatch(value.strip(" \t\r\n")):  # (not "²" or "--5")
        return int(value)
    raise BingxParseError(where, names[0], f"must be an integer, got {value!r}")


def time_ms(obj: dict[str, Any], where: str, *names: str, default: int | None = None) -> int:
    """Epoch ms from an integer or a ``2023-12-16T20:58:36.000+0800`` string."""
    for name in names:
        value = obj.get(name)
        if isinstance(value, str) and "T" in value:
            try:
                return int(datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%f%z").timestamp() * 1000)
            except ValueError:
                raise BingxParseError(where, name, f"is not a timestamp: {value!r}") from None
        if value is not None and value != "":
            return int_field(obj, where, name)
    if default is not None:
        return default
    raise BingxParseError(where, names[0], "is missing")


_STATUS = {
    "NEW": OrderStatus.NEW,
    "PENDING": OrderStatus.NEW,
    "RUNNING": OrderStatus.NEW,
    "PARTIALLY_FILLED": OrderStatus.PARTIALLY_FILLED,
    "FILLED": OrderStatus.FILLED,
    "CANCELED": OrderStatus.CANCELED,
    "CANCELLED": OrderStatus.CANCELED,
    "EXPIRED": OrderStatus.EXPIRED,
    "FAILED": OrderStatus.REJECTED,
    "REJECTED": OrderStatus.REJECTED,
}


def status_of(raw: str, where: str, field: str = "status") -> OrderStatus:
    try:
        return _STATUS[raw.upper()]
    except KeyError:
        raise BingxParseError(where, field, f"has an unknown order status {raw!r}") from None


def order_side(raw: object) -> OrderSide | None:
    """``BUY``/``SELL`` (any case); None for anything else or nothing."""
    up = raw.upper() if isinstance(raw, str) else ""
    return OrderSide(up) if up in ("BUY", "SELL") else None


def position_side(raw: object) -> Side | None:
    """``LONG``/``SHORT`` (any case); None for ``BOTH`` (a one-way account), anything else or nothing."""
    up = raw.upper() if isinstance(raw, str) else ""
    return Side(up) if up in ("LONG", "SHORT") else None

"""One strict codec per record type (F14, F30).

Kernel records are standard-library dataclasses (the kernel imports nothing
else); this module gives each a msgspec JSON encoder and a strict decoder:
decoding refuses unknown and missing fields, naming them, instead of dropping
them silently.
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

import msgspec

from pink.errors import CodecError
from pink.kernel import messages as m

__all__ = ["MESSAGE_TYPES", "decode", "decode_named", "encode", "type_name"]

T = TypeVar("T")

MESSAGE_TYPES: dict[str, type[Any]] = {
    cls.__name__: cls
    for cls in (
        m.Intent,
        m.ControlSnapshot,
        m.OrderAccepted,
        m.OrderRejected,
        m.OrderFilled,
        m.OrderCanceled,
        m.CancelRejected,
        m.OrderExpired,
        m.FundingPaid,
        m.FundsTransferred,
        m.OrderStatusReport,
        m.CommissionReported,
        m.ClosedOutside,
        m.PositionReport,
        m.BalanceReport,
        m.Instrument,
    )
}

_encoder = msgspec.json.Encoder(decimal_format="string", order="deterministic")
_fields_cache: dict[type[Any], tuple[frozenset[str], frozenset[str]]] = {}


def _fields(cls: type[Any]) -> tuple[frozenset[str], frozenset[str]]:
    cached = _fields_cache.get(cls)
    if cached is None:
        fs = dataclasses.fields(cls)
        names = frozenset(f.name for f in fs)
        required = frozenset(
            f.name for f in fs if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        )
        cached = _fields_cache[cls] = (names, required)
    return cached


def encode(record: Any) -> bytes:
    return _encoder.encode(record)


def type_name(record: Any) -> str:
    return type(record).__name__


def decode(data: bytes | str, cls: type[T]) -> T:
    """Decode ``data`` into ``cls``, refusing unknown or missing fields by name."""
    try:
        raw = msgspec.json.decode(data)
    except msgspec.DecodeError as exc:
        raise CodecError(f"{cls.__name__}: not valid JSON: {exc}") from exc
    if not isinstance(raw, dict):
        raise CodecError(f"{cls.__name__}: expected an object, got {type(raw).__name__}")
    names, required = _fields(cls)
    unknown = sorted(set(raw) - names)
    missing = sorted(required - set(raw))
    if unknown or missing:
        parts = []
        if unknown:
            parts.append(f"unknown fields {unknown}")
        if missing:
            parts.append(f"missing fields {missing}")
        raise CodecError(f"{cls.__name__}: " + "; ".join(parts))
    try:
        return msgspec.convert(raw, cls, strict=False)
    except msgspec.ValidationError as exc:
        raise CodecError(f"{cls.__name__}: {exc}") from exc


def decode_named(name: str, data: bytes | str) -> Any:
    cls = MESSAGE_TYPES.get(name)
    if cls is None:
        raise CodecError(f"unknown record type {name!r}")
    return decode(data, cls)

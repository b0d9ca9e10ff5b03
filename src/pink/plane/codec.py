"""One strict codec per record type (F14, F30).

A record type is one of the kernel's frozen dataclasses (``SlotView``,
``AccountView``, ``IntentRecorded``, ``FillBooked``...). Its codec is derived
from the dataclass itself, so there is exactly one definition of the wire
form and it follows the kernel when a field is added.

msgspec ignores unknown fields when it decodes into a dataclass, so decoding
goes through a mirror ``msgspec.Struct`` built with
``forbid_unknown_fields=True``; the error names the unknown or missing field
and the record type. The mirror is then turned into the dataclass with
``msgspec.convert(..., from_attributes=True)``.
"""

from __future__ import annotations

import dataclasses
import functools
import operator
import types
import typing
from typing import Any, Generic, TypeVar

import msgspec

from pink.errors import CodecError

__all__ = ["StrictCodec", "codec_for"]

T = TypeVar("T")

_mirrors: dict[type, type] = {}


def _mirror_type(tp: Any) -> Any:
    """``tp`` with every dataclass inside it replaced by its strict mirror."""
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return _mirror(tp)
    origin = typing.get_origin(tp)
    if origin is None:
        return tp
    args = tuple(_mirror_type(a) if a is not Ellipsis else a for a in typing.get_args(tp))
    if origin in (types.UnionType, typing.Union):
        return functools.reduce(operator.or_, args)
    return origin[args]


def _mirror(cls: type) -> type:
    found = _mirrors.get(cls)
    if found is not None:
        return found
    hints = typing.get_type_hints(cls)
    fields: list[tuple[str, Any] | tuple[str, Any, Any]] = []
    for f in dataclasses.fields(cls):
        tp = _mirror_type(hints[f.name])
        if f.default is not dataclasses.MISSING:
            fields.append((f.name, tp, f.default))
        elif f.default_factory is not dataclasses.MISSING:
            fields.append((f.name, tp, msgspec.field(default_factory=f.default_factory)))
        else:
            fields.append((f.name, tp))
    mirror = msgspec.defstruct(
        cls.__name__, fields, forbid_unknown_fields=True, frozen=True, module=__name__
    )
    _mirrors[cls] = mirror
    return mirror


class StrictCodec(Generic[T]):
    """Encode a record type to JSON bytes and decode it back strictly."""

    __slots__ = ("_decoder", "_encoder", "_flat", "record_type")

    def __init__(self, record_type: type[T]) -> None:
        if not dataclasses.is_dataclass(record_type):
            raise TypeError(f"{record_type!r} is not a dataclass record type")
        self.record_type = record_type
        mirror = _mirror(record_type)
        self._decoder: msgspec.json.Decoder[Any] = msgspec.json.Decoder(mirror)
        self._encoder = msgspec.json.Encoder()
        hints = typing.get_type_hints(record_type)
        # A flat record (no nested records) is rebuilt positionally: cheaper.
        self._flat = not any(_mirror_type(h) is not h for h in hints.values())

    def encode(self, record: T) -> bytes:
        if type(record) is not self.record_type:
            raise CodecError(
                f"{self.record_type.__name__} codec cannot encode {type(record).__name__}"
            )
        return self._encoder.encode(record)

    def decode(self, data: bytes | memoryview) -> T:
        try:
            mirror = self._decoder.decode(data)
        except msgspec.ValidationError as exc:
            raise CodecError(f"{self.record_type.__name__}: {exc}") from exc
        except msgspec.DecodeError as exc:
            raise CodecError(f"{self.record_type.__name__}: malformed JSON: {exc}") from exc
        if self._flat:
            return self.record_type(*msgspec.structs.astuple(mirror))
        return msgspec.convert(mirror, self.record_type, from_attributes=True)


_codecs: dict[type, StrictCodec[Any]] = {}


def codec_for(record_type: type[T]) -> StrictCodec[T]:
    """The one codec of ``record_type`` (created once, then shared)."""
    codec = _codecs.get(record_type)
    if codec is None:
        codec = StrictCodec(record_type)
        _codecs[record_type] = codec
    return codec

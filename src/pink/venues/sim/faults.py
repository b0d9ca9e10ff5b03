"""Injectable venue faults, seeded and counted.

Kinds (each a probability in [0, 1]):

* ``reject``: the venue rejects a place (code ``SIM_REJECT``); nothing placed, but the
  venue knows the order as REJECTED (a query says so) and its client id as used.
* ``no_response``: the order is placed but the reply is lost: ``place``
  raises :class:`pink.errors.UnknownOutcomeError` and the ack never comes
  (fills still arrive on the stream).
* ``delayed_ack``: the ack comes ``delayed_ack_ns`` late (after its fills).
* ``duplicate_event``: an event is delivered twice.
* ``reorder_events``: the events of one venue reply are delivered in a
  shuffled order.
* ``fill_races_cancel``: a cancel of a live LIMIT loses the race: the order
  fills first and the cancel is refused ``ORDER_ALREADY_FILLED``.
* ``fill_without_price``: a fill event is delivered with price 0 (reports
  keep the real price).
* ``rate_limit``: the call raises :class:`pink.errors.RateLimitedError`.
* ``stream_drop``: the stream drops every event for ``stream_drop_ns``; they
  are only visible in the reports (a gap-fill).
* ``price_shock`` (drawn at each price update): the price of one symbol gaps by
  ``price_shock_size`` of it, up or down (a squeeze or a crash); the engine sees
  it as a price update: resting orders it crosses fill, positions it puts under
  their maintenance margin are liquidated.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, fields
from decimal import Decimal
from typing import TypeVar

from pink.errors import ConfigError

__all__ = ["FAULT_KINDS", "FaultConfig", "Faults"]

FAULT_KINDS = (
    "reject",
    "no_response",
    "delayed_ack",
    "duplicate_event",
    "reorder_events",
    "fill_races_cancel",
    "fill_without_price",
    "rate_limit",
    "stream_drop",
    "price_shock",
)
T = TypeVar("T")
_DURATIONS = ("delayed_ack_ns", "stream_drop_ns", "seed")


@dataclass(frozen=True, slots=True)
class FaultConfig:
    reject: float = 0.0
    no_response: float = 0.0
    delayed_ack: float = 0.0
    duplicate_event: float = 0.0
    reorder_events: float = 0.0
    fill_races_cancel: float = 0.0
    fill_without_price: float = 0.0
    rate_limit: float = 0.0
    stream_drop: float = 0.0
    price_shock: float = 0.0
    price_shock_size: float = 0.25  # a fraction of the price, in (0, 1)
    delayed_ack_ns: int = 2_000_000_000
    stream_drop_ns: int = 5_000_000_000
    seed: int = 7

    def __post_init__(self) -> None:
        for kind in FAULT_KINDS:
            p = getattr(self, kind)
            if not 0.0 <= p <= 1.0:
                raise ConfigError(f"fault {kind}: probability must be in [0, 1], got {p}")
        for name in ("delayed_ack_ns", "stream_drop_ns"):
            if getattr(self, name) < 0:
                raise ConfigError(f"fault {name} must be >= 0, got {getattr(self, name)}")
        size = self.price_shock_size
        if not (math.isfinite(size) and 0.0 < size < 1.0):
            raise ConfigError(f"fault price_shock_size: a fraction of the price in (0, 1), got {size}")

    @classmethod
    def parse(cls, spec: str, *, seed: int | None = None) -> FaultConfig:
        """``"reject=0.05,no_response=0.02,stream_drop_ns=3000000000,seed=3"``; ``seed`` (the
        run's) is the faults' seed unless the spec names one."""
        known = {f.name for f in fields(cls)}
        values: dict[str, float | int] = {}
        for part in (p.strip() for p in spec.split(",")):
            if not part:
                continue
            key, sep, raw = part.partition("=")
            key = key.strip()
            if not sep:
                raise ConfigError(f"fault spec: expected key=value, got {part!r}")
            if key not in known:
                raise ConfigError(f"fault spec: unknown key {key!r} (known: {', '.join(sorted(known))})")
            if key in values:
                raise ConfigError(f"fault spec: {key} is given twice")
            try:
                values[key] = int(raw) if key in _DURATIONS else float(raw)
            except ValueError:
                raise ConfigError(f"fault spec: bad value for {key}: {raw.strip()!r}") from None
        if seed is not None:
            values.setdefault("seed", seed)
        return cls(**values)  # type: ignore[arg-type]

    @property
    def active(self) -> bool:
        return any(getattr(self, k) > 0 for k in FAULT_KINDS)


class Faults:
    """Draws faults from a seeded generator and counts what it injected."""

    __slots__ = ("_config", "_rng", "active", "injected")

    def __init__(self, config: FaultConfig | None = None) -> None:
        self._config = config or FaultConfig()
        self._rng = random.Random(self._config.seed)
        self.injected: Counter[str] = Counter()
        # False: no kind can ever hit, so callers may skip ``hit`` (it would draw nothing)
        self.active = self._config.active

    @property
    def config(self) -> FaultConfig:
        return self._config

    def hit(self, kind: str) -> bool:
        """Whether ``kind`` happens now; counted when it does."""
        p: float = getattr(self._config, kind)
        if p <= 0.0 or self._rng.random() >= p:
            return False
        self.injected[kind] += 1
        return True

    def shuffle(self, items: list[T]) -> None:
        self._rng.shuffle(items)

    def shock(self, symbols: Sequence[str]) -> tuple[str, Decimal] | None:
        """Whether a ``price_shock`` happens now (counted): which symbol, and by what fraction of
        its price (> 0 up, < 0 down); None when none does."""
        if not symbols or not self.hit("price_shock"):
            return None
        size = Decimal(repr(self._config.price_shock_size))  # the shortest text of the float: "0.25"
        return self._rng.choice(symbols), size if self._rng.random() < 0.5 else -size

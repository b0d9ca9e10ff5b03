"""Faults the BingX simulator server injects on demand.

A spec string is a comma-separated list of ``name=value`` items. A value is
either a probability in ``[0, 1]`` (drawn from the server's seeded RNG) or
``#N``: "the next N times, then never". Plain numbers are used for the
settings (``slow_ms``, ``listen_key_ttl_s``). Example::

    http5xx=0.05,order504=#1,slow_ms=200,dup_stream=0.1,ack_flat=1

Rules (each name a :data:`RULES` key):

=================  =========================================================
``http5xx``        answer a REST request with HTTP 500 before handling it
``order504``       place the order, then answer HTTP 504 (outcome unknown)
``cancel504``      cancel the order, then answer HTTP 504
``order_busy``     place the order, then answer code 101500 "RPC timeout" (HTTP 200)
``cancel_busy``    cancel the order, then answer code 80001 "service has some errors"
``cancel_race``    fill a live order just before its cancel (answered 80018)
``slow``           delay a REST reply by ``slow_ms`` (default: every reply)
``ws_drop``        drop a user-data socket instead of sending a frame
``stream_loss``    lose a user-data frame silently (the socket stays up)
``dup_stream``     send a user-data frame twice
``reorder_stream`` hold a user-data frame back and send it after the next
``ack_no_avg``     place-order ack without ``status``/``avgPrice``/``executedQty``
``ack_flat``       place-order ack flat in ``data`` (2026 shape) not ``data.order``
``fee_cumulative`` a fill push's ``n`` is the order's commission so far, not this
                   fill's (BingX does not document which it is)
``fee_missing``    a fill push without ``n``
``query_garbled``  answer an order query with a status no client knows
``query_not_found`` answer a query by ``orderId`` of an ended order 80016 "order not
                   exist" (as for one BingX no longer keeps; its fills are still listed)
``fill_fee_cut``   ``allFillOrders`` rows' commission cut to 4 decimals (as in the
                   older recorded rows: ``-0.0025``)
``fills_lag``      answer ``allFillOrders``/``fillHistory`` with no rows (the venue's fill
                   list behind its orders: the order counts fills it does not list yet)
``income_no_tranid`` drawn once per ``FUNDING_FEE``/``TRANSFER`` income row, when it is
                   first listed: the row is listed without ``tranId`` from then on
``price_shock``    drawn once a second of the server's clock: one symbol's price gaps
                   by ``price_shock_size`` of it, up or down; resting orders it
                   crosses fill, positions it puts under maintenance are liquidated
=================  =========================================================

Settings: ``slow_ms`` (int), ``listen_key_ttl_s`` (float, default 3600),
``price_shock_size`` (a fraction of the price in (0, 1), default 0.25).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

__all__ = ["RULES", "FaultRule", "ServerFaults"]

RULES = (
    "http5xx",
    "order504",
    "cancel504",
    "order_busy",
    "cancel_busy",
    "cancel_race",
    "slow",
    "ws_drop",
    "stream_loss",
    "dup_stream",
    "reorder_stream",
    "ack_no_avg",
    "ack_flat",
    "fee_cumulative",
    "fee_missing",
    "query_garbled",
    "query_not_found",
    "fill_fee_cut",
    "fills_lag",
    "income_no_tranid",
    "price_shock",
)
_SETTINGS = ("slow_ms", "listen_key_ttl_s", "price_shock_size")


@dataclass(slots=True)
class FaultRule:
    """Fires with ``probability``, or exactly the next ``remaining`` times when set."""

    probability: float = 0.0
    remaining: int | None = None

    @classmethod
    def parse(cls, text: str) -> FaultRule:
        text = text.strip()
        if text.startswith("#"):
            count = int(text[1:])
            if count < 0:
                raise ValueError(f"negative count {text!r}")
            return cls(0.0, count)
        probability = float(text)
        if not 0.0 <= probability <= 1.0:
            raise ValueError(f"probability {text!r} not in [0, 1]")
        return cls(probability, None)

    def fire(self, rng: random.Random) -> bool:
        if self.remaining is not None:
            if self.remaining > 0:
                self.remaining -= 1
                return True
            return False
        return self.probability > 0.0 and rng.random() < self.probability

    def describe(self) -> str:
        return f"#{self.remaining}" if self.remaining is not None else repr(self.probability)


@dataclass(slots=True)
class ServerFaults:
    """The active faults and settings; mutable (the admin endpoint updates it)."""

    rules: dict[str, FaultRule] = field(default_factory=dict)
    slow_ms: int = 0
    listen_key_ttl_s: float = 3600.0
    price_shock_size: Decimal = Decimal("0.25")
    seed: int = 1
    _rng: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    @classmethod
    def parse(cls, spec: str | None, *, seed: int = 1) -> ServerFaults:
        faults = cls(seed=seed)
        faults.update(spec or "")
        return faults

    def update(self, spec: str) -> None:
        """Merge ``spec`` into the active faults (``name=0`` switches one off)."""
        for item in spec.split(","):
            item = item.strip()
            if not item:
                continue
            name, sep, value = item.partition("=")
            name = name.strip()
            if not sep:
                raise ValueError(f"fault item {item!r} is not name=value")
            if name == "slow_ms":
                self.slow_ms = int(value)
                self.rules.setdefault("slow", FaultRule(1.0))
            elif name == "listen_key_ttl_s":
                self.listen_key_ttl_s = float(value)
            elif name == "price_shock_size":
                self.price_shock_size = _shock_size(value)
            elif name in RULES:
                self.rules[name] = FaultRule.parse(value)
            else:
                known = ", ".join((*RULES, *_SETTINGS))
                raise ValueError(f"unknown fault {name!r} (known: {known})")

    def clear(self) -> None:
        self.rules.clear()
        self.slow_ms = 0

    def fire(self, name: str) -> bool:
        """True when fault ``name`` applies to this occurrence."""
        if name not in RULES:
            raise ValueError(f"unknown fault {name!r}")
        rule = self.rules.get(name)
        return rule is not None and rule.fire(self._rng)

    def shock(self, symbols: Sequence[str]) -> tuple[str, Decimal] | None:
        """Whether a ``price_shock`` happens now: which symbol, and by what fraction of its price
        (> 0 up, < 0 down); None when none does."""
        if not symbols or not self.fire("price_shock"):
            return None
        size = self.price_shock_size
        return self._rng.choice(list(symbols)), size if self._rng.random() < 0.5 else -size

    def describe(self) -> dict[str, object]:
        out: dict[str, object] = {k: v.describe() for k, v in sorted(self.rules.items())}
        out["slow_ms"] = self.slow_ms
        out["listen_key_ttl_s"] = self.listen_key_ttl_s
        out["price_shock_size"] = float(self.price_shock_size)
        return out


def _shock_size(text: str) -> Decimal:
    try:
        size = Decimal(text.strip())
    except InvalidOperation:
        size = Decimal("NaN")
    if not size.is_finite() or not 0 < size < 1:
        raise ValueError(f"fault price_shock_size: a fraction of the price in (0, 1), got {text!r}")
    return size

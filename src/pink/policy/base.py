"""The policy interface: a decision engine and an intent (sizing) engine.

A policy cycle gives both engines one consistent, versioned
:class:`PolicySnapshot`. The :class:`DecisionEngine` says *what* to do
(:class:`Decision`), the :class:`IntentEngine` turns decisions into kernel
:class:`~pink.kernel.messages.Intent` records (quantities, leverage). The
runtime submits each intent to the kernel at execution time, on current
state: exit sizes are computed by the kernel from its exit legs, never from
the snapshot (E4).

Identity is stamped by the runtime: an intent with an empty ``intent_id``
gets a fresh one, an ENTER with an empty ``trade_id`` gets a new single-use
trade id, and an EXIT/CANCEL with an empty ``trade_id`` gets the slot's
current trade id.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from typing import Protocol

from pink.kernel.frozen import direct_init
from pink.kernel.messages import (
    ZERO,
    Action,
    Instrument,
    Intent,
    OrderType,
    PolicyMetadata,
    Side,
    TimeInForce,
)
from pink.kernel.validation import check_decimal
from pink.kernel.views import AccountView, OrderView, SlotView
from pink.ports import Quote

__all__ = [
    "Decision",
    "DecisionEngine",
    "IntentEngine",
    "MarginSizer",
    "PolicySnapshot",
    "intent_from_decision",
    "quantity_for",
]


@direct_init
@dataclass(frozen=True, slots=True)
class PolicySnapshot:
    """What the policy sees in one cycle; immutable and versioned.

    ``kernel_version`` is the kernel's version when the snapshot was taken;
    nothing changes the kernel between the snapshot and the submission of
    this cycle's intents (one task owns the kernel).
    """

    cycle: int
    ts: int
    kernel_version: int
    slots: tuple[SlotView, ...]
    account: AccountView
    quotes: Mapping[str, Quote]
    instruments: Mapping[str, Instrument]
    working_orders: tuple[OrderView, ...] = ()


@direct_init
@dataclass(frozen=True, slots=True)
class Decision:
    """What a decision engine wants for one slot.

    Sizing is expressed as ``margin`` (capital put up) or ``notional``; the
    intent engine turns it into a quantity with :func:`quantity_for`, or a
    decision may give ``quantity`` directly. ``order_type``, ``limit_price``,
    ``time_in_force`` and ``metadata`` reach the venue and the ledger
    unchanged (E3, E11).
    """

    action: Action
    slot: int
    asset: str = ""
    side: Side | None = None
    order_type: OrderType = OrderType.MARKET
    limit_price: Decimal | None = None
    time_in_force: TimeInForce = TimeInForce.GTC
    leverage: int = 1
    margin: Decimal | None = None
    notional: Decimal | None = None
    quantity: Decimal | None = None
    exit_legs: tuple[Decimal, ...] = (Decimal(1),)
    close_all: bool = False
    reason: str = ""
    decision_id: str = ""
    metadata: PolicyMetadata = field(default_factory=PolicyMetadata)


class DecisionEngine(Protocol):
    """Decides what to do from a snapshot. Pure computation, no I/O."""

    def decide(self, snapshot: PolicySnapshot) -> Sequence[Decision]: ...


class IntentEngine(Protocol):
    """Turns decisions into kernel intents (sizing). Pure computation, no I/O."""

    def plan(self, decisions: Sequence[Decision], snapshot: PolicySnapshot) -> Sequence[Intent]: ...


def quantity_for(
    *,
    instrument: Instrument,
    price: Decimal,
    leverage: int = 1,
    margin: Decimal | None = None,
    notional: Decimal | None = None,
) -> Decimal:
    """Base-asset quantity for a margin or a notional, rounded down to the step.

    ``notional = margin * leverage`` when a margin is given. Returns ``0``
    when the result is below the instrument's minimum quantity or minimum
    notional (the caller should then not trade).
    """
    if (margin is None) == (notional is None):
        raise ValueError("give exactly one of margin or notional")
    if price <= 0:
        raise ValueError(f"price must be > 0, got {price}")
    if leverage <= 0:
        raise ValueError(f"leverage must be > 0, got {leverage}")
    target = margin * leverage if margin is not None else notional
    assert target is not None
    if target <= 0:
        return ZERO
    steps = (target / price / instrument.step).to_integral_value(rounding=ROUND_DOWN)
    qty = steps * instrument.step
    if qty < instrument.min_qty or qty * price < instrument.min_notional:
        return ZERO
    return qty


def intent_from_decision(
    decision: Decision, quantity: Decimal = ZERO, reference_price: Decimal | None = None
) -> Intent:
    """The one conversion from a decision to an intent: nothing is dropped (E3, E11)."""
    return Intent(
        action=decision.action,
        slot=decision.slot,
        trade_id="",
        intent_id="",
        decision_id=decision.decision_id,
        asset=decision.asset,
        side=decision.side,
        quantity=quantity,
        leverage=decision.leverage,
        order_type=decision.order_type,
        limit_price=decision.limit_price,
        reference_price=reference_price,
        time_in_force=decision.time_in_force,
        exit_legs=decision.exit_legs,
        close_all=decision.close_all,
        reason=decision.reason,
        metadata=decision.metadata,
    )


_EXIT = Action.EXIT  # (a member through its Enum class costs a descriptor call, per decision)
_MARKET = OrderType.MARKET


class MarginSizer:
    """A ready-made intent engine: sizes ENTERs from margin, notional or quantity.

    The reference price is the decision's limit price, else the touch the
    order would take (ask for LONG, bid for SHORT). An ENTER that sizes to
    zero (below the instrument's minimum), or that needs the touch of an asset
    without a quote yet, is dropped; one for an unknown asset or without a size
    goes to the kernel, which refuses it by name. EXIT and CANCEL pass
    through unchanged: the kernel sizes exits on current state (E4); a MARKET
    EXIT carries the touch it would take as its reference price, at which the
    kernel holds its leg to the instrument's minimum notional. ``skipped`` names the ENTERs of
    the last :meth:`plan` it dropped (their index in ``decisions``, and why), for the runtime to
    tell the trader.
    """

    def __init__(self) -> None:
        self.skipped: list[tuple[int, str]] = []

    def plan(self, decisions: Sequence[Decision], snapshot: PolicySnapshot) -> list[Intent]:
        intents: list[Intent] = []
        self.skipped = []
        for i, d in enumerate(decisions):
            if d.action is _EXIT and d.order_type is _MARKET:
                intents.append(intent_from_decision(d, reference_price=_exit_touch(d.slot, snapshot)))
                continue
            if d.action is not Action.ENTER:
                intents.append(intent_from_decision(d))
                continue
            qty = d.quantity
            instrument = snapshot.instruments.get(d.asset)
            if qty is None and instrument is not None and (d.margin is not None or d.notional is not None):
                quote = snapshot.quotes.get(d.asset)
                price = d.limit_price or (None if quote is None else quote.ask if d.side is Side.LONG else quote.bid)
                if price is None:
                    self.skipped.append((i, f"asset: no quote for {d.asset} yet to size at"))
                    continue
                qty = quantity_for(
                    instrument=instrument,
                    price=price,
                    leverage=d.leverage,
                    margin=d.margin,
                    notional=d.notional,
                )
                if qty <= 0:
                    self.skipped.append((i, _too_small(d, instrument, price)))
                    continue
            # an unknown asset, or no size given: the kernel refuses it by name, and records that
            intents.append(intent_from_decision(d, ZERO if qty is None else qty))
        return intents


def _too_small(d: Decision, instrument: Instrument, price: Decimal) -> str:
    """Why ``d`` sized to nothing: what it asked for, against the instrument's minimums."""
    asked = f"{d.margin} x leverage {d.leverage}" if d.margin is not None else f"{d.notional}"
    target = d.margin * d.leverage if d.margin is not None else d.notional
    assert target is not None
    return (f"{'margin' if d.margin is not None else 'notional'}: sizes below {instrument.symbol}'s minimum "
            f"quantity {instrument.min_qty} or notional {instrument.min_notional}, got {asked} = {target} "
            f"notional at {price}")


def _exit_touch(slot: int, snapshot: PolicySnapshot) -> Decimal | None:
    """The touch a MARKET exit of ``slot``'s trade would take (bid for LONG, ask for SHORT)."""
    if not 0 <= slot < len(snapshot.slots):
        return None
    view = snapshot.slots[slot]
    quote = snapshot.quotes.get(view.symbol)
    if quote is None or view.side is None:
        return None
    price = quote.bid if view.side is Side.LONG else quote.ask
    return price if check_decimal(price, "touch") is None else None  # no usable touch: the entry VWAP

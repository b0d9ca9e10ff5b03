"""What the runtime holds a policy's output to before the kernel sees it.

The kernel refuses an intent whose *values* are wrong (a quantity of 0, an unknown asset, a
slot out of range, a LIMIT without a price) and records the refusal in the journal and the
ledger. What it records must have the types those records hold: an intent with ``None`` for
its reason, a str for its side, a float for a price, or a :class:`Decision` where an
:class:`Intent` belongs would stall the ledger, stop the runtime or leave a journal that
cannot be restored. So each decision (before the intent engine sizes it) and each intent
(before it is submitted) is checked here. One that does not fit is dropped and named (which
one, which field, which value) and the rest of the cycle goes on: a stop decided in the same
cycle still goes out.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from typing import cast

from pink.kernel.messages import Action, Intent, OrderType, Side, TimeInForce
from pink.kernel.validation import metadata_problem
from pink.policy.base import Decision

__all__ = ["PolicyOutputError", "decision_problem", "intent_problem", "label", "screen_decisions", "screen_intents"]

_INT32 = 2**31  # slot and leverage are Int32 columns in the ledger
_ENUMS = (
    ("action", Action, "an Action (ENTER, EXIT or CANCEL)"),
    ("order_type", OrderType, "an OrderType (MARKET or LIMIT)"),
    ("time_in_force", TimeInForce, "a TimeInForce"),
)
_STRINGS = ("asset", "reason", "decision_id")
_SIZES = ("margin", "notional", "quantity")


class PolicyOutputError(TypeError):
    """``decide()`` or ``plan()`` returned something that is not a list."""


def screen_decisions(result: object) -> tuple[list[Decision], list[tuple[str, str]]]:
    """The decisions of ``decide()``'s ``result`` that may be sized, and for the rest which one
    (``decision 2 (ENTER slot 0)``) and what is wrong with it."""
    kept, problems = _screen(result, "decide()", "Decisions", "decision", decision_problem)
    return cast(list[Decision], kept), problems


def screen_intents(result: object, *, trusted: bool = False) -> tuple[list[Intent], list[tuple[str, str]]]:
    """The intents of ``plan()``'s ``result`` that may be submitted, and for the rest which one
    and what is wrong with it. ``trusted``: made by PINK's own sizer from screened decisions, so
    only that they are Intents is checked."""
    kept, problems = _screen(result, "plan()", "Intents", "intent", _is_intent if trusted else intent_problem)
    return cast(list[Intent], kept), problems


def _screen(
    result: object, call: str, noun: str, kind: str, problem: Callable[[object], str | None]
) -> tuple[list[object], list[tuple[str, str]]]:
    kept: list[object] = []
    problems: list[tuple[str, str]] = []
    for i, x in enumerate(_items(result, call, noun)):
        why = problem(x)
        if why is None:
            kept.append(x)
        else:
            problems.append((label(kind, i, x), why))
    return kept, problems


def _is_intent(x: object) -> str | None:
    return None if type(x) is Intent else f"expected an Intent, got {type(x).__name__}"


def decision_problem(d: object) -> str | None:
    """Why ``d`` cannot be handed to an intent engine, naming the field and value, or None."""
    if type(d) is not Decision:
        return f"expected a Decision, got {type(d).__name__}"
    why = _shared(d)
    if why is not None:
        return why
    given = [name for name in _SIZES if getattr(d, name) is not None]
    for name in given:
        why = _decimal(getattr(d, name), name, positive=True)
        if why is not None:
            return why
    if len(given) > 1:
        return f"{' and '.join(given)}: give one of margin, notional or quantity, not {len(given)}"
    if d.action is Action.ENTER:  # what sizing divides by
        if d.leverage < 1:
            return f"leverage: must be >= 1, got {d.leverage}"
        if d.limit_price is not None and d.limit_price <= 0:
            return f"limit_price: must be > 0, got {d.limit_price}"
    return None


def intent_problem(x: object) -> str | None:
    """Why ``x`` cannot be submitted (the kernel could not record it), or None."""
    if type(x) is not Intent:
        return f"expected an Intent, got {type(x).__name__}"
    for name in ("trade_id", "intent_id"):
        value = getattr(x, name)
        if value is not None and type(value) is not str:  # (empty or None: stamped by the runtime)
            return f"{name}: must be a str, got {_show(value)}"
    return (
        _shared(x)
        or _decimal(x.quantity, "quantity")
        or (None if x.reference_price is None else _decimal(x.reference_price, "reference_price"))
    )


def _shared(x: Decision | Intent) -> str | None:
    if _fits(x):  # (every cycle's common case, in one pass; the checks below name what is wrong)
        return None
    for name, cls, what in _ENUMS:
        value = getattr(x, name)
        if not isinstance(value, cls):
            return f"{name}: must be {what}, got {_show(value)}"
    if x.side is not None and not isinstance(x.side, Side):
        return f"side: must be a Side or None, got {_show(x.side)}"
    for name in ("slot", "leverage"):
        value = getattr(x, name)
        if type(value) is not int:
            return f"{name}: must be an int, got {_show(value)}"
        if not -_INT32 < value < _INT32:
            return f"{name}: {value} is out of range"
    for name in _STRINGS:
        value = getattr(x, name)
        if type(value) is not str:
            return f"{name}: must be a str, got {_show(value)}"
    if x.limit_price is not None and (why := _decimal(x.limit_price, "limit_price")):
        return why
    if type(x.exit_legs) is not tuple:
        return f"exit_legs: must be a tuple of Decimals, got {_show(x.exit_legs)}"
    for i, ratio in enumerate(x.exit_legs):
        if why := _decimal(ratio, f"exit_legs[{i}]"):
            return why
    if type(x.close_all) is not bool:
        return f"close_all: must be a bool, got {_show(x.close_all)}"
    return metadata_problem(x.metadata)


def _fits(x: Decision | Intent) -> bool:
    slot, lev, price, meta = x.slot, x.leverage, x.limit_price, x.metadata
    return (
        type(x.action) is Action and type(x.order_type) is OrderType and type(x.time_in_force) is TimeInForce
        and (x.side is None or type(x.side) is Side)
        and type(slot) is int and -_INT32 < slot < _INT32 and type(lev) is int and -_INT32 < lev < _INT32
        and type(x.asset) is str and type(x.reason) is str and type(x.decision_id) is str
        and (price is None or (type(price) is Decimal and price.is_finite()))
        and type(x.exit_legs) is tuple and all(type(r) is Decimal and r.is_finite() for r in x.exit_legs)
        and type(x.close_all) is bool
        and metadata_problem(meta) is None
    )  # fmt: skip


def _decimal(value: object, name: str, *, positive: bool = False) -> str | None:
    if type(value) is not Decimal:
        return f"{name}: must be a Decimal, got {_show(value)}"
    if not value.is_finite():
        return f"{name}: must be finite, got {value}"
    if positive and value <= 0:
        return f"{name}: must be > 0, got {value}"
    return None


def _items(result: object, call: str, noun: str) -> Iterable[object]:
    if isinstance(result, (str, bytes, Mapping)) or not isinstance(result, Iterable):
        raise PolicyOutputError(
            f"{call} returned {_show(result) if result is not None else None}, not a list of {noun}"
        )
    return result


def label(kind: str, i: int, x: object) -> str:
    """``decision 2 (ENTER slot 0)``: which one of a cycle's output ``x`` is."""
    action, slot = getattr(x, "action", None), getattr(x, "slot", None)
    if action is None:
        return f"{kind} {i}"
    what = action.value if isinstance(action, Action) else _show(action)
    return f"{kind} {i} ({what} slot {_cut(repr(slot))})"


def _show(value: object) -> str:
    return f"{type(value).__name__} {_cut(repr(value))}"


def _cut(text: str) -> str:
    return text if len(text) <= 60 else f"{text[:57]}..."

"""direct_init: the faster __init__ builds exactly what the dataclass __init__ builds."""

from __future__ import annotations

import dataclasses
from dataclasses import FrozenInstanceError, InitVar, dataclass, field
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pink.kernel import messages, views
from pink.kernel.frozen import direct_init


def twins() -> tuple[type, type]:
    """The same frozen dataclass twice: one stock, one with direct_init."""

    def make() -> type:
        @dataclass(frozen=True, slots=True)
        class Rec:
            a: str
            b: Decimal
            c: int = 7
            d: tuple[int, ...] = field(default_factory=tuple)
            e: str = field(default="x", kw_only=True)
            seen: list[str] = field(default_factory=list, compare=False, repr=False)

            def __post_init__(self) -> None:
                self.seen.append(self.a)

        return Rec

    return make(), direct_init(make())


STOCK, FAST = twins()


@given(
    a=st.text(max_size=5),
    b=st.decimals(allow_nan=False, allow_infinity=False),
    c=st.none() | st.integers(),
    d=st.none() | st.tuples(st.integers()),
    e=st.none() | st.text(max_size=3),
)
def test_direct_init_builds_what_the_dataclass_init_builds(
    a: str, b: Decimal, c: int | None, d: tuple[int, ...] | None, e: str | None
) -> None:
    kwargs = {k: v for k, v in {"c": c, "d": d, "e": e}.items() if v is not None}
    stock, fast = STOCK(a, b, **kwargs), FAST(a, b, **kwargs)
    assert dataclasses.astuple(stock) == dataclasses.astuple(fast)
    assert repr(stock).split("(", 1)[1] == repr(fast).split("(", 1)[1]
    assert hash(dataclasses.astuple(stock)[:5]) == hash(dataclasses.astuple(fast)[:5])
    assert fast.seen == [a]  # __post_init__ ran once
    assert FAST(a, b).seen is not FAST(a, b).seen  # a default_factory gives each instance its own


def test_direct_init_keeps_the_signature_and_refuses_bad_calls() -> None:
    with pytest.raises(TypeError):
        FAST("a")  # b missing
    with pytest.raises(TypeError):
        FAST("a", Decimal(1), 1, (), [], "positional e")  # e is keyword-only
    with pytest.raises(TypeError):
        FAST("a", Decimal(1), zz=1)


def test_direct_init_instances_stay_frozen() -> None:
    rec = FAST("a", Decimal(1))
    with pytest.raises(FrozenInstanceError):
        rec.a = "b"
    with pytest.raises(FrozenInstanceError):
        del rec.a
    fill = messages.OrderFilled("c1", "v1", "f1", Decimal(1), Decimal(2), Decimal(1), Decimal(0), "USDT", 1)
    with pytest.raises(FrozenInstanceError):
        fill.last_qty = Decimal(2)  # type: ignore[misc]


def test_direct_init_refuses_what_it_cannot_build() -> None:
    @dataclass(slots=True)
    class NotFrozen:
        a: int

    @dataclass(frozen=True)
    class NoSlots:
        a: int

    @dataclass(frozen=True, slots=True)
    class WithInitVar:
        a: int
        scale: InitVar[int] = 1

    @dataclass(frozen=True, slots=True)
    class NoInitField:
        a: int
        b: int = field(default=0, init=False)

    for cls in (NotFrozen, NoSlots, WithInitVar, NoInitField):
        with pytest.raises(TypeError, match="direct_init"):
            direct_init(cls)


def test_every_frozen_kernel_message_and_view_uses_direct_init() -> None:
    """The hot path's records all get the fast __init__ (a new message cannot forget it)."""
    for module in (messages, views):
        for obj in vars(module).values():
            if isinstance(obj, type) and dataclasses.is_dataclass(obj) and obj.__dataclass_params__.frozen:
                assert "_set_" in " ".join(obj.__init__.__code__.co_names), obj.__name__


def test_intent_stamped_changes_only_the_identity() -> None:
    intent = messages.Intent(
        messages.Action.ENTER, 3, "", "", asset="BTC-USDT", side=messages.Side.SHORT, quantity=Decimal("0.5"),
        leverage=4, order_type=messages.OrderType.LIMIT, limit_price=Decimal("100.5"),
        reference_price=Decimal("100"), time_in_force=messages.TimeInForce.POST_ONLY,
        exit_legs=(Decimal("0.25"), Decimal("0.75")), close_all=True, reason="why",
        metadata=messages.PolicyMetadata(confidence=0.5, tags={"k": "v"}),
    )  # fmt: skip
    stamped = intent.stamped("t1", "i1", "d1")
    assert stamped == dataclasses.replace(intent, trade_id="t1", intent_id="i1", decision_id="d1")
    # stamped() lists the fields by hand: a new field must be added there (and set above)
    assert len(dataclasses.fields(messages.Intent)) == 17

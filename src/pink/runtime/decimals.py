"""The decimal contexts of a run: the runtime's own, and the policy's, kept apart.

Decimal arithmetic takes its precision, rounding and traps from the current context, which a
policy may change for its own sums (a precision of 8, Inexact trapped, half-up). Left to the
runtime, that context priced its snapshots' quotes, summed its stats and read its books: a run
died of Inexact, or rounded what it showed. So the runtime's tasks compute in the kernel's own
context (:func:`pink.kernel.exact.kernel_context`, which also spares each kernel call setting
it), and the policy's code runs in a context of its own, which keeps what the policy sets from
one cycle to the next (:class:`PolicyDecimals`).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Context, getcontext, setcontext
from typing import ParamSpec, TypeVar

__all__ = ["PolicyDecimals"]

P = ParamSpec("P")
R = TypeVar("R")


class PolicyDecimals:
    """The policy's decimal context: a copy of the one it was handed over in (what its module set
    on import stays), kept across cycles; the runtime's is given back after each call."""

    def __init__(self, context: Context | None = None) -> None:
        self.context = (context or getcontext()).copy()

    def call(self, fn: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> R:
        outer = getcontext()
        setcontext(self.context)
        try:
            return fn(*args, **kwargs)
        finally:
            setcontext(outer)

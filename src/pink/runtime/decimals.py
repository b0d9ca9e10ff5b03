"""The decimal contexts of a run: the runtime's own, and the policy's, kept apart.

Decimal arithmetic takes its precision, rounding and traps from the current context, which a
policy may change for its own sums (a precision of 8, Inexact trapped, half-up). Left to the
runtime, that context priced its snapshots' quotes, summed its stats and read its books: a run
died of Inexact, or rounded what it showed. So the runtime's tasks compute in the standard
context (the kernel's: :func:`pink.kernel.exact.kernel_context`), and the policy's code runs in a context of its
own, which keeps what the policy sets from one cycle to the next (:class:`PolicyDecimals`).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from decimal import Context, getcontext, setcontext
from typing import ParamSpec, TypeVar

from pink.kernel.exact import kernel_context

__all__ = ["PolicyDecimals", "runtime_decimals"]

P = ParamSpec("P")
R = TypeVar("R")


def runtime_decimals() -> AbstractContextManager[Context]:
    """The runtime's context for the block, the caller's given back after it (a task started in
    the block keeps it): the kernel's own, so its calls need not set it and give it back."""
    return kernel_context()


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

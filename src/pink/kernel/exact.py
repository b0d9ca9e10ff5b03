"""The decimal context every kernel computation runs in, whatever the thread was left with.

Decimal arithmetic takes its precision, rounding and traps from the thread's context, which a
policy or a library it imports may change for its own sums (a precision of 8, say, or ccxt's
ROUND_HALF_UP). The kernel's money is exact only in the default one (28 digits, half-even; see
:data:`pink.kernel.validation._MAX_DIGITS`), and a replay must compute what the live run did: so
each of the kernel's ways in runs in a context of its own, and gives the caller's back.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from decimal import (
    ROUND_HALF_EVEN,
    Context,
    DivisionByZero,
    InvalidOperation,
    Overflow,
    getcontext,
    setcontext,
)
from typing import Concatenate, ParamSpec, TypeVar

__all__ = ["exact", "exact_context", "kernel_context"]

P = ParamSpec("P")
R = TypeVar("R")
S = TypeVar("S")


def exact_context() -> Context:
    """A new context as the standard library's default is before anything changes it (not a copy of
    ``DefaultContext``, which a library may have changed too)."""
    return Context(prec=28, rounding=ROUND_HALF_EVEN, Emin=-999999, Emax=999999, capitals=1, clamp=0,
                   flags=[], traps=[InvalidOperation, DivisionByZero, Overflow])  # fmt: skip


_CONTEXT = exact_context()


@contextlib.contextmanager
def kernel_context() -> Iterator[Context]:
    """The kernel's own context for the block (the caller's given back after it): a caller that
    computes in it anyway (the runtime) saves each kernel call setting it and giving it back. Its
    settings must not be changed; its flags, which trap nothing, may be set by anyone."""
    outer = getcontext()
    setcontext(_CONTEXT)
    try:
        yield _CONTEXT
    finally:
        setcontext(outer)


def exact(method: Callable[Concatenate[S, P], R]) -> Callable[Concatenate[S, P], R]:
    """``method`` run in the kernel's context (set, not copied: nothing in the kernel changes it,
    and its flags, which threads may share, trap nothing)."""

    @functools.wraps(method)
    def run(self: S, /, *args: P.args, **kwargs: P.kwargs) -> R:
        outer = getcontext()
        if outer is _CONTEXT:  # (a kernel way in from another, or the runtime's: kernel_context)
            return method(self, *args, **kwargs)
        setcontext(_CONTEXT)
        try:
            return method(self, *args, **kwargs)
        finally:
            setcontext(outer)

    return run

"""Shared test configuration: warnings are errors (pyproject), nothing leaks.

Each test starts in Python's default decimal context: a library imported by an earlier test
(ccxt sets ROUND_HALF_UP on import) must not change what a later test's own expected sums
round to. PINK's code sets its own (pink.kernel.exact, pink.runtime.decimals): tests of that
set the thread's context themselves."""

from __future__ import annotations

import decimal
from collections.abc import Iterator

import pytest

from pink.kernel.exact import exact_context


@pytest.fixture(autouse=True)
def _default_decimal_context() -> Iterator[None]:
    outer = decimal.getcontext()
    decimal.setcontext(exact_context())  # (not Context(): it copies DefaultContext, which a library may change)
    yield
    decimal.setcontext(outer)

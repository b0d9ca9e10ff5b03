"""Bounded memory of what the adapter already delivered: a long run must not grow without end."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from typing import Any

__all__ = ["RecentKeys", "keep_last"]


def keep_last(d: OrderedDict[Any, Any], n: int) -> None:
    """Forget the oldest entries of ``d`` (insertion order) beyond ``n``."""
    while len(d) > n:
        d.popitem(last=False)  # (not a dict: taking its first key again and again gets slower)


class RecentKeys:
    """A set that keeps only the ``size`` keys added last."""

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError(f"RecentKeys size: must be >= 1, got {size}")
        self.size = size
        self._keys: OrderedDict[Hashable, None] = OrderedDict()

    def __contains__(self, key: object) -> bool:
        return key in self._keys

    def __len__(self) -> int:
        return len(self._keys)

    def add(self, key: Hashable) -> None:
        self._keys[key] = None
        keep_last(self._keys, self.size)

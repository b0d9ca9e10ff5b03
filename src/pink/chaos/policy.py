"""A random decision engine for chaos runs: sizes, MARKET and LIMIT, exit legs, cancels.

It is seeded, never deliberately invalid, and drives every path of the
kernel: entries of random size (MARKET, or LIMIT near or away from the
touch), 1 to 3 exit legs of random ratios, partial exits, close-all exits at
market or at a limit, and cancels of working orders at random. ``final=True``
makes it decide nothing (the last, flattening run).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from decimal import ROUND_DOWN, Decimal

from pink.kernel.messages import Action, OrderType, PolicyMetadata, Side, TimeInForce
from pink.policy.base import Decision, PolicySnapshot

__all__ = ["ChaosPolicy"]


def _on(value: Decimal, quantum: Decimal) -> Decimal:
    return (value / quantum).to_integral_value(ROUND_DOWN) * quantum


class ChaosPolicy:
    """Random decisions for every slot, each cycle (see the module docstring)."""

    def __init__(self, seed: int, *, final: bool = False, p_act: float = 0.5) -> None:
        self._rng = random.Random(seed)
        self._final = final
        self._p_act = p_act

    def decide(self, snapshot: PolicySnapshot) -> Sequence[Decision]:
        if self._final:
            return []
        out: list[Decision] = []
        for slot in snapshot.slots:
            if self._rng.random() >= self._p_act or slot.state == "DESYNC":
                continue
            d = self._slot(slot.slot, slot.state, slot.symbol, slot.side, snapshot)
            if d is not None:
                out.append(d)
        return out

    def _slot(self, i: int, state: str, symbol: str, side: Side | None, snap: PolicySnapshot) -> Decision | None:
        rng = self._rng
        meta = PolicyMetadata(confidence=round(rng.random(), 3), features={"chaos": 1.0})
        if state == "IDLE":
            symbol = rng.choice(sorted(snap.quotes)) if snap.quotes else ""
            quote = snap.quotes.get(symbol)
            inst = snap.instruments.get(symbol)
            if quote is None or inst is None:
                return None
            new_side = rng.choice((Side.LONG, Side.SHORT))
            touch = quote.ask if new_side is Side.LONG else quote.bid
            notional = Decimal(rng.choice((10, 25, 60, 150, 400)))
            qty = max(_on(notional / touch, inst.step), inst.min_qty)
            legs = rng.choice(((Decimal(1),), (Decimal("0.5"), Decimal("0.5")),
                               (Decimal("0.3"), Decimal("0.3"), Decimal("0.4")), (Decimal("0.25"), Decimal(1))))
            if rng.random() < 0.5:
                return Decision(Action.ENTER, i, asset=symbol, side=new_side, quantity=qty,
                                leverage=rng.choice((1, 2, 5)), exit_legs=legs, metadata=meta)
            bps = Decimal(rng.choice((-5, 0, 2, 10, 50)))  # < 0: through the touch (takes)
            away = Decimal(1) - bps / 10_000 if new_side is Side.LONG else Decimal(1) + bps / 10_000
            price = _on(touch * away, inst.tick)
            tif = rng.choice((TimeInForce.GTC, TimeInForce.GTC, TimeInForce.IOC, TimeInForce.POST_ONLY))
            return Decision(Action.ENTER, i, asset=symbol, side=new_side, order_type=OrderType.LIMIT,
                            limit_price=price, time_in_force=tif, quantity=qty,
                            leverage=rng.choice((1, 2, 5)), exit_legs=legs, metadata=meta)
        if state == "POSITION_OPEN":
            quote, inst = snap.quotes.get(symbol), snap.instruments.get(symbol)
            close_all = rng.random() < 0.3
            if quote is None or inst is None or rng.random() < 0.6:
                return Decision(Action.EXIT, i, close_all=close_all, metadata=meta)
            touch = quote.bid if side is Side.LONG else quote.ask
            bps = Decimal(rng.choice((-5, 0, 5, 30)))
            away = Decimal(1) + bps / 10_000 if side is Side.LONG else Decimal(1) - bps / 10_000
            return Decision(Action.EXIT, i, order_type=OrderType.LIMIT, limit_price=_on(touch * away, inst.tick),
                            close_all=close_all, metadata=meta)
        if (state.endswith("_WORKING") or state.endswith("_PENDING")) and rng.random() < 0.4:
            return Decision(Action.CANCEL, i, reason="chaos cancel", metadata=meta)
        return None

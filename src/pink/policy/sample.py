"""A SAMPLE policy, for paper trading on the simulator. It is not a strategy.

It exists to exercise every path of the system: LIMIT and MARKET entries,
multi-leg exits (2 or 3 legs), take-profit legs, a stop (close the whole
remainder at market), a time exit, and cancels of stale resting orders.
Its "signal" is one-cycle momentum plus a seeded coin: do not trade it.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_UP, Decimal

from pink.kernel.messages import Action, OrderType, PolicyMetadata, Side
from pink.kernel.views import SlotView
from pink.policy.base import Decision, MarginSizer, PolicySnapshot
from pink.ports import Quote

__all__ = ["SamplePolicy", "SampleSettings", "sample_engines"]

_BPS = Decimal(10_000)


@dataclass(frozen=True, slots=True)
class SampleSettings:
    """Knobs of the sample policy (all money in Decimal, features in float)."""

    p_enter: float = 0.35
    p_limit: float = 0.5
    margin_fraction: Decimal = Decimal("0.5")
    leverage: int = 3
    limit_offset_bps: Decimal = Decimal(2)
    take_profit_bps: Decimal = Decimal(15)
    stop_bps: Decimal = Decimal(40)
    max_hold_cycles: int = 20
    order_ttl_cycles: int = 4


class SamplePolicy:
    """SAMPLE decision engine (see the module docstring: not a strategy)."""

    def __init__(self, seed: int = 0, settings: SampleSettings | None = None) -> None:
        self._rng = random.Random(seed)
        self._s = settings or SampleSettings()
        self._last_mid: dict[str, Decimal] = {}
        self._trade_seen: dict[str, int] = {}  # trade_id -> first cycle seen
        self._order_seen: dict[str, int] = {}  # client order id -> first cycle seen

    def decide(self, snapshot: PolicySnapshot) -> list[Decision]:
        momentum = self._momentum(snapshot.quotes)
        decisions: list[Decision] = []
        live_trades: set[str] = set()
        live_orders: set[str] = set()
        n_slots = max(len(snapshot.slots), 1)
        for slot in snapshot.slots:
            if slot.trade_id:
                live_trades.add(slot.trade_id)
                self._trade_seen.setdefault(slot.trade_id, snapshot.cycle)
            if slot.working_order:
                live_orders.add(slot.working_order)
                self._order_seen.setdefault(slot.working_order, snapshot.cycle)
            d = self._decide_slot(slot, snapshot, momentum, n_slots)
            if d is not None:
                decisions.append(d)
        self._trade_seen = {t: c for t, c in self._trade_seen.items() if t in live_trades}
        self._order_seen = {o: c for o, c in self._order_seen.items() if o in live_orders}
        return decisions

    # ---------------------------------------------------------------- per slot

    def _decide_slot(
        self, slot: SlotView, snap: PolicySnapshot, momentum: dict[str, float], n_slots: int
    ) -> Decision | None:
        if slot.state == "DESYNC":
            return None
        if slot.working_order:
            age = snap.cycle - self._order_seen.get(slot.working_order, snap.cycle)
            if age >= self._s.order_ttl_cycles and slot.state.endswith("_WORKING"):
                return Decision(Action.CANCEL, slot.slot, reason="stale resting order")
            return None
        if slot.state == "IDLE":
            return self._maybe_enter(slot, snap, momentum, n_slots)
        if slot.remaining_qty > 0 and slot.side is not None:
            return self._maybe_exit(slot, snap, momentum)
        return None

    def _maybe_enter(
        self, slot: SlotView, snap: PolicySnapshot, momentum: dict[str, float], n_slots: int
    ) -> Decision | None:
        if not snap.quotes or self._rng.random() >= self._s.p_enter:
            return None
        symbol = self._rng.choice(sorted(snap.quotes))
        quote = snap.quotes[symbol]
        mom = momentum.get(symbol, 0.0)
        side = (Side.LONG if mom > 0 else Side.SHORT) if mom else self._rng.choice(list(Side))
        legs = self._rng.choice(
            [(Decimal("0.5"), Decimal("0.5")), (Decimal("0.4"), Decimal("0.3"), Decimal("0.3"))]
        )
        order_type, price = OrderType.MARKET, None
        if self._rng.random() < self._s.p_limit:
            order_type = OrderType.LIMIT
            price = self._passive_price(snap, symbol, quote, side)
        margin = snap.account.capital / n_slots * self._s.margin_fraction
        return Decision(
            Action.ENTER,
            slot.slot,
            asset=symbol,
            side=side,
            order_type=order_type,
            limit_price=price,
            leverage=self._s.leverage,
            margin=margin,
            exit_legs=legs,
            reason="sample: momentum entry",
            metadata=self._meta(quote, mom, 0),
        )

    def _maybe_exit(
        self, slot: SlotView, snap: PolicySnapshot, momentum: dict[str, float]
    ) -> Decision | None:
        quote = snap.quotes.get(slot.symbol)
        if quote is None or slot.entry_vwap <= 0:
            return None
        held = snap.cycle - self._trade_seen.get(slot.trade_id, snap.cycle)
        direction = 1 if slot.side is Side.LONG else -1
        mid = (quote.bid + quote.ask) / 2
        move_bps = (mid - slot.entry_vwap) / slot.entry_vwap * _BPS * direction
        meta = self._meta(quote, momentum.get(slot.symbol, 0.0), held)
        if move_bps <= -self._s.stop_bps:
            return Decision(
                Action.EXIT, slot.slot, close_all=True, reason="sample: stop", metadata=meta
            )
        if move_bps >= self._s.take_profit_bps * (slot.legs_done + 1):
            # first take-profit leg at market, later legs rest at the far touch
            if slot.legs_done == 0:
                return Decision(Action.EXIT, slot.slot, reason="sample: take profit", metadata=meta)
            assert slot.side is not None
            far = quote.ask if slot.side is Side.LONG else quote.bid
            return Decision(
                Action.EXIT,
                slot.slot,
                order_type=OrderType.LIMIT,
                limit_price=far,
                reason="sample: take profit (limit)",
                metadata=meta,
            )
        if held >= self._s.max_hold_cycles:
            return Decision(Action.EXIT, slot.slot, reason="sample: time exit", metadata=meta)
        return None

    # ---------------------------------------------------------------- helpers

    def _passive_price(
        self, snap: PolicySnapshot, symbol: str, quote: Quote, side: Side
    ) -> Decimal:
        tick = snap.instruments[symbol].tick
        off = self._s.limit_offset_bps / _BPS
        if side is Side.LONG:
            raw, rounding = quote.bid * (1 - off), ROUND_DOWN
        else:
            raw, rounding = quote.ask * (1 + off), ROUND_UP
        return (raw / tick).to_integral_value(rounding=rounding) * tick

    def _momentum(self, quotes: Mapping[str, Quote]) -> dict[str, float]:
        out: dict[str, float] = {}
        for symbol, q in quotes.items():
            mid = (q.bid + q.ask) / 2
            last = self._last_mid.get(symbol)
            out[symbol] = float((mid - last) / last * _BPS) if last else 0.0
            self._last_mid[symbol] = mid
        return out

    @staticmethod
    def _meta(quote: Quote, mom: float, held: int) -> PolicyMetadata:
        mid = (quote.bid + quote.ask) / 2
        spread_bps = float((quote.ask - quote.bid) / mid * _BPS) if mid > 0 else 0.0
        return PolicyMetadata(
            confidence=round(min(1.0, 0.5 + abs(mom) / 20.0), 6),
            bars_held=held,
            features={"momentum_bps": round(mom, 6), "spread_bps": round(spread_bps, 6)},
            tags={"policy": "sample"},
        )


def sample_engines(
    seed: int = 0, settings: SampleSettings | None = None
) -> tuple[SamplePolicy, MarginSizer]:
    """The SAMPLE decision engine and a margin sizer, ready for the runtime."""
    return SamplePolicy(seed, settings), MarginSizer()


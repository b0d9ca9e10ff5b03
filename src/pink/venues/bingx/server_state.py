"""Shared state of the BingX simulator server: engine driver, order metadata, stream fan-out.

Every engine call goes through :class:`SimState`, which turns the engine's
events into user-data frames (``ORDER_TRADE_UPDATE`` / ``ACCOUNT_UPDATE``)
and hands them to the subscribed streams.

Time: the engine runs on ``clock_ns() + offset_ns`` (``/_sim/advance`` adds
to the offset). With ``realtime=False`` the clock stands still at start and
only ``advance`` moves it, for deterministic tests. Signed-request
timestamps are checked against the wall clock, not the engine clock.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

from pink.errors import ConfigError
from pink.kernel.messages import (
    ZERO,
    BalanceReport,
    FundingPaid,
    FundsTransferred,
    Instrument,
    OrderAccepted,
    OrderCanceled,
    OrderExpired,
    OrderFilled,
    PositionReport,
    Side,
)
from pink.ports import Quote
from pink.venues.bingx.server_faults import ServerFaults
from pink.venues.bingx.server_wire import OrderMeta, dec, ms, order_trade_update
from pink.venues.sim.account import Account
from pink.venues.sim.orders import EngineEvent, EngineFill, EngineOrder, FeeSchedule, NewOrder

if TYPE_CHECKING:
    from pink.venues.bingx.server_income import OtherIncome

__all__ = ["EngineLike", "FrameSink", "SimState", "places"]

FrameSink = Callable[[dict[str, Any]], None]


class EngineLike(Protocol):
    """The part of ``pink.venues.sim.engine.MatchingEngine`` the server uses."""

    fees: FeeSchedule
    funding_history: list[tuple[str, Decimal, int]]
    account: Account

    @property
    def now(self) -> int: ...

    def next_funding_ts(self) -> int: ...

    def depth(
        self, symbol: str
    ) -> tuple[list[tuple[Decimal, Decimal]], list[tuple[Decimal, Decimal]]]: ...

    def force_fill(
        self, now: int, *, client_order_id: str | None = None, venue_order_id: str | None = None
    ) -> list[EngineEvent]: ...

    def advance(self, now_ns: int) -> list[EngineEvent]: ...

    def submit(self, order: NewOrder, now: int) -> list[EngineEvent]: ...

    def cancel(
        self, now: int, *, client_order_id: str | None = None, venue_order_id: str | None = None
    ) -> list[EngineEvent]: ...

    def order(
        self, *, client_order_id: str | None = None, venue_order_id: str | None = None
    ) -> EngineOrder | None: ...

    def open_orders(self, symbol: str | None = None) -> list[EngineOrder]: ...

    def orders_since(self, ts: int) -> list[EngineOrder]: ...

    def fills_since(self, ts: int) -> list[EngineFill]: ...

    def funding_since(self, ts: int) -> list[FundingPaid]: ...

    def transfers_since(self, ts: int) -> list[FundsTransferred]: ...

    def transfer(self, amount: Decimal) -> FundsTransferred: ...

    def positions(self) -> list[PositionReport]: ...

    def balance(self) -> BalanceReport: ...

    def quote(self, symbol: str) -> Quote: ...

    def candles(self, symbol: str, interval_s: int, limit: int) -> list[Any]: ...

    def set_leverage(self, symbol: str, side: Side, lev: int) -> None: ...

    def leverage(self, symbol: str, side: Side) -> int: ...

    def liquidation_price(self, symbol: str, side: Side) -> Decimal | None: ...

    def shock(self, symbol: str, fraction: Decimal) -> list[EngineEvent]: ...


def places(step: Decimal) -> int:
    """Decimal places of a tick or step (0.001 -> 3, 1 -> 0)."""
    exponent = step.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


@dataclass(slots=True)
class _Agg:
    cum_qty: Decimal = ZERO
    notional: Decimal = ZERO
    commission: Decimal = ZERO


class SimState:
    """The engine plus what the BingX wire needs around it."""

    def __init__(
        self,
        engine: EngineLike,
        instruments: dict[str, Instrument],
        *,
        hedge: bool = False,
        realtime: bool = True,
        clock_ns: Callable[[], int] = time.time_ns,
        funding_interval_s: int = 8 * 3600,
        faults: ServerFaults | None = None,
        user_id: str = "1000000001",
    ) -> None:
        self.engine = engine
        self.faults = faults
        self.user_id = user_id  # the account's id, as the balance shows it
        self.instruments = instruments
        self.hedge = hedge
        self.realtime = realtime
        self.funding_interval_h = max(1, funding_interval_s // 3600)
        self._clock_ns = clock_ns
        self._frozen_ns = engine.now
        if realtime and engine.now < clock_ns() - 86_400 * 1_000_000_000:
            raise ConfigError(
                "the engine's start_ts is more than a day behind the wall clock; "
                "build it with start_ts=time.time_ns() or serve it with realtime=False"
            )
        self.offset_ns = 0
        self._last_ns = 0
        self._shock_second = engine.now // 1_000_000_000  # price shocks are drawn once a second after it
        self.meta: dict[str, OrderMeta] = {}  # by engine client_order_id (venue order id when it has none)
        self._aggs: dict[str, _Agg] = {}
        self._seq = itertools.count(1)
        self.sinks: list[FrameSink] = []
        self.cancel_times: dict[str, float] = {}
        self._reported: set[tuple[str, Side]] = set()
        self.other_income: list[OtherIncome] = []  # income rows of other types (INSURANCE_CLEAR …)
        self.keyless_income: dict[str, bool] = {}  # tranId -> listed without it (fault income_no_tranid)
        # a contract's trading state (REFERENCE.md §2), when not (1 online, apiStateOpen "true"):
        # (status: 25 close-only, 5 pre-listing, 0 offline; apiStateOpen "true"/"false")
        self.contract_state: dict[str, tuple[int, str]] = {}
        # called after each change of the account, before it is pushed or answered (a state directory)
        self.on_change: Callable[[], None] | None = None

    # ------------------------------------------------------------- time
    def wall_ms(self) -> int:
        return self._clock_ns() // 1_000_000

    def now_ns(self) -> int:
        base = self._clock_ns() if self.realtime else self._frozen_ns
        now = base + self.offset_ns
        self._last_ns = max(self._last_ns, now)
        return self._last_ns

    @property
    def maker_fee(self) -> Decimal:
        return self.engine.fees.maker

    @property
    def taker_fee(self) -> Decimal:
        return self.engine.fees.taker

    def next_funding_ns(self) -> int:
        return self.engine.next_funding_ts()

    def realized(self) -> Decimal:
        return sum((f.realized_pnl for f in self.engine.fills_since(0)), ZERO)

    def funding_history(self) -> list[tuple[str, Decimal, int]]:
        return list(self.engine.funding_history)

    def tick(self) -> None:
        """Advance the engine to now and publish what happened (and a ``price_shock``, drawn
        once for each second of the clock that began since the last tick)."""
        now = self.now_ns()
        self.publish(self.engine.advance(now), now)
        second = now // 1_000_000_000
        if self.faults is None or "price_shock" not in self.faults.rules:
            self._shock_second = second
            return
        for _ in range(min(second - self._shock_second, 3600)):
            shock = self.faults.shock(sorted(self.instruments))
            if shock is not None:
                self.publish(self.engine.shock(*shock), now)
        self._shock_second = second

    def advance(self, seconds: Decimal) -> None:
        self.offset_ns += int(seconds * 1_000_000_000)
        self.tick()

    def transfer(self, amount: Decimal) -> FundsTransferred:
        """A deposit (> 0) or withdrawal (< 0) now, pushed as ``ACCOUNT_UPDATE`` ``DEPOSIT``/``WITHDRAW``.

        The engine refuses (ValueError) a zero or non-finite amount and a withdrawal above
        what is available."""
        self.tick()
        moved = self.engine.transfer(amount)
        self.changed()
        if self.sinks:
            reason = "DEPOSIT" if moved.amount > 0 else "WITHDRAW"
            self._emit(self.account_update(reason, moved.amount, None, moved.ts))
        return moved

    # ------------------------------------------------------------ orders
    def new_client_id(self) -> str:
        return f"sim-{next(self._seq)}-{self._frozen_ns % 1_000_000_007}"

    def instrument_meta(
        self, symbol: str, client_id: str, position_side: str, leverage: int
    ) -> OrderMeta:
        inst = self.instruments.get(symbol)
        pp = places(inst.tick) if inst else 2
        qp = places(inst.step) if inst else 4
        return OrderMeta(client_id, position_side, leverage, pp, qp)

    def submit(self, order: NewOrder, meta: OrderMeta) -> list[EngineEvent]:
        self.meta[order.client_order_id] = meta
        now = self.now_ns()
        self.publish(self.engine.advance(now), now)
        events = self.engine.submit(order, now)
        self.publish(events, now)
        return events

    def cancel(
        self, *, client_order_id: str | None = None, venue_order_id: str | None = None
    ) -> list[EngineEvent]:
        now = self.now_ns()
        self.publish(self.engine.advance(now), now)
        events = self.engine.cancel(
            now, client_order_id=client_order_id, venue_order_id=venue_order_id
        )
        self.publish(events, now)
        return events

    def meta_of(self, order: EngineOrder) -> OrderMeta:
        key = order.client_order_id or order.venue_order_id  # the venue's own (a liquidation) has no client id
        meta = self.meta.get(key)
        if meta is None:
            ps = "BOTH" if not self.hedge else order.position_side.value
            meta = self.instrument_meta(order.symbol, order.client_order_id, ps, order.leverage)
            self.meta[key] = meta
        return meta

    def find(self, *, client_id: str | None, order_id: str | None) -> EngineOrder | None:
        """An order by its venue id or its client id as shown on the wire (lowercased)."""
        if order_id:
            return self.engine.order(venue_order_id=order_id)
        if client_id:
            return self.engine.order(client_order_id=client_id.lower())
        return None

    # ----------------------------------------------------------- streams
    def _emit(self, frame: dict[str, Any]) -> None:
        for sink in list(self.sinks):
            sink(frame)

    def changed(self) -> None:
        """The account changed: keep it (when the server has a state directory)."""
        if self.on_change is not None:
            self.on_change()

    def publish(self, events: list[EngineEvent], now: int) -> None:
        """Turn engine events into user-data frames for every connected stream; then keep the
        account (the frames are queued: none leaves before the next await)."""
        try:
            self._publish(events)
        finally:
            if events:
                self.changed()

    def _publish(self, events: list[EngineEvent]) -> None:
        for event in events:
            if isinstance(event, OrderFilled):
                agg = self._aggs.setdefault(event.venue_order_id, _Agg())
                agg.cum_qty = event.cum_qty
                agg.notional += event.last_qty * event.last_price
                agg.commission += event.commission
            if not self.sinks:
                continue
            if isinstance(event, FundingPaid):
                self._emit(self.account_update("FUNDING_FEE", event.amount, None, event.ts))
                continue
            if not isinstance(event, OrderAccepted | OrderFilled | OrderCanceled | OrderExpired):
                continue
            order = self.engine.order(venue_order_id=event.venue_order_id)
            if order is None:
                continue
            self._emit(self._order_frame(event, order))
            if isinstance(event, OrderFilled):
                self._emit(self.account_update("ORDER", ZERO, order.symbol, event.ts))

    def _order_frame(
        self, event: OrderAccepted | OrderFilled | OrderCanceled | OrderExpired, order: EngineOrder
    ) -> dict[str, Any]:
        agg = self._aggs.get(order.venue_order_id, _Agg())
        avg = agg.notional / agg.cum_qty if agg.cum_qty else ZERO
        fee: Decimal | None = ZERO
        trade_ts = 0
        if isinstance(event, OrderAccepted):
            execution, status = "NEW", "NEW"
        elif isinstance(event, OrderFilled):
            execution = "TRADE"
            status = "FILLED" if event.cum_qty >= order.quantity else "PARTIALLY_FILLED"
            fee, trade_ts = event.commission, event.ts
            if self.faults is not None and self.faults.fire("fee_cumulative"):
                fee = agg.commission
            if self.faults is not None and self.faults.fire("fee_missing"):
                fee = None
        elif isinstance(event, OrderCanceled):
            execution, status = "CANCELED", "CANCELED"
        else:
            execution, status = "EXPIRED", "EXPIRED"
        return order_trade_update(
            order=order,
            meta=self.meta_of(order),
            execution=execution,
            status=status,
            cum_qty=agg.cum_qty,
            avg_price=avg,
            fee=fee,
            trade_ts_ns=trade_ts,
            event_ts_ns=event.ts,
        )

    def account_update(
        self, reason: str, change: Decimal, symbol: str | None, ts: int
    ) -> dict[str, Any]:
        """``ACCOUNT_UPDATE``: ``B`` always; ``P`` (isolated: the engine gives each position a
        margin of its own) only for order-driven changes."""
        bal = self.engine.balance()
        body: dict[str, Any] = {
            "m": reason,
            "B": [
                {
                    "a": bal.asset,
                    "wb": dec(bal.balance, 8),
                    "cw": dec(bal.balance, 8),
                    "bc": dec(change, 8) if change else "0",
                }
            ],
        }
        if symbol is not None:
            body["P"] = self.position_entries(symbol)
        return {"e": "ACCOUNT_UPDATE", "E": ms(ts), "a": body}

    def position_entries(self, symbol: str) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        live = {p.side: p for p in self.engine.positions() if p.symbol == symbol and p.quantity}
        mark = self.engine.quote(symbol).mark
        for side in (Side.LONG, Side.SHORT):
            pos = live.get(side)
            if pos is None and (symbol, side) not in self._reported:
                continue
            qty = pos.quantity if pos else ZERO
            entry = pos.entry_price if pos else ZERO
            direction = 1 if side is Side.LONG else -1
            upnl = (mark - entry) * qty * direction if pos else ZERO
            margin = qty * entry / self.engine.leverage(symbol, side) if pos else ZERO
            rows.append(
                {
                    "s": symbol,
                    "pa": dec(qty, 8),
                    "ep": dec(entry, 8),
                    "up": dec(upnl, 8),
                    "mt": "isolated",
                    "iw": dec(margin, 8),
                    "ps": side.value,
                }
            )
            if pos is None:
                self._reported.discard((symbol, side))
            else:
                self._reported.add((symbol, side))
        return rows

"""SimVenue: the :class:`pink.ports.Venue` protocol on the matching engine.

It owns no clock. The runtime drives it: ``await venue.advance_to(now_ns)``
steps the engine and hands every event due at or before ``now`` to the sink,
in due order; ``venue.next_due()`` tells a simulated clock where to jump.
Replies to ``place``/``cancel`` are scheduled with latency (and faults), so an
ack may come after its first fill and a fill after a cancel request.
"""

from __future__ import annotations

import heapq
import random
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any, TypeVar, cast

from pink.errors import ClosedError, ConfigError, RateLimitedError, UnknownOutcomeError
from pink.kernel.messages import (
    ZERO,
    BalanceReport,
    CancelOrder,
    EnsureLeverage,
    FundingPaid,
    FundsTransferred,
    Instrument,
    OrderAccepted,
    OrderFilled,
    OrderStatus,
    OrderStatusReport,
    OrderType,
    PlaceOrder,
    PositionReport,
    QueryOrder,
    Side,
    TimeInForce,
    VenueEvent,
)
from pink.kernel.views import OrderView
from pink.ports import EventSink, Quote
from pink.venues.sim.engine import MatchingEngine
from pink.venues.sim.faults import FaultConfig, Faults
from pink.venues.sim.instruments import default_instruments
from pink.venues.sim.orders import Q8, EngineEvent, EngineFill, EngineOrder, NewOrder

__all__ = ["Latency", "Resting", "SimVenue", "fill_event", "order_report"]


@dataclass(frozen=True, slots=True)
class Latency:
    """Delays (simulated ns) from the venue event to its delivery on the stream."""

    ack_ns: int = 5_000_000
    fill_ns: int = 10_000_000
    cancel_ns: int = 5_000_000
    jitter_ns: int = 0

    def __post_init__(self) -> None:
        for name in ("ack_ns", "fill_ns", "cancel_ns", "jitter_ns"):
            value = getattr(self, name)
            if type(value) is not int or value < 0:
                raise ConfigError(f"latency {name} must be an int >= 0, got {value!r}")


_Shown = TypeVar("_Shown")  # an event or report of an order, as the venue shows it


def order_report(o: EngineOrder, ts: int) -> OrderStatusReport:
    return OrderStatusReport(
        o.client_order_id, o.venue_order_id, o.status, o.quantity, o.cum_qty, o.avg_price,
        o.commission, ts, o.code, o.message,
    )  # fmt: skip


def fill_event(f: EngineFill, asset: str) -> OrderFilled:
    return OrderFilled(
        f.client_order_id, f.venue_order_id, f.fill_id, f.qty, f.price, f.cum_qty,
        f.commission, asset, f.ts, True, f.symbol, f.side, f.position_side,
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class Resting:
    """An acknowledged LIMIT order for :meth:`SimVenue.adopt_book`, with what the journal knows
    the venue already did of it: the ids of its fills and its commission and notional so far. A
    restarted simulator numbers the order's next fill after the last one (the kernel drops a
    fill id it has booked as a repeat, and with it the fill's fee) and reports its totals."""

    order: OrderView
    position_side: Side
    fill_ids: AbstractSet[str] = frozenset()
    commission: Decimal = ZERO
    notional: Decimal = ZERO

    def fills(self) -> int:
        """How many fills the simulator gave it: the highest n of its ids ``{venue id}-{n}``."""
        prefix = f"{self.order.venue_order_id}-"
        numbers = [int(rest) for f in self.fill_ids
                   if f.startswith(prefix) and (rest := f[len(prefix):]).isdigit()]  # fmt: skip
        return max(numbers, default=0)


class SimVenue:
    """An in-process venue; see the module docstring for how time moves."""

    name = "sim"
    hedge_mode: bool | None = True  # positions are kept per (symbol, side)

    def __init__(
        self,
        engine: MatchingEngine | None = None,
        *,
        latency: Latency = Latency(),
        faults: FaultConfig | Faults | None = None,
        seed: int = 1,
    ) -> None:
        self.engine = engine if engine is not None else MatchingEngine(default_instruments())
        self.latency = latency
        self.faults = faults if isinstance(faults, Faults) else Faults(faults)
        self.calls: Counter[str] = Counter()
        self.dropped: list[VenueEvent] = []
        self._rng = random.Random(seed)
        self._queue: list[tuple[int, int, VenueEvent]] = []
        self._seq = 0
        self._sink: EventSink | None = None
        self._closed = False
        self._drop_until = -1
        #: engine ids (lower case) of orders placed by hand (or by another program) -> the client id shown outside
        self._by_hand: dict[str, str] = {}

    @property
    def now(self) -> int:
        return self.engine.now

    @property
    def stream_connected(self) -> bool:
        """In-process: the stream is up from :meth:`start` until :meth:`close`, except while
        the ``stream_drop`` fault drops it."""
        return self._sink is not None and not self._closed and self.engine.now >= self._drop_until

    def _enter(self, method: str) -> None:
        if self._closed:
            raise ClosedError(f"sim venue ({method})")
        self.calls[method] += 1

    def _limited(self) -> None:
        if self.faults.active and self.faults.hit("rate_limit"):
            raise RateLimitedError("SIM_RATE_LIMIT", "too many requests", retry_after_s=1.0)

    # ------------------------------------------------------------ time

    async def start(self, sink: EventSink) -> None:
        self._enter("start")
        self._sink = sink

    async def close(self) -> None:
        self._closed = True

    def adopt_book(
        self,
        capital: Decimal,
        positions: list[tuple[str, Side, Decimal, Decimal]],
        resting: Sequence[Resting] = (),
        leverage: Mapping[tuple[str, Side], int] | None = None,
        funding: Mapping[tuple[str, Side], Decimal] | None = None,
    ) -> None:
        """Start this (fresh) simulator from a book restored elsewhere: wallet, positions,
        resting LIMIT orders and the leverage of each (symbol, position side) they are held at,
        and the funding paid out of (< 0) or into each position's margin since it opened (their
        margin, and so their liquidation, depend on both; the wallet is ``capital`` either way).

        For paper trading: a restarted ``pink run --venue sim`` gets a new
        in-process simulator, so the launcher hands it the capital, the open
        positions (symbol, side, quantity, entry cost: what its close releases,
        the sum of quantity x price of its entries, exact) and the acknowledged
        LIMIT orders (with their position side) its journal restored; the venue
        and the kernel then agree, and those orders keep their ids, their
        filled part, their fill count and commission so far, and their place
        on the book. Orders not yet acknowledged
        are gone, as after a lost request; the kernel finds that out by
        querying them.
        """
        acct = self.engine.account
        acct.initial, acct.realized, acct.fees, acct.funding = capital, ZERO, ZERO, ZERO
        acct.positions.clear()
        for (symbol, side), lev in (leverage or {}).items():
            self.engine.adopt_leverage(symbol, side, lev)
        for symbol, side, qty, cost in positions:
            pos = acct.position(symbol, side)
            pos.qty += qty
            pos.cost += cost
        for key, amount in (funding or {}).items():
            if key in acct.positions:
                acct.positions[key].funding = amount
        now = self.engine.now
        for r in resting:
            o, position_side = r.order, r.position_side
            if o.order_type is not OrderType.LIMIT or o.limit_price is None or not o.venue_order_id:
                continue
            status = OrderStatus.PARTIALLY_FILLED if o.filled_qty > 0 else OrderStatus.NEW
            opens = o.role == "ENTRY"
            notional = r.notional if r.notional > 0 else o.filled_qty * o.limit_price
            avg = (notional / o.filled_qty).quantize(Q8) if o.filled_qty > 0 else o.limit_price
            self.engine.rest(EngineOrder(
                o.venue_order_id, o.client_order_id, o.symbol, o.side, position_side, OrderType.LIMIT,
                TimeInForce.GTC, o.quantity, o.limit_price, o.filled_qty, avg, r.commission, status, now, now,
                not opens, cum_notional=notional, opens=opens,
                leverage=self.engine.leverage(o.symbol, position_side), fills=r.fills(),
            ))  # fmt: skip

    @property
    def market_ended(self) -> str:
        """What ended the simulated market ('' while it goes on): a replay that ran out. A
        runtime driving this venue stops there (once the events due are delivered)."""
        return self.engine.market_ended

    def next_due(self) -> int | None:
        """When the next scheduled event becomes due (None: nothing scheduled)."""
        return self._queue[0][0] if self._queue else None

    async def advance_to(self, now: int) -> None:
        """Step the engine to ``now``; deliver every event due at or before it.

        The engine and the deliveries move together, one price update or one
        delivery time at a time, so that ``self.now`` is the delivery time
        while the sink runs.
        """
        if self._closed:
            raise ClosedError("sim venue (advance_to)")
        engine = self.engine
        queue = self._queue
        while True:
            target = now
            nxt = engine.next_event_ts()
            if nxt is not None and nxt < target:
                target = nxt
            if queue and self._sink is not None and queue[0][0] < target:
                target = max(queue[0][0], engine.now)
            self._schedule(engine.advance(target))
            if nxt is not None and nxt <= target and self.faults.active:  # the prices moved
                self._shock()
            self._deliver(target)
            if target >= now:
                return

    def _shock(self) -> None:
        """The ``price_shock`` fault, drawn at each price update."""
        shock = self.faults.shock(sorted(self.engine.instruments))
        if shock is not None:
            self._schedule(self.engine.shock(*shock))

    def _deliver(self, upto: int) -> None:
        sink = self._sink
        if sink is None:
            return
        queue = self._queue
        faults = self.faults
        while queue and queue[0][0] <= upto:
            due, _, ev = heapq.heappop(queue)
            if due < self._drop_until:
                self.dropped.append(ev)
            elif faults.active and faults.hit("stream_drop"):
                self._drop_until = due + faults.config.stream_drop_ns
                self.dropped.append(ev)
            else:
                sink(ev)

    def _push(self, due: int, ev: VenueEvent) -> None:
        self._seq += 1
        heapq.heappush(self._queue, (due, self._seq, ev))

    def _schedule(self, events: list[EngineEvent], *, lose_ack: bool = False) -> None:
        if not events:
            return
        lat = self.latency
        faults = self.faults
        faulty = faults.active
        batch: list[tuple[int, VenueEvent]] = []
        by_hand = self._by_hand
        for ev in events:
            if by_hand:
                ev = self._as_shown(ev)
            out: VenueEvent = ev
            if isinstance(ev, OrderAccepted):
                if lose_ack:
                    continue
                delay = lat.ack_ns
                if faulty and faults.hit("delayed_ack"):
                    delay += faults.config.delayed_ack_ns
            elif isinstance(ev, OrderFilled):
                delay = lat.fill_ns
                if faulty and faults.hit("fill_without_price"):
                    out = replace(ev, last_price=ZERO)
            elif isinstance(ev, FundingPaid | FundsTransferred):
                delay = lat.fill_ns
            else:  # rejects, cancels, cancel rejects, expiries
                delay = lat.cancel_ns
            if lat.jitter_ns:
                delay += self._rng.randrange(lat.jitter_ns + 1)
            batch.append((ev.ts + delay, out))
        if faulty and len(batch) > 1 and faults.hit("reorder_events"):
            dues = sorted(d for d, _ in batch)
            evs = [e for _, e in batch]
            faults.shuffle(evs)
            batch = list(zip(dues, evs, strict=True))
        for due, out in batch:
            self._push(due, out)
            if faulty and faults.hit("duplicate_event"):
                self._push(due + 1, out)

    # ------------------------------------------------------------ requests

    async def instruments(self) -> dict[str, Instrument]:
        self._enter("instruments")
        return dict(self.engine.instruments)

    async def place(self, order: PlaceOrder) -> None:
        self.place_now(order)

    async def cancel(self, order: CancelOrder) -> None:
        self.cancel_now(order)

    async def query(self, query: QueryOrder) -> OrderStatusReport:
        return self.query_now(query)

    async def ensure_leverage(self, request: EnsureLeverage) -> None:
        self.ensure_leverage_now(request)

    # ------------------------------------------------- the same, answered in-process

    def place_now(self, order: PlaceOrder) -> None:
        self._enter("place")
        self._limited()
        now = self.engine.now
        faults = self.faults
        refuse = "SIM_REJECT" if faults.active and faults.hit("reject") else ""
        request = NewOrder(
            order.client_order_id, order.symbol, order.side, order.position_side,
            order.quantity, order.order_type,
            order.limit_price if order.order_type is OrderType.LIMIT else None,
            order.time_in_force, order.reduce_only,
        )  # fmt: skip
        events = self.engine.submit(request, now, refuse=refuse)  # a reject is the venue's record too
        if refuse:
            self._schedule(events)
            return
        lost = faults.active and faults.hit("no_response")
        self._schedule(events, lose_ack=lost)
        if lost:
            raise UnknownOutcomeError("SIM_NO_RESPONSE", "reply lost; the order may exist")

    def place_by_hand(self, order: NewOrder, *, shown_id: str = "") -> list[EngineEvent]:
        """An order placed on the account by hand on the venue's site (or a liquidation): it
        trades like any other, and its events (returned as the stream shows them) reach the
        stream and the reports with no client order id (``order``'s is the engine's own, never
        shown), or, as another program's would, with ``shown_id``."""
        self._by_hand[order.client_order_id.lower()] = shown_id  # (the engine keeps ids in lower case)
        events = self.engine.submit(order, self.engine.now)
        self._schedule(events)  # (shown as the venue shows them there)
        return [self._as_shown(e) for e in events]

    def cancel_by_hand(self, client_order_id: str) -> None:
        """Cancel, as by hand on the venue's site, an order :meth:`place_by_hand` placed
        (``client_order_id``: the engine's own); its events show the client id that one showed."""
        if client_order_id.lower() not in self._by_hand:
            raise ValueError(f"client_order_id: {client_order_id!r} is not an order placed by hand")
        self._schedule(self.engine.cancel(self.engine.now, client_order_id=client_order_id))

    def _as_shown(self, ev: _Shown) -> _Shown:
        """``ev`` as the venue shows it: with the client order id shown for an order placed by hand
        (none, or another program's)."""
        shown = self._by_hand.get(getattr(ev, "client_order_id", ""))
        if shown is not None:
            return cast(_Shown, replace(cast(Any, ev), client_order_id=shown))
        return ev

    def cancel_now(self, order: CancelOrder) -> None:
        self._enter("cancel")
        self._limited()
        now = self.engine.now
        vid = order.venue_order_id or None
        found = self.engine.order(client_order_id=order.client_order_id, venue_order_id=vid)
        if (
            found is not None
            and found.live
            and found.order_type is OrderType.LIMIT
            and self.faults.active
            and self.faults.hit("fill_races_cancel")
        ):
            self._schedule(self.engine.force_fill(now, venue_order_id=found.venue_order_id))
        events = self.engine.cancel(now, client_order_id=order.client_order_id, venue_order_id=vid)
        self._schedule(events)

    def query_now(self, query: QueryOrder) -> OrderStatusReport:
        self._enter("query")
        self._limited()
        o = self.engine.order(client_order_id=query.client_order_id)
        now = self.engine.now
        if o is None:
            return OrderStatusReport(query.client_order_id, "", OrderStatus.NOT_FOUND, ZERO, ZERO, ZERO, ZERO, now)
        return order_report(o, now)

    def ensure_leverage_now(self, request: EnsureLeverage) -> None:
        self._enter("ensure_leverage")
        if self.engine.leverage(request.symbol, request.position_side) != request.leverage:
            self.calls["set_leverage"] += 1
            self.engine.set_leverage(request.symbol, request.position_side, request.leverage)

    # ------------------------------------------------------------ reports

    async def open_orders(self) -> list[OrderStatusReport]:
        self._enter("open_orders")
        now = self.engine.now
        return [self._as_shown(order_report(o, now)) for o in self.engine.open_orders()]

    async def fills_since(
        self,
        ts: int,
        orders: Collection[str] | None = None,
        *,
        outside: bool = False,
        symbols: Collection[str] | None = None,
    ) -> list[OrderFilled]:
        self._enter("fills_since")
        asset = self.engine.fees.asset
        wanted = None if orders is None else set(orders)
        by_hand = self._by_hand
        # placed outside PINK: by hand (or by another program), or the venue's own (a liquidation: no client id)
        return [self._as_shown(fill_event(f, asset)) for f in self.engine.fills_since(ts)
                if wanted is None or f.client_order_id in wanted
                or (outside and (f.client_order_id in by_hand or not f.client_order_id)
                    and (symbols is None or f.symbol in symbols))]

    async def funding_since(self, ts: int) -> list[FundingPaid]:
        self._enter("funding_since")
        return self.engine.funding_since(ts)

    async def transfers_since(self, ts: int) -> list[FundsTransferred]:
        self._enter("transfers_since")
        return self.engine.transfers_since(ts)

    async def transfer(self, amount: Decimal) -> FundsTransferred:
        """Deposit (> 0) or withdraw (< 0) ``amount`` now; the stream reports it like a venue would."""
        self._enter("transfer")
        ev = self.engine.transfer(amount)
        self._schedule([ev])
        return ev

    async def positions(self) -> list[PositionReport]:
        self._enter("positions")
        return self.engine.positions()

    async def balance(self) -> BalanceReport:
        self._enter("balance")
        return self.engine.balance()

    async def quote(self, symbol: str) -> Quote:
        self._enter("quote")
        return self.engine.quote(symbol)

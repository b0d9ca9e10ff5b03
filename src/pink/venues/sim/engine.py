"""The matching engine: a synthetic order book per symbol, resting orders,
partial fills over time, fees, positions, funding. Synchronous and
deterministic for a seed; time (int ns) is always passed in.

This module moves time and matches orders; the rest is in its own module:
what a new order is checked for (:mod:`~pink.venues.sim.checks`), what is kept
of orders and fills (:mod:`~pink.venues.sim.records`), margin, leverage and
liquidation (:mod:`~pink.venues.sim.margin`), funding
(:mod:`~pink.venues.sim.funding`), positions and the wallet
(:mod:`~pink.venues.sim.account`), the book (:mod:`~pink.venues.sim.book`).
"""

from __future__ import annotations

from decimal import Decimal

from pink.errors import ConfigError
from pink.kernel.messages import (
    ZERO,
    CancelRejected,
    FundsTransferred,
    Instrument,
    OrderAccepted,
    OrderCanceled,
    OrderExpired,
    OrderFilled,
    OrderRejected,
    OrderSide,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
)
from pink.venues.sim.account import Account, Position
from pink.venues.sim.book import Book, check_levels, floor_to
from pink.venues.sim.checks import OrderChecks
from pink.venues.sim.funding import Funding
from pink.venues.sim.margin import LiquidationRules, Margins, liquidation_close
from pink.venues.sim.orders import (
    CODES,
    Q8,
    EngineEvent,
    EngineFill,
    EngineOrder,
    FeeSchedule,
    NewOrder,
)
from pink.venues.sim.prices import (
    NS_PER_S,
    MarketConfig,
    PriceProcess,
    make_process,
)
from pink.venues.sim.records import Records
from pink.venues.sim.reports import EngineReports

__all__ = ["MatchingEngine"]

# the order path compares with these a dozen times an order: reading an enum
# member through its class costs about 90 ns in Python 3.11, a global 10 ns
_BUY = OrderSide.BUY
_LIMIT = OrderType.LIMIT
_POST_ONLY = TimeInForce.POST_ONLY
_IOC = TimeInForce.IOC
_FOK = TimeInForce.FOK
_NEW = OrderStatus.NEW
_FILLED = OrderStatus.FILLED
_PARTIALLY_FILLED = OrderStatus.PARTIALLY_FILLED
_SIDES = (Side.LONG, Side.SHORT)


def _priority(o: EngineOrder) -> tuple[int, int, str]:
    """A resting order's place among those of its side: the best price first, then the first placed
    (venue ids are increasing)."""
    return -o.price_ticks if o.side is _BUY else o.price_ticks, len(o.venue_order_id), o.venue_order_id


class MatchingEngine(EngineReports):
    """The write side: time, orders, transfers, leverage; the reports are :class:`EngineReports`'."""

    def __init__(
        self,
        instruments: dict[str, Instrument],
        *,
        seed: int = 1,
        start_ts: int = 0,
        initial_balance: Decimal = Decimal("10000"),
        fees: FeeSchedule = FeeSchedule(),  # noqa: B008 - frozen
        market: MarketConfig = MarketConfig(),  # noqa: B008 - frozen
        funding_interval_s: int = 8 * 3600,
        full_close_below_min: bool = True,
        history_s: int = 90 * 86_400,
        liquidation: LiquidationRules = LiquidationRules(),  # noqa: B008 - frozen
    ) -> None:
        """``full_close_below_min``: a closing order for all that is left of a position is taken
        below the minimum quantity and notional (as venues let a small position be closed; False
        refuses it).
        ``history_s``: ended orders and fills older than this are forgotten, as a venue keeps a
        limited history: a long paper run's memory and each reconcile's scan stay bounded. Keep
        it longer than any stop of the runtime trading on it (its restart reconcile reads what
        happened meanwhile) and than its reconcile lookback (a day by default).
        ``liquidation``: the maintenance margin and liquidation fee rates (see
        :mod:`pink.venues.sim.margin`)."""
        if history_s <= 0:
            raise ConfigError(f"history_s must be > 0, got {history_s}")
        self._history_ns = history_s * NS_PER_S
        self._next_forget = start_ts + self._history_ns // 48
        if not initial_balance.is_finite() or initial_balance < 0:
            raise ConfigError(f"initial_balance must be a finite number >= 0, got {initial_balance}")
        self.instruments = dict(instruments)
        liquidation.check(self.instruments)
        check_levels(market, self.instruments)
        self.liquidation = liquidation
        self.fees = fees
        self.market = market
        procs = {s: make_process(i, seed=seed, start_ts=start_ts, config=market) for s, i in self.instruments.items()}
        books = {s: Book(i, procs[s], market) for s, i in self.instruments.items()}
        records = Records(self.instruments)
        account = Account(initial_balance, fees.asset)
        margins = Margins(account, self.instruments, liquidation, procs, records.open, fees.maker)
        funding = Funding(procs, market, funding_interval_s, start_ts)
        super().__init__(account, records, margins, funding, procs, books)
        self._now = start_ts
        self.checks = OrderChecks(self.instruments, procs, books, records, margins, fees, full_close_below_min)
        self._open = records.open
        self.funding_history = funding.history

    @property
    def full_close_below_min(self) -> bool:
        return self.checks.full_close_below_min

    # ------------------------------------------------------------ time

    def advance(self, now: int) -> list[EngineEvent]:
        """Step the prices to ``now``; fill crossed resting orders; settle funding."""
        events: list[EngineEvent] = []
        procs = list(self._procs.values())
        funding = self.funding
        while True:
            t: int | None = None
            which = None
            for p in procs:
                nt = p.next_ts()
                if nt is not None and nt <= now and (t is None or nt < t):
                    t, which = nt, p
            if funding.next_ts <= now and (t is None or funding.next_ts < t):
                self._now = max(self._now, funding.next_ts)
                self._settle_funding(events)
                continue
            if which is None or t is None:
                break
            which.step()
            self._now = max(self._now, t)
            self._on_step(which.symbol, t, events)
        self._now = max(self._now, now)
        if self._now >= self._next_forget:
            self.records.forget_before(self._now - self._history_ns)
            self._next_forget = self._now + self._history_ns // 48
        return events

    def _settle_funding(self, events: list[EngineEvent]) -> None:
        """The settlement due now: each payment comes out of (or into) its position's own margin,
        and a position it puts under its maintenance margin is liquidated then."""
        ts = self.funding.next_ts
        events.extend(self.funding.settle(self.account))
        for pos in list(self.account.positions.values()):
            if pos.qty and self.margins.under_maintenance(pos):
                self._liquidate(pos, ts, events)

    def _on_step(self, symbol: str, ts: int, events: list[EngineEvent]) -> None:
        proc = self._procs[symbol]
        self._books[symbol].on_step(ts)
        if self._open[symbol]:
            self._fill_resting(symbol, proc, ts, events)
        positions = self.account.positions
        for side in _SIDES:
            pos = positions.get((symbol, side))
            if pos is not None and pos.qty and self.margins.under_maintenance(pos):
                self._liquidate(pos, ts, events)

    def shock(self, symbol: str, fraction: Decimal) -> list[EngineEvent]:
        """Gap the price of ``symbol`` now by ``fraction`` of it (> -1; < 0 down): a price update
        like any other, so resting orders it crosses fill and the positions it puts under their
        maintenance margin are liquidated (a fault: see :mod:`pink.venues.sim.faults`)."""
        if not fraction.is_finite() or fraction <= -1:
            raise ValueError(f"shock fraction: must be a finite number > -1, got {fraction}")
        self._proc(symbol).jump(fraction)
        events: list[EngineEvent] = []
        self._on_step(symbol, self._now, events)
        return events

    def _fill_resting(self, symbol: str, proc: PriceProcess, ts: int, events: list[EngineEvent]) -> None:
        """Fill the resting orders the price update crossed, from what it crossed of the book: the
        orders of a side share it, the best price first, then the first placed (as on a book)."""
        book = self._open[symbol]
        gap = self.market.level_gap_ticks
        depth = self.market.depth_levels
        share = self._books[symbol].level_qty * self.market.resting_fill_fraction
        step = self.instruments[symbol].step
        taken = {True: ZERO, False: ZERO}  # by side (buy?): filled in this update
        resting = list(book.values())
        if len(resting) > 1:
            resting.sort(key=_priority)
        for o in resting:
            buy = o.side is _BUY
            through = o.price_ticks - proc.ask if buy else proc.bid - o.price_ticks
            if through < 0:
                continue
            levels = min(depth, through // gap + 1)
            avail = max(step, floor_to(share * levels, step)) - taken[buy]
            if avail <= 0:
                continue
            q = min(o.remaining, avail)
            taken[buy] += q
            assert o.price is not None
            events.append(self._fill(o, q, o.price, True, ts))

    def _liquidate(self, pos: Position, ts: int, events: list[EngineEvent]) -> None:
        """Close all of ``pos`` by the venue's own order (no client id) at the mark, its resting
        orders canceled first (see :mod:`pink.venues.sim.margin`)."""
        symbol, side = pos.symbol, pos.side
        for o in list(self._open[symbol].values()):
            if o.position_side is side:
                events.append(self._cancel(o, ts))
        lev = self.leverage(symbol, side)
        price, fee = liquidation_close(pos, lev, self.margins.mark(symbol), self.instruments[symbol].tick,
                                       self.liquidation.fee_rate)  # fmt: skip
        o = EngineOrder(
            self.records.next_vid(ts), "", symbol, OrderSide.SELL if side is Side.LONG else _BUY, side,
            OrderType.MARKET, _IOC, pos.qty, None, ZERO, ZERO, ZERO, _NEW, ts, ts, True, opens=False, leverage=lev,
        )  # fmt: skip
        self.records.add(o)  # by its venue id only: it has no client id
        events.append(self._fill(o, pos.qty, price, False, ts, fee))

    # ------------------------------------------------------------ orders

    def submit(self, order: NewOrder, now: int, *, refuse: str = "") -> list[EngineEvent]:
        """``refuse``: a code (of :data:`CODES`) to reject the order with whatever it is (an
        injected fault); the reject is recorded like the engine's own, and the client id used."""
        events = self.advance(now) if now > self._now else []
        now = self._now
        coid = order.client_order_id.lower()
        code = self.checks.refusal(order, coid) or refuse
        if code:
            return [*events, self._reject(order, coid, code, now)]
        inst = self.instruments[order.symbol]
        proc = self._procs[order.symbol]
        buy = order.side is _BUY
        limit = None
        if order.order_type is _LIMIT:
            assert order.price is not None
            limit = int(order.price / inst.tick)
            marketable = limit >= proc.ask if buy else limit <= proc.bid
            if marketable and order.time_in_force is _POST_ONLY:
                return [*events, self._reject(order, coid, "POST_ONLY_WOULD_TAKE", now)]
        elif order.time_in_force is _POST_ONLY:
            return [*events, self._reject(order, coid, "POST_ONLY_WOULD_TAKE", now)]
        vid = self.records.next_vid(now)
        o = EngineOrder(
            vid, coid, order.symbol, order.side, order.position_side, order.order_type,
            order.time_in_force, order.quantity, order.price, ZERO, ZERO, ZERO,
            _NEW, now, now, order.reduce_only, price_ticks=limit or 0,
            opens=order.opens, leverage=self.leverage(order.symbol, order.position_side),
        )  # fmt: skip
        self.records.add(o)
        events.append(OrderAccepted(coid, vid, now))
        tif = order.time_in_force
        if tif is _FOK and self._books[order.symbol].available(buy, limit) < o.quantity:
            events.append(self._expire(o, now))
            return events
        self._take(o, limit, now, events)
        if o.live:
            if limit is None or tif in (_IOC, _FOK):
                events.append(self._expire(o, now))
            else:
                self._open[o.symbol][vid] = o
        return events

    def _reject(self, order: NewOrder, coid: str, code: str, now: int) -> OrderRejected:
        if not self.records.used(coid):
            self.records.rejected[coid] = EngineOrder(
                "", coid, order.symbol, order.side, order.position_side, order.order_type,
                order.time_in_force, order.quantity, order.price, ZERO, ZERO, ZERO,
                OrderStatus.REJECTED, now, now, order.reduce_only, code=code,
                message=CODES[code],
            )  # fmt: skip
        return OrderRejected(coid, code, CODES[code], now)

    def _take(self, o: EngineOrder, limit: int | None, now: int, events: list[EngineEvent]) -> None:
        buy = o.side is _BUY
        book = self._books[o.symbol]
        for i, (px, free) in enumerate(book.levels(buy)):
            if limit is not None and (px > limit if buy else px < limit):
                break
            if free <= 0:
                continue
            q = min(free, o.remaining)
            book.take(buy, i, q)
            events.append(self._fill(o, q, book.proc.price(px), False, now))
            if not o.live:
                break

    def _fill(
        self, o: EngineOrder, q: Decimal, price: Decimal, maker: bool, ts: int, fee: Decimal | None = None
    ) -> OrderFilled:
        """``fee``: what the fill costs (default: the maker or taker rate of its notional)."""
        notional = q * price
        if fee is None:
            fee = (notional * (self.fees.maker if maker else self.fees.taker)).quantize(Q8)
        o.cum_qty += q
        o.cum_notional += notional
        o.avg_price = (o.cum_notional / o.cum_qty).quantize(Q8)
        o.commission += fee
        o.updated_ts = ts
        o.fills += 1
        if o.cum_qty >= o.quantity:
            o.status = _FILLED
            self._open[o.symbol].pop(o.venue_order_id, None)
        else:
            o.status = _PARTIALLY_FILLED
        pnl = self.account.fill(o.symbol, o.position_side, o.opens, q, price, fee)
        fid = f"{o.venue_order_id}-{o.fills}"
        self.records.fills.append(
            EngineFill(
                fid, o.venue_order_id, o.client_order_id, o.symbol, o.side, q, price, fee,
                maker, ts, o.cum_qty, o.position_side, pnl,
            )
        )  # fmt: skip
        vid, cum, asset = o.venue_order_id, o.cum_qty, self.fees.asset
        return OrderFilled(o.client_order_id, vid, fid, q, price, cum, fee, asset, ts, True, o.symbol, o.side,
                           o.position_side)  # fmt: skip

    def _expire(self, o: EngineOrder, now: int) -> OrderExpired:
        o.status = OrderStatus.EXPIRED
        o.updated_ts = now
        self._open[o.symbol].pop(o.venue_order_id, None)
        return OrderExpired(o.client_order_id, o.venue_order_id, o.cum_qty, now)

    def cancel(
        self, now: int, *, client_order_id: str | None = None, venue_order_id: str | None = None
    ) -> list[EngineEvent]:
        events = self.advance(now) if now > self._now else []
        now = self._now
        o = self.records.find(client_order_id, venue_order_id)
        if o is None:
            code, coid = "ORDER_NOT_FOUND", (client_order_id or "").lower()
            events.append(CancelRejected(coid, code, CODES[code], False, now))
        elif o.status is OrderStatus.FILLED:
            code = "ORDER_ALREADY_FILLED"
            events.append(CancelRejected(o.client_order_id, code, CODES[code], False, now))
        elif not o.live:
            code = "ORDER_NOT_OPEN"
            events.append(CancelRejected(o.client_order_id, code, CODES[code], False, now))
        else:
            events.append(self._cancel(o, now))
        return events

    def _cancel(self, o: EngineOrder, now: int) -> OrderCanceled:
        o.status = OrderStatus.CANCELED
        o.updated_ts = now
        self._open[o.symbol].pop(o.venue_order_id, None)
        return OrderCanceled(o.client_order_id, o.venue_order_id, o.cum_qty, now)

    def force_fill(
        self, now: int, *, client_order_id: str | None = None, venue_order_id: str | None = None
    ) -> list[EngineEvent]:
        """Fill the rest of a live LIMIT at its price now (a fill racing a cancel)."""
        events = self.advance(now) if now > self._now else []
        o = self.records.find(client_order_id, venue_order_id)
        if o is not None and o.live and o.price is not None:
            events.append(self._fill(o, o.remaining, o.price, True, self._now))
        return events

    def rest(self, o: EngineOrder) -> None:
        """Put a live LIMIT order on the book as it is (a restarted simulator's adopted orders)."""
        if o.order_type is not OrderType.LIMIT or not o.live or o.price is None:
            raise ValueError(f"only a live LIMIT order can rest, not {o.client_order_id} ({o.order_type}, {o.status})")
        o.price_ticks = int(o.price / self.instruments[o.symbol].tick)
        self.records.rest(o)

    def transfer(self, amount: Decimal) -> FundsTransferred:
        """Move ``amount`` into (> 0) or out of (< 0) the wallet now: a deposit or a withdrawal."""
        if type(amount) is not Decimal or not amount.is_finite() or amount == 0:
            raise ValueError(f"transfer amount: must be a non-zero finite Decimal, got {amount!r}")
        asset = self.account.asset
        if amount < 0 and -amount > self.available():
            raise ValueError(f"withdrawal of {-amount} {asset}: only {self.available()} is available")
        self.account.transfers += amount
        transfers = self.records.transfers
        ev = FundsTransferred(f"tr{len(transfers) + 1}-{self._now}", asset, amount, self._now)
        transfers.append(ev)
        return ev

    # ------------------------------------------------------------ leverage (see Margins)

    def set_leverage(self, symbol: str, side: Side, leverage: int) -> None:
        self.margins.set_leverage(symbol, side, leverage)

    def adopt_leverage(self, symbol: str, side: Side, leverage: int) -> None:
        self.margins.adopt_leverage(symbol, side, leverage)

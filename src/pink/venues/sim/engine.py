"""The matching engine: a synthetic order book per symbol, resting orders,
partial fills over time, fees, positions, funding. Synchronous and
deterministic for a seed; time (int ns) is always passed in.
"""

from __future__ import annotations

from bisect import bisect_left
from decimal import ROUND_FLOOR, Decimal

from pink.errors import ConfigError, LeverageError, UnknownInstrumentError
from pink.kernel.messages import (
    ZERO,
    BalanceReport,
    CancelRejected,
    FundingPaid,
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
    PositionReport,
    Side,
    TimeInForce,
)
from pink.ports import Quote
from pink.venues.sim.account import Account, Position
from pink.venues.sim.book import Book, floor_to
from pink.venues.sim.margin import LiquidationRules, liquidation_close, liquidation_price, under_maintenance
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
    NS_PER_MS,
    NS_PER_S,
    Candle,
    MarketConfig,
    PriceProcess,
    make_process,
)

__all__ = ["MatchingEngine"]

SNOWFLAKE_EPOCH_MS = 1288834974657
MIN_ORDER_ID = 10**18
DEFAULT_LEVERAGE = 5
Q6 = Decimal("1e-6")

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


class MatchingEngine:
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
        below the minimum notional (as venues let a small position be closed; False refuses it).
        ``history_s``: ended orders and fills older than this are forgotten, as a venue keeps a
        limited history: a long paper run's memory and each reconcile's scan stay bounded. Keep
        it longer than any stop of the runtime trading on it (its restart reconcile reads what
        happened meanwhile) and than its reconcile lookback (a day by default).
        ``liquidation``: the maintenance margin and liquidation fee rates (see
        :mod:`pink.venues.sim.margin`)."""
        if funding_interval_s <= 0:
            raise ConfigError(f"funding_interval_s must be > 0, got {funding_interval_s}")
        if history_s <= 0:
            raise ConfigError(f"history_s must be > 0, got {history_s}")
        self._history_ns = history_s * NS_PER_S
        self._next_forget = start_ts + self._history_ns // 48
        if not initial_balance.is_finite() or initial_balance < 0:
            raise ConfigError(f"initial_balance must be a finite number >= 0, got {initial_balance}")
        self.instruments = dict(instruments)
        liquidation.check(self.instruments)
        self.liquidation = liquidation
        self.full_close_below_min = full_close_below_min
        self.fees = fees
        self.market = market
        self._now = start_ts
        self._procs = {
            s: make_process(i, seed=seed, start_ts=start_ts, config=market) for s, i in self.instruments.items()
        }
        self._books = {s: Book(i, self._procs[s], market) for s, i in self.instruments.items()}
        self._orders: dict[str, EngineOrder] = {}
        self._by_coid: dict[str, EngineOrder] = {}
        self._rejected: dict[str, EngineOrder] = {}
        self._open: dict[str, dict[str, EngineOrder]] = {s: {} for s in self.instruments}
        self._fills: list[EngineFill] = []
        self._funding: list[FundingPaid] = []
        self._transfers: list[FundsTransferred] = []
        self.funding_history: list[tuple[str, Decimal, int]] = []
        self.account = Account(initial_balance, fees.asset)
        self._leverage: dict[tuple[str, Side], int] = {}
        self._last_vid = 0
        self._interval_ns = funding_interval_s * NS_PER_S
        self._next_funding = (start_ts // self._interval_ns + 1) * self._interval_ns
        self._anchor = {s: p.mark for s, p in self._procs.items()}

    @property
    def now(self) -> int:
        return self._now

    # ------------------------------------------------------------ time

    def advance(self, now: int) -> list[EngineEvent]:
        """Step the prices to ``now``; fill crossed resting orders; settle funding."""
        events: list[EngineEvent] = []
        procs = list(self._procs.values())
        while True:
            t: int | None = None
            which = None
            for p in procs:
                nt = p.next_ts()
                if nt is not None and nt <= now and (t is None or nt < t):
                    t, which = nt, p
            if self._next_funding <= now and (t is None or self._next_funding < t):
                self._now = max(self._now, self._next_funding)
                self._settle_funding(self._next_funding, events)
                self._next_funding += self._interval_ns
                continue
            if which is None or t is None:
                break
            which.step()
            self._now = max(self._now, t)
            self._on_step(which.symbol, t, events)
        self._now = max(self._now, now)
        if self._now >= self._next_forget:
            self._forget_before(self._now - self._history_ns)
            self._next_forget = self._now + self._history_ns // 48
        return events

    def _forget_before(self, cut: int) -> None:
        """Forget orders that ended before ``cut`` and fills before it (never a live order)."""
        for vid, o in list(self._orders.items()):
            if o.updated_ts < cut and not o.live:
                del self._orders[vid]
                if self._by_coid.get(o.client_order_id.lower()) is o:
                    del self._by_coid[o.client_order_id.lower()]
        for coid, o in list(self._rejected.items()):
            if o.updated_ts < cut:
                del self._rejected[coid]
        del self._fills[: bisect_left(self._fills, cut, key=_fill_ts)]

    def _on_step(self, symbol: str, ts: int, events: list[EngineEvent]) -> None:
        proc = self._procs[symbol]
        self._books[symbol].on_step(ts)
        book = self._open[symbol]
        if book:
            self._fill_resting(symbol, proc, ts, events)
        positions = self.account.positions
        for side in _SIDES:
            pos = positions.get((symbol, side))
            if pos is not None and pos.qty and under_maintenance(
                pos, self.leverage(symbol, side), proc.price(proc.mark), self.liquidation.rate(symbol)
            ):
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
        book = self._open[symbol]
        gap = self.market.level_gap_ticks
        depth = self.market.depth_levels
        share = self._books[symbol].level_qty * self.market.resting_fill_fraction
        step = self.instruments[symbol].step
        for o in list(book.values()):
            buy = o.side is OrderSide.BUY
            through = o.price_ticks - proc.ask if buy else proc.bid - o.price_ticks
            if through < 0:
                continue
            levels = min(depth, through // gap + 1)
            avail = max(step, floor_to(share * levels, step))
            assert o.price is not None
            events.append(self._fill(o, min(o.remaining, avail), o.price, True, ts))

    def _liquidate(self, pos: Position, ts: int, events: list[EngineEvent]) -> None:
        """Close all of ``pos`` by the venue's own order (no client id) at the mark, its resting
        orders canceled first (see :mod:`pink.venues.sim.margin`)."""
        symbol, side = pos.symbol, pos.side
        for o in list(self._open[symbol].values()):
            if o.position_side is side:
                events.append(self._cancel(o, ts))
        proc = self._procs[symbol]
        lev = self.leverage(symbol, side)
        price, fee = liquidation_close(pos, lev, proc.price(proc.mark), self.instruments[symbol].tick,
                                       self.liquidation.fee_rate)  # fmt: skip
        vid = self._next_vid(ts)
        o = EngineOrder(
            vid, "", symbol, OrderSide.SELL if side is Side.LONG else _BUY, side, OrderType.MARKET, _IOC, pos.qty,
            None, ZERO, ZERO, ZERO, _NEW, ts, ts, True, opens=False, leverage=lev,
        )  # fmt: skip
        self._orders[vid] = o  # by its venue id only: it has no client id
        events.append(self._fill(o, pos.qty, price, False, ts, fee))

    def _settle_funding(self, ts: int, events: list[EngineEvent]) -> None:
        for sym in self._procs:
            self.funding_history.append((sym, self.funding_rate(sym), ts))
        for pos in list(self.account.positions.values()):
            if pos.qty <= 0:
                continue
            proc = self._procs[pos.symbol]
            rate = self.funding_rate(pos.symbol)
            direction = 1 if pos.side is Side.LONG else -1
            amount = (-direction * pos.qty * proc.price(proc.mark) * rate).quantize(Q8)
            if not amount:
                continue  # a zero rate (or a payment below 1e-8): a venue books no payment of 0
            self.account.charge_funding(pos, amount)
            ev = FundingPaid(f"{pos.symbol}-{pos.side.value}-{ts}", pos.symbol, amount, ts)
            self._funding.append(ev)
            events.append(ev)
        for sym, proc in self._procs.items():
            self._anchor[sym] = proc.mark

    def funding_rate(self, symbol: str) -> Decimal:
        """The rate for the coming settlement (fixed, or from the price process)."""
        if self.market.funding_rate is not None:
            return self.market.funding_rate
        anchor = self._anchor[symbol]
        premium = Decimal(self._procs[symbol].mark - anchor) / Decimal(anchor) / 10
        cap = self.market.max_funding_rate
        return max(-cap, min(cap, self.market.base_funding_rate + premium)).quantize(Q6)

    # ------------------------------------------------------------ orders

    def submit(self, order: NewOrder, now: int, *, refuse: str = "") -> list[EngineEvent]:
        """``refuse``: a code (of :data:`CODES`) to reject the order with whatever it is (an
        injected fault); the reject is recorded like the engine's own, and the client id used."""
        events = self.advance(now) if now > self._now else []
        now = self._now
        coid = order.client_order_id.lower()
        code = self._validate(order, coid) or refuse
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
        vid = self._next_vid(now)
        o = EngineOrder(
            vid, coid, order.symbol, order.side, order.position_side, order.order_type,
            order.time_in_force, order.quantity, order.price, ZERO, ZERO, ZERO,
            _NEW, now, now, order.reduce_only, price_ticks=limit or 0,
            opens=order.opens, leverage=self.leverage(order.symbol, order.position_side),
        )  # fmt: skip
        self._orders[vid] = o
        self._by_coid[coid] = o
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

    def _validate(self, order: NewOrder, coid: str) -> str:
        if not 1 <= len(coid) <= 40:
            return "INVALID_CLIENT_ORDER_ID"
        if coid in self._by_coid or coid in self._rejected:  # a rejected order's id is used too
            return "DUPLICATE_CLIENT_ORDER_ID"
        inst = self.instruments.get(order.symbol)
        if inst is None:
            return "UNKNOWN_SYMBOL"
        qty = order.quantity
        if not qty.is_finite() or qty < inst.min_qty or qty <= 0:
            return "QTY_BELOW_MIN"
        if qty % inst.step:
            return "QTY_NOT_ON_STEP"
        proc = self._procs[order.symbol]
        if order.order_type is _LIMIT:
            p = order.price
            if p is None or not p.is_finite() or p <= 0 or p % inst.tick:
                return "INVALID_PRICE"
            ref = p
        else:
            ref = proc.price(proc.ask if order.side is _BUY else proc.bid)
        small = qty * ref < inst.min_notional
        if order.opens:
            if small:
                return "NOTIONAL_BELOW_MIN"
            if order.reduce_only:
                return "INVALID_SIDE"
            # the margin and the fee, at the price it takes: a MARKET's walk of the book, a LIMIT's
            # price (a maker's fee if it rests: kept aside while it does, see used_margin)
            if order.order_type is _LIMIT:
                buy = order.side is _BUY
                ticks = int(ref / inst.tick)
                taker = ticks >= proc.ask if buy else ticks <= proc.bid
                notional = qty * ref
            else:
                taker, notional = True, self._books[order.symbol].cost(order.side is _BUY, qty)
            fee = (notional * (self.fees.taker if taker else self.fees.maker)).quantize(Q8)
            if notional / self.leverage(order.symbol, order.position_side) + fee > self.available():
                return "INSUFFICIENT_MARGIN"
            return ""
        pos = self.account.positions.get((order.symbol, order.position_side))
        held = pos.qty if pos else ZERO
        pending = sum(
            (o.remaining for o in self._open[order.symbol].values()
             if not o.opens and o.position_side is order.position_side),
            ZERO,
        )  # fmt: skip
        if qty > held - pending:
            return "REDUCE_ONLY_EXCEEDS_POSITION"
        if small and not (self.full_close_below_min and qty == held - pending):
            return "NOTIONAL_BELOW_MIN"
        return ""

    def _reject(self, order: NewOrder, coid: str, code: str, now: int) -> OrderRejected:
        if coid not in self._by_coid and coid not in self._rejected:
            self._rejected[coid] = EngineOrder(
                "", coid, order.symbol, order.side, order.position_side, order.order_type,
                order.time_in_force, order.quantity, order.price, ZERO, ZERO, ZERO,
                OrderStatus.REJECTED, now, now, order.reduce_only, code=code,
                message=CODES[code],
            )  # fmt: skip
        return OrderRejected(coid, code, CODES[code], now)

    def _next_vid(self, now: int) -> str:
        cand = max((now // NS_PER_MS - SNOWFLAKE_EPOCH_MS) << 22, MIN_ORDER_ID)
        self._last_vid = max(cand, self._last_vid + 1)
        return str(self._last_vid)

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
        self._fills.append(
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

    def _find(self, client_order_id: str | None, venue_order_id: str | None) -> EngineOrder | None:
        if venue_order_id:
            return self._orders.get(venue_order_id)
        if client_order_id:
            return self._by_coid.get(client_order_id.lower())
        return None

    def cancel(
        self, now: int, *, client_order_id: str | None = None, venue_order_id: str | None = None
    ) -> list[EngineEvent]:
        events = self.advance(now) if now > self._now else []
        now = self._now
        o = self._find(client_order_id, venue_order_id)
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
        o = self._find(client_order_id, venue_order_id)
        if o is not None and o.live and o.price is not None:
            events.append(self._fill(o, o.remaining, o.price, True, self._now))
        return events

    def rest(self, o: EngineOrder) -> None:
        """Put a live LIMIT order on the book as it is (a restarted simulator's adopted orders)."""
        if o.order_type is not OrderType.LIMIT or not o.live or o.price is None:
            raise ValueError(f"only a live LIMIT order can rest, not {o.client_order_id} ({o.order_type}, {o.status})")
        inst = self.instruments[o.symbol]
        o.price_ticks = int(o.price / inst.tick)
        self._orders[o.venue_order_id] = o
        self._by_coid[o.client_order_id.lower()] = o
        self._open[o.symbol][o.venue_order_id] = o
        if o.venue_order_id.isdigit():
            self._last_vid = max(self._last_vid, int(o.venue_order_id))

    # ------------------------------------------------------------ reports

    def order(self, *, client_order_id: str | None = None, venue_order_id: str | None = None) -> EngineOrder | None:
        found = self._find(client_order_id, venue_order_id)
        if found is None and client_order_id and not venue_order_id:
            return self._rejected.get(client_order_id.lower())
        return found

    def open_orders(self, symbol: str | None = None) -> list[EngineOrder]:
        books = [self._open[symbol]] if symbol else list(self._open.values())
        return sorted((o for b in books for o in b.values()), key=lambda o: o.venue_order_id)

    def orders_since(self, ts: int) -> list[EngineOrder]:
        return [o for o in self._orders.values() if o.updated_ts >= ts]

    def fills_since(self, ts: int) -> list[EngineFill]:
        return self._fills[bisect_left(self._fills, ts, key=_fill_ts) :]

    def funding_since(self, ts: int) -> list[FundingPaid]:
        return self._funding[bisect_left(self._funding, ts, key=_funding_ts) :]

    def transfers_since(self, ts: int) -> list[FundsTransferred]:
        return self._transfers[bisect_left(self._transfers, ts, key=_transfer_ts) :]

    def transfer(self, amount: Decimal) -> FundsTransferred:
        """Move ``amount`` into (> 0) or out of (< 0) the wallet now: a deposit or a withdrawal."""
        if type(amount) is not Decimal or not amount.is_finite() or amount == 0:
            raise ValueError(f"transfer amount: must be a non-zero finite Decimal, got {amount!r}")
        asset = self.account.asset
        if amount < 0 and -amount > self.available():
            raise ValueError(f"withdrawal of {-amount} {asset}: only {self.available()} is available")
        self.account.transfers += amount
        ev = FundsTransferred(f"tr{len(self._transfers) + 1}-{self._now}", asset, amount, self._now)
        self._transfers.append(ev)
        return ev

    def positions(self) -> list[PositionReport]:
        return self.account.reports(self._now)

    def liquidation_price(self, symbol: str, side: Side) -> Decimal | None:
        """The first mark price at which the venue liquidates the position held now (None: no
        position, or one never liquidated)."""
        pos = self.account.positions.get((symbol, side))
        if pos is None or not pos.qty:
            return None
        lev = self.leverage(symbol, side)
        return liquidation_price(pos, lev, self.liquidation.rate(symbol), self.instruments[symbol].tick)

    def used_margin(self) -> Decimal:
        """The margin of the positions, and of the resting opening orders with their fees."""
        maker = self.fees.maker
        used = sum(
            (p.cost / self.leverage(p.symbol, p.side) for p in self.account.positions.values()),
            ZERO,
        )
        for book in self._open.values():
            for o in book.values():
                if o.opens and o.price is not None:  # its margin, and its fee when it fills (as maker)
                    notional = o.remaining * o.price
                    used += notional / o.leverage + notional * maker
        return used

    def available(self) -> Decimal:
        return (self.account.wallet - self.used_margin()).quantize(Q8, rounding=ROUND_FLOOR)

    def balance(self) -> BalanceReport:
        acct = self.account
        return BalanceReport(acct.asset, acct.wallet, self.available(), self._now)

    def _proc(self, symbol: str) -> PriceProcess:
        proc = self._procs.get(symbol)
        if proc is None:
            raise UnknownInstrumentError(symbol)
        return proc

    def quote(self, symbol: str) -> Quote:
        p = self._proc(symbol)
        return Quote(
            symbol, p.price(p.bid), p.price(p.ask), p.price(p.last), p.price(p.mark),
            self.funding_rate(symbol), self._now,
        )  # fmt: skip

    def depth(self, symbol: str) -> tuple[list[tuple[Decimal, Decimal]], list[tuple[Decimal, Decimal]]]:
        """(bids, asks), each best first, as (price, free qty)."""
        self._proc(symbol)
        return self._books[symbol].depth_snapshot()

    def next_funding_ts(self) -> int:
        return self._next_funding

    def next_event_ts(self) -> int:
        """The next price update or funding settlement."""
        nxt = self._next_funding
        for p in self._procs.values():
            t = p.next_ts()
            if t is not None and t < nxt:
                nxt = t
        return nxt

    def candles(self, symbol: str, interval_s: int, limit: int) -> list[Candle]:
        """The last ``limit`` bars of ``interval_s`` seconds, oldest first."""
        self._proc(symbol)
        return self._books[symbol].candles(interval_s, limit)

    # ------------------------------------------------------------ leverage

    def set_leverage(self, symbol: str, side: Side, leverage: int) -> None:
        """Set the leverage of ``symbol``'s ``side``. With a position held there, its margin
        moves with it (isolated): a change that would put the position under its maintenance
        margin at the mark (a liquidation at once), or whose added margin is not available, is
        refused as a venue refuses it, nothing changed."""
        inst = self.instruments.get(symbol)
        if inst is None:
            raise UnknownInstrumentError(symbol)
        if not 1 <= leverage <= inst.max_leverage:
            raise LeverageError(symbol, "LEVERAGE_OUT_OF_RANGE", f"{leverage} not in 1..{inst.max_leverage}")
        pos = self.account.positions.get((symbol, side))
        if pos is not None and pos.qty:
            proc = self._procs[symbol]
            mark = proc.price(proc.mark)
            held = f"the {symbol} {side.value} position of {pos.qty}"
            if under_maintenance(pos, leverage, mark, self.liquidation.rate(symbol)):
                raise LeverageError(symbol, "LEVERAGE_WOULD_LIQUIDATE",
                                    f"{leverage}x would put {held} under its maintenance "
                                    f"margin at the mark {mark}: it would be liquidated at once")  # fmt: skip
            added = pos.cost / leverage - pos.cost / self.leverage(symbol, side)
            if added > 0 and added > self.available():
                raise LeverageError(symbol, "INSUFFICIENT_MARGIN",
                                    f"{leverage}x needs {added.quantize(Q8)} more margin for "
                                    f"{held}; {self.available()} is available")  # fmt: skip
        self._leverage[(symbol, side)] = leverage

    def adopt_leverage(self, symbol: str, side: Side, leverage: int) -> None:
        """The leverage a position restored from elsewhere is held at (a restarted simulator's):
        taken as it is, even above the max the symbol lists now, as a venue keeps a position at
        the leverage it was opened with; changes to come are held to the max."""
        if symbol not in self.instruments:
            raise UnknownInstrumentError(symbol)
        if leverage < 1:
            raise LeverageError(symbol, "LEVERAGE_OUT_OF_RANGE", f"{leverage} is below 1")
        self._leverage[(symbol, side)] = leverage

    def leverage(self, symbol: str, side: Side) -> int:
        return self._leverage.get((symbol, side), DEFAULT_LEVERAGE)


def _fill_ts(f: EngineFill) -> int:
    return f.ts


def _funding_ts(f: FundingPaid) -> int:
    return f.ts


def _transfer_ts(t: FundsTransferred) -> int:
    return t.ts

"""An adversarial venue drives a real Kernel, invariants checked after every step.

The venue keeps the truth of every order PINK sends (what it filled, at what price and fee,
whether it ended) and tells it as a real venue may: acks after fills, fills again, late, out of
order or under new ids, partial fills, cancels racing fills, rejects, stale reports and reports
"not found", reduce-only exits cut short, fills of orders placed by hand, funding, transfers and
commission reports; the kernel is snapshotted and restored at any point. After every step:
capital is initial + realized - fees + funding + transfers exactly, every trade holds its entry
fills less its exit fills, no order books more than the venue filled nor a quantity twice, every
closed trade made exactly its round trip, ``partly_closed()`` is what the trades hold, no slot
is stranded, and once the venue has told all, every order holds what the venue filled and paid.
Found by it: a report's rebate dropped, a fee in another asset taken as booked (see
tests/kernel/test_commission_true_up.py).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from decimal import Decimal as D
from itertools import pairwise

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from pink.kernel import (
    Action,
    CancelOrder,
    ClosedOutside,
    CommissionReported,
    ControlSnapshot,
    EnsureLeverage,
    FillBooked,
    FundingPaid,
    FundsTransferred,
    Intent,
    Kernel,
    OrderAccepted,
    OrderCanceled,
    OrderExpired,
    OrderFilled,
    OrderRejected,
    OrderSide,
    OrderStatus,
    OrderStatusReport,
    OrderType,
    Outcome,
    OutcomeStatus,
    PlaceOrder,
    QueryOrder,
    Settlement,
    SettlementKind,
    Side,
    SlotChanged,
    TradeClosed,
)
from tests.kernel.harness import BTC, Driver

SLOTS = 4
PRICES = st.sampled_from(["99.9", "100.0", "100.1", "101.3", "97.5"])
QTYS = st.sampled_from(["0.060", "0.250", "1.000", "0.333", "0.101"])
LEGS = st.sampled_from([("1",), ("0.5", "0.5"), ("0.3", "0.3", "0.4"), ("0.9", "0.9"), ("0.25",)])
FEES = st.sampled_from(["0", "0.013", "-0.002", "0.0000001"])


@dataclass
class VOrder:
    place: PlaceOrder
    filled: D = D(0)
    notional: D = D(0)
    fees: D = D(0)
    ended: str = ""
    acked: bool = False
    lagged: bool = False  # its lookup lagged once (NOT_FOUND, or FILLED at nothing)
    fills: list[OrderFilled] = field(default_factory=list)


class AdversarialVenue(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.d = Driver(slots=SLOTS)
        self.venue: dict[str, VOrder] = {}
        self.n = 0
        self.records: list[object] = []
        self.state = self._snap()
        self.partly: set[str] = set()  # trade ids on a (symbol, side) partly closed while they held it
        self.control_version = 0

    # -------------------------------------------------------------- plumbing
    def _snap(self) -> str:
        return json.dumps(self.d.k.snapshot(), sort_keys=True)

    def _track(self, out: Outcome) -> None:
        """An outcome the journal skips changed nothing; effects and records are well-formed."""
        assert isinstance(out, Outcome), out
        state = self._snap()
        if not out.changed:
            assert state == self.state, out
        if out.status is OutcomeStatus.REFUSED:
            assert not out.effects
        self.state = state
        k = self.d.k
        for e in out.effects:
            if isinstance(e, PlaceOrder):
                assert e.client_order_id not in self.venue, e
                assert e.quantity > 0, e
                self.venue[e.client_order_id] = VOrder(e)
            elif isinstance(e, (CancelOrder, QueryOrder)):
                assert e.client_order_id in k.orders or e.client_order_id in k.retired, e
            else:
                assert isinstance(e, EnsureLeverage), e
        for r in out.records:
            self.records.append(r)
            if isinstance(r, FillBooked):
                # (a report's gap piece its real fill replaced is reversed: pink.kernel.gaps)
                assert r.last_price > 0 and (r.last_qty > 0 or ":replaced-by:" in r.fill_id), r
                if r.role == "EXIT":  # every trade on that venue position is now partly closed
                    side = Side.LONG if r.side is OrderSide.SELL else Side.SHORT
                    key = (r.symbol, side)
                    self.partly.update(t.trade_id for s in k.slots if (t := s.trade) and (t.symbol, t.side) == key)
            elif isinstance(r, SlotChanged):
                assert r.before != r.after, r
            elif isinstance(r, Settlement):
                assert r.capital_after == r.capital_before + r.amount - r.fee, r
            elif isinstance(r, TradeClosed):
                mine = [f for f in self.records if isinstance(f, FillBooked) and f.trade_id == r.trade_id]
                flow = sum((f.last_qty * f.last_price * (1 if f.role == "EXIT" else -1) for f in mine), D(0))
                assert r.gross_pnl == flow * (1 if r.side is Side.LONG else -1), (r, flow)
                assert r.entry_qty == r.exit_qty, r
                assert r.net_pnl == r.gross_pnl - r.fees, r

    def _vorder(self, data: st.DataObject) -> VOrder | None:
        if not self.venue:
            return None
        live = sorted(c for c, o in self.d.k.orders.items() if o.live and c in self.venue)
        if live and data.draw(st.integers(0, 4)):
            return self.venue[data.draw(st.sampled_from(live))]
        return self.venue[data.draw(st.sampled_from(sorted(self.venue)))]

    def _slot(self, data: st.DataObject) -> int:
        held = [s.index for s in self.d.k.slots if s.trade is not None]
        if held and data.draw(st.integers(0, 3)):
            return data.draw(st.sampled_from(held))
        return data.draw(st.integers(0, SLOTS - 1))

    def apply(self, ev: object) -> None:
        self._track(self.d.apply(ev))

    # ------------------------------------------------------------- intents
    @rule(slot=st.integers(0, SLOTS - 1), qty=QTYS, legs=LEGS, limit=st.booleans(), price=PRICES,
          side=st.sampled_from([Side.LONG, Side.SHORT]), doge=st.integers(0, 3))
    def enter(self, slot: int, qty: str, legs: tuple[str, ...], limit: bool, price: str, side: Side,
              doge: int = 1) -> None:
        asset = "DOGE-USDT" if doge == 0 else BTC
        if doge == 0:
            qty = str(int(D(qty) * 1000))
        self._track(self.d.enter(slot, qty, legs=legs, limit=price if limit else None, side=side, asset=asset))

    @rule(data=st.data())
    def venue_trims(self, data: st.DataObject) -> None:
        """A reduce-only exit the venue cuts to the position it holds: FILLED at less."""
        v = self._vorder(data)
        if v is not None and v.place.reduce_only and not v.ended and v.filled:
            v.ended = "FILLED"

    @rule(kill=st.booleans(), pause=st.booleans())
    def control(self, kill: bool, pause: bool) -> None:
        self.control_version += 1
        self._track(self.d.k.set_control(ControlSnapshot(self.control_version, pause, kill), self.d.tick_clock()))

    @rule(data=st.data(), close_all=st.booleans(), limit=st.sampled_from([None, "100.0", "1"]))
    def exit(self, data: st.DataObject, close_all: bool, limit: str | None) -> None:
        slot = self._slot(data)
        trade = self.d.k.slots[slot].trade
        n = next(self.d.ids)
        kind = OrderType.LIMIT if limit else OrderType.MARKET
        intent = Intent(Action.EXIT, slot, trade.trade_id if trade else "none", f"x{n}", close_all=close_all,
                        order_type=kind, limit_price=D(limit) if limit else None)
        self._track(self.d.submit(intent))

    @rule(data=st.data())
    def cancel(self, data: st.DataObject) -> None:
        slot = self._slot(data)
        self._track(self.d.cancel(slot))

    def _progress(self, data: st.DataObject) -> None:
        """The ordinary life of a slot, one step: enter, fill (in part or whole), exit."""
        slot = data.draw(st.integers(0, SLOTS - 1))
        s = self.d.k.slots[slot]
        if s.state.value == "IDLE":
            self.enter(slot, data.draw(QTYS), data.draw(LEGS), data.draw(st.booleans()), data.draw(PRICES),
                       data.draw(st.sampled_from([Side.LONG, Side.SHORT])))
        elif s.state.value == "POSITION_OPEN":
            self.exit(data, data.draw(st.booleans()), data.draw(st.sampled_from([None, "100.0"])))
        elif s.order_cid in self.venue:
            v = self.venue[s.order_cid]
            if not v.ended:
                self._fill(v, data.draw(PRICES), data.draw(st.sampled_from(["all", "half"])), "0.013", True, True)

    @rule(data=st.data())
    def progress(self, data: st.DataObject) -> None:
        self._progress(data)

    @rule(data=st.data())
    def progress_more(self, data: st.DataObject) -> None:
        self._progress(data)

    @rule(data=st.data())
    def progress_again(self, data: st.DataObject) -> None:
        self._progress(data)

    # ---------------------------------------------------------- venue events
    @rule(data=st.data())
    def ack(self, data: st.DataObject) -> None:
        v = self._vorder(data)
        if v and v.ended != "REJECTED":
            v.acked = True
            cid = v.place.client_order_id
            self.apply(OrderAccepted(cid, f"v-{cid}", self.d.now))

    @rule(data=st.data(), price=PRICES, part=st.sampled_from(["all", "half", "tiny"]), fee=FEES,
          final=st.booleans(), deliver=st.booleans())
    def venue_fills(self, data: st.DataObject, price: str, part: str, fee: str, final: bool, deliver: bool) -> None:
        v = self._vorder(data)
        if v is not None:
            self._fill(v, price, part, fee, final, deliver)

    def _fill(self, v: VOrder, price: str, part: str, fee: str, final: bool, deliver: bool) -> None:
        if v.ended:
            return
        v.acked = True
        rest = v.place.quantity - v.filled
        if rest <= 0:
            return
        q = {"all": rest, "half": (rest / 2).quantize(D("0.001")), "tiny": D("0.001")}[part]
        q = min(max(q, D("0.001")), rest)
        v.filled += q
        v.notional += q * D(price)
        v.fees += D(fee) if fee != "0.0000001" else D(0)
        self.n += 1
        cid = v.place.client_order_id
        asset = "BNB" if fee == "0.0000001" else "USDT"
        ev = OrderFilled(cid, f"v-{cid}", f"f{self.n}", q, D(price), v.filled, D(fee), asset, self.d.now,
                         fee_final=final)
        v.fills.append(ev)
        if v.filled == v.place.quantity:
            v.ended = "FILLED"
        if deliver:
            self.apply(ev)

    @rule(data=st.data(), renamed=st.booleans(), by_venue_id=st.booleans())
    def deliver(self, data: st.DataObject, renamed: bool, by_venue_id: bool) -> None:
        """Any fill the venue made, again or for the first time, under its id or another (F2, E10)."""
        fills = [f for v in self.venue.values() for f in v.fills]
        if not fills:
            return
        f = data.draw(st.sampled_from(fills))
        if renamed:
            self.n += 1
            f = OrderFilled(f.client_order_id, f.venue_order_id, f"r{self.n}", f.last_qty, f.last_price, f.cum_qty,
                            f.commission, f.commission_asset, f.ts, f.fee_final)
        if by_venue_id:
            f = OrderFilled("", f.venue_order_id, f.fill_id, f.last_qty, f.last_price, f.cum_qty,
                            f.commission, f.commission_asset, f.ts, f.fee_final)
        self.apply(f)

    @rule(data=st.data(), how=st.sampled_from(["cancel", "expire"]))
    def venue_ends(self, data: st.DataObject, how: str) -> None:
        v = self._vorder(data)
        if v is None:
            return
        if not v.ended:
            v.ended = "CANCELED" if how == "cancel" else "EXPIRED"
        cid = v.place.client_order_id
        if v.ended == "FILLED":
            return
        cls = OrderCanceled if v.ended == "CANCELED" else OrderExpired
        self.apply(cls(cid, f"v-{cid}", v.filled, self.d.now))

    @rule(data=st.data(), code=st.sampled_from(["QTY_BELOW_MIN", "NO_POSITION", "REDUCE_ONLY_EXCEEDS_POSITION",
                                                 "101204", "NOTIONAL_BELOW_MIN"]))
    def venue_rejects(self, data: st.DataObject, code: str) -> None:
        v = self._vorder(data)
        if v is None:
            return
        if not v.ended and not v.filled:
            v.ended = "REJECTED"
        if v.ended != "REJECTED":  # a venue does not refuse an order it has filled or ended
            return
        cid = v.place.client_order_id
        self.apply(OrderRejected(cid, code, "no", self.d.now))

    @rule(data=st.data(), still_open=st.sampled_from([True, False, None]))
    def cancel_rejected(self, data: st.DataObject, still_open: bool | None) -> None:
        v = self._vorder(data)
        if v:
            self._track(self.d.cancel_rejected(v.place.client_order_id, "ORDER_ALREADY_FILLED", still_open))

    def _report(self, v: VOrder, fee: bool = True, upto: int | None = None) -> OrderStatusReport:
        """The venue's record of ``v``: now, or (``upto``) as it was after its first fills (stale)."""
        cid = v.place.client_order_id
        fills = v.fills if upto is None else v.fills[:upto]
        cum = sum((f.last_qty for f in fills), D(0))
        notional = sum((f.last_qty * f.last_price for f in fills), D(0))
        fees = sum((f.commission for f in fills if f.commission_asset == "USDT"), D(0))
        if upto is None:
            status = {"": OrderStatus.PARTIALLY_FILLED if cum else OrderStatus.NEW, "FILLED": OrderStatus.FILLED,
                      "CANCELED": OrderStatus.CANCELED, "EXPIRED": OrderStatus.EXPIRED,
                      "REJECTED": OrderStatus.REJECTED}[v.ended]
        else:
            status = OrderStatus.PARTIALLY_FILLED if cum else OrderStatus.NEW
        avg = notional / cum if cum else D(0)
        return OrderStatusReport(cid, f"v-{cid}", status, v.place.quantity, cum, avg, fees if fee else None,
                                 self.d.now)

    @rule(data=st.data(), stale=st.booleans(), fee=st.booleans())
    def report(self, data: st.DataObject, stale: bool, fee: bool) -> None:
        """The venue's record of an order: as it is, or as it was (a stale one)."""
        v = self._vorder(data)
        if v:
            upto = data.draw(st.integers(0, len(v.fills))) if stale else None
            self.apply(self._report(v, fee, upto))

    @rule(data=st.data())
    def not_found(self, data: st.DataObject) -> None:
        """A venue that has not indexed the order yet (or lost it)."""
        v = self._vorder(data)
        if v and not v.acked and not v.filled:  # the request never got there: the order never will
            v.ended = v.ended or "REJECTED"
            cid = v.place.client_order_id
            self.apply(OrderStatusReport(cid, "", OrderStatus.NOT_FOUND, D(0), D(0), D(0), D(0), self.d.now))

    @rule(data=st.data(), filled=st.booleans())
    def lookup_lags(self, data: st.DataObject, filled: bool) -> None:
        """A venue whose order lookup lags its ack, once per order: NOT_FOUND, or FILLED with
        nothing filled. Nothing is lost: its later fills are booked."""
        v = self._vorder(data)
        if v and v.acked and not v.filled and not v.ended and not v.lagged:
            v.lagged = True
            cid = v.place.client_order_id
            status = OrderStatus.FILLED if filled else OrderStatus.NOT_FOUND
            self.apply(OrderStatusReport(cid, "", status, v.place.quantity, D(0), D(0), D(0), self.d.now))

    @rule(side=st.sampled_from(list(OrderSide)), position_side=st.sampled_from([Side.LONG, Side.SHORT, None]),
          qty=QTYS, price=PRICES, fee=FEES, doge=st.integers(0, 3))
    def fill_by_hand(self, side: OrderSide, position_side: Side | None, qty: str, price: str, fee: str,
                     doge: int) -> None:
        """A fill of an order PINK never sent (by hand, a liquidation), again at times."""
        self.n += 1
        symbol, size = ("DOGE-USDT", D(qty) * 1000) if doge == 0 else (BTC, D(qty))
        ev = OrderFilled("", f"hand-{self.n}", f"h{self.n}", size, D(price), size, D(fee), "USDT", self.d.now, True,
                         symbol, side, position_side)  # fmt: skip
        self.apply(ev)
        if doge == 1:
            self.apply(ev)

    @rule(data=st.data(), price=PRICES, fee=st.sampled_from(["0", "0.5"]))
    def closed_outside(self, data: st.DataObject, price: str, fee: str) -> None:
        slot = self._slot(data)
        t = self.d.k.slots[slot].trade
        self.apply(ClosedOutside(slot, t.trade_id if t else "none", D(price), D(fee), self.d.now))

    @rule(amount=st.sampled_from(["-0.12", "0.05", "0"]), fid=st.integers(0, 5))
    def funding(self, amount: str, fid: int) -> None:
        self.apply(FundingPaid(f"fund{fid}", BTC, D(amount), self.d.now))

    @rule(amount=st.sampled_from(["-250.5", "1000", "0", "0.01"]), tid=st.integers(0, 5),
          asset=st.sampled_from(["USDT", "USDT", "VST"]))
    def transfer(self, amount: str, tid: int, asset: str) -> None:
        self.apply(FundsTransferred(f"tr{tid}", asset, D(amount), self.d.now))

    @rule(data=st.data(), true=st.booleans(), total=st.sampled_from(["0", "0.013", "0.05", "-0.001"]))
    def commission_reported(self, data: st.DataObject, true: bool, total: str) -> None:
        v = self._vorder(data)
        if v:
            cid = v.place.client_order_id
            self.apply(CommissionReported(cid, f"v-{cid}", v.filled if true else D(total), v.fees, "USDT", self.d.now))

    @rule(jump=st.sampled_from([10**9, 11 * 10**9, 200 * 10**9]))
    def tick(self, jump: int) -> None:
        self._track(self.d.k.tick(self.d.tick_clock(jump)))

    @rule()
    def restart(self) -> None:
        """Snapshot and restore at any point: the restored kernel is the live one, byte for byte."""
        snap = self._snap()
        k = Kernel.restore(json.loads(snap))
        assert json.dumps(k.snapshot(), sort_keys=True) == snap
        self.d.k = k

    @rule()
    def venue_tells_all(self) -> None:
        """Every fill delivered and every order's truth reported: no slot stays in flight or flagged."""
        for v in list(self.venue.values()):
            for f in v.fills:
                self.apply(f)
        for v in list(self.venue.values()):
            if not v.ended:
                v.ended = "CANCELED"
            self.apply(self._report(v))
        for v in list(self.venue.values()):
            cid = v.place.client_order_id
            if cid in self.d.k.fee_checks:  # the venue is asked only about the orders the kernel doubts
                self.apply(CommissionReported(cid, f"v-{cid}", v.filled, v.fees, "USDT", self.d.now))
        k = self.d.k
        for s in k.slots:
            assert s.state.value in ("IDLE", "POSITION_OPEN"), (s, k.orders.get(s.order_cid))
        for cid, v in self.venue.items():
            o = k.orders.get(cid) or k.retired.get(cid)
            if o is None:
                continue
            assert o.filled == v.filled, (cid, o, v)
            assert o.commission == v.fees, (cid, o, v)

    # ------------------------------------------------------------ invariants
    @invariant()
    def capital_is_exact(self) -> None:
        a = self.d.k.account_view()
        assert a.capital == a.initial_capital + a.transfers + a.gross_pnl - a.fees + a.funding
        sets = [r for r in self.records if isinstance(r, Settlement)]
        assert a.capital == a.initial_capital + sum((s.amount - s.fee for s in sets), D(0))
        for prev, cur in pairwise(sets):
            assert cur.seq == prev.seq + 1 and cur.capital_before == prev.capital_after

    @invariant()
    def positions_are_their_fills(self) -> None:
        k = self.d.k
        fills = [r for r in self.records if isinstance(r, FillBooked)]
        keys = [(f.client_order_id, f.fill_id) for f in fills]
        assert len(keys) == len(set(keys))
        for s in k.slots:
            t = s.trade
            if t is None:
                continue
            mine = [f for f in fills if f.trade_id == t.trade_id]
            assert t.entry_qty == sum((f.last_qty for f in mine if f.role == "ENTRY"), D(0))
            assert t.exit_qty == sum((f.last_qty for f in mine if f.role == "EXIT"), D(0))
            assert t.realized == sum((f.realized_pnl for f in mine), D(0))
            fees = sum((r.fee for r in self.records if isinstance(r, Settlement) and r.kind is SettlementKind.FILL
                        and r.trade_id == t.trade_id), D(0))
            assert t.fees == fees
            assert t.remaining >= 0
        for cid, o in k.orders.items():
            booked = sum((f.last_qty for f in fills if f.client_order_id == cid), D(0))
            assert o.filled == booked <= o.quantity
            v = self.venue.get(cid)
            if v is not None:
                assert o.filled <= v.filled, (cid, o.filled, v.filled)
            spans = sorted(o.spans)
            for (_, b, _p), (c, _, _q) in pairwise(spans):
                assert b <= c, spans
            assert all(0 <= a < b <= o.quantity and p > 0 for a, b, p in spans)

    def _held_cost(self, trade_id: str) -> D:
        """What a trade holds at its entry prices, as the venue averages a position: an exit
        releases its share of the average cost; an entry fill, even after an exit, adds its own."""
        qty = cost = D(0)
        for f in self.records:
            if isinstance(f, FillBooked) and f.trade_id == trade_id:
                if f.role == "ENTRY":
                    qty, cost = qty + f.last_qty, cost + f.last_qty * f.last_price
                else:
                    qty, cost = qty - f.last_qty, cost - cost * f.last_qty / qty
        return cost

    @invariant()
    def partly_closed_is_what_the_trades_hold(self) -> None:
        k = self.d.k
        want: dict[tuple[str, Side], tuple[D, D]] = {}
        flagged = {(t.symbol, t.side) for s in k.slots
                   if (t := s.trade) and t.trade_id in self.partly and t.remaining > 0}
        for s in k.slots:
            t = s.trade
            if t is not None and (t.symbol, t.side) in flagged and t.remaining > 0:
                q, c = want.get((t.symbol, t.side), (D(0), D(0)))
                want[(t.symbol, t.side)] = (q + t.remaining, c + self._held_cost(t.trade_id))
        got = k.partly_closed()
        assert set(got) == set(want), (got, want)
        for key, (q, c) in got.items():
            assert q == want[key][0]
            assert abs(c - want[key][1]) <= D("1e-6") * q, (c, want[key])

    @invariant()
    def no_slot_is_stranded(self) -> None:
        k = self.d.k
        for s in k.slots:
            if s.state.value == "IDLE":
                assert s.trade is None and s.deadline == 0 and s.order_cid == "", s
            elif s.state.value == "POSITION_OPEN":
                assert s.trade is not None and s.trade.remaining > 0, s
            else:  # in flight or flagged: a deadline asks the venue about an order it knows
                assert s.deadline > 0 and s.order_cid in k.orders, s
            if s.deadline:
                assert s.order_cid in k.orders, s
            if s.state.value != "DESYNC":
                assert s.desync_reason == "", s
        for cid in k.fee_checks:
            o = k.orders.get(cid)
            assert (o is not None and not o.live) or cid in k.retired


AdversarialVenue.TestCase.settings = settings(  # PINK_FUZZ_EXAMPLES=4000: a longer hunt, locally
    max_examples=int(os.environ.get("PINK_FUZZ_EXAMPLES", "250")), stateful_step_count=50, deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestAdversarialVenue = AdversarialVenue.TestCase

"""Hypothesis drives the kernel with random intents and venue events, invariants checked after every step.

Events include duplicates, reordering (fills before acks, after cancels), late fills, unknown outcomes
(ticks past deadlines), reports, funding, transfers and garbage.
"""

from __future__ import annotations

import json
from decimal import Decimal as D

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from pink.kernel import (
    FillBooked,
    FundingPaid,
    FundsTransferred,
    OrderFilled,
    OrderSide,
    OrderStatus,
    OutcomeStatus,
    PlaceOrder,
    Settlement,
    Side,
)
from pink.kernel.messages import CommissionReported
from tests.kernel.harness import BTC, Driver

PRICES = st.sampled_from(["99.9", "100.0", "100.1", "101.3", "97.5"])
QTYS = st.sampled_from(["0.001", "0.010", "0.250", "1.000", "0.333"])
LEGS = st.sampled_from([("1",), ("0.5", "0.5"), ("0.3", "0.3", "0.4"), ("0.9", "0.9"), ("0.25",)])


class KernelMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.d = Driver(slots=3)
        self.placed: list[PlaceOrder] = []  # every order the kernel asked for
        self.venue_filled: dict[str, D] = {}  # what the venue has filled per order
        self.sent_fills: list[OrderFilled] = []
        self.booked_fill_ids: list[tuple[str, str]] = []
        self.settlements: list[Settlement] = []
        self.hand_fills: dict[str, D] = {}  # fills of orders PINK never sent, by fill id
        self.hand_booked: dict[str, D] = {}  # what the kernel booked of each
        self.n = 0
        self.state = self._state()

    def _state(self) -> str:
        return json.dumps(self.d.k.snapshot(), sort_keys=True)

    def _track(self, out: object) -> None:
        # an outcome the journal skips (REFUSED, DUPLICATE, NO_CHANGE) must have changed nothing,
        # or a restart's replay would not rebuild the state the process had
        state = self._state()
        if not out.changed:  # type: ignore[attr-defined]
            assert state == self.state, out
        self.state = state
        for e in getattr(out, "effects", ()):
            if isinstance(e, PlaceOrder):
                self.placed.append(e)
                self.venue_filled.setdefault(e.client_order_id, D(0))
        for r in getattr(out, "records", ()):
            if isinstance(r, FillBooked):
                self.booked_fill_ids.append((r.client_order_id, r.fill_id))
                base = r.fill_id.partition("#")[0]
                if base in self.hand_fills:
                    assert "-out" in r.client_order_id, r
                    self.hand_booked[base] = self.hand_booked.get(base, D(0)) + r.last_qty
            if isinstance(r, Settlement):
                self.settlements.append(r)

    def _submit_checked(self, out_fn: object) -> None:
        before = json.dumps(self.d.k.snapshot(), sort_keys=True)
        out = out_fn()  # type: ignore[operator]
        if out.status is OutcomeStatus.REFUSED:
            assert json.dumps(self.d.k.snapshot(), sort_keys=True) == before, out
        self._track(out)

    # ------------------------------------------------------------- intents
    @rule(slot=st.integers(0, 2), qty=QTYS, legs=LEGS, limit=st.booleans(), price=PRICES)
    def enter(self, slot: int, qty: str, legs: tuple[str, ...], limit: bool, price: str) -> None:
        self._submit_checked(lambda: self.d.enter(slot, qty, legs=legs, limit=price if limit else None))

    @rule(slot=st.integers(0, 2), close_all=st.booleans())
    def exit(self, slot: int, close_all: bool) -> None:
        self._submit_checked(lambda: self.d.exit(slot, close_all=close_all))

    @rule(slot=st.integers(0, 2))
    def cancel(self, slot: int) -> None:
        self._submit_checked(lambda: self.d.cancel(slot))

    @rule(slot=st.integers(-1, 5), junk=st.sampled_from(["ENTER", "EXIT", "CANCEL"]))
    def garbage_intent(self, slot: int, junk: str) -> None:
        from pink.kernel import Action, Intent

        self._submit_checked(lambda: self.d.submit(Intent(Action(junk), slot, "Bad!", "")))

    # --------------------------------------------------------- venue events
    def _order(self, data: st.DataObject) -> PlaceOrder | None:
        if not self.placed:
            return None
        return data.draw(st.sampled_from(self.placed))

    @rule(data=st.data())
    def ack(self, data: st.DataObject) -> None:
        o = self._order(data)
        if o:
            self._track(self.d.ack(o.client_order_id))

    @rule(data=st.data(), price=PRICES, part=st.sampled_from(["all", "half", "tiny"]), final=st.booleans())
    def fill(self, data: st.DataObject, price: str, part: str, final: bool) -> None:
        o = self._order(data)
        if not o:
            return
        done = self.venue_filled[o.client_order_id]
        rest = o.quantity - done
        if rest <= 0:
            return
        q = {"all": rest, "half": (rest / 2).quantize(D("0.001")), "tiny": D("0.001")}[part]
        q = min(max(q, D("0.001")), rest)
        self.venue_filled[o.client_order_id] = done + q
        self.n += 1
        ev = OrderFilled(
            o.client_order_id,
            f"v-{o.client_order_id}",
            f"f{self.n}",
            q,
            D(price),
            done + q,
            D("0.013"),
            "USDT",
            self.d.now,
            fee_final=final,
        )
        self.sent_fills.append(ev)
        self._track(self.d.apply(ev))

    @rule(side=st.sampled_from(list(OrderSide)), position_side=st.sampled_from([Side.LONG, Side.SHORT, None]),
          qty=QTYS, price=PRICES, fee=st.sampled_from(["0", "0.013", "0.0000001"]))
    def fill_by_hand(self, side: OrderSide, position_side: Side | None, qty: str, price: str, fee: str) -> None:
        """A fill of an order PINK never sent (by hand, a liquidation): booked on PINK's trades
        when it closes them, never more than it filled."""
        self.n += 1
        ev = OrderFilled("", f"hand-{self.n}", f"h{self.n}", D(qty), D(price), D(qty), D(fee), "USDT", self.d.now,
                         True, BTC, side, position_side)  # fmt: skip
        self.hand_fills[ev.fill_id] = ev.last_qty
        self.sent_fills.append(ev)
        self._track(self.d.apply(ev))

    @rule(data=st.data())
    def duplicate_fill(self, data: st.DataObject) -> None:
        if self.sent_fills:
            self._track(self.d.apply(data.draw(st.sampled_from(self.sent_fills))))

    @rule(data=st.data())
    def venue_cancels(self, data: st.DataObject) -> None:
        o = self._order(data)
        if o:
            self._track(self.d.canceled(o.client_order_id, str(self.venue_filled[o.client_order_id])))

    @rule(data=st.data(), still_open=st.sampled_from([True, False, None]))
    def cancel_rejected(self, data: st.DataObject, still_open: bool | None) -> None:
        o = self._order(data)
        if o:
            self._track(self.d.cancel_rejected(o.client_order_id, "ORDER_ALREADY_FILLED", still_open))

    @rule(data=st.data(), status=st.sampled_from(list(OrderStatus)), price=PRICES)
    def report(self, data: st.DataObject, status: OrderStatus, price: str) -> None:
        o = self._order(data)
        if not o:
            return
        cum = self.venue_filled[o.client_order_id]
        if status is OrderStatus.FILLED:
            cum = o.quantity
            self.venue_filled[o.client_order_id] = cum
        self._track(self.d.report(o.client_order_id, status, str(o.quantity), str(cum), price if cum else "0"))

    @rule(data=st.data())
    def fill_without_price(self, data: st.DataObject) -> None:
        o = self._order(data)
        if o:
            self.n += 1
            self._track(self.d.fill(o.client_order_id, "0.001", "0", "0.001", fill_id=f"np{self.n}"))

    @rule(junk=st.one_of(st.none(), st.integers(), st.text(max_size=5)))
    def garbage_event(self, junk: object) -> None:
        self._track(self.d.apply(junk))

    @rule(amount=st.sampled_from(["-0.12", "0.05", "0"]), fid=st.integers(0, 5))
    def funding(self, amount: str, fid: int) -> None:
        self._track(self.d.apply(FundingPaid(f"fund{fid}", BTC, D(amount), self.d.now)))

    @rule(amount=st.sampled_from(["-250.5", "1000", "0", "0.01"]), tid=st.integers(0, 5),
          asset=st.sampled_from(["USDT", "USDT", "VST"]))
    def transfer(self, amount: str, tid: int, asset: str) -> None:
        self._track(self.d.apply(FundsTransferred(f"tr{tid}", asset, D(amount), self.d.now)))

    @rule(data=st.data(), total=st.sampled_from(["0", "0.013", "0.026", "0.05", "-0.001"]))
    def commission_reported(self, data: st.DataObject, total: str) -> None:
        o = self._order(data)
        if o:
            cid = o.client_order_id
            ev = CommissionReported(cid, f"v-{cid}", self.venue_filled[cid], D(total), "USDT", self.d.now)
            self._track(self.d.apply(ev))

    @rule(jump=st.sampled_from([10**9, 11 * 10**9, 200 * 10**9]))
    def tick(self, jump: int) -> None:
        self._track(self.d.k.tick(self.d.tick_clock(jump)))

    # ------------------------------------------------------------ invariants
    @invariant()
    def capital_is_exact(self) -> None:
        a = self.d.k.account_view()
        assert a.capital == a.initial_capital + a.transfers + a.gross_pnl - a.fees + a.funding
        total = sum((s.amount - s.fee for s in self.settlements), D(0))
        assert a.capital == a.initial_capital + total

    @invariant()
    def settlements_chain(self) -> None:
        for prev, cur in zip(self.settlements, self.settlements[1:], strict=False):
            assert cur.seq == prev.seq + 1 and cur.capital_before == prev.capital_after

    @invariant()
    def no_fill_settles_twice(self) -> None:
        assert len(self.booked_fill_ids) == len(set(self.booked_fill_ids))

    @invariant()
    def sizes_never_negative(self) -> None:
        for slot in self.d.k.slots:
            t = slot.trade
            if t is not None:
                assert t.entry_qty >= 0 and t.exit_qty >= 0 and t.remaining >= 0
        for o in self.d.k.orders.values():
            assert 0 <= o.filled <= o.quantity

    @invariant()
    def a_fill_by_hand_is_booked_at_most_once_over(self) -> None:
        k = self.d.k
        for fill_id, booked in self.hand_booked.items():
            waiting = sum((p.qty for q in k.outside_pending.values() for p in q if p.fill_id == fill_id), D(0))
            assert booked + waiting <= self.hand_fills[fill_id], fill_id
        assert all(q > 0 for q in k.outside_held.values())
        assert all(p.qty > 0 for q in k.outside_pending.values() for p in q)

    @invariant()
    def fee_checks_are_for_ended_orders_only(self) -> None:
        for cid in self.d.k.fee_checks:
            order = self.d.k.orders.get(cid)
            assert (order is not None and not order.live) or cid in self.d.k.retired

    @invariant()
    def idle_slots_hold_nothing(self) -> None:
        for slot in self.d.k.slots:
            if slot.state.value == "IDLE":
                assert slot.trade is None or slot.trade.remaining == 0


KernelMachine.TestCase.settings = settings(
    max_examples=150, stateful_step_count=40, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
TestKernelProperties = KernelMachine.TestCase

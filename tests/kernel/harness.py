"""A small driver for kernel tests: builds intents and venue events by name."""

from __future__ import annotations

from decimal import Decimal as D
from itertools import count, pairwise
from pathlib import Path

from pink.journal import JournaledKernel
from pink.kernel import (
    Action,
    CancelRejected,
    Instrument,
    Intent,
    Kernel,
    KernelConfig,
    OrderAccepted,
    OrderCanceled,
    OrderFilled,
    OrderStatus,
    OrderStatusReport,
    OrderType,
    Outcome,
    PlaceOrder,
    Settlement,
    Side,
)

BTC = "BTC-USDT"
INSTRUMENTS = {
    BTC: Instrument(BTC, D("0.1"), D("0.001"), D("0.001"), D("5")),
    "DOGE-USDT": Instrument("DOGE-USDT", D("0.00001"), D("1"), D("1"), D("1")),
}


class Driver:
    """Drives one kernel; remembers records so tests can check sums."""

    def __init__(self, slots: int = 4, capital: str = "10000") -> None:
        self.k = Kernel(KernelConfig(slots=slots, initial_capital=D(capital)), INSTRUMENTS)
        self.now = 1_000
        self.ids = count(1)
        self.records: list[object] = []
        self.fills = count(1)

    def tick_clock(self, ns: int = 1_000) -> int:
        self.now += ns
        return self.now

    def _keep(self, out: Outcome) -> Outcome:
        self.records.extend(out.records)
        return out

    def submit(self, intent: Intent) -> Outcome:
        return self._keep(self.k.submit(intent, self.tick_clock()))

    def apply(self, event: object) -> Outcome:
        return self._keep(self.k.apply(event, self.tick_clock()))

    def enter(
        self,
        slot: int = 0,
        qty: str = "1.000",
        *,
        trade: str | None = None,
        side: Side = Side.LONG,
        legs: tuple[str, ...] = ("0.5", "0.5"),
        limit: str | None = None,
        **kw: object,
    ) -> Outcome:
        n = next(self.ids)
        return self.submit(
            Intent(
                Action.ENTER,
                slot,
                trade or f"t{n}",
                f"i{n}",
                asset=kw.pop("asset", BTC),  # type: ignore[arg-type]
                side=side,
                quantity=D(qty),
                leverage=kw.pop("leverage", 5),  # type: ignore[arg-type]
                order_type=OrderType.LIMIT if limit else OrderType.MARKET,
                limit_price=D(limit) if limit else None,
                exit_legs=tuple(D(x) for x in legs),
                **kw,  # type: ignore[arg-type]
            )
        )

    def exit(self, slot: int = 0, *, close_all: bool = False) -> Outcome:
        trade = self.k.slots[slot].trade
        n = next(self.ids)
        return self.submit(Intent(Action.EXIT, slot, trade.trade_id if trade else "none", f"x{n}", close_all=close_all))

    def cancel(self, slot: int = 0) -> Outcome:
        trade = self.k.slots[slot].trade
        n = next(self.ids)
        return self.submit(Intent(Action.CANCEL, slot, trade.trade_id if trade else "none", f"c{n}"))

    def ack(self, cid: str) -> Outcome:
        return self.apply(OrderAccepted(cid, f"v-{cid}", self.now))

    def fill(
        self, cid: str, qty: str, price: str, cum: str, *, fee: str = "0.01", fill_id: str | None = None
    ) -> Outcome:
        fid = fill_id or f"f{next(self.fills)}"
        return self.apply(OrderFilled(cid, f"v-{cid}", fid, D(qty), D(price), D(cum), D(fee), "USDT", self.now))

    def canceled(self, cid: str, cum: str = "0") -> Outcome:
        return self.apply(OrderCanceled(cid, f"v-{cid}", D(cum), self.now))

    def cancel_rejected(self, cid: str, code: str, still_open: bool | None) -> Outcome:
        return self.apply(CancelRejected(cid, code, "venue says no", still_open, self.now))

    def report(self, cid: str, status: OrderStatus, qty: str, cum: str, avg: str, fee: str = "0") -> Outcome:
        return self.apply(OrderStatusReport(cid, f"v-{cid}", status, D(qty), D(cum), D(avg), D(fee), self.now))

    def state(self, slot: int = 0) -> str:
        return self.k.slots[slot].state.value

    def settlements(self) -> list[Settlement]:
        return [r for r in self.records if isinstance(r, Settlement)]

    def assert_books_balance(self) -> None:
        a = self.k.account_view()
        assert a.capital == a.initial_capital + a.gross_pnl - a.fees + a.funding + a.transfers
        sets = self.settlements()
        for prev, cur in pairwise(sets):
            assert cur.capital_before == prev.capital_after
            assert cur.seq == prev.seq + 1
        for s in sets:
            assert s.capital_after == s.capital_before + s.amount - s.fee


def place(out: Outcome) -> PlaceOrder:
    eff = [e for e in out.effects if isinstance(e, PlaceOrder)]
    assert len(eff) == 1, out
    return eff[0]


def round_trip(d: Driver, slot: int = 0, entry_px: str = "100.0", exit_px: str = "101.0") -> None:
    """Enter 1.000 MARKET and exit in two 0.5 legs, all filled."""
    p = place(d.enter(slot))
    d.ack(p.client_order_id)
    d.fill(p.client_order_id, "1.000", entry_px, "1.000")
    for _ in range(2):
        e = place(d.exit(slot))
        d.fill(e.client_order_id, str(e.quantity), exit_px, str(e.quantity))


def journaled_entry(path: Path) -> tuple[JournaledKernel, KernelConfig, str]:
    """A one-slot journaled kernel that has sent trade t1's 1.000 MARKET entry: (kernel, config, entry id)."""
    cfg = KernelConfig(slots=1, initial_capital=D(10000))
    jk = JournaledKernel.open(path, cfg, INSTRUMENTS)
    out = jk.submit(Intent(Action.ENTER, 0, "t1", "i1", asset=BTC, side=Side.LONG, quantity=D("1.000"),
                           exit_legs=(D(1),)), 1)  # fmt: skip
    return jk, cfg, place(out).client_order_id


def journaled_position(path: Path) -> tuple[JournaledKernel, KernelConfig, list[object]]:
    """A one-slot journaled kernel holding trade t1: 0.100 long at 100, fee 0.002 (kernel, config,
    the records so far)."""
    cfg = KernelConfig(slots=1, initial_capital=D(10000))
    jk = JournaledKernel.open(path, cfg, INSTRUMENTS)
    out = jk.submit(Intent(Action.ENTER, 0, "t1", "i1", asset=BTC, side=Side.LONG, quantity=D("0.100")), 1)
    live: list[object] = list(out.records)
    fill = OrderFilled(place(out).client_order_id, "v", "f1", D("0.100"), D("100"), D("0.100"), D("0.002"), "USDT", 2)
    live.extend(jk.apply(fill, 2).records)
    return jk, cfg, live

"""Running statistics of a runtime, fed from kernel records (for the view and summary).

The summary adds up: the capital change of a run is the net PnL of the trades it closed
(less what those trades had booked in earlier runs), plus the net PnL booked on trades
still open (realized by their exits so far, less all their fees), less the venue's fee
corrections, plus funding (positive: received) and deposits less withdrawals.
"""

from __future__ import annotations

from collections import Counter, OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from pink.kernel.gaps import is_venue_fill
from pink.kernel.messages import (
    ZERO,
    FillBooked,
    IntentRecorded,
    KernelRecord,
    Outcome,
    OutsideFillRecorded,
    ProtocolErrorRecorded,
    Settlement,
    SettlementKind,
    TradeClosed,
    TradeCorrected,
)

__all__ = ["ALERTS_KEPT", "RunStats", "Summary"]

ALERTS_KEPT = 5  # the last alerts shown by the live view and after the summary
CLOSED_KEPT = 10_000  # closed trades whose win or loss a late true-up may still turn (older ones keep theirs)


@dataclass(frozen=True, slots=True)
class Summary:
    cycles: int
    trades: int
    wins: int
    win_rate: float
    gross_pnl: Decimal  # of the trades closed in this run (their whole life), and late true-ups of closed ones
    closed_fees: Decimal  # of the trades closed in this run (their whole life), and late true-ups of closed ones
    fees: Decimal
    fee_corrections: Decimal  # part of ``fees``: venue totals that corrected fills' fees
    funding: Decimal  # positive: received
    transfers: Decimal  # deposits in minus withdrawals out: capital, not PnL
    net_pnl: Decimal  # of the trades closed in this run: gross_pnl - closed_fees
    earlier_net: Decimal  # part of ``net_pnl`` booked in earlier runs (trades open at the restart)
    open_realized: Decimal  # booked in this run on trades still open: exits' realized PnL
    open_fees: Decimal  # booked in this run on trades still open: their fills' fees
    max_drawdown: Decimal
    fills: int
    intents: int
    refusals: dict[str, int]
    venue_rejections: dict[str, int]  # orders the venue refused, by its code
    protocol_errors: int
    outside_fills: int  # fills of orders PINK never sent that it did not book (all or part)

    @property
    def open_net(self) -> Decimal:
        return self.open_realized - self.open_fees

    @property
    def capital_change(self) -> Decimal:
        """What the run changed capital by, from its parts (equal to the change, exactly)."""
        return (self.net_pnl - self.earlier_net + self.open_net - self.fee_corrections + self.funding
                + self.transfers)  # fmt: skip


@dataclass
class RunStats:
    """Counts and sums over this run's records; ``max_drawdown`` from capital after each
    settlement, less this run's transfers so far (a withdrawal is not a loss, a deposit not a
    gain), from ``start_capital``: the capital when this run started, which after a restart
    holds what earlier runs made (their losses are not this run's drawdown)."""

    start_capital: Decimal
    cycles: int = 0
    intents: int = 0
    fills: int = 0
    trades: int = 0
    wins: int = 0
    gross_pnl: Decimal = ZERO  # over closed trades
    trade_fees: Decimal = ZERO  # over closed trades
    fees: Decimal = ZERO  # every settlement's fee
    fee_corrections: Decimal = ZERO  # ADJUSTMENT settlements' fees (commission true-ups)
    funding: Decimal = ZERO
    transfers: Decimal = ZERO
    protocol_errors: int = 0
    outside_fills: int = 0
    refusals: Counter[str] = field(default_factory=Counter)
    venue_rejections: Counter[str] = field(default_factory=Counter)
    earlier_net: Decimal = ZERO  # what the trades closed in this run had booked before it
    open_pnl: dict[str, Decimal] = field(default_factory=dict)  # trade -> realized, this run, while open
    open_fee: dict[str, Decimal] = field(default_factory=dict)  # trade -> fill fees, this run, while open
    statuses: Counter[str] = field(default_factory=Counter)
    peak: Decimal = ZERO
    max_drawdown: Decimal = ZERO
    last_trades: list[TradeClosed] = field(default_factory=list)
    # the last CLOSED_KEPT trades closed here, net
    closed_net: OrderedDict[str, Decimal] = field(default_factory=OrderedDict)
    alerts: list[str] = field(default_factory=list)  # the last few: kernel alerts, closes booked from outside

    def __post_init__(self) -> None:
        self.peak = self.start_capital

    def observe(self, records: Iterable[KernelRecord]) -> bool:
        """Account for records; True when one of them was a settlement."""
        settled = False
        for r in records:
            if type(r) is Settlement:  # records are final classes: exact types, cheapest first
                settled = True
                self.fees += r.fee
                if r.kind is SettlementKind.FUNDING:
                    self.funding += r.amount
                elif r.kind is SettlementKind.ADJUSTMENT:
                    self.fee_corrections += r.fee
                elif r.kind is SettlementKind.TRANSFER:
                    self.transfers += r.amount
                else:  # a fill of a trade: the trade's until it closes
                    self.open_pnl[r.trade_id] = self.open_pnl.get(r.trade_id, ZERO) + r.amount
                    self.open_fee[r.trade_id] = self.open_fee.get(r.trade_id, ZERO) + r.fee
                capital = r.capital_after - self.transfers
                if capital > self.peak:
                    self.peak = capital
                elif self.peak - capital > self.max_drawdown:
                    self.max_drawdown = self.peak - capital
            elif type(r) is FillBooked:
                venue_fill = is_venue_fill(r.fill_id, r.last_qty)
                self.fills += venue_fill
                if venue_fill and "-out" in r.client_order_id:  # (PINK's own order ids never hold it otherwise;
                    # a true-up's reversal of a booked piece is no new close)
                    self._alert(f"slot {r.slot} trade {r.trade_id}: {r.last_qty} {r.symbol} booked closed outside "
                                f"PINK at {r.last_price}, fee {r.commission}")  # fmt: skip
            elif type(r) is TradeClosed:
                self.trades += 1
                self.wins += r.net_pnl > 0
                self.closed_net[r.trade_id] = r.net_pnl
                if len(self.closed_net) > CLOSED_KEPT:
                    self.closed_net.popitem(last=False)
                self.gross_pnl += r.gross_pnl
                self.trade_fees += r.fees
                booked = self.open_pnl.pop(r.trade_id, ZERO) - self.open_fee.pop(r.trade_id, ZERO)
                self.earlier_net += r.gross_pnl - r.fees - booked
                self.last_trades = [*self.last_trades[-9:], r]
            elif type(r) is TradeCorrected:  # a closed trade's late true-up: its fill's settlement came first
                self.gross_pnl += r.gross_pnl
                self.trade_fees += r.fees
                booked = self.open_pnl.pop(r.trade_id, ZERO) - self.open_fee.pop(r.trade_id, ZERO)
                self.earlier_net += r.gross_pnl - r.fees - booked
                net = self.closed_net.get(r.trade_id)
                if net is not None:  # closed in this run: a win or a loss by its corrected net
                    self.closed_net[r.trade_id] = now = net + r.gross_pnl - r.fees
                    self.wins += (now > 0) - (net > 0)
            elif type(r) is IntentRecorded:
                self.intents += 1
                if r.status == "REFUSED":
                    self.refusals[r.reason] += 1
            elif type(r) is ProtocolErrorRecorded:
                self.protocol_errors += 1
                where = " ".join(([f"slot {r.slot}"] if r.slot >= 0 else []) + ([r.cause] if r.cause else []))
                self._alert(f"{where}: {r.detail}" if where else r.detail)
            elif type(r) is OutsideFillRecorded:
                self.outside_fills += 1
                self._alert(f"outside PINK: {r.detail}")
        return settled

    def observe_rejection(self, outcome: Outcome) -> None:
        """Count an order the venue refused, by its code (an outcome with ``R_VENUE_REJECTED``;
        the caller counts every outcome's status itself: that is the hot path)."""
        if outcome.detail.startswith("REJECTED:"):
            self.venue_rejections[outcome.detail.removeprefix("REJECTED:")] += 1

    def _alert(self, text: str) -> None:
        self.alerts = [*self.alerts[-(ALERTS_KEPT - 1):], text]

    def alert(self, text: str) -> None:
        """An alert that is not a kernel record's (the policy's)."""
        self._alert(text)

    def summary(self) -> Summary:
        return Summary(
            cycles=self.cycles,
            trades=self.trades,
            wins=self.wins,
            win_rate=self.wins / self.trades if self.trades else 0.0,
            gross_pnl=self.gross_pnl,
            closed_fees=self.trade_fees,
            fees=self.fees,
            fee_corrections=self.fee_corrections,
            funding=self.funding,
            transfers=self.transfers,
            net_pnl=self.gross_pnl - self.trade_fees,
            earlier_net=self.earlier_net,
            open_realized=sum(self.open_pnl.values(), ZERO),
            open_fees=sum(self.open_fee.values(), ZERO),
            max_drawdown=self.max_drawdown,
            fills=self.fills,
            intents=self.intents,
            refusals=dict(self.refusals),
            venue_rejections=dict(self.venue_rejections),
            protocol_errors=self.protocol_errors,
            outside_fills=self.outside_fills,
        )

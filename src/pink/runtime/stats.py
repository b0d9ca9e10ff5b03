"""Running statistics of a runtime, fed from kernel records (for the view and summary)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from pink.kernel.messages import (
    ZERO,
    FillBooked,
    IntentRecorded,
    KernelRecord,
    OutsideFillRecorded,
    ProtocolErrorRecorded,
    Settlement,
    SettlementKind,
    TradeClosed,
)

__all__ = ["ALERTS_KEPT", "RunStats", "Summary"]

ALERTS_KEPT = 5  # the last alerts shown by the live view and after the summary


@dataclass(frozen=True, slots=True)
class Summary:
    cycles: int
    trades: int
    wins: int
    win_rate: float
    gross_pnl: Decimal
    fees: Decimal
    fee_corrections: Decimal  # part of ``fees``: venue totals that corrected fills' fees
    funding: Decimal
    transfers: Decimal  # deposits in minus withdrawals out: capital, not PnL
    net_pnl: Decimal
    max_drawdown: Decimal
    fills: int
    intents: int
    refusals: dict[str, int]
    protocol_errors: int
    outside_fills: int  # fills of orders PINK never sent that it did not book (all or part)


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
    statuses: Counter[str] = field(default_factory=Counter)
    peak: Decimal = ZERO
    max_drawdown: Decimal = ZERO
    last_trades: list[TradeClosed] = field(default_factory=list)
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
                capital = r.capital_after - self.transfers
                if capital > self.peak:
                    self.peak = capital
                elif self.peak - capital > self.max_drawdown:
                    self.max_drawdown = self.peak - capital
            elif type(r) is FillBooked:
                self.fills += 1
                if "-out" in r.client_order_id:  # (the kernel's own order ids never hold it otherwise)
                    self._alert(f"slot {r.slot} trade {r.trade_id}: {r.last_qty} {r.symbol} booked closed outside "
                                f"PINK at {r.last_price}, fee {r.commission}")  # fmt: skip
            elif type(r) is TradeClosed:
                self.trades += 1
                self.wins += r.net_pnl > 0
                self.gross_pnl += r.gross_pnl
                self.trade_fees += r.fees
                self.last_trades = [*self.last_trades[-9:], r]
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

    def _alert(self, text: str) -> None:
        self.alerts = [*self.alerts[-(ALERTS_KEPT - 1):], text]

    def summary(self) -> Summary:
        return Summary(
            cycles=self.cycles,
            trades=self.trades,
            wins=self.wins,
            win_rate=self.wins / self.trades if self.trades else 0.0,
            gross_pnl=self.gross_pnl,
            fees=self.fees,
            fee_corrections=self.fee_corrections,
            funding=self.funding,
            transfers=self.transfers,
            net_pnl=self.gross_pnl - self.trade_fees,
            max_drawdown=self.max_drawdown,
            fills=self.fills,
            intents=self.intents,
            refusals=dict(self.refusals),
            protocol_errors=self.protocol_errors,
            outside_fills=self.outside_fills,
        )

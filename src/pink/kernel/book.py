"""The kernel's own mutable records: orders, trades, the account.

They are private to the kernel (the outside sees views and records) and
serialise to plain dicts for snapshots, with Decimals as strings so that a
snapshot is exact and byte-for-byte deterministic.
"""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field, fields
from decimal import Decimal
from typing import Any

from pink.kernel.frozen import direct_init
from pink.kernel.messages import (
    ZERO,
    OrderSide,
    OrderType,
    PolicyMetadata,
    Side,
    TimeInForce,
)

__all__ = [
    "Account",
    "FeeCheck",
    "OpenGaps",
    "Order",
    "OrderPhase",
    "RetiredOrder",
    "Trade",
    "dump",
    "load_account",
    "load_order",
    "load_trade",
]


class OrderPhase:
    """Where an order stands, as far as the kernel knows (plain strings)."""

    PENDING = "PENDING"  # sent, no answer yet
    WORKING = "WORKING"  # acknowledged, live
    CANCELING = "CANCELING"  # cancel requested
    DONE = "DONE"  # ended (filled, canceled, expired, rejected)


@dataclass(slots=True)
class Order:
    client_order_id: str
    slot: int
    trade_id: str
    role: str  # "ENTRY" or "EXIT"
    leg: int
    attempt: int
    symbol: str
    side: OrderSide
    order_type: OrderType
    time_in_force: TimeInForce
    quantity: Decimal
    limit_price: Decimal | None
    intent_id: str = ""  # the intent that asked for this order (E21)
    decision_id: str = ""
    phase: str = OrderPhase.PENDING
    venue_order_id: str = ""
    filled: Decimal = ZERO
    notional: Decimal = ZERO
    commission: Decimal = ZERO
    final_cum: Decimal | None = None  # cumulative qty the venue reported at the end
    covered_cum: Decimal = ZERO  # fills up to this cum qty came from a report
    fill_ids: set[str] = field(default_factory=set)
    # the cumulative quantity each venue fill claims, (cum - qty, cum], and its price (0: not
    # known, restored from before format 7): two that overlap claim one quantity twice (a fill
    # sent again under another id), so only one is booked (E10, F2); a report older than a fill
    # leaves it out of its totals (pink.kernel.reconcile)
    spans: list[tuple[Decimal, Decimal, Decimal]] = field(default_factory=list)
    # what a report's gap booked that no real fill has replaced yet: (from, to] of the cumulative
    # quantity, the gap's price, its fill id, whether its fee was the venue's total (pink.kernel.gaps)
    gaps: list[tuple[Decimal, Decimal, Decimal, str, bool]] = field(default_factory=list)
    end_code: str = ""
    fee_check: bool = False  # a fill's fee may be wrong: ask the venue's total once it ends
    # when the venue first said it does not know this acknowledged order (0: it has not, or has
    # listed it since): its lookup may lag its ack, so only a denial past a grace is a contradiction
    not_found_ts: int = 0

    @property
    def live(self) -> bool:
        return self.phase != OrderPhase.DONE


@direct_init
@dataclass(frozen=True, slots=True)
class OpenGaps:
    """What a retired order still needs for the late true-up of the pieces a report's gap booked
    and no real fill has replaced (:mod:`pink.kernel.late`): its links, for the ledger's rows."""

    slot: int
    intent_id: str
    decision_id: str
    role: str
    leg: int
    symbol: str
    side: OrderSide
    gaps: tuple[tuple[Decimal, Decimal, Decimal, str, bool], ...]

    def plain(self) -> list[Any]:
        gaps = [[str(lo), str(hi), str(px), gid, stated] for lo, hi, px, gid, stated in self.gaps]
        return [self.slot, self.intent_id, self.decision_id, self.role, self.leg, self.symbol, self.side.value, gaps]

    @classmethod
    def load(cls, row: list[Any]) -> OpenGaps:
        slot, intent_id, decision_id, role, leg, symbol, side, gaps = row
        pieces = tuple((Decimal(lo), Decimal(hi), Decimal(px), gid, stated) for lo, hi, px, gid, stated in gaps)
        return cls(slot, intent_id, decision_id, role, leg, symbol, OrderSide(side), pieces)


@direct_init
@dataclass(frozen=True, slots=True)
class RetiredOrder:
    """What the kernel keeps of a finished trade's order: enough to recognise its late events
    (a duplicate fill, or a fill it never saw), its venue id, the commission its fills
    booked (for a late true-up; None when restored from a snapshot before format 3), and, only
    for an order with pieces a report booked that no real fill replaced yet, those (from format
    9). Small, so that a snapshot of the 2,000 kept is cheap."""

    client_order_id: str
    venue_order_id: str
    trade_id: str
    filled: Decimal
    fill_ids: AbstractSet[str]
    commission: Decimal | None
    open_gaps: OpenGaps | None = None

    @classmethod
    def of(cls, o: Order) -> RetiredOrder:
        # the order is dropped once retired, so its fill-id set is not changed again: no copy
        gaps = None
        if o.gaps:
            gaps = OpenGaps(o.slot, o.intent_id, o.decision_id, o.role, o.leg, o.symbol, o.side, tuple(o.gaps))
        return cls(o.client_order_id, o.venue_order_id, o.trade_id, o.filled, o.fill_ids, o.commission, gaps)

    def plain(self) -> list[Any]:
        row: list[Any] = [self.client_order_id, self.venue_order_id, self.trade_id, str(self.filled)]
        row += [sorted(self.fill_ids), None if self.commission is None else str(self.commission)]
        return row if self.open_gaps is None else [*row, self.open_gaps.plain()]

    @classmethod
    def load(cls, row: list[Any]) -> RetiredOrder:
        """A format-9 row (open gaps, when any, seventh), format-3 row, or a format-2 row (no commission)."""
        cid, vid, trade_id, filled, fill_ids = row[:5]
        commission = Decimal(row[5]) if len(row) > 5 and row[5] is not None else None
        gaps = OpenGaps.load(row[6]) if len(row) > 6 else None
        return cls(cid, vid, trade_id, Decimal(filled), frozenset(fill_ids), commission, gaps)


@dataclass(slots=True)
class FeeCheck:
    """An ended order whose total commission the venue is still to confirm."""

    symbol: str
    due: int  # when to ask (again)
    tries: int = 0


@dataclass(slots=True)
class Trade:
    trade_id: str
    intent_id: str
    decision_id: str
    symbol: str
    side: Side
    leverage: int
    exit_legs: tuple[Decimal, ...]
    opened_ts: int
    metadata: PolicyMetadata = field(default_factory=PolicyMetadata)
    entry_qty: Decimal = ZERO
    entry_notional: Decimal = ZERO
    # set at the first exit fill (legs' PnL is taken against it); an entry fill after that is
    # averaged into it with what is held, as the venue averages its position's entry
    entry_vwap: Decimal = ZERO
    exit_qty: Decimal = ZERO
    exit_notional: Decimal = ZERO
    realized: Decimal = ZERO
    fees: Decimal = ZERO
    legs_done: int = 0
    leg_attempts: dict[int, int] = field(default_factory=dict)
    orders: list[str] = field(default_factory=list)
    # the venue's position in this symbol and side was partly closed while this trade held it (its
    # own leg, or another slot's exit): the venue prices that at its average entry over every slot,
    # so what it realized differs from what the kernel booked until the position is flat
    closed_in_part: bool = False
    # the venue refused an exit leg as below its minimum: the next exit takes the rest
    close_rest: bool = False

    @property
    def remaining(self) -> Decimal:
        return self.entry_qty - self.exit_qty

    @property
    def direction(self) -> int:
        return 1 if self.side is Side.LONG else -1


@dataclass(slots=True)
class Account:
    initial_capital: Decimal
    capital: Decimal
    seq: int = 0
    gross_pnl: Decimal = ZERO
    fees: Decimal = ZERO
    funding: Decimal = ZERO
    transfers: Decimal = ZERO  # deposits in minus withdrawals out: capital, never PnL
    funding_ids: set[str] = field(default_factory=set)
    transfer_ids: set[str] = field(default_factory=set)


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (OrderSide, OrderType, Side, TimeInForce)):
        return value.value
    if isinstance(value, set):
        return sorted(value)
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in sorted(value.items())}
    if isinstance(value, PolicyMetadata):
        return {
            "confidence": value.confidence,
            "bars_held": value.bars_held,
            "features": dict(sorted(value.features.items())),
            "tags": dict(sorted(value.tags.items())),
        }
    return value


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def dump(record: Order | Trade | Account) -> dict[str, Any]:
    """A plain, deterministic dict of ``record`` (Decimals as strings)."""
    cls = type(record)
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = tuple(f.name for f in fields(record))
    return {name: _plain(getattr(record, name)) for name in names}


def _dec(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def load_order(d: dict[str, Any]) -> Order:
    return Order(
        client_order_id=d["client_order_id"],
        slot=d["slot"],
        trade_id=d["trade_id"],
        role=d["role"],
        leg=d["leg"],
        attempt=d["attempt"],
        symbol=d["symbol"],
        side=OrderSide(d["side"]),
        order_type=OrderType(d["order_type"]),
        time_in_force=TimeInForce(d["time_in_force"]),
        quantity=Decimal(d["quantity"]),
        limit_price=_dec(d["limit_price"]),
        intent_id=d["intent_id"],
        decision_id=d["decision_id"],
        phase=d["phase"],
        venue_order_id=d["venue_order_id"],
        filled=Decimal(d["filled"]),
        notional=Decimal(d["notional"]),
        commission=Decimal(d["commission"]),
        final_cum=_dec(d["final_cum"]),
        covered_cum=Decimal(d["covered_cum"]),
        fill_ids=set(d["fill_ids"]),
        # absent before format 6, without prices before 7
        spans=[(Decimal(r[0]), Decimal(r[1]), Decimal(r[2]) if len(r) > 2 else ZERO) for r in d.get("spans", [])],
        gaps=[(Decimal(lo), Decimal(hi), Decimal(px), gid, stated) for lo, hi, px, gid, stated in d.get("gaps", [])],
        end_code=d["end_code"],
        fee_check=d.get("fee_check", False),  # absent before snapshot format 3
        not_found_ts=d.get("not_found_ts", 0),  # absent before format 7
    )


def load_trade(d: dict[str, Any]) -> Trade:
    meta = d["metadata"]
    return Trade(
        trade_id=d["trade_id"],
        intent_id=d["intent_id"],
        decision_id=d["decision_id"],
        symbol=d["symbol"],
        side=Side(d["side"]),
        leverage=d["leverage"],
        exit_legs=tuple(Decimal(x) for x in d["exit_legs"]),
        opened_ts=d["opened_ts"],
        metadata=PolicyMetadata(
            confidence=meta["confidence"],
            bars_held=meta["bars_held"],
            features=dict(meta["features"]),
            tags=dict(meta["tags"]),
        ),
        entry_qty=Decimal(d["entry_qty"]),
        entry_notional=Decimal(d["entry_notional"]),
        entry_vwap=Decimal(d["entry_vwap"]),
        exit_qty=Decimal(d["exit_qty"]),
        exit_notional=Decimal(d["exit_notional"]),
        realized=Decimal(d["realized"]),
        fees=Decimal(d["fees"]),
        legs_done=d["legs_done"],
        leg_attempts={int(k): v for k, v in d["leg_attempts"].items()},
        closed_in_part=d.get("closed_in_part", True),  # unknown before format 5: assume it was
        close_rest=d.get("close_rest", False),
        orders=list(d["orders"]),
    )


def load_account(d: dict[str, Any]) -> Account:
    return Account(
        initial_capital=Decimal(d["initial_capital"]),
        capital=Decimal(d["capital"]),
        seq=d["seq"],
        gross_pnl=Decimal(d["gross_pnl"]),
        fees=Decimal(d["fees"]),
        funding=Decimal(d["funding"]),
        # before snapshot format 4 the (always zero) field was "adjustments" and no transfer was booked
        transfers=Decimal(d.get("transfers", "0")),
        funding_ids=set(d["funding_ids"]),
        transfer_ids=set(d.get("transfer_ids", ())),
    )

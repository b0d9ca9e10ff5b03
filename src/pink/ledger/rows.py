"""Pure row builders: kernel records -> ledger rows (no database, no clock).

``rows_for(record, account_id=..., runtime_id=...)`` returns ``(table, row)``
pairs. A row is a deterministic function of its record: the same record
always gives the same row with the same ``id`` (a hash of the table, the
account, the runtime and the record's natural key), which is what makes
replayed and retried inserts idempotent.

Natural keys:

* ``policy_events``: intent id, time and answer (one row per answer);
* ``trade_events``: ``ORDER`` + client order id; ``FILL`` + client order id
  + fill id (E21: a fill row carries the links of the order that caused it);
* ``account_events``: the settlement sequence number (E20, E22, A5);
* ``position_state``: every field of the transition / protocol error;
* ``trade_reconstruction``: the trade id;
* ``trade_corrections``: the trade id, client order id and fill id (a closed trade's late
  true-up: what to add to its ``trade_reconstruction`` row, which is never written again).

Values are exact: a Decimal that does not fit its column exactly (more than
18 decimals, or 20 integer digits for money) raises :class:`LedgerRowError`
rather than being silently rounded by the database.
"""

from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Context, Decimal, localcontext
from enum import Enum
from hashlib import blake2b
from typing import Any

from pink.errors import PinkError
from pink.kernel.messages import (
    ControlChanged,
    FillBooked,
    IntentRecorded,
    KernelRecord,
    OrderRecorded,
    OutsideFillRecorded,
    PolicyMetadata,
    ProtocolErrorRecorded,
    Settlement,
    SlotChanged,
    TradeClosed,
    TradeCorrected,
)

__all__ = ["LedgerRowError", "Row", "exact", "row_id", "rows_for"]

Row = dict[str, Any]

_LIMITS = {
    18: (38, Decimal("1e-18"), Decimal(10) ** 20),
    38: (76, Decimal("1e-38"), Decimal(10) ** 38),
}
_CONTEXT = Context(prec=100)


class LedgerRowError(PinkError, ValueError):
    """A record that cannot be stored exactly (never silently rounded)."""


def exact(value: Decimal, scale: int = 18, *, field: str = "value") -> Decimal:
    """``value`` unchanged if it fits ``Decimal(P, scale)`` exactly, else raise."""
    if type(value) is not Decimal or not value.is_finite():
        raise LedgerRowError(f"{field}: {value!r} is not a finite Decimal")
    precision, quantum, limit = _LIMITS[scale]
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent >= -scale and -limit < value < limit:
        return value  # the common case: few enough decimals, in range
    if not -limit < value < limit:
        raise LedgerRowError(f"{field}: {value} exceeds Decimal({precision}, {scale})")
    if value.quantize(quantum, rounding=ROUND_DOWN, context=_CONTEXT) != value:
        raise LedgerRowError(f"{field}: {value} has more than {scale} decimals")
    return value


def row_id(table: str, account_id: str, runtime_id: str, *key: object) -> str:
    """Deterministic 128-bit row id (hex) of a table row's natural key."""
    text = "\x1f".join((table, account_id, runtime_id, *(str(k) for k in key)))
    return blake2b(text.encode(), digest_size=16).hexdigest()


def _display(value: Decimal, field: str) -> Decimal:
    """A quotient shown for display: rounded half-even to the column's 38 decimals."""
    exact(value.to_integral_value(), 38, field=field)
    with localcontext() as ctx:
        ctx.prec = 80
        return value.quantize(Decimal("1e-38"), rounding=ROUND_HALF_EVEN)


def _base(table: str, account_id: str, runtime_id: str, ts: int, *key: object) -> Row:
    return {
        "id": row_id(table, account_id, runtime_id, *key),
        "account_id": account_id,
        "runtime_id": runtime_id,
        "ts": ts,
    }


def _intent(r: IntentRecorded, account_id: str, runtime_id: str) -> Row:
    """A policy event. A refused intent may carry what the kernel refused it for (a field of the
    wrong type, a slot out of range): those are written as text or left empty, so that the row
    (and the refusal it shows) is stored, and nothing behind it waits on it."""
    i = r.intent
    meta = i.metadata if type(i.metadata) is PolicyMetadata else PolicyMetadata()
    lenient = r.status == "REFUSED"
    row = _base("policy_events", account_id, runtime_id, r.ts, _text(i.intent_id), r.ts, r.status)
    row.update(
        intent_id=_text(i.intent_id),
        decision_id=_text(i.decision_id),
        trade_id=_text(i.trade_id),
        slot=_int32(i.slot),
        action=_name(i.action),
        asset=_text(i.asset),
        side=_name(i.side) if i.side is not None else "",
        quantity=_amount(i.quantity, "quantity", lenient) or Decimal(0),
        leverage=_int32(i.leverage),
        order_type=_name(i.order_type),
        limit_price=None if i.limit_price is None else _amount(i.limit_price, "limit_price", lenient),
        time_in_force=_name(i.time_in_force),
        exit_legs=_legs(i.exit_legs, lenient),
        close_all=i.close_all is True,
        intent_reason=_text(i.reason),
        status=r.status,
        answer_reason=r.reason,
        detail=r.detail,
        confidence=meta.confidence if type(meta.confidence) in (int, float) else None,
        bars_held=meta.bars_held if type(meta.bars_held) is int else None,
        features={k: v for k, v in meta.features.items() if type(k) is str and type(v) in (int, float)}
        if type(meta.features) is dict else {},
        tags={k: v for k, v in meta.tags.items() if type(k) is str and type(v) is str}
        if type(meta.tags) is dict else {},
    )
    return row


def _text(value: object) -> str:
    return value if type(value) is str else repr(value)


def _name(value: object) -> str:
    return value.value if isinstance(value, Enum) and type(value.value) is str else repr(value)


def _int32(value: object) -> int:
    return value if type(value) is int and -(2**31) <= value < 2**31 else -1


def _amount(value: object, field: str, lenient: bool) -> Decimal | None:
    try:
        return exact(value, field=field)  # type: ignore[arg-type]
    except LedgerRowError:
        if lenient:
            return None
        raise


def _legs(legs: object, lenient: bool) -> list[Decimal]:
    if lenient and not isinstance(legs, tuple | list):
        return []
    out = [_amount(x, "exit_legs", lenient) for x in legs]  # type: ignore[attr-defined]
    return [x for x in out if x is not None]


_ORDER_BLANK: Row = {
    "venue_order_id": "", "fill_id": "", "last_qty": Decimal(0), "last_price": Decimal(0),
    "cum_qty": Decimal(0), "commission": Decimal(0), "commission_asset": "",
    "realized_pnl": Decimal(0),
}


def _order(r: OrderRecorded, account_id: str, runtime_id: str) -> Row:
    row = _base("trade_events", account_id, runtime_id, r.ts, "ORDER", r.client_order_id)
    row.update(
        event="ORDER", slot=r.slot, trade_id=r.trade_id, intent_id=r.intent_id,
        decision_id=r.decision_id, client_order_id=r.client_order_id, role=r.role,
        leg=r.leg, attempt=r.attempt, symbol=r.symbol, side=r.side.value,
        quantity=exact(r.quantity, field="quantity"), order_type=r.order_type.value,
        limit_price=None if r.limit_price is None else exact(r.limit_price, field="limit_price"),
        time_in_force=r.time_in_force.value, **_ORDER_BLANK,
    )
    return row


def _fill(r: FillBooked, account_id: str, runtime_id: str) -> Row:
    row = _base(
        "trade_events", account_id, runtime_id, r.ts, "FILL", r.client_order_id, r.fill_id
    )
    row.update(
        event="FILL", slot=r.slot, trade_id=r.trade_id, intent_id=r.intent_id,
        decision_id=r.decision_id, client_order_id=r.client_order_id,
        venue_order_id=r.venue_order_id, fill_id=r.fill_id, role=r.role, leg=r.leg,
        attempt=0, symbol=r.symbol, side=r.side.value, quantity=Decimal(0), order_type="",
        limit_price=None, time_in_force="",
        last_qty=exact(r.last_qty, field="last_qty"),
        last_price=exact(r.last_price, field="last_price"),
        cum_qty=exact(r.cum_qty, field="cum_qty"),
        commission=exact(r.commission, field="commission"),
        commission_asset=r.commission_asset,
        realized_pnl=exact(r.realized_pnl, field="realized_pnl"),
    )
    return row


def _settlement(r: Settlement, account_id: str, runtime_id: str) -> Row:
    row = _base("account_events", account_id, runtime_id, r.ts, r.seq)
    row.update(
        seq=r.seq, kind=r.kind.value, slot=r.slot, trade_id=r.trade_id, cause=r.cause,
        amount=exact(r.amount, field="amount"), fee=exact(r.fee, field="fee"),
        capital_before=exact(r.capital_before, field="capital_before"),
        capital_after=exact(r.capital_after, field="capital_after"),
    )
    return row


def _slot(r: SlotChanged, account_id: str, runtime_id: str) -> Row:
    key = ("TRANSITION", r.slot, r.trade_id, r.before, r.after, r.cause, r.ts)
    row = _base("position_state", account_id, runtime_id, r.ts, *key)
    row.update(
        kind="TRANSITION", slot=r.slot, trade_id=r.trade_id, before=r.before, after=r.after,
        cause=r.cause, detail="",
    )
    return row


def _protocol(r: ProtocolErrorRecorded, account_id: str, runtime_id: str) -> Row:
    key = ("PROTOCOL_ERROR", r.slot, r.trade_id, r.cause, r.detail, r.ts)
    row = _base("position_state", account_id, runtime_id, r.ts, *key)
    row.update(
        kind="PROTOCOL_ERROR", slot=r.slot, trade_id=r.trade_id, before="", after="DESYNC",
        cause=r.cause, detail=r.detail,
    )
    return row


def _outside(r: OutsideFillRecorded, account_id: str, runtime_id: str) -> Row:
    key = ("OUTSIDE_FILL", r.fill_id, r.detail, r.ts)
    row = _base("position_state", account_id, runtime_id, r.ts, *key)
    row.update(
        kind="OUTSIDE_FILL", slot=-1, trade_id="", before="", after="",
        cause=f"fill {r.fill_id} {r.symbol}", detail=r.detail,
    )
    return row


def _control(r: ControlChanged, account_id: str, runtime_id: str) -> Row:
    c = r.snapshot
    key = ("CONTROL", c.version, r.ts)
    row = _base("position_state", account_id, runtime_id, r.ts, *key)
    cap = "none" if c.max_position_notional is None else f"{c.max_position_notional:f}"  # 1E-7 as 0.0000001
    row.update(
        kind="CONTROL", slot=-1, trade_id="", before="", after="",
        cause=f"control v{c.version} by {c.changed_by or 'unknown'}",
        detail=(f"pause_entries={c.pause_entries} kill={c.kill} max_leverage={c.max_leverage} "
                f"max_position_notional={cap} note={c.note}"),
    )
    return row


def _trade(r: TradeClosed, account_id: str, runtime_id: str) -> Row:
    row = _base("trade_reconstruction", account_id, runtime_id, r.closed_ts, r.trade_id)
    row.update(
        slot=r.slot, trade_id=r.trade_id, intent_id=r.intent_id, decision_id=r.decision_id,
        symbol=r.symbol, side=r.side.value,
        entry_qty=exact(r.entry_qty, field="entry_qty"),
        entry_vwap=exact(r.entry_vwap, 38, field="entry_vwap"),
        exit_qty=exact(r.exit_qty, field="exit_qty"),
        exit_notional=exact(r.exit_notional, field="exit_notional"),
        # exit_vwap is a quotient for display; the audit uses exit_notional.
        exit_vwap=_display(r.exit_vwap, "exit_vwap"),
        legs=r.legs,
        gross_pnl=exact(r.gross_pnl, field="gross_pnl"),
        fees=exact(r.fees, field="fees"),
        net_pnl=exact(r.net_pnl, field="net_pnl"),
        opened_ts=r.opened_ts,
    )
    return row


def _correction(r: TradeCorrected, account_id: str, runtime_id: str) -> Row:
    row = _base("trade_corrections", account_id, runtime_id, r.ts, r.trade_id, r.client_order_id, r.fill_id)
    row.update(
        slot=r.slot, trade_id=r.trade_id, client_order_id=r.client_order_id, fill_id=r.fill_id, role=r.role,
        symbol=r.symbol, side=r.side.value,
        entry_notional=exact(r.entry_notional, field="entry_notional"),
        exit_notional=exact(r.exit_notional, field="exit_notional"),
        gross_pnl=exact(r.gross_pnl, field="gross_pnl"),
        fees=exact(r.fees, field="fees"),
    )
    return row


_BUILDERS: dict[type, tuple[str, Any]] = {
    IntentRecorded: ("policy_events", _intent),
    OrderRecorded: ("trade_events", _order),
    FillBooked: ("trade_events", _fill),
    Settlement: ("account_events", _settlement),
    SlotChanged: ("position_state", _slot),
    ProtocolErrorRecorded: ("position_state", _protocol),
    OutsideFillRecorded: ("position_state", _outside),
    TradeClosed: ("trade_reconstruction", _trade),
    TradeCorrected: ("trade_corrections", _correction),
    ControlChanged: ("position_state", _control),
}


def rows_for(record: KernelRecord, *, account_id: str, runtime_id: str) -> list[tuple[str, Row]]:
    """The ledger rows of one kernel record, as ``(table, row)`` pairs."""
    try:
        table, build = _BUILDERS[type(record)]
    except KeyError:
        raise LedgerRowError(f"no ledger rows for {type(record).__name__}") from None
    try:
        return [(table, build(record, account_id, runtime_id))]
    except LedgerRowError:
        raise
    except Exception as exc:  # a record no row can be made of is rejected, never retried for ever
        raise LedgerRowError(f"{type(exc).__name__}: {exc}") from exc

"""Views and snapshots of a kernel: read-only records out, exact restore in.

A snapshot is a plain dict (Decimals as strings, keys sorted by the encoder)
from which :func:`restore` rebuilds an identical kernel: the journal's replay
test compares snapshots of a live and a restored kernel byte for byte.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import asdict
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from pink.kernel.book import FeeCheck, Order, OrderPhase, RetiredOrder, dump, load_account, load_order, load_trade
from pink.kernel.messages import ZERO, ControlSnapshot, Instrument, OrderFilled
from pink.kernel.outside import PendingClose, keep_span
from pink.kernel.states import SlotState
from pink.kernel.views import AccountView, OrderView, SlotView
from pink.kernel.word_closes import WordClose

if TYPE_CHECKING:
    from pink.kernel.core import Kernel

__all__ = [
    "account_view",
    "add_outside_spans",
    "add_spans",
    "orders_without_spans",
    "outside_without_spans",
    "restore",
    "slot_view",
    "snapshot",
    "working_orders",
]

SNAPSHOT_FORMAT = 11  # 11: the closes booked on the operator's word whose real fill has not come, the venue
# ids of PINK's orders dropped from the retired map (older: none);
# 10: the cumulative ranges booked of the orders PINK never sent (older: none);
# 9: a retired order keeps what report gaps booked that no real fill replaced yet;
# 8: the venue's order id of a close by hand kept waiting, what report gaps booked
# that no real fill replaced yet (older: none; their real fills are taken as covered, as they were);
# 7: when the venue first denied knowing an acknowledged order, fills' prices in spans;
# 6: the quantity spans of each order's fills;
# 5: a count of the used trade ids, which may be kept apart; 4: the account books transfers;
# 3: retired rows keep their commission; 2: compact rows without it; 1: full orders


def slot_view(k: Kernel, index: int) -> SlotView:
    slot = k.slots[index]
    t = slot.trade
    if t is None:
        return SlotView(
            index,
            slot.version,
            slot.state.value,
            "",
            "",
            None,
            ZERO,
            ZERO,
            ZERO,
            ZERO,
            ZERO,
            0,
            ZERO,
            ZERO,
            slot.order_cid,
            slot.deadline,
            slot.desync_reason,
        )
    vwap = t.entry_vwap or (t.entry_notional / t.entry_qty if t.entry_qty else ZERO)
    working = slot.order_cid if slot.order_cid in k.orders and k.orders[slot.order_cid].live else ""
    return SlotView(
        index,
        slot.version,
        slot.state.value,
        t.trade_id,
        t.symbol,
        t.side,
        t.entry_qty,
        t.remaining,
        vwap,
        t.exit_qty,
        t.exit_notional,
        t.legs_done,
        t.realized,
        t.fees,
        working,
        slot.deadline,
        slot.desync_reason,
    )


def account_view(k: Kernel) -> AccountView:
    a = k.account
    net = a.gross_pnl - a.fees + a.funding
    return AccountView(
        k.version, a.seq, a.initial_capital, a.capital, a.gross_pnl, a.fees, a.funding, a.transfers, net
    )


def working_orders(k: Kernel) -> list[OrderView]:
    out = []
    for o in k.orders.values():
        if o.phase == OrderPhase.DONE:
            continue
        slot = k.slots[o.slot]
        out.append(
            OrderView(
                o.client_order_id,
                o.venue_order_id,
                o.slot,
                o.trade_id,
                o.role,
                o.leg,
                o.symbol,
                o.side,
                o.order_type,
                o.quantity,
                o.limit_price,
                o.filled,
                o.phase,
                slot.deadline,
            )
        )
    return out


def _plain_instrument(i: Instrument) -> dict[str, Any]:
    return {k: str(v) if isinstance(v, Decimal) else v for k, v in asdict(i).items()}


def _plain_control(c: ControlSnapshot) -> dict[str, Any]:
    return {k: str(v) if isinstance(v, Decimal) else v for k, v in asdict(c).items()}


def snapshot(k: Kernel, *, trade_ids: bool = True) -> dict[str, Any]:
    """The whole state; with ``trade_ids=False`` the used trade ids are left out (only their count
    stays), for a keeper that stores them apart, as the journal does: they only ever grow."""
    cfg = {f: getattr(k.config, f) for f in k.config.__dataclass_fields__}
    cfg["initial_capital"] = str(cfg["initial_capital"])
    return {
        "format": SNAPSHOT_FORMAT,
        "config": cfg,
        "instruments": {s: _plain_instrument(i) for s, i in sorted(k.instruments.items())},
        "control": _plain_control(k.control),
        "slots": [
            {
                "index": s.index,
                "state": s.state.value,
                "trade": dump(s.trade) if s.trade else None,
                "order_cid": s.order_cid,
                "deadline": s.deadline,
                "queries": s.queries,
                "version": s.version,
                "desync_reason": s.desync_reason,
                "refusals": s.refusals,
                "refused": s.refused,
                "retry_ts": s.retry_ts,
            }
            for s in k.slots
        ],
        "orders": [dump(o) for o in k.orders.values()],
        "retired": [o.plain() for o in k.retired.values()],
        **({"used_trade_ids": list(k.used_trade_ids)} if trade_ids else {}),
        "used_trade_id_count": len(k.used_trade_ids),
        "fee_checks": [[cid, c.symbol, c.due, c.tries] for cid, c in k.fee_checks.items()],
        "outside_fills": list(k.outside_fills),
        "outside_spans": [[voi, [[str(a), str(b)] for a, b in spans]] for voi, spans in k.outside_spans.items()],
        "outside_held": {key: str(q) for key, q in sorted(k.outside_held.items())},
        "outside_pending": {key: [p.plain() for p in q] for key, q in sorted(k.outside_pending.items())},
        "word_closes": [w.plain() for w in k.word_closes],
        "forgotten": list(k.forgotten.items()),
        "account": dump(k.account),
        "version": k.version,
        "quarantined": k.quarantined,
    }


def restore(d: dict[str, Any], used_trade_ids: Iterable[str] | None = None) -> Kernel:
    """The kernel a snapshot describes. A snapshot taken with ``trade_ids=False`` needs its
    used trade ids given, in the order of use; their number must be the one it counted."""
    from pink.kernel.core import Kernel, KernelConfig, Slot

    fmt = d.get("format")
    if fmt not in (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, SNAPSHOT_FORMAT):
        raise ValueError(f"snapshot format {fmt!r} is not 1 to {SNAPSHOT_FORMAT}")
    used = _used_trade_ids(d, used_trade_ids)
    cfg = dict(d["config"])
    cfg["initial_capital"] = Decimal(cfg["initial_capital"])
    cfg.setdefault("exact_round_trip", False)  # journals begun before it keep the rule they were written by
    instruments = {
        s: Instrument(
            symbol=i["symbol"],
            tick=Decimal(i["tick"]),
            step=Decimal(i["step"]),
            min_qty=Decimal(i["min_qty"]),
            min_notional=Decimal(i["min_notional"]),
            max_leverage=i["max_leverage"],
        )
        for s, i in d["instruments"].items()
    }
    k = Kernel(KernelConfig(**cfg), instruments)
    c = d["control"]
    cap = c["max_position_notional"]
    k.control = ControlSnapshot(**{**c, "max_position_notional": Decimal(cap) if cap is not None else None})
    k.slots = [
        Slot(
            index=s["index"],
            state=SlotState(s["state"]),
            trade=load_trade(s["trade"]) if s["trade"] else None,
            order_cid=s["order_cid"],
            deadline=s["deadline"],
            queries=s["queries"],
            version=s["version"],
            desync_reason=s["desync_reason"],
            refusals=s.get("refusals", 0),
            refused=s.get("refused", ""),
            retry_ts=s.get("retry_ts", 0),
        )
        for s in d["slots"]
    ]
    for od in d["orders"]:
        o = load_order(od)
        k.orders[o.client_order_id] = o
    for row in d["retired"]:
        r = RetiredOrder.of(load_order(row)) if fmt == 1 else RetiredOrder.load(row)
        k.retired[r.client_order_id] = r
        if r.open_gaps is not None:
            k.gapped[r.client_order_id] = None
    for cid, vid in [(o.client_order_id, o.venue_order_id) for o in k.orders.values()] + [
        (r.client_order_id, r.venue_order_id) for r in k.retired.values()
    ]:
        if vid:
            k.venue_ids[vid] = cid
    k.used_trade_ids = used
    k.fee_checks = {cid: FeeCheck(symbol, due, tries) for cid, symbol, due, tries in d.get("fee_checks", [])}
    k.outside_fills = OrderedDict.fromkeys(d.get("outside_fills", []))
    k.outside_spans = OrderedDict((voi, [(Decimal(a), Decimal(b)) for a, b in spans])
                                  for voi, spans in d.get("outside_spans", []))
    k.outside_held = {key: Decimal(q) for key, q in d.get("outside_held", {}).items()}
    k.outside_pending = {key: [PendingClose.load(r) for r in q] for key, q in d.get("outside_pending", {}).items()}
    k.word_closes = [WordClose.load(r) for r in d.get("word_closes", [])]
    k.forgotten = OrderedDict((voi, cid) for voi, cid in d.get("forgotten", []))
    k.account = load_account(d["account"])
    k.version = d["version"]
    k.quarantined = d["quarantined"]
    return k


def orders_without_spans(k: Kernel, d: dict[str, Any]) -> list[Order]:
    """The orders that booked fills of ``k``, restored from a snapshot ``d`` written before format
    6, which did not keep the quantity each fill claimed: give them :func:`add_spans`, or a fill
    the venue sends again under another id would be booked twice."""
    if d.get("format", SNAPSHOT_FORMAT) >= 6:
        return []
    return [o for o in k.orders.values() if o.fill_ids and not o.spans]


def outside_without_spans(k: Kernel, d: dict[str, Any]) -> bool:
    """Whether ``k``, restored from a snapshot ``d`` written before format 10, booked fills of
    orders PINK never sent without the ranges they claimed: give it :func:`add_outside_spans`, or
    such a fill a later read numbers anew would be booked twice."""
    return d.get("format", SNAPSHOT_FORMAT) < 10 and bool(k.outside_fills)


def add_outside_spans(k: Kernel, fills: Iterable[OrderFilled]) -> None:
    """Give ``k`` the ranges the fills of orders PINK never sent it booked claimed, from ``fills``:
    the fills applied to it until the snapshot, in the order applied (others are passed over)."""
    kept = set(k.outside_fills)
    for ev in fills:
        voi = ev.venue_order_id
        if ev.fill_id not in kept or not isinstance(voi, str) or not voi or voi in k.venue_ids:
            continue
        kept.discard(ev.fill_id)  # (sent again: booked once)
        keep_span(k, voi, ev.cum_qty - ev.last_qty, ev.cum_qty)


def add_spans(orders: Iterable[Order], fills: Iterable[OrderFilled]) -> None:
    """Give ``orders`` the spans their fills claimed, from ``fills``: the fills applied to the
    kernel until the snapshot, in the order applied (others are passed over)."""
    by_fill = {(o.client_order_id, f): o for o in orders for f in o.fill_ids}
    by_venue_id = {(o.venue_order_id, f): o for (_, f), o in by_fill.items() if o.venue_order_id}
    for ev in fills:
        key = (ev.client_order_id, ev.fill_id)
        order = by_fill.pop(key, None) if ev.client_order_id else by_venue_id.pop((ev.venue_order_id, ev.fill_id), None)
        if order is not None:
            by_venue_id.pop((order.venue_order_id, ev.fill_id), None)
            by_fill.pop((order.client_order_id, ev.fill_id), None)
            order.spans.append((ev.cum_qty - ev.last_qty, ev.cum_qty, ev.last_price))


def _used_trade_ids(d: dict[str, Any], given: Iterable[str] | None) -> dict[str, None]:
    kept: Iterable[str] | None = d.get("used_trade_ids")
    if kept is not None and given is not None:
        raise ValueError("used trade ids: the snapshot holds them, so none may be given")
    ids = kept if kept is not None else given
    if ids is None:
        raise ValueError(
            f"used trade ids: the snapshot keeps its {d.get('used_trade_id_count')} apart and none were given"
        )
    used = dict.fromkeys(ids)
    count = d.get("used_trade_id_count", len(used))
    if len(used) != count:
        raise ValueError(f"used trade ids: the snapshot counted {count}, {len(used)} given (or held)")
    return used

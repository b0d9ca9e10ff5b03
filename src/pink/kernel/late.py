"""A closed trade's report gap trued up by its late real fills (E10, E5).

A report that closes a trade (a MARKET exit whose fills the stream lost: the venue's order says
FILLED at its average price, which BingX rounds) books its gap at that average and closes the
trade; its orders are retired. The real fills that come after are those of a finished trade, but
they still carry what the venue booked: each replaces its piece of the gap as
:mod:`pink.kernel.gaps` does for an open trade, once. The retired order keeps the pieces no fill
has replaced (:class:`~pink.kernel.book.OpenGaps`); a fill that lies wholly in them books

* the piece reversed at the gap's price and the fill at its own (two fill rows, as for an open
  trade; the fill's row carries the PnL it moved, an entry's too),
* the difference to capital, through a ``FILL`` settlement of the trade (an exit's at
  ``direction``, an entry's at minus it: what the round trip made is what it cost less),
* a :class:`~pink.kernel.messages.TradeCorrected`: what to add to the trade's closed record, which
  stays as it was written.

The fill's fee is the gap's rule: none when the report stated the order's commission, or the
order's total is settled (no fee check open); else the fill's own. The same fill again, or under
another id, lies in no open piece and changes nothing.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import TYPE_CHECKING

from pink.kernel.book import RetiredOrder
from pink.kernel.consts import O_CONFIRMED, O_QUARANTINED, R_OK, R_PROTOCOL_ERROR
from pink.kernel.gaps import replaced_id
from pink.kernel.messages import (
    ZERO,
    FillBooked,
    KernelRecord,
    OrderFilled,
    OrderSide,
    Outcome,
    ProtocolErrorRecorded,
    Settlement,
    SettlementKind,
    Side,
    TradeCorrected,
)
from pink.kernel.validation import check_decimal, check_signed

if TYPE_CHECKING:
    from pink.kernel.core import Kernel

__all__ = ["give_up_gaps", "late_true_up"]

_FILL = SettlementKind.FILL


def late_true_up(k: Kernel, retired: RetiredOrder, ev: OrderFilled, now: int) -> Outcome | None:
    """The true-up of a finished trade's order by a fill of pieces a report booked, or None when
    ``ev`` (readable fill id and cumulative quantity) does not lie wholly in its open pieces."""
    og = retired.open_gaps
    if og is None or ev.fill_id in retired.fill_ids:
        return None
    why = check_decimal(ev.last_qty, "last_qty")
    if why:
        return _quarantine(k, retired, ev, why, now)
    qty, cum = ev.last_qty, ev.cum_qty
    low = cum - qty
    hits = [(i, max(g[0], low), min(g[1], cum), g) for i, g in enumerate(og.gaps) if low < g[1] and g[0] < cum]
    if low < 0 or sum((hi - lo for _i, lo, hi, _g in hits), ZERO) != qty:
        return None
    why = check_decimal(ev.last_price, "last_price") or check_signed(ev.commission, "commission")
    if not why and not isinstance(ev.venue_order_id, str):
        why = "venue_order_id: must be a string"
    if not why and not isinstance(ev.commission_asset, str):
        why = "commission_asset: must be a string"
    if why:
        return _quarantine(k, retired, ev, why, now)
    cid = retired.client_order_id
    price = ev.last_price
    delta = sum(((price - g[2]) * (hi - lo) for _i, lo, hi, g in hits), ZERO)  # its cost less the gap's
    long = (og.side is OrderSide.BUY) == (og.role == "ENTRY")
    direction = 1 if long else -1
    pnl = delta * direction if og.role == "EXIT" else -delta * direction
    foreign = ev.commission_asset not in (k.config.settle_asset, "")
    settled_fee = cid not in k.fee_checks
    fee = ZERO if foreign or settled_fee or any(g[4] for *_x, g in hits) else ev.commission
    gaps = [g for i, g in enumerate(og.gaps) if i not in {h[0] for h in hits}]
    for _i, lo, hi, g in hits:  # what of each gap is left to its other fills
        gaps.extend(rest for rest in ((g[0], lo, *g[2:]), (hi, g[1], *g[2:])) if rest[1] > rest[0])
    commission = None if retired.commission is None else retired.commission + fee
    kept = dataclasses.replace(
        retired,
        fill_ids=frozenset((*retired.fill_ids, ev.fill_id)),
        commission=commission,
        open_gaps=dataclasses.replace(og, gaps=tuple(sorted(gaps))) if gaps else None,
    )
    acct = k.account
    before = acct.capital
    # ---- commit (assignments only)
    k.retired[cid] = kept  # (its place in the retired map is kept)
    if kept.open_gaps is None:
        k.gapped.pop(cid, None)
    acct.seq += 1
    acct.capital = before + pnl - fee
    acct.gross_pnl += pnl
    acct.fees += fee
    k.version += 1
    trade_id, asset = retired.trade_id, k.config.settle_asset

    def row(fill_id: str, q: Decimal, px: Decimal, f: Decimal, realized: Decimal) -> FillBooked:
        return FillBooked(og.slot, trade_id, og.intent_id, og.decision_id, cid, retired.venue_order_id, fill_id,
                          og.role, og.leg, og.symbol, og.side, q, px, cum, f, asset, realized, now)  # fmt: skip

    records: list[KernelRecord] = [row(replaced_id(g[3], ev.fill_id), lo - hi, g[2], ZERO, ZERO)
                                   for _i, lo, hi, g in hits]  # fmt: skip
    records.append(row(ev.fill_id, qty, price, fee, pnl))
    records.append(Settlement(acct.seq, _FILL, -1, trade_id, ev.fill_id, pnl, fee, before, acct.capital, now))
    entry, exit_ = (delta, ZERO) if og.role == "ENTRY" else (ZERO, delta)
    records.append(TradeCorrected(og.slot, trade_id, cid, ev.fill_id, og.role, og.symbol,
                                  Side.LONG if long else Side.SHORT, entry, exit_, pnl, fee, now))  # fmt: skip
    detail = f"fill {ev.fill_id} of closed trade {trade_id} replaces {qty} a report booked: {pnl:+} of PnL"
    return Outcome(O_CONFIRMED, R_OK, detail, -1, (), tuple(records))


def give_up_gaps(k: Kernel, cid: str, now: int) -> ProtocolErrorRecorded:
    """Stop waiting for the real fills of retired order ``cid``'s open pieces: what the report
    booked for them stands (off by the venue's rounding of its average), its late fills of them
    are taken as covered, and the order is dropped with the other retired ones in turn. The alert
    says so."""
    retired = k.retired[cid]
    og = retired.open_gaps
    assert og is not None
    k.retired[cid] = dataclasses.replace(retired, open_gaps=None)  # (its place in the retired map is kept)
    del k.gapped[cid]
    k.version += 1
    pieces = ", ".join(f"({lo}, {hi}] at {px}" for lo, hi, px, _gid, _stated in og.gaps)
    detail = (f"order {cid} of finished trade {retired.trade_id}: gave up waiting for the real fills of "
              f"{pieces} a report booked at the venue's rounded average; that booking stands and their "
              f"late fills change nothing (more than {k.config.gapped_orders} orders were waiting)")  # fmt: skip
    return ProtocolErrorRecorded(og.slot, retired.trade_id, cid, detail, now)


def _quarantine(k: Kernel, retired: RetiredOrder, ev: OrderFilled, why: str, now: int) -> Outcome:
    k.quarantined += 1
    cid = retired.client_order_id
    detail = f"fill {ev.fill_id!r} for order {cid} of finished trade {retired.trade_id}: {why}"
    rec = ProtocolErrorRecorded(-1, retired.trade_id, cid, detail, now)
    return Outcome(O_QUARANTINED, R_PROTOCOL_ERROR, detail, -1, (), (rec,))

"""A report's gap trued up by the real fills it stood for (E10, E5).

A report that counts fills the kernel never saw books what they filled as one fill at the price
the report's average implies (:mod:`pink.kernel.reconcile`). A venue rounds that average (BingX to
its price's digits), so the booking can be off by up to half a price unit times the quantity. The
order keeps what each gap booked: the pieces of its quantity no fill had claimed, at the gap's
price. When a real fill of a piece comes, it replaces the booking: the ledger gets the piece
reversed at the gap's price (a fill row of minus its quantity, ``<gap fill>:replaced-by:<fill>``)
and the real fill at its own price, and the difference is booked (an exit's PnL, an entry's cost),
once: the piece is then the fill's (its id and span are kept), so the fill again, or under
another id, changes nothing.

Its fee: a gap booked with the venue's stated total commission holds the fees of the fills it
covered, so their fills book none; a gap booked without (unknown, or a stale report's) takes the
real fill's fee, unless the order's total was since confirmed by its fee check.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal
from typing import TYPE_CHECKING

from pink.kernel.book import Order, OrderPhase
from pink.kernel.consts import O_CONFIRMED, O_DUPLICATE, R_OK
from pink.kernel.messages import ZERO, FillBooked, KernelRecord, OrderFilled, Outcome, Settlement, SettlementKind
from pink.kernel.validation import check_decimal, check_signed

if TYPE_CHECKING:
    from pink.kernel.core import Kernel, Slot

__all__ = ["Gap", "gap_fill_id", "gap_pieces", "is_venue_fill", "replaced_id", "true_up"]

Gap = tuple[Decimal, Decimal, Decimal, str, bool]
"""A piece of an order a report's gap booked: (from, to] of its cumulative quantity, the gap's
price, the gap's fill id, and whether its fee was the venue's stated total."""

_FILL = SettlementKind.FILL
_GAP = "#cum"


def gap_fill_id(client_order_id: str, cum: Decimal) -> str:
    """The fill id of a report's gap on an order: ``<order>#cum<its cumulative quantity>``."""
    return f"{client_order_id}{_GAP}{cum}"


def replaced_id(gap_id: str, fill_id: str) -> str:
    """The fill id of a gap's piece reversed when the real fill ``fill_id`` replaced it."""
    return f"{gap_id}:replaced-by:{fill_id}"


def is_venue_fill(fill_id: str, qty: Decimal) -> bool:
    """Whether a ledger fill row is one of the venue's fills (not a report's gap nor a piece of
    one reversed): how fills are counted."""
    return qty > 0 and _GAP not in fill_id


def gap_pieces(order: Order, qty: Decimal, cum: Decimal, price: Decimal, fill_id: str, stated: bool) -> list[Gap]:
    """The pieces of ``(order.covered_cum, cum]`` no fill of ``order`` claims, which a gap of
    ``qty`` books; none when they do not add up to it (which quantity it is cannot be told)."""
    pieces: list[Gap] = []
    at = order.covered_cum
    for lo, hi, _price in sorted(order.spans):
        if hi <= at:
            continue
        if lo >= cum:
            break
        if lo > at:
            pieces.append((at, lo, price, fill_id, stated))
        at = hi
    if at < cum:
        pieces.append((at, cum, price, fill_id, stated))
    return pieces if sum((hi - lo for lo, hi, *_ in pieces), ZERO) == qty else []


def true_up(k: Kernel, slot: Slot, order: Order, ev: OrderFilled, now: int) -> Outcome:
    """A fill of quantity a report already booked (``ev.cum_qty <= order.covered_cum``): book the
    difference from the gap it falls in, or nothing when it falls in none (see the module
    docstring). Raises :class:`~pink.kernel.fills.Quarantine` while planning, as ``on_fill``."""
    from pink.kernel.fills import Quarantine, check_fill

    qty, cum = ev.last_qty, ev.cum_qty
    low = cum - qty
    covered = Outcome(O_DUPLICATE, R_OK, "fill already covered by a report", slot.index)
    if low < 0 or any(low < b and a < cum for a, b, _p in order.spans):  # (an applied fill's: the same)
        return covered
    hits = [(i, max(g[0], low), min(g[1], cum), g) for i, g in enumerate(order.gaps) if low < g[1] and g[0] < cum]
    if not hits:  # (its id is not kept: a no-op the journal skips changes nothing)
        return covered
    why = check_decimal(ev.last_price, "last_price") or check_signed(ev.commission, "commission")
    if why:
        raise Quarantine(why)
    if not isinstance(ev.venue_order_id, str):
        raise Quarantine("venue_order_id: must be a string")
    trade = check_fill(slot, order, ZERO)
    price = ev.last_price
    part = sum((hi - lo for _i, lo, hi, _g in hits), ZERO)
    delta = sum(((price - g[2]) * (hi - lo) for _i, lo, hi, g in hits), ZERO)  # its cost less the gap's
    settled_fee = order.phase == OrderPhase.DONE and order.client_order_id not in k.fee_checks
    foreign = ev.commission_asset not in (k.config.settle_asset, "")
    fee = ZERO if foreign or settled_fee or any(g[4] for *_x, g in hits) else ev.commission
    pnl = delta * trade.direction if order.role == "EXIT" else ZERO
    vwap = trade.entry_vwap
    if order.role == "ENTRY" and vwap:  # legs already take it: what is held cost ``delta`` more
        vwap = (vwap + delta / trade.entry_qty).quantize(k.vwap_quantum(trade.symbol), ROUND_HALF_EVEN)
    gaps = [g for i, g in enumerate(order.gaps) if i not in {h[0] for h in hits}]
    for _i, lo, hi, g in hits:  # what of each gap is left to its other fills
        gaps.extend(rest for rest in ((g[0], lo, *g[2:]), (hi, g[1], *g[2:])) if rest[1] > rest[0])
    acct = k.account
    before = acct.capital
    # ---- commit (assignments only)
    order.gaps = sorted(gaps)
    order.fill_ids.add(ev.fill_id)
    order.spans.append((low, cum, price))
    order.notional += delta
    order.commission += fee
    if fee and not ev.fee_final and order.live:
        order.fee_check = True
    if order.role == "ENTRY":
        trade.entry_notional += delta
        trade.entry_vwap = vwap
    else:
        trade.exit_notional += delta
        trade.realized += pnl
    trade.fees += fee
    acct.seq += 1
    acct.capital = before + pnl - fee
    acct.gross_pnl += pnl
    acct.fees += fee
    slot.version += 1
    k.version += 1
    asset = k.config.settle_asset
    records: list[KernelRecord] = [
        _row(order, trade.trade_id, slot.index, replaced_id(g[3], ev.fill_id), lo - hi, g[2], cum, ZERO,
             asset, ZERO, now)
        for _i, lo, hi, g in hits
    ]
    records.append(_row(order, trade.trade_id, slot.index, ev.fill_id, part, price, cum, fee, asset, pnl, now))
    records.append(Settlement(acct.seq, _FILL, slot.index, trade.trade_id, ev.fill_id, pnl, fee, before,
                              acct.capital, now))  # fmt: skip
    detail = f"fill {ev.fill_id} replaces {part} a report booked: {delta:+} of cost"
    return Outcome(O_CONFIRMED, R_OK, detail, slot.index, (), tuple(records))


def _row(
    order: Order, trade_id: str, slot: int, fill_id: str, qty: Decimal, price: Decimal, cum: Decimal, fee: Decimal,
    asset: str, pnl: Decimal, now: int,
) -> FillBooked:
    return FillBooked(
        slot, trade_id, order.intent_id, order.decision_id, order.client_order_id, order.venue_order_id, fill_id,
        order.role, order.leg, order.symbol, order.side, qty, price, cum, fee, asset, pnl, now,
    )

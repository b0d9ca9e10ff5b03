"""Commission true-up: the venue's own total for an ended order corrects what its fills booked.

A fill's fee comes from the venue's push. When that may be wrong (BingX does
not document whether its stream's fee is per fill or cumulative; a push may
have none) the adapter marks the fill ``fee_final=False``. When such an order
ends, the kernel keeps a fee check (in its state, so a restart keeps it too)
and its tick asks the venue about the order (``QueryOrder``), backed off,
until the adapter answers with :class:`CommissionReported`; after
:data:`FEE_CHECK_TRIES` unanswered asks it gives up with an alert.

The kernel books ``total - booked`` as one ``ADJUSTMENT`` account entry
(fee = the difference; a refund when negative) and remembers the new total,
so the same report again changes nothing.

Only an order that has ended, with every fill the venue reports already
applied, is trued up: a fill still on its way would otherwise be paid twice.
The fills and the trade's record keep the fees they booked (the ledger's
trade reconstruction adds them up); the correction is the account entry,
which names the order and its trade.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from pink.kernel.book import OrderPhase
from pink.kernel.consts import (
    O_CONFIRMED,
    O_DUPLICATE,
    O_QUARANTINED,
    O_UNKNOWN,
    R_OK,
    R_PROTOCOL_ERROR,
    R_UNKNOWN_ORDER,
)
from pink.kernel.messages import (
    ZERO,
    CommissionReported,
    Effect,
    KernelRecord,
    Outcome,
    OutcomeStatus,
    ProtocolErrorRecorded,
    QueryOrder,
    Settlement,
    SettlementKind,
)
from pink.kernel.validation import check_decimal, check_signed

if TYPE_CHECKING:
    from pink.kernel.core import Kernel

__all__ = ["FEE_CHECK_TRIES", "due_fee_checks", "on_commission"]

_ADJUSTMENT = SettlementKind.ADJUSTMENT

FEE_CHECK_TRIES = 6
"""Asks about an ended order's commission before the kernel gives up and raises an alert."""


def due_fee_checks(k: Kernel, now: int, effects: list[Effect], records: list[KernelRecord]) -> None:
    """Ask the venue about every ended order whose fee check is due (from ``Kernel.tick``)."""
    for cid, check in list(k.fee_checks.items()):
        if check.due > now:
            continue
        if check.tries >= FEE_CHECK_TRIES:
            del k.fee_checks[cid]
            detail = f"the venue never confirmed the commission of order {cid}: its fees may be off"
            records.append(ProtocolErrorRecorded(-1, _trade_of(k, cid), cid, detail, now))
            continue
        check.tries += 1
        check.due = now + min(k.config.ack_timeout_ns << check.tries, k.config.max_query_backoff_ns)
        effects.append(QueryOrder(cid, check.symbol, "commission check"))


def _trade_of(k: Kernel, cid: str) -> str:
    order = k.orders.get(cid)
    if order is not None:
        return order.trade_id
    retired = k.retired.get(cid)
    return retired.trade_id if retired is not None else ""


def on_commission(k: Kernel, ev: CommissionReported, now: int) -> Outcome:
    """Book the difference between the venue's total commission and the order's booked one."""
    why = _malformed(ev)
    if why:
        return Outcome(O_QUARANTINED, R_PROTOCOL_ERROR, why)
    if ev.commission_asset not in (k.config.settle_asset, ""):
        return Outcome(O_DUPLICATE, R_OK, f"commission in {ev.commission_asset} is not booked")
    cid = ev.client_order_id or k.venue_ids.get(ev.venue_order_id, "")
    order = k.orders.get(cid)
    retired = k.retired.get(cid)
    if order is not None:
        if order.phase != OrderPhase.DONE:
            return Outcome(O_UNKNOWN, R_OK, f"order {cid} has not ended: its fees are not final", order.slot)
        slot, trade_id, filled, booked = order.slot, order.trade_id, order.filled, order.commission
    elif retired is not None:
        if retired.commission is None:  # nothing to compare with: asking again cannot help
            return Outcome(_settled(k, cid), R_OK, f"order {cid}: booked commission unknown (older snapshot)")
        slot, trade_id, filled, booked = -1, retired.trade_id, retired.filled, retired.commission
    else:
        k.fee_checks.pop(cid, None)  # forgotten since (beyond the retired window): the alert says so
        k.quarantined += 1
        detail = f"commission reported for unknown order {cid or ev.venue_order_id!r}"
        alert = ProtocolErrorRecorded(-1, "", cid, detail, now)
        return Outcome(O_QUARANTINED, R_UNKNOWN_ORDER, detail, -1, (), (alert,))
    if ev.cum_qty != filled:
        detail = f"order {cid}: venue reports {ev.cum_qty} filled, {filled} booked; commission left as is"
        return Outcome(O_UNKNOWN, R_OK, detail, slot)
    delta = ev.commission - booked
    if delta == 0:
        return Outcome(_settled(k, cid), R_OK, f"order {cid}: commission {booked} matches the venue", slot)
    k.fee_checks.pop(cid, None)  # answered
    acct = k.account
    before = acct.capital
    # ---- commit
    if order is not None:
        order.commission = ev.commission
    elif retired is not None:
        k.retired[cid] = dataclasses.replace(retired, commission=ev.commission)
    acct.seq += 1
    acct.capital = before - delta
    acct.fees += delta
    k.version += 1
    entry = Settlement(
        acct.seq, _ADJUSTMENT, slot, trade_id, f"commission:{cid}", ZERO, delta, before, acct.capital, now
    )
    return Outcome(O_CONFIRMED, R_OK, f"order {cid}: commission {booked} -> {ev.commission}", slot, (), (entry,))


def _settled(k: Kernel, cid: str) -> OutcomeStatus:
    """Close the order's fee check, if any: CONFIRMED when one was open (a change the journal
    must keep, or a replay after a crash would ask again), else DUPLICATE (nothing changed)."""
    if k.fee_checks.pop(cid, None) is None:
        return O_DUPLICATE
    return O_CONFIRMED


def _malformed(ev: CommissionReported) -> str:
    if not isinstance(ev.client_order_id, str) or not isinstance(ev.venue_order_id, str):
        return "client_order_id, venue_order_id: must be strings"
    if not ev.client_order_id and not ev.venue_order_id:
        return "client_order_id: empty and no venue_order_id"
    if not isinstance(ev.commission_asset, str):
        return "commission_asset: must be a string"
    return (check_signed(ev.commission, "commission")
            or check_decimal(ev.cum_qty, "cum_qty", positive=False) or "")
